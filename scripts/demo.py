"""`make demo`: monitor the example fleet on a local AWS, then breach an alarm and read its notification.

1. starts LocalStack on a free loopback port (stopped at the end, whatever happens);
2. creates the on-call SQS queue the example inventory subscribes;
3. previews one endpoint with --check --diff, then runs playbooks/monitor_endpoints.yml for the whole
   example inventory (3 endpoints in 2 groups), then runs it again to show nothing changes;
4. prints each stack's outputs;
5. sends ModelLatency datapoints above fraud-scoring's threshold and prints the alarm notification as
   the SQS subscriber received it.
"""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import local_aws  # noqa: E402

ROOT = local_aws.ROOT
REGION = "us-east-1"
INVENTORY = os.path.join(ROOT, "examples", "inventory")
PLAYBOOK = os.path.join(ROOT, "playbooks", "monitor_endpoints.yml")
QUEUE = "ml-oncall"
DEMO_ENDPOINT = "fraud-scoring"
DEMO_VARIANT = "AllTraffic"
DEMO_ALARM = "%s-%s-ModelLatency" % (DEMO_ENDPOINT, DEMO_VARIANT)
BREACH_MICROSECONDS = 250000.0  # 250 ms against a 100 ms threshold
WAIT_SECONDS = 120


def step(text):
    print("\n\033[1m==> %s\033[0m" % text, flush=True)


def ansible_playbook(env, *args):
    command = [os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), "-i", INVENTORY, PLAYBOOK] + list(args)
    print("$ ansible-playbook -i examples/inventory playbooks/monitor_endpoints.yml %s" % " ".join(args), flush=True)
    result = subprocess.run(command, cwd=ROOT, env=env)
    if result.returncode != 0:
        raise SystemExit("ansible-playbook failed with exit code %d" % result.returncode)


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
    step("Starting LocalStack on 127.0.0.1 (CloudFormation, CloudWatch, SNS, SQS)")
    server = local_aws.start_localstack()
    print("  %s (log: %s)" % (server.url, server.log_path))
    try:
        env = dict(os.environ)
        env.update(server.env(REGION))
        env["ANSIBLE_CONFIG"] = os.path.join(ROOT, "ansible.cfg")
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

        step("Breaching %s: ModelLatency %d us against a 100000 us threshold" % (DEMO_ENDPOINT, BREACH_MICROSECONDS))
        envelope = breach_and_wait(server.client("cloudwatch", REGION), sqs, queue_url)
        alarm = json.loads(envelope["Message"])
        step("Notification received by the SQS subscriber %s" % QUEUE)
        print("  Subject:  %s" % envelope["Subject"])
        print("  Topic:    %s" % envelope["TopicArn"])
        for key in ("AlarmName", "OldStateValue", "NewStateValue", "NewStateReason", "StateChangeTime"):
            print("  %-15s %s" % (key + ":", alarm.get(key)))
    finally:
        step("Stopping LocalStack")
        server.stop()


if __name__ == "__main__":
    main()
