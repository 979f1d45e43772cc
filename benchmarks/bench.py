#!/usr/bin/env python3
"""Fleet-scale benchmark: the collection against two naive baselines, on LocalStack, same inventory.

    .venv/bin/python benchmarks/bench.py --endpoints 300            # make bench [N=300]
    .venv/bin/python benchmarks/bench.py --scale 10,100,300         # make bench-scale (also latest.*: N = 300)
    .venv/bin/python benchmarks/bench.py --combine a.json,b.json    # scale.* from runs made separately

Systems under test, each on a LocalStack of its own (fresh state) started on a free port of 127.0.0.1:

    collection          playbooks/monitor_endpoints.yml, as shipped
    per_stack_baseline  benchmarks/baselines/per_stack.yml: the collection's rendered template, one
                        amazon.aws.cloudformation task per endpoint, no plan
    per_alarm_baseline  benchmarks/baselines/per_alarm.yml: the collection's alarms, one
                        amazon.aws.cloudwatch_metric_alarm call per alarm (no composite alarm, no topic)

Each runs three phases on the same inventory: the first rollout, a re-run with no change, and a one-threshold
change across the fleet (an extra group_vars file; every 10th endpoint pins that threshold in its host_vars,
so its template does not change). Per phase: wall seconds and CPU seconds of the ansible-playbook process tree,
its peak memory, and the AWS API calls it made, counted by (service, operation) at a recording proxy between
ansible and LocalStack (tests/support/aws_proxy.py). Results: benchmarks/results/latest.json and latest.md
(--scale: scale.json, scale.md, scale.png).
"""

import argparse
import collections
import datetime
import json
import os
import platform
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, ROOT)

import local_aws  # noqa: E402
from tests.support.aws_proxy import AwsProxy  # noqa: E402

HERE = os.path.join(ROOT, "benchmarks")
RESULTS_DIR = os.path.join(HERE, "results")
ANSIBLE_PLAYBOOK = os.path.join(ROOT, ".venv", "bin", "ansible-playbook")
REGION = "us-east-1"

SYSTEMS = collections.OrderedDict([
    ("collection", os.path.join(ROOT, "playbooks", "monitor_endpoints.yml")),
    ("per_stack_baseline", os.path.join(HERE, "baselines", "per_stack.yml")),
    ("per_alarm_baseline", os.path.join(HERE, "baselines", "per_alarm.yml")),
])
PHASES = ("first_rollout", "noop", "one_change")
PHASE_KEYS = {"first_rollout": "first_rollout_s", "noop": "noop_s", "one_change": "one_change_s"}
LABELS = {"collection": "collection", "per_stack_baseline": "per-stack baseline",
          "per_alarm_baseline": "per-alarm baseline"}

# The inventory: names, the one threshold the one-change phase moves, and which endpoints pin it.
HOST_FORMAT = "bench-ep-%05d"
HOST_PATTERN = re.compile(rb"bench-ep-\d{5}")
INSTANCE_TYPE = "ml.m5.xlarge"
# The inventory says what each endpoint is (one variant on INSTANCE_TYPE): no SageMaker call, as in a static
# inventory; an endpoint named only would be described from SageMaker, which LocalStack does not serve.
VARIANT = "AllTraffic"
CHANGED_METRIC = "ModelLatency"
DEFAULT_THRESHOLD_MS = 1000  # the catalog's default ModelLatency threshold
CHANGED_THRESHOLD_MS = 750
PIN_EVERY = 10  # every 10th endpoint pins ModelLatency in host_vars: its template stays the same
CHANGE_FILE = "zz-bench-threshold-change.yml"

# Targets of the issue, checked at whatever N was run (they are stated for N = 300; memory for N = 1000).
TARGET_NOOP_SPEEDUP_VS_STACK = 10.0
TARGET_NOOP_CALLS_PER_ENDPOINT = 0.1
TARGET_FIRST_SPEEDUP_VS_STACK = 3.0
TARGET_FIRST_SPEEDUP_VS_ALARM = 10.0
TARGET_PEAK_MB_AT_1000 = 1024.0

STACK_WRITES = {"CreateStack", "UpdateStack", "DeleteStack", "CreateChangeSet", "ExecuteChangeSet"}
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)
CHANGED_ITEM = re.compile(r"^changed: \[[^\]]+\] => \(item=", re.M)
PAGE = os.sysconf("SC_PAGE_SIZE")
MB = 1024.0 * 1024.0


# --------------------------------------------------------------------------------------------- inventory

def endpoints(n):
    return [HOST_FORMAT % i for i in range(1, n + 1)]


def pinned(n):
    """Endpoints whose host_vars pin the threshold the one-change phase moves (every PIN_EVERY-th)."""
    return [HOST_FORMAT % i for i in range(PIN_EVERY, n + 1, PIN_EVERY)]


def write_inventory(path, n):
    """N real-time endpoints on ml.m5.xlarge (the default alarm set), no subscribers, in one group."""
    if os.path.exists(path):
        shutil.rmtree(path)
    os.makedirs(os.path.join(path, "group_vars", "all"))
    os.makedirs(os.path.join(path, "host_vars"))
    hosts = {"all": {"vars": {"ansible_connection": "local"},
                     "children": {"fleet": {"hosts": dict((h, None) for h in endpoints(n))}}}}
    _dump(os.path.join(path, "hosts.yml"), hosts)
    _dump(os.path.join(path, "group_vars", "all", "main.yml"),
          {"endpoint_monitoring_instance_type": INSTANCE_TYPE, "endpoint_monitoring_variants": [VARIANT],
           "endpoint_monitoring_subscribers": []})
    for host in pinned(n):
        _dump(os.path.join(path, "host_vars", host + ".yml"),
              {"endpoint_monitoring_endpoint_metrics": {CHANGED_METRIC: {"threshold": DEFAULT_THRESHOLD_MS}}})


def set_one_change(path, on):
    """The one-change phase's extra group_vars file: ModelLatency threshold moved for the whole fleet."""
    target = os.path.join(path, "group_vars", "all", CHANGE_FILE)
    if on:
        _dump(target, {"endpoint_monitoring_metrics": {CHANGED_METRIC: {"threshold": CHANGED_THRESHOLD_MS}}})
    elif os.path.exists(target):
        os.remove(target)


def _dump(path, data):
    with open(path, "w") as f:
        yaml.safe_dump(data, f, sort_keys=False)


# ------------------------------------------------------------------------------------------- processes

def _children(pid):
    kids = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                kids.extend(int(x) for x in f.read().split())
    except OSError:
        pass
    return kids


def process_tree(pid):
    seen, todo = [], [pid]
    while todo and len(seen) < 10000:
        p = todo.pop()
        if p in seen:
            continue
        seen.append(p)
        todo.extend(_children(p))
    return seen


def _rss_bytes(pid):
    try:
        with open("/proc/%d/statm" % pid) as f:
            return int(f.read().split()[1]) * PAGE
    except (OSError, ValueError, IndexError):
        return 0


def _pss_bytes(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def machine_busy_seconds():
    """CPU seconds all processes of the machine spent busy so far (/proc/stat), to see contention."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / float(os.sysconf("SC_CLK_TCK"))


def tree_cpu_seconds(pid):
    """utime + stime (and those of reaped children) of a process tree, from /proc: the server's CPU."""
    total = 0
    ticks = os.sysconf("SC_CLK_TCK")
    for p in process_tree(pid):
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
        except (OSError, ValueError, IndexError):
            pass
    return total / float(ticks)


class MemorySampler(threading.Thread):
    """Every `interval` seconds, RSS and PSS summed over the process tree of `pid`; keeps the maxima."""

    def __init__(self, pid, interval=0.2):
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.peak_rss = 0
        self.peak_pss = 0
        self.peak_processes = 0
        self.samples = 0
        self._done = threading.Event()

    def run(self):
        while not self._done.is_set():
            tree = process_tree(self.pid)
            self.peak_rss = max(self.peak_rss, sum(_rss_bytes(p) for p in tree))
            self.peak_pss = max(self.peak_pss, sum(_pss_bytes(p) for p in tree))
            self.peak_processes = max(self.peak_processes, len(tree))
            self.samples += 1
            self._done.wait(self.interval)

    def stop(self):
        self._done.set()
        self.join(5)


def run_measured(command, env, log_path, timeout):
    """Run one ansible-playbook; wall and CPU seconds, peak memory of its process tree, recap."""
    before_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    before_self = resource.getrusage(resource.RUSAGE_SELF)
    started = time.monotonic()
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    sampler = MemorySampler(process.pid)
    sampler.start()
    timed_out = threading.Event()

    def kill():
        timed_out.set()
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except OSError:
            pass

    timer = threading.Timer(timeout, kill)
    timer.daemon = True
    timer.start()
    # wait4 instead of Popen.wait: its rusage is this child's tree alone, with ru_maxrss the largest
    # single process of the tree (exact, not sampled).
    try:
        _, status, usage = os.wait4(process.pid, 0)
    except BaseException:  # interrupted: the playbook runs in a session of its own, so end it here
        kill()
        os.waitpid(process.pid, 0)
        sampler.stop()
        raise
    wall = time.monotonic() - started
    timer.cancel()
    sampler.stop()
    process.returncode = os.waitstatus_to_exitcode(status)
    after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    after_self = resource.getrusage(resource.RUSAGE_SELF)
    with open(log_path, errors="replace") as f:
        output = f.read()
    recap = dict((m.group(1), {"ok": int(m.group(2)), "changed": int(m.group(3)),
                               "unreachable": int(m.group(4)), "failed": int(m.group(5))})
                 for m in RECAP.finditer(output))
    cpu = (after_children.ru_utime - before_children.ru_utime) + (after_children.ru_stime - before_children.ru_stime)
    return {
        "rc": process.returncode,
        "timed_out": timed_out.is_set(),
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "cpu_user_s": round(after_children.ru_utime - before_children.ru_utime, 2),
        "cpu_sys_s": round(after_children.ru_stime - before_children.ru_stime, 2),
        "peak_rss_mb": round(sampler.peak_rss / MB, 1),
        "peak_pss_mb": round(sampler.peak_pss / MB, 1),
        "max_process_rss_mb": round(usage.ru_maxrss / 1024.0, 1),
        "peak_processes": sampler.peak_processes,
        "memory_samples": sampler.samples,
        "harness_cpu_s": round((after_self.ru_utime - before_self.ru_utime)
                               + (after_self.ru_stime - before_self.ru_stime), 2),
        "hosts": len(recap),
        "hosts_changed": sum(1 for r in recap.values() if r["changed"]),
        "hosts_failed": sum(1 for r in recap.values() if r["failed"] or r["unreachable"]),
        "changed_loop_items": len(CHANGED_ITEM.findall(output)),
        "log": log_path,
    }


def ansible_env(server_env):
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith("AWS_"))
    env.update(server_env)
    env.update({
        "ANSIBLE_CONFIG": os.path.join(ROOT, "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_STDOUT_CALLBACK": "default",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "PATH": os.path.join(ROOT, ".venv", "bin") + os.pathsep + env.get("PATH", ""),
    })
    return env


# ----------------------------------------------------------------------------------------- API calls

def count_calls(calls):
    by_operation = collections.Counter("%s:%s" % (c.service, c.operation) for c in calls)
    writes = [c for c in calls if not c.read_only]
    # A write the server refused (UpdateStack's "No updates are to be performed", a 4XX) changed nothing:
    # it counts as a call, not as touching the endpoint.
    accepted = [c for c in writes if c.status is not None and c.status < 400]
    written = set()
    stack_writes = set()
    for c in accepted:
        text = c.body + c.path.encode("latin-1", "replace")
        names = set(m.decode() for m in HOST_PATTERN.findall(text))
        if b"%" in text:  # form-encoded bodies (query protocol) may escape the names
            names |= set(m.decode() for m in HOST_PATTERN.findall(urllib.parse.unquote_to_bytes(text)))
        written |= names
        if c.operation in STACK_WRITES:
            stack_writes |= names
    return {
        "total": len(calls),
        "writes": len(writes),
        "writes_refused": len(writes) - len(accepted),
        "by_operation": dict(sorted(by_operation.items())),
        "endpoints_written": sorted(written),
        "stacks_written": sorted(stack_writes),
        "errors": sum(1 for c in calls if c.status is None or c.status >= 400),
        "errors_by_operation": dict(sorted(collections.Counter(
            "%s:%s" % (c.service, c.operation) for c in calls if c.status is None or c.status >= 400).items())),
    }


def deployed(server, n):
    """What the server holds after a phase (read directly, not through the proxy)."""
    cloudwatch = server.client("cloudwatch", REGION)
    metric_alarms = composite = 0
    latency_at_new = 0
    token = None
    for _ in range(max(20, n)):  # bounded: 100 alarms a page
        kwargs = {"AlarmNamePrefix": "bench-ep-", "AlarmTypes": ["MetricAlarm", "CompositeAlarm"], "MaxRecords": 100}
        if token:
            kwargs["NextToken"] = token
        page = cloudwatch.describe_alarms(**kwargs)
        metric_alarms += len(page.get("MetricAlarms", []))
        composite += len(page.get("CompositeAlarms", []))
        latency_at_new += sum(1 for a in page.get("MetricAlarms", [])
                              if a["AlarmName"].endswith("-" + CHANGED_METRIC)
                              and float(a.get("Threshold", 0)) == CHANGED_THRESHOLD_MS * 1000.0)
        token = page.get("NextToken")
        if not token:
            break
    stacks = 0
    unsettled = []  # a run must leave its stacks complete, not in progress or rolled back
    token = None
    cloudformation = server.client("cloudformation", REGION)
    for _ in range(max(20, n)):
        page = cloudformation.describe_stacks(**({"NextToken": token} if token else {}))
        live = [s for s in page.get("Stacks", []) if not s["StackStatus"].startswith("DELETE")]
        stacks += len(live)
        unsettled += ["%s %s" % (s["StackName"], s["StackStatus"]) for s in live
                      if s["StackStatus"] not in ("CREATE_COMPLETE", "UPDATE_COMPLETE")]
        token = page.get("NextToken")
        if not token:
            break
    return {"metric_alarms": metric_alarms, "composite_alarms": composite, "stacks": stacks,
            "stacks_not_complete": len(unsettled), "stacks_not_complete_examples": unsettled[:10],
            "model_latency_alarms_at_new_threshold": latency_at_new}


# ------------------------------------------------------------------------------------------ the bench

def bench_system(system, playbook, n, forks, work, log):
    inventory = os.path.join(work, "inventory")
    timeout = 120 + 15 * n  # per phase; the slowest known rate is ~2.5 s per endpoint
    log("== %s: starting LocalStack" % system)
    server = local_aws.start_localstack(log_dir=work)
    proxy = AwsProxy(server.url, max_seconds=3 * timeout + 600, upstream_timeout=300)
    phases = collections.OrderedDict()
    try:
        proxy.start()
        env = proxy.env(ansible_env(server.env(REGION)))
        for phase in PHASES:
            set_one_change(inventory, phase == "one_change")
            proxy.clear()
            server_cpu_before = tree_cpu_seconds(server.process.pid)
            busy_before = machine_busy_seconds()
            command = [ANSIBLE_PLAYBOOK, "-i", inventory, "-f", str(forks), playbook]
            result = run_measured(command, env, os.path.join(work, "%s-%s.log" % (system, phase)), timeout)
            result["server_cpu_s"] = round(tree_cpu_seconds(server.process.pid) - server_cpu_before, 2)
            busy = machine_busy_seconds() - busy_before
            # CPU the machine spent on anything but this run (other sessions' work): noise in the timings.
            result["other_cpu_s"] = round(max(0.0, busy - result["cpu_s"] - result["server_cpu_s"]
                                              - result["harness_cpu_s"]), 2)
            result["load_average_1m_after"] = round(os.getloadavg()[0], 2)
            calls = count_calls(proxy.snapshot())
            proxy.clear()
            result["api_calls"] = calls
            result["deployed"] = deployed(server, n)
            # Every host ran (the collection's recap lists only the endpoints it changed, the baselines' all of
            # them); the check that all N are monitored is on the server: stacks or alarms, none left unsettled.
            result["ok"] = result["rc"] == 0 and not result["timed_out"] and result["hosts_failed"] == 0 \
                and 0 < result["hosts"] <= n and result["deployed"]["stacks_not_complete"] == 0 \
                and (result["deployed"]["stacks"] in (0, n)) and (result["deployed"]["stacks"] or
                                                               result["deployed"]["metric_alarms"])
            phases[phase] = result
            log("   %-13s %8.1f s wall %8.1f s cpu %7.1f MB peak  %6d API calls (%d writes, %d refused; %d endpoints written)%s"
                % (phase, result["wall_s"], result["cpu_s"], result["peak_rss_mb"], calls["total"], calls["writes"],
                   calls["writes_refused"], len(calls["endpoints_written"]), "" if result["ok"] else "  FAILED: rc=%s, see %s"
                   % (result["rc"], result["log"])))
    finally:
        set_one_change(inventory, False)
        proxy.stop()
        server.stop()
    return phases


def versions():
    found = {"python": platform.python_version()}
    try:
        from ansible.release import __version__ as core
        found["ansible-core"] = core
    except ImportError:
        pass
    try:
        import ansible_collections.amazon.aws.plugins.module_utils.common as common
        found["amazon.aws"] = common.AMAZON_AWS_COLLECTION_VERSION
    except (ImportError, AttributeError):
        pass
    try:
        import botocore
        found["botocore"] = botocore.__version__
    except ImportError:
        pass
    try:
        out = subprocess.run([local_aws.LOCALSTACK_PYTHON, "-c",
                              "import importlib.metadata as m; print(m.version('localstack-core'))"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True, timeout=60)
        found["localstack-core"] = out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return found


def _ratio(a, b):
    return round(a / b, 2) if a and b else None


def target_checks(results, n):
    runs = results["runs"]
    extra = results["extra"]["systems"]
    checks = collections.OrderedDict()
    col = runs.get("collection")
    stack = runs.get("per_stack_baseline")
    alarm = runs.get("per_alarm_baseline")
    if col and stack:
        r = _ratio(stack["noop_s"], col["noop_s"])
        checks["noop_speedup_vs_per_stack"] = {"value": r, "target": ">= %g" % TARGET_NOOP_SPEEDUP_VS_STACK,
                                               "met": bool(r and r >= TARGET_NOOP_SPEEDUP_VS_STACK)}
        r = _ratio(stack["first_rollout_s"], col["first_rollout_s"])
        checks["first_rollout_speedup_vs_per_stack"] = {"value": r, "target": ">= %g" % TARGET_FIRST_SPEEDUP_VS_STACK,
                                                        "met": bool(r and r >= TARGET_FIRST_SPEEDUP_VS_STACK)}
    if col and alarm:
        r = _ratio(alarm["first_rollout_s"], col["first_rollout_s"])
        checks["first_rollout_speedup_vs_per_alarm"] = {"value": r, "target": ">= %g" % TARGET_FIRST_SPEEDUP_VS_ALARM,
                                                        "met": bool(r and r >= TARGET_FIRST_SPEEDUP_VS_ALARM)}
    if col:
        per = round(col["api_calls"]["noop"] / float(n), 3)
        checks["noop_api_calls_per_endpoint"] = {"value": per, "target": "<= %g" % TARGET_NOOP_CALLS_PER_ENDPOINT,
                                                 "met": per <= TARGET_NOOP_CALLS_PER_ENDPOINT}
        # An endpoint is touched when a write the server accepted names it (its stack, alarm or topic).
        change = extra["collection"]["one_change"]["api_calls"]
        expected = sorted(set(endpoints(n)) - set(pinned(n)))
        touched = change["endpoints_written"]
        checks["one_change_touches_only_changed_stacks"] = {
            "value": "%d endpoints written; %d templates changed (%d pinned endpoints unchanged)"
                     % (len(touched), len(expected), len(pinned(n))),
            "unchanged_but_written": sorted(set(touched) - set(expected))[:20],
            "changed_but_not_written": sorted(set(expected) - set(touched))[:20],
            "target": "endpoints written == endpoints whose template changed",
            "met": touched == expected,
        }
        checks["controller_peak_memory"] = {
            "value": col["peak_rss_mb"], "target": "< %g MB at N = 1000" % TARGET_PEAK_MB_AT_1000,
            "met": col["peak_rss_mb"] < TARGET_PEAK_MB_AT_1000 if n >= 1000 else None,
        }
    return checks


def bench(n, forks, systems, work, log):
    write_inventory(os.path.join(work, "inventory"), n)
    for system in systems:  # imports and bytecode warm, playbooks valid, before anything is timed
        check = subprocess.run([ANSIBLE_PLAYBOOK, "-i", os.path.join(work, "inventory"), "--syntax-check",
                                SYSTEMS[system]], cwd=ROOT, env=ansible_env({"AWS_REGION": REGION}),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=300)
        if check.returncode:
            raise SystemExit("syntax check of %s failed:\n%s" % (SYSTEMS[system], check.stdout))
    results = {"endpoints": n, "runs": collections.OrderedDict(), "extra": collections.OrderedDict()}
    extra = results["extra"]
    extra["forks"] = forks
    extra["date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    extra["machine"] = {"cpus": os.cpu_count(), "platform": platform.platform()}
    extra["commit"] = source_commit()
    extra["versions"] = versions()
    extra["inventory"] = {
        "instance_type": INSTANCE_TYPE, "subscribers": "none (identical for every system)",
        "one_change": "group_vars/all/%s sets endpoint_monitoring_metrics.%s.threshold %d -> %d ms; the %d endpoints "
                      "with a host_vars pin of it keep their template" % (CHANGE_FILE, CHANGED_METRIC,
                                                                         DEFAULT_THRESHOLD_MS, CHANGED_THRESHOLD_MS,
                                                                         len(pinned(n))),
        "pinned_endpoints": len(pinned(n)),
    }
    extra["notes"] = [
        "Each system runs on a LocalStack of its own, started fresh; the three run one after the other.",
        "per_alarm_baseline writes the plain and metric-math alarms with amazon.aws.cloudwatch_metric_alarm "
        "(metric math through its `metrics` option); it skips the composite <endpoint>-health alarm and "
        "anomaly-band alarms (the module supports neither) and has no SNS topic, so its alarms have no actions.",
        "amazon.aws.cloudwatch_metric_alarm leaves Metrics out of its comparison, so it rewrites every "
        "metric-math alarm on every run (PutMetricAlarm in the no-change phase).",
        "LocalStack does not apply updates to an existing AWS::CloudWatch::Alarm of a stack, so after the "
        "one-change phase the deployed ModelLatency thresholds change only for per_alarm_baseline.",
        "API calls are counted at a recording HTTP proxy between ansible and LocalStack, which opens one upstream "
        "connection per call; its cost and the memory sampler's are harness_cpu_s, not the controller's CPU.",
    ]
    extra["systems"] = collections.OrderedDict()
    failed = False
    for system in systems:
        phases = bench_system(system, SYSTEMS[system], n, forks, work, log)
        extra["systems"][system] = phases
        failed = failed or not all(p["ok"] for p in phases.values())
        results["runs"][system] = {
            "first_rollout_s": phases["first_rollout"]["wall_s"],
            "noop_s": phases["noop"]["wall_s"],
            "one_change_s": phases["one_change"]["wall_s"],
            "peak_rss_mb": max(p["peak_rss_mb"] for p in phases.values()),
            "api_calls": dict((phase, phases[phase]["api_calls"]["total"]) for phase in PHASES),
        }
    extra["targets"] = target_checks(results, n)
    extra["all_runs_ok"] = not failed
    return results


def source_commit():
    """The commit benchmarked, marked when the working tree differs from it (results of earlier runs aside);
    None outside a git clone."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, universal_newlines=True, timeout=30)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                ":(exclude)benchmarks/results"], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True, timeout=30)
    except OSError:
        return None
    if head.returncode:
        return None
    return head.stdout.strip() + (" with uncommitted changes" if dirty.stdout.strip() else "")


# --------------------------------------------------------------------------------------------- output

def markdown(results):
    n = results["endpoints"]
    extra = results["extra"]
    lines = [
        "Fleet benchmark, N = %d endpoints (%s, forks %d, %s CPUs), %s%s." % (
            n, INSTANCE_TYPE, extra["forks"], extra["machine"]["cpus"], extra["date"],
            ", commit %s" % extra["commit"] if extra.get("commit") else ""),
        "",
        "| system | first rollout s | no-change s | one change s | CPU s (first / no-change / change) "
        "| peak RSS MB | API calls (first / no-change / change) | no-change calls per endpoint |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for system, run in results["runs"].items():
        phases = extra["systems"][system]
        lines.append("| %s | %.1f | %.1f | %.1f | %s | %.0f | %s | %.2f |" % (
            LABELS[system], run["first_rollout_s"], run["noop_s"], run["one_change_s"],
            " / ".join("%.1f" % phases[p]["cpu_s"] for p in PHASES), run["peak_rss_mb"],
            " / ".join(str(run["api_calls"][p]) for p in PHASES), run["api_calls"]["noop"] / float(n)))
    cpus = float(extra["machine"]["cpus"] or 1)
    busy = []
    for system, phases in extra["systems"].items():
        other = sum(r.get("other_cpu_s", 0) for r in phases.values())
        wall = sum(r["wall_s"] for r in phases.values()) or 1.0
        busy.append("%s %.0f%%" % (LABELS[system], 100.0 * other / (wall * cpus)))
    lines += ["", "Other processes on the machine (not this benchmark) used this share of its %d CPUs during the runs: "
              "%s. Timings taken on a busy machine are longer and noisier." % (cpus, ", ".join(busy))]
    failed = ["%s %s (rc %s)" % (s, p, r["rc"]) for s, ph in extra["systems"].items()
              for p, r in ph.items() if not r["ok"]]
    if failed:
        lines += ["", "**Runs that failed (their numbers are not comparable): %s.**" % ", ".join(failed)]
    lines += ["", "Targets (stated for N = 300; memory for N = 1000), computed in this run:", ""]
    for name, check in extra["targets"].items():
        met = {True: "met", False: "NOT met", None: "not applicable at this N"}[check["met"]]
        lines.append("- %s: %s (target %s): %s" % (name.replace("_", " "), check["value"], check["target"], met))
    return "\n".join(lines) + "\n"


def write_results(results, results_dir, name="latest"):
    os.makedirs(results_dir, exist_ok=True)
    with open(os.path.join(results_dir, name + ".json"), "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")
    text = markdown(results)
    with open(os.path.join(results_dir, name + ".md"), "w") as f:
        f.write(text)
    return text


def combine_runs(results):
    """One result per fleet size from runs made separately. Runs of the same size are merged system by system,
    a later run's system replacing an earlier one's (to re-measure one system where the others have not changed);
    each system keeps the commit it was measured at, in extra.commits."""
    by_size = collections.OrderedDict()
    for result in results:
        commit = result.get("extra", {}).get("commit") or "unrecorded"
        merged = by_size.setdefault(result["endpoints"], {"endpoints": result["endpoints"], "runs": {},
                                                          "extra": dict(result.get("extra", {}), commits={})})
        for system, run in result["runs"].items():
            merged["runs"][system] = run
            merged["extra"]["commits"][system] = commit
    ordered = []
    for n in sorted(by_size):
        merged = by_size[n]
        merged["runs"] = collections.OrderedDict((s, merged["runs"][s]) for s in SYSTEMS if s in merged["runs"])
        ordered.append(merged)
    return ordered


def write_scale(all_results, results_dir):
    os.makedirs(results_dir, exist_ok=True)
    with open(os.path.join(results_dir, "scale.json"), "w") as f:
        json.dump({"runs": all_results}, f, indent=2)
        f.write("\n")
    systems = [s for s in SYSTEMS if any(s in r["runs"] for r in all_results)]
    lines = ["Wall seconds against N (forks %d; - where a system was not run at that N):"
             % all_results[0]["extra"]["forks"], "",
             "| system | phase | " + " | ".join("N = %d" % r["endpoints"] for r in all_results) + " |",
             "|---|---|" + "---:|" * len(all_results)]
    for system in systems:
        for phase in PHASES:
            lines.append("| %s | %s | %s |" % (LABELS[system], phase.replace("_", " "), " | ".join(
                "%.1f" % r["runs"][system][PHASE_KEYS[phase]] if system in r["runs"] else "-" for r in all_results)))
    sources = ["N = %d: %s" % (r["endpoints"], ", ".join("%s %s" % (LABELS[system], commit)
                                                        for system, commit in r["extra"]["commits"].items()))
               for r in all_results if r["extra"].get("commits")]
    commits = set(c for r in all_results for c in r["extra"].get("commits", {}).values())
    if len(commits) == 1:
        lines += ["", "Every point measured at commit %s." % commits.pop()]
    elif sources:
        lines += ["", "Commit measured, per point: " + "; ".join(sources) + "."]
    text = "\n".join(lines) + "\n"
    with open(os.path.join(results_dir, "scale.md"), "w") as f:
        f.write(text)

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker
    figure, axes = plt.subplots(1, 3, figsize=(15, 4.8), sharey=True)
    colours = {"collection": "tab:blue", "per_stack_baseline": "tab:orange", "per_alarm_baseline": "tab:red"}
    xs = [r["endpoints"] for r in all_results]
    for axis, phase in zip(axes, PHASES):
        for system in systems:
            points = [(r["endpoints"], max(r["runs"][system][PHASE_KEYS[phase]], 0.01)) for r in all_results
                      if system in r["runs"]]
            axis.plot([x for x, _y in points], [y for _x, y in points], marker="o", color=colours.get(system),
                      label=LABELS[system])
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_title(phase.replace("_", " "))
        axis.set_xlabel("endpoints (N)")
        axis.set_xticks(xs)
        axis.set_xticklabels([str(x) for x in xs])
        axis.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: "%g" % v))
        axis.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        axis.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("wall seconds")
    axes[0].legend()
    figure.suptitle("mlops.sagemaker_monitoring fleet benchmark on LocalStack (forks %d)"
                    % all_results[0]["extra"]["forks"])
    figure.tight_layout()
    figure.savefig(os.path.join(results_dir, "scale.png"), dpi=110)
    plt.close(figure)
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoints", "-n", type=int, default=300, help="fleet size N (default 300)")
    parser.add_argument("--scale", help="comma-separated fleet sizes, e.g. 10,100,300: scale.json/md/png")
    parser.add_argument("--forks", type=int, default=5, help="ansible-playbook --forks for every system (default 5)")
    parser.add_argument("--systems", default=",".join(SYSTEMS),
                        help="comma-separated subset of %s (default: all three)" % ", ".join(SYSTEMS))
    parser.add_argument("--results-dir", default=RESULTS_DIR)
    parser.add_argument("--work-dir", help="inventory, logs (kept); default: a new temporary directory")
    parser.add_argument("--combine", help="comma-separated result files (.json) of earlier runs: write "
                                          "scale.json/md/png from them, run nothing. Files of the same N are "
                                          "merged system by system, a later file's system replacing an earlier "
                                          "one's")
    args = parser.parse_args(argv)
    if args.combine:
        combined = []
        for path in args.combine.split(","):
            with open(path) as f:
                combined.append(json.load(f))
        print(write_scale(combine_runs(combined), args.results_dir))
        return 0
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown or not systems:
        parser.error("unknown systems %s; choose from %s" % (unknown, ", ".join(SYSTEMS)))
    sizes = [int(x) for x in args.scale.split(",")] if args.scale else [args.endpoints]
    if any(n < 1 for n in sizes) or args.forks < 1:
        parser.error("fleet sizes and forks must be positive")
    work = args.work_dir or tempfile.mkdtemp(prefix="sagemaker-monitoring-bench-")
    os.makedirs(work, exist_ok=True)

    def log(message):
        print(message, flush=True)

    log("work directory (inventory, ansible and LocalStack logs): %s" % work)
    all_results = []
    for n in sizes:
        log("=== N = %d endpoints, forks %d, systems %s" % (n, args.forks, ", ".join(systems)))
        sub = os.path.join(work, "n%d" % n) if args.scale else work
        os.makedirs(sub, exist_ok=True)
        results = bench(n, args.forks, systems, sub, log)
        all_results.append(results)
        if args.scale:
            write_results(results, os.path.join(args.results_dir, "scale-runs"), "n%d" % n)
        else:
            log("\n" + write_results(results, args.results_dir))
    if args.scale:
        log("\n" + write_scale(combine_runs(all_results), args.results_dir))
        for results in all_results:
            log(markdown(results))
        # The largest fleet of the scale run is also the latest single-size result (make bench's files).
        write_results(max(all_results, key=lambda r: r["endpoints"]), args.results_dir)
    ok = all(r["extra"]["all_runs_ok"] for r in all_results)
    if not ok:
        log("Some runs failed: see the logs in %s" % work)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
