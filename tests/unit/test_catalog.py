"""The metric catalog: the original 11 metrics and the per-endpoint-type ones, where CloudWatch publishes them,
which endpoints publish them, how thresholds scale, and defaults that can fire."""

import pytest

from endpoint_profiles import (
    ALL_ON,
    BACKLOG,
    COMPONENT,
    COMPONENT_LEVEL,
    DEFAULT_ALARMS,
    ENDPOINT,
    ENDPOINT_LEVEL,
    PROFILES,
    PUBLISHED,
    alarm_metrics,
    profile_spec,
)

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils import catalog

INVOCATION_NS = "AWS/SageMaker"
INSTANCE_NS = "/aws/sagemaker/Endpoints"

# name -> (namespace, unit), as CloudWatch publishes them (see /work/shared/sagemaker-metrics.md).
ORIGINAL = {
    "Invocations": (INVOCATION_NS, "Count"),
    "InvocationsPerInstance": (INVOCATION_NS, "Count"),
    "Invocation4XXErrors": (INVOCATION_NS, "Count"),
    "Invocation5XXErrors": (INVOCATION_NS, "Count"),
    "ModelLatency": (INVOCATION_NS, "Microseconds"),
    "OverheadLatency": (INVOCATION_NS, "Microseconds"),
    "CPUUtilization": (INSTANCE_NS, "Percent"),
    "MemoryUtilization": (INSTANCE_NS, "Percent"),
    "DiskUtilization": (INSTANCE_NS, "Percent"),
    "GPUUtilization": (INSTANCE_NS, "Percent"),
    "GPUMemoryUtilization": (INSTANCE_NS, "Percent"),
}

ADDED = {
    "ModelSetupTime": (INVOCATION_NS, "Microseconds"),
    "ServerlessConcurrentExecutionsUtilization": (INVOCATION_NS, "None"),
    "ServerlessProvisionedConcurrencyUtilization": (INVOCATION_NS, "None"),
    "ServerlessProvisionedConcurrencySpilloverInvocations": (INVOCATION_NS, "Count"),
    "ApproximateBacklogSize": (INVOCATION_NS, "Count"),
    "ApproximateAgeOfOldestRequest": (INVOCATION_NS, "Seconds"),
    "HasBacklogWithoutCapacity": (INVOCATION_NS, "Count"),
    "InvocationFailures": (INVOCATION_NS, "Count"),
    "ExpiredRequests": (INVOCATION_NS, "Count"),
    "NotificationFailures": (INVOCATION_NS, "Count"),
    "ModelLoadingWaitTime": (INVOCATION_NS, "Microseconds"),
    "ModelCacheHit": (INVOCATION_NS, "None"),
    "LoadedModelCount": (INSTANCE_NS, "Count"),
    "InvocationsPerCopy": (INVOCATION_NS, "Count"),
    "ConcurrentRequestsPerCopy": (INVOCATION_NS, "Count"),
}

ALL_EXPECTED = dict(ORIGINAL, **ADDED)

ERROR_METRICS = ("Invocation4XXErrors", "Invocation5XXErrors")

# How a threshold in people's units becomes CloudWatch's value.
SCALES = {
    "ModelLatency": catalog.SCALE_MS,
    "OverheadLatency": catalog.SCALE_MS,
    "ModelSetupTime": catalog.SCALE_MS,
    "ModelLoadingWaitTime": catalog.SCALE_MS,
    "CPUUtilization": catalog.SCALE_PER_VCPU,
    "GPUUtilization": catalog.SCALE_PER_GPU,
    "GPUMemoryUtilization": catalog.SCALE_PER_GPU,
    "Invocation4XXErrors": catalog.SCALE_ERROR_RATE,
    "Invocation5XXErrors": catalog.SCALE_ERROR_RATE,
    "ServerlessConcurrentExecutionsUtilization": catalog.SCALE_PERCENT_OF_ONE,
    "ServerlessProvisionedConcurrencyUtilization": catalog.SCALE_PERCENT_OF_ONE,
    "ModelCacheHit": catalog.SCALE_PERCENT_OF_ONE,
}
PERCENT_SCALES = (catalog.SCALE_PER_VCPU, catalog.SCALE_PER_GPU, catalog.SCALE_PERCENT_OF_ONE,
                  catalog.SCALE_ERROR_RATE)

# Counts of the instance types in endpoint_profiles: ml.m5.xlarge 4 vCPUs, ml.g4dn.xlarge 4 vCPUs and 1 GPU.
COUNTS = {"realtime-cpu": (4, 0), "realtime-gpu": (4, 1), "async": (4, 0), "multi-model": (4, 0),
          "inference-components": (4, 0)}


def expected_cloudwatch_threshold(metric, threshold, profile):
    """CloudWatch's value for a threshold given in people's units (written out independently of the plugin)."""
    scale = SCALES.get(metric)
    if scale == catalog.SCALE_MS:
        return threshold * 1000
    if scale == catalog.SCALE_PER_VCPU:
        return threshold * COUNTS[profile][0]
    if scale == catalog.SCALE_PER_GPU:
        return threshold * COUNTS[profile][1]
    if scale == catalog.SCALE_PERCENT_OF_ONE:
        return threshold / 100.0
    return threshold  # counts, seconds, percent of 0..100, error rates in percent


def first_profile_publishing(metric):
    return sorted(p for p, published in PUBLISHED.items() if metric in published)[0]


# --------------------------------------------------------------------------------------------- the table itself

def test_namespace_constants():
    assert catalog.INVOCATION_NAMESPACE == INVOCATION_NS
    assert catalog.INSTANCE_NAMESPACE == INSTANCE_NS


def test_the_eleven_metrics_of_the_original_template_are_still_there():
    assert set(ORIGINAL) <= set(catalog.METRICS)
    # ... first, in their original order: the template and the dashboard list them in catalog order.
    assert list(catalog.METRICS)[:6] == ["Invocations", "InvocationsPerInstance", "Invocation4XXErrors",
                                         "Invocation5XXErrors", "ModelLatency", "OverheadLatency"]


def test_catalog_holds_exactly_the_expected_metrics():
    assert set(catalog.METRICS) == set(ALL_EXPECTED)
    assert len(catalog.METRICS) == len(ALL_EXPECTED) == 26


@pytest.mark.parametrize("name", sorted(ALL_EXPECTED))
def test_metric_namespace_and_unit(name):
    metric = catalog.METRICS[name]
    assert metric.name == name
    assert (metric.namespace, metric.unit) == ALL_EXPECTED[name]


@pytest.mark.parametrize("name", sorted(ALL_EXPECTED))
def test_metric_has_complete_defaults_and_a_runbook(name):
    metric = catalog.METRICS[name]
    assert set(metric.defaults) == set(catalog.ALARM_KEYS)
    assert metric.widget in catalog.WIDGETS
    assert metric.runbook.strip()
    assert callable(metric.published)
    # Defaults are in people's units: never raw, never an anomaly band unless asked for.
    assert metric.defaults["raw"] is False
    assert metric.defaults["anomaly_band"] is None


@pytest.mark.parametrize("name", sorted(ALL_EXPECTED))
def test_metric_dimensions(name):
    expected = (catalog.DIMS_ENDPOINT if name in ENDPOINT_LEVEL
                else catalog.DIMS_COMPONENT if name in COMPONENT_LEVEL else catalog.DIMS_VARIANT)
    assert catalog.METRICS[name].dims == expected


@pytest.mark.parametrize("name", sorted(ALL_EXPECTED))
def test_metric_scale(name):
    assert catalog.METRICS[name].scale == SCALES.get(name, catalog.SCALE_NONE)
    if catalog.METRICS[name].scale is not None:
        assert catalog.METRICS[name].scale in catalog.SCALE_UNITS


def test_anomaly_bands_are_offered_for_latency_and_invocations_only():
    assert set(n for n, m in catalog.METRICS.items() if m.anomaly) == {"ModelLatency", "Invocations"}


def test_every_widget_group_has_metrics_and_every_metric_a_group():
    grouped = [m.name for w in catalog.WIDGETS for m in catalog.metrics_in_widget(w)]
    assert sorted(grouped) == sorted(catalog.METRICS)
    for widget in catalog.WIDGETS:
        assert catalog.metrics_in_widget(widget), widget


def test_error_metrics_are_rates_bounded_by_one():
    for name in ERROR_METRICS:
        assert catalog.METRICS[name].ceiling == 1.0


def test_traffic_metric_is_invocations_in_the_same_namespace_as_the_errors():
    assert catalog.TRAFFIC_METRIC == "Invocations"
    for name in ERROR_METRICS:
        assert catalog.METRICS[name].namespace == catalog.METRICS["Invocations"].namespace


def test_bounded_percent_metrics_have_ceiling_100_and_summed_ones_none():
    assert catalog.METRICS["MemoryUtilization"].ceiling == 100.0
    assert catalog.METRICS["DiskUtilization"].ceiling == 100.0
    # Summed over vCPUs / GPUs: 0..100 x count, so no fixed ceiling.
    for name in ("CPUUtilization", "GPUUtilization", "GPUMemoryUtilization"):
        assert catalog.METRICS[name].ceiling is None
    # Ratios from 0 to 1.
    for name in ("ModelCacheHit", "ServerlessConcurrentExecutionsUtilization",
                 "ServerlessProvisionedConcurrencyUtilization", "HasBacklogWithoutCapacity"):
        assert catalog.METRICS[name].ceiling == 1.0


@pytest.mark.parametrize("name", ERROR_METRICS)
def test_default_error_alarm_is_a_guarded_rate_that_can_fire(name):
    defaults = catalog.METRICS[name].defaults
    # A rate in percent of requests: above 0, below 100 (a rate never exceeds 100 %).
    assert 0 < defaults["threshold"] < 100
    assert defaults["comparison"] == "GreaterThanThreshold"
    # A handful of requests must not page anyone.
    assert defaults["min_invocations"] >= 10
    assert defaults["statistic"] == "Sum"


def test_only_error_metrics_have_a_minimum_traffic_guard():
    guarded = set(n for n, m in catalog.METRICS.items() if m.defaults["min_invocations"] is not None)
    assert guarded == set(ERROR_METRICS)


def test_comparison_aliases_map_symbols_to_names():
    assert catalog.COMPARISON_ALIASES == {
        ">": "GreaterThanThreshold",
        ">=": "GreaterThanOrEqualToThreshold",
        "<": "LessThanThreshold",
        "<=": "LessThanOrEqualToThreshold",
    }


@pytest.mark.parametrize("name", sorted(ALL_EXPECTED))
def test_default_alarm_is_not_unfireable_by_bounds(name):
    """A default must be able to reach ALARM: not above the ceiling in its own units, not below zero."""
    metric = catalog.METRICS[name]
    d = metric.defaults
    bounded = d["statistic"] in catalog.BOUNDED_STATISTICS or d["statistic"].startswith("p")
    if metric.scale in PERCENT_SCALES:
        ceiling = 100.0  # people's units: percent per vCPU, per GPU, of one, of requests
        bounded = True
    else:
        ceiling = metric.ceiling
    if d["comparison"].startswith("Greater") and ceiling is not None and bounded:
        assert d["threshold"] < ceiling
    if d["comparison"].startswith("Less"):
        assert d["threshold"] > 0
    assert d["threshold"] >= 0
    assert d["datapoints_to_alarm"] <= d["evaluation_periods"]


# --------------------------------------------------------------------------------------------- who publishes what

def test_profiles_cover_every_metric():
    covered = set().union(*PUBLISHED.values())
    assert covered == set(catalog.METRICS)


@pytest.mark.parametrize("name", sorted(ALL_EXPECTED))
def test_every_default_passes_validation_where_the_metric_is_published(name):
    profile = first_profile_publishing(name)
    spec = profile_spec(profile, {name: {"enabled": True}})
    [alarm] = [a for a in spec["alarms"] if a["metric"] == name and a["kind"] != "anomaly"]
    defaults = catalog.METRICS[name].defaults
    for key in ("period", "evaluation_periods", "datapoints_to_alarm", "comparison", "treat_missing_data"):
        assert alarm[key] == defaults[key], (name, key)
    if name in ERROR_METRICS:
        assert alarm["kind"] == "math"
        assert alarm["statistic"] == "Sum"
    else:
        assert alarm["kind"] == "metric"
        assert alarm["statistic"] == defaults["statistic"]
    assert alarm["threshold"] == pytest.approx(expected_cloudwatch_threshold(name, defaults["threshold"], profile))


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_published_metrics_of_each_endpoint_type(profile):
    """catalog.published_metrics, asked directly, agrees with the hand-written table."""
    spec = profile_spec(profile)
    endpoint = {"type": spec["endpoint_type"], "multi_model": spec["multi_model"],
                "inference_components": [c["name"] for c in spec["components"]]}
    names = set(m.name for v in spec["variants"] for m in catalog.published_metrics(endpoint, v))
    assert names == PUBLISHED[profile]


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_alarm_set_of_each_endpoint_type_with_everything_enabled(profile):
    spec = profile_spec(profile, ALL_ON)
    assert alarm_metrics(spec) == PUBLISHED[profile]
    # One alarm per metric: a single variant, a single component.
    assert len([a for a in spec["alarms"] if a["kind"] != "anomaly"]) == len(PUBLISHED[profile])


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_alarm_set_of_each_endpoint_type_by_default(profile):
    spec = profile_spec(profile)
    assert alarm_metrics(spec) == DEFAULT_ALARMS[profile]
    assert len(spec["alarms"]) == len(DEFAULT_ALARMS[profile])


@pytest.mark.parametrize("profile, metric", sorted(
    (p, m) for p in PROFILES for m in catalog.METRICS if m not in PUBLISHED[p]))
def test_no_alarm_for_a_metric_the_endpoint_does_not_publish_even_when_enabled(profile, metric):
    spec = profile_spec(profile, {metric: {"enabled": True}})
    assert metric not in set(a["metric"] for a in spec["alarms"])
    assert all(metric not in v["metrics"] for v in spec["variants"])
    assert metric not in spec["endpoint_metrics"]
    assert all(metric not in c["metrics"] for c in spec["components"])


def test_gpu_alarms_are_absent_on_cpu_instances_and_present_on_gpu_instances():
    gpu = {"GPUUtilization", "GPUMemoryUtilization"}
    for profile in ("realtime-cpu", "async", "multi-model", "inference-components", "serverless",
                    "serverless-provisioned"):
        assert not alarm_metrics(profile_spec(profile, ALL_ON)) & gpu, profile
    assert gpu <= alarm_metrics(profile_spec("realtime-gpu", ALL_ON))


def test_invocations_per_instance_is_absent_on_serverless_and_async():
    for profile in ("serverless", "serverless-provisioned", "async"):
        assert "InvocationsPerInstance" not in alarm_metrics(profile_spec(profile, ALL_ON)), profile
    for profile in ("realtime-cpu", "realtime-gpu", "multi-model", "inference-components"):
        assert "InvocationsPerInstance" in alarm_metrics(profile_spec(profile, ALL_ON)), profile


def test_overhead_latency_and_invocations_are_absent_on_async():
    metrics = alarm_metrics(profile_spec("async", ALL_ON))
    assert "OverheadLatency" not in metrics
    assert "Invocations" not in metrics
    # Without Invocations there is no rate to compute: no error-rate alarm either.
    assert not metrics & set(ERROR_METRICS)
    assert "ModelLatency" in metrics


def test_no_cpu_or_disk_alarms_on_serverless():
    for profile in ("serverless", "serverless-provisioned"):
        metrics = alarm_metrics(profile_spec(profile, ALL_ON))
        assert not metrics & {"CPUUtilization", "DiskUtilization"}, profile
        assert "MemoryUtilization" in metrics


def test_provisioned_concurrency_alarms_only_with_provisioned_concurrency():
    provisioned = {"ServerlessProvisionedConcurrencyUtilization",
                   "ServerlessProvisionedConcurrencySpilloverInvocations"}
    assert not alarm_metrics(profile_spec("serverless", ALL_ON)) & provisioned
    assert provisioned <= alarm_metrics(profile_spec("serverless-provisioned", ALL_ON))
    zero = profile_spec("serverless", ALL_ON, variants=[{"name": "AllTraffic", "serverless": {
        "provisioned_concurrency": 0}}])
    assert not alarm_metrics(zero) & provisioned


def test_backlog_alarms_only_on_async_with_the_endpoint_name_dimension_only():
    for profile in PROFILES:
        spec = profile_spec(profile, ALL_ON)
        backlog = [a for a in spec["alarms"] if a["metric"] in BACKLOG]
        if profile != "async":
            assert backlog == [], profile
            assert spec["endpoint_metrics"] == [], profile
            continue
        assert sorted(a["metric"] for a in backlog) == sorted(BACKLOG)
        for a in backlog:
            assert a["dimensions"] == [{"Name": "EndpointName", "Value": ENDPOINT}]
            assert a["scope"] == "endpoint"
            assert a["variant"] is None
        assert spec["endpoint_metrics"] == ["ApproximateBacklogSize", "ApproximateAgeOfOldestRequest",
                                            "HasBacklogWithoutCapacity"]


def test_async_failure_metrics_carry_endpoint_and_variant():
    spec = profile_spec("async", ALL_ON)
    for a in spec["alarms"]:
        if a["metric"] in ("InvocationFailures", "ExpiredRequests", "NotificationFailures"):
            assert a["dimensions"] == [{"Name": "EndpointName", "Value": ENDPOINT},
                                       {"Name": "VariantName", "Value": "AllTraffic"}]


def test_component_alarms_carry_the_inference_component_name_only():
    spec = profile_spec("inference-components", ALL_ON)
    component = [a for a in spec["alarms"] if a["metric"] in COMPONENT_LEVEL]
    assert sorted(a["metric"] for a in component) == sorted(COMPONENT_LEVEL)
    for a in component:
        assert a["dimensions"] == [{"Name": "InferenceComponentName", "Value": COMPONENT}]
        assert (a["scope"], a["component"], a["variant"]) == ("component", COMPONENT, None)
