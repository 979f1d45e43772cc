"""Drift on real alarms (LocalStack): what is changed outside Ansible after a rollout is found by the next run and
worded per difference, in check mode without a write; a clean re-run reports none; an audit fails on it; and the
repair goes through a drift-aware change set (which LocalStack cannot make: the run says so and reverts nothing by
other means; the module's requests are proven with botocore's Stubber in tests/unit/test_revert_drift.py).

Ansible's calls go through a recording proxy; the tests' own boto3 calls (the changes "outside Ansible") go straight
to LocalStack.
"""

import json

import pytest

from conftest import run_playbook, unique
from test_safety import SQS_PREFIX, aws_proxy, describe, name_of, outputs_of, stack_name, through

pytestmark = pytest.mark.integration

READ_EVERY_POLICY = "endpoint_monitoring_topic_policy_reads=1000"


def flat(output):
    """The output with the callback's line wrapping undone."""
    return " ".join(output.split())


def put_back(cloudwatch, alarm, **changes):
    """PutMetricAlarm with what DescribeAlarms says of the alarm, some fields changed: a change in the console."""
    keys = ("AlarmName", "AlarmDescription", "ActionsEnabled", "OKActions", "AlarmActions", "InsufficientDataActions",
            "MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Dimensions", "Period", "EvaluationPeriods",
            "DatapointsToAlarm", "Threshold", "ComparisonOperator", "TreatMissingData", "Metrics",
            "ThresholdMetricId")
    request = dict((k, alarm[k]) for k in keys if alarm.get(k) not in (None, []) or k == "Dimensions")
    if "Metrics" in request:
        request.pop("Dimensions", None)
    request.update(changes)
    cloudwatch.put_metric_alarm(**request)


def test_drift_is_found_worded_audited_and_left_to_a_drift_aware_change_set(localstack, inventory):
    sqs, sns = localstack.client("sqs"), localstack.client("sns")
    cfn, cloudwatch = localstack.client("cloudformation"), localstack.client("cloudwatch")
    # LocalStack's alarms are real for a stack that is only created (it leaves an alarm as it was when an update
    # changes it, so its environment leaves alarms out of the check by default)
    inventory.group_vars("all", {"endpoint_monitoring_drift_checks": ["alarms", "topic_policy"]})
    queue = unique("dq")
    sqs.create_queue(QueueName=queue)
    first = inventory.add("fleet", unique("drifta"), endpoint_monitoring_endpoint_subscribers=[
        {"protocol": "sqs", "endpoint": SQS_PREFIX + queue}])
    second = inventory.add("fleet", unique("driftb"))
    untouched = inventory.add("fleet", unique("driftc"))
    created = run_playbook(localstack, inventory)
    assert created.rc == 0, created.output

    # 1. a clean re-run: what LocalStack echoes of the alarms, dashboards and topic policies is no drift
    with aws_proxy.AwsProxy(localstack.url) as proxy:
        clean = run_playbook(localstack, inventory, "monitor_endpoints.yml", "-e", READ_EVERY_POLICY,
                             env=through(proxy, localstack))
        reads = proxy.operations()
        assert proxy.writes() == [], describe(proxy.writes())
    assert clean.rc == 0 and set(s for s, _ in clean.summary().values()) == {"unchanged"}, clean.output
    assert {("monitoring", "DescribeAlarms"), ("sns", "GetTopicAttributes")} <= reads
    # LocalStack's CloudFormation makes no dashboards: its environment leaves them out of the check (moto's are
    # checked in tests/unit/test_monitoring_plan.py), and what is not checked is not read
    assert ("monitoring", "ListDashboards") not in reads

    # 2. changed outside Ansible
    latency = name_of(first, "AllTraffic", "ModelLatency")
    [alarm] = cloudwatch.describe_alarms(AlarmNames=[latency])["MetricAlarms"]
    put_back(cloudwatch, alarm, Threshold=999999.0)
    cloudwatch.delete_alarms(AlarmNames=[name_of(first, "AllTraffic", "CPUUtilization")])
    cloudwatch.delete_alarms(AlarmNames=[name_of(first, "health")])
    topic = outputs_of(cfn.describe_stacks(StackName=stack_name(second))["Stacks"][0])["TopicArn"]
    policy = json.loads(sns.get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"])
    policy["Statement"].append({"Sid": "Anyone", "Effect": "Allow", "Principal": "*", "Action": "sns:Publish",
                                "Resource": topic})
    sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps(policy))

    # 3. check mode says what drifted, per endpoint, and writes nothing
    with aws_proxy.AwsProxy(localstack.url) as proxy:
        checked = run_playbook(localstack, inventory, "monitor_endpoints.yml", "--check", "--diff", "-e",
                               READ_EVERY_POLICY, env=through(proxy, localstack))
        assert proxy.writes() == [], describe(proxy.writes())
    assert checked.rc == 0, checked.output
    summary = checked.summary()
    assert summary[first][0] == summary[second][0] == "changed" and summary[untouched][0] == "unchanged", \
        checked.output
    assert "would be revert_drift" in summary[first][1], checked.output
    threshold = alarm["Threshold"]
    expected_lines = [
        "~ alarm %s: Threshold %d -> 999999 (changed outside Ansible)" % (latency, threshold),
        "+ alarm %s (deleted outside Ansible)" % name_of(first, "AllTraffic", "CPUUtilization"),
        "+ alarm %s (deleted outside Ansible)" % name_of(first, "health"),
        "~ topic %s: policy a statement allows any principal (Principal *) (changed outside Ansible)" % name_of(second),
    ]
    for line in expected_lines:
        assert line in flat(checked.output), (line, checked.output)

    # 4. an audit fails on it, naming the endpoints; an audit that would write is refused
    audit = run_playbook(localstack, inventory, "monitor_endpoints.yml", "--check", "-e",
                         "sagemaker_monitoring_audit=true", "-e", READ_EVERY_POLICY)
    assert audit.rc != 0, audit.output
    assert "2 endpoint(s) drifted from what was applied" in audit.output, audit.output
    assert first in audit.output.split("drifted from what was applied", 1)[1]
    writing_audit = run_playbook(localstack, inventory, "monitor_endpoints.yml", "-e", "sagemaker_monitoring_audit=true")
    assert writing_audit.rc != 0 and "only reads: run it with --check" in writing_audit.output, writing_audit.output

    # 5. the repair asks CloudFormation for a drift-aware change set; LocalStack makes an ordinary one, which would
    #    revert nothing: it is deleted unexecuted, the endpoint fails saying so, and nothing is written around it
    with aws_proxy.AwsProxy(localstack.url) as proxy:
        repair = run_playbook(localstack, inventory, "monitor_endpoints.yml", "-e", READ_EVERY_POLICY,
                              env=through(proxy, localstack))
        writes = proxy.writes()
    created_sets = [c for c in writes if c.operation == "CreateChangeSet"]
    assert sorted(c.params.get("StackName") for c in created_sets) == sorted([stack_name(first), stack_name(second)])
    for call in created_sets:
        assert call.params.get("DeploymentMode") == "REVERT_DRIFT" and call.params.get("ChangeSetType") == "UPDATE"
        assert call.params.get("ClientToken") == call.params.get("ChangeSetName")
    written = set(c.operation for c in writes)
    assert written <= {"CreateChangeSet", "DeleteChangeSet"}, describe(writes)  # no alarm or topic written directly
    summary = repair.summary()
    assert summary[untouched][0] == "unchanged", repair.output
    for endpoint in (first, second):
        assert summary[endpoint][0] == "FAILED" and "ordinary change set, not a drift-aware one" in summary[endpoint][1]
    # what drifted is still reported by the next run: nothing was silently called repaired
    again = run_playbook(localstack, inventory, "monitor_endpoints.yml", "--check", "-e", READ_EVERY_POLICY)
    assert again.summary()[first][0] == "changed" and expected_lines[0] in flat(again.output)
