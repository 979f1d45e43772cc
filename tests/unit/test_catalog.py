"""The metric catalog: the 11 metrics of the original template, where CloudWatch publishes them, sane defaults."""

import pytest

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils import catalog
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_spec import build_spec

INVOCATION_NS = "AWS/SageMaker"
INSTANCE_NS = "/aws/sagemaker/Endpoints"

# name -> (namespace, unit), as CloudWatch publishes them (see /work/shared/sagemaker-metrics.md).
EXPECTED = {
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

ERROR_METRICS = ("Invocation4XXErrors", "Invocation5XXErrors")


def test_namespace_constants():
    assert catalog.INVOCATION_NAMESPACE == INVOCATION_NS
    assert catalog.INSTANCE_NAMESPACE == INSTANCE_NS


def test_catalog_holds_exactly_the_eleven_metrics_of_the_original_template():
    assert set(catalog.METRICS) == set(EXPECTED)
    assert len(catalog.METRICS) == 11


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_metric_namespace_and_unit(name):
    metric = catalog.METRICS[name]
    assert metric.name == name
    assert (metric.namespace, metric.unit) == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_metric_has_complete_defaults_and_a_runbook(name):
    metric = catalog.METRICS[name]
    assert set(metric.defaults) == set(catalog.ALARM_KEYS)
    assert metric.widget in catalog.WIDGETS
    assert metric.runbook.strip()


def test_every_widget_group_has_metrics_and_every_metric_a_group():
    grouped = [m.name for w in catalog.WIDGETS for m in catalog.metrics_in_widget(w)]
    assert sorted(grouped) == sorted(catalog.METRICS)
    for widget in catalog.WIDGETS:
        assert catalog.metrics_in_widget(widget), widget


def test_error_metrics_are_rates_bounded_by_one():
    for name in ERROR_METRICS:
        assert catalog.METRICS[name].ceiling == 1.0


def test_bounded_percent_metrics_have_ceiling_100_and_summed_ones_none():
    assert catalog.METRICS["MemoryUtilization"].ceiling == 100.0
    assert catalog.METRICS["DiskUtilization"].ceiling == 100.0
    # Summed over vCPUs / GPUs: 0..100 x count, so no fixed ceiling.
    for name in ("CPUUtilization", "GPUUtilization", "GPUMemoryUtilization"):
        assert catalog.METRICS[name].ceiling is None


@pytest.mark.parametrize("name", ERROR_METRICS)
def test_default_error_alarm_can_fire(name):
    defaults = catalog.METRICS[name].defaults
    if defaults["statistic"] in catalog.BOUNDED_STATISTICS:
        # Each request publishes 1 or 0: an Average threshold of 1 or more is never exceeded.
        assert defaults["threshold"] < 1
        assert defaults["threshold"] > 0


def test_comparison_aliases_map_symbols_to_names():
    assert catalog.COMPARISON_ALIASES == {
        ">": "GreaterThanThreshold",
        ">=": "GreaterThanOrEqualToThreshold",
        "<": "LessThanThreshold",
        "<=": "LessThanOrEqualToThreshold",
    }


def test_every_default_passes_build_spec_validation():
    # Enable everything (Invocations is off by default) so that every default is cross-checked.
    layer = dict((name, {"enabled": True}) for name in catalog.METRICS)
    spec = build_spec("catalog-check", "eu-west-1", metric_layers=[("all_on", layer)])
    assert sorted(a["metric"] for a in spec["alarms"]) == sorted(catalog.METRICS)
    for alarm in spec["alarms"]:
        defaults = catalog.METRICS[alarm["metric"]].defaults
        for key in ("threshold", "period", "evaluation_periods", "datapoints_to_alarm", "statistic",
                    "comparison", "treat_missing_data"):
            assert alarm[key] == defaults[key], (alarm["metric"], key)


def test_default_set_without_overrides_leaves_out_only_invocations():
    spec = build_spec("catalog-check", "eu-west-1")
    enabled = [name for name, m in catalog.METRICS.items() if m.defaults["enabled"]]
    assert enabled == [a["metric"] for a in spec["alarms"]]
    assert "Invocations" not in enabled


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_default_alarm_is_not_unfireable_by_bounds(name):
    """A default must be able to reach ALARM: not above a bounded metric's ceiling, not below zero."""
    metric = catalog.METRICS[name]
    d = metric.defaults
    bounded = d["statistic"] in catalog.BOUNDED_STATISTICS or d["statistic"].startswith("p")
    if d["comparison"].startswith("Greater") and metric.ceiling is not None and bounded:
        assert d["threshold"] < metric.ceiling
    if d["comparison"] == "LessThanThreshold":
        assert d["threshold"] > 0
    assert d["datapoints_to_alarm"] <= d["evaluation_periods"]
