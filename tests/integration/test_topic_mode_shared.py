"""topic_mode shared on LocalStack (issue 16, points 1-3): one stack per region holds a topic per severity; however
many endpoints list a subscriber, it is subscribed once per region and severity it asks for; a critical breach
reaches the critical subscriber and not the warning one, and the other way round; a re-run writes nothing; switches
from per_endpoint to shared and back move the alarms' actions in place and converge.

The shared topics stack is one per region, so the tests of this file share it (they run on one LocalStack); each
test looks only at its own endpoints and subscribers, whose names are its own.
"""

import os
import sys

import pytest

from conftest import REGION, run_playbook, template_of, unique
from test_safety import SQS_PREFIX, name_of, outputs_of, stack_name, subscriptions, through
from test_topic_modes import VARIANT, FAST, alarm_subjects, breach_until_notified, said

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "support"))

import aws_proxy  # noqa: E402

pytestmark = pytest.mark.integration

SHARED_STACK = "sagemaker-monitoring--shared-topics"
ENDPOINTS = 20


def shared_topics(localstack):
    """{severity: ARN} of the region's shared topics, from their stack's outputs."""
    stack = localstack.client("cloudformation").describe_stacks(StackName=SHARED_STACK)["Stacks"][0]
    outputs = outputs_of(stack)
    return {"critical": outputs["CriticalTopicArn"], "warning": outputs["WarningTopicArn"]}


def queue(localstack):
    name = unique("q")
    url = localstack.client("sqs").create_queue(QueueName=name)["QueueUrl"]
    return url, SQS_PREFIX + name


def test_twenty_endpoints_share_one_subscription_per_subscriber_and_severity_and_alerts_route_by_severity(
        localstack, inventory):
    (pager_url, pager), (chat_url, chat) = queue(localstack), queue(localstack)
    _, both = queue(localstack)
    inventory.group_vars("fleet", {
        "endpoint_monitoring_topic_mode": "shared",
        "endpoint_monitoring_group_subscribers": [
            {"protocol": "sqs", "endpoint": pager, "severities": ["critical"]},
            {"protocol": "sqs", "endpoint": chat, "severities": ["warning"]}]})
    endpoints = [inventory.add("fleet", unique("shared")) for _ in range(ENDPOINTS - 1)]
    loud = inventory.add("fleet", unique("loud"), endpoint_monitoring_endpoint_metrics={
        "ModelLatency": FAST, "OverheadLatency": FAST},
        endpoint_monitoring_endpoint_subscribers=[{"protocol": "sqs", "endpoint": both}])
    endpoints.append(loud)

    with aws_proxy.AwsProxy(localstack.url) as proxy:
        first = run_playbook(localstack, inventory, env=through(proxy, localstack))
        calls = proxy.snapshot()
    assert first.rc == 0, first.output
    topics = shared_topics(localstack)
    sns = localstack.client("sns")
    ours = (pager, chat, both)
    held = dict((severity, sorted(s for s in subscriptions(sns, arn) if s[1] in ours))
                for severity, arn in topics.items())
    assert held == {"critical": sorted([("sqs", pager), ("sqs", both)]),
                    "warning": sorted([("sqs", chat), ("sqs", both)])}, held
    subscribes = [c for c in calls if c.key == ("sns", "Subscribe") and any(c.mentions(q) for q in ours)]
    assert len(subscribes) == 4, [c.key for c in subscribes]
    # no endpoint stack holds a topic; each alarm notifies the shared topic of its severity
    cfn, cloudwatch = localstack.client("cloudformation"), localstack.client("cloudwatch")
    for endpoint in endpoints:
        template = template_of(cfn, stack_name(endpoint))
        assert "AlarmTopic" not in template["Resources"] and "TopicArn" not in template["Outputs"], endpoint
    for metric, severity in (("ModelLatency", "critical"), ("OverheadLatency", "warning")):
        alarm = cloudwatch.describe_alarms(AlarmNames=[name_of(loud, VARIANT, metric)])["MetricAlarms"][0]
        assert alarm["AlarmActions"] == [topics[severity]], alarm

    # a critical breach reaches the critical subscriber only, a warning one the warning subscriber only
    latency = breach_until_notified(localstack, loud, "ModelLatency", pager_url)
    assert all(name_of(loud, VARIANT, "OverheadLatency") not in s for s in latency), latency
    overhead = breach_until_notified(localstack, loud, "OverheadLatency", chat_url)
    assert all(name_of(loud, VARIANT, "ModelLatency") not in s for s in overhead), overhead
    assert not [s for s in alarm_subjects(localstack, chat_url) if "ModelLatency" in s]
    assert not [s for s in alarm_subjects(localstack, pager_url) if "OverheadLatency" in s]

    # the next run: nothing to change, nothing written
    with aws_proxy.AwsProxy(localstack.url) as proxy:
        again = run_playbook(localstack, inventory, env=through(proxy, localstack))
        writes, calls = proxy.writes(), proxy.snapshot()
    assert again.rc == 0 and sum(again.changed(e) for e in endpoints) == 0, again.output
    assert writes == [], writes
    # the shared topics were checked in the region's listings only: no call of their own
    assert not [c.key for c in calls if c.mentions(SHARED_STACK) or c.key == ("sns", "ListSubscriptionsByTopic")]


def test_a_subscriber_listed_two_ways_fails_the_later_endpoint_before_any_write(localstack, inventory):
    _, target = queue(localstack)
    first = inventory.add("fleet", unique("raw"), endpoint_monitoring_topic_mode="shared",
                          endpoint_monitoring_endpoint_subscribers=[
                              {"protocol": "sqs", "endpoint": target, "raw_message_delivery": True}])
    second = inventory.add("fleet", unique("plain"), endpoint_monitoring_topic_mode="shared",
                           endpoint_monitoring_endpoint_subscribers=[{"protocol": "sqs", "endpoint": target}])
    with aws_proxy.AwsProxy(localstack.url) as proxy:
        run = run_playbook(localstack, inventory, env=through(proxy, localstack))
        calls = proxy.snapshot()
    assert run.rc != 0 and run.failed(second) and not run.failed(first), run.output
    assert ("endpoint %r: endpoint_monitoring_*subscribers: sqs %s with raw_message_delivery false, but endpoint %r "
            "of the same region lists it with true" % (second, target, first)) in said(run), run.output
    assert not [c for c in calls if not c.read_only and c.mentions(stack_name(second))]
    subscribed = [s for s in subscriptions(localstack.client("sns"), shared_topics(localstack)["critical"])
                  if s[1] == target]
    assert subscribed == [("sqs", target)]


def test_switching_to_shared_topics_and_back_moves_the_actions_in_place_and_converges(localstack, inventory):
    _, team = queue(localstack)
    endpoint = inventory.add("fleet", unique("switch"), endpoint_monitoring_endpoint_subscribers=[
        {"protocol": "sqs", "endpoint": team}])
    assert run_playbook(localstack, inventory).rc == 0
    cfn, sns, cloudwatch = (localstack.client(s) for s in ("cloudformation", "sns", "cloudwatch"))
    stack = stack_name(endpoint)
    own_topic = outputs_of(cfn.describe_stacks(StackName=stack)["Stacks"][0])["TopicArn"]
    alarm = name_of(endpoint, VARIANT, "ModelLatency")
    alarm_arn = cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["AlarmArn"]

    inventory.host_vars(endpoint, {"endpoint_monitoring_topic_mode": "shared", "endpoint_monitoring_endpoint_subscribers": [
        {"protocol": "sqs", "endpoint": team}]})
    switched = run_playbook(localstack, inventory)
    assert switched.rc == 0, switched.output
    assert "~ topic %s is retired: no alarm notifies it; kept with its 1 subscription" % name_of(endpoint) \
        in said(switched), switched.output
    topics = shared_topics(localstack)
    template = template_of(cfn, stack)
    actions = template["Resources"]["AlarmAllTrafficModelLatency"]["Properties"]["AlarmActions"]
    assert actions == [{"Fn::Sub": "arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:"
                                   "sagemaker-monitoring_shared_critical"}], actions
    assert outputs_of(cfn.describe_stacks(StackName=stack)["Stacks"][0])["RetiredTopicArn"] == own_topic
    assert cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["AlarmArn"] == alarm_arn
    assert subscriptions(sns, own_topic) == [("sqs", team)]
    for arn in topics.values():
        assert [s for s in subscriptions(sns, arn) if s[1] == team] == [("sqs", team)]
    with aws_proxy.AwsProxy(localstack.url) as proxy:
        again = run_playbook(localstack, inventory, env=through(proxy, localstack))
        writes = proxy.writes()
    assert again.rc == 0 and again.changed(endpoint) == 0 and writes == [], (again.output, writes)

    # back to the endpoint's own topic: the same topic, taken back with its subscription
    inventory.host_vars(endpoint, {"endpoint_monitoring_endpoint_subscribers": [{"protocol": "sqs", "endpoint": team}]})
    back = run_playbook(localstack, inventory)
    assert back.rc == 0, back.output
    outputs = outputs_of(cfn.describe_stacks(StackName=stack)["Stacks"][0])
    assert outputs["TopicArn"] == own_topic and "RetiredTopicArn" not in outputs, outputs
    assert template_of(cfn, stack)["Resources"]["AlarmAllTrafficModelLatency"]["Properties"]["AlarmActions"] == [
        {"Ref": "AlarmTopic"}]
    assert subscriptions(sns, own_topic) == [("sqs", team)]
    final = run_playbook(localstack, inventory)
    assert final.rc == 0 and final.changed(endpoint) == 0, final.output


def test_shared_topics_that_cannot_be_written_fail_their_region_s_shared_endpoints_alone_and_the_next_run_repairs(
        localstack, inventory):
    # Every attempt to write the shared stack (if this run must: the file's first test may have made it) and to
    # subscribe this test's own subscriber (which this run must) gets a bare 502 page.
    _, target = queue(localstack)
    solo = inventory.add("fleet", unique("solo"))
    shared = [inventory.add("fleet", unique("blocked"), endpoint_monitoring_topic_mode="shared",
                            endpoint_monitoring_endpoint_subscribers=[
                                {"protocol": "sqs", "endpoint": target, "raw_message_delivery": True}])
              for _ in range(2)]

    def shared_write(call):
        stack_write = call.operation in ("CreateStack", "UpdateStack") and call.mentions(SHARED_STACK)
        return stack_write or (call.operation == "Subscribe" and call.mentions(target))

    with aws_proxy.AwsProxy(localstack.url, fault_rate=1.0, kinds=("html502",),
                            fault_filter=shared_write) as proxy:
        run = run_playbook(localstack, inventory, env=through(proxy, localstack))
        calls = proxy.snapshot()
    assert run.rc != 0, run.output
    assert run.failed(solo) == 0 and all(run.failed(e) for e in shared), run.output
    for endpoint in shared:
        assert ("endpoint '%s': the shared topics of %s (topic_mode shared) could not be kept right, so nothing of "
                "this endpoint was written" % (endpoint, REGION)) in said(run), run.output
        assert not [c for c in calls if not c.read_only and c.mentions(stack_name(endpoint))]
    assert [c for c in calls if shared_write(c)], "nothing of the shared topics was written"
    summary = run.summary()
    assert summary[solo][0] == "changed" and all(summary[e][0] == "FAILED" for e in shared), summary
    assert all("the shared topics of its region could not be kept right" in summary[e][1] for e in shared), summary

    again = run_playbook(localstack, inventory)
    assert again.rc == 0, again.output
    topics = shared_topics(localstack)
    for arn in topics.values():
        assert [s for s in subscriptions(localstack.client("sns"), arn) if s[1] == target] == [("sqs", target)]
    final = run_playbook(localstack, inventory)
    assert final.rc == 0 and sum(final.changed(e) for e in shared + [solo]) == 0, final.output
