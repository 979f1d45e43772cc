"""The thin modules monitoring_spec and sagemaker_dashboard, run in-process as Ansible runs them."""

import json

import pytest

from ansible_collections.mlops.sagemaker_monitoring.plugins.modules import monitoring_spec, sagemaker_dashboard

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core before 2.19
    import contextlib

    from ansible.module_utils import basic
    from ansible.module_utils.common.text.converters import to_bytes

    @contextlib.contextmanager
    def patch_module_args(args=None):
        saved = basic._ANSIBLE_ARGS
        basic._ANSIBLE_ARGS = to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args or {}}))
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = saved

ENDPOINT = "fraud-scoring"
REGION = "eu-west-1"


def run_module(module, args, capsys):
    """Run module.main() with args; return (exit code, result dict)."""
    with patch_module_args(args):
        with pytest.raises(SystemExit) as info:
            module.main()
    out = capsys.readouterr().out
    return info.value.code, json.loads(out)


# --------------------------------------------------------------------------------------------- monitoring_spec

def test_spec_module_returns_the_merged_spec(capsys):
    code, result = run_module(monitoring_spec, {
        "endpoint_name": ENDPOINT,
        "region": REGION,
        "variants": ["blue", "green"],
        "metric_layers": [
            {"variable": "endpoint_monitoring_metrics", "value": {"ModelLatency": {"threshold": 400000}}},
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
    assert all((a["threshold"], a["period"]) == (400000, 60) for a in latency)
    assert spec["subscribers"] == [{"protocol": "email", "endpoint": "oncall@example.com",
                                    "raw_message_delivery": False}]
    assert spec["tags"]["team"] == "fraud"


def test_spec_module_fails_naming_endpoint_and_field(capsys):
    code, result = run_module(monitoring_spec, {
        "endpoint_name": ENDPOINT,
        "region": REGION,
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

def _alarms(capsys, variants=("AllTraffic",)):
    code, result = run_module(monitoring_spec, {"endpoint_name": ENDPOINT, "region": REGION,
                                                "variants": list(variants)}, capsys)
    assert code == 0
    return result["spec"]["alarms"]


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
