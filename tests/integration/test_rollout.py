"""The real playbooks against LocalStack, where stacks, alarms, alarm evaluation and SNS delivery are real."""

import json
import time

import pytest

from conftest import REGION, run_playbook, template_of, unique

pytestmark = pytest.mark.integration

SQS_PREFIX = "arn:aws:sqs:%s:000000000000:" % REGION
CPU_METRICS = {
    "InvocationsPerInstance", "Invocation4XXErrors", "Invocation5XXErrors", "ModelLatency", "OverheadLatency",
    "CPUUtilization", "MemoryUtilization", "DiskUtilization",
}
GPU_METRICS = CPU_METRICS | {"GPUUtilization", "GPUMemoryUtilization"}
INVOCATION_METRICS = {"InvocationsPerInstance", "Invocation4XXErrors", "Invocation5XXErrors", "ModelLatency",
                      "OverheadLatency", "Invocations"}


def alarms_of(cloudwatch, endpoint):
    pages = cloudwatch.get_paginator("describe_alarms").paginate(AlarmNamePrefix="sagemaker-monitoring_%s_" % endpoint)
    return dict((a["AlarmName"], a) for page in pages for a in page["MetricAlarms"])


def stack_of(cfn, endpoint):
    try:
        return cfn.describe_stacks(StackName="sagemaker-monitoring-" + endpoint)["Stacks"][0]
    except cfn.exceptions.ClientError:
        return None


def outputs_of(stack):
    return dict((o["OutputKey"], o["OutputValue"]) for o in stack.get("Outputs", []))


def subscriptions_of(sns, topic_arn):
    return sorted((s["Protocol"], s["Endpoint"]) for s in sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"])


@pytest.fixture
def fleet(localstack, inventory):
    """Two groups, three endpoints: fleet defaults in group_vars, an override in host_vars, two variants."""
    sqs = localstack.client("sqs")
    queue = unique("oncall")
    sqs.create_queue(QueueName=queue)
    inventory.group_vars("all", {
        "endpoint_monitoring_metrics": {"ModelLatency": {"threshold": 500}, "Invocation5XXErrors": {"threshold": 2}},
        "endpoint_monitoring_subscribers": [{"protocol": "sqs", "endpoint": SQS_PREFIX + queue}],
        "endpoint_monitoring_tags": {"team": "ml-platform"},
    })
    inventory.group_vars("cpu", {"endpoint_monitoring_instance_type": "ml.c5.4xlarge",
                                 "endpoint_monitoring_group_metrics": {"ModelLatency": {"threshold": 300}}})
    inventory.group_vars("gpu", {"endpoint_monitoring_instance_type": "ml.g4dn.xlarge"})
    names = {"recs": unique("recs"), "ab": unique("ab"), "gpu": unique("gpu")}
    inventory.add("cpu", names["recs"])
    inventory.add("cpu", names["ab"], endpoint_monitoring_variants=["blue", "green"])
    inventory.add("gpu", names["gpu"], endpoint_monitoring_endpoint_metrics={
        "ModelLatency": {"threshold": 100, "period": 60, "evaluation_periods": 5, "datapoints_to_alarm": 3,
                         "statistic": "p99"}})
    return inventory, names, queue


def test_rollout_creates_what_the_variables_say_and_rerun_changes_nothing(localstack, fleet):
    inventory, names, queue = fleet
    first = run_playbook(localstack, inventory)
    assert first.rc == 0, first.output
    for host in names.values():
        assert first.changed(host) > 0
    assert "endpoints: 3; changed 3" in first.output

    cloudwatch, cfn, sns = localstack.client("cloudwatch"), localstack.client("cloudformation"), localstack.client("sns")

    recs = alarms_of(cloudwatch, names["recs"])
    # a CPU instance publishes no GPU metrics, so it gets no GPU alarms
    assert set(recs) == set("sagemaker-monitoring_%s_AllTraffic_%s" % (names["recs"], m) for m in CPU_METRICS)
    latency = recs["sagemaker-monitoring_%s_AllTraffic_ModelLatency" % names["recs"]]
    assert latency["Namespace"] == "AWS/SageMaker"
    assert latency["Threshold"] == 300000  # the group's 300 ms beats the fleet's 500 ms; CloudWatch counts µs
    assert latency["Statistic"] == "Average"
    assert (latency["Period"], latency["EvaluationPeriods"], latency["DatapointsToAlarm"]) == (300, 3, 3)
    assert sorted((d["Name"], d["Value"]) for d in latency["Dimensions"]) == [
        ("EndpointName", names["recs"]), ("VariantName", "AllTraffic")]
    assert latency["ComparisonOperator"] == "GreaterThanThreshold"
    assert latency["TreatMissingData"] == "notBreaching"
    errors = recs["sagemaker-monitoring_%s_AllTraffic_Invocation5XXErrors" % names["recs"]]
    # an error rate in percent of requests, by metric math, with the catalog's minimum-traffic guard
    assert errors["Threshold"] == 2
    queries = dict((q["Id"], q) for q in errors["Metrics"])
    assert queries["rate"]["Expression"] == "IF(invocations >= 50, 100 * errors / invocations, 0)"
    assert queries["errors"]["MetricStat"]["Metric"]["MetricName"] == "Invocation5XXErrors"
    assert queries["invocations"]["MetricStat"]["Metric"]["MetricName"] == "Invocations"
    assert queries["errors"]["MetricStat"]["Stat"] == "Sum"
    cpu = recs["sagemaker-monitoring_%s_AllTraffic_CPUUtilization" % names["recs"]]
    assert cpu["Namespace"] == "/aws/sagemaker/Endpoints"
    assert cpu["Threshold"] == 80 * 16  # 80 % per vCPU on a 16-vCPU ml.c5.4xlarge

    ab = alarms_of(cloudwatch, names["ab"])
    assert len(ab) == 2 * len(CPU_METRICS)
    assert {name.split("_")[2] for name in ab} == {"blue", "green"}  # sagemaker-monitoring_<endpoint>_<variant>_...
    for alarm in ab.values():
        dims = alarm["Dimensions"] or alarm["Metrics"][0]["MetricStat"]["Metric"]["Dimensions"]
        variant = [d["Value"] for d in dims if d["Name"] == "VariantName"]
        assert variant and alarm["AlarmName"].startswith("sagemaker-monitoring_%s_%s_" % (names["ab"], variant[0]))

    gpu = alarms_of(cloudwatch, names["gpu"])
    assert set(gpu) == set("sagemaker-monitoring_%s_AllTraffic_%s" % (names["gpu"], m) for m in GPU_METRICS)
    gpu_latency = gpu["sagemaker-monitoring_%s_AllTraffic_ModelLatency" % names["gpu"]]
    # host_vars override only the keys they name; everything else still comes from the fleet and catalog
    assert gpu_latency["ExtendedStatistic"] == "p99"
    assert (gpu_latency["Threshold"], gpu_latency["Period"], gpu_latency["EvaluationPeriods"],
            gpu_latency["DatapointsToAlarm"]) == (100000, 60, 5, 3)
    assert gpu["sagemaker-monitoring_%s_AllTraffic_Invocation5XXErrors" % names["gpu"]]["Threshold"] == 2

    for key, endpoint in names.items():
        stack = stack_of(cfn, endpoint)
        assert stack["StackStatus"] == "CREATE_COMPLETE"
        tags = dict((t["Key"], t["Value"]) for t in stack["Tags"])
        assert tags["managed-by"] == "mlops.sagemaker_monitoring" and tags["team"] == "ml-platform"
        outputs = outputs_of(stack)
        assert outputs["DashboardUrl"].startswith("https://%s.console.aws.amazon.com/cloudwatch/" % REGION)
        assert outputs["DashboardUrl"].endswith("#dashboards/dashboard/sagemaker-monitoring_%s_%s" % (endpoint, REGION))
        alarms = alarms_of(cloudwatch, endpoint)
        assert set(outputs["AlarmNames"].split(",")) == set(alarms)
        for alarm in alarms.values():
            assert alarm["AlarmActions"] == [outputs["TopicArn"]]
        health = cloudwatch.describe_alarms(AlarmNames=[outputs["HealthAlarmName"]], AlarmTypes=["CompositeAlarm"])
        rule = health["CompositeAlarms"][0]["AlarmRule"]
        assert sorted(rule.split(" OR ")) == sorted('ALARM("%s")' % a for a in alarms)
        assert subscriptions_of(sns, outputs["TopicArn"]) == [("sqs", SQS_PREFIX + queue)]

    second = run_playbook(localstack, inventory)
    assert second.rc == 0, second.output
    assert sorted(second.recap) == sorted(names.values()), second.output  # unchanged endpoints are listed too
    for host in names.values():
        assert second.changed(host) == 0, second.output
    assert "endpoints: 3; unchanged 3" in second.output


def test_changed_threshold_shows_in_check_mode_without_writing_and_next_run_applies_it(localstack, inventory):
    endpoint = inventory.add("fleet", unique("check"))
    assert run_playbook(localstack, inventory).rc == 0
    cloudwatch, cfn = localstack.client("cloudwatch"), localstack.client("cloudformation")
    alarm_name = "sagemaker-monitoring_%s_AllTraffic_ModelLatency" % endpoint
    before_stack = stack_of(cfn, endpoint)
    before_alarm = alarms_of(cloudwatch, endpoint)[alarm_name]

    inventory.host_vars(endpoint, {"endpoint_monitoring_endpoint_metrics": {"ModelLatency": {"threshold": 250}}})
    preview = run_playbook(localstack, inventory, "monitor_endpoints.yml", "--check", "--diff")
    assert preview.rc == 0, preview.output
    assert "Threshold 1000000 -> 250000" in preview.output, preview.output
    assert "would be update" in preview.output

    after_stack = stack_of(cfn, endpoint)
    assert after_stack.get("LastUpdatedTime") == before_stack.get("LastUpdatedTime")
    assert after_stack["StackStatus"] == before_stack["StackStatus"]
    assert alarms_of(cloudwatch, endpoint)[alarm_name]["Threshold"] == before_alarm["Threshold"] == 1000000

    applied = run_playbook(localstack, inventory)
    assert applied.rc == 0 and applied.changed(endpoint) > 0, applied.output
    # LocalStack does not implement updates of AWS::CloudWatch::Alarm (it logs "the update operation is not
    # implemented" and leaves the alarm as it was), so the update is checked where LocalStack is real: the
    # deployed template and the alarm resource's update event. On AWS, CloudFormation updates the alarm in place.
    stack_name = "sagemaker-monitoring-" + endpoint
    deployed = template_of(cfn, stack_name)
    latency = [r for r in deployed["Resources"].values() if r["Properties"].get("AlarmName") == alarm_name]
    assert latency[0]["Properties"]["Threshold"] == 250000
    assert stack_of(cfn, endpoint)["StackStatus"] == "UPDATE_COMPLETE"
    events = cfn.describe_stack_events(StackName=stack_name)["StackEvents"]
    assert any(e["LogicalResourceId"] == "AlarmAllTrafficModelLatency" and e["ResourceStatus"] == "UPDATE_COMPLETE"
               for e in events)
    again = run_playbook(localstack, inventory, "monitor_endpoints.yml", "--check")
    assert again.changed(endpoint) == 0, again.output


def test_breach_moves_alarm_to_alarm_and_reaches_sqs_subscriber(localstack, inventory):
    sqs = localstack.client("sqs")
    queue = unique("pager")
    queue_url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    endpoint = inventory.add("fleet", unique("breach"), endpoint_monitoring_endpoint_subscribers=[
        {"protocol": "sqs", "endpoint": SQS_PREFIX + queue}],
        endpoint_monitoring_endpoint_metrics={"ModelLatency": {
            "threshold": 100, "period": 10, "evaluation_periods": 1, "datapoints_to_alarm": 1}})
    assert run_playbook(localstack, inventory).rc == 0
    cloudwatch = localstack.client("cloudwatch")
    alarm_name = "sagemaker-monitoring_%s_AllTraffic_ModelLatency" % endpoint
    deadline = time.time() + 90
    notification = None
    while time.time() < deadline and notification is None:
        # 250 ms answers against a 100 ms threshold (the metric is in microseconds).
        cloudwatch.put_metric_data(Namespace="AWS/SageMaker", MetricData=[
            {"MetricName": "ModelLatency", "Value": 250000.0, "Unit": "Microseconds",
             "Dimensions": [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": "AllTraffic"}]}])
        for message in sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=2).get("Messages", []):
            body = json.loads(message["Body"])
            if body.get("Subject", "").startswith("ALARM") and alarm_name in body["Subject"]:
                notification = body
    assert notification is not None, "no ALARM notification reached the queue"
    assert json.loads(notification["Message"])["NewStateValue"] == "ALARM"
    assert cloudwatch.describe_alarms(AlarmNames=[alarm_name])["MetricAlarms"][0]["StateValue"] == "ALARM"
    # The other alarms of the endpoint saw no breach of their own metric and stay out of ALARM.
    others = [a for n, a in alarms_of(cloudwatch, endpoint).items() if n != alarm_name]
    assert others and all(a["StateValue"] != "ALARM" for a in others)


def test_bad_endpoint_fails_alone_with_a_message_naming_it_and_a_summary(localstack, inventory):
    good = inventory.add("fleet", unique("good"))
    bad = inventory.add("fleet", unique("bad"), endpoint_monitoring_endpoint_metrics={"ModelLatency": {"period": 45}})
    typo = inventory.add("fleet", unique("typo"), endpoint_monitoring_endpoint_metric={"ModelLatency": {"threshold": 5}})
    run = run_playbook(localstack, inventory)
    assert run.rc != 0
    assert run.failed(bad) == 1 and run.failed(typo) == 1 and run.failed(good) == 0
    assert ("endpoint %r: endpoint_monitoring_endpoint_metrics.ModelLatency.period: 45 is not a period" % bad) in run.output
    assert ("endpoint %r: endpoint_monitoring_endpoint_metric: unknown variable" % typo) in run.output
    assert "endpoint_monitoring_endpoint_metrics" in run.output.split("endpoint_monitoring_endpoint_metric: unknown variable")[1][:80]
    assert "endpoints: 3; changed 1, failed 2" in run.output
    cfn = localstack.client("cloudformation")
    assert stack_of(cfn, good)["StackStatus"] == "CREATE_COMPLETE"
    assert stack_of(cfn, bad) is None and stack_of(cfn, typo) is None


def test_subscribers_are_added_once_and_removed_only_with_purge(localstack, inventory):
    sqs, sns = localstack.client("sqs"), localstack.client("sns")
    queues = dict((k, unique(k)) for k in ("team", "old", "theirs"))
    for queue in queues.values():
        sqs.create_queue(QueueName=queue)
    listed = [{"protocol": "sqs", "endpoint": SQS_PREFIX + queues["team"]},
              {"protocol": "sqs", "endpoint": SQS_PREFIX + queues["old"]}]
    endpoint = inventory.add("fleet", unique("subs"), endpoint_monitoring_endpoint_subscribers=listed)
    assert run_playbook(localstack, inventory).rc == 0
    topic = outputs_of(stack_of(localstack.client("cloudformation"), endpoint))["TopicArn"]
    # Someone subscribes their own queue by hand.
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=SQS_PREFIX + queues["theirs"])
    assert len(subscriptions_of(sns, topic)) == 3

    inventory.host_vars(endpoint, {"endpoint_monitoring_endpoint_subscribers": listed[:1]})
    kept = run_playbook(localstack, inventory)
    assert kept.rc == 0 and kept.changed(endpoint) == 0, kept.output
    assert len(subscriptions_of(sns, topic)) == 3  # nothing removed without purge

    preview = run_playbook(localstack, inventory, "monitor_endpoints.yml", "--check", "--diff",
                           "-e", "endpoint_monitoring_purge_subscriptions=true")
    assert "- subscription sqs %s" % (SQS_PREFIX + queues["old"]) in preview.output
    assert len(subscriptions_of(sns, topic)) == 3

    purged = run_playbook(localstack, inventory, "monitor_endpoints.yml", "-e", "endpoint_monitoring_purge_subscriptions=true")
    assert purged.rc == 0, purged.output
    assert subscriptions_of(sns, topic) == [("sqs", SQS_PREFIX + queues["team"])]


def test_teardown_removes_what_the_collection_made_and_nothing_else(localstack, inventory):
    cfn, cloudwatch, sns = (localstack.client(s) for s in ("cloudformation", "cloudwatch", "sns"))
    managed = inventory.add("fleet", unique("gone"))
    assert run_playbook(localstack, inventory).rc == 0
    topic = outputs_of(stack_of(cfn, managed))["TopicArn"]

    # A stack of the user's with the name the collection would use, and an alarm of the user's on the same endpoint,
    # even named like the collection's: teardown removes the stack's alarms only.
    foreign = unique("theirs")
    cfn.create_stack(StackName="sagemaker-monitoring-" + foreign, TemplateBody=json.dumps(
        {"Resources": {"T": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": foreign}}}}))
    user_alarm = "sagemaker-monitoring_%s_their-own-alarm" % managed
    cloudwatch.put_metric_alarm(AlarmName=user_alarm, Namespace="AWS/SageMaker", MetricName="Invocations",
                                Dimensions=[{"Name": "EndpointName", "Value": managed}], Statistic="Sum", Period=60,
                                EvaluationPeriods=1, Threshold=1, ComparisonOperator="LessThanThreshold")
    inventory.add("fleet", foreign)
    for _ in range(50):
        if stack_of(cfn, foreign)["StackStatus"].endswith("COMPLETE"):
            break
        time.sleep(0.2)

    preview = run_playbook(localstack, inventory, "teardown.yml", "--check")
    assert stack_of(cfn, managed) is not None

    run = run_playbook(localstack, inventory, "teardown.yml")
    assert run.failed(foreign) == 1 and run.failed(managed) == 0, run.output
    assert "not tagged managed-by=mlops.sagemaker_monitoring" in run.output
    assert preview.changed(managed) > 0
    assert stack_of(cfn, managed) is None
    assert set(alarms_of(cloudwatch, managed)) == {user_alarm}
    assert topic not in [t["TopicArn"] for t in sns.list_topics()["Topics"]]
    assert stack_of(cfn, foreign)["StackStatus"] == "CREATE_COMPLETE"

    again = run_playbook(localstack, inventory, "teardown.yml", "--limit", managed)
    assert again.rc == 0 and again.changed(managed) == 0, again.output
