"""`make demo`: monitor the example fleet on a local AWS, then breach an alarm and read its notification.

1. starts LocalStack (stacks, alarms, SNS, SQS) and moto (the SageMaker API) on free loopback ports (stopped at
   the end, whatever happens), and creates in moto the example inventory's endpoints;
2. creates the on-call SQS queue the example inventory subscribes;
3. previews one endpoint with --check --diff, then runs playbooks/monitor_endpoints.yml for the whole
   example inventory (3 endpoints in 2 groups; two of them are listed by name only and completed from
   SageMaker), then runs it again to show nothing changes;
4. prints each stack's outputs;
5. sends ModelLatency datapoints above fraud-scoring's threshold and prints the alarm notification as
   the SQS subscriber received it;
6. draws fraud-scoring's dashboard from its CloudWatch data to preview/fraud-scoring.png (and .html);
7. discovers a second fleet of SageMaker endpoints of several types (on a moto server, where the SageMaker
   API is real) with the sagemaker_endpoints inventory plugin, and monitors it: each endpoint gets the
   alarms its type publishes metrics for.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import local_aws  # noqa: E402

ROOT = local_aws.ROOT
REGION = "us-east-1"
INVENTORY = os.path.join(ROOT, "examples", "inventory")
PLAYBOOK = os.path.join(ROOT, "playbooks", "monitor_endpoints.yml")
QUEUE = "ml-oncall"
DEMO_ENDPOINT = "fraud-scoring"
DEMO_VARIANT = "AllTraffic"
# The collection names an endpoint's alarms sagemaker-monitoring_<endpoint>_<variant>_<metric>.
ALARM_PREFIX = "sagemaker-monitoring_"
DEMO_ALARM = "%s%s_%s_ModelLatency" % (ALARM_PREFIX, DEMO_ENDPOINT, DEMO_VARIANT)
BREACH_MICROSECONDS = 250000.0  # 250 ms against a 100 ms threshold
WAIT_SECONDS = 120
PREVIEW_PLAYBOOK = os.path.join(ROOT, "playbooks", "preview_dashboards.yml")
PREVIEW_DIR = os.path.join(ROOT, "preview")
DISCOVERY_EXAMPLE = os.path.join(ROOT, "examples", "discovered.sagemaker_endpoints.yml")
ROLE_ARN = "arn:aws:iam::123456789012:role/sagemaker"


def step(text):
    print("\n\033[1m==> %s\033[0m" % text, flush=True)


def ansible(env, tool, inventory, *args):
    command = [os.path.join(ROOT, ".venv", "bin", tool), "-i", inventory] + list(args)
    def shown(path):
        return os.path.relpath(path, ROOT) if path.startswith(ROOT + os.sep) else path

    print("$ %s" % " ".join([tool, "-i", shown(inventory)] + [shown(a) for a in args]), flush=True)
    result = subprocess.run(command, cwd=ROOT, env=env)
    if result.returncode != 0:
        raise SystemExit("%s failed with exit code %d" % (tool, result.returncode))


def ansible_playbook(env, *args):
    ansible(env, "ansible-playbook", INVENTORY, PLAYBOOK, *args)


def preview_dashboard(env):
    """Draw the demo endpoint's dashboard from what CloudWatch now holds; return the PNG's path."""
    # LocalStack answers every metric-math query (the error-rate lines) with a 500, which AWS would answer: two
    # attempts each, not the ten that ride out a real 500, and those lines are drawn from synthetic data
    few_retries = json.dumps({"endpoint_monitoring_aws_config": {"retries": {"mode": "standard", "max_attempts": 2}}})
    ansible(env, "ansible-playbook", INVENTORY, PREVIEW_PLAYBOOK, "--limit", DEMO_ENDPOINT,
            "-e", "preview_source=cloudwatch", "-e", "preview_dir=%s" % PREVIEW_DIR, "-e", few_retries)
    return os.path.join(PREVIEW_DIR, DEMO_ENDPOINT + ".png")


def create_discoverable_fleet(sagemaker):
    """Endpoints of three types, as a team would have them in SageMaker."""
    def endpoint(name, variants, tags, **config):
        sagemaker.create_model(ModelName=name, ExecutionRoleArn=ROLE_ARN, PrimaryContainer={
            "Image": "123456789012.dkr.ecr.%s.amazonaws.com/%s:1" % (REGION, name), "ModelDataUrl": "s3://models/%s/" % name})
        for variant in variants:
            variant["ModelName"] = name
        sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=variants, **config)
        sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name,
                                  Tags=[{"Key": k, "Value": v} for k, v in tags.items()])

    endpoint("churn-gpu", [{"VariantName": v, "InstanceType": "ml.g4dn.xlarge", "InitialInstanceCount": 2,
                            "InitialVariantWeight": 0.5} for v in ("blue", "green")], {"team": "growth"})
    endpoint("search-ranker", [{"VariantName": "AllTraffic", "ServerlessConfig": {
        "MemorySizeInMB": 4096, "MaxConcurrency": 20, "ProvisionedConcurrency": 2}}], {"team": "search"})
    endpoint("doc-scorer", [{"VariantName": "AllTraffic", "InstanceType": "ml.m5.2xlarge",
                             "InitialInstanceCount": 1}], {"team": "search"},
             AsyncInferenceConfig={"OutputConfig": {"S3OutputPath": "s3://async-results/"}})


def create_example_fleet(sagemaker):
    """The example inventory's endpoints, as they run in SageMaker (the inventory names two of them only)."""
    for name, instance_type, variants in (("product-recs", "ml.c5.2xlarge", ["AllTraffic"]),
                                          ("similar-items", "ml.c5.2xlarge", ["blue", "green"]),
                                          ("fraud-scoring", "ml.g4dn.xlarge", ["AllTraffic"])):
        sagemaker.create_model(ModelName=name, ExecutionRoleArn=ROLE_ARN, PrimaryContainer={
            "Image": "123456789012.dkr.ecr.%s.amazonaws.com/%s:1" % (REGION, name)})
        sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[
            {"VariantName": v, "ModelName": name, "InstanceType": instance_type, "InitialInstanceCount": 1}
            for v in variants])
        sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)


def discovered_fleet(env, localstack, moto):
    """Discover endpoints on moto (SageMaker) and monitor them on LocalStack (alarms)."""
    step("Endpoints of three more types in SageMaker (moto), found by the sagemaker_endpoints inventory plugin")
    workdir = tempfile.mkdtemp(prefix="discovered-")
    try:
        create_discoverable_fleet(moto.client("sagemaker", REGION))
        with open(DISCOVERY_EXAMPLE) as f:
            config = yaml.safe_load(f)
        config["endpoint_url"] = moto.url  # discovery asks moto
        config["name_patterns"] = ["churn-gpu", "search-ranker", "doc-scorer"]  # not the example inventory's
        inventory = os.path.join(workdir, "fleet.sagemaker_endpoints.yml")
        with open(inventory, "w") as f:
            yaml.safe_dump(config, f)
        print("  inventory: examples/discovered.sagemaker_endpoints.yml, pointed at %s" % moto.url)

        step("The discovered fleet")
        ansible(env, "ansible-inventory", inventory, "--graph")

        step("Monitoring the discovered fleet (monitor_endpoints.yml, as shipped)")
        ansible(env, "ansible-playbook", inventory, PLAYBOOK)

        step("Alarms per endpoint: each type gets the metrics it publishes")
        cloudwatch = localstack.client("cloudwatch", REGION)
        for name in ("churn-gpu", "search-ranker", "doc-scorer"):
            alarms = cloudwatch.describe_alarms(AlarmNamePrefix="%s%s_" % (ALARM_PREFIX, name))["MetricAlarms"]
            # <variant>_<metric>, <metric> (endpoint-level) or either with _anomaly: the metric is the last other part
            metrics = sorted(set([p for p in a["AlarmName"].split("_") if p != "anomaly"][-1] for a in alarms))
            print("  %-14s %2d alarms on %s" % (name, len(alarms), ", ".join(metrics)))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def print_outputs(cfn):
    stacks = cfn.describe_stacks()["Stacks"]
    for stack in sorted(stacks, key=lambda s: s["StackName"]):
        tags = dict((t["Key"], t["Value"]) for t in stack.get("Tags", []))
        if tags.get("managed-by") != "mlops.sagemaker_monitoring":
            continue
        print("%s (%s)" % (stack["StackName"], stack["StackStatus"]))
        for output in sorted(stack.get("Outputs", []), key=lambda o: o["OutputKey"]):
            value = output["OutputValue"]
            if output["OutputKey"] == "AlarmNames":
                value = "%d alarms: %s" % (len(value.split(",")), value.replace(",", ", "))
            print("  %-14s %s" % (output["OutputKey"], value))


def breach_and_wait(cloudwatch, sqs, queue_url):
    deadline = time.time() + WAIT_SECONDS
    state = None
    while time.time() < deadline:
        cloudwatch.put_metric_data(Namespace="AWS/SageMaker", MetricData=[{
            "MetricName": "ModelLatency",
            "Dimensions": [{"Name": "EndpointName", "Value": DEMO_ENDPOINT},
                           {"Name": "VariantName", "Value": DEMO_VARIANT}],
            "Value": BREACH_MICROSECONDS,
            "Unit": "Microseconds",
        }])
        alarm = cloudwatch.describe_alarms(AlarmNames=[DEMO_ALARM])["MetricAlarms"][0]
        if alarm["StateValue"] != state:
            state = alarm["StateValue"]
            print("  %s is %s" % (DEMO_ALARM, state), flush=True)
        messages = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=2, MaxNumberOfMessages=10).get("Messages", [])
        for message in messages:
            envelope = json.loads(message["Body"])
            subject = envelope.get("Subject", "")
            if subject.startswith("ALARM") and DEMO_ALARM in subject:
                return envelope
    raise SystemExit("no ALARM notification for %s reached the queue within %ds" % (DEMO_ALARM, WAIT_SECONDS))


def main():
    step("Starting LocalStack (CloudFormation, CloudWatch, SNS, SQS) and moto (SageMaker) on 127.0.0.1")
    server = local_aws.start_localstack()
    print("  LocalStack %s (log: %s)" % (server.url, server.log_path))
    moto = local_aws.start_moto()
    print("  moto       %s (log: %s)" % (moto.url, moto.log_path))
    fact_cache = tempfile.mkdtemp(prefix="demo-facts-")
    try:
        create_example_fleet(moto.client("sagemaker", REGION))
        print("  SageMaker endpoints: product-recs, similar-items, fraud-scoring")
        env = dict((k, v) for k, v in os.environ.items() if not k.startswith("AWS_"))
        # SageMaker calls to moto, everything else to LocalStack, through botocore's own endpoint variables.
        env.update(local_aws.split_env(server, moto, REGION))
        env["ANSIBLE_CONFIG"] = os.path.join(ROOT, "ansible.cfg")
        env["ANSIBLE_CACHE_PLUGIN_CONNECTION"] = fact_cache
        sqs = server.client("sqs", REGION)
        queue_url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
        print("  on-call queue: %s" % queue_url)

        step("Preview: what would a run change for %s? (--check --diff, no write)" % DEMO_ENDPOINT)
        ansible_playbook(env, "--check", "--diff", "--limit", DEMO_ENDPOINT)

        step("Rolling out monitoring to the fleet")
        ansible_playbook(env)

        step("Running again: nothing to change (changed=0)")
        ansible_playbook(env)

        step("Stack outputs")
        print_outputs(server.client("cloudformation", REGION))

        step("Breaching %s: ModelLatency %d us (250 ms) against its 100 ms threshold" % (DEMO_ENDPOINT, BREACH_MICROSECONDS))
        envelope = breach_and_wait(server.client("cloudwatch", REGION), sqs, queue_url)
        alarm = json.loads(envelope["Message"])
        step("Notification received by the SQS subscriber %s" % QUEUE)
        print("  Subject:  %s" % envelope["Subject"])
        print("  Topic:    %s" % envelope["TopicArn"])
        for key in ("AlarmName", "OldStateValue", "NewStateValue", "NewStateReason", "StateChangeTime"):
            print("  %-15s %s" % (key + ":", alarm.get(key)))

        step("Dashboard preview: %s as CloudWatch would draw it, from its data and alarm states" % DEMO_ENDPOINT)
        png = preview_dashboard(env)
        print("  %s (lines without data are made up and dashed; the page beside it lists the widgets)" % png)

        discovered_fleet(env, server, moto)
    finally:
        step("Stopping LocalStack and moto")
        moto.stop()
        server.stop()
        shutil.rmtree(fact_cache, ignore_errors=True)


if __name__ == "__main__":
    main()
