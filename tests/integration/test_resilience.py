"""Rollouts that do not go to plan, end to end: ``ansible-playbook playbooks/monitor_endpoints.yml`` on LocalStack.

1. a rollout killed with SIGKILL (every process of it: its process group, and the groups of Ansible's workers,
   which start sessions of their own) half-way through its CreateStack calls, or while it waits for its stacks,
   converges on the next run: every stack complete, every alarm and subscription there exactly once, and the run
   after that writes nothing;
2. two runs started at the same moment on the same new fleet, in each of the two ways they can meet (both find no
   stack and ask to create it; one lists while the other's creations are in progress): each succeeds or fails an
   endpoint, and says so on the endpoint's summary line with a message naming the stack and saying why; nothing
   is duplicated, the next run converges and the one after writes nothing;
3. AWX/AAP job slicing: two halves of an inventory run in parallel with ``--limit``, each writes only to the
   stacks and topics of its own half, and a full run afterwards writes nothing;
4. one inventory, two regions (``endpoint_monitoring_region`` per group): stacks, alarms and topics land in their
   own region only, and a re-run writes nothing.

ansible-playbook's AWS calls go through a recording proxy (tests/support/aws_proxy.py) so that the writes each run
made can be read back by operation, region and stack name; the tests' own boto3 calls go straight to LocalStack.
"""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from conftest import PLAYBOOKS, REGION, ROOT, Run, ansible_env, run_playbook, unique

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "support"))

import aws_proxy  # noqa: E402

pytestmark = pytest.mark.integration

ACCOUNT = "000000000000"  # LocalStack's
# Alarms of a realtime endpoint on a CPU instance (ml.m5.xlarge, the Inventory helper's default), plus the
# endpoint's composite health alarm.
CPU_METRICS = ("InvocationsPerInstance", "Invocation4XXErrors", "Invocation5XXErrors", "ModelLatency",
               "OverheadLatency", "CPUUtilization", "MemoryUtilization", "DiskUtilization")
STACK_WRITES = ("CreateStack", "UpdateStack", "DeleteStack")
FATAL = re.compile(r"^fatal: \[([^\]]+)\]: FAILED! => (\{.*\})\s*$", re.M)
PLAYBOOK_TIMEOUT = 240  # seconds; a run of these small fleets takes 5-15 s
SETTLE_TIMEOUT = 120  # seconds for stacks left in progress by a killed or competing run to settle


# -- helpers -------------------------------------------------------------------------------------------------

def sqs_arn(queue, region=REGION):
    return "arn:aws:sqs:%s:%s:%s" % (region, ACCOUNT, queue)


def stack_name(endpoint):
    return "sagemaker-monitoring-" + endpoint


def topic_name(endpoint):
    return "sagemaker-monitoring_" + endpoint


def through(proxy, server, region=REGION):
    """ansible-playbook's environment with its AWS calls sent through the proxy."""
    return proxy.env(ansible_env(server, region))


def describe(calls):
    return "\n".join("%r %s %s" % (c, c.region, c.params.get("StackName") or c.params.get("TopicArn") or "")
                     for c in calls)


def stacks_of_fleet(cfn, endpoints):
    """{stack name: [status of each stack by that name that is not deleted]} for the fleet's stacks."""
    wanted = set(stack_name(e) for e in endpoints)
    found = dict((name, []) for name in wanted)
    for page in cfn.get_paginator("list_stacks").paginate():
        for summary in page["StackSummaries"]:
            if summary["StackName"] in wanted and summary["StackStatus"] != "DELETE_COMPLETE":
                found[summary["StackName"]].append(summary["StackStatus"])
    return found


def alarm_names(cloudwatch, endpoint):
    pages = cloudwatch.get_paginator("describe_alarms").paginate(
        AlarmNamePrefix="sagemaker-monitoring_%s_" % endpoint, AlarmTypes=["MetricAlarm", "CompositeAlarm"])
    return sorted(a["AlarmName"] for page in pages for kind in ("MetricAlarms", "CompositeAlarms")
                  for a in page[kind])


def expected_alarms(endpoint, variants=("AllTraffic",)):
    return sorted(["sagemaker-monitoring_%s_%s_%s" % (endpoint, v, m) for v in variants for m in CPU_METRICS]
                  + ["sagemaker-monitoring_%s_health" % endpoint])


def outputs_of(stack):
    return dict((o["OutputKey"], o["OutputValue"]) for o in stack.get("Outputs", []))


def topics_named(sns, name):
    pages = sns.get_paginator("list_topics").paginate()
    return [t["TopicArn"] for page in pages for t in page["Topics"] if t["TopicArn"].rsplit(":", 1)[-1] == name]


def subscriptions(sns, topic_arn):
    pages = sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn)
    return sorted((s["Protocol"], s["Endpoint"]) for page in pages for s in page["Subscriptions"])


def assert_converged_exactly_once(server, subscribers, region=REGION, variants=("AllTraffic",)):
    """Every endpoint's stack complete and alone, its alarms and subscriptions there once each.

    subscribers: {endpoint: [SQS queue ARN, ...]}."""
    cfn, cloudwatch, sns = (server.client(s, region) for s in ("cloudformation", "cloudwatch", "sns"))
    stacks = stacks_of_fleet(cfn, subscribers)
    for endpoint, queues in sorted(subscribers.items()):
        name = stack_name(endpoint)
        assert len(stacks[name]) == 1 and stacks[name][0] in ("CREATE_COMPLETE", "UPDATE_COMPLETE"), (name, stacks)
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
        outputs = outputs_of(stack)
        alarms = expected_alarms(endpoint, variants)
        assert alarm_names(cloudwatch, endpoint) == alarms, endpoint
        assert sorted(outputs["AlarmNames"].split(",")) == [
            a for a in alarms if a != "sagemaker-monitoring_%s_health" % endpoint], outputs
        assert topics_named(sns, topic_name(endpoint)) == [outputs["TopicArn"]], endpoint
        assert subscriptions(sns, outputs["TopicArn"]) == sorted(("sqs", q) for q in queues), endpoint


def assert_write_free(proxy, run, regions=(REGION,)):
    """The run succeeded, went through the proxy (it listed each region's stacks there) and wrote nothing."""
    calls = proxy.snapshot()
    assert run.rc == 0, run.output
    listed = set(c.region for c in calls if c.key == ("cloudformation", "DescribeStacks"))
    assert listed == set(regions), "the run did not list the stacks of %s through the proxy:\n%s" % (
        sorted(regions), describe(calls))
    writes = [c for c in calls if not c.read_only]  # anything but Describe*, Get*, List*
    assert writes == [], "a run with nothing to do made write calls:\n%s\n%s" % (describe(writes), run.output)
    assert run.recap and [h for h, r in run.recap.items() if r["changed"] or r["failed"]] == [], run.output


def assert_all_changed(run, endpoints):
    """The run succeeded and its recap shows every endpoint changed (its stack or subscriptions written)."""
    assert run.rc == 0, run.output
    assert sorted(run.recap) == sorted(endpoints), run.output
    assert [h for h, recap in run.recap.items() if not recap["changed"] or recap["failed"]] == [], run.output


def wait_until(condition, timeout, what, interval=0.05):
    """Poll condition() until it returns something true; fail after timeout seconds."""
    deadline = time.time() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.time() > deadline:
            pytest.fail("waited %ss for %s" % (timeout, what))
        time.sleep(interval)


def wait_until_settled(server, endpoints, region=REGION):
    """Stacks a killed or competing run left in progress finish on the server's side; wait until none is."""
    cfn = server.client("cloudformation", region)

    def settled():
        statuses = [s for found in stacks_of_fleet(cfn, endpoints).values() for s in found]
        return not [s for s in statuses if s.endswith("_IN_PROGRESS")]

    wait_until(settled, SETTLE_TIMEOUT, "the fleet's stacks to leave *_IN_PROGRESS", interval=0.5)


def _process_table():
    """{pid: (state, ppid, pgid)} of the processes of this machine, from /proc."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # state, ppid, pgrp, ...
        table[int(entry)] = (fields[0], int(fields[1]), int(fields[2]))
    return table


def descendants(pid):
    table = _process_table()
    children = {}
    for child, (_state, parent, _pgid) in table.items():
        children.setdefault(parent, []).append(child)
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def running(pids):
    """Those of pids that are still running (zombies, which a non-reaping init may keep, do not count)."""
    table = _process_table()
    return sorted(p for p in pids if p in table and table[p][0] not in ("Z", "X"))


def _signal(pid, signum, group=False):
    try:
        (os.killpg if group else os.kill)(pid, signum)
    except ProcessLookupError:
        pass


class Playbook:
    """An ansible-playbook run in the background, in a process group (session) of its own."""

    def __init__(self, inventory, env, log_path, *args):
        command = [os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), "-i", inventory.path,
                   os.path.join(PLAYBOOKS, "monitor_endpoints.yml")] + list(args)
        self.log_path = log_path
        # A killed run cannot clean up its temporary files (Ansible's, and the module's unpacked payload): they
        # go next to the log, into the test's own directory, instead of /tmp and ~/.ansible/tmp.
        scratch = log_path + ".tmp"
        os.makedirs(scratch, exist_ok=True)
        env = dict(env, TMPDIR=scratch, ANSIBLE_LOCAL_TEMP=scratch, ANSIBLE_REMOTE_TEMP=scratch)
        self._log = open(log_path, "w")
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        self.pgid = self.process.pid  # start_new_session: the leader's pid is the group's id
        self.killed = set()

    def output(self):
        with open(self.log_path) as f:
            return f.read()

    def wait(self, timeout=PLAYBOOK_TIMEOUT):
        try:
            rc = self.process.wait(timeout=timeout)
        finally:
            self._log.close()
        return Run(subprocess.CompletedProcess(self.process.args, rc, stdout=self.output()))

    def kill(self):
        """SIGKILL to the run's process group and to every process of the run.

        The process group alone is not the whole run: ansible-core's worker processes call setsid() (WorkerProcess.
        _detach), so each worker, and the module it runs, is in a session and process group of its own. Killing
        only the group leaves the module running (it went on creating stacks in a first version of this test). So
        the run's process tree is frozen with SIGSTOP first (no process of it can start another or exit while it
        is being walked), then the leader's group, the group of each process of the tree, and each process get
        SIGKILL."""
        frozen = set()
        for _ in range(50):
            tree = ({self.process.pid} | descendants(self.process.pid)) - frozen
            if not tree:
                break
            for pid in tree:
                _signal(pid, signal.SIGSTOP)
            frozen |= tree
        table = _process_table()
        groups = set([self.pgid]) | set(table[p][2] for p in frozen if p in table)
        for pgid in groups:
            _signal(pgid, signal.SIGKILL, group=True)
        for pid in frozen:
            _signal(pid, signal.SIGKILL)
        self.killed = frozen
        self.process.wait(timeout=30)
        self._log.close()


@pytest.fixture
def playbooks():
    """Start background runs; any still running when the test ends has its process group killed."""
    started = []

    def start(*args, **kwargs):
        run = Playbook(*args, **kwargs)
        started.append(run)
        return run

    yield start
    for run in started:
        if run.process.poll() is None or running(descendants(run.process.pid)):
            run.kill()


def fleet_with_queues(server, inventory, prefix, count, group="fleet", **host_vars):
    """count endpoints in group, each with an SQS queue of its own as subscriber: {endpoint: [queue ARN]}."""
    sqs = server.client("sqs")
    subscribers = {}
    for i in range(count):
        queue = unique("%sq%d" % (prefix, i))
        sqs.create_queue(QueueName=queue)
        endpoint = inventory.add(group, unique("%s%d" % (prefix, i)), endpoint_monitoring_endpoint_subscribers=[
            {"protocol": "sqs", "endpoint": sqs_arn(queue)}], **host_vars)
        subscribers[endpoint] = [sqs_arn(queue)]
    return subscribers


def answered(proxy, operation):
    return [c for c in proxy.snapshot() if c.operation == operation and c.status == 200]


def endpoint_outcomes(run):
    """{host: (status, message)} from the run's summary (FAILED     ep: message, changed    ep: ...). A run in which
    every endpoint failed has no host left for the summary task: then each endpoint's failure as printed (with
    ANSIBLE_CALLBACK_RESULT_FORMAT=json, one line of JSON each)."""
    summary = run.summary()
    if summary or "PLAY RECAP" not in run.output or [h for h in run.recap if not run.failed(h)]:
        return summary
    return dict((m.group(1), ("FAILED", json.loads(m.group(2)).get("msg", ""))) for m in FATAL.finditer(run.output))


def json_env(env):
    env = dict(env)
    env["ANSIBLE_CALLBACK_RESULT_FORMAT"] = "json"  # failures are printed as they were returned
    return env


# -- 1. a rollout killed half-way ------------------------------------------------------------------------------

KILL_FLEET = 6
# Where the rollout is killed: (proxy settings, when to kill, how many CreateStack calls it has made by then).
KILL_POINTS = {
    # Every CreateStack is held 1-1.5 s at the proxy before it is forwarded (then answered normally). The run
    # applies its stacks in parallel, one amazon.aws.cloudformation task per endpoint up to Ansible's forks (5 by
    # default, fewer than the fleet's 6), and each task waits for its own stack: killed when a second CreateStack
    # has reached the proxy, some stacks are asked for (held or being created) and at least one is not.
    "during-creates": (dict(fault_rate=1.0, kinds=("delay",), delay=(1.0, 1.5),
                            fault_filter=lambda call: call.operation == "CreateStack"),
                       lambda proxy: proxy.count("CreateStack") >= 2, range(2, KILL_FLEET)),
    # Killed as soon as every CreateStack has been answered: the stacks are being created, the run is in its wait
    # loop and has subscribed nothing yet.
    "while-waiting": ({}, lambda proxy: len(answered(proxy, "CreateStack")) == KILL_FLEET,
                      range(KILL_FLEET, KILL_FLEET + 1)),
}


@pytest.mark.parametrize("point", sorted(KILL_POINTS))
def test_rollout_killed_halfway_converges_on_the_next_run(localstack, inventory, playbooks, tmp_path, point):
    proxy_settings, kill_now, expected_creates = KILL_POINTS[point]
    subscribers = fleet_with_queues(localstack, inventory, "kill", KILL_FLEET)
    cfn = localstack.client("cloudformation")

    with aws_proxy.AwsProxy(localstack.url, **proxy_settings) as proxy:
        run = playbooks(inventory, through(proxy, localstack), str(tmp_path / "killed.log"))
        wait_until(lambda: kill_now(proxy) or run.process.poll() is not None, PLAYBOOK_TIMEOUT,
                   "the moment to kill the rollout (%s)" % point)
        assert run.process.poll() is None, "the rollout ended before it could be killed:\n" + run.output()
        run.kill()
        assert len(run.killed) > 1, "the run had no worker process to kill: %s" % run.killed
        wait_until(lambda: not running(run.killed), 30, "every process of the killed run to end")
        at_kill = stacks_of_fleet(cfn, subscribers)  # the server's view right after the kill
        # A CreateStack the proxy was holding when the run died is still forwarded (its answer is lost): that stack
        # is created, and the killed run never knew. Every call the run made is in the log once all are answered.
        # (a LocalStack shared with other test processes on a busy machine may take its time to answer them)
        # (a call whose client is gone is forwarded all the same: its answer then finds no one, and is recorded as
        # given up)
        wait_until(lambda: all(c.status is not None or c.gave_up for c in proxy.snapshot()), 120,
                   "the proxy to forward the calls it was holding")
        killed_at = proxy.snapshot()
    assert run.process.returncode == -signal.SIGKILL
    creates = [c for c in killed_at if c.operation == "CreateStack"]
    assert len(creates) in expected_creates, describe(killed_at)
    assert not [c for c in killed_at if c.service == "sns" and not c.read_only], describe(killed_at)
    complete = [n for n, found in at_kill.items() if found[:1] == ["CREATE_COMPLETE"]]
    assert len(complete) < KILL_FLEET, "every stack was complete when the run was killed: %s" % at_kill
    assert "PLAY RECAP" not in run.output()

    # CloudFormation goes on with the creations the killed run started; the next run is made once they are done
    # (a run that meets a stack still in progress is test 2's case).
    wait_until_settled(localstack, subscribers)
    with aws_proxy.AwsProxy(localstack.url) as proxy:
        rerun = run_playbook(localstack, inventory, env=through(proxy, localstack), timeout=PLAYBOOK_TIMEOUT)
        rerun_writes = proxy.writes()
    assert_all_changed(rerun, subscribers)
    created_again = sorted(c.params["StackName"] for c in rerun_writes if c.operation == "CreateStack")
    started_before = set(c.params["StackName"] for c in creates)
    # the re-run created exactly the stacks the killed run never asked for
    assert created_again == sorted(set(map(stack_name, subscribers)) - started_before), describe(rerun_writes)
    # and wrote nothing else to a stack: those the killed run created hold what was asked for
    assert set(c.operation for c in rerun_writes) <= {"CreateStack", "Subscribe"}, describe(rerun_writes)
    assert sorted(c.params["TopicArn"].rsplit(":", 1)[-1] for c in rerun_writes if c.operation == "Subscribe") == \
        sorted(map(topic_name, subscribers)), describe(rerun_writes)
    assert_converged_exactly_once(localstack, subscribers)

    with aws_proxy.AwsProxy(localstack.url) as proxy:
        again = run_playbook(localstack, inventory, env=through(proxy, localstack), timeout=PLAYBOOK_TIMEOUT)
        assert_write_free(proxy, again)


# -- 2. two runs at once on the same fleet ---------------------------------------------------------------------

RACE_FLEET = 4
HOLD_TIMEOUT = 60  # seconds a HoldingProxy holds a call at most
# What a run must say of an endpoint whose stack the other run was creating at the same time.
CONTENDED = re.compile(r"already exists|busy|in progress|_IN_PROGRESS|another (run|operation)", re.I)


class CreateMeeting:
    """Shared by the proxies of two concurrent runs: each run's CreateStack of a stack is held until the other
    run's CreateStack of the same stack has arrived too (at most HOLD_TIMEOUT s), then the two are forwarded one
    after the other, in the order chance gives.

    Each run's amazon.aws.cloudformation task looks its stack up just before it writes; held this way, both runs
    have found no stack and ask to create it, whatever the scheduler does: the race under test. One at a time,
    because LocalStack's CreateStack is not atomic by name: two calls for one name that arrive at the same instant
    can both be accepted, leaving two live stacks of that name (seen about once in 15 tries), which AWS never does.
    ``met``: the stack names whose two CreateStack calls met."""

    def __init__(self):
        self.met = set()
        self._arrived = {}
        self._locks = {}
        self._condition = threading.Condition()

    def forward(self, name, send):
        with self._condition:
            self._arrived[name] = self._arrived.get(name, 0) + 1
            self._condition.notify_all()
            if self._condition.wait_for(lambda: self._arrived[name] >= 2, HOLD_TIMEOUT):
                self.met.add(name)
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:
            return send()


class MeetingProxy(aws_proxy.AwsProxy):
    """A recording proxy whose CreateStack calls go through a CreateMeeting shared with another run's proxy."""

    def __init__(self, upstream, meeting, **kwargs):
        aws_proxy.AwsProxy.__init__(self, upstream, **kwargs)
        self.meeting = meeting

    def _forward(self, method, path, headers, body):
        _service, _region, operation, _protocol, params = aws_proxy.classify(method, path, headers, body)
        send = lambda: aws_proxy.AwsProxy._forward(self, method, path, headers, body)  # noqa: E731
        if operation == "CreateStack":
            return self.meeting.forward(params.get("StackName"), send)
        return send()


class HoldingProxy(aws_proxy.AwsProxy):
    """A recording proxy that holds the calls of one operation, before forwarding them, until a condition holds.

    Two runs started at the same moment interleave as the scheduler decides; holding one run's call at its proxy
    until the other run has got somewhere makes the interleaving under test the one that happens. The condition is
    polled (every 20 ms, at most HOLD_TIMEOUT s) outside the proxy's lock; once it has held, later calls pass.
    ``released`` is what the condition returned (None if it never held: the test then says so)."""

    def __init__(self, upstream, operation, condition, **kwargs):
        aws_proxy.AwsProxy.__init__(self, upstream, **kwargs)
        self.hold_operation = operation
        self.condition = condition
        self.released = None
        self._gate = threading.Lock()

    def _forward(self, method, path, headers, body):
        operation = aws_proxy.classify(method, path, headers, body)[2]
        if operation == self.hold_operation:
            with self._gate:
                deadline = time.time() + HOLD_TIMEOUT
                while self.released is None and time.time() < deadline:
                    self.released = self.condition() or None
                    if self.released is None:
                        time.sleep(0.02)
        return aws_proxy.AwsProxy._forward(self, method, path, headers, body)


def race(localstack, inventory, playbooks, tmp_path, proxies):
    """Start one run per proxy at the same moment on the same inventory; wait for both: [(Run, calls)]."""
    runs = [playbooks(inventory, json_env(through(proxy, localstack)), str(tmp_path / ("race-%d.log" % i)))
            for i, proxy in enumerate(proxies)]
    results = [run.wait() for run in runs]
    return [(result, proxy.snapshot()) for result, proxy in zip(results, proxies)]


def race_report(outcome):
    return "\n\n".join("run %d: rc %s\n%s\n%s" % (i, r.rc, describe(c), r.output) for i, (r, c) in enumerate(outcome))


def assert_each_endpoint_succeeded_or_was_named(outcome, endpoints, says):
    """Every endpoint of each run either went through or failed, and the run's summary says so on the endpoint's
    line (FAILED     ep: message), with a message naming its stack and saying why."""
    report = race_report(outcome)
    for result, _calls in outcome:
        assert sorted(result.recap) == sorted(endpoints), report
        summary = endpoint_outcomes(result)
        assert sorted(summary) == sorted(endpoints), report
        failed = [h for h in endpoints if result.failed(h)]
        assert result.rc == (2 if failed else 0), report
        for host in endpoints:
            status, message = summary[host]
            if host not in failed:
                assert status == "changed", report
                continue
            assert status == "FAILED", "%s failed, its summary line says %r\n%s" % (host, status, report)
            assert stack_name(host) in message, "%r\n%s" % (message, report)
            assert says.search(message), "%r does not say %r\n%s" % (message, says.pattern, report)
    # every endpoint was rolled out by one of the two runs
    assert [h for h in endpoints if all(r.failed(h) for r, _c in outcome)] == [], report


def assert_next_run_converges_and_the_one_after_writes_nothing(localstack, inventory, subscribers, **converged):
    wait_until_settled(localstack, subscribers)
    converge = run_playbook(localstack, inventory, timeout=PLAYBOOK_TIMEOUT)
    assert converge.rc == 0, converge.output
    assert_converged_exactly_once(localstack, subscribers, **converged)
    with aws_proxy.AwsProxy(localstack.url) as proxy:
        again = run_playbook(localstack, inventory, env=through(proxy, localstack), timeout=PLAYBOOK_TIMEOUT)
        assert_write_free(proxy, again)


def test_two_runs_at_once_that_both_plan_the_creates_each_stack_is_created_once(localstack, inventory, playbooks,
                                                                                 tmp_path):
    """Both runs find the region empty and ask to create every stack: one wins each stack, the other is refused."""
    subscribers = fleet_with_queues(localstack, inventory, "both", RACE_FLEET)
    meeting = CreateMeeting()
    with MeetingProxy(localstack.url, meeting) as one, MeetingProxy(localstack.url, meeting) as other:
        outcome = race(localstack, inventory, playbooks, tmp_path, [one, other])
    report = race_report(outcome)
    assert meeting.met == set(map(stack_name, subscribers)), "the runs' creates did not meet:\n" + report

    # each stack was created by exactly one run; the other run's create was refused, which failed the endpoint
    for endpoint in subscribers:
        creates = [(c.status, result.failed(endpoint)) for result, calls in outcome for c in calls
                   if c.operation == "CreateStack" and c.params["StackName"] == stack_name(endpoint)]
        assert sorted(creates) == [(200, 0), (400, 1)], "%s\n%s" % (endpoint, report)
    assert not [c for _r, calls in outcome for c in calls if c.operation in ("UpdateStack", "DeleteStack")], report
    assert_each_endpoint_succeeded_or_was_named(outcome, subscribers, CONTENDED)
    for result, calls in outcome:  # a run subscribes no topic of an endpoint it failed
        subscribed = set(c.params["TopicArn"].rsplit(":", 1)[-1] for c in calls if c.operation == "Subscribe")
        assert subscribed <= set(topic_name(h) for h in subscribers if result.failed(h) == 0), report

    assert_converged_exactly_once(localstack, subscribers)
    assert_next_run_converges_and_the_one_after_writes_nothing(localstack, inventory, subscribers)


BUSY_VARIANTS = ["blue", "green", "canary"]


def test_two_runs_at_once_one_finds_the_others_stacks_in_progress_and_says_so(localstack, inventory, playbooks,
                                                                                tmp_path):
    """One run lists the region while the other's creations are in progress: it must leave them alone and say
    the stack is busy, naming the endpoint, while the other run goes through."""
    # Three variants (four overflow CloudFormation's 51,200-byte template with these names): 25 alarms a stack, so a
    # stack is being created for longer than with one, which leaves the second run the time to read it in progress.
    subscribers = fleet_with_queues(localstack, inventory, "busy", RACE_FLEET,
                                    endpoint_monitoring_variants=BUSY_VARIANTS)
    cfn = localstack.client("cloudformation")
    creator = aws_proxy.AwsProxy(localstack.url)

    def creations_in_progress():
        if len(answered(creator, "CreateStack")) < RACE_FLEET:
            return None
        statuses = dict((name, found[:1]) for name, found in stacks_of_fleet(cfn, subscribers).items())
        return statuses if ["CREATE_IN_PROGRESS"] in statuses.values() else None

    with creator, HoldingProxy(localstack.url, "DescribeStacks", creations_in_progress) as late:
        outcome = race(localstack, inventory, playbooks, tmp_path, [creator, late])
    report = race_report(outcome)
    assert late.released, "the second run's listing did not wait for the first run's creations:\n" + report
    (first, _first_calls), (_second, second_calls) = outcome
    assert first.rc == 0 and [h for h in subscribers if not first.changed(h)] == [], report
    # It may wait for a busy stack or fail it, and may subscribe the topic of a stack it found complete; it never
    # writes to a stack the other run is creating.
    assert not [c for c in second_calls if c.operation in STACK_WRITES], "the second run wrote to a stack:\n" + report
    assert_each_endpoint_succeeded_or_was_named(outcome, subscribers, CONTENDED)
    assert_next_run_converges_and_the_one_after_writes_nothing(localstack, inventory, subscribers,
                                                               variants=BUSY_VARIANTS)


# -- 3. AWX/AAP job slicing --------------------------------------------------------------------------------------

SLICED_FLEET = 8


def test_job_slices_in_parallel_write_only_their_own_half(localstack, inventory, playbooks, tmp_path):
    sqs = localstack.client("sqs")
    queue = unique("slices")
    sqs.create_queue(QueueName=queue)
    inventory.group_vars("all", {"endpoint_monitoring_subscribers": [{"protocol": "sqs", "endpoint": sqs_arn(queue)}]})
    endpoints = [inventory.add("fleet", unique("slice%d" % i)) for i in range(SLICED_FLEET)]
    # AWX/AAP slices hosts in turn (host i goes to slice i mod n); each slice is a job with --limit.
    halves = [endpoints[0::2], endpoints[1::2]]

    with aws_proxy.AwsProxy(localstack.url) as proxy_a, aws_proxy.AwsProxy(localstack.url) as proxy_b:
        runs = [playbooks(inventory, through(proxy, localstack), str(tmp_path / ("slice-%d.log" % i)),
                          "--limit", ",".join(half))
                for i, (proxy, half) in enumerate(zip((proxy_a, proxy_b), halves))]
        results = [run.wait() for run in runs]
        calls = [proxy_a.snapshot(), proxy_b.snapshot()]
    # the two slices ran at the same time: each made its first call before the other made its last
    assert calls[0] and calls[1], calls
    assert calls[0][0].time < calls[1][-1].time and calls[1][0].time < calls[0][-1].time, calls

    for half, result, run_calls in zip(halves, results, calls):
        report = "%s\n%s" % (describe(run_calls), result.output)
        assert_all_changed(result, half)
        writes = [c for c in run_calls if not c.read_only]
        own_stacks = set(map(stack_name, half))
        stack_writes = [c for c in writes if c.operation in STACK_WRITES]
        assert sorted(c.params["StackName"] for c in stack_writes) == sorted(own_stacks), report
        topics = [c.params["TopicArn"] for c in writes if c.operation == "Subscribe"]
        assert sorted(t.rsplit(":", 1)[-1] for t in topics) == sorted(map(topic_name, half)), report
        other = set(endpoints) - set(half)
        for call in writes:
            assert call.operation in STACK_WRITES + ("Subscribe",), report
            assert not [e for e in other if call.mentions(stack_name(e)) or call.mentions(topic_name(e))], \
                "%r wrote to the other half\n%s" % (
                call, report)

    assert_converged_exactly_once(localstack, dict((e, [sqs_arn(queue)]) for e in endpoints))
    with aws_proxy.AwsProxy(localstack.url) as proxy:
        full = run_playbook(localstack, inventory, env=through(proxy, localstack), timeout=PLAYBOOK_TIMEOUT)
        assert_write_free(proxy, full)
    # every endpoint was in the run, and unchanged (the recap lists only endpoints that changed or failed)
    assert all(re.search(r"unchanged +%s: " % re.escape(h), full.output) for h in endpoints), full.output


# -- 4. two regions from one inventory ---------------------------------------------------------------------------

REGIONS = {"east": "us-east-1", "west": "eu-west-1"}


def test_two_regions_from_one_inventory_land_in_their_own_region(localstack, inventory):
    placed = {}
    for group, region in sorted(REGIONS.items()):
        inventory.group_vars(group, {"endpoint_monitoring_region": region})
        for i in range(2):
            placed[inventory.add(group, unique("%s%d" % (group, i)))] = region

    with aws_proxy.AwsProxy(localstack.url) as proxy:
        # AWS_REGION of the run is us-east-1: the west group's region comes from its group_vars alone.
        first = run_playbook(localstack, inventory, env=through(proxy, localstack), timeout=PLAYBOOK_TIMEOUT)
        writes = proxy.writes()
    assert_all_changed(first, placed)
    created = sorted((c.params["StackName"], c.region) for c in writes if c.operation == "CreateStack")
    assert created == sorted((stack_name(e), r) for e, r in placed.items()), describe(writes)
    assert [c for c in writes if c.operation != "CreateStack"] == [], describe(writes)

    clients = dict((region, dict((s, localstack.client(s, region)) for s in ("cloudformation", "cloudwatch", "sns")))
                   for region in REGIONS.values())
    for endpoint, region in sorted(placed.items()):
        other = [r for r in REGIONS.values() if r != region][0]
        here, there = clients[region], clients[other]
        stack = here["cloudformation"].describe_stacks(StackName=stack_name(endpoint))["Stacks"][0]
        assert stack["StackStatus"] == "CREATE_COMPLETE"
        assert stack["StackId"].split(":")[3] == region, stack["StackId"]
        assert stacks_of_fleet(there["cloudformation"], [endpoint]) == {stack_name(endpoint): []}
        assert alarm_names(here["cloudwatch"], endpoint) == expected_alarms(endpoint)
        assert alarm_names(there["cloudwatch"], endpoint) == []
        outputs = outputs_of(stack)
        assert outputs["TopicArn"].split(":")[3] == region, outputs
        assert topics_named(here["sns"], topic_name(endpoint)) == [outputs["TopicArn"]]
        assert topics_named(there["sns"], topic_name(endpoint)) == []
        assert "https://%s.console.aws.amazon.com/cloudwatch/" % region in outputs["DashboardUrl"], outputs
        alarm = here["cloudwatch"].describe_alarms(
            AlarmNames=["sagemaker-monitoring_%s_AllTraffic_ModelLatency" % endpoint])
        assert alarm["MetricAlarms"][0]["AlarmActions"] == [outputs["TopicArn"]]

    with aws_proxy.AwsProxy(localstack.url) as proxy:
        again = run_playbook(localstack, inventory, env=through(proxy, localstack), timeout=PLAYBOOK_TIMEOUT)
        assert_write_free(proxy, again, regions=REGIONS.values())
    assert all(re.search(r"unchanged +%s: " % re.escape(h), again.output) for h in placed), again.output
