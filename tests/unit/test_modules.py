"""The role's per-endpoint modules, run in-process as Ansible runs them: sagemaker_dashboard (no AWS), and against a
moto server on 127.0.0.1 monitoring_stack_diff, sns_subscriptions, fleet_dashboards and monitoring_prune."""

import json

import pytest

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.plan import outputs_of
from ansible_collections.mlops.sagemaker_monitoring.plugins.modules import (
    fleet_dashboards,
    monitoring_prune,
    monitoring_stack_diff,
    sagemaker_dashboard,
    sns_subscriptions,
)

from module_runner import run_aws_module, run_module
from moto_support import instance_variant
from role_support import described, render_template

ENDPOINT = "fraud-scoring"
REGION = "eu-west-1"
OURS = {"managed-by": "mlops.sagemaker_monitoring"}


# --------------------------------------------------------------------------------------------- sagemaker_dashboard

def _spec(**values):
    return described(ENDPOINT, REGION, **values)["spec"]


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


def test_dashboard_module_returns_body_and_minified_json(capsys):
    spec = _spec(composite=False)
    code, result = run_module(sagemaker_dashboard, _dashboard_args(spec), capsys)
    assert code == 0 and not result.get("failed")
    assert result["changed"] is False
    body = result["body"]
    assert json.loads(result["body_json"]) == body
    assert result["body_json"] == json.dumps(body, separators=(",", ":"))
    assert result["widget_count"] == len(body["widgets"])
    [alarm_widget] = [w for w in body["widgets"] if w["type"] == "alarm"]
    assert alarm_widget["properties"]["alarms"] == [
        "arn:aws:cloudwatch:%s:123456789012:alarm:%s" % (REGION, a["name"]) for a in spec["alarms"]]


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
    alarms = _spec(variants=["blue"])["alarms"]
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


def test_dashboard_module_takes_a_spec_of_an_async_endpoint_with_a_composite(capsys):
    spec = _spec(endpoint_type="async", variants=["blue", "green"],
                 endpoint_metrics={"ModelLatency": {"anomaly_band": 2}})
    code, result = run_module(sagemaker_dashboard, _dashboard_args(spec), capsys)
    assert code == 0, result.get("msg")
    body = result["body"]
    [alarm_widget] = [w for w in body["widgets"] if w["type"] == "alarm"]
    assert alarm_widget["properties"]["alarms"][0] == "arn:aws:cloudwatch:%s:123456789012:alarm:sagemaker-monitoring_%s_health" % (
        REGION, ENDPOINT)
    assert len(alarm_widget["properties"]["alarms"]) == len(spec["alarms"]) + 1
    titles = _titles(body)
    assert titles.count("%s: Async queue" % ENDPOINT) == 1
    assert "blue: Traffic" not in titles and "blue: GPU" not in titles
    latency = [w for w in body["widgets"] if w.get("properties", {}).get("title") == "blue: Latency"][0]
    assert {"id": "b0", "label": "ModelLatency expected band", "expression": "ANOMALY_DETECTION_BAND(m0, 2)"} in [
        line[0] for line in latency["properties"]["metrics"]]


def test_dashboard_module_draws_inference_components(capsys):
    code, result = run_module(sagemaker_dashboard, _dashboard_args(_spec(inference_components=["ranker"])), capsys)
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


# --------------------------------------------------------------------------------------------- monitoring_stack_diff

def stack_diff(capsys, moto, prepared=None, state="present", check_mode=True, **args):
    """What the role's diff task passes (for the endpoint churn)."""
    base = {"endpoint_name": "churn", "stack_name": "sagemaker-monitoring-churn", "state": state}
    if prepared is not None:
        base.update(template_body=render_template(prepared), tags=prepared["spec"]["tags"],
                    termination_protection=prepared["plan_entry"]["termination_protection"])
    return run_aws_module(monitoring_stack_diff, dict(base, **args), capsys, moto, check_mode=check_mode)


def test_stack_diff_of_a_new_stack_lists_everything_it_creates(moto, capsys):
    prepared = described()
    code, result = stack_diff(capsys, moto, prepared)
    assert code == 0 and result["changed"] is True
    assert result["action"] == "create" and result["stack_status"] == ""
    assert result["changes"][0] == "+ stack sagemaker-monitoring-churn"
    assert "+ alarm sagemaker-monitoring_churn_AllTraffic_CPUUtilization" in result["changes"]
    assert "+ topic sagemaker-monitoring_churn" in result["changes"]
    assert result["diff"]["prepared"].startswith("sagemaker-monitoring-churn (create):\n+ stack ")


def test_stack_diff_of_the_applied_template_is_no_change(moto, capsys):
    prepared = described()
    moto.monitoring_stack(prepared)
    code, result = stack_diff(capsys, moto, prepared)
    assert (code, result["changed"], result["action"], result["changes"]) == (0, False, "none", [])
    assert result["stack_status"] == "CREATE_COMPLETE" and "diff" not in result


def test_stack_diff_says_each_change_in_words(moto, capsys):
    moto.monitoring_stack(described())
    stricter = described(endpoint_metrics={"CPUUtilization": {"threshold": 50}}, tags={"team": "fraud"},
                         termination_protection=True)
    _code, result = stack_diff(capsys, moto, stricter)
    assert result["action"] == "update"
    assert result["changes"][0].startswith("~ alarm sagemaker-monitoring_churn_AllTraffic_CPUUtilization: ")
    assert result["changes"][0].endswith("Threshold 320 -> 200")
    assert result["changes"][-2:] == ["+ stack tag team=fraud", "~ termination protection off -> on"]


def test_stack_diff_of_settings_outside_the_template_records_the_fingerprint_again(moto, capsys):
    moto.monitoring_stack(described())
    _code, result = stack_diff(capsys, moto, described(role_arn="arn:aws:iam::123456789012:role/cfn"))
    assert result["action"] == "update"
    assert result["changes"] == ["~ output MonitoringFingerprint: what is applied is recorded again (settings outside "
                                 "the template, such as the stack policy or a subscriber's raw delivery, changed)"]


def test_stack_diff_of_a_removal_lists_what_goes(moto, capsys):
    moto.monitoring_stack(described())
    _code, result = stack_diff(capsys, moto, state="absent")
    assert result["action"] == "delete"
    [line] = result["changes"]
    assert line.startswith("- stack sagemaker-monitoring-churn and everything in it: topic sagemaker-monitoring_churn")
    assert "alarm sagemaker-monitoring_churn_AllTraffic_CPUUtilization" in line
    moto.client("cloudformation").delete_stack(StackName="sagemaker-monitoring-churn")
    _code, gone = stack_diff(capsys, moto, state="absent")
    assert (gone["changed"], gone["action"], gone["changes"]) == (False, "none", [])


def test_stack_diff_refuses_a_stack_that_is_not_ours(moto, capsys):
    moto.small_stack("sagemaker-monitoring-churn", {"owner": "data-platform"})
    code, result = stack_diff(capsys, moto, described())
    assert code == 1
    assert result["msg"].startswith("endpoint 'churn': stack sagemaker-monitoring-churn exists but is not tagged "
                                    "managed-by=mlops.sagemaker_monitoring")


def test_stack_diff_refuses_a_template_that_does_not_parse_before_any_aws_call(moto, capsys):
    code, result = stack_diff(capsys, moto, template_body="Resources: [unclosed", endpoint_url="http://127.0.0.1:9")
    assert code == 1
    assert result["msg"].startswith("endpoint 'churn': the template is neither JSON nor YAML: ")


# --------------------------------------------------------------------------------------------- sns_subscriptions

def subscriptions(capsys, moto, topic, subscribers, check_mode=False, **args):
    return run_aws_module(sns_subscriptions, dict({"topic_arn": topic, "subscribers": subscribers}, **args), capsys,
                          moto, check_mode=check_mode)


def topic_of(moto, name="sagemaker-monitoring-churn"):
    return outputs_of(moto.small_stack(name, OURS))["TopicArn"]


def listed(moto, topic):
    return sorted((s["Protocol"], s["Endpoint"]) for s in
                  moto.client("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"])


def test_sns_subscriptions_subscribes_the_missing_and_purges_the_unlisted(moto, capsys):
    topic = topic_of(moto)
    moto.subscribe(topic, "email", "old@example.com")
    wanted = [{"protocol": "email", "endpoint": "oncall@example.com"}]
    code, result = subscriptions(capsys, moto, topic, wanted, check_mode=True, purge=True)
    assert code == 0 and result["changed"] is True
    assert result["changes"] == ["+ subscription email oncall@example.com", "- subscription email old@example.com"]
    assert listed(moto, topic) == [("email", "old@example.com")]  # check mode writes nothing
    _code, result = subscriptions(capsys, moto, topic, wanted, purge=True)
    assert result["subscribed"] == [{"protocol": "email", "endpoint": "oncall@example.com"}]
    assert listed(moto, topic) == [("email", "oncall@example.com")]
    _code, again = subscriptions(capsys, moto, topic, wanted, purge=True)
    assert again["changed"] is False and again["changes"] == []


def test_sns_subscriptions_never_prints_a_webhook_url(moto, capsys):
    topic = topic_of(moto)
    secret = "https://hooks.example.com/services/T1/B1/t0ken-s3cret"
    code, result = subscriptions(capsys, moto, topic, [{"protocol": "https", "endpoint": secret}])
    assert code == 0 and result["changed"] is True
    assert listed(moto, topic) == [("https", secret)]  # subscribed with the real URL
    assert "t0ken-s3cret" not in json.dumps(result)
    assert result["subscribed"] == [{"protocol": "https", "endpoint": "https://hooks.example.com/..."}]


def test_sns_subscriptions_switches_raw_delivery_of_a_kept_subscription(moto, capsys):
    topic = topic_of(moto)
    queue = "arn:aws:sqs:us-east-1:123456789012:alarms"
    moto.subscribe(topic, "sqs", queue)
    _code, result = subscriptions(capsys, moto, topic, [{"protocol": "sqs", "endpoint": queue,
                                                         "raw_message_delivery": True}])
    assert result["changes"] == ["~ subscription sqs %s: RawMessageDelivery -> true" % queue]
    [sub] = moto.client("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    attributes = moto.client("sns").get_subscription_attributes(SubscriptionArn=sub["SubscriptionArn"])["Attributes"]
    assert attributes["RawMessageDelivery"] == "true"


def test_sns_subscriptions_without_a_topic_fails_outside_check_mode(moto, capsys):
    code, result = subscriptions(capsys, moto, "", [{"protocol": "email", "endpoint": "a@example.com"}])
    assert code == 1 and result["msg"] == "topic_arn is empty"
    # in check mode a stack to create has no topic yet: every subscriber would be added
    code, result = subscriptions(capsys, moto, "", [{"protocol": "email", "endpoint": "a@example.com"}],
                                 check_mode=True)
    assert code == 0 and result["changes"] == ["+ subscription email a@example.com"]


# --------------------------------------------------------------------------------------------- fleet_dashboards

BOARD = "sagemaker-monitoring-fleet-us-east-1"


def fleet_entry(endpoint, state="present"):
    """An endpoint of the run as the role passes it (monitoring_results' fleet_endpoints)."""
    entry = described(endpoint, dashboard="fleet")["fleet_entry"] if state == "present" else None
    return {"endpoint": endpoint, "state": state, "fleet_entry": entry}


def boards(capsys, moto, endpoints, check_mode=False):
    return run_aws_module(fleet_dashboards, {"name": BOARD, "endpoints": endpoints}, capsys, moto,
                          check_mode=check_mode)


def board_endpoints(moto):
    from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.dashboard import sections_of

    cloudwatch = moto.client("cloudwatch")
    names = [d["DashboardName"] for d in cloudwatch.list_dashboards(DashboardNamePrefix=BOARD)["DashboardEntries"]]
    return dict((n, [e for e, _w in sections_of(json.loads(cloudwatch.get_dashboard(DashboardName=n)[
        "DashboardBody"]))]) for n in names)


def test_fleet_dashboard_is_created_then_left_alone_and_removed_with_its_last_endpoint(moto, capsys):
    code, result = boards(capsys, moto, [fleet_entry("a"), fleet_entry("b")], check_mode=True)
    assert code == 0 and result["changes"][0].startswith("+ fleet dashboard %s: 2 endpoints, " % BOARD)
    assert board_endpoints(moto) == {}  # check mode writes nothing
    _code, result = boards(capsys, moto, [fleet_entry("a"), fleet_entry("b")])
    assert result["changed"] is True and board_endpoints(moto) == {BOARD: ["a", "b"]}
    assert [p["endpoints"] for p in result["pages"]] == [["a", "b"]]
    _code, again = boards(capsys, moto, [fleet_entry("a"), fleet_entry("b")])
    assert again["changed"] is False and again["changes"] == []
    _code, gone = boards(capsys, moto, [fleet_entry("a", "absent"), fleet_entry("b", "absent")])
    assert gone["changes"] == ["- fleet dashboard %s (no endpoint left on it)" % BOARD]
    assert board_endpoints(moto) == {}


def test_a_partial_run_keeps_the_endpoints_whose_stacks_exist(moto, capsys):
    boards(capsys, moto, [fleet_entry("a"), fleet_entry("b"), fleet_entry("c")])
    moto.small_stack("sagemaker-monitoring-b", dict(OURS, **{"sagemaker-endpoint": "b"}))
    # c's stack is gone (torn down elsewhere): its section is stale; b is still monitored: kept
    _code, result = boards(capsys, moto, [fleet_entry("a")])
    assert result["changed"] is True and board_endpoints(moto) == {BOARD: ["a", "b"]}


def test_an_endpoint_that_left_fleet_mode_leaves_the_dashboard(moto, capsys):
    boards(capsys, moto, [fleet_entry("a"), fleet_entry("b")])
    moto.small_stack("sagemaker-monitoring-b", dict(OURS, **{"sagemaker-endpoint": "b"}))
    _code, result = boards(capsys, moto, [fleet_entry("a"), {"endpoint": "b", "state": "present",
                                                             "fleet_entry": None}])
    assert board_endpoints(moto) == {BOARD: ["a"]}
    assert result["changes"][0].endswith("(- b)")


def test_someone_elses_dashboard_with_the_fleet_name_is_not_overwritten(moto, capsys):
    body = json.dumps({"widgets": [{"type": "text", "properties": {"markdown": "# Team board"}}]})
    moto.client("cloudwatch").put_dashboard(DashboardName=BOARD, DashboardBody=body)
    code, result = boards(capsys, moto, [fleet_entry("a")])
    # Said, not failed: the task runs once for the play, and a failure there would fail every endpoint.
    assert code == 0 and result["changed"] is False and "is not this collection's" in result["error"]
    assert any("is not this collection's" in w for w in result["warnings"])
    assert moto.client("cloudwatch").get_dashboard(DashboardName=BOARD)["DashboardBody"] == body


def test_no_fleet_dashboard_and_none_wanted_is_no_change(moto, capsys):
    _code, result = boards(capsys, moto, [{"endpoint": "a", "state": "present", "fleet_entry": None}])
    assert (result["changed"], result["pages"], result["changes"]) == (False, [], [])


# --------------------------------------------------------------------------------------------- monitoring_prune

def test_prune_returns_the_stacks_of_deleted_endpoints_and_refuses_protected_ones(moto, capsys):
    moto.model("model")
    moto.endpoint("alive", [instance_variant("AllTraffic", "model", "ml.m5.large")])
    for endpoint, protected in (("alive", False), ("gone", False), ("kept", False), ("locked", True)):
        moto.small_stack("sagemaker-monitoring-" + endpoint, dict(OURS, **{"sagemaker-endpoint": endpoint}),
                         protected=protected)
    moto.small_stack("sagemaker-monitoring-theirs", {"sagemaker-endpoint": "theirs"})
    code, result = run_aws_module(monitoring_prune, {"keep": ["kept"]}, capsys, moto, check_mode=True)
    assert code == 0 and result["changed"] is False
    assert result["prune"] == [{"stack_name": "sagemaker-monitoring-gone", "endpoint": "gone",
                                "status": "CREATE_COMPLETE", "region": "us-east-1"}]
    [refused] = result["refused"]
    assert (refused["endpoint"], refused["region"]) == ("locked", "us-east-1")
    assert refused["reason"] == "stack sagemaker-monitoring-locked has termination protection on"
    assert [w for w in result["warnings"] if w.startswith("monitoring of deleted endpoint 'locked' left alone: ")]
    assert len(moto.client("cloudformation").describe_stacks()["Stacks"]) == 5  # read-only
