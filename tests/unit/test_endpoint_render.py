"""From role variables to a stack: argument-spec checks naming the endpoint, misspellings, the rendered template."""

import os

import pytest
import yaml

from ansible_collections.mlops.sagemaker_monitoring.plugins.plugin_utils.endpoint_render import (
    RenderError,
    fleet_request,
    read_settings,
    render_endpoint,
    role_options,
    unknown_variables,
)

ROLE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                    "roles", "endpoint_monitoring")
SPECS = os.path.join(ROLE, "meta", "argument_specs.yml")
TEMPLATE = os.path.join(ROLE, "templates", "monitoring_stack.yml.j2")
OPTIONS = role_options(SPECS)


def variables(**values):
    base = {"endpoint_monitoring_endpoint_name": "churn", "endpoint_monitoring_region": "eu-west-1",
            "endpoint_monitoring_instance_type": "ml.m5.xlarge", "inventory_hostname": "churn"}
    base.update(values)
    return base


def settings(**values):
    return read_settings(lambda value: value, variables(**values), OPTIONS)


def test_every_default_of_the_role_is_documented_in_its_argument_spec():
    with open(os.path.join(ROLE, "defaults", "main.yml")) as f:
        defaults = yaml.safe_load(f)
    assert sorted(defaults) == sorted(OPTIONS)


@pytest.mark.parametrize("name, value, text", [
    ("endpoint_monitoring_multi_model", "perhaps", "endpoint_monitoring_multi_model: is of type"),
    ("endpoint_monitoring_endpoint_type", "batch", "endpoint_monitoring_endpoint_type: value of"),
    ("endpoint_monitoring_metrics", ["ModelLatency"], "endpoint_monitoring_metrics: is of type"),
    ("endpoint_monitoring_concurrency", "many", "endpoint_monitoring_concurrency: is of type"),
    ("endpoint_monitoring_subscribers", "ops@example.com", "endpoint_monitoring_subscribers: "),
])
def test_a_wrong_type_fails_naming_the_endpoint_and_the_variable(name, value, text):
    with pytest.raises(RenderError) as info:
        settings(**{name: value})
    message = str(info.value)
    assert message.startswith("endpoint 'churn': " + text), message
    assert info.value.endpoint == "churn"
    assert "\n" not in message


def test_defaults_are_filled_in_and_values_converted():
    values = settings(endpoint_monitoring_concurrency="4", endpoint_monitoring_ok_actions="yes")
    assert values["endpoint_monitoring_concurrency"] == 4 and values["endpoint_monitoring_ok_actions"] is True
    assert values["endpoint_monitoring_variants"] == ["AllTraffic"]
    assert values["endpoint_monitoring_state"] == "present"


def test_misspelt_variables_are_found_and_the_role_outputs_are_not():
    names = list(variables()) + ["endpoint_monitoring_treshold", "endpoint_monitoring_result",
                                 "endpoint_monitoring_fleet", "endpoint_monitoring__rendered", "other_var"]
    assert unknown_variables(names, OPTIONS) == ["endpoint_monitoring_treshold"]


def test_a_misspelt_variable_fails_the_render_with_a_suggestion():
    with pytest.raises(RenderError) as info:
        render_endpoint(settings(), ["endpoint_monitoring_endpoint_metric"], TEMPLATE)
    assert "endpoint 'churn'" in str(info.value) and "endpoint_monitoring_endpoint_metrics" in str(info.value)


def test_a_bad_value_fails_the_render_naming_the_field():
    with pytest.raises(RenderError) as info:
        render_endpoint(settings(endpoint_monitoring_endpoint_metrics={"ModelLatency": {"period": 7}}), [], TEMPLATE)
    assert str(info.value).startswith("endpoint 'churn': endpoint_monitoring_endpoint_metrics.ModelLatency.period")


def test_the_rendered_template_has_every_alarm_the_topic_and_the_dashboard():
    rendered = render_endpoint(settings(), [], TEMPLATE)
    resources = rendered["template"]["Resources"]
    alarms = [r["Properties"]["AlarmName"] for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    assert sorted(alarms) == sorted(a["name"] for a in rendered["spec"]["alarms"])
    assert resources["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"] == rendered["dashboard"]["body_json"]
    # alarm ARNs in the dashboard get the account from CloudFormation
    assert ":${AWS::AccountId}:alarm:churn-AllTraffic-ModelLatency" in rendered["dashboard"]["body_json"]
    assert resources["AlarmTopic"]["Properties"]["TopicName"] == rendered["spec"]["topic_name"]
    assert set(rendered["template"]["Outputs"]) >= {"DashboardUrl", "TopicArn", "AlarmNames", "HealthAlarmName"}


def test_the_fleet_request_carries_what_monitoring_fleet_applies():
    values = settings(endpoint_monitoring_termination_protection=True, endpoint_monitoring_stack_prefix="mon-")
    request = fleet_request(values, render_endpoint(values, [], TEMPLATE))
    assert request["stack_name"] == "mon-churn" and request["region"] == "eu-west-1"
    assert request["termination_protection"] is True and request["state"] == "present"
    assert request["tags"]["managed-by"] == "mlops.sagemaker_monitoring"
    removal = fleet_request(settings(endpoint_monitoring_state="absent"), None)
    assert removal == {"endpoint": "churn", "region": "eu-west-1", "stack_name": "sagemaker-monitoring-churn",
                       "state": "absent"}
