"""stack_plan: readable template diffs and the action a run takes on one stack."""

import copy
import json

import pytest

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.dashboard import build_dashboard, minify
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.stack_plan import (
    PlanError,
    diff_tags,
    diff_templates,
    parse_template,
    plan_prune,
    plan_stack,
)

from role_support import described, render_template

STACK = "sagemaker-monitoring-fraud-scoring"
ENDPOINT = "fraud-scoring"
REGION = "eu-west-1"
TAGS = {"managed-by": "mlops.sagemaker_monitoring", "sagemaker-endpoint": ENDPOINT}
# What the stack holds is named sagemaker-monitoring_<endpoint>_...
TOPIC = "sagemaker-monitoring_fraud-scoring"
BOARD = "sagemaker-monitoring_fraud-scoring_eu-west-1"
CPU_ALARM = "sagemaker-monitoring_fraud-scoring_AllTraffic_CPUUtilization"
BLUE_CPU_ALARM = "sagemaker-monitoring_fraud-scoring_blue_CPUUtilization"


def alarm_resource(name, threshold=80, metric="CPUUtilization"):
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmName": name,
            "MetricName": metric,
            "Namespace": "/aws/sagemaker/Endpoints",
            "Statistic": "Average",
            "Period": 300,
            "EvaluationPeriods": 3,
            "Threshold": threshold,
            "ComparisonOperator": "GreaterThanThreshold",
            "AlarmActions": [{"Ref": "AlarmTopic"}],
        },
    }


def dashboard_body(variants=("AllTraffic",), latency_threshold=1000000):
    alarms = [dict(name="sagemaker-monitoring_%s_%s_ModelLatency" % (ENDPOINT, v), metric="ModelLatency", variant=v,
                   statistic="Average", period=300, comparison="GreaterThanThreshold", threshold=latency_threshold)
              for v in variants]
    return minify(build_dashboard(ENDPOINT, REGION, list(variants), alarms))


def template(cpu_threshold=80, extra_alarms=(), body=None, sub=True, outputs=None):
    resources = {
        "AlarmTopic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": TOPIC}},
        "AlarmTopicPolicy": {"Type": "AWS::SNS::TopicPolicy",
                             "Properties": {"Topics": [{"Ref": "AlarmTopic"}], "PolicyDocument": {}}},
        "AlarmAllTrafficCPUUtilization": alarm_resource(CPU_ALARM, cpu_threshold),
    }
    for name in extra_alarms:
        resources["Alarm" + name.replace("-", "").replace("_", "")] = alarm_resource(name)
    body = dashboard_body() if body is None else body
    resources["Dashboard"] = {
        "Type": "AWS::CloudWatch::Dashboard",
        "Properties": {"DashboardName": BOARD,
                       "DashboardBody": {"Fn::Sub": body} if sub else body},
    }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "monitoring of %s" % ENDPOINT,
        "Resources": resources,
        "Outputs": outputs if outputs is not None else {"TopicArn": {"Value": {"Ref": "AlarmTopic"}}},
    }


def stack(status="UPDATE_COMPLETE", tags=None):
    tags = TAGS if tags is None else tags
    return {"StackName": STACK, "StackStatus": status, "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}


# --------------------------------------------------------------------------------------------- diff_templates

def test_identical_templates_have_no_diff():
    assert diff_templates(template(), template()) == []


def test_added_alarm_is_reported_by_name():
    lines = diff_templates(template(), template(extra_alarms=[BLUE_CPU_ALARM]))
    assert lines == ["+ alarm " + BLUE_CPU_ALARM]


def test_removed_alarm_is_reported_by_name():
    lines = diff_templates(template(extra_alarms=[BLUE_CPU_ALARM]), template())
    assert lines == ["- alarm " + BLUE_CPU_ALARM]


def test_changed_threshold_is_reported_old_to_new():
    lines = diff_templates(template(cpu_threshold=80), template(cpu_threshold=90))
    assert lines == ["~ alarm %s: Threshold 80 -> 90" % CPU_ALARM]


def test_several_property_changes_on_one_alarm_are_one_line():
    desired = template()
    props = desired["Resources"]["AlarmAllTrafficCPUUtilization"]["Properties"]
    props["Threshold"] = 95
    props["Period"] = 60
    props["OKActions"] = [{"Ref": "AlarmTopic"}]
    [line] = diff_templates(template(), desired)
    assert line.startswith("~ alarm %s: " % CPU_ALARM)
    assert "Threshold 80 -> 95" in line
    assert "Period 300 -> 60" in line
    assert "OKActions set to" in line


def test_removed_property_is_reported():
    desired = template()
    del desired["Resources"]["AlarmAllTrafficCPUUtilization"]["Properties"]["AlarmActions"]
    [line] = diff_templates(template(), desired)
    assert "AlarmActions" in line and "removed" in line


def test_dashboard_change_names_the_widget():
    lines = diff_templates(template(body=dashboard_body(latency_threshold=1000000)),
                           template(body=dashboard_body(latency_threshold=500000)))
    assert lines == ["~ dashboard %s: DashboardBody: widget 'AllTraffic: Latency' changed" % BOARD]


def test_dashboard_added_and_removed_widgets_are_named():
    before = template(body=dashboard_body(variants=["AllTraffic"]))
    after = template(body=dashboard_body(variants=["AllTraffic", "green"]))
    [line] = diff_templates(before, after)
    assert "widget 'green: Latency' added" in line
    assert "widget 'green: Traffic' added" in line
    [line] = diff_templates(after, before)
    assert "widget 'green: Latency' removed" in line


def test_dashboard_body_without_fn_sub_is_diffed_by_widget_too():
    lines = diff_templates(template(body=dashboard_body(latency_threshold=1), sub=False),
                           template(body=dashboard_body(latency_threshold=2), sub=False))
    assert lines == ["~ dashboard %s: DashboardBody: widget 'AllTraffic: Latency' changed" % BOARD]


def test_template_sections_outside_resources_are_reported():
    lines = diff_templates(template(), template(outputs={}))
    assert lines == ["~ template outputs"]


def test_diff_from_nothing_lists_every_resource_as_added():
    lines = diff_templates(None, template())
    assert sorted(lines) == sorted([
        "+ topic %s" % TOPIC,
        "+ topic policy AlarmTopicPolicy",
        "+ alarm %s" % CPU_ALARM,
        "+ dashboard %s" % BOARD,
    ])


def test_diff_tags():
    assert diff_tags({"a": "1", "b": "2"}, {"b": "3", "c": "4"}) == [
        "- stack tag a=1", "~ stack tag b: 2 -> 3", "+ stack tag c=4"]
    assert diff_tags(TAGS, dict(TAGS)) == []


# --------------------------------------------------------------------------------------------- plan_stack

def test_missing_stack_is_created():
    plan = plan_stack(STACK, None, None, template(), TAGS)
    assert plan["action"] == "create"
    assert plan["changes"][0] == "+ stack %s" % STACK
    assert "+ alarm %s" % CPU_ALARM in plan["changes"]


def test_identical_template_and_tags_need_nothing():
    plan = plan_stack(STACK, stack(), template(), template(), TAGS)
    assert plan == {"action": "none", "changes": []}


def test_template_change_is_an_update():
    plan = plan_stack(STACK, stack(), template(cpu_threshold=80), template(cpu_threshold=90), TAGS)
    assert plan["action"] == "update"
    assert plan["changes"] == ["~ alarm %s: Threshold 80 -> 90" % CPU_ALARM]


def test_tag_change_alone_is_an_update():
    desired_tags = dict(TAGS, team="fraud")
    plan = plan_stack(STACK, stack(), template(), template(), desired_tags)
    assert plan == {"action": "update", "changes": ["+ stack tag team=fraud"]}


@pytest.mark.parametrize("status", ["CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"])
def test_settled_states_can_be_updated(status):
    plan = plan_stack(STACK, stack(status), template(cpu_threshold=80), template(cpu_threshold=70), TAGS)
    assert plan["action"] == "update"


@pytest.mark.parametrize("status", ["ROLLBACK_COMPLETE", "ROLLBACK_FAILED"])
def test_stack_whose_creation_failed_is_recreated(status):
    plan = plan_stack(STACK, stack(status), None, template(), TAGS)
    assert plan["action"] == "recreate"
    assert status in plan["changes"][0]
    assert "+ alarm %s" % CPU_ALARM in plan["changes"]


@pytest.mark.parametrize("state", ["present", "absent"])
@pytest.mark.parametrize("tags", [{}, {"managed-by": "someone-else"}, {"sagemaker-endpoint": ENDPOINT}],
                         ids=["no-tags", "other-manager", "endpoint-tag-only"])
def test_stack_not_made_by_the_collection_is_never_touched(state, tags):
    with pytest.raises(PlanError) as info:
        plan_stack(STACK, stack("UPDATE_COMPLETE", tags=tags), template(), template(), TAGS, state=state)
    message = str(info.value)
    assert STACK in message
    assert "managed-by" in message


def test_stack_without_tags_key_is_not_ours():
    bare = {"StackName": STACK, "StackStatus": "CREATE_COMPLETE"}
    with pytest.raises(PlanError):
        plan_stack(STACK, bare, template(), template(), TAGS)


@pytest.mark.parametrize("status", [
    "CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "DELETE_IN_PROGRESS", "ROLLBACK_IN_PROGRESS",
    "UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "REVIEW_IN_PROGRESS",
])
@pytest.mark.parametrize("state", ["present", "absent"])
def test_busy_stack_raises(status, state):
    with pytest.raises(PlanError) as info:
        plan_stack(STACK, stack(status), template(), template(cpu_threshold=1), TAGS, state=state)
    assert status in str(info.value)
    assert STACK in str(info.value)


def test_update_rollback_failed_raises_with_the_way_out():
    with pytest.raises(PlanError) as info:
        plan_stack(STACK, stack("UPDATE_ROLLBACK_FAILED"), template(), template(), TAGS)
    message = str(info.value)
    assert "UPDATE_ROLLBACK_FAILED" in message
    assert "continue-update-rollback --stack-name %s" % STACK in message


@pytest.mark.parametrize("state", ["present", "absent"])
def test_delete_failed_raises(state):
    with pytest.raises(PlanError) as info:
        plan_stack(STACK, stack("DELETE_FAILED"), template(), template(), TAGS, state=state)
    assert "delete-stack --stack-name %s" % STACK in str(info.value)


def test_absent_and_missing_needs_nothing():
    assert plan_stack(STACK, None, None, None, TAGS, state="absent") == {"action": "none", "changes": []}


def test_absent_and_present_is_deleted_listing_what_goes():
    plan = plan_stack(STACK, stack(), template(), None, TAGS, state="absent")
    assert plan["action"] == "delete"
    [line] = plan["changes"]
    assert line.startswith("- stack %s" % STACK)
    assert "alarm %s" % CPU_ALARM in line
    assert "dashboard %s" % BOARD in line


def test_absent_stack_after_failed_creation_is_deleted():
    plan = plan_stack(STACK, stack("ROLLBACK_COMPLETE"), None, None, TAGS, state="absent")
    assert plan["action"] == "delete"
    assert "no resources" in plan["changes"][0]


# --------------------------------------------------------------------------------------------- parse_template

def test_parse_template_of_a_dict_is_an_independent_copy():
    original = template()
    parsed = parse_template(original)
    assert parsed == original
    parsed["Resources"]["AlarmAllTrafficCPUUtilization"]["Properties"]["Threshold"] = 1
    assert original["Resources"]["AlarmAllTrafficCPUUtilization"]["Properties"]["Threshold"] == 80


def test_parse_template_of_a_json_string():
    original = template()
    assert parse_template(json.dumps(original)) == original


def test_parse_template_of_none():
    assert parse_template(None) is None


def test_parsed_deployed_template_diffs_cleanly_against_desired():
    desired = template()
    deployed = parse_template(json.dumps(copy.deepcopy(desired), separators=(",", ":")))
    assert plan_stack(STACK, stack(), deployed, desired, TAGS)["action"] == "none"


def _stack(name, endpoint=None, managed=True, status="CREATE_COMPLETE", protected=False):
    tags = []
    if managed:
        tags.append({"Key": "managed-by", "Value": "mlops.sagemaker_monitoring"})
    if endpoint:
        tags.append({"Key": "sagemaker-endpoint", "Value": endpoint})
    return {"StackName": name, "StackStatus": status, "Tags": tags, "EnableTerminationProtection": protected}


def test_prune_takes_only_the_collections_stacks_of_endpoints_that_are_gone():
    stacks = [
        _stack("sm-alive", "alive"),
        _stack("sm-gone", "gone"),
        _stack("sm-theirs", "gone", managed=False),         # not ours: never
        _stack("sm-untagged"),                                # ours but no endpoint tag: never
        _stack("sm-kept", "kept"),                            # in this run: kept whatever SageMaker says
        _stack("sm-deleting", "gone2", status="DELETE_IN_PROGRESS"),
        _stack("sm-deleted", "gone4", status="DELETE_COMPLETE"),
        _stack("sm-rolled", "gone3", status="ROLLBACK_COMPLETE"),
    ]
    pruned, refused = plan_prune(stacks, ["alive"], keep=["kept"])
    assert [(p["stack_name"], p["endpoint"], p["status"]) for p in pruned] == [
        ("sm-gone", "gone", "CREATE_COMPLETE"), ("sm-rolled", "gone3", "ROLLBACK_COMPLETE")]
    assert refused == []
    assert plan_prune(stacks, ["alive", "gone", "gone3"], keep=["kept"]) == ([], [])


@pytest.mark.parametrize("stack_value, reason", [
    (_stack("sm-busy", "gone", status="UPDATE_IN_PROGRESS"), "stack sm-busy is busy (UPDATE_IN_PROGRESS)"),
    (_stack("sm-stuck", "gone", status="DELETE_FAILED"), "delete-stack --stack-name sm-stuck"),
    (_stack("sm-protected", "gone", protected=True), "stack sm-protected has termination protection on"),
], ids=["busy", "delete-failed", "protected"])
def test_prune_refuses_with_the_reason_stacks_it_cannot_remove_safely(stack_value, reason):
    pruned, [refused] = plan_prune([stack_value, _stack("sm-other", "other")], [])
    assert [p["stack_name"] for p in pruned] == ["sm-other"]
    assert refused["stack_name"] == stack_value["StackName"] and refused["endpoint"] == "gone"
    assert reason in refused["reason"]


def test_prune_lists_are_sorted_by_stack_name():
    stacks = [_stack("sm-%s" % n, n) for n in "cab"] + [_stack("sm-%s" % n, n, protected=True) for n in "zy"]
    pruned, refused = plan_prune(stacks, [])
    assert [p["stack_name"] for p in pruned] == ["sm-a", "sm-b", "sm-c"]
    assert [p["stack_name"] for p in refused] == ["sm-y", "sm-z"]


# --------------------------------------------------------------------------------------------- the role's template

def test_the_fingerprint_output_alone_is_no_template_change():
    before = template(outputs={"TopicArn": {"Value": {"Ref": "AlarmTopic"}}, "MonitoringFingerprint": {"Value": "a"}})
    after = template(outputs={"TopicArn": {"Value": {"Ref": "AlarmTopic"}}, "MonitoringFingerprint": {"Value": "b"}})
    assert diff_templates(before, after) == []
    assert diff_templates(before, template(outputs={"MonitoringFingerprint": {"Value": "b"}})) == [
        "~ template outputs"]


def test_the_role_template_parses_and_diffs_in_words():
    prepared = described()
    rendered = parse_template(render_template(prepared))
    resources = rendered["Resources"]
    alarms = [r["Properties"]["AlarmName"] for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    assert sorted(alarms) == sorted(a["name"] for a in prepared["spec"]["alarms"])
    assert rendered["Outputs"]["MonitoringFingerprint"]["Value"] == prepared["fingerprint"]
    assert resources["AlarmTopic"]["Properties"]["TopicName"] == prepared["spec"]["topic_name"]
    assert ":${AWS::AccountId}:alarm:sagemaker-monitoring_churn_AllTraffic_" in resources["Dashboard"]["Properties"]["DashboardBody"][
        "Fn::Sub"]
    stricter = described(endpoint_metrics={"CPUUtilization": {"threshold": 50}})
    lines = diff_templates(rendered, parse_template(render_template(stricter)))
    # 50 % per vCPU on 4 vCPUs; the dashboard draws the threshold too
    assert lines[0].startswith("~ alarm sagemaker-monitoring_churn_AllTraffic_CPUUtilization: AlarmDescription "
                               "[warning] CPUUtilization > 80 % ")
    assert lines[0].endswith(", Threshold 320 -> 200")
    assert lines[1].startswith("~ dashboard sagemaker-monitoring_churn_us-east-1: DashboardBody: widget ")
    assert len(lines) == 2


def test_a_fleet_mode_template_has_no_dashboard_of_its_own():
    rendered = parse_template(render_template(described(dashboard="fleet")))
    assert "Dashboard" not in rendered["Resources"] and "DashboardUrl" not in rendered["Outputs"]
