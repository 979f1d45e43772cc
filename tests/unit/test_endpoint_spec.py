"""endpoint_spec.build_spec: layering, one alarm per metric and variant, and validation messages."""

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
DEFAULT_ENABLED = [name for name, m in catalog.METRICS.items() if m.defaults["enabled"]]
SECRET_URL = "http://hooks.example.com/services/T0KEN-s3cr3t?sig=abc123"


def spec_for(fleet=None, host=None, fleet_subs=None, host_subs=None, **kwargs):
    kwargs.setdefault("endpoint", ENDPOINT)
    kwargs.setdefault("region", REGION)
    endpoint = kwargs.pop("endpoint")
    region = kwargs.pop("region")
    return build_spec(
        endpoint, region,
        metric_layers=[(FLEET, fleet), (HOST, host)],
        subscriber_layers=[(FLEET_SUBS, fleet_subs), (HOST_SUBS, host_subs)],
        **kwargs
    )


def alarms_by(spec):
    return dict(((a["variant"], a["metric"]), a) for a in spec["alarms"])


def alarm(spec, metric, variant="AllTraffic"):
    return alarms_by(spec)[(variant, metric)]


# --------------------------------------------------------------------------------------------- layering

def test_defaults_produce_one_alarm_per_enabled_metric_on_alltraffic():
    spec = spec_for()
    assert spec["variants"] == ["AllTraffic"]
    assert [a["metric"] for a in spec["alarms"]] == DEFAULT_ENABLED
    assert alarm(spec, "ModelLatency")["threshold"] == catalog.METRICS["ModelLatency"].defaults["threshold"]


def test_host_override_of_one_key_changes_only_that_key():
    base = alarms_by(spec_for())
    changed = alarms_by(spec_for(host={"ModelLatency": {"threshold": 500000}}))
    assert set(base) == set(changed)
    for key, before in base.items():
        after = changed[key]
        if key[1] != "ModelLatency":
            assert after == before
            continue
        differing = sorted(k for k in before if before[k] != after[k])
        # The description quotes the threshold, so it follows it.
        assert differing == ["description", "threshold"]
        assert after["threshold"] == 500000
        assert "500000" in after["description"]


def test_fleet_layer_applies_when_host_layer_is_silent():
    spec = spec_for(fleet={"ModelLatency": {"threshold": 400000, "period": 60}},
                    host={"CPUUtilization": {"threshold": 300}})
    latency = alarm(spec, "ModelLatency")
    assert (latency["threshold"], latency["period"]) == (400000, 60)
    assert alarm(spec, "CPUUtilization")["threshold"] == 300


def test_host_layer_beats_fleet_layer_key_by_key():
    spec = spec_for(fleet={"ModelLatency": {"threshold": 400000, "period": 60}},
                    host={"ModelLatency": {"threshold": 500000}})
    latency = alarm(spec, "ModelLatency")
    assert latency["threshold"] == 500000  # host wins
    assert latency["period"] == 60  # fleet key the host did not name survives
    assert latency["evaluation_periods"] == catalog.METRICS["ModelLatency"].defaults["evaluation_periods"]


def test_host_layer_can_reenable_what_the_fleet_disabled():
    spec = spec_for(fleet={"GPUUtilization": {"enabled": False}}, host={"GPUUtilization": {"enabled": True}})
    assert ("AllTraffic", "GPUUtilization") in alarms_by(spec)
    spec = spec_for(fleet={"GPUUtilization": {"enabled": False}})
    assert ("AllTraffic", "GPUUtilization") not in alarms_by(spec)


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
        assert a["name"] == "%s-%s-%s" % (ENDPOINT, a["variant"], a["metric"])
        assert a["dimensions"] == [
            {"Name": "EndpointName", "Value": ENDPOINT},
            {"Name": "VariantName", "Value": a["variant"]},
        ]
        assert a["namespace"] == metric.namespace
        assert a["unit"] == metric.unit
        assert metric.runbook in a["description"]


def test_alarm_names_are_unique():
    spec = spec_for(variants=["blue", "green", "AllTraffic"])
    names = [a["name"] for a in spec["alarms"]]
    assert len(names) == len(set(names))


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
    assert (inv["statistic"], inv["comparison"], inv["treat_missing_data"]) == (
        "Sum", "LessThanThreshold", "breaching")


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
    assert "ModelLatency %s of 1000" % alias in a["description"]


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
    assert not set(ids) & {"AlarmTopic", "AlarmTopicPolicy", "Dashboard"}


def test_logical_ids_of_plain_variant_names_are_stable():
    # Changing a logical id makes CloudFormation replace the alarm: keep the simple form.
    spec = spec_for(variants=["AllTraffic"])
    assert alarm(spec, "ModelLatency")["logical_id"] == "AlarmAllTrafficModelLatency"
    # A variant's ids do not depend on the other variants listed with it.
    alone = alarms_by(spec_for(variants=["blue-v1"]))
    together = alarms_by(spec_for(variants=["bluev1", "blue-v1"]))
    for key, a in alone.items():
        assert together[key]["logical_id"] == a["logical_id"]


def test_spec_names_and_tags():
    spec = spec_for(tags={"team": "fraud"}, stack_prefix="mon-")
    assert spec["stack_name"] == "mon-" + ENDPOINT
    assert spec["topic_name"] == spec["stack_name"]
    assert spec["dashboard_name"] == "mon-%s-%s" % (ENDPOINT, REGION)
    assert spec["tags"] == {"team": "fraud", "managed-by": "mlops.sagemaker_monitoring",
                            "sagemaker-endpoint": ENDPOINT}


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
    ("metrics-not-a-mapping", dict(host=["ModelLatency"]), HOST, []),
    ("settings-not-a-mapping", dict(host={"ModelLatency": 5}), HOST + ".ModelLatency", []),
    ("threshold-string", dict(host={"CPUUtilization": {"threshold": "80"}}), HOST + ".CPUUtilization.threshold",
     ["str '80'"]),
    ("threshold-bool", dict(host={"CPUUtilization": {"threshold": True}}), HOST + ".CPUUtilization.threshold", []),
    ("threshold-none", dict(host={"CPUUtilization": {"threshold": None}}), HOST + ".CPUUtilization.threshold", []),
    ("threshold-nan", dict(host={"CPUUtilization": {"threshold": float("nan")}}),
     HOST + ".CPUUtilization.threshold", []),
    ("enabled-string", dict(host={"CPUUtilization": {"enabled": "yes"}}), HOST + ".CPUUtilization.enabled", []),
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
    ("error-average-threshold-1-never-fires", dict(host={"Invocation5XXErrors": {"threshold": 1}}),
     HOST + ".Invocation5XXErrors.threshold", ["never", "error rate from 0 to 1"]),
    ("less-than-zero-never-fires",
     dict(host={"Invocations": {"enabled": True, "comparison": "LessThanThreshold", "threshold": 0}}),
     HOST + ".Invocations.threshold", ["never fire"]),
    ("memory-over-100", dict(host={"MemoryUtilization": {"threshold": 120}}),
     HOST + ".MemoryUtilization.threshold", ["never"]),
    ("memory-at-100-with-greater-than", dict(host={"MemoryUtilization": {"threshold": 100}}),
     HOST + ".MemoryUtilization.threshold", []),
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
    ("duplicate-variants", dict(variants=["blue", "green", "blue"]), "variants", ["more than once"]),
    ("bad-variant-name", dict(variants=["blue", "green_2"]), "variants[1]", []),
    ("bad-region", dict(region="Ireland"), "region", []),
    ("region-without-number", dict(region="eu-west"), "region", []),
    ("reserved-tag-key", dict(tags={"managed-by": "me"}), "tags.managed-by", []),
    ("reserved-endpoint-tag", dict(tags={"sagemaker-endpoint": "other"}), "tags.sagemaker-endpoint", []),
    ("tag-value-not-a-string", dict(tags={"cost-center": 42}), "tags", []),
    ("ok-actions-not-a-bool", dict(ok_actions="yes"), "ok_actions", []),
    ("bad-stack-prefix", dict(stack_prefix="1-"), "stack_prefix", []),
    ("unknown-role-variable",
     dict(unknown_variables=["endpoint_monitoring_endpoint_metric"], variables_prefix=KNOWN_VARIABLES),
     "endpoint_monitoring_endpoint_metric", ["did you mean 'endpoint_monitoring_endpoint_metrics'"]),
    ("too-many-variants-for-500-resources", dict(variants=_too_many_variants()), "variants", ["503", "500"]),
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
            fleet={"CPUUtilization": {"threshold": "80"}},
            host={"ModelLatency": {"period": 45}, "Invocation5XXErrors": {"threshold": 2}, "Latency": {}},
            host_subs=[{"protocol": "email", "endpoint": "nobody"}],
            tags={"managed-by": "x"},
        )
    fields = [p.split(": ")[0] for p in info.value.problems]
    assert sorted(fields) == sorted([
        "region",
        FLEET + ".CPUUtilization.threshold",
        HOST + ".ModelLatency.period",
        HOST + ".Invocation5XXErrors.threshold",
        HOST + ".Latency",
        HOST_SUBS + "[0].endpoint",
        "tags.managed-by",
    ])
    message = str(info.value)
    assert len(message.splitlines()) == len(fields)
    assert all(line.startswith("endpoint %r: " % ENDPOINT) for line in message.splitlines())


def test_cross_checks_use_the_field_the_value_came_from():
    # The fleet set the threshold; the host raised datapoints_to_alarm beyond the default evaluation periods.
    with pytest.raises(SpecError) as info:
        spec_for(fleet={"Invocation4XXErrors": {"threshold": 5}},
                 host={"ModelLatency": {"datapoints_to_alarm": 4}})
    fields = sorted(p.split(": ")[0] for p in info.value.problems)
    assert fields == sorted([FLEET + ".Invocation4XXErrors.threshold", HOST + ".ModelLatency.datapoints_to_alarm"])


def test_spec_error_message_lists_one_line_per_problem():
    error = SpecError("ep", ["a: one", "b: two"])
    assert str(error) == "endpoint 'ep': a: one\nendpoint 'ep': b: two"
    assert error.endpoint == "ep"
    assert error.problems == ["a: one", "b: two"]


def test_49_variants_fit_in_one_stack():
    spec = spec_for(variants=["v%d" % i for i in range(49)])
    assert len(spec["alarms"]) == 49 * len(DEFAULT_ENABLED)


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
    from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_spec import build_spec

    spec = build_spec("ep", "us-east-1", metric_layers=[("endpoint_monitoring_endpoint_metrics", {
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
    import pytest
    from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_spec import SpecError, build_spec

    with pytest.raises(SpecError) as error:
        build_spec("bad_name", "us-east-1")
    assert len(error.value.problems) == 1 and error.value.problems[0].startswith("endpoint_name:")
