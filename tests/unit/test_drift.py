"""Drift: the normal forms of a wanted and a deployed alarm, the dashboard's size, the topic policy, the slice of
policies a run reads (pure functions of module_utils/drift.py)."""

import copy
import json
import random

import pytest
import yaml

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils import drift
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_settings import dashboard_of

from role_support import described, render_template

TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:sagemaker-monitoring_churn"
ACCOUNT = "123456789012"


def _resolve(value, topic_arn=TOPIC_ARN):
    """A template value as CloudFormation resolves it for a stack in ACCOUNT, us-east-1."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return {"AlarmTopic": topic_arn, "AWS::AccountId": ACCOUNT}[value["Ref"]]
    if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
        return value["Fn::Sub"].replace("${AWS::AccountId}", ACCOUNT).replace("${AWS::Region}", "us-east-1") \
            .replace("${AWS::Partition}", "aws")
    if isinstance(value, dict):
        return dict((k, _resolve(v, topic_arn)) for k, v in value.items())
    if isinstance(value, list):
        return [_resolve(v, topic_arn) for v in value]
    return value


def deployed(prepared):
    """What DescribeAlarms answers for the alarms of the prepared endpoint's stack template (as AWS fills it in:
    every default echoed, the ARNs and timestamps it adds), by name; and the template's resources."""
    resources = yaml.safe_load(render_template(prepared))["Resources"]
    alarms = {}
    for resource in resources.values():
        if resource["Type"] not in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm"):
            continue
        item = _resolve(resource["Properties"])
        item.update(AlarmArn="arn:aws:cloudwatch:us-east-1:%s:alarm:%s" % (ACCOUNT, item["AlarmName"]),
                    ActionsEnabled=True, StateValue="OK", InsufficientDataActions=[],
                    OKActions=item.get("OKActions", []), AlarmActions=item.get("AlarmActions", []))
        if "Threshold" in item:
            item["Threshold"] = float(item["Threshold"])
        alarms[item["AlarmName"]] = item
    return alarms, resources


@pytest.fixture(scope="module")
def prepared():
    return described(endpoint_metrics={"ModelLatency": {"anomaly_band": 2}}, ok_actions=True)


def test_a_clean_stack_as_aws_describes_it_has_no_drift(prepared):
    alarms, _ = deployed(prepared)
    expected = prepared["plan_entry"]["expected"]
    kinds = set(a["kind"] for a in prepared["spec"]["alarms"])
    assert kinds == {"metric", "math", "anomaly"}  # every kind of alarm the template writes, and the composite
    assert sorted(expected["alarms"]) == sorted(alarms)
    assert drift.changed_alarms(expected, alarms, TOPIC_ARN) == []


def test_a_clean_stack_as_an_emulator_describes_it_has_no_drift(prepared):
    """A server that echoes no defaults and no labels: DatapointsToAlarm, TreatMissingData, ActionsEnabled,
    ReturnData of a query and its Label left out."""
    alarms, _ = deployed(prepared)
    for item in alarms.values():
        if "AlarmRule" not in item and item["DatapointsToAlarm"] == item["EvaluationPeriods"]:
            del item["DatapointsToAlarm"]
        if item.get("TreatMissingData") == "missing":
            del item["TreatMissingData"]
        item.pop("ActionsEnabled")
        for query in item.get("Metrics") or []:
            query.pop("Label", None)
            if query.get("ReturnData") is True:
                del query["ReturnData"]
    assert drift.changed_alarms(prepared["plan_entry"]["expected"], alarms, TOPIC_ARN) == []


@pytest.mark.parametrize("change, line", [
    (lambda a: a.update(Threshold=999999.0), "Threshold 5 -> 999999"),
    (lambda a: a.update(EvaluationPeriods=30), "EvaluationPeriods"),
    (lambda a: a.update(AlarmActions=[]), 'AlarmActions ["(the endpoint\'s topic)"] -> []'),
    (lambda a: a.update(AlarmActions=[TOPIC_ARN, "arn:aws:sns:us-east-1:123456789012:other"]), "other"),
    (lambda a: a.update(ActionsEnabled=False), "ActionsEnabled True -> False"),
    (lambda a: a.update(ComparisonOperator="LessThanThreshold"), "ComparisonOperator"),
    (lambda a: a.update(Dimensions=[{"Name": "EndpointName", "Value": "other"}]), "Dimensions"),
])
def test_a_metric_alarm_changed_outside_ansible_is_worded_field_by_field(prepared, change, line):
    alarms, _ = deployed(prepared)
    name = [a["name"] for a in prepared["spec"]["alarms"] if a["metric"] == "CPUUtilization"][0]
    before = copy.deepcopy(alarms[name])
    change(alarms[name])
    expected = prepared["plan_entry"]["expected"]
    assert drift.changed_alarms(expected, alarms, TOPIC_ARN) == [name]
    [worded] = drift.alarm_drift(prepared["spec"], alarms, TOPIC_ARN, [name])
    assert worded.startswith("~ alarm %s: " % name) and worded.endswith("(changed outside Ansible)")
    if "Threshold" in line:
        line = "Threshold %s -> 999999" % drift._shown(before["Threshold"])
    assert line in worded, worded


def test_deleted_alarms_and_the_composite_are_each_a_line(prepared):
    alarms, _ = deployed(prepared)
    composite = prepared["spec"]["composite"]["name"]
    metric = prepared["spec"]["alarms"][0]["name"]
    del alarms[composite], alarms[metric]
    differing = drift.changed_alarms(prepared["plan_entry"]["expected"], alarms, TOPIC_ARN)
    assert differing == sorted([composite, metric])
    assert drift.alarm_drift(prepared["spec"], alarms, TOPIC_ARN, differing) == [
        "+ alarm %s (deleted outside Ansible)" % name for name in differing]


def test_a_changed_health_rule_and_a_changed_anomaly_query_are_drift(prepared):
    alarms, _ = deployed(prepared)
    composite = prepared["spec"]["composite"]["name"]
    alarms[composite]["AlarmRule"] = 'ALARM("something-else")'
    anomaly = [a["name"] for a in prepared["spec"]["alarms"] if a["kind"] == "anomaly"][0]
    band = [q for q in alarms[anomaly]["Metrics"] if q["Id"] == "band"][0]
    band["Expression"] = "ANOMALY_DETECTION_BAND(m1, 9)"
    assert drift.changed_alarms(prepared["plan_entry"]["expected"], alarms, TOPIC_ARN) == sorted([composite, anomaly])
    lines = drift.alarm_drift(prepared["spec"], alarms, TOPIC_ARN, [composite, anomaly])
    assert "AlarmRule" in lines[0] and "ANOMALY_DETECTION_BAND(m1, 9)" in lines[1]


def test_a_label_changed_on_a_graph_line_is_not_drift(prepared):
    alarms, _ = deployed(prepared)
    anomaly = [a["name"] for a in prepared["spec"]["alarms"] if a["kind"] == "anomaly"][0]
    [q for q in alarms[anomaly]["Metrics"] if q["Id"] == "band"][0]["Label"] = "renamed"
    assert drift.changed_alarms(prepared["plan_entry"]["expected"], alarms, TOPIC_ARN) == []


def test_the_dashboard_size_is_the_body_cloudformation_substitutes(prepared):
    _, resources = deployed(prepared)
    body = _resolve(resources["Dashboard"]["Properties"]["DashboardBody"])
    expected = prepared["plan_entry"]["expected"]["dashboard"]
    assert expected == {"name": prepared["spec"]["dashboard_name"], "size": len(body.encode("utf-8"))}
    assert "${" in dashboard_of(prepared["spec"])["body_json"]  # the size is not merely the template's
    assert drift.dashboard_size('{"a":"${!Literal}","b":"${AWS::AccountId}"}') == len('{"a":"${Literal}","b":"%s"}'
                                                                                      % ACCOUNT)


def test_a_dashboard_deleted_or_edited_is_drift_and_a_fleet_only_endpoint_has_none(prepared):
    expected = prepared["plan_entry"]["expected"]
    name, size = expected["dashboard"]["name"], expected["dashboard"]["size"]
    assert drift.dashboard_drift(expected, {name: {"DashboardName": name, "Size": size}}) == []
    assert drift.dashboard_drift(expected, {}) == ["+ dashboard %s (deleted outside Ansible)" % name]
    assert drift.dashboard_drift(expected, {name: {"Size": size + 40}}) == [
        "~ dashboard %s: its body is %d bytes, %d were applied (edited outside Ansible)" % (name, size + 40, size)]
    fleet_only = described(dashboard="fleet")["plan_entry"]["expected"]
    assert fleet_only["dashboard"] is None and drift.dashboard_drift(fleet_only, {}) == []


def test_the_topic_policy_the_code_expects_is_the_one_the_template_applies(prepared):
    _, resources = deployed(prepared)
    applied = _resolve(resources["AlarmTopicPolicy"]["Properties"]["PolicyDocument"])
    assert applied == drift.wanted_topic_policy(TOPIC_ARN)
    assert drift.topic_policy_drift(TOPIC_ARN, json.dumps(applied)) == []


def test_a_topic_policy_as_aws_stores_it_is_not_drift():
    """AWS may store one-element lists as strings, add an Id, and reorder keys."""
    stored = drift.wanted_topic_policy(TOPIC_ARN)
    statement = stored["Statement"][0]
    statement["Action"] = ["sns:Publish"]
    statement["Principal"] = {"Service": ["cloudwatch.amazonaws.com"]}
    stored["Id"] = "__default_policy_ID"
    assert drift.topic_policy_drift(TOPIC_ARN, json.dumps(stored, sort_keys=True)) == []


def test_a_topic_policy_opened_to_anyone_or_removed_is_drift():
    opened = drift.wanted_topic_policy(TOPIC_ARN)
    opened["Statement"].append({"Effect": "Allow", "Principal": "*", "Action": "sns:Publish", "Resource": TOPIC_ARN})
    assert drift.topic_policy_drift(TOPIC_ARN, json.dumps(opened)) == [
        "~ topic sagemaker-monitoring_churn: policy a statement allows any principal (Principal *) "
        "(changed outside Ansible)"]
    narrowed = drift.wanted_topic_policy(TOPIC_ARN)
    narrowed["Statement"][0]["Condition"]["StringEquals"]["AWS:SourceAccount"] = "999999999999"
    assert "the statement that lets this account's alarms publish is changed or gone" in drift.topic_policy_drift(
        TOPIC_ARN, json.dumps(narrowed))[0]
    assert "its policy is gone" in drift.topic_policy_drift(TOPIC_ARN, "")[0]


def test_policy_reads_take_a_slice_and_every_topic_comes_round():
    topics = ["t%03d" % i for i in range(100)]
    assert drift.policy_slice(topics, 200, random.sample) == topics
    assert drift.policy_slice(topics, 0, random.sample) == []
    chooser = random.Random(5).sample
    seen = set()
    runs = 0
    while len(seen) < len(topics):
        picked = drift.policy_slice(topics, 10, chooser)
        assert len(picked) == 10 and set(picked) <= set(topics)
        seen.update(picked)
        runs += 1
    assert runs < 100  # 10 of 100 a run: all read within tens of runs


def test_pages_are_counted_as_aws_pages_them():
    assert [drift.aws_pages(n, 100) for n in (0, 1, 100, 101, 1100)] == [1, 1, 1, 2, 11]


# -- topic mode existing: the alarms notify the user's topics, one per severity -------------------------------------

USER_TOPICS = {"critical": "arn:aws:sns:us-east-1:%s:pager" % ACCOUNT, "warning": "arn:aws:sns:us-east-1:%s:chat" % ACCOUNT}


@pytest.fixture(scope="module")
def on_user_topics():
    return described(topic_mode="existing", topic_arns=USER_TOPICS, notify="both", ok_actions=True)


def test_each_alarm_notifies_the_topic_of_its_severity_and_the_stack_holds_no_topic(on_user_topics):
    _alarms, resources = deployed(on_user_topics)
    assert "AlarmTopic" not in resources and "AlarmTopicPolicy" not in resources
    severities = dict((a["name"], a["severity"]) for a in on_user_topics["spec"]["alarms"])
    severities[on_user_topics["spec"]["composite"]["name"]] = "critical"
    assert set(severities.values()) == {"critical", "warning"}
    for resource in resources.values():
        if resource["Type"].startswith("AWS::CloudWatch::") and "Alarm" in resource["Type"]:
            properties = resource["Properties"]
            wanted = [USER_TOPICS[severities[properties["AlarmName"]]]]
            assert (properties["AlarmActions"], properties["OKActions"]) == (wanted, wanted)
    outputs = yaml.safe_load(render_template(on_user_topics))["Outputs"]
    assert "TopicArn" not in outputs and "RetiredTopicArn" not in outputs


def test_alarms_on_the_users_topics_as_aws_describes_them_have_no_drift_and_a_moved_action_is_drift(on_user_topics):
    alarms, _ = deployed(on_user_topics)
    expected = on_user_topics["plan_entry"]["expected"]
    assert drift.changed_alarms(expected, alarms, None) == []
    name = next(a["name"] for a in on_user_topics["spec"]["alarms"] if a["severity"] == "warning")
    moved = copy.deepcopy(alarms)
    moved[name]["AlarmActions"] = [USER_TOPICS["critical"]]
    assert drift.changed_alarms(expected, moved, None) == [name]
    lines = drift.alarm_drift(on_user_topics["spec"], moved, None, [name])
    assert lines == ['~ alarm %s: AlarmActions ["%s"] -> ["%s"] (changed outside Ansible)'
                     % (name, USER_TOPICS["warning"], USER_TOPICS["critical"])]


def test_a_retired_topic_is_kept_under_its_logical_id_and_name_with_no_alarm_on_it(on_user_topics):
    retired = "arn:aws:sns:us-east-1:%s:sagemaker-monitoring_churn" % ACCOUNT
    template = yaml.safe_load(render_template(on_user_topics, wanted={"retired_topic": retired}))
    assert template["Resources"]["AlarmTopic"]["Properties"]["TopicName"] == "sagemaker-monitoring_churn"
    assert "AlarmTopicPolicy" in template["Resources"]
    assert template["Outputs"]["RetiredTopicArn"]["Value"] == {"Ref": "AlarmTopic"}
    assert "TopicArn" not in template["Outputs"]
    assert "AlarmTopic" not in json.dumps([r for k, r in template["Resources"].items()
                                          if k not in ("AlarmTopic", "AlarmTopicPolicy")])
    # the keep decision is the plan's: the fingerprint, and so the next run's plan, do not depend on it
    assert on_user_topics["fingerprint"] == described(topic_mode="existing", topic_arns=USER_TOPICS, notify="both",
                                                      ok_actions=True)["fingerprint"]


@pytest.mark.parametrize("statement, may", [
    ({"Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"}, "Action": "sns:Publish",
      "Resource": "*"}, True),
    ({"Effect": "Allow", "Principal": {"Service": ["events.amazonaws.com", "cloudwatch.amazonaws.com"]},
      "Action": ["sns:Publish"], "Resource": "*"}, True),
    ({"Effect": "Allow", "Principal": "*", "Action": "SNS:Publish", "Resource": "*"}, True),
    ({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sns:*", "Resource": "*"}, True),
    ({"Effect": "Deny", "Principal": {"Service": "cloudwatch.amazonaws.com"}, "Action": "sns:Publish"}, False),
    ({"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sns:Publish"}, False),
    ({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::%s:root" % ACCOUNT}, "Action": "sns:Publish"}, False),
    ({"Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"}, "Action": "sns:Subscribe"}, False),
])
def test_cloudwatch_may_publish_only_where_an_allow_statement_lets_its_service_or_anyone(statement, may):
    assert drift.cloudwatch_may_publish(json.dumps({"Version": "2012-10-17", "Statement": [statement]})) is may


def test_a_topic_without_a_policy_or_with_an_unreadable_one_does_not_let_cloudwatch_publish():
    assert drift.cloudwatch_may_publish(None) is False
    assert drift.cloudwatch_may_publish("not json") is False
    assert drift.cloudwatch_may_publish(json.dumps(drift.wanted_topic_policy(TOPIC_ARN))) is True
