"""A discovered fleet, end to end, on moto (where the SageMaker API and CloudFormation stacks are real):
the inventory plugin finds the endpoints, monitor_endpoints.yml runs on it unchanged with a metric set that
follows each endpoint's type, and pruning removes the collection's stacks of deleted endpoints only."""

import json
import re
import uuid

import pytest
import yaml

from conftest import run_playbook, template_of

pytestmark = pytest.mark.integration

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/sagemaker"


class Path:
    def __init__(self, path):
        self.path = path


def alarm_metrics(cfn, endpoint):
    template = template_of(cfn, "sagemaker-monitoring-" + endpoint)
    metrics = set()
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        props = resource["Properties"]
        metrics.add(props.get("MetricName") or props["Metrics"][0]["MetricStat"]["Metric"]["MetricName"])
    return metrics


@pytest.fixture(scope="module")
def fleet(moto, tmp_path_factory):
    sagemaker = moto.client("sagemaker", REGION)
    prefix = "disc%s" % uuid.uuid4().hex[:6]

    def endpoint(short, variants, **config):
        name = "%s-%s" % (prefix, short)
        sagemaker.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={
            "Image": "123456789012.dkr.ecr.%s.amazonaws.com/inference:1" % REGION, "ModelDataUrl": "s3://m/%s/" % short})
        for variant in variants:
            variant["ModelName"] = name
        sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=variants, **config)
        sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
        return name

    def instances(instance_type):
        return [{"VariantName": "AllTraffic", "InstanceType": instance_type, "InitialInstanceCount": 1,
                 "InitialVariantWeight": 1.0}]

    names = {
        "cpu": endpoint("cpu", instances("ml.m5.xlarge")),
        "gpu": endpoint("gpu", instances("ml.g4dn.xlarge")),
        "serverless": endpoint("srv", [{"VariantName": "AllTraffic", "ServerlessConfig": {
            "MemorySizeInMB": 2048, "MaxConcurrency": 5}}]),
        "async": endpoint("async", instances("ml.m5.xlarge"), AsyncInferenceConfig={
            "OutputConfig": {"S3OutputPath": "s3://out/"}}),
    }
    path = tmp_path_factory.mktemp("discovered") / "fleet.sagemaker_endpoints.yml"
    # moto answers ListInferenceComponents, which it lacks, with HTTP 500: three attempts, not the plugin's eleven.
    path.write_text(yaml.safe_dump({"plugin": "mlops.sagemaker_monitoring.sagemaker_endpoints",
                                    "regions": [REGION], "name_patterns": [prefix + "-*"],
                                    "aws_config": {"retries": {"mode": "standard", "max_attempts": 2}}}))
    return names, Path(str(path))


def test_discovered_fleet_is_monitored_by_type_and_pruned_when_an_endpoint_goes(moto, fleet):
    names, inventory = fleet
    cfn = moto.client("cloudformation", REGION)

    first = run_playbook(moto, inventory)
    assert first.rc == 0, first.output
    assert "endpoints: 4; changed 4" in first.output

    cpu = alarm_metrics(cfn, names["cpu"])
    assert "CPUUtilization" in cpu and "GPUUtilization" not in cpu
    assert {"GPUUtilization", "GPUMemoryUtilization"} <= alarm_metrics(cfn, names["gpu"])
    serverless = alarm_metrics(cfn, names["serverless"])
    assert "ServerlessConcurrentExecutionsUtilization" in serverless
    assert not serverless & {"CPUUtilization", "DiskUtilization", "InvocationsPerInstance"}
    asynchronous = alarm_metrics(cfn, names["async"])
    assert {"ApproximateBacklogSize", "HasBacklogWithoutCapacity"} <= asynchronous
    assert not asynchronous & {"InvocationsPerInstance", "OverheadLatency", "Invocation5XXErrors"}

    again = run_playbook(moto, inventory)
    assert again.rc == 0 and "endpoints: 4; unchanged 4" in again.output, again.output

    # A stack of someone else's for an endpoint that does not exist: never the collection's to prune.
    ghost = "sagemaker-monitoring-%s-ghost" % names["cpu"].split("-")[0]
    cfn.create_stack(StackName=ghost, TemplateBody=json.dumps(
        {"Resources": {"T": {"Type": "AWS::SNS::Topic"}}}), Tags=[{"Key": "sagemaker-endpoint", "Value": "ghost"}])

    moto.client("sagemaker", REGION).delete_endpoint(EndpointName=names["gpu"])
    gone = "sagemaker-monitoring-" + names["gpu"]

    preview = run_playbook(moto, inventory, "monitor_endpoints.yml", "--check", "--diff",
                           "-e", "sagemaker_monitoring_prune=true")
    assert preview.rc == 0, preview.output
    # the preview names the one stack of this test's the prune would remove (amazon.aws.cloudformation, state
    # absent, in check mode); the moto server is shared with other test files, whose endpoints are gone too
    removal = preview.output.split("TASK [Remove the monitoring of endpoints that no longer exist]", 1)[1]
    ours = "sagemaker-monitoring-" + names["cpu"].split("-")[0]
    assert [m for m in re.findall(r"^(\w+): \[[^\]]+\] => \(item=(\S+) \((\S+)\)\)$", removal, re.M)
            if m[1].startswith(ours)] == [("changed", gone, REGION)], preview.output
    assert cfn.describe_stacks(StackName=gone)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"

    pruned = run_playbook(moto, inventory, "monitor_endpoints.yml", "-e", "sagemaker_monitoring_prune=true")
    assert pruned.rc == 0, pruned.output
    remaining = dict((s["StackName"], s["StackStatus"]) for s in cfn.describe_stacks()["Stacks"])
    assert remaining.get(gone, "DELETE_COMPLETE") == "DELETE_COMPLETE"
    for key in ("cpu", "serverless", "async"):
        assert remaining["sagemaker-monitoring-" + names[key]] in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
    assert remaining[ghost] == "CREATE_COMPLETE"
