"""endpoint_spec.build_spec: layering, one alarm per published metric and scope, thresholds in people's units,
error-rate (metric math) and anomaly alarms, the composite health alarm, and validation messages."""

import re

import pytest

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils import catalog
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_spec import (
    MAX_TEMPLATE_BODY_BYTES,
    SpecError,
    build_spec,
    check_template_size,
)

ENDPOINT = "fraud-scoring"
REGION = "eu-west-1"
FLEET = "endpoint_monitoring_metrics"
HOST = "endpoint_monitoring_endpoint_metrics"
FLEET_SUBS = "endpoint_monitoring_subscribers"
HOST_SUBS = "endpoint_monitoring_endpoint_subscribers"
KNOWN_VARIABLES = [
    "endpoint_monitoring_endpoint_name", "endpoint_monitoring_region", "endpoint_monitoring_variants",
    FLEET, HOST, FLEET_SUBS, HOST_SUBS, "endpoint_monitoring_purge_subscriptions",
    "endpoint_monitoring_stack_prefix", "endpoint_monitoring_ok_actions", "endpoint_monitoring_tags",
    "endpoint_monitoring_state",
]
# A real-time endpoint on a GPU instance publishes all 11 metrics of the original template.
GPU_INSTANCE = "ml.g4dn.xlarge"  # 4 vCPUs, 1 GPU
CPU_INSTANCE = "ml.m5.xlarge"  # 4 vCPUs, no GPU
# The alarms made by default there, in catalog order: every one of the 11 but Invocations (off by default).
DEFAULT_ENABLED = ["InvocationsPerInstance", "Invocation4XXErrors", "Invocation5XXErrors", "ModelLatency",
                   "OverheadLatency", "CPUUtilization", "MemoryUtilization", "DiskUtilization", "GPUUtilization",
                   "GPUMemoryUtilization"]
ERROR_METRICS = ("Invocation4XXErrors", "Invocation5XXErrors")
SECRET_URL = "http://hooks.example.com/services/T0KEN-s3cr3t?sig=abc123"


def spec_for(fleet=None, host=None, fleet_subs=None, host_subs=None, **kwargs):
    kwargs.setdefault("endpoint", ENDPOINT)
    kwargs.setdefault("region", REGION)
    kwargs.setdefault("instance_type", GPU_INSTANCE)
    endpoint = kwargs.pop("endpoint")
    region = kwargs.pop("region")
    return build_spec(
        endpoint, region,
        metric_layers=[(FLEET, fleet), (HOST, host)],
        subscriber_layers=[(FLEET_SUBS, fleet_subs), (HOST_SUBS, host_subs)],
        **kwargs
    )


def alarms_by(spec, kinds=("metric", "math")):
    return dict(((a["variant"], a["metric"]), a) for a in spec["alarms"] if a["kind"] in kinds)


def alarm(spec, metric, variant="AllTraffic", kind=("metric", "math")):
    return alarms_by(spec, kind)[(variant, metric)]


def problems_of(**kwargs):
    with pytest.raises(SpecError) as info:
        spec_for(**kwargs)
    return info.value.problems


def fields_of(**kwargs):
    return [p.split(": ")[0] for p in problems_of(**kwargs)]


# --------------------------------------------------------------------------------------------- layering

def test_defaults_produce_one_alarm_per_enabled_metric_on_alltraffic():
    spec = spec_for()
    assert spec["variant_names"] == ["AllTraffic"]
    [variant] = spec["variants"]
    assert (variant["name"], variant["instance_type"], variant["vcpus"], variant["gpus"]) == (
        "AllTraffic", GPU_INSTANCE, 4, 1)
    assert [a["metric"] for a in spec["alarms"]] == DEFAULT_ENABLED
    assert alarm(spec, "ModelLatency")["threshold"] == catalog.METRICS["ModelLatency"].defaults["threshold"] * 1000


def test_plain_variant_names_become_mappings_with_the_metrics_they_publish():
    spec = spec_for(variants=["blue", "green"], instance_type=CPU_INSTANCE)
    assert spec["variant_names"] == ["blue", "green"]
    for variant, name in zip(spec["variants"], ["blue", "green"]):
        assert variant["name"] == name
        assert variant["instance_type"] == CPU_INSTANCE
        assert (variant["vcpus"], variant["gpus"]) == (4, 0)
        assert variant["metrics"] == ["Invocations", "InvocationsPerInstance", "Invocation4XXErrors",
                                      "Invocation5XXErrors", "ModelLatency", "OverheadLatency", "CPUUtilization",
                                      "MemoryUtilization", "DiskUtilization"]
    assert spec["endpoint_type"] == "realtime"
    assert spec["multi_model"] is False
    assert spec["endpoint_metrics"] == []
    assert spec["components"] == []


def test_host_override_of_one_key_changes_only_that_key():
    base = alarms_by(spec_for())
    changed = alarms_by(spec_for(host={"ModelLatency": {"threshold": 500}}))
    assert set(base) == set(changed)
    for key, before in base.items():
        after = changed[key]
        if key[1] != "ModelLatency":
            assert after == before
            continue
        differing = sorted(k for k in before if before[k] != after[k])
        # The description and the displayed threshold quote the threshold, so they follow it.
        assert differing == ["description", "display_threshold", "threshold"]
        assert after["threshold"] == 500000
        assert after["display_threshold"] == "500 ms"
        assert "500 ms" in after["description"]


def test_fleet_layer_applies_when_host_layer_is_silent():
    spec = spec_for(fleet={"ModelLatency": {"threshold": 400, "period": 60}},
                    host={"CPUUtilization": {"threshold": 75}})
    latency = alarm(spec, "ModelLatency")
    assert (latency["threshold"], latency["period"]) == (400000, 60)
    assert alarm(spec, "CPUUtilization")["threshold"] == 300  # 75 % per vCPU x 4 vCPUs


def test_host_layer_beats_fleet_layer_key_by_key():
    spec = spec_for(fleet={"ModelLatency": {"threshold": 400, "period": 60}},
                    host={"ModelLatency": {"threshold": 500}})
    latency = alarm(spec, "ModelLatency")
    assert latency["threshold"] == 500000  # host wins
    assert latency["period"] == 60  # fleet key the host did not name survives
    assert latency["evaluation_periods"] == catalog.METRICS["ModelLatency"].defaults["evaluation_periods"]


def test_host_layer_can_reenable_what_the_fleet_disabled():
    spec = spec_for(fleet={"GPUUtilization": {"enabled": False}}, host={"GPUUtilization": {"enabled": True}})
    assert ("AllTraffic", "GPUUtilization") in alarms_by(spec)
    spec = spec_for(fleet={"GPUUtilization": {"enabled": False}})
    assert ("AllTraffic", "GPUUtilization") not in alarms_by(spec)


def test_host_layer_can_turn_raw_back_off():
    spec = spec_for(fleet={"ModelLatency": {"raw": True, "threshold": 400000}},
                    host={"ModelLatency": {"raw": False, "threshold": 400}})
    assert alarm(spec, "ModelLatency")["threshold"] == 400000


def test_none_layers_and_none_settings_are_ignored():
    assert spec_for(fleet=None, host={"ModelLatency": None}) == spec_for()


# --------------------------------------------------------------------------------------------- alarms

def test_one_alarm_per_enabled_metric_and_variant_with_name_and_dimensions():
    variants = ["blue", "green"]
    spec = spec_for(variants=variants)
    assert len(spec["alarms"]) == len(DEFAULT_ENABLED) * len(variants)
    assert sorted(alarms_by(spec)) == sorted((v, m) for v in variants for m in DEFAULT_ENABLED)
    for a in spec["alarms"]:
        metric = catalog.METRICS[a["metric"]]
        assert a["name"] == "sagemaker-monitoring_%s_%s_%s" % (ENDPOINT, a["variant"], a["metric"])
        assert a["dimensions"] == [
            {"Name": "EndpointName", "Value": ENDPOINT},
            {"Name": "VariantName", "Value": a["variant"]},
        ]
        assert (a["scope"], a["component"]) == ("variant", None)
        assert a["namespace"] == metric.namespace
        assert a["unit"] == metric.unit
        assert metric.runbook in a["description"]
        assert a["kind"] == ("math" if a["metric"] in ERROR_METRICS else "metric")


def test_alarm_names_are_unique():
    spec = spec_for(variants=["blue", "green", "AllTraffic"])
    names = [a["name"] for a in spec["alarms"]]
    assert len(names) == len(set(names))


def test_names_and_ids_are_unique_across_endpoint_variant_component_and_anomaly_alarms():
    spec = spec_for(endpoint_type="async", multi_model=True, inference_components=["blue", "Endpoint"],
                    variants=["blue", "Endpoint", "Component"], composite=True,
                    host=dict((m, {"enabled": True}) for m in catalog.METRICS if m != "ModelLatency"))
    spec_with_band = spec_for(inference_components=["blue", "Endpoint"], variants=["blue", "Endpoint"],
                              host={"ModelLatency": {"anomaly_band": 2}, "Invocations": {"anomaly_band": 2,
                                                                                        "enabled": True}})
    for s in (spec, spec_with_band):
        names = [a["name"] for a in s["alarms"]] + ([s["composite"]["name"]] if s["composite"] else [])
        ids = [a["logical_id"] for a in s["alarms"]] + ([s["composite"]["logical_id"]] if s["composite"] else [])
        assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
        assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
        for logical_id in ids:
            assert re.match(r"^[A-Za-z0-9]{1,255}$", logical_id), logical_id
        assert not set(ids) & {"AlarmTopic", "AlarmTopicPolicy", "Dashboard"}


def test_disabled_metrics_produce_no_alarm():
    spec = spec_for(variants=["blue", "green"], host={"GPUUtilization": {"enabled": False},
                                                      "GPUMemoryUtilization": {"enabled": False}})
    metrics = set(a["metric"] for a in spec["alarms"])
    assert "GPUUtilization" not in metrics
    assert "GPUMemoryUtilization" not in metrics
    assert "Invocations" not in metrics  # off in the catalog
    assert "ModelLatency" in metrics
    assert len(spec["alarms"]) == 2 * (len(DEFAULT_ENABLED) - 2)


def test_enabling_invocations_uses_its_catalog_defaults():
    spec = spec_for(host={"Invocations": {"enabled": True}})
    inv = alarm(spec, "Invocations")
    assert (inv["statistic"], inv["comparison"], inv["treat_missing_data"], inv["threshold"]) == (
        "Sum", "LessThanThreshold", "breaching", 1)


@pytest.mark.parametrize("alias, name", [
    (">", "GreaterThanThreshold"),
    (">=", "GreaterThanOrEqualToThreshold"),
    ("<", "LessThanThreshold"),
    ("<=", "LessThanOrEqualToThreshold"),
])
def test_comparison_aliases_normalise(alias, name):
    spec = spec_for(host={"ModelLatency": {"comparison": alias, "threshold": 1000}})
    a = alarm(spec, "ModelLatency")
    assert a["comparison"] == name
    assert "ModelLatency %s 1000 ms" % alias in a["description"]


@pytest.mark.parametrize("statistic", ["p50", "p90", "p99", "p99.9", "p100"])
def test_percentile_statistics_are_accepted(statistic):
    spec = spec_for(host={"ModelLatency": {"statistic": statistic}})
    assert alarm(spec, "ModelLatency")["statistic"] == statistic


@pytest.mark.parametrize("period", [10, 20, 30, 60, 120, 3600])
def test_periods_cloudwatch_accepts(period):
    spec = spec_for(host={"ModelLatency": {"period": period, "evaluation_periods": 1, "datapoints_to_alarm": 1}})
    assert alarm(spec, "ModelLatency")["period"] == period


def test_evaluation_range_of_seven_days_is_fine_for_hourly_periods():
    spec = spec_for(host={"ModelLatency": {"period": 3600, "evaluation_periods": 168}})
    assert alarm(spec, "ModelLatency")["evaluation_periods"] == 168


def test_logical_ids_are_unique_alphanumeric_and_distinct_for_similar_variants():
    variants = ["blue-v1", "bluev1", "blue--v1", "blue", "blueGPU", "AllTraffic"]
    spec = spec_for(variants=variants)
    ids = [a["logical_id"] for a in spec["alarms"]]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    for logical_id in ids:
        assert re.match(r"^[A-Za-z0-9]{1,255}$", logical_id), logical_id
    # The template's fixed resources must not be shadowed.
    assert not set(ids) & {"AlarmTopic", "AlarmTopicPolicy", "Dashboard", "HealthAlarm"}


def test_logical_ids_stay_distinct_where_a_new_metric_name_ends_with_another():
    # ServerlessProvisionedConcurrencySpilloverInvocations ends with Invocations: variant "blue" + the long
    # metric and variant "blueServerlessProvisionedConcurrencySpillover" + Invocations must not share an id.
    variants = [{"name": n, "serverless": {"provisioned_concurrency": 1}}
                for n in ("blue", "blueServerlessProvisionedConcurrencySpillover")]
    spec = spec_for(endpoint_type="serverless", variants=variants, host={"Invocations": {"enabled": True}})
    metrics = set(a["metric"] for a in spec["alarms"])
    assert {"Invocations", "ServerlessProvisionedConcurrencySpilloverInvocations"} <= metrics
    ids = [a["logical_id"] for a in spec["alarms"]]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


def test_logical_ids_of_plain_variant_names_are_stable():
    # Changing a logical id makes CloudFormation replace the alarm: keep the simple form.
    spec = spec_for(variants=["AllTraffic"])
    assert alarm(spec, "ModelLatency")["logical_id"] == "AlarmAllTrafficModelLatency"
    assert alarm(spec, "Invocation5XXErrors")["logical_id"] == "AlarmAllTrafficInvocation5XXErrors"
    # A variant's ids do not depend on the other variants listed with it.
    alone = alarms_by(spec_for(variants=["blue-v1"]))
    together = alarms_by(spec_for(variants=["bluev1", "blue-v1"]))
    for key, a in alone.items():
        assert together[key]["logical_id"] == a["logical_id"]


def test_spec_names_and_tags():
    spec = spec_for(tags={"team": "fraud"}, stack_prefix="mon-")
    assert spec["stack_name"] == "mon-" + ENDPOINT
    # The stack prefix names the stack only: what the stack holds is named by the collection's own prefix.
    assert spec["topic_name"] == "sagemaker-monitoring_" + ENDPOINT
    assert spec["dashboard_name"] == "sagemaker-monitoring_%s_%s" % (ENDPOINT, REGION)
    assert spec["tags"] == {"team": "fraud", "managed-by": "mlops.sagemaker_monitoring",
                            "sagemaker-endpoint": ENDPOINT}


# --------------------------------------------------------------------------------------------- names

def names_of(spec):
    """Every name the endpoint's stack would hold: alarms, composite, topic, dashboard."""
    return ([a["name"] for a in spec["alarms"]] + ([spec["composite"]["name"]] if spec["composite"] else [])
            + [spec["topic_name"], spec["dashboard_name"]])


def test_an_endpoint_and_a_variant_that_spell_another_pair_cannot_collide():
    # <endpoint>-<variant>-<metric> made cola + b-AllTraffic and cola-b + AllTraffic both claim
    # cola-b-AllTraffic-ModelLatency. "_" is no part of a SageMaker name, so the parts stay apart.
    cola = spec_for(endpoint="cola", variants=["b-AllTraffic"], host={"ModelLatency": {"anomaly_band": 2}})
    cola_b = spec_for(endpoint="cola-b", variants=["AllTraffic"], host={"ModelLatency": {"anomaly_band": 2}})
    assert alarm(cola, "ModelLatency", "b-AllTraffic")["name"] == "sagemaker-monitoring_cola_b-AllTraffic_ModelLatency"
    assert alarm(cola_b, "ModelLatency")["name"] == "sagemaker-monitoring_cola-b_AllTraffic_ModelLatency"
    assert not set(names_of(cola)) & set(names_of(cola_b))


@pytest.mark.parametrize("first, second", [
    # (endpoint, variants, components) pairs that spelt one name with "-" between the parts
    (("cola", ["b-AllTraffic"], []), ("cola-b", ["AllTraffic"], [])),
    (("a", ["b-c"], ["b-c"]), ("a-b", ["c"], ["c"])),
    (("x", ["health"], []), ("x-health", ["AllTraffic"], [])),
    (("x", ["ModelLatency"], []), ("x-ModelLatency", ["anomaly"], [])),
    (("api", ["eu-west-1"], []), ("api-eu", ["west-1"], [])),
])
def test_two_endpoints_never_share_a_name(first, second):
    def spec(endpoint, variants, components):
        return spec_for(endpoint=endpoint, variants=variants, inference_components=components,
                        endpoint_type="async", multi_model=True, instance_type=CPU_INSTANCE,
                        host=dict((m, {"enabled": True}) for m in catalog.METRICS))
    assert not set(names_of(spec(*first))) & set(names_of(spec(*second)))


def test_names_have_a_common_prefix_and_parts_split_on_the_separator():
    spec = spec_for(endpoint="cola-b", variants=["blue-1"], inference_components=["ranker-2"],
                    endpoint_type="async", instance_type=CPU_INSTANCE,
                    host={"ModelLatency": {"anomaly_band": 2}, "Invocations": {"enabled": True, "anomaly_band": 2},
                          "InvocationsPerCopy": {"enabled": True}})
    for name in names_of(spec):
        prefix, endpoint, rest = name.split("_", 2) if name.count("_") > 1 else name.split("_") + [None]
        assert (prefix, endpoint) == ("sagemaker-monitoring", "cola-b"), name
    for a in spec["alarms"]:
        parts = a["name"].split("_")[2:]
        scope = {"endpoint": [], "variant": [a["variant"]], "component": [a["component"]]}[a["scope"]]
        assert parts == scope + [a["metric"]] + (["anomaly"] if a["kind"] == "anomaly" else []), a["name"]
    assert spec["composite"]["name"].split("_") == ["sagemaker-monitoring", "cola-b", "health"]
    assert spec["dashboard_name"].split("_") == ["sagemaker-monitoring", "cola-b", REGION]
    # the words that end a name are no metric's, and no metric name holds the separator
    assert not set(catalog.METRICS) & {"health", "anomaly"}
    assert not [m for m in catalog.METRICS if "_" in m]


def test_the_longest_names_fit_in_what_aws_allows():
    longest = max(catalog.METRICS, key=len)
    endpoint, variant, component = "e" * 63, "v" * 63, "c" * 63
    serverless = spec_for(endpoint=endpoint, endpoint_type="serverless", composite=False,
                          variants=[{"name": variant, "serverless": {"provisioned_concurrency": 1}}],
                          host={"Invocations": {"enabled": True, "anomaly_band": 2}, "ModelLatency": {"anomaly_band": 2}})
    components = spec_for(endpoint=endpoint, inference_components=[component], instance_type=CPU_INSTANCE,
                          region="ap-southeast-2", variants=[variant])
    assert longest in [a["metric"] for a in serverless["alarms"]]
    for spec in (serverless, components):
        for a in spec["alarms"]:
            assert len(a["name"]) <= 255, a["name"]  # CloudWatch's alarm names
        assert re.match(r"^[A-Za-z0-9_-]{1,256}$", spec["topic_name"])  # SNS topic names
        assert re.match(r"^[A-Za-z0-9_-]{1,255}$", spec["dashboard_name"])  # CloudWatch dashboard names
    longest_alarm = max((a["name"] for s in (serverless, components) for a in s["alarms"]), key=len)
    assert longest_alarm == "sagemaker-monitoring_%s_%s_%s" % (endpoint, variant, longest)
    assert len(longest_alarm) == 201


def test_an_endpoint_or_variant_name_past_sagemakers_limits_is_refused_before_any_name_is_made():
    assert fields_of(endpoint="e" * 64) == ["endpoint_name"]
    assert fields_of(variants=["v" * 64]) == ["variants[0]"]
    assert fields_of(variants=["blue_green"]) == ["variants[0]"]  # the separator is no part of a SageMaker name


def test_a_name_past_aws_limits_is_refused_naming_it(monkeypatch):
    # Unreachable with SageMaker's own limits (above); the check keeps a future longer prefix from making
    # names CloudWatch or SNS would refuse half-way through a stack.
    from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils import endpoint_spec

    monkeypatch.setattr(endpoint_spec, "NAME_PREFIX", "p" * 180)
    problems = problems_of(endpoint="e" * 63, variants=["v" * 20])
    assert any(p.startswith("endpoint_name: alarm name %s_" % ("p" * 180)) and "CloudWatch allows 255" in p
               for p in problems), problems
    assert not [p for p in problems if "topic name" in p or "dashboard name" in p]


def test_subscribers_are_deduplicated_across_layers():
    fleet = [
        {"protocol": "email", "endpoint": "oncall@example.com"},
        {"protocol": "https", "endpoint": "https://hooks.example.com/a"},
    ]
    host = [
        {"protocol": "email", "endpoint": "oncall@example.com"},
        {"protocol": "sqs", "endpoint": "arn:aws:sqs:eu-west-1:123456789012:alarms", "raw_message_delivery": True},
        {"protocol": "https", "endpoint": "https://hooks.example.com/a"},
    ]
    spec = spec_for(fleet_subs=fleet, host_subs=host)
    assert spec["subscribers"] == [
        {"protocol": "email", "endpoint": "oncall@example.com", "raw_message_delivery": False},
        {"protocol": "https", "endpoint": "https://hooks.example.com/a", "raw_message_delivery": False},
        {"protocol": "sqs", "endpoint": "arn:aws:sqs:eu-west-1:123456789012:alarms", "raw_message_delivery": True},
    ]


def test_valid_subscribers_of_every_protocol():
    subs = [
        {"protocol": "email", "endpoint": "ml-oncall@example.co.uk"},
        {"protocol": "https", "endpoint": "https://hooks.example.com:8443/x?y=1", "raw_message_delivery": True},
        {"protocol": "sqs", "endpoint": "arn:aws:sqs:us-east-1:123456789012:alarms.fifo"},
        {"protocol": "lambda", "endpoint": "arn:aws:lambda:us-east-1:123456789012:function:notify:live"},
    ]
    spec = spec_for(host_subs=subs)
    assert [s["protocol"] for s in spec["subscribers"]] == ["email", "https", "sqs", "lambda"]


# ---------------------------------------------------------------------------------------- endpoint and component scope

def test_async_backlog_alarms_are_made_once_per_endpoint_whatever_the_variants():
    spec = spec_for(endpoint_type="async", instance_type=CPU_INSTANCE, variants=["blue", "green"])
    backlog = [a for a in spec["alarms"] if a["scope"] == "endpoint"]
    assert [a["metric"] for a in backlog] == ["ApproximateBacklogSize", "ApproximateAgeOfOldestRequest",
                                              "HasBacklogWithoutCapacity"]
    for a in backlog:
        assert a["name"] == "sagemaker-monitoring_%s_%s" % (ENDPOINT, a["metric"])
        assert a["logical_id"] == "AlarmEndpoint%s" % a["metric"]
        assert a["dimensions"] == [{"Name": "EndpointName", "Value": ENDPOINT}]
        assert (a["variant"], a["component"]) == (None, None)
        assert "on %s." % ENDPOINT in a["description"]
    # Variant-level alarms still come once per variant.
    assert sorted(a["variant"] for a in spec["alarms"] if a["metric"] == "ModelLatency") == ["blue", "green"]
    assert spec["endpoint_metrics"] == [a["metric"] for a in backlog]


def test_async_backlog_thresholds_are_taken_as_given():
    spec = spec_for(endpoint_type="async", instance_type=CPU_INSTANCE,
                    host={"ApproximateAgeOfOldestRequest": {"threshold": 600}})
    [age] = [a for a in spec["alarms"] if a["metric"] == "ApproximateAgeOfOldestRequest"]
    assert age["threshold"] == 600  # seconds: no scaling


def test_component_alarms_are_made_once_per_component():
    spec = spec_for(inference_components=["ranker", "scorer"], instance_type=CPU_INSTANCE,
                    host={"InvocationsPerCopy": {"enabled": True}})
    component = [a for a in spec["alarms"] if a["scope"] == "component"]
    assert sorted((a["component"], a["metric"]) for a in component) == [
        ("ranker", "ConcurrentRequestsPerCopy"), ("ranker", "InvocationsPerCopy"),
        ("scorer", "ConcurrentRequestsPerCopy"), ("scorer", "InvocationsPerCopy")]
    for a in component:
        assert a["name"] == "sagemaker-monitoring_%s_%s_%s" % (ENDPOINT, a["component"], a["metric"])
        assert a["dimensions"] == [{"Name": "InferenceComponentName", "Value": a["component"]}]
        assert a["variant"] is None
        assert a["logical_id"].startswith("AlarmComponent") and a["logical_id"].endswith(a["metric"])
    assert spec["components"] == [{"name": "ranker", "metrics": ["InvocationsPerCopy", "ConcurrentRequestsPerCopy"]},
                                  {"name": "scorer", "metrics": ["InvocationsPerCopy", "ConcurrentRequestsPerCopy"]}]


def test_without_components_there_are_no_component_alarms():
    spec = spec_for(host={"InvocationsPerCopy": {"enabled": True}})
    assert not [a for a in spec["alarms"] if a["scope"] == "component"]
    assert spec["components"] == []


# ---------------------------------------------------------------------------------------- thresholds in people's units

def test_cpu_threshold_is_per_vcpu_scaled_by_the_instance_type():
    spec = spec_for(instance_type="ml.c5.4xlarge", host={"CPUUtilization": {"threshold": 80}})  # 16 vCPUs
    cpu = alarm(spec, "CPUUtilization")
    assert cpu["threshold"] == 1280
    assert cpu["display_threshold"] == "80 % per vCPU"
    assert "80 % per vCPU" in cpu["description"]
    # A CPU-only type has no GPU alarms.
    assert "GPUUtilization" not in set(a["metric"] for a in spec["alarms"])


def test_gpu_thresholds_are_per_gpu_scaled_by_the_instance_type():
    spec = spec_for(instance_type="ml.g5.12xlarge")  # 48 vCPUs, 4 GPUs; default 90 % per GPU
    for name in ("GPUUtilization", "GPUMemoryUtilization"):
        a = alarm(spec, name)
        assert a["threshold"] == 360
        assert a["display_threshold"] == "90 % per GPU"
    assert alarm(spec, "CPUUtilization")["threshold"] == 80 * 48


def test_latency_thresholds_are_milliseconds():
    spec = spec_for(host={"ModelLatency": {"threshold": 250}})
    assert alarm(spec, "ModelLatency")["threshold"] == 250000
    assert alarm(spec, "ModelLatency")["display_threshold"] == "250 ms"
    assert alarm(spec, "OverheadLatency")["threshold"] == 200000  # catalog default 200 ms
    fractional = spec_for(host={"OverheadLatency": {"threshold": 0.5}})
    assert alarm(fractional, "OverheadLatency")["threshold"] == 500


def test_serverless_setup_time_and_utilisation_are_in_people_units():
    spec = spec_for(endpoint_type="serverless", host={"ModelSetupTime": {"threshold": 20000},
                                                      "ServerlessConcurrentExecutionsUtilization": {"threshold": 75}})
    assert alarm(spec, "ModelSetupTime")["threshold"] == 20000000  # ms -> microseconds
    utilisation = alarm(spec, "ServerlessConcurrentExecutionsUtilization")
    assert utilisation["threshold"] == pytest.approx(0.75)  # percent -> ratio
    assert utilisation["display_threshold"] == "75 %"


def test_model_cache_hit_threshold_is_a_percentage():
    spec = spec_for(multi_model=True, instance_type=CPU_INSTANCE)
    hit = alarm(spec, "ModelCacheHit")
    assert hit["threshold"] == pytest.approx(0.5)
    assert hit["comparison"] == "LessThanThreshold"
    assert alarm(spec, "ModelLoadingWaitTime")["threshold"] == 5000000  # 5000 ms


@pytest.mark.parametrize("metric, threshold, kwargs", [
    ("CPUUtilization", 1280, dict(instance_type="ml.c5.4xlarge")),
    ("GPUUtilization", 360, dict(instance_type="ml.g5.12xlarge")),
    ("ModelLatency", 250000, dict()),
    ("ModelCacheHit", 0.5, dict(multi_model=True, instance_type=CPU_INSTANCE)),
])
def test_raw_keeps_the_number_in_cloudwatch_units(metric, threshold, kwargs):
    spec = spec_for(host={metric: {"raw": True, "threshold": threshold}}, **kwargs)
    a = alarm(spec, metric)
    assert a["threshold"] == threshold
    assert a["display_threshold"] == "%s" % threshold  # no unit claimed: it is CloudWatch's own


def test_raw_error_metric_is_a_plain_sum_alarm():
    spec = spec_for(host={"Invocation5XXErrors": {"raw": True, "threshold": 10}})
    a = alarm(spec, "Invocation5XXErrors")
    assert a["kind"] == "metric"
    assert (a["statistic"], a["threshold"]) == ("Sum", 10)
    assert "metrics" not in a and "expression" not in a
    assert a["metric_count"] == 1


def test_unknown_instance_type_with_cpu_enabled_is_an_error_naming_the_variant():
    with pytest.raises(SpecError) as info:
        spec_for(instance_type=None, variants=[{"name": "blue", "instance_type": CPU_INSTANCE},
                                               {"name": "green", "instance_type": "ml.x99.huge"}])
    [problem] = info.value.problems
    assert problem.startswith("variants[1]: ")
    assert "CPUUtilization" in problem and "'green'" in problem
    assert "instance_type" in problem and "raw: true" in problem


def test_missing_instance_type_is_an_error_when_cpu_is_on():
    with pytest.raises(SpecError) as info:
        build_spec(ENDPOINT, REGION)
    assert [p.split(": ")[0] for p in info.value.problems] == ["variants[0]"]


def test_unknown_instance_type_is_fine_with_raw_cpu_or_cpu_off():
    raw = spec_for(instance_type="ml.x99.huge", host={"CPUUtilization": {"raw": True, "threshold": 300}})
    assert alarm(raw, "CPUUtilization")["threshold"] == 300
    off = spec_for(instance_type=None, host={"CPUUtilization": {"enabled": False}})
    assert "CPUUtilization" not in set(a["metric"] for a in off["alarms"])
    # "Unknown" is never taken for "has a GPU": no GPU alarm on an instance nobody described.
    for spec in (raw, off):
        assert not set(a["metric"] for a in spec["alarms"]) & {"GPUUtilization", "GPUMemoryUtilization"}


def test_a_refused_variant_setting_is_not_reported_again_as_unknown_counts():
    for variant, field in (({"name": "blue", "instance_typ": CPU_INSTANCE}, "variants[0].instance_typ"),
                           ({"name": "blue", "instance_type": 4}, "variants[0].instance_type"),
                           ({"name": "blue", "vcpus": "4"}, "variants[0].vcpus")):
        assert fields_of(instance_type=None, variants=[variant]) == [field]
    # Another variant's mistake does not hide this one's unknown counts.
    assert fields_of(instance_type=None, variants=[{"name": "blue", "instance_typ": CPU_INSTANCE}, "green"]) == [
        "variants[0].instance_typ", "variants[1]"]


def test_explicit_vcpus_work_without_an_instance_type():
    spec = spec_for(instance_type=None, variants=[{"name": "AllTraffic", "vcpus": 8}])
    assert alarm(spec, "CPUUtilization")["threshold"] == 640
    assert spec["variants"][0]["gpus"] == 0  # counts given by hand, no GPUs: a CPU instance
    assert "GPUUtilization" not in set(a["metric"] for a in spec["alarms"])


def test_explicit_counts_override_the_instance_type():
    spec = spec_for(variants=[{"name": "AllTraffic", "instance_type": "ml.g5.12xlarge", "vcpus": 32, "gpus": 2}])
    assert alarm(spec, "CPUUtilization")["threshold"] == 80 * 32
    assert alarm(spec, "GPUUtilization")["threshold"] == 90 * 2


def test_each_variant_scales_by_its_own_instance_type():
    spec = spec_for(instance_type=CPU_INSTANCE, variants=[
        "cpu", {"name": "gpu", "instance_type": "ml.g5.12xlarge", "instance_count": 2}])
    assert alarm(spec, "CPUUtilization", "cpu")["threshold"] == 320
    assert alarm(spec, "CPUUtilization", "gpu")["threshold"] == 3840
    assert alarm(spec, "GPUUtilization", "gpu")["threshold"] == 360
    assert ("cpu", "GPUUtilization") not in alarms_by(spec)
    assert spec["variants"][1]["instance_count"] == 2


# ------------------------------------------------------------------------------------------- error rates (metric math)

def _query(a, query_id):
    [query] = [q for q in a["metrics"] if q["Id"] == query_id]
    return query


@pytest.mark.parametrize("name", ERROR_METRICS)
def test_error_alarm_is_a_rate_by_metric_math_with_a_traffic_guard(name):
    spec = spec_for(variants=["blue"], host={name: {"period": 60}})
    a = alarm(spec, name, "blue")
    defaults = catalog.METRICS[name].defaults
    assert a["kind"] == "math"
    assert a["metric_count"] == 2
    assert a["threshold"] == defaults["threshold"]  # percent, unscaled
    assert a["display_threshold"] == "%s %% of requests" % defaults["threshold"]
    assert a["expression"] == "IF(invocations >= %d, 100 * errors / invocations, 0)" % defaults["min_invocations"]
    dims = [{"Name": "EndpointName", "Value": ENDPOINT}, {"Name": "VariantName", "Value": "blue"}]
    assert [q["Id"] for q in a["metrics"]] == ["errors", "invocations", "rate"]
    for query_id, metric_name in (("errors", name), ("invocations", "Invocations")):
        query = _query(a, query_id)
        assert query["ReturnData"] is False
        assert query["MetricStat"] == {
            "Metric": {"Namespace": "AWS/SageMaker", "MetricName": metric_name, "Dimensions": dims},
            "Period": 60, "Stat": "Sum"}
    rate = _query(a, "rate")
    assert rate["ReturnData"] is True
    assert rate["Expression"] == a["expression"]
    # Exactly one query returns data, and it is the rate the threshold is compared with.
    assert [q["Id"] for q in a["metrics"] if q["ReturnData"]] == ["rate"]
    # Every id the expression names is a query of the alarm.
    assert set(re.findall(r"[a-z][A-Za-z0-9_]*", a["expression"])) - {"IF"} <= {"errors", "invocations"}
    assert "rate > %s%% of requests" % defaults["threshold"] in a["description"]
    assert "at least %d requests per 60 s" % defaults["min_invocations"] in a["description"]


def test_min_invocations_sets_the_guard():
    spec = spec_for(fleet={"Invocation5XXErrors": {"min_invocations": 200, "threshold": 2.5}})
    a = alarm(spec, "Invocation5XXErrors")
    assert a["expression"] == "IF(invocations >= 200, 100 * errors / invocations, 0)"
    assert _query(a, "rate")["Expression"] == a["expression"]
    assert a["threshold"] == 2.5
    assert "at least 200 requests" in a["description"]
    assert "2.5% of requests" in a["description"]


@pytest.mark.parametrize("threshold, comparison, fires", [
    (99.9, "GreaterThanThreshold", True),
    (100, "GreaterThanOrEqualToThreshold", True),
    (100, "GreaterThanThreshold", False),
    (101, "GreaterThanThreshold", False),
    (100.5, "GreaterThanOrEqualToThreshold", False),
])
def test_error_rate_threshold_that_can_never_fire_is_refused(threshold, comparison, fires):
    host = {"Invocation4XXErrors": {"threshold": threshold, "comparison": comparison}}
    if fires:
        assert alarm(spec_for(host=host), "Invocation4XXErrors")["threshold"] == threshold
        return
    [problem] = problems_of(host=host)
    assert problem.startswith(HOST + ".Invocation4XXErrors.threshold: the alarm could never fire")
    assert "percentage of requests" in problem


def test_error_rate_is_not_bounded_by_the_raw_ceiling_of_one():
    # The old trap: 5 (percent) is far above the raw Average's ceiling of 1, but it is a rate now.
    spec = spec_for(host={"Invocation5XXErrors": {"threshold": 5}})
    assert alarm(spec, "Invocation5XXErrors")["threshold"] == 5


# --------------------------------------------------------------------------------------------- anomaly detection

def test_anomaly_band_on_model_latency_adds_an_anomaly_alarm():
    spec = spec_for(variants=["blue"], host={"ModelLatency": {"anomaly_band": 2, "statistic": "p90"}})
    plain = alarm(spec, "ModelLatency", "blue")
    band = alarm(spec, "ModelLatency", "blue", kind=("anomaly",))
    assert band["name"] == plain["name"] + "_anomaly" == "sagemaker-monitoring_%s_blue_ModelLatency_anomaly" % ENDPOINT
    assert band["logical_id"] == plain["logical_id"] + "Anomaly"
    assert band["kind"] == "anomaly"
    assert band["band"] == 2
    assert band["threshold"] is None
    assert band["comparison"] == "GreaterThanUpperThreshold"  # only slow is bad
    assert band["dimensions"] == plain["dimensions"]
    assert (band["period"], band["evaluation_periods"], band["datapoints_to_alarm"]) == (
        plain["period"], plain["evaluation_periods"], plain["datapoints_to_alarm"])
    m1 = _query(band, "m1")
    assert m1["MetricStat"]["Metric"] == {"Namespace": "AWS/SageMaker", "MetricName": "ModelLatency",
                                          "Dimensions": plain["dimensions"]}
    assert m1["MetricStat"]["Stat"] == "p90"
    assert _query(band, "band")["Expression"] == "ANOMALY_DETECTION_BAND(m1, 2)"
    assert _query(band, "band")["ReturnData"] is True
    # The static alarm stays as it was.
    assert plain == alarm(spec_for(variants=["blue"], host={"ModelLatency": {"statistic": "p90"}}),
                          "ModelLatency", "blue")
    # The anomaly alarm directly follows its static sibling.
    names = [a["name"] for a in spec["alarms"]]
    assert names.index(band["name"]) == names.index(plain["name"]) + 1


def test_anomaly_band_on_invocations_watches_both_sides():
    spec = spec_for(host={"Invocations": {"enabled": True, "anomaly_band": 3}})
    band = alarm(spec, "Invocations", kind=("anomaly",))
    assert band["comparison"] == "LessThanLowerOrGreaterThanUpperThreshold"
    assert _query(band, "band")["Expression"] == "ANOMALY_DETECTION_BAND(m1, 3)"


def test_no_anomaly_alarm_without_anomaly_band_or_where_unpublished():
    assert not [a for a in spec_for()["alarms"] if a["kind"] == "anomaly"]
    spec = spec_for(endpoint_type="async", instance_type=CPU_INSTANCE,
                    host={"Invocations": {"enabled": True, "anomaly_band": 2}})
    assert not [a for a in spec["alarms"] if a["metric"] == "Invocations"]


def test_anomaly_band_is_refused_for_cpu_utilization():
    [problem] = problems_of(host={"CPUUtilization": {"anomaly_band": 2}})
    assert problem.startswith(HOST + ".CPUUtilization.anomaly_band: ")
    assert "ModelLatency" in problem and "Invocations" in problem


def test_min_invocations_is_refused_on_a_metric_that_is_not_a_rate():
    [problem] = problems_of(host={"ModelLatency": {"min_invocations": 10}})
    assert problem.startswith(HOST + ".ModelLatency.min_invocations: only applies to error-rate alarms")
    # ... and on an error metric made raw, which is no rate any more.
    [problem] = problems_of(host={"Invocation4XXErrors": {"raw": True, "min_invocations": 10}})
    assert problem.startswith(HOST + ".Invocation4XXErrors.min_invocations: ")
    # The catalog's own guard does not count as the user's setting.
    spec_for(host={"Invocation4XXErrors": {"raw": True}})


# --------------------------------------------------------------------------------------------- composite health alarm

def _children_of(rule):
    return re.findall(r'ALARM\("([^"]+)"\)', rule)


def test_composite_rule_lists_every_alarm_exactly_once():
    spec = spec_for(variants=["blue", "green"], composite=True, host={"ModelLatency": {"anomaly_band": 2}})
    health = spec["composite"]
    names = [a["name"] for a in spec["alarms"]]
    assert health["name"] == "sagemaker-monitoring_%s_health" % ENDPOINT
    assert health["logical_id"] == "HealthAlarm"
    assert _children_of(health["rule"]) == names
    assert health["rule"] == " OR ".join('ALARM("%s")' % n for n in names)
    assert health["children"] == names
    assert len(set(names)) == len(names)
    assert ENDPOINT in health["description"]


def test_composite_is_on_by_default_and_can_be_turned_off():
    assert build_spec(ENDPOINT, REGION, instance_type=GPU_INSTANCE)["composite"]["name"] == (
        "sagemaker-monitoring_%s_health" % ENDPOINT)
    spec = spec_for(composite=False)
    assert spec["composite"] is None
    assert all(a["actions"] is True for a in spec["alarms"])


def test_composite_covers_endpoint_and_component_alarms():
    spec = spec_for(endpoint_type="async", instance_type=CPU_INSTANCE, composite=True)
    assert "sagemaker-monitoring_%s_ApproximateBacklogSize" % ENDPOINT in _children_of(spec["composite"]["rule"])
    spec = spec_for(inference_components=["ranker"], instance_type=CPU_INSTANCE, composite=True)
    assert "sagemaker-monitoring_%s_ranker_ConcurrentRequestsPerCopy" % ENDPOINT in _children_of(
        spec["composite"]["rule"])


def test_no_composite_without_alarms():
    layer = dict((m, {"enabled": False}) for m in catalog.METRICS)
    assert spec_for(composite=True, host=layer)["composite"] is None


@pytest.mark.parametrize("notify, children_notify, composite_notifies", [
    ("alarms", True, False),
    ("composite", False, True),
    ("both", True, True),
])
def test_notify_decides_which_alarms_have_actions(notify, children_notify, composite_notifies):
    spec = spec_for(composite=True, notify=notify, host={"ModelLatency": {"anomaly_band": 2}},
                    endpoint_type="async", instance_type=CPU_INSTANCE)
    kinds = set(a["kind"] for a in spec["alarms"])
    scopes = set(a["scope"] for a in spec["alarms"])
    assert kinds == {"metric", "anomaly"} and scopes == {"variant", "endpoint"}
    assert all(a["actions"] is children_notify for a in spec["alarms"])
    assert spec["composite"]["actions"] is composite_notifies


def test_default_notify_is_every_alarm_and_not_the_composite():
    spec = build_spec(ENDPOINT, REGION, instance_type=GPU_INSTANCE)
    assert all(a["actions"] is True for a in spec["alarms"])
    assert spec["composite"]["actions"] is False


def test_100_alarms_fit_a_composite_and_101_do_not():
    # 10 alarms per variant by default on a GPU instance.
    spec = spec_for(composite=True, variants=["v%d" % i for i in range(10)])
    assert len(spec["alarms"]) == 100
    assert len(spec["composite"]["children"]) == 100
    host = {"Invocations": {"enabled": True}}  # 11 per variant
    [problem] = problems_of(composite=True, variants=["v%d" % i for i in range(10)], host=host)
    assert problem.startswith("composite: 110 alarms")
    assert "100" in problem and "composite: false" in problem
    spec = spec_for(composite=False, variants=["v%d" % i for i in range(10)], host=host)
    assert len(spec["alarms"]) == 110 and spec["composite"] is None


def test_composite_rule_longer_than_cloudwatch_allows_is_refused():
    endpoint = "e" * 63
    variants = [("v%d-" % i) + "x" * 58 for i in range(10)]  # 100 alarms with long names
    with pytest.raises(SpecError) as info:
        spec_for(endpoint=endpoint, composite=True, variants=variants)
    [problem] = info.value.problems
    assert problem.startswith("composite: the health rule would be ")
    assert "10240" in problem


# --------------------------------------------------------------------------------------------- errors

def _too_many_variants():
    # 10 alarms per variant by default: 50 variants make 500 alarms + 3 fixed resources.
    return ["v%d" % i for i in range(50)]


BAD_INPUTS = [
    # id, build_spec keyword arguments, field path expected in the message, other text expected
    ("endpoint-too-long", dict(endpoint="e" * 64), "endpoint_name", []),
    ("endpoint-underscore", dict(endpoint="fraud_scoring"), "endpoint_name", []),
    ("endpoint-leading-hyphen", dict(endpoint="-fraud"), "endpoint_name", []),
    ("endpoint-not-a-string", dict(endpoint=None), "endpoint_name", []),
    ("unknown-metric", dict(host={"ModelLatancy": {"threshold": 1}}), HOST + ".ModelLatancy",
     ["did you mean 'ModelLatency'"]),
    ("unknown-setting", dict(host={"ModelLatency": {"treshold": 1}}), HOST + ".ModelLatency.treshold",
     ["did you mean 'threshold'"]),
    ("unknown-setting-near-a-new-one", dict(host={"Invocation5XXErrors": {"min_invocation": 10}}),
     HOST + ".Invocation5XXErrors.min_invocation", ["did you mean 'min_invocations'"]),
    ("metrics-not-a-mapping", dict(host=["ModelLatency"]), HOST, []),
    ("settings-not-a-mapping", dict(host={"ModelLatency": 5}), HOST + ".ModelLatency", []),
    ("threshold-string", dict(host={"CPUUtilization": {"threshold": "80"}}), HOST + ".CPUUtilization.threshold",
     ["str '80'"]),
    ("threshold-bool", dict(host={"CPUUtilization": {"threshold": True}}), HOST + ".CPUUtilization.threshold", []),
    ("threshold-none", dict(host={"CPUUtilization": {"threshold": None}}), HOST + ".CPUUtilization.threshold", []),
    ("threshold-nan", dict(host={"CPUUtilization": {"threshold": float("nan")}}),
     HOST + ".CPUUtilization.threshold", []),
    ("enabled-string", dict(host={"CPUUtilization": {"enabled": "yes"}}), HOST + ".CPUUtilization.enabled", []),
    ("raw-string", dict(host={"CPUUtilization": {"raw": "yes"}}), HOST + ".CPUUtilization.raw", []),
    ("period-45", dict(host={"ModelLatency": {"period": 45}}), HOST + ".ModelLatency.period", ["45"]),
    ("period-0", dict(host={"ModelLatency": {"period": 0}}), HOST + ".ModelLatency.period", []),
    ("period-61", dict(host={"ModelLatency": {"period": 61}}), HOST + ".ModelLatency.period", ["61"]),
    ("period-float", dict(host={"ModelLatency": {"period": 60.0}}), HOST + ".ModelLatency.period", []),
    ("period-in-fleet-layer", dict(fleet={"ModelLatency": {"period": 45}}), FLEET + ".ModelLatency.period", []),
    ("evaluation-periods-0", dict(host={"ModelLatency": {"evaluation_periods": 0}}),
     HOST + ".ModelLatency.evaluation_periods", []),
    ("evaluation-range-over-one-day", dict(host={"ModelLatency": {"period": 300, "evaluation_periods": 289}}),
     HOST + ".ModelLatency.evaluation_periods", ["86700", "86400"]),
    ("evaluation-range-over-seven-days", dict(host={"ModelLatency": {"period": 3600, "evaluation_periods": 169}}),
     HOST + ".ModelLatency.evaluation_periods", []),
    ("datapoints-over-evaluation-periods",
     dict(host={"ModelLatency": {"evaluation_periods": 3, "datapoints_to_alarm": 4}}),
     HOST + ".ModelLatency.datapoints_to_alarm", ["could never fire"]),
    ("bad-comparison", dict(host={"ModelLatency": {"comparison": "bigger"}}), HOST + ".ModelLatency.comparison", []),
    ("comparison-not-a-string", dict(host={"ModelLatency": {"comparison": [">"]}}),
     HOST + ".ModelLatency.comparison", []),
    ("bad-treat-missing-data", dict(host={"ModelLatency": {"treat_missing_data": "zero"}}),
     HOST + ".ModelLatency.treat_missing_data", []),
    ("bad-statistic", dict(host={"ModelLatency": {"statistic": "Median"}}), HOST + ".ModelLatency.statistic", []),
    ("bad-percentile", dict(host={"ModelLatency": {"statistic": "p101"}}), HOST + ".ModelLatency.statistic", []),
    # Raw error metrics are 1 or 0 per request: their Average is a rate from 0 to 1.
    ("raw-error-average-threshold-1-never-fires",
     dict(host={"Invocation5XXErrors": {"raw": True, "statistic": "Average", "threshold": 1}}),
     HOST + ".Invocation5XXErrors.threshold", ["never", "error rate from 0 to 1"]),
    # Error rates are percentages of requests: never above 100.
    ("error-rate-over-100-never-fires", dict(host={"Invocation5XXErrors": {"threshold": 150}}),
     HOST + ".Invocation5XXErrors.threshold", ["never", "percentage of requests"]),
    ("less-than-zero-never-fires",
     dict(host={"Invocations": {"enabled": True, "comparison": "LessThanThreshold", "threshold": 0}}),
     HOST + ".Invocations.threshold", ["never fire"]),
    ("memory-over-100", dict(host={"MemoryUtilization": {"threshold": 120}}),
     HOST + ".MemoryUtilization.threshold", ["never"]),
    ("memory-at-100-with-greater-than", dict(host={"MemoryUtilization": {"threshold": 100}}),
     HOST + ".MemoryUtilization.threshold", []),
    ("cpu-per-vcpu-over-100", dict(host={"CPUUtilization": {"threshold": 120}}),
     HOST + ".CPUUtilization.threshold", ["never"]),
    ("gpu-per-gpu-at-100", dict(host={"GPUUtilization": {"threshold": 100}}),
     HOST + ".GPUUtilization.threshold", ["never"]),
    ("cache-hit-percent-over-100",
     dict(multi_model=True, host={"ModelCacheHit": {"threshold": 101, "comparison": ">"}}),
     HOST + ".ModelCacheHit.threshold", ["never"]),
    ("raw-cache-hit-over-1",
     dict(multi_model=True, host={"ModelCacheHit": {"raw": True, "threshold": 1, "comparison": ">"}}),
     HOST + ".ModelCacheHit.threshold", ["never"]),
    ("anomaly-band-on-cpu", dict(host={"CPUUtilization": {"anomaly_band": 2}}),
     HOST + ".CPUUtilization.anomaly_band", ["ModelLatency"]),
    ("anomaly-band-zero", dict(host={"ModelLatency": {"anomaly_band": 0}}), HOST + ".ModelLatency.anomaly_band",
     ["positive"]),
    ("anomaly-band-string", dict(host={"ModelLatency": {"anomaly_band": "2"}}), HOST + ".ModelLatency.anomaly_band",
     []),
    ("min-invocations-on-latency", dict(host={"ModelLatency": {"min_invocations": 10}}),
     HOST + ".ModelLatency.min_invocations", ["error-rate"]),
    ("min-invocations-zero", dict(host={"Invocation5XXErrors": {"min_invocations": 0}}),
     HOST + ".Invocation5XXErrors.min_invocations", []),
    ("min-invocations-float", dict(host={"Invocation5XXErrors": {"min_invocations": 10.5}}),
     HOST + ".Invocation5XXErrors.min_invocations", []),
    ("bad-subscriber-protocol", dict(host_subs=[{"protocol": "sms", "endpoint": "+15550100"}]),
     HOST_SUBS + "[0].protocol", []),
    ("subscriber-protocol-not-a-string", dict(host_subs=[{"protocol": ["email"], "endpoint": "a@example.com"}]),
     HOST_SUBS + "[0].protocol", []),
    ("bad-email", dict(host_subs=[{"protocol": "email", "endpoint": "oncall.example.com"}]),
     HOST_SUBS + "[0].endpoint", []),
    ("http-url-for-https", dict(host_subs=[{"protocol": "https", "endpoint": SECRET_URL}]),
     HOST_SUBS + "[0].endpoint", ["https://"]),
    ("malformed-sqs-arn", dict(fleet_subs=[{"protocol": "sqs", "endpoint": "arn:aws:sqs:eu-west-1:1234:alarms"}]),
     FLEET_SUBS + "[0].endpoint", []),
    ("malformed-lambda-arn",
     dict(host_subs=[{"protocol": "lambda", "endpoint": "arn:aws:lambda:eu-west-1:123456789012:notify"}]),
     HOST_SUBS + "[0].endpoint", []),
    ("unknown-subscriber-key",
     dict(host_subs=[{"protocol": "email", "endpoint": "a@example.com", "raw_delivery": True}]),
     HOST_SUBS + "[0].raw_delivery", ["did you mean 'raw_message_delivery'"]),
    ("raw-message-delivery-on-email",
     dict(host_subs=[{"protocol": "email", "endpoint": "a@example.com", "raw_message_delivery": True}]),
     HOST_SUBS + "[0].raw_message_delivery", []),
    ("subscriber-not-a-mapping", dict(host_subs=["a@example.com"]), HOST_SUBS + "[0]", []),
    ("subscribers-not-a-list", dict(host_subs={"protocol": "email"}), HOST_SUBS, []),
    ("empty-variants", dict(variants=[]), "variants", []),
    ("variants-not-a-list", dict(variants="AllTraffic"), "variants", []),
    ("duplicate-variants", dict(variants=["blue", "green", "blue"]), "variants", ["more than once"]),
    ("duplicate-variants-name-and-mapping", dict(variants=["blue", {"name": "blue"}]), "variants",
     ["more than once"]),
    ("bad-variant-name", dict(variants=["blue", "green_2"]), "variants[1]", []),
    ("bad-variant-name-in-mapping", dict(variants=["blue", {"name": "green_2"}]), "variants[1].name", []),
    ("variant-mapping-without-name", dict(variants=[{"instance_type": GPU_INSTANCE}]), "variants[0].name", []),
    ("variant-neither-name-nor-mapping", dict(variants=[5]), "variants[0]", []),
    ("unknown-variant-key", dict(variants=[{"name": "blue", "instance": GPU_INSTANCE}]), "variants[0].instance",
     ["did you mean 'instance_type'"]),
    ("variant-instance-type-not-a-string", dict(variants=[{"name": "blue", "instance_type": 5}]),
     "variants[0].instance_type", []),
    ("variant-vcpus-negative", dict(variants=[{"name": "blue", "vcpus": -1}]), "variants[0].vcpus", []),
    ("variant-gpus-bool", dict(variants=[{"name": "blue", "gpus": True}]), "variants[0].gpus", []),
    ("variant-instance-count-string", dict(variants=[{"name": "blue", "instance_count": "2"}]),
     "variants[0].instance_count", []),
    ("serverless-not-a-mapping", dict(endpoint_type="serverless", variants=[{"name": "blue", "serverless": 2048}]),
     "variants[0].serverless", []),
    ("unknown-serverless-key",
     dict(endpoint_type="serverless", variants=[{"name": "blue", "serverless": {"max_concurency": 5}}]),
     "variants[0].serverless.max_concurency", ["did you mean 'max_concurrency'"]),
    ("serverless-provisioned-negative",
     dict(endpoint_type="serverless", variants=[{"name": "blue", "serverless": {"provisioned_concurrency": -1}}]),
     "variants[0].serverless.provisioned_concurrency", []),
    ("unknown-instance-type-with-cpu-on", dict(instance_type="ml.x99.huge"), "variants[0]",
     ["CPUUtilization", "instance_type", "raw: true"]),
    ("bad-endpoint-type", dict(endpoint_type="batch"), "endpoint_type", ["realtime, serverless, async"]),
    ("endpoint-type-not-a-string", dict(endpoint_type=["async"]), "endpoint_type", []),
    ("multi-model-not-a-bool", dict(multi_model="yes"), "multi_model", []),
    ("inference-components-not-a-list", dict(inference_components="ranker"), "inference_components", []),
    ("bad-inference-component-name", dict(inference_components=["ranker_1"]), "inference_components", []),
    ("duplicate-inference-components", dict(inference_components=["ranker", "ranker"]), "inference_components",
     ["more than once"]),
    ("bad-notify", dict(notify="pager"), "notify", ["alarms, composite, both"]),
    ("notify-composite-without-composite", dict(notify="composite", composite=False), "notify",
     ["composite: true"]),
    ("composite-not-a-bool", dict(composite="yes"), "composite", []),
    ("composite-over-100-alarms", dict(composite=True, variants=["v%d" % i for i in range(11)]), "composite",
     ["110", "100"]),
    ("bad-region", dict(region="Ireland"), "region", []),
    ("region-without-number", dict(region="eu-west"), "region", []),
    ("reserved-tag-key", dict(tags={"managed-by": "me"}), "tags.managed-by", []),
    ("reserved-endpoint-tag", dict(tags={"sagemaker-endpoint": "other"}), "tags.sagemaker-endpoint", []),
    ("tag-value-not-a-string", dict(tags={"cost-center": 42}), "tags.cost-center", ["quote it: '42'"]),
    ("ok-actions-not-a-bool", dict(ok_actions="yes"), "ok_actions", []),
    ("bad-stack-prefix", dict(stack_prefix="1-"), "stack_prefix", []),
    ("unknown-role-variable",
     dict(unknown_variables=["endpoint_monitoring_endpoint_metric"], variables_prefix=KNOWN_VARIABLES),
     "endpoint_monitoring_endpoint_metric", ["did you mean 'endpoint_monitoring_endpoint_metrics'"]),
    ("too-many-variants-for-500-resources", dict(variants=_too_many_variants(), composite=False), "variants",
     ["503", "500"]),
]


@pytest.mark.parametrize("kwargs, field, texts", [case[1:] for case in BAD_INPUTS],
                         ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_raises_spec_error_naming_endpoint_and_field(kwargs, field, texts):
    endpoint = kwargs.get("endpoint", ENDPOINT)
    with pytest.raises(SpecError) as info:
        spec_for(**kwargs)
    error = info.value
    message = str(error)
    assert error.endpoint == endpoint
    prefix = "endpoint %r: %s: " % (endpoint, field)
    assert any(line.startswith(prefix) for line in message.splitlines()), message
    assert any(p.startswith(field + ": ") for p in error.problems), error.problems
    for text in texts:
        assert text in message


def test_bad_input_table_is_large_and_distinct():
    assert len(BAD_INPUTS) >= 25
    assert len(set(case[0] for case in BAD_INPUTS)) == len(BAD_INPUTS)


@pytest.mark.parametrize("kwargs", [case[1] for case in BAD_INPUTS], ids=[case[0] for case in BAD_INPUTS])
def test_each_bad_input_is_reported_once_and_only_where_it_is(kwargs):
    """Each case has exactly one problem, so one mistake does not drown in follow-up noise."""
    with pytest.raises(SpecError) as info:
        spec_for(**kwargs)
    assert len(info.value.problems) == 1, info.value.problems


def test_https_url_is_not_echoed_in_the_message():
    with pytest.raises(SpecError) as info:
        spec_for(host_subs=[{"protocol": "https", "endpoint": SECRET_URL}])
    message = str(info.value)
    assert "hidden" in message
    for secret in (SECRET_URL, "T0KEN-s3cr3t", "abc123", "hooks.example.com"):
        assert secret not in message
    assert all(secret not in p for p in info.value.problems for secret in ("T0KEN-s3cr3t", "abc123"))


def test_non_string_variant_is_not_reported_as_a_duplicate():
    with pytest.raises(SpecError) as info:
        spec_for(variants=["blue", 5])
    assert [p.split(":")[0] for p in info.value.problems] == ["variants[1]"]


def test_several_problems_are_all_reported_at_once():
    with pytest.raises(SpecError) as info:
        spec_for(
            region="nowhere",
            endpoint_type="batch",
            fleet={"CPUUtilization": {"threshold": "80"}},
            host={"ModelLatency": {"period": 45}, "Invocation5XXErrors": {"threshold": 101}, "Latency": {}},
            host_subs=[{"protocol": "email", "endpoint": "nobody"}],
            tags={"managed-by": "x"},
            variants=[{"name": "blue", "serverless": {"memory": 1}}],
        )
    fields = [p.split(": ")[0] for p in info.value.problems]
    assert sorted(fields) == sorted([
        "region",
        "endpoint_type",
        FLEET + ".CPUUtilization.threshold",
        HOST + ".ModelLatency.period",
        HOST + ".Invocation5XXErrors.threshold",
        HOST + ".Latency",
        HOST_SUBS + "[0].endpoint",
        "tags.managed-by",
        "variants[0].serverless.memory",
    ])
    message = str(info.value)
    assert len(message.splitlines()) == len(fields)
    assert all(line.startswith("endpoint %r: " % ENDPOINT) for line in message.splitlines())


def test_cross_checks_use_the_field_the_value_came_from():
    # The fleet set the threshold; the host raised datapoints_to_alarm beyond the default evaluation periods.
    with pytest.raises(SpecError) as info:
        spec_for(fleet={"Invocation4XXErrors": {"threshold": 100}},
                 host={"ModelLatency": {"datapoints_to_alarm": 4}})
    fields = sorted(p.split(": ")[0] for p in info.value.problems)
    assert fields == sorted([FLEET + ".Invocation4XXErrors.threshold", HOST + ".ModelLatency.datapoints_to_alarm"])
    # The fleet made it raw with an Average; the host's threshold of 1 is what can never fire.
    with pytest.raises(SpecError) as info:
        spec_for(fleet={"Invocation5XXErrors": {"raw": True, "statistic": "Average"}},
                 host={"Invocation5XXErrors": {"threshold": 1}})
    assert [p.split(": ")[0] for p in info.value.problems] == [HOST + ".Invocation5XXErrors.threshold"]
    # The fleet asked for an anomaly band where none is offered.
    with pytest.raises(SpecError) as info:
        spec_for(fleet={"OverheadLatency": {"anomaly_band": 2}}, host={"OverheadLatency": {"threshold": 300}})
    assert [p.split(": ")[0] for p in info.value.problems] == [FLEET + ".OverheadLatency.anomaly_band"]


def test_spec_error_message_lists_one_line_per_problem():
    error = SpecError("ep", ["a: one", "b: two"])
    assert str(error) == "endpoint 'ep': a: one\nendpoint 'ep': b: two"
    assert error.endpoint == "ep"
    assert error.problems == ["a: one", "b: two"]


def test_49_variants_fit_in_one_stack():
    spec = spec_for(variants=["v%d" % i for i in range(49)], composite=False)
    assert len(spec["alarms"]) == 49 * len(DEFAULT_ENABLED)


def test_the_composite_counts_as_a_resource():
    # 50 variants x 10 alarms + 3 fixed resources: 503 without the composite, 504 with it (which also passes the
    # composite's own limits on children and rule length).
    [problem] = problems_of(variants=_too_many_variants(), composite=False)
    assert problem.startswith("variants: ") and "503" in problem
    fields = fields_of(variants=_too_many_variants(), composite=True)
    assert sorted(fields) == ["composite", "composite", "variants"]  # over 100 children, rule too long, 504 resources
    assert "504" in [p for p in problems_of(variants=_too_many_variants(), composite=True)
                     if p.startswith("variants: ")][0]


# --------------------------------------------------------------------------------------------- template size

def test_template_size_at_the_limit_passes():
    check_template_size(ENDPOINT, "x" * MAX_TEMPLATE_BODY_BYTES)


def test_template_size_past_the_limit_raises():
    assert MAX_TEMPLATE_BODY_BYTES == 51200
    with pytest.raises(SpecError) as info:
        check_template_size(ENDPOINT, "x" * (MAX_TEMPLATE_BODY_BYTES + 1))
    message = str(info.value)
    assert message.startswith("endpoint %r: template: " % ENDPOINT)
    assert "51201" in message and "51200" in message


def test_template_size_counts_bytes_not_characters():
    body = "\u00e9" * (MAX_TEMPLATE_BODY_BYTES // 2 + 1)  # 25,601 characters, 51,202 bytes in UTF-8
    with pytest.raises(SpecError):
        check_template_size(ENDPOINT, body)


def test_datapoints_follow_an_overridden_evaluation_periods_when_not_set():
    spec = build_spec("ep", "us-east-1", instance_type=CPU_INSTANCE, metric_layers=[(HOST, {
        "ModelLatency": {"evaluation_periods": 1},          # catalog: 3 of 3 -> 1 of 1
        "CPUUtilization": {"evaluation_periods": 5},        # catalog: 3 of 3 -> 5 of 5
        "Invocation5XXErrors": {"evaluation_periods": 1},   # catalog: 2 of 3 -> 1 of 1
        "Invocation4XXErrors": {"evaluation_periods": 6},   # catalog: 2 of 3 -> 2 of 6
    })])
    shape = dict((a["metric"], (a["datapoints_to_alarm"], a["evaluation_periods"])) for a in spec["alarms"])
    assert shape["ModelLatency"] == (1, 1)
    assert shape["CPUUtilization"] == (5, 5)
    assert shape["Invocation5XXErrors"] == (1, 1)
    assert shape["Invocation4XXErrors"] == (2, 6)


def test_bad_endpoint_name_is_reported_once_not_again_as_a_stack_prefix_problem():
    with pytest.raises(SpecError) as error:
        build_spec("bad_name", "us-east-1", instance_type=CPU_INSTANCE)
    assert len(error.value.problems) == 1 and error.value.problems[0].startswith("endpoint_name:")


def test_neuron_accelerators_get_no_gpu_alarms():
    from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_spec import build_spec

    for instance_type in ("ml.inf2.xlarge", "ml.trn1.2xlarge"):
        metrics = {a["metric"] for a in build_spec("ep", "us-east-1", instance_type=instance_type)["alarms"]}
        assert "CPUUtilization" in metrics
        assert not metrics & {"GPUUtilization", "GPUMemoryUtilization"}, instance_type
    metrics = {a["metric"] for a in build_spec("ep", "us-east-1", instance_type="ml.g5.xlarge")["alarms"]}
    assert {"GPUUtilization", "GPUMemoryUtilization"} <= metrics


@pytest.mark.parametrize("kwargs, field", [
    (dict(metric_layers=[("m", {"Invocations": {"anomaly_band": 2}})]), "m.Invocations.anomaly_band"),
    (dict(metric_layers=[("m", {"Invocation5XXErrors": {"statistic": "Average"}})]), "m.Invocation5XXErrors.statistic"),
    (dict(variants=[{"name": "v", "instance_type": "ml.m5.xlarge", "serverless": {"max_concurrency": 5}}]),
     "variants[0].serverless"),
])
def test_settings_that_would_be_ignored_are_refused(kwargs, field):
    from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_spec import SpecError, build_spec

    kwargs.setdefault("instance_type", "ml.m5.xlarge")
    with pytest.raises(SpecError) as error:
        build_spec("ep", "us-east-1", **kwargs)
    assert [p for p in error.value.problems if p.startswith(field + ":")], error.value.problems


def test_template_limits_cover_size_and_resource_count():
    from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_spec import check_template_limits

    small = {"Resources": dict(("R%d" % i, {"Type": "AWS::SNS::Topic"}) for i in range(500))}
    check_template_limits(ENDPOINT, small, "{}")
    big = {"Resources": dict(("R%d" % i, {"Type": "AWS::SNS::Topic"}) for i in range(501))}
    with pytest.raises(SpecError) as error:
        check_template_limits(ENDPOINT, big, "{}")
    assert error.value.problems == ["template: 501 resources; CloudFormation allows 500"]
    with pytest.raises(SpecError) as error:
        check_template_limits(ENDPOINT, small, "x" * (MAX_TEMPLATE_BODY_BYTES + 1))
    assert error.value.problems[0].startswith("template: the rendered template is")


# --------------------------------------------------------------------------------------------- deployment guardrails

def test_each_variant_lists_its_critical_fixed_threshold_alarms_for_deployment_guardrails():
    from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_spec import build_spec

    spec = build_spec("fraud", "us-east-1", variants=[{"name": "blue", "instance_type": "ml.g5.xlarge"},
                                                       {"name": "green", "instance_type": "ml.g5.xlarge"}],
                      metric_layers=[("endpoint_monitoring_metrics", {
                          "ModelLatency": {"anomaly_band": 2}, "CPUUtilization": {"severity": "critical"},
                          "Invocations": {"enabled": True}})])
    assert list(spec["guardrails"]) == ["blue", "green"]
    blue = spec["guardrails"]["blue"]
    assert blue["output"] == "GuardrailAlarmsblue"
    assert blue["alarms"] == ["sagemaker-monitoring_fraud_blue_Invocation5XXErrors",
                              "sagemaker-monitoring_fraud_blue_ModelLatency",
                              "sagemaker-monitoring_fraud_blue_CPUUtilization"]  # critical by the layer above
    # not the anomaly band, not the traffic alarm, not a warning, not another variant's
    assert not [n for n in blue["alarms"] if n.endswith("_anomaly") or "green" in n or "Invocations" in n]
    assert all(n.replace("_blue_", "_green_") in spec["guardrails"]["green"]["alarms"] for n in blue["alarms"])


def test_a_severity_that_is_not_critical_or_warning_is_refused_naming_the_field():
    from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_spec import SpecError, build_spec

    with pytest.raises(SpecError) as info:
        build_spec("fraud", "us-east-1", variants=[{"name": "AllTraffic", "instance_type": "ml.m5.xlarge"}],
                   metric_layers=[("endpoint_monitoring_metrics", {"ModelLatency": {"severity": "page"}})])
    assert "endpoint_monitoring_metrics.ModelLatency.severity: must be one of critical, warning, got str 'page'" in str(
        info.value)


def test_the_stack_outputs_and_the_prepare_result_list_the_guardrail_alarms_per_variant():
    import yaml

    from role_support import described, render_template

    prepared = described(variants=["blue", "green"])
    outputs = yaml.safe_load(render_template(prepared))["Outputs"]
    for variant in ("blue", "green"):
        names = prepared["spec"]["guardrails"][variant]["alarms"]
        assert names and outputs["GuardrailAlarms" + variant]["Value"] == ",".join(names)
