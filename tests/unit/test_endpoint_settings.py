"""endpoint_settings: from one endpoint's checked role settings (and SageMaker's facts) to its spec, fingerprint,
usage and the entry the plan compares."""

import pytest

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.drift import expectations
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_settings import (
    STACK_SETTINGS,
    dashboard_of,
    describe,
    needs_facts,
    plan_entry,
    spec_from_settings,
)
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_spec import SpecError
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.plan import stack_fingerprint
from ansible_collections.mlops.sagemaker_monitoring.plugins.plugin_utils.endpoint_render import RenderError

from role_support import DIGEST, SERVERLESS, bare, settings

ENDPOINT = "churn"


def spec(**values):
    return spec_from_settings(settings(**values))


def spec_error(**values):
    with pytest.raises(SpecError) as info:
        spec(**values)
    return info.value


def metrics_of(value):
    return set(a["metric"] for a in value["alarms"])


# --------------------------------------------------------------------------------------------- the spec

def test_the_spec_merges_the_layers_of_metrics_and_subscribers():
    value = spec(variants=["blue", "green"], instance_type="ml.g4dn.xlarge",
                 metrics={"ModelLatency": {"threshold": 400}}, endpoint_metrics={"ModelLatency": {"period": 60}},
                 subscribers=[{"protocol": "email", "endpoint": "oncall@example.com"}], tags={"team": "fraud"})
    assert value["endpoint"] == ENDPOINT and value["stack_name"] == "sagemaker-monitoring-" + ENDPOINT
    latency = [a for a in value["alarms"] if a["metric"] == "ModelLatency"]
    assert sorted(a["variant"] for a in latency) == ["blue", "green"]
    assert all((a["threshold"], a["period"]) == (400000, 60) for a in latency)  # 400 ms in microseconds
    assert value["variant_names"] == ["blue", "green"]
    assert [(v["vcpus"], v["gpus"]) for v in value["variants"]] == [(4, 1), (4, 1)]
    # defaults: real-time, a composite that does not notify, every alarm notifies
    assert value["endpoint_type"] == "realtime"
    assert value["composite"]["name"] == "sagemaker-monitoring_%s_health" % ENDPOINT and value["composite"]["actions"] is False
    assert all(a["actions"] is True for a in value["alarms"])
    assert value["subscribers"] == [{"protocol": "email", "endpoint": "oncall@example.com",
                                     "raw_message_delivery": False}]
    assert value["tags"] == {"managed-by": "mlops.sagemaker_monitoring", "sagemaker-endpoint": ENDPOINT,
                             "team": "fraud"}


def test_the_group_layer_wins_over_the_fleet_and_the_endpoint_over_both():
    value = spec(metrics={"ModelLatency": {"threshold": 400, "period": 60}},
                 group_metrics={"ModelLatency": {"threshold": 300}}, endpoint_metrics={"ModelLatency": {"period": 120}})
    [latency] = [a for a in value["alarms"] if a["metric"] == "ModelLatency"]
    assert (latency["threshold"], latency["period"]) == (300000, 120)


def test_a_bad_value_fails_naming_the_endpoint_and_the_variable():
    error = spec_error(endpoint_metrics={"ModelLatency": {"period": 45}})
    assert error.endpoint == ENDPOINT
    assert str(error).startswith("endpoint 'churn': endpoint_monitoring_endpoint_metrics.ModelLatency.period: 45 ")
    assert [p.split(": ")[0] for p in error.problems] == ["endpoint_monitoring_endpoint_metrics.ModelLatency.period"]


def test_a_misspelt_variable_fails_with_a_suggestion():
    with pytest.raises(SpecError) as info:
        spec_from_settings(settings(), unknown=["endpoint_monitoring_subscriber"])
    assert ("endpoint 'churn': endpoint_monitoring_subscriber: unknown variable (did you mean "
            "'endpoint_monitoring_subscribers'?)") in str(info.value)


def test_a_bad_subscriber_names_its_layer_and_hides_the_url():
    error = spec_error(endpoint_subscribers=[{"protocol": "https", "endpoint": "http://hooks.example.com/T0KEN"}])
    assert "endpoint 'churn': endpoint_monitoring_endpoint_subscribers[0].endpoint: " in str(error)
    assert "T0KEN" not in str(error)


def test_no_endpoint_name_fails_naming_the_field():
    error = spec_error(endpoint_name=None)
    assert [p.split(": ")[0] for p in error.problems] == ["endpoint_name"]


def test_thresholds_scale_with_the_instance_type():
    value = spec(instance_type="ml.c5.4xlarge", endpoint_metrics={"CPUUtilization": {"threshold": 80}})
    [cpu] = [a for a in value["alarms"] if a["metric"] == "CPUUtilization"]
    assert cpu["threshold"] == 1280  # 80 % of each of 16 vCPUs
    assert not [m for m in metrics_of(value) if m.startswith("GPU")]


def test_a_variant_without_instance_information_fails_naming_it():
    error = spec_error(instance_type="")
    assert [p.split(": ")[0] for p in error.problems] == ["variants[0]"]
    assert "instance_type" in str(error) and "raw: true" in str(error)


def test_variant_mappings_give_their_own_instance_types():
    value = spec(instance_type="", variants=[{"name": "blue", "instance_type": "ml.g5.12xlarge", "instance_count": 2},
                                             {"name": "green", "vcpus": 8}])
    assert value["variant_names"] == ["blue", "green"]
    gpu = dict((a["variant"], a["threshold"]) for a in value["alarms"] if a["metric"] == "GPUUtilization")
    assert gpu == {"blue": 360}
    cpu = dict((a["variant"], a["threshold"]) for a in value["alarms"] if a["metric"] == "CPUUtilization")
    assert cpu == {"blue": 3840, "green": 640}


def test_a_serverless_endpoint_with_provisioned_concurrency():
    value = spec(instance_type="", endpoint_type="serverless", variants=[
        {"name": "AllTraffic", "serverless": {"memory_size_mb": 2048, "max_concurrency": 10,
                                              "provisioned_concurrency": 2}}])
    assert value["endpoint_type"] == "serverless"
    assert "ServerlessProvisionedConcurrencyUtilization" in metrics_of(value)
    assert not metrics_of(value) & {"CPUUtilization", "InvocationsPerInstance", "DiskUtilization"}


def test_an_async_endpoint_has_endpoint_level_metrics():
    value = spec(endpoint_type="async")
    assert value["endpoint_metrics"] == ["ApproximateBacklogSize", "ApproximateAgeOfOldestRequest",
                                         "HasBacklogWithoutCapacity"]
    backlog = [a for a in value["alarms"] if a["scope"] == "endpoint"]
    assert [a["dimensions"] for a in backlog] == [[{"Name": "EndpointName", "Value": ENDPOINT}]] * 3


def test_multi_model_and_inference_components():
    value = spec(multi_model=True, inference_components=["ranker"])
    assert {"ModelCacheHit", "ModelLoadingWaitTime", "ConcurrentRequestsPerCopy"} <= metrics_of(value)
    assert value["multi_model"] is True
    assert value["components"] == [{"name": "ranker", "metrics": ["InvocationsPerCopy", "ConcurrentRequestsPerCopy"]}]


@pytest.mark.parametrize("notify, children, composite", [
    ("alarms", True, False), ("composite", False, True), ("both", True, True)])
def test_notify(notify, children, composite):
    value = spec(notify=notify)
    assert all(a["actions"] is children for a in value["alarms"])
    assert value["composite"]["actions"] is composite


def test_composite_off():
    assert spec(composite=False)["composite"] is None


@pytest.mark.parametrize("values, field", [
    ({"notify": "composite", "composite": False}, "notify"),
    ({"inference_components": ["ranker_1"]}, "inference_components"),
    ({"variants": [{"name": "blue", "instance": "ml.m5.xlarge"}]}, "variants[0].instance"),
], ids=["notify-without-composite", "component-name", "variant-key"])
def test_bad_values_the_argument_spec_lets_through_fail_naming_the_field(values, field):
    error = spec_error(**values)
    assert [p.split(": ")[0] for p in error.problems] == [field]
    assert "endpoint 'churn': %s: " % field in str(error)


@pytest.mark.parametrize("values, field", [
    ({"endpoint_type": "batch"}, "endpoint_monitoring_endpoint_type"),
    ({"notify": "pager"}, "endpoint_monitoring_notify"),
    ({"multi_model": "maybe"}, "endpoint_monitoring_multi_model"),
])
def test_bad_types_and_choices_fail_at_the_argument_spec_naming_the_variable(values, field):
    with pytest.raises(RenderError) as info:
        settings(**values)
    assert str(info.value).startswith("endpoint 'churn': %s: " % field)


# --------------------------------------------------------------------------------------------- facts

def test_facts_from_sagemaker_replace_what_the_inventory_says():
    checked = settings(endpoint_type="async", instance_type="ml.g4dn.xlarge", multi_model=True,
                       inference_components=["ranker"])
    value = spec_from_settings(checked, SERVERLESS)
    assert value["endpoint_type"] == "serverless" and value["multi_model"] is False and value["components"] == []
    assert value["variants"][0]["serverless"]["max_concurrency"] == 5
    assert not metrics_of(value) & {"CPUUtilization", "GPUUtilization", "ModelCacheHit", "ApproximateBacklogSize"}


def test_facts_replace_only_what_they_say():
    value = spec_from_settings(settings(), {"multi_model": True})
    assert value["multi_model"] is True and value["variant_names"] == ["AllTraffic"]
    assert value["variants"][0]["instance_type"] == "ml.m5.xlarge"


def test_the_settings_of_an_endpoint_named_only_need_facts():
    assert needs_facts(bare()) and not needs_facts(settings())
    with pytest.raises(SpecError):
        spec_from_settings(bare())  # nothing says what it is


# --------------------------------------------------------------------------------------------- stack settings

@pytest.mark.parametrize("values, field, text", [
    ({"role_arn": "cloudformation-role"}, "role_arn", "'cloudformation-role' is not an IAM role ARN"),
    ({"role_arn": "arn:aws:iam::123456789012:role/cfn\n"}, "role_arn", "is not an IAM role ARN"),
    ({"role_arn": "arn:aws:iam::12345:role/cfn"}, "role_arn", "is not an IAM role ARN"),
    ({"topic_kms_key": "my-key"}, "topic_kms_key", "'my-key' is not a KMS key id"),
    ({"topic_kms_key": "alias/monitoring\n"}, "topic_kms_key", "is not a KMS key id"),
    ({"topic_kms_key": "arn:aws:kms:us-east-1:123456789012:secret/x"}, "topic_kms_key", "is not a KMS key id"),
    ({"notification_arns": ["arn:aws:sns:us-east-1:123456789012:events", "events"]}, "notification_arns[1]",
     "'events' is not an SNS topic ARN"),
    ({"notification_arns": ["arn:aws:sns:us-east-1:123456789012:events\n"]}, "notification_arns[0]",
     "is not an SNS topic ARN"),
    ({"notification_arns": ["arn:aws:sqs:us-east-1:123456789012:events"]}, "notification_arns[0]",
     "is not an SNS topic ARN"),
], ids=["role-name", "role-newline", "role-short-account", "kms-name", "kms-alias-newline", "kms-arn-kind",
        "topic-name", "topic-newline", "queue-arn"])
def test_a_bad_stack_setting_fails_naming_the_endpoint_and_the_field(values, field, text):
    error = spec_error(**values)
    assert error.endpoint == ENDPOINT
    [problem] = error.problems
    assert problem.startswith(field + ": ") and text in problem
    assert str(error).startswith("endpoint 'churn': " + field + ": ")


def test_every_bad_stack_setting_is_named_at_once():
    error = spec_error(role_arn="x", topic_kms_key="y", notification_arns=["z"])
    assert [p.split(": ")[0] for p in error.problems] == ["topic_kms_key", "role_arn", "notification_arns[0]"]


@pytest.mark.parametrize("values", [
    {"topic_kms_key": "alias/monitoring/sns"},
    {"topic_kms_key": "1234abcd-12ab-34cd-56ef-1234567890ab"},
    {"topic_kms_key": "mrk-1234abcd12ab34cd56ef1234567890ab"},
    {"topic_kms_key": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"},
    {"topic_kms_key": "arn:aws-us-gov:kms:us-gov-west-1:123456789012:alias/monitoring"},
    {"role_arn": "arn:aws:iam::123456789012:role/service-role/cfn.monitoring@team"},
    {"notification_arns": ["arn:aws:sns:eu-west-1:123456789012:events", "arn:aws:sns:eu-west-1:123456789012:e.fifo"]},
])
def test_good_stack_settings_are_accepted(values):
    assert spec(**values)["endpoint"] == ENDPOINT


# --------------------------------------------------------------------------------------------- describe and plan_entry

def test_describe_returns_the_spec_its_fingerprint_usage_and_plan_entry():
    checked = settings(termination_protection=True, purge_subscriptions=True, stack_prefix="mon-",
                       subscribers=[{"protocol": "email", "endpoint": "oncall@example.com"}])
    value = spec_from_settings(checked)
    result = describe(checked, value, DIGEST)
    assert result["spec"] == value
    assert result["stack"] == dict([(k, checked["endpoint_monitoring_" + k]) for k in STACK_SETTINGS], code=DIGEST)
    assert result["fingerprint"] == stack_fingerprint(value, result["stack"])
    metrics = sum(len(w.get("properties", {}).get("metrics") or []) for w in dashboard_of(value)["body"]["widgets"])
    assert result["usage"]["dashboards"] == 1 and result["usage"]["dashboard_metrics"] == metrics > 0
    assert len(result["usage"]["alarms"]) == len(value["alarms"]) + 1  # and the composite
    assert result["fleet_entry"] is None
    assert result["plan_entry"] == {
        "endpoint": ENDPOINT, "region": "us-east-1", "stack_name": "mon-churn", "state": "present", "profile": "",
        "endpoint_url": "", "termination_protection": True, "purge_subscriptions": True, "discover": False,
        "facts_mark": None, "fingerprint": result["fingerprint"],
        "subscribers": [{"protocol": "email", "endpoint": "oncall@example.com"}],
        "topic_mode": "per_endpoint", "topic_arns": {},
        # what the plan builds the spec from again, for an endpoint that needs a change
        "settings": checked, "code": DIGEST, "facts": None,
        # what the plan checks of the deployed alarms and dashboard
        "expected": expectations(value, dashboard_of(value)["body_json"]),
        "drift_checks": ["alarms", "dashboard", "topic_policy"]}
    assert sorted(result["plan_entry"]["expected"]["alarms"]) == sorted(
        [a["name"] for a in value["alarms"]] + [value["composite"]["name"]])


@pytest.mark.parametrize("mode, dashboards, fleet", [("endpoint", 1, False), ("fleet", 0, True), ("both", 1, True)])
def test_the_dashboard_mode_decides_the_own_dashboard_and_the_fleet_section(mode, dashboards, fleet):
    checked = settings(dashboard=mode)
    result = describe(checked, spec_from_settings(checked), DIGEST)
    assert result["usage"]["dashboards"] == dashboards
    assert (result["fleet_entry"] is not None) is fleet
    if fleet:
        assert sorted(result["fleet_entry"]) == ["alarms", "components", "endpoint", "endpoint_metrics", "region",
                                                 "variants"]


def test_the_code_digest_and_each_stack_setting_reach_the_fingerprint():
    checked = settings()
    base = describe(checked, spec_from_settings(checked), DIGEST)["fingerprint"]
    assert describe(checked, spec_from_settings(checked), "0" * 16)["fingerprint"] != base
    protected = settings(topic_kms_key="alias/monitoring")
    assert describe(protected, spec_from_settings(protected), DIGEST)["fingerprint"] != base


def test_the_plan_entry_carries_what_the_spec_is_built_from_only_for_an_endpoint_to_keep():
    described_entry = plan_entry(settings(), {"subscribers": []}, "f" * 16, None, DIGEST)
    assert described_entry["discover"] is False and described_entry["settings"] == settings()
    assert described_entry["code"] == DIGEST and described_entry["facts"] is None
    checked = bare()
    entry = plan_entry(checked, code_digest=DIGEST)
    assert entry["discover"] is True and entry["settings"] == checked and entry["code"] == DIGEST
    assert entry["fingerprint"] is None and entry["subscribers"] == []
    cached = plan_entry(checked, {"subscribers": []}, "f" * 16, "2025-01-01T00:00:00+00:00", DIGEST, SERVERLESS)
    assert cached["facts"] == SERVERLESS  # the spec is built again from the cached facts, not read anew
    gone = plan_entry(bare(state="absent"))
    assert gone["state"] == "absent" and gone["discover"] is True and "settings" not in gone


def test_the_plan_entry_of_cached_facts_keeps_their_mark():
    checked = bare()
    result = describe(checked, spec_from_settings(checked, SERVERLESS), DIGEST, facts_mark="2025-01-01T00:00:00+00:00")
    entry = result["plan_entry"]
    assert entry["facts_mark"] == "2025-01-01T00:00:00+00:00" and entry["fingerprint"] == result["fingerprint"]
    assert entry["discover"] is True and entry["settings"] == checked  # to build the spec again if it changed


def test_the_plan_entry_passes_connection_settings_and_subscriber_addresses_only():
    checked = settings(aws_profile="ops", aws_endpoint_url="http://127.0.0.1:4566",
                       subscribers=[{"protocol": "sqs", "endpoint": "arn:aws:sqs:us-east-1:123456789012:q",
                                     "raw_message_delivery": True}])
    entry = describe(checked, spec_from_settings(checked), DIGEST)["plan_entry"]
    assert (entry["profile"], entry["endpoint_url"]) == ("ops", "http://127.0.0.1:4566")
    assert entry["subscribers"] == [{"protocol": "sqs", "endpoint": "arn:aws:sqs:us-east-1:123456789012:q"}]
