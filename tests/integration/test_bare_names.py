"""Endpoints that an inventory names only, end to end: ``monitor_endpoints.yml`` with SageMaker on moto (where the
SageMaker API is real) and everything else on LocalStack, each behind a recording proxy (tests/support/aws_proxy.py).

1. a fleet listed by name is completed from SageMaker: a CPU endpoint gets no GPU alarms; the next run, with the
   same fact cache, describes nothing in SageMaker and reports the endpoint unchanged; once the endpoint is
   re-created on a GPU instance, the next run reads it again and adds the GPU alarms; an endpoint SageMaker lacks
   fails alone, with a message naming it;
2. one name in two regions (hosts NAME@us-east-1 and NAME@eu-west-1) is two endpoints, monitored in each region;
3. the region set only through module_defaults (group/aws, or the collection's group), with no AWS_REGION,
   reaches every AWS call of the run;
4. the faults of real networks (bare 500/503 pages without an AWS error code, dropped connections, answers slower
   than the read timeout) on a share of the calls: the run converges through botocore's standard retries and the
   next run is clean; a fault that persists in one region fails that region's endpoints only, each named.
"""

import json
import os
import subprocess
import sys

import pytest
import yaml

from conftest import ROOT, Inventory, ansible_env, run_playbook, template_of, unique
from test_inventory_plugin import untag

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.sagemaker_facts import FACTS_NAME

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "support"))

import aws_proxy  # noqa: E402

pytestmark = pytest.mark.integration

EAST, WEST = "us-east-1", "eu-west-1"
ROLE = "arn:aws:iam::123456789012:role/sagemaker"
ACCOUNT = "000000000000"  # LocalStack's
CPU, GPU = "ml.m5.xlarge", "ml.g4dn.xlarge"
GPU_METRICS = {"GPUUtilization", "GPUMemoryUtilization"}
DESCRIBES = ("DescribeEndpoint", "DescribeEndpointConfig", "DescribeModel")
# botocore reads retries.max_attempts (10, endpoint_monitoring_aws_config) as retries after the first attempt
ATTEMPTS = 11


# -- SageMaker (moto) ----------------------------------------------------------------------------------------

class Endpoints:
    """SageMaker endpoints of one test in moto, each on a model and configuration of its own."""

    def __init__(self, moto):
        self.moto = moto
        self.prefix = unique("bare")

    def name(self, short):
        return "%s-%s" % (self.prefix, short)

    def create(self, short, instance_type, region=EAST):
        name, client = self.name(short), self.moto.client("sagemaker", region)
        config = unique(name)
        client.create_model(ModelName=config, ExecutionRoleArn=ROLE, PrimaryContainer={
            "Image": "123456789012.dkr.ecr.%s.amazonaws.com/inference:1" % region})
        client.create_endpoint_config(EndpointConfigName=config, ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": config, "InstanceType": instance_type,
            "InitialInstanceCount": 1, "InitialVariantWeight": 1.0}])
        client.create_endpoint(EndpointName=name, EndpointConfigName=config)
        return name

    def recreate(self, short, instance_type, region=EAST):
        """The endpoint on a new configuration under the same name. (UpdateEndpoint would be the usual way; moto
        answers it with HTTP 500, so the endpoint is deleted and created again, which SageMaker also allows.)"""
        self.moto.client("sagemaker", region).delete_endpoint(EndpointName=self.name(short))
        return self.create(short, instance_type, region)


class SageMakerProxy(aws_proxy.AwsProxy):
    """A recording proxy in front of moto that answers ListInferenceComponents itself, as SageMaker answers for an
    account without inference components: moto lacks that API (an HTML 500 page, which botocore's standard mode
    retries for ~20 s before the plan warns and carries on with none; test 1 lets one run meet it)."""

    answer_components = True

    def _forward(self, method, path, headers, body):
        if self.answer_components and aws_proxy.classify(method, path, headers, body)[2] == "ListInferenceComponents":
            return 200, "OK", [("Content-Type", "application/x-amz-json-1.1")], b'{"InferenceComponents": []}'
        return aws_proxy.AwsProxy._forward(self, method, path, headers, body)


# -- runs ------------------------------------------------------------------------------------------------------

def bare_inventory(tmp_path, **group_vars):
    """An inventory whose endpoints are names only: no variants, no instance type."""
    inventory = Inventory(str(tmp_path / "inventory"))
    inventory.group_vars("all", dict({"endpoint_monitoring_variants": [], "endpoint_monitoring_instance_type": ""},
                                     **group_vars))
    return inventory


def split_env(localstack, moto, rest, sagemaker, fact_cache, region=EAST):
    """ansible-playbook's environment: SageMaker calls through the `sagemaker` proxy to moto, the others through
    the `rest` proxy to LocalStack, Ansible's fact cache in `fact_cache`."""
    env = ansible_env(localstack, region, sagemaker=moto, fact_cache=fact_cache)
    env.update(AWS_ENDPOINT_URL=rest.url, AWS_ENDPOINT_URL_SAGEMAKER=sagemaker.url)
    return env


def describes(proxy):
    return sorted((c.operation, c.region) for c in proxy.snapshot() if c.operation in DESCRIBES)


def writes(proxy):
    return [(c.operation, c.region, c.params.get("StackName") or c.params.get("TopicArn")) for c in proxy.writes()]


def cached_facts(inventory, env, host):
    """What Ansible's fact cache holds for the host (the SageMaker facts a run kept), read by Ansible itself."""
    env = dict(env, ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json")
    completed = subprocess.run([os.path.join(ROOT, ".venv", "bin", "ansible"), "-i", inventory.path, host,
                                "-m", "ansible.builtin.debug", "-a", "var=" + FACTS_NAME],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               universal_newlines=True, timeout=120)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    result = json.loads(completed.stdout)["plays"][0]["tasks"][0]["hosts"][host][FACTS_NAME]
    return result if isinstance(result, dict) else None  # else Ansible's words for an undefined variable


def alarm_metrics(localstack, endpoint, region=EAST):
    template = template_of(localstack.client("cloudformation", region), "sagemaker-monitoring-" + endpoint)
    return set(r["Properties"].get("MetricName") or r["Properties"]["Metrics"][0]["MetricStat"]["Metric"]["MetricName"]
               for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm")


def stack(localstack, endpoint, region):
    """The endpoint's live stack in the region, or None."""
    found = [s for page in localstack.client("cloudformation", region).get_paginator("list_stacks").paginate()
             for s in page["StackSummaries"]
             if s["StackName"] == "sagemaker-monitoring-" + endpoint and s["StackStatus"] != "DELETE_COMPLETE"]
    assert len(found) <= 1, found
    return found[0] if found else None


# -- 1. names completed from SageMaker, read again only when they change ---------------------------------------

def test_names_are_completed_from_sagemaker_and_read_again_only_when_the_endpoint_changes(localstack, moto,
                                                                                         tmp_path):
    endpoints = Endpoints(moto)
    cpu = endpoints.create("cpu", CPU)
    other = endpoints.create("other", "ml.c5.xlarge")
    missing = endpoints.name("missing")  # never created
    inventory = bare_inventory(tmp_path)
    for host in (cpu, other, missing):
        inventory.add("fleet", host)
    fact_cache = str(tmp_path / "facts")

    # First run: moto answers ListInferenceComponents with an HTML 500; botocore retries it as
    # endpoint_monitoring_aws_config says, then the plan warns and takes the endpoints to have none.
    with aws_proxy.AwsProxy(localstack.url) as rest, SageMakerProxy(moto.url) as sagemaker:
        sagemaker.answer_components = False
        env = split_env(localstack, moto, rest, sagemaker, fact_cache)
        first = run_playbook(localstack, inventory, env=env)
        listed = [c for c in sagemaker.snapshot() if c.operation == "ListInferenceComponents"]
        assert (len(listed), set(c.status for c in listed)) == (ATTEMPTS, {500}), sagemaker.snapshot()
        assert describes(sagemaker) == sorted((op, EAST) for op in DESCRIBES for _ in (cpu, other))
    summary = first.summary()
    assert first.rc == 2 and sorted(summary) == sorted([cpu, other, missing]), first.output
    assert summary[cpu][0] == summary[other][0] == "changed", first.output
    assert summary[missing] == ("FAILED", "endpoint %r: SageMaker has no endpoint %r in %s, and the inventory does "
                                          "not say what it is (endpoint_monitoring_variants)"
                                % (missing, missing, EAST)), first.output
    assert "Could not list SageMaker inference components in %s" % EAST in first.output
    assert stack(localstack, missing, EAST) is None
    cpu_metrics = alarm_metrics(localstack, cpu)
    assert "CPUUtilization" in cpu_metrics and not cpu_metrics & GPU_METRICS, cpu_metrics
    facts = cached_facts(inventory, env, cpu)
    assert (facts["endpoint"], facts["region"], facts["facts"]["endpoint_type"]) == (cpu, EAST, "realtime"), facts
    assert [(v["name"], v["instance_type"], v["vcpus"], v["gpus"]) for v in facts["facts"]["variants"]] == [
        ("AllTraffic", CPU, 4, 0)], facts
    assert cached_facts(inventory, env, missing) is None

    # Same fact cache, nothing changed in SageMaker: one ListEndpoints, no Describe call, nothing written.
    inventory.groups["fleet"].remove(missing)
    inventory.add("fleet", cpu)  # rewrites hosts.yml
    with aws_proxy.AwsProxy(localstack.url) as rest, SageMakerProxy(moto.url) as sagemaker:
        again = run_playbook(localstack, inventory, env=split_env(localstack, moto, rest, sagemaker, fact_cache))
        assert [(c.operation, c.region) for c in sagemaker.snapshot()] == [("ListEndpoints", EAST)], \
            sagemaker.snapshot()
        assert writes(rest) == [], writes(rest)
    assert again.rc == 0 and again.summary() == {
        cpu: ("unchanged", "sagemaker-monitoring-%s (none)" % cpu),
        other: ("unchanged", "sagemaker-monitoring-%s (none)" % other)}, again.output

    # The endpoint moves to a GPU instance: SageMaker's LastModifiedTime changes, so its facts are read again
    # (and only its), and the GPU alarms are added to its stack.
    endpoints.recreate("cpu", GPU)
    with aws_proxy.AwsProxy(localstack.url) as rest, SageMakerProxy(moto.url) as sagemaker:
        moved = run_playbook(localstack, inventory, env=split_env(localstack, moto, rest, sagemaker, fact_cache))
        assert describes(sagemaker) == sorted((op, EAST) for op in DESCRIBES), sagemaker.snapshot()
        assert [c.params["EndpointName"] for c in sagemaker.snapshot() if c.operation == "DescribeEndpoint"] == [cpu]
        assert [(op, stack_name) for op, _region, stack_name in writes(rest)] == [
            ("UpdateStack", "sagemaker-monitoring-" + cpu)], writes(rest)
    assert moved.rc == 0 and moved.summary()[cpu][0] == "changed" and moved.summary()[other][0] == "unchanged", \
        moved.output
    gpu_metrics = alarm_metrics(localstack, cpu)
    assert GPU_METRICS <= gpu_metrics and "CPUUtilization" in gpu_metrics, gpu_metrics
    assert [v["instance_type"] for v in cached_facts(inventory, env, cpu)["facts"]["variants"]] == [GPU]

    with aws_proxy.AwsProxy(localstack.url) as rest, SageMakerProxy(moto.url) as sagemaker:
        settled = run_playbook(localstack, inventory, env=split_env(localstack, moto, rest, sagemaker, fact_cache))
        assert describes(sagemaker) == [] and writes(rest) == [], (sagemaker.snapshot(), writes(rest))
    assert settled.rc == 0 and [s for s, _ in settled.summary().values()] == ["unchanged", "unchanged"], \
        settled.output


def test_the_facts_read_for_a_name_are_those_the_inventory_plugin_reads(localstack, moto, tmp_path):
    """The role's completion and the sagemaker_endpoints inventory plugin share sagemaker_facts: same endpoint, same
    facts (type, variants with instance types and counts, multi-model, inference components)."""
    endpoints = Endpoints(moto)
    name = endpoints.create("same", GPU)
    inventory = bare_inventory(tmp_path)
    inventory.add("fleet", name)
    fact_cache = str(tmp_path / "facts")
    with aws_proxy.AwsProxy(localstack.url) as rest, SageMakerProxy(moto.url) as sagemaker:
        env = split_env(localstack, moto, rest, sagemaker, fact_cache)
        run = run_playbook(localstack, inventory, env=env)
        assert run.rc == 0, run.output
        plugin = tmp_path / "found.sagemaker_endpoints.yml"
        plugin.write_text(yaml.safe_dump({"plugin": "mlops.sagemaker_monitoring.sagemaker_endpoints",
                                          "regions": [EAST], "name_patterns": [name]}))
        listed = subprocess.run([os.path.join(ROOT, ".venv", "bin", "ansible-inventory"), "-i", str(plugin), "--list"],
                                cwd=ROOT, env=dict(sagemaker.env(ansible_env(moto)), ANSIBLE_INVENTORY_UNPARSED_FAILED="1"),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    host_vars = untag(json.loads(listed.stdout))["_meta"]["hostvars"][name]
    plugin_facts = dict((key, host_vars["endpoint_monitoring_" + key])
                        for key in ("endpoint_type", "multi_model", "variants", "inference_components"))
    assert plugin_facts["variants"][0]["gpus"] == 1, plugin_facts
    assert cached_facts(inventory, env, name)["facts"] == plugin_facts


# -- 2. one name, two regions ---------------------------------------------------------------------------------

def test_one_name_in_two_regions_is_monitored_in_each(localstack, moto, tmp_path):
    endpoints = Endpoints(moto)
    name = endpoints.create("both", CPU, EAST)
    endpoints.create("both", GPU, WEST)
    inventory = bare_inventory(tmp_path)
    hosts = dict((region, inventory.add("fleet", "%s@%s" % (name, region))) for region in (EAST, WEST))
    fact_cache = str(tmp_path / "facts")

    with aws_proxy.AwsProxy(localstack.url) as rest, SageMakerProxy(moto.url) as sagemaker:
        env = split_env(localstack, moto, rest, sagemaker, fact_cache)
        first = run_playbook(localstack, inventory, env=env)
        assert describes(sagemaker) == sorted((op, region) for op in DESCRIBES for region in (EAST, WEST))
        created = sorted((op, region) for op, region, _stack in writes(rest))
        assert created == sorted([("CreateStack", EAST), ("CreateStack", WEST)]), writes(rest)
    assert first.rc == 0 and dict((h, s) for h, (s, _) in first.summary().items()) == {
        hosts[EAST]: "changed", hosts[WEST]: "changed"}, first.output
    for region in (EAST, WEST):
        found = stack(localstack, name, region)
        assert found and found["StackStatus"] == "CREATE_COMPLETE", (region, found)
        assert found["StackId"].split(":")[3] == region, found
    # each region's endpoint is the one SageMaker has there
    assert not alarm_metrics(localstack, name, EAST) & GPU_METRICS
    assert GPU_METRICS <= alarm_metrics(localstack, name, WEST)
    assert [v["instance_type"] for v in cached_facts(inventory, env, hosts[WEST])["facts"]["variants"]] == [GPU]
    assert [v["instance_type"] for v in cached_facts(inventory, env, hosts[EAST])["facts"]["variants"]] == [CPU]

    with aws_proxy.AwsProxy(localstack.url) as rest, SageMakerProxy(moto.url) as sagemaker:
        again = run_playbook(localstack, inventory, env=split_env(localstack, moto, rest, sagemaker, fact_cache))
        assert describes(sagemaker) == [] and writes(rest) == [], (sagemaker.snapshot(), writes(rest))
        assert sorted(c.region for c in sagemaker.snapshot()) == sorted([EAST, WEST])  # one ListEndpoints each
    assert again.rc == 0 and sorted(s for s, _ in again.summary().values()) == ["unchanged", "unchanged"], \
        again.output


# -- 3. the region from module_defaults ----------------------------------------------------------------------

PLAYBOOK = """
- name: Monitor the endpoints in the region module_defaults give
  hosts: all
  connection: local
  gather_facts: false
  module_defaults:
    %s:
      region: %s
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: Monitor the endpoints
      ansible.builtin.import_role:
        name: mlops.sagemaker_monitoring.endpoint_monitoring
        rolespec_validate: false
"""


@pytest.mark.parametrize("group", ["group/aws", "group/mlops.sagemaker_monitoring.aws"])
def test_the_region_of_module_defaults_reaches_every_call(localstack, moto, tmp_path, group):
    endpoints = Endpoints(moto)
    name = endpoints.create("west", CPU, WEST)  # SageMaker has it in eu-west-1 only
    inventory = bare_inventory(tmp_path)
    inventory.add("fleet", name)
    playbook = tmp_path / "monitor.yml"
    playbook.write_text(PLAYBOOK % (group, WEST))

    with aws_proxy.AwsProxy(localstack.url) as rest, SageMakerProxy(moto.url) as sagemaker:
        env = split_env(localstack, moto, rest, sagemaker, str(tmp_path / "facts"))
        for key in ("AWS_REGION", "AWS_DEFAULT_REGION"):
            env.pop(key)
        # nor a region from a configuration file of this machine
        env.update(AWS_CONFIG_FILE=str(tmp_path / "no-config"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-creds"))
        run = run_playbook(localstack, inventory, str(playbook), env=env)
        calls = sagemaker.snapshot() + rest.snapshot()
        assert calls and set(c.region for c in calls) == {WEST}, [(c, c.region) for c in calls]
        assert [op for op, _region, _stack in writes(rest)] == ["CreateStack"], writes(rest)
    assert run.rc == 0, run.output
    assert stack(localstack, name, WEST)["StackStatus"] == "CREATE_COMPLETE"
    assert stack(localstack, name, EAST) is None


# -- 4. faults ----------------------------------------------------------------------------------------------------

# What a network and the load balancers in front of AWS endpoints do now and then: bare error pages, dropped
# connections, answers slower than the read timeout.
NETWORK_FAULTS = ("html500", "html503", "reset", "delay")
READ_TIMEOUT = 3  # seconds; a "delay" fault holds the call 5-6 s
AWS_CONFIG = {"retries": {"mode": "standard", "max_attempts": 10}, "read_timeout": READ_TIMEOUT,
              "connect_timeout": READ_TIMEOUT}
FAULT_FLEET = 3


def sqs_arn(queue, region=EAST):
    return "arn:aws:sqs:%s:%s:%s" % (region, ACCOUNT, queue)


def subscriptions(localstack, topic_arn, region=EAST):
    pages = localstack.client("sns", region).get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn)
    return sorted((s["Protocol"], s["Endpoint"]) for page in pages for s in page["Subscriptions"])


def test_network_faults_on_a_share_of_the_calls_are_retried_and_the_run_converges(localstack, moto, tmp_path):
    endpoints = Endpoints(moto)
    inventory = bare_inventory(tmp_path, endpoint_monitoring_aws_config=AWS_CONFIG)
    queues = {}
    for i in range(FAULT_FLEET):
        name = endpoints.create("net%d" % i, GPU if i == 0 else CPU)
        queues[name] = unique("netq%d" % i)
        localstack.client("sqs").create_queue(QueueName=queues[name])
        inventory.add("fleet", name, endpoint_monitoring_endpoint_subscribers=[
            {"protocol": "sqs", "endpoint": sqs_arn(queues[name])}])
    fact_cache = str(tmp_path / "facts")
    # A quarter of the calls; the kinds take turns. (Seed 6 puts all four kinds among SageMaker's first 12 calls,
    # which are about all a run makes there; seed 144 faults six of calls 7 to 14 of the rest, where the run's
    # CreateStack calls come, after its plan's five listings and the lookups of the stacks, whatever their order.)
    faults = dict(fault_rate=0.25, kinds=NETWORK_FAULTS, delay=(READ_TIMEOUT + 2.0, READ_TIMEOUT + 3.0))

    with aws_proxy.AwsProxy(localstack.url, seed=144, **faults) as rest, \
            SageMakerProxy(moto.url, seed=6, **faults) as sagemaker:
        run = run_playbook(localstack, inventory, env=split_env(localstack, moto, rest, sagemaker, fact_cache))
        faulted = rest.faulted() + sagemaker.faulted()
        report = "%s\n%s" % ("\n".join("%r %s" % (c, c.region) for c in faulted), run.output)
        for proxy in (rest, sagemaker):
            assert set(c.fault for c in proxy.faulted()) == set(NETWORK_FAULTS), report
        assert [c for c in rest.faulted() if not c.read_only], "no write was faulted:\n" + report
        # the client gave up on each slow call and sent it again before its late answer: the read timeout of
        # endpoint_monitoring_aws_config reached every task that met one
        for proxy in (rest, sagemaker):
            calls = proxy.snapshot()
            for slow in [c for c in calls if c.fault == "delay"]:
                assert [c for c in calls if c.index > slow.index and c.key == slow.key and c.body == slow.body
                        and c.time < slow.time + slow.delay], "%r was not sent again in time\n%s" % (slow, report)
    assert run.rc == 0 and set(s for s, _ in run.summary().values()) == {"changed"}, report
    assert sorted(run.summary()) == sorted(queues), report

    cfn = localstack.client("cloudformation")
    for name, queue in queues.items():
        found = stack(localstack, name, EAST)
        assert found and found["StackStatus"] == "CREATE_COMPLETE", (name, found)
        outputs = dict((o["OutputKey"], o["OutputValue"])
                       for o in cfn.describe_stacks(StackName="sagemaker-monitoring-" + name)["Stacks"][0]["Outputs"])
        assert subscriptions(localstack, outputs["TopicArn"]) == [("sqs", sqs_arn(queue))], name
    assert GPU_METRICS <= alarm_metrics(localstack, endpoints.name("net0"))
    assert not alarm_metrics(localstack, endpoints.name("net1")) & GPU_METRICS

    with aws_proxy.AwsProxy(localstack.url) as rest, SageMakerProxy(moto.url) as sagemaker:
        again = run_playbook(localstack, inventory, env=split_env(localstack, moto, rest, sagemaker, fact_cache))
        assert writes(rest) == [] and describes(sagemaker) == [], (writes(rest), sagemaker.snapshot())
    assert again.rc == 0 and set(s for s, _ in again.summary().values()) == {"unchanged"}, again.output


@pytest.mark.parametrize("sagemaker_too", [True, False], ids=["every-service", "all-but-sagemaker"])
def test_a_fault_that_persists_in_one_region_fails_that_regions_endpoints_only(localstack, moto, tmp_path,
                                                                               sagemaker_too):
    endpoints = Endpoints(moto)
    inventory = bare_inventory(tmp_path)
    placed = {}
    for region, group in ((EAST, "east"), (WEST, "west")):
        inventory.group_vars(group, {"endpoint_monitoring_region": region})
        for i in range(2):
            placed[inventory.add(group, endpoints.create("%s%d" % (group, i), CPU, region))] = region
    west = sorted(h for h, r in placed.items() if r == WEST)
    fact_cache = str(tmp_path / "facts")

    # eu-west-1 answers every call with a bare 503 page: in SageMaker (the plan cannot complete the names) and
    # everywhere else, or everywhere but SageMaker (the plan cannot list the stacks)
    in_west = dict(fault_rate=1.0, kinds=("html503",), fault_filter=lambda call: call.region == WEST)
    with aws_proxy.AwsProxy(localstack.url, **in_west) as rest, \
            SageMakerProxy(moto.url, **(in_west if sagemaker_too else {})) as sagemaker:
        run = run_playbook(localstack, inventory, env=split_env(localstack, moto, rest, sagemaker, fact_cache))
        failing = rest.snapshot() + (sagemaker.snapshot() if sagemaker_too else [])
        west_calls = [c for c in failing if c.region == WEST]
        assert west_calls and set(c.status for c in west_calls) == {503}, west_calls
        assert [w for w in writes(rest) if w[1] == WEST] == []
    summary = run.summary()
    assert run.rc == 2 and sorted(summary) == sorted(placed), run.output
    for host, region in placed.items():
        status, message = summary[host]
        if region == EAST:
            assert status == "changed" and stack(localstack, host, EAST)["StackStatus"] == "CREATE_COMPLETE", \
                run.output
            continue
        assert status == "FAILED", run.output
        # named, with the region that failed and what it answered
        assert message.startswith("endpoint %r: " % host) and WEST in message and "503" in message, message
        assert stack(localstack, host, WEST) is None

    # the fault is gone: the next run puts the west endpoints right and leaves the east ones alone
    with aws_proxy.AwsProxy(localstack.url) as rest, SageMakerProxy(moto.url) as sagemaker:
        repaired = run_playbook(localstack, inventory, env=split_env(localstack, moto, rest, sagemaker, fact_cache))
        assert sorted((op, region) for op, region, _stack in writes(rest)) == [("CreateStack", WEST)] * 2, \
            writes(rest)
    assert repaired.rc == 0 and dict((h, s) for h, (s, _) in repaired.summary().items()) == dict(
        (h, "changed" if h in west else "unchanged") for h in placed), repaired.output
    with aws_proxy.AwsProxy(localstack.url) as rest, SageMakerProxy(moto.url) as sagemaker:
        clean = run_playbook(localstack, inventory, env=split_env(localstack, moto, rest, sagemaker, fact_cache))
        assert writes(rest) == [] and describes(sagemaker) == [], (writes(rest), sagemaker.snapshot())
    assert clean.rc == 0 and set(s for s, _ in clean.summary().values()) == {"unchanged"}, clean.output
