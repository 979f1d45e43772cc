"""endpoint_render: an endpoint's role variables checked against the role's argument spec, naming the endpoint and
the variable; misspellings; the digest of the code that turns a spec into a stack."""

import os
import shutil

import pytest
import yaml

from ansible_collections.mlops.sagemaker_monitoring.plugins.plugin_utils import endpoint_render
from ansible_collections.mlops.sagemaker_monitoring.plugins.plugin_utils.endpoint_render import (
    RenderError,
    code_digest,
    read_settings,
    role_options,
    unknown_variables,
)

from role_support import OPTIONS, ROLE, SPECS, TEMPLATE, settings, variables


def test_every_default_of_the_role_is_documented_in_its_argument_spec():
    with open(os.path.join(ROLE, "defaults", "main.yml")) as f:
        defaults = yaml.safe_load(f)
    assert sorted(defaults) == sorted(OPTIONS)


def test_role_options_keep_only_what_validation_uses_and_are_read_once(tmp_path):
    assert OPTIONS["endpoint_monitoring_notify"] == {"type": "str", "choices": ["alarms", "composite", "both"],
                                                     "default": "alarms"}
    assert all(set(o) <= {"type", "elements", "choices", "default"} for o in OPTIONS.values())
    copy = str(tmp_path / "argument_specs.yml")
    shutil.copy(SPECS, copy)
    first = role_options(copy)
    os.unlink(copy)  # a second host's task reads the cached options
    assert role_options(copy) is first


@pytest.mark.parametrize("name, value, text", [
    ("endpoint_monitoring_multi_model", "perhaps", "endpoint_monitoring_multi_model: must be true or false, got "
                                                   "'perhaps'"),
    ("endpoint_monitoring_endpoint_type", "batch", "endpoint_monitoring_endpoint_type: must be one of realtime, "
                                                   "serverless, async, got 'batch'"),
    ("endpoint_monitoring_metrics", ["ModelLatency"], "endpoint_monitoring_metrics: must be a mapping, got "
                                                      "['ModelLatency']"),
    ("endpoint_monitoring_wait_timeout", "long",
     "endpoint_monitoring_wait_timeout: must be a whole number, got 'long'"),
    ("endpoint_monitoring_subscribers", "ops@example.com", "endpoint_monitoring_subscribers: must be a list of "
                                                           "mappings, got 'ops@example.com'"),
])
def test_a_wrong_type_fails_naming_the_endpoint_and_the_variable(name, value, text):
    with pytest.raises(RenderError) as info:
        settings(**{name: value})
    message = str(info.value)
    assert message.startswith("endpoint 'churn': " + text), message
    assert info.value.endpoint == "churn"
    assert "\n" not in message


def test_an_endpoint_without_a_name_is_named_by_a_question_mark():
    values = variables(multi_model="perhaps")
    del values["endpoint_monitoring_endpoint_name"]
    with pytest.raises(RenderError) as info:
        read_settings(lambda value: value, values, OPTIONS)
    assert info.value.endpoint == "?" and str(info.value).startswith("endpoint '?': ")


def test_defaults_are_filled_in_and_values_converted():
    values = settings(wait_timeout="600", ok_actions="yes")
    assert values["endpoint_monitoring_wait_timeout"] == 600 and values["endpoint_monitoring_ok_actions"] is True
    assert values["endpoint_monitoring_state"] == "present" and values["endpoint_monitoring_dashboard"] == "endpoint"
    assert values["endpoint_monitoring_aws_config"] == {"retries": {"mode": "standard", "max_attempts": 10}}
    assert sorted(values) == sorted(OPTIONS)


def test_each_value_is_templated_in_the_endpoint_context_and_other_variables_are_not_read():
    seen = []

    def template(value):
        seen.append(value)
        return value.upper() if isinstance(value, str) and value.startswith("team-") else value

    values = read_settings(template, variables(tags={"team": "x"}, stack_prefix="team-", other_variable="team-y"),
                           OPTIONS)
    assert values["endpoint_monitoring_stack_prefix"] == "TEAM-"
    assert "team-y" not in seen and "churn" in seen  # inventory_hostname and unknown names are not templated


def test_misspelt_variables_are_found_and_the_role_outputs_are_not():
    names = list(variables()) + ["endpoint_monitoring_treshold", "endpoint_monitoring__prepared",
                                 "endpoint_monitoring__plan", "other_var"]
    assert unknown_variables(names, OPTIONS) == ["endpoint_monitoring_treshold"]
    assert unknown_variables(["endpoint_monitoring_z", "endpoint_monitoring_a"], OPTIONS) == [
        "endpoint_monitoring_a", "endpoint_monitoring_z"]


def test_the_code_digest_follows_each_file(tmp_path):
    template = tmp_path / "stack.yml.j2"
    dashboard = tmp_path / "dashboard.py"
    template.write_text("a")
    dashboard.write_text("b")
    digest = code_digest(str(template), str(dashboard))
    assert len(digest) == 16 and digest == code_digest(str(template), str(dashboard))
    dashboard.write_text("c")
    assert code_digest(str(template), str(dashboard)) == digest  # read once per process (a run's files stay put)
    endpoint_render._DIGESTS.clear()  # as in the next run's process
    assert code_digest(str(template), str(dashboard)) != digest
    assert code_digest(TEMPLATE) != code_digest(str(template))
