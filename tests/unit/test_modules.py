"""The thin modules monitoring_spec and sagemaker_dashboard, run in-process as Ansible runs them."""

import json

import pytest

from ansible_collections.mlops.sagemaker_monitoring.plugins.modules import monitoring_spec, sagemaker_dashboard

from module_runner import run_module  # noqa: E402

ENDPOINT = "fraud-scoring"
REGION = "eu-west-1"


# --------------------------------------------------------------------------------------------- monitoring_spec

def test_spec_module_returns_the_merged_spec(capsys):
    code, result = run_module(monitoring_spec, {
        "endpoint_name": ENDPOINT,
        "region": REGION,
        "variants": ["blue", "green"],
        "instance_type": "ml.g4dn.xlarge",
        "metric_layers": [
            {"variable": "endpoint_monitoring_metrics", "value": {"ModelLatency": {"threshold": 400}}},
            {"variable": "endpoint_monitoring_endpoint_metrics", "value": {"ModelLatency": {"period": 60}}},
        ],
        "subscriber_layers": [
            {"variable": "endpoint_monitoring_subscribers",
             "value": [{"protocol": "email", "endpoint": "oncall@example.com"}]},
        ],
        "tags": {"team": "fraud"},
    }, capsys)
    assert code == 0
    assert not result.get("failed")
    assert result["changed"] is False
    spec = result["spec"]
    assert spec["endpoint"] == ENDPOINT
    assert spec["stack_name"] == "sagemaker-monitoring-" + ENDPOINT
    latency = [a for a in spec["alarms"] if a["metric"] == "ModelLatency"]
    assert sorted(a["variant"] for a in latency) == ["blue", "green"]
    assert all((a["threshold"], a["period"]) == (400000, 60) for a in latency)  # 400 ms in microseconds
    assert spec["variant_names"] == ["blue", "green"]
    assert [(v["vcpus"], v["gpus"]) for v in spec["variants"]] == [(4, 1), (4, 1)]
    # Defaults of the new options: real-time, a composite that does not notify, every alarm notifies.
    assert spec["endpoint_type"] == "realtime"
    assert spec["composite"]["name"] == ENDPOINT + "-health"
    assert spec["composite"]["actions"] is False
    assert all(a["actions"] is True for a in spec["alarms"])
    assert spec["subscribers"] == [{"protocol": "email", "endpoint": "oncall@example.com",
                                    "raw_message_delivery": False}]
    assert spec["tags"]["team"] == "fraud"


def test_spec_module_fails_naming_endpoint_and_field(capsys):
    code, result = run_module(monitoring_spec, {
        "endpoint_name": ENDPOINT,
        "region": REGION,
        "instance_type": "ml.m5.xlarge",
        "metric_layers": [
            {"variable": "endpoint_monitoring_endpoint_metrics", "value": {"ModelLatency": {"period": 45}}},
        ],
    }, capsys)
    assert code == 1
    assert result["failed"] is True
    assert "endpoint %r: endpoint_monitoring_endpoint_metrics.ModelLatency.period: " % ENDPOINT in result["msg"]
    assert result["endpoint"] == ENDPOINT
    assert [p.split(": ")[0] for p in result["problems"]] == [
        "endpoint_monitoring_endpoint_metrics.ModelLatency.period"]
    assert "spec" not in result


def test_spec_module_reports_unknown_variables_with_a_suggestion(capsys):
    code, result = run_module(monitoring_spec, {
        "endpoint_name": ENDPOINT,
        "region": REGION,
        "unknown_variables": ["endpoint_monitoring_subscriber"],
        "known_variables": ["endpoint_monitoring_subscribers", "endpoint_monitoring_metrics"],
    }, capsys)
    assert code == 1 and result["failed"] is True
    assert "endpoint_monitoring_subscriber: unknown variable (did you mean 'endpoint_monitoring_subscribers'?)" \
        in result["msg"]


def test_spec_module_names_the_layer_variable_of_a_bad_subscriber(capsys):
    code, result = run_module(monitoring_spec, {
        "endpoint_name": ENDPOINT,
        "region": REGION,
        "subscriber_layers": [
            {"variable": "endpoint_monitoring_endpoint_subscribers",
             "value": [{"protocol": "https", "endpoint": "http://hooks.example.com/T0KEN"}]},
        ],
    }, capsys)
    assert code == 1 and result["failed"] is True
    assert "endpoint_monitoring_endpoint_subscribers[0].endpoint" in result["msg"]
    assert "T0KEN" not in result["msg"]


def test_spec_module_requires_endpoint_name(capsys):
    code, result = run_module(monitoring_spec, {"region": REGION}, capsys)
    assert code == 1 and result["failed"] is True
    assert "endpoint_name" in result["msg"]


# --------------------------------------------------------------------------------------------- sagemaker_dashboard

def _spec(capsys, **args):
    args = dict({"endpoint_name": ENDPOINT, "region": REGION, "instance_type": "ml.g4dn.xlarge"}, **args)
    code, result = run_module(monitoring_spec, args, capsys)
    assert code == 0, result.get("msg")
    return result["spec"]


def _alarms(capsys, variants=("AllTraffic",)):
    return _spec(capsys, variants=list(variants))["alarms"]


def test_dashboard_module_returns_body_and_minified_json(capsys):
    alarms = _alarms(capsys)
    code, result = run_module(sagemaker_dashboard, {
        "endpoint_name": ENDPOINT, "region": REGION, "variants": ["AllTraffic"], "alarms": alarms,
        "account_id": "123456789012", "topic_name": "sagemaker-monitoring-" + ENDPOINT,
    }, capsys)
    assert code == 0
    assert not result.get("failed")
    assert result["changed"] is False
    body = result["body"]
    assert json.loads(result["body_json"]) == body
    assert result["body_json"] == json.dumps(body, separators=(",", ":"))
    assert result["widget_count"] == len(body["widgets"])
    [alarm_widget] = [w for w in body["widgets"] if w["type"] == "alarm"]
    assert alarm_widget["properties"]["alarms"] == [
        "arn:aws:cloudwatch:%s:123456789012:alarm:%s" % (REGION, a["name"]) for a in alarms]


def test_dashboard_module_fails_on_an_alarm_missing_keys(capsys):
    code, result = run_module(sagemaker_dashboard, {
        "endpoint_name": ENDPOINT, "region": REGION,
        "alarms": [{"name": "x", "metric": "ModelLatency", "variant": "AllTraffic"}],
    }, capsys)
    assert code == 1 and result["failed"] is True
    msg = result["msg"]
    assert msg.startswith("endpoint %r: alarms[0] lacks " % ENDPOINT)
    for key in ("statistic", "period", "comparison", "threshold"):
        assert key in msg
    assert "body" not in result


def test_dashboard_module_fails_on_an_alarm_of_another_variant(capsys):
    alarms = _alarms(capsys, variants=["blue"])
    code, result = run_module(sagemaker_dashboard, {
        "endpoint_name": ENDPOINT, "region": REGION, "variants": ["green"], "alarms": alarms,
    }, capsys)
    assert code == 1 and result["failed"] is True
    assert result["msg"].startswith("endpoint %r: " % ENDPOINT)
    assert "blue" in result["msg"]


def test_dashboard_module_fails_past_the_widget_limit(capsys):
    code, result = run_module(sagemaker_dashboard, {
        "endpoint_name": ENDPOINT, "region": REGION, "variants": ["v%d" % i for i in range(90)],
    }, capsys)
    assert code == 1 and result["failed"] is True
    assert result["msg"].startswith("endpoint %r: " % ENDPOINT)
    assert "widgets" in result["msg"]


# --------------------------------------------------------------------------------------------- new options

def test_spec_module_scales_by_the_instance_type(capsys):
    spec = _spec(capsys, instance_type="ml.c5.4xlarge", metric_layers=[
        {"variable": "endpoint_monitoring_endpoint_metrics", "value": {"CPUUtilization": {"threshold": 80}}}])
    [cpu] = [a for a in spec["alarms"] if a["metric"] == "CPUUtilization"]
    assert cpu["threshold"] == 1280
    assert not [a for a in spec["alarms"] if a["metric"].startswith("GPU")]


def test_spec_module_without_instance_information_fails_naming_the_variant(capsys):
    code, result = run_module(monitoring_spec, {"endpoint_name": ENDPOINT, "region": REGION}, capsys)
    assert code == 1 and result["failed"] is True
    assert [p.split(": ")[0] for p in result["problems"]] == ["variants[0]"]
    assert "instance_type" in result["msg"] and "raw: true" in result["msg"]


def test_spec_module_takes_variant_mappings(capsys):
    spec = _spec(capsys, instance_type=None, variants=[
        {"name": "blue", "instance_type": "ml.g5.12xlarge", "instance_count": 2},
        {"name": "green", "vcpus": 8}])
    assert spec["variant_names"] == ["blue", "green"]
    gpu = dict((a["variant"], a["threshold"]) for a in spec["alarms"] if a["metric"] == "GPUUtilization")
    assert gpu == {"blue": 360}
    cpu = dict((a["variant"], a["threshold"]) for a in spec["alarms"] if a["metric"] == "CPUUtilization")
    assert cpu == {"blue": 3840, "green": 640}


def test_spec_module_serverless_with_provisioned_concurrency(capsys):
    spec = _spec(capsys, instance_type=None, endpoint_type="serverless", variants=[
        {"name": "AllTraffic", "serverless": {"memory_size_mb": 2048, "max_concurrency": 10,
                                              "provisioned_concurrency": 2}}])
    metrics = set(a["metric"] for a in spec["alarms"])
    assert spec["endpoint_type"] == "serverless"
    assert "ServerlessProvisionedConcurrencyUtilization" in metrics
    assert not metrics & {"CPUUtilization", "InvocationsPerInstance", "DiskUtilization"}


def test_spec_module_async_has_endpoint_level_metrics(capsys):
    spec = _spec(capsys, endpoint_type="async", instance_type="ml.m5.xlarge")
    assert spec["endpoint_metrics"] == ["ApproximateBacklogSize", "ApproximateAgeOfOldestRequest",
                                        "HasBacklogWithoutCapacity"]
    backlog = [a for a in spec["alarms"] if a["scope"] == "endpoint"]
    assert [a["dimensions"] for a in backlog] == [[{"Name": "EndpointName", "Value": ENDPOINT}]] * 3


def test_spec_module_multi_model_and_inference_components(capsys):
    spec = _spec(capsys, multi_model=True, inference_components=["ranker"], instance_type="ml.m5.xlarge")
    metrics = set(a["metric"] for a in spec["alarms"])
    assert {"ModelCacheHit", "ModelLoadingWaitTime", "ConcurrentRequestsPerCopy"} <= metrics
    assert spec["multi_model"] is True
    assert spec["components"] == [{"name": "ranker", "metrics": ["InvocationsPerCopy", "ConcurrentRequestsPerCopy"]}]


@pytest.mark.parametrize("notify, children, composite", [
    ("alarms", True, False), ("composite", False, True), ("both", True, True)])
def test_spec_module_notify(capsys, notify, children, composite):
    spec = _spec(capsys, notify=notify)
    assert all(a["actions"] is children for a in spec["alarms"])
    assert spec["composite"]["actions"] is composite


def test_spec_module_composite_off(capsys):
    spec = _spec(capsys, composite=False)
    assert spec["composite"] is None


@pytest.mark.parametrize("args, field", [
    ({"endpoint_type": "batch"}, "endpoint_type"),
    ({"notify": "pager"}, "notify"),
    ({"notify": "composite", "composite": False}, "notify"),
    ({"multi_model": "maybe"}, "multi_model"),
    ({"inference_components": ["ranker_1"]}, "inference_components"),
    ({"variants": [{"name": "blue", "instance": "ml.m5.xlarge"}]}, "variants[0].instance"),
], ids=["endpoint-type", "notify", "notify-without-composite", "multi-model", "component-name", "variant-key"])
def test_spec_module_fails_on_bad_new_options_naming_the_field(capsys, args, field):
    args = dict({"endpoint_name": ENDPOINT, "region": REGION, "instance_type": "ml.m5.xlarge"}, **args)
    code, result = run_module(monitoring_spec, args, capsys)
    assert code == 1 and result["failed"] is True
    assert [p.split(": ")[0] for p in result["problems"]] == [field]
    assert "endpoint %r: %s: " % (ENDPOINT, field) in result["msg"]


def _dashboard_args(spec, **extra):
    """What the role passes to sagemaker_dashboard."""
    args = {"endpoint_name": spec["endpoint"], "region": spec["region"], "variants": spec["variants"],
            "endpoint_metrics": spec["endpoint_metrics"], "components": spec["components"],
            "alarms": spec["alarms"], "topic_name": spec["topic_name"], "account_id": "123456789012"}
    if spec["composite"]:
        args["composite"] = spec["composite"]["name"]
    args.update(extra)
    return args


def _titles(body):
    return [w["properties"]["title"] for w in body["widgets"] if w["type"] == "metric"]


def test_dashboard_module_takes_a_spec_of_an_async_endpoint_with_a_composite(capsys):
    spec = _spec(capsys, endpoint_type="async", instance_type="ml.m5.xlarge", variants=["blue", "green"],
                 metric_layers=[{"variable": "endpoint_monitoring_endpoint_metrics",
                                 "value": {"ModelLatency": {"anomaly_band": 2}}}])
    code, result = run_module(sagemaker_dashboard, _dashboard_args(spec), capsys)
    assert code == 0, result.get("msg")
    body = result["body"]
    [alarm_widget] = [w for w in body["widgets"] if w["type"] == "alarm"]
    assert alarm_widget["properties"]["alarms"][0] == "arn:aws:cloudwatch:%s:123456789012:alarm:%s-health" % (
        REGION, ENDPOINT)
    assert len(alarm_widget["properties"]["alarms"]) == len(spec["alarms"]) + 1
    titles = _titles(body)
    assert titles.count("%s: Async queue" % ENDPOINT) == 1
    assert "blue: Traffic" not in titles and "blue: GPU" not in titles
    latency = [w for w in body["widgets"] if w.get("properties", {}).get("title") == "blue: Latency"][0]
    assert {"id": "b0", "label": "ModelLatency expected band", "expression": "ANOMALY_DETECTION_BAND(m0, 2)"} in [
        line[0] for line in latency["properties"]["metrics"]]


def test_dashboard_module_draws_inference_components(capsys):
    spec = _spec(capsys, inference_components=["ranker"], instance_type="ml.m5.xlarge")
    code, result = run_module(sagemaker_dashboard, _dashboard_args(spec), capsys)
    assert code == 0, result.get("msg")
    assert "ranker: Components" in _titles(result["body"])


@pytest.mark.parametrize("alarm, missing", [
    ({"kind": "metric"}, ["threshold"]),
    ({"kind": "math", "threshold": 1}, ["expression"]),
    ({"kind": "math"}, ["threshold", "expression"]),
    ({"kind": "anomaly", "threshold": None}, ["band"]),
], ids=["metric-without-threshold", "math-without-expression", "math-without-both", "anomaly-without-band"])
def test_dashboard_module_fails_on_an_alarm_missing_what_its_kind_needs(capsys, alarm, missing):
    alarm = dict({"name": "x", "metric": "ModelLatency", "variant": "AllTraffic", "statistic": "Average",
                  "period": 60, "comparison": "GreaterThanThreshold"}, **alarm)
    code, result = run_module(sagemaker_dashboard, {"endpoint_name": ENDPOINT, "region": REGION,
                                                    "alarms": [alarm]}, capsys)
    assert code == 1 and result["failed"] is True
    assert result["msg"] == "endpoint %r: alarms[0] lacks %s" % (ENDPOINT, ", ".join(missing))


def test_dashboard_module_fails_on_an_unknown_alarm_kind(capsys):
    alarm = {"name": "x", "metric": "ModelLatency", "variant": "AllTraffic", "statistic": "Average", "period": 60,
             "comparison": "GreaterThanThreshold", "threshold": 1, "kind": "composite"}
    code, result = run_module(sagemaker_dashboard, {"endpoint_name": ENDPOINT, "region": REGION,
                                                    "alarms": [alarm]}, capsys)
    assert code == 1 and result["failed"] is True
    assert result["msg"].startswith("endpoint %r: alarms[0] has kind 'composite'" % ENDPOINT)


@pytest.mark.parametrize("args, text", [
    ({"variants": [{"name": "blue"}]},
     "variants[0] must be a mapping with name and metrics (or a name); it lacks metrics"),
    ({"variants": ["blue", 5]},
     "variants[1] must be a mapping with name and metrics (or a name); it lacks name, metrics"),
    ({"components": [{"metrics": ["InvocationsPerCopy"]}]},
     "components[0] must be a mapping with name and metrics; it lacks name"),
], ids=["variant-without-metrics", "variant-neither-name-nor-mapping", "component-without-name"])
def test_dashboard_module_fails_on_a_malformed_scope(capsys, args, text):
    code, result = run_module(sagemaker_dashboard, dict({"endpoint_name": ENDPOINT, "region": REGION}, **args),
                              capsys)
    assert code == 1 and result["failed"] is True
    assert result["msg"] == "endpoint %r: %s" % (ENDPOINT, text)
