"""Topic modes on LocalStack (issue 16, points 1-3, the existing mode): the alarms notify topics the user gives, one
per severity, which the collection reads but never writes; a topic that does not exist or that CloudWatch may not
publish to fails its endpoint alone before any write; a switch from per_endpoint moves the alarms' actions in place,
keeps the former topic with its subscriptions (reported) and converges with a clean re-run, and the purge option
removes that topic.

Ansible's calls go through the recording proxy; the tests' own boto3 calls go straight to LocalStack.
"""

import json
import os
import sys
import time

import pytest

from conftest import REGION, run_playbook, template_of, unique
from test_safety import SQS_PREFIX, failures, name_of, outputs_of, stack_name, subscriptions, through

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "support"))

import aws_proxy  # noqa: E402

pytestmark = pytest.mark.integration

VARIANT = "AllTraffic"
# A 10-second period: LocalStack evaluates such alarms within seconds of a breach (as the demo's).
FAST = {"threshold": 100, "period": 10, "evaluation_periods": 1, "datapoints_to_alarm": 1}
BREACH_MICROSECONDS = 250000.0  # 250 ms against a 100 ms threshold
WAIT_SECONDS = 90


def user_topic(localstack, name, cloudwatch_may_publish=True):
    """A topic of the user's; its policy lets CloudWatch publish, or only one role of the account."""
    sns = localstack.client("sns")
    arn = sns.create_topic(Name=name)["TopicArn"]
    principal = ({"Service": "cloudwatch.amazonaws.com"} if cloudwatch_may_publish
                 else {"AWS": "arn:aws:iam::000000000000:role/publisher"})
    sns.set_topic_attributes(TopicArn=arn, AttributeName="Policy", AttributeValue=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sns:Publish",
                                                "Resource": arn}]}))
    return arn


def queue_on(localstack, topic_arn):
    """An SQS queue the test subscribes to the topic itself (the collection never subscribes to the user's)."""
    sqs = localstack.client("sqs")
    name = unique("q")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    localstack.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=SQS_PREFIX + name)
    return url


def alarm_subjects(localstack, url):
    """Subjects of the ALARM notifications waiting in the queue (each read once)."""
    sqs = localstack.client("sqs")
    subjects = []
    for message in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1, MaxNumberOfMessages=10).get("Messages", []):
        subject = json.loads(message["Body"]).get("Subject", "")
        if subject.startswith("ALARM"):
            subjects.append(subject)
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return subjects


def breach_until_notified(localstack, endpoint, metric, url):
    """Datapoints of the metric above its threshold until the ALARM notification of its alarm reaches the queue;
    the subjects that reached it (at most WAIT_SECONDS)."""
    cloudwatch = localstack.client("cloudwatch")
    alarm = name_of(endpoint, VARIANT, metric)
    deadline = time.time() + WAIT_SECONDS
    while time.time() < deadline:
        cloudwatch.put_metric_data(Namespace="AWS/SageMaker", MetricData=[{
            "MetricName": metric, "Value": BREACH_MICROSECONDS, "Unit": "Microseconds",
            "Dimensions": [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": VARIANT}]}])
        subjects = alarm_subjects(localstack, url)
        if any(alarm in s for s in subjects):
            return subjects
        time.sleep(2)
    raise AssertionError("no ALARM notification for %s reached its queue within %ds" % (alarm, WAIT_SECONDS))


def said(run):
    """The run's output with the lines the result format folds joined again."""
    return " ".join(run.output.split())


def writes_naming(calls, text):
    return [c for c in calls if not c.read_only and c.mentions(text)]


def test_existing_topics_get_each_severity_and_are_never_written_and_a_bad_topic_fails_its_endpoint_alone(
        localstack, inventory):
    critical, warning = user_topic(localstack, unique("pager")), user_topic(localstack, unique("chat"))
    closed = user_topic(localstack, unique("closed"), cloudwatch_may_publish=False)
    missing = critical.rsplit(":", 1)[0] + ":" + unique("no-such-topic")
    critical_queue, warning_queue = queue_on(localstack, critical), queue_on(localstack, warning)
    metrics = {"ModelLatency": FAST, "OverheadLatency": FAST}
    good = inventory.add("fleet", unique("own"), endpoint_monitoring_topic_mode="existing",
                         endpoint_monitoring_topic_arns={"critical": critical, "warning": warning},
                         endpoint_monitoring_endpoint_metrics=metrics)
    shut = inventory.add("fleet", unique("shut"), endpoint_monitoring_topic_mode="existing",
                         endpoint_monitoring_topic_arns={"critical": critical, "warning": closed})
    gone = inventory.add("fleet", unique("gone"), endpoint_monitoring_topic_mode="existing",
                         endpoint_monitoring_topic_arns={"critical": missing, "warning": warning})

    with aws_proxy.AwsProxy(localstack.url) as proxy:
        run = run_playbook(localstack, inventory, env=through(proxy, localstack))
        calls = proxy.snapshot()
    assert run.rc != 0, run.output
    failed = dict((host, " ".join(str(r.get("msg", "")) for r in results))
                  for host, results in failures(run.output).items())
    assert sorted(failed) == sorted([shut, gone]), run.output
    assert "endpoint_monitoring_topic_arns.warning: the policy of topic %s does not let CloudWatch publish" % closed \
        in failed[shut], failed[shut]
    assert "endpoint_monitoring_topic_arns.critical: topic %s does not exist in %s" % (missing, REGION) \
        in failed[gone], failed[gone]
    # the refused endpoints: nothing written; the user's topics: read only (GetTopicAttributes), never written to
    # (their ARNs travel only in the good endpoint's stack template)
    for endpoint in (shut, gone):
        assert writes_naming(calls, stack_name(endpoint)) == [], writes_naming(calls, stack_name(endpoint))
    for arn in (critical, warning, closed, missing):
        assert [c.key for c in writes_naming(calls, arn)
                if c.key != ("cloudformation", "CreateStack")] == [], arn
        assert not [c for c in calls if c.service == "sns" and not c.read_only and c.mentions(arn)]
    assert [c for c in calls if c.key == ("sns", "GetTopicAttributes")], "the user's topics were not checked"

    cfn = localstack.client("cloudformation")
    template = template_of(cfn, stack_name(good))
    assert "AlarmTopic" not in template["Resources"] and "TopicArn" not in template["Outputs"]
    cloudwatch = localstack.client("cloudwatch")
    for metric, topic in (("ModelLatency", critical), ("OverheadLatency", warning)):
        alarm = cloudwatch.describe_alarms(AlarmNames=[name_of(good, VARIANT, metric)])["MetricAlarms"][0]
        assert alarm["AlarmActions"] == [topic], alarm

    # a critical breach reaches the critical subscriber only, a warning one the warning subscriber only
    latency = breach_until_notified(localstack, good, "ModelLatency", critical_queue)
    assert all(name_of(good, VARIANT, "OverheadLatency") not in s for s in latency), latency
    overhead = breach_until_notified(localstack, good, "OverheadLatency", warning_queue)
    assert all(name_of(good, VARIANT, "ModelLatency") not in s for s in overhead), overhead
    time.sleep(5)
    assert not [s for s in alarm_subjects(localstack, warning_queue) if "ModelLatency" in s]
    assert not [s for s in alarm_subjects(localstack, critical_queue) if "OverheadLatency" in s]
    assert subscriptions(localstack.client("sns"), critical) == [("sqs", SQS_PREFIX + critical_queue.rsplit("/", 1)[1])]


def test_a_switch_to_existing_topics_moves_the_actions_in_place_keeps_the_former_topic_and_converges(
        localstack, inventory):
    critical, warning = user_topic(localstack, unique("pager")), user_topic(localstack, unique("chat"))
    queue = unique("team")
    localstack.client("sqs").create_queue(QueueName=queue)
    endpoint = inventory.add("fleet", unique("switch"), endpoint_monitoring_endpoint_subscribers=[
        {"protocol": "sqs", "endpoint": SQS_PREFIX + queue}])
    first = run_playbook(localstack, inventory)
    assert first.rc == 0, first.output
    cfn, sns = localstack.client("cloudformation"), localstack.client("sns")
    stack = stack_name(endpoint)
    own_topic = outputs_of(cfn.describe_stacks(StackName=stack)["Stacks"][0])["TopicArn"]
    alarm = name_of(endpoint, VARIANT, "ModelLatency")
    alarm_arn = localstack.client("cloudwatch").describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["AlarmArn"]
    created = set(e["EventId"] for e in cfn.describe_stack_events(StackName=stack)["StackEvents"])

    inventory.host_vars(endpoint, {"endpoint_monitoring_topic_mode": "existing",
                                   "endpoint_monitoring_topic_arns": {"critical": critical, "warning": warning}})
    switched = run_playbook(localstack, inventory)
    assert switched.rc == 0, switched.output
    assert ("~ topic %s is retired: no alarm notifies it; kept with its 1 subscription "
            "(endpoint_monitoring_purge_subscriptions: true removes it and them)" % name_of(endpoint)) \
        in said(switched), switched.output
    template = template_of(cfn, stack)
    outputs = outputs_of(cfn.describe_stacks(StackName=stack)["Stacks"][0])
    assert outputs["RetiredTopicArn"] == own_topic and "TopicArn" not in outputs
    # the alarms kept their logical ids and were updated in place, their actions on the topic of their severity
    assert template["Resources"]["AlarmAllTrafficModelLatency"]["Properties"]["AlarmActions"] == [critical]
    assert template["Resources"]["AlarmAllTrafficOverheadLatency"]["Properties"]["AlarmActions"] == [warning]
    events = [e for e in cfn.describe_stack_events(StackName=stack)["StackEvents"] if e["EventId"] not in created]
    alarm_events = [(e["LogicalResourceId"], e["ResourceStatus"]) for e in events
                    if e["ResourceType"] == "AWS::CloudWatch::Alarm"]
    assert alarm_events and all(status.startswith("UPDATE_") for _, status in alarm_events), alarm_events
    assert not [e for e in events if e["ResourceType"] == "AWS::SNS::Topic" and
                e["ResourceStatus"].startswith(("DELETE_", "CREATE_"))], events
    assert localstack.client("cloudwatch").describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["AlarmArn"] == \
        alarm_arn
    # the former topic is still there with its subscriber
    assert subscriptions(sns, own_topic) == [("sqs", SQS_PREFIX + queue)]

    # the next run: no change, no write
    with aws_proxy.AwsProxy(localstack.url) as proxy:
        again = run_playbook(localstack, inventory, env=through(proxy, localstack))
        writes = proxy.writes()
    assert again.rc == 0 and again.changed(endpoint) == 0, again.output
    assert writes == [], writes

    # with the purge option the former topic and its subscription go
    inventory.host_vars(endpoint, {"endpoint_monitoring_topic_mode": "existing",
                                   "endpoint_monitoring_topic_arns": {"critical": critical, "warning": warning},
                                   "endpoint_monitoring_purge_subscriptions": True})
    purged = run_playbook(localstack, inventory)
    assert purged.rc == 0, purged.output
    assert "- topic %s and its 1 subscription (sqs %s%s)" % (name_of(endpoint), SQS_PREFIX, queue) in said(purged), \
        purged.output
    outputs = outputs_of(cfn.describe_stacks(StackName=stack)["Stacks"][0])
    assert "RetiredTopicArn" not in outputs and "TopicArn" not in outputs
    assert own_topic not in [t["TopicArn"] for t in sns.list_topics()["Topics"]]
    final = run_playbook(localstack, inventory)
    assert final.rc == 0 and final.changed(endpoint) == 0, final.output
