"""A moto server on 127.0.0.1 in the test process, and what the tests make on it with boto3: monitoring stacks,
SNS subscriptions, SageMaker models and endpoints."""

import contextlib
import json
import logging
import socket
import urllib.request

import boto3
import yaml

from moto.server import ThreadedMotoServer

HOST = "127.0.0.1"
ROLE = "arn:aws:iam::123456789012:role/sagemaker"
CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


def closed_port_url():
    """The URL of a port on 127.0.0.1 that nothing listens on (connections are refused at once)."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind((HOST, 0))
        return "http://%s:%d" % (HOST, s.getsockname()[1])


def instance_variant(name, model, instance_type, count=1):
    return {"VariantName": name, "ModelName": model, "InstanceType": instance_type, "InitialInstanceCount": count,
            "InitialVariantWeight": 1.0}


def serverless_variant(name, model, memory=2048, concurrency=5, provisioned=None):
    config = {"MemorySizeInMB": memory, "MaxConcurrency": concurrency}
    if provisioned:
        config["ProvisionedConcurrency"] = provisioned
    return {"VariantName": name, "ModelName": model, "ServerlessConfig": config}


class Moto:
    def __init__(self):
        logging.getLogger("werkzeug").setLevel(logging.CRITICAL)  # one line per request otherwise
        logging.getLogger("moto").setLevel(logging.ERROR)  # a warning per resource type it does not model
        self.server = ThreadedMotoServer(ip_address=HOST, port=0, verbose=False)
        self.server.start()
        self.url = "http://%s:%d" % self.server.get_host_and_port()

    def stop(self):
        self.server.stop()

    def reset(self):
        urllib.request.urlopen(urllib.request.Request(self.url + "/moto-api/reset", method="POST"), timeout=10).read()

    def client(self, service, region="us-east-1"):
        return boto3.client(service, endpoint_url=self.url, region_name=region, **CREDENTIALS)

    # --- CloudFormation and SNS -------------------------------------------------------------------------

    def stack(self, name, template_body, tags, region="us-east-1", protected=False):
        """Creates a stack (done at once on moto) and returns its DescribeStacks entry."""
        cfn = self.client("cloudformation", region)
        cfn.create_stack(StackName=name, TemplateBody=template_body, EnableTerminationProtection=protected,
                         Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
        return cfn.describe_stacks(StackName=name)["Stacks"][0]

    def monitoring_stack(self, prepared, region=None):
        """An endpoint's stack as the role applies it (what monitoring_prepare or monitoring_plan computed): the
        rendered template, the spec's tags, termination protection."""
        from role_support import render_template
        from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.plan import outputs_of

        spec = prepared["spec"]
        protected = bool((prepared.get("plan_entry") or prepared.get("entry"))["termination_protection"])
        body = render_template(prepared)
        region = region or spec["region"]
        stack = self.stack(spec["stack_name"], body, spec["tags"], region, protected=protected)
        self.resources_moto_skips(yaml.safe_load(body), outputs_of(stack).get("TopicArn"), region)
        return stack

    def resources_moto_skips(self, template, topic_arn, region):
        """What moto's CloudFormation does not make of a stack template, made as CloudFormation would: the metric
        alarms, the dashboard and the topic policy. (moto has no composite alarms at all.) topic_arn: the stack's
        topic, None where it has none (topic_mode existing)."""
        account = self.client("sts", region).get_caller_identity()["Account"]
        cloudwatch, sns = self.client("cloudwatch", region), self.client("sns", region)

        def resolved(value):
            if isinstance(value, dict) and set(value) == {"Ref"}:
                return {"AlarmTopic": topic_arn, "AWS::AccountId": account, "AWS::Region": region}[value["Ref"]]
            if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
                return value["Fn::Sub"].replace("${AWS::AccountId}", account).replace("${AWS::Region}", region) \
                    .replace("${AWS::Partition}", "aws")
            if isinstance(value, dict):
                return dict((k, resolved(v)) for k, v in value.items())
            if isinstance(value, list):
                return [resolved(v) for v in value]
            return value

        for resource in template["Resources"].values():
            properties = resolved(resource.get("Properties") or {})
            if resource["Type"] == "AWS::CloudWatch::Alarm":
                cloudwatch.put_metric_alarm(**properties)
            elif resource["Type"] == "AWS::CloudWatch::Dashboard":
                cloudwatch.put_dashboard(**properties)
            elif resource["Type"] == "AWS::SNS::TopicPolicy":
                sns.set_topic_attributes(TopicArn=topic_arn, AttributeName="Policy",
                                         AttributeValue=json.dumps(properties["PolicyDocument"]))

    def small_stack(self, name, tags, fingerprint="0" * 16, region="us-east-1", **kwargs):
        """A stack with a topic and the outputs the plan reads, for tests that do not need the role's template."""
        template = {"Resources": {"AlarmTopic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": name}}},
                    "Outputs": {"TopicArn": {"Value": {"Ref": "AlarmTopic"}},
                                "MonitoringFingerprint": {"Value": fingerprint}}}
        return self.stack(name, json.dumps(template), tags, region, **kwargs)

    def subscribe(self, topic_arn, protocol, endpoint, region="us-east-1"):
        return self.client("sns", region).subscribe(TopicArn=topic_arn, Protocol=protocol, Endpoint=endpoint,
                                                    ReturnSubscriptionArn=True)["SubscriptionArn"]

    # --- SageMaker ------------------------------------------------------------------------------------------

    def model(self, name, region="us-east-1", multi_model=False):
        container = {"Image": "123456789012.dkr.ecr.%s.amazonaws.com/inference:1" % region,
                     "ModelDataUrl": "s3://models/%s/" % name}
        if multi_model:
            container["Mode"] = "MultiModel"
        self.client("sagemaker", region).create_model(ModelName=name, ExecutionRoleArn=ROLE,
                                                      PrimaryContainer=container)
        return name

    def endpoint(self, name, variants, region="us-east-1", **config):
        """An endpoint with a configuration of its own (NAME-config); returns its ListEndpoints entry."""
        sagemaker = self.client("sagemaker", region)
        sagemaker.create_endpoint_config(EndpointConfigName=name + "-config", ProductionVariants=variants, **config)
        sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name + "-config")
        return self.listed_endpoint(name, region)

    def listed_endpoint(self, name, region="us-east-1"):
        listed = self.client("sagemaker", region).list_endpoints()["Endpoints"]
        return [e for e in listed if e["EndpointName"] == name][0]
