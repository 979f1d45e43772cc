"""Every path of the collection through 20 % faults: each call of a run goes through a proxy
(tests/support/aws_proxy.py) that answers a fifth of them with one of every default fault in turn (throttling, 500
and 503 with an AWS error code, bare 500/502/503/504 pages, reset and dropped connections, answers withheld past the
client's read timeout after the call took effect, slow answers). SageMaker is moto, the rest LocalStack, each behind
its own proxy; the endpoints are found by the inventory plugin, so every run lists them through faults too.

1. the inventory plugin lists the same endpoints with the same variables as without faults; a rollout (stacks,
   subscriptions, the fleet dashboard) leaves every stack, alarm, subscription and dashboard there exactly once;
   the backtest and the dashboard preview from CloudWatch say what they say without faults; pruning removes the
   stack of the endpoint SageMaker no longer has and nothing else; teardown leaves nothing; no endpoint failed;
2. every write of a rollout, a change and a teardown whose first answer is lost after it took effect (CreateStack,
   Subscribe, PutDashboard; UpdateStack, PutDashboard; DeleteStack, DeleteDashboards) is retried and reported as
   this run's work: amazon.aws.cloudformation's client request token makes the retried CreateStack and UpdateStack
   answer as the first attempt (the proxy keeps CloudFormation's promise, which LocalStack does not: without it the
   endpoints fail with "already exists"); tests/unit/test_lost_answers.py shows the modules' side with botocore's
   Stubber.

Everything runs in us-west-2, a region no other test file uses: pruning there removes only this file's stacks.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

import pytest
import yaml

from conftest import ROOT, ansible_env, run_playbook, unique
from test_bare_names import Endpoints, SageMakerProxy, split_env
from test_fleet_options import fleet_sections
from test_inventory_plugin import untag
from test_safety import CPU_METRICS, alarms_named, live_stacks_named, name_of, outputs_of, stack_name, subscriptions

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "support"))

import aws_proxy  # noqa: E402

pytestmark = pytest.mark.integration

REGION = "us-west-2"
ACCOUNT = "000000000000"  # LocalStack's
FAULT_RATE = 0.2
READ_TIMEOUT = 3  # seconds; a "timeout" fault holds the answer back for up to FAULT_HOLD
FAULT_HOLD = 5
# What the inventory sets for the role's calls (endpoint_monitoring_aws_config) and the plugin's (aws_config): the
# default retries, and a read timeout shorter than the proxy's hold, so that a withheld answer is a read timeout.
AWS_CONFIG = {"retries": {"mode": "standard", "max_attempts": 10}, "read_timeout": READ_TIMEOUT,
              "connect_timeout": READ_TIMEOUT}
# The seed of each step's proxies (the SageMaker proxy's is the seed + 1000). Chosen by trying: seeds 1 to 6 in step
# order, then, for the backtest (three GetMetricData calls, none of which seed 3 faults), the first seed found by
# listing the decisions for calls 1 to 4 (AwsProxy._record on a proxy that is not started) that faults two of them:
# 24, a bare 504 page and a reset. With these every step meets faults and the steps together meet every default
# kind (the lifecycle test's last assertions; in the runs seen, the rollout's and the teardown's LocalStack proxies
# alone met all eleven).
SEEDS = {"inventory": 1, "rollout": 2, "backtest": 24, "preview": 4, "prune": 5, "teardown": 6}
ERROR_RATE_METRICS = ("Invocation4XXErrors", "Invocation5XXErrors")


# -- the fleet and its inventory --------------------------------------------------------------------------------

class PluginInventory:
    """An inventory directory: the sagemaker_endpoints plugin's file for this test's endpoints, with group_vars and
    host_vars beside it."""

    def __init__(self, path, prefix, group_vars):
        self.path = path
        self.plugin_file = os.path.join(path, "fleet.sagemaker_endpoints.yml")
        os.makedirs(os.path.join(path, "group_vars"))
        os.makedirs(os.path.join(path, "host_vars"))
        self._dump(self.plugin_file, {"plugin": "mlops.sagemaker_monitoring.sagemaker_endpoints", "regions": [REGION],
                                      "name_patterns": [prefix + "-*"], "aws_config": AWS_CONFIG})
        self._dump(os.path.join(path, "group_vars", "all.yml"), group_vars)

    def host_vars(self, host, values):
        self._dump(os.path.join(self.path, "host_vars", host + ".yml"), values)

    @staticmethod
    def _dump(path, data):
        with open(path, "w") as f:
            yaml.safe_dump(data, f, sort_keys=False)


def sqs_arn(queue):
    return "arn:aws:sqs:%s:%s:%s" % (REGION, ACCOUNT, queue)


def board_name(prefix):
    return "%s-%s" % (prefix, REGION)


@pytest.fixture
def fleet(localstack, moto, tmp_path):
    """Three endpoints in SageMaker (moto), each with an SQS queue to subscribe (LocalStack), found by the plugin;
    dashboards of their own and a fleet dashboard. Returns (inventory, {endpoint: queue ARN}, fleet dashboard)."""
    endpoints = Endpoints(moto)
    board = unique("faults-fleet")
    inventory = PluginInventory(str(tmp_path / "inventory"), endpoints.prefix, {
        "endpoint_monitoring_aws_config": AWS_CONFIG, "endpoint_monitoring_dashboard": "both",
        "endpoint_monitoring_fleet_dashboard_name": board})
    queues = {}
    for short in ("a", "b", "c"):
        name = endpoints.create(short, "ml.m5.xlarge", REGION)
        queue = localstack.client("sqs", REGION).create_queue(QueueName=unique("faults-" + short))["QueueUrl"]
        queues[name] = sqs_arn(queue.rsplit("/", 1)[-1])
        inventory.host_vars(name, {"endpoint_monitoring_endpoint_subscribers": [
            {"protocol": "sqs", "endpoint": queues[name]}]})
    return inventory, queues, board_name(board)


# -- runs through faults ------------------------------------------------------------------------------------------

def describe(calls):
    return ", ".join("%s:%s %s" % (c.service, c.operation, c.fault) for c in calls if c.fault)


class Step:
    """One command of the test, through a LocalStack proxy and a SageMaker (moto) proxy, or the SageMaker one only:
    its run (or its result) and its calls."""

    def __init__(self, name, run, calls):
        self.name = name
        self.run = run
        self.calls = calls
        self.faulted = [c for c in calls if c.fault]
        self.report = "%s: %d calls, %d faulted: %s\n%s" % (
            name, len(calls), len(self.faulted), describe(calls), run.output if hasattr(run, "output") else run)

    def assert_faults_survived(self):
        """The step met faults at about the rate asked, and each write refused or whose answer was lost was sent
        again, the same, and answered."""
        assert self.faulted, "no fault in %s\n%s" % (self.name, self.report)
        assert len(self.faulted) <= 0.4 * len(self.calls), self.report
        for lost in [c for c in self.faulted if not c.read_only and c.fault != "delay"]:
            assert [c for c in self.calls if c.index > lost.index and c.key == lost.key and c.body == lost.body
                    and c.status == 200], "%r was not sent again\n%s" % (lost, self.report)


def proxies(localstack, moto, seed, **faults):
    faults = faults or dict(fault_rate=FAULT_RATE, timeout_hold=FAULT_HOLD)
    return (aws_proxy.AwsProxy(localstack.url, seed=seed, **faults),
            SageMakerProxy(moto.url, seed=seed + 1000, **faults))


def playbook(localstack, moto, inventory, tmp_path, name, playbook_file, seed, *args, **faults):
    """ansible-playbook through the proxies of proxies(): a Step."""
    rest, sagemaker = proxies(localstack, moto, seed, **faults)
    with rest, sagemaker:
        env = split_env(localstack, moto, rest, sagemaker, str(tmp_path / "facts"), region=REGION)
        env["ANSIBLE_CALLBACK_RESULT_FORMAT"] = "json"  # read back by results_of
        run = run_playbook(localstack, inventory, playbook_file, *args, env=env)
        calls = rest.snapshot() + sagemaker.snapshot()
    return Step(name, run, calls)


def clean_playbook(localstack, moto, inventory, tmp_path, name, playbook_file, *args):
    return playbook(localstack, moto, inventory, tmp_path, name, playbook_file, 0, *args, fault_rate=0.0)


def results_of(run, task):
    """{host: result} of one task of a run (results as JSON)."""
    section = run.output.split("TASK [%s]" % task, 1)[1].split("\nTASK [", 1)[0].split("\nPLAY RECAP", 1)[0]
    found = {}
    lines = section.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("ok: [") and " => " in line:
            text = line.split(" => ", 1)[1]
            for following in lines[i + 1:]:
                if text.rstrip().endswith("}") and text.count("{") == text.count("}"):
                    break
                text += "\n" + following
            found[line[len("ok: ["):line.index("]")]] = json.loads(text)
    return found


def listed(moto, inventory, seed=None):
    """ansible-inventory --list of the plugin's file through the SageMaker proxy (faulting with a seed): a Step whose
    run is the host variables."""
    sagemaker = SageMakerProxy(moto.url, **(dict(fault_rate=FAULT_RATE, timeout_hold=FAULT_HOLD, seed=seed)
                                            if seed is not None else {}))
    with sagemaker:
        env = dict(sagemaker.env(ansible_env(moto, REGION)), ANSIBLE_INVENTORY_UNPARSED_FAILED="1")
        completed = subprocess.run([os.path.join(ROOT, ".venv", "bin", "ansible-inventory"), "-i",
                                    inventory.plugin_file, "--list"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, universal_newlines=True, timeout=300)
        calls = sagemaker.snapshot()
    assert completed.returncode == 0, completed.stderr
    return Step("ansible-inventory", untag(json.loads(completed.stdout))["_meta"]["hostvars"], calls)


def assert_no_endpoint_failed(step, endpoints, status):
    summary = step.run.summary()
    assert step.run.rc == 0, step.report
    assert dict((h, s) for h, (s, _text) in summary.items()) == dict((e, status) for e in endpoints), step.report


# -- what is deployed -----------------------------------------------------------------------------------------------

def topics_named(sns, name):
    return [t["TopicArn"] for page in sns.get_paginator("list_topics").paginate() for t in page["Topics"]
            if t["TopicArn"].endswith(":" + name)]


def assert_monitored_exactly_once(localstack, queues, board=None):
    cfn, cloudwatch = localstack.client("cloudformation", REGION), localstack.client("cloudwatch", REGION)
    sns = localstack.client("sns", REGION)
    for endpoint, queue in queues.items():
        assert [s["StackStatus"] for s in live_stacks_named(cfn, stack_name(endpoint))] == ["CREATE_COMPLETE"]
        stack = cfn.describe_stacks(StackName=stack_name(endpoint))["Stacks"][0]
        expected = sorted([name_of(endpoint, "AllTraffic", m) for m in CPU_METRICS] + [name_of(endpoint, "health")])
        assert sorted(alarms_named(cloudwatch, name_of(endpoint, ""))) == expected, endpoint
        assert topics_named(sns, name_of(endpoint)) == [outputs_of(stack)["TopicArn"]]
        assert subscriptions(sns, outputs_of(stack)["TopicArn"]) == [("sqs", queue)], endpoint
    if board:
        assert fleet_sections(cloudwatch, board) == sorted(queues)
        assert [d["DashboardName"] for d in cloudwatch.list_dashboards(
            DashboardNamePrefix=board)["DashboardEntries"]] == [board]


def assert_nothing_left(localstack, endpoints, board=None):
    """No stack, alarm or topic of the endpoints (SNS keeps a deleted topic's subscriptions, detached, for a while),
    and no page of the fleet dashboard."""
    cfn, cloudwatch = localstack.client("cloudformation", REGION), localstack.client("cloudwatch", REGION)
    sns = localstack.client("sns", REGION)
    for endpoint in endpoints:
        assert live_stacks_named(cfn, stack_name(endpoint)) == [], endpoint
        assert alarms_named(cloudwatch, name_of(endpoint, "")) == [], endpoint
        assert topics_named(sns, name_of(endpoint)) == [], endpoint
    if board:
        assert cloudwatch.list_dashboards(DashboardNamePrefix=board)["DashboardEntries"] == []


# -- 1. every path ----------------------------------------------------------------------------------------------------

def test_every_path_through_faults_leaves_everything_exactly_once_then_nothing(localstack, moto, fleet, tmp_path):
    inventory, queues, board = fleet
    endpoints = sorted(queues)
    steps = []

    # the inventory plugin: the same hosts and variables as without faults
    clean = listed(moto, inventory)
    assert sorted(clean.run) == endpoints, clean.report
    faulted = listed(moto, inventory, seed=SEEDS["inventory"])
    steps.append(faulted)
    faulted.assert_faults_survived()
    assert faulted.run == clean.run, faulted.report

    # the rollout: stacks, their subscriptions, the fleet dashboard
    rollout = playbook(localstack, moto, inventory, tmp_path, "rollout", "monitor_endpoints.yml", SEEDS["rollout"])
    steps.append(rollout)
    rollout.assert_faults_survived()
    assert_no_endpoint_failed(rollout, endpoints, "changed")
    assert "FAILED     fleet dashboard" not in rollout.run.output, rollout.report
    assert_monitored_exactly_once(localstack, queues, board)

    # the backtest and the preview from CloudWatch data say what they say without faults: a 15-minute latency breach
    # of the first endpoint an hour ago, the same window for every run
    now = int(time.time()) // 300 * 300
    latencies = (1500000.0, 1600000.0, 1700000.0, 400000.0)
    localstack.client("cloudwatch", REGION).put_metric_data(Namespace="AWS/SageMaker", MetricData=[
        {"MetricName": "ModelLatency", "Value": value, "Unit": "Microseconds",
         "Timestamp": now - 3600 + 300 * i + 150, "Dimensions": [
             {"Name": "EndpointName", "Value": endpoints[0]}, {"Name": "VariantName", "Value": "AllTraffic"}]}
        for i, value in enumerate(latencies)])
    end_time = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    # LocalStack takes seconds to answer a day of every alarm's metrics: the backtest keeps its own read timeout
    # (a withheld answer is then a connection closed after FAULT_HOLD), with the same retries.
    window = ("-e", "backtest_days=1", "-e", "backtest_end_time=" + end_time,
              "-e", json.dumps({"endpoint_monitoring_aws_config": {"retries": AWS_CONFIG["retries"]}}))
    backtests = [
        clean_playbook(localstack, moto, inventory, tmp_path, "clean backtest", "backtest_alarms.yml", *window),
        playbook(localstack, moto, inventory, tmp_path, "backtest", "backtest_alarms.yml", SEEDS["backtest"], *window)]
    steps.append(backtests[1])
    backtests[1].assert_faults_survived()
    assert [b.run.rc for b in backtests] == [0, 0], backtests[1].report
    said = [results_of(b.run, "Say how often each alarm would have fired") for b in backtests]
    assert sorted(said[0]) == endpoints and said[1] == said[0], backtests[1].report
    assert [line for line in said[0][endpoints[0]]["msg"] if "ModelLatency: fired once in 1d" in line], \
        backtests[0].report

    # The error-rate graphs are metric math, which LocalStack answers with HTTP 500 (botocore would retry it ten
    # times for each preview): the previews leave the error-rate alarms out.
    no_math = json.dumps({"endpoint_monitoring_metrics": dict((m, {"enabled": False}) for m in ERROR_RATE_METRICS)})
    previews = []
    for name, seed in (("clean preview", None), ("preview", SEEDS["preview"])):
        dest = tempfile.mkdtemp(prefix="faults-preview-")  # not under pytest's directory: "test" is hidden in results
        args = ("preview_dashboards.yml", "-e", "preview_source=cloudwatch", "-e", "preview_dir=%s" % dest,
                "-e", no_math)
        if seed is None:
            previews.append((dest, clean_playbook(localstack, moto, inventory, tmp_path, name, *args)))
        else:
            previews.append((dest, playbook(localstack, moto, inventory, tmp_path, name, args[0], seed, *args[1:])))
    steps.append(previews[1][1])
    previews[1][1].assert_faults_survived()
    assert [step.run.rc for _dest, step in previews] == [0, 0], previews[1][1].report
    drawn = [dict((host, result["msg"].replace(dest, "DEST"))
                  for host, result in results_of(step.run, "Say where the preview is").items())
             for dest, step in previews]
    assert sorted(drawn[0]) == endpoints and drawn[1] == drawn[0], previews[1][1].report
    for dest, step in previews:
        assert "CloudWatch refused" not in step.run.output, step.report
        with open(os.path.join(dest, endpoints[0] + ".html"), encoding="utf-8") as f:
            assert "ModelLatency (Average) (EndpointName=%s, VariantName=AllTraffic) - %d datapoints" % (
                endpoints[0], len(latencies)) in f.read(), step.report

    # pruning: SageMaker no longer has the last endpoint; its stack goes, the others stay as they are
    gone = endpoints[-1]
    moto.client("sagemaker", REGION).delete_endpoint(EndpointName=gone)
    pruned = playbook(localstack, moto, inventory, tmp_path, "prune", "monitor_endpoints.yml", SEEDS["prune"],
                      "-e", "sagemaker_monitoring_prune=true")
    steps.append(pruned)
    pruned.assert_faults_survived()
    assert_no_endpoint_failed(pruned, endpoints[:-1], "unchanged")
    assert [c.params["StackName"] for c in pruned.calls if c.operation == "DeleteStack" and c.status == 200] \
        and set(c.params["StackName"] for c in pruned.calls if c.operation == "DeleteStack") == {stack_name(gone)}, \
        pruned.report
    assert_nothing_left(localstack, [gone])
    # (the fleet dashboard keeps the pruned endpoint's section until the next run: its stack was there when the run
    # kept the dashboard)
    assert_monitored_exactly_once(localstack, dict((e, queues[e]) for e in endpoints[:-1]))

    # teardown
    torn = playbook(localstack, moto, inventory, tmp_path, "teardown", "teardown.yml", SEEDS["teardown"])
    steps.append(torn)
    torn.assert_faults_survived()
    assert_no_endpoint_failed(torn, endpoints[:-1], "changed")
    assert_nothing_left(localstack, endpoints, board)

    # the steps met every default kind of fault, and writes whose answer was lost
    calls = [c for step in steps for c in step.calls]
    report = "\n".join("%s: %d calls, %d faulted: %s" % (step.name, len(step.calls), len(step.faulted),
                                                         describe(step.calls)) for step in steps)
    assert sorted(set(c.fault for c in calls if c.fault)) == sorted(aws_proxy.FAULT_KINDS), report
    # a withheld answer is that of a call answered upstream, lost to the client's read timeout
    withheld = [c for step in steps if step.name != "backtest" for c in step.calls if c.fault == "timeout"]
    assert withheld and [(c.upstream_status is not None, c.gave_up) for c in withheld] == [(True, True)] * len(
        withheld), report


# -- 2. creates whose answer was lost -------------------------------------------------------------------------------

class FirstAttempts:
    """A fault filter: the first attempt of each call of these operations (a retry is the same request again)."""

    def __init__(self, operations):
        self.operations = operations
        self.seen = set()

    def __call__(self, call):
        if call.operation not in self.operations or (call.operation, call.body) in self.seen:
            return False
        self.seen.add((call.operation, call.body))
        return True


def run_with_answers_lost(localstack, inventory, operations, *args):
    """A playbook run whose first attempt of each call of `operations` reaches LocalStack and takes effect, and whose
    answer is then withheld until the client's read timeout: (run, calls, report)."""
    with aws_proxy.AwsProxy(localstack.url, fault_rate=1.0, kinds=("timeout",), timeout_hold=FAULT_HOLD,
                            fault_filter=FirstAttempts(operations)) as proxy:
        run = run_playbook(localstack, inventory, *args, env=proxy.env(ansible_env(localstack, REGION)))
        calls = proxy.snapshot()
    lost = [c for c in calls if c.fault]
    report = "lost: %s\n%s" % (", ".join("%r" % c for c in lost), run.output)
    assert sorted(set(c.operation for c in lost)) == sorted(operations), report
    for first in lost:
        assert (first.upstream_status, first.gave_up) == (200, True), "%r did not take effect\n%s" % (first, report)
        assert [c for c in calls if c.index > first.index and c.key == first.key and c.body == first.body
                and c.status == 200], "%r was not sent again\n%s" % (first, report)
    return run, calls, report


def test_writes_whose_answer_was_lost_are_reported_as_this_runs(localstack, inventory):
    """Each create, update and delete of a rollout, a change and a teardown has its first answer lost. The retried
    CreateStack and UpdateStack carry amazon.aws.cloudformation's ClientRequestToken and are answered as the first
    attempt was (CloudFormation's promise, kept by the proxy for LocalStack); Subscribe, PutDashboard, DeleteStack and
    DeleteDashboards are idempotent. No endpoint fails or is said to be another run's, nothing is made twice."""
    board = unique("lost-fleet")
    queues = {}
    inventory.group_vars("all", {"endpoint_monitoring_region": REGION, "endpoint_monitoring_aws_config": AWS_CONFIG,
                                 "endpoint_monitoring_dashboard": "both",
                                 "endpoint_monitoring_fleet_dashboard_name": board})
    for short in ("a", "b"):
        queue = localstack.client("sqs", REGION).create_queue(QueueName=unique("lost-" + short))["QueueUrl"]
        endpoint = unique("lost-" + short)
        queues[endpoint] = sqs_arn(queue.rsplit("/", 1)[-1])
        inventory.add("fleet", endpoint, endpoint_monitoring_endpoint_subscribers=[
            {"protocol": "sqs", "endpoint": queues[endpoint]}])
    endpoints = sorted(queues)

    created, calls, report = run_with_answers_lost(localstack, inventory, ("CreateStack", "Subscribe", "PutDashboard"),
                                                   "monitor_endpoints.yml")
    assert created.rc == 0 and set(s for s, _ in created.summary().values()) == {"changed"}, report
    assert sorted(created.summary()) == endpoints, report
    creates = [c for c in calls if c.operation == "CreateStack"]
    # each stack was created by its first request; each retry was answered with that request's answer
    assert sorted(c.params["StackName"] for c in creates if not c.replayed) == sorted(map(stack_name, endpoints))
    assert [c.replayed for c in creates if not c.fault] == [True] * len(endpoints), report
    assert_monitored_exactly_once(localstack, queues, board_name(board))

    inventory.group_vars("fleet", {"endpoint_monitoring_group_metrics": {"ModelLatency": {"threshold": 250}}})
    updated, calls, report = run_with_answers_lost(localstack, inventory, ("UpdateStack", "PutDashboard"),
                                                   "monitor_endpoints.yml")
    assert updated.rc == 0 and set(s for s, _ in updated.summary().values()) == {"changed"}, report
    assert [c.replayed for c in calls if c.operation == "UpdateStack" and not c.fault] == [True] * len(endpoints)
    cfn = localstack.client("cloudformation", REGION)
    for endpoint in endpoints:
        assert [s["StackStatus"] for s in live_stacks_named(cfn, stack_name(endpoint))] == ["UPDATE_COMPLETE"]

    torn, calls, report = run_with_answers_lost(localstack, inventory, ("DeleteStack", "DeleteDashboards"),
                                                "teardown.yml")
    assert torn.rc == 0 and set(s for s, _ in torn.summary().values()) == {"changed"}, report
    assert "FAILED     fleet dashboard" not in torn.output, report
    assert_nothing_left(localstack, endpoints, board_name(board))
