"""The fleet benchmark's pure parts (benchmarks/bench.py): inventory, call counting, target checks, tables."""

import json
import os
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
sys.path.insert(0, os.path.join(ROOT, "benchmarks", "baselines", "filter_plugins"))

import bench  # noqa: E402
from bench_baselines import metric_queries_snake  # noqa: E402
from tests.support.aws_proxy import Call  # noqa: E402


def load(path):
    with open(path) as f:
        return yaml.safe_load(f)


def test_inventory_pins_every_tenth_endpoint_and_toggles_the_one_change(tmp_path):
    path = str(tmp_path / "inventory")
    bench.write_inventory(path, 25)
    hosts = load(os.path.join(path, "hosts.yml"))["all"]["children"]["fleet"]["hosts"]
    assert list(hosts) == ["bench-ep-%05d" % i for i in range(1, 26)]
    assert load(os.path.join(path, "group_vars", "all", "main.yml"))["endpoint_monitoring_instance_type"] == "ml.m5.xlarge"
    assert sorted(os.listdir(os.path.join(path, "host_vars"))) == ["bench-ep-00010.yml", "bench-ep-00020.yml"]
    change = os.path.join(path, "group_vars", "all", bench.CHANGE_FILE)
    bench.set_one_change(path, True)
    assert load(change) == {"endpoint_monitoring_metrics": {"ModelLatency": {"threshold": 750}}}
    bench.set_one_change(path, False)
    assert not os.path.exists(change)


def call(index, service, operation, body=b"", status=200):
    c = Call(index, "POST", "/", service, "us-east-1", operation, "query", {}, body, None, 0.0)
    c.status = status
    return c


def test_calls_are_counted_by_operation_and_refused_writes_touch_nothing():
    calls = [
        call(1, "cloudformation", "DescribeStacks", b"Action=DescribeStacks&StackName=sagemaker-monitoring-bench-ep-00001"),
        call(2, "cloudformation", "UpdateStack", b"StackName=sagemaker-monitoring-bench-ep-00001", status=400),
        call(3, "cloudformation", "UpdateStack", b"StackName=sagemaker-monitoring-bench-ep-00002"),
        call(4, "monitoring", "PutMetricAlarm", b'{"AlarmName": "bench-ep-00003-AllTraffic-ModelLatency"}'),
        call(5, "cloudformation", "CreateStack", b"StackName=sagemaker-monitoring-bench%2Dep%2D00004"),
    ]
    counted = bench.count_calls(calls)
    assert counted["total"] == 5
    assert counted["by_operation"] == {"cloudformation:CreateStack": 1, "cloudformation:DescribeStacks": 1,
                                       "cloudformation:UpdateStack": 2, "monitoring:PutMetricAlarm": 1}
    assert counted["writes"] == 4 and counted["writes_refused"] == 1
    assert counted["endpoints_written"] == ["bench-ep-00002", "bench-ep-00003", "bench-ep-00004"]
    assert counted["stacks_written"] == ["bench-ep-00002", "bench-ep-00004"]
    assert counted["errors_by_operation"] == {"cloudformation:UpdateStack": 1}


def fake_results(n, collection, per_stack, per_alarm, written):
    def run(first, noop, change, calls):
        return {"first_rollout_s": first, "noop_s": noop, "one_change_s": change, "peak_rss_mb": 500.0,
                "api_calls": {"first_rollout": calls, "noop": calls, "one_change": calls}}

    phase = {"wall_s": 1.0, "cpu_s": 1.0, "ok": True, "rc": 0, "other_cpu_s": 0.0,
             "api_calls": {"endpoints_written": written}}
    systems = dict((s, dict((p, phase) for p in bench.PHASES)) for s in bench.SYSTEMS)
    return {"endpoints": n,
            "runs": {"collection": run(*collection), "per_stack_baseline": run(*per_stack),
                     "per_alarm_baseline": run(*per_alarm)},
            "extra": {"forks": 5, "date": "now", "machine": {"cpus": 2}, "systems": systems}}


def test_target_checks_compute_the_ratios_of_the_same_run():
    n = 20
    changed = ["bench-ep-%05d" % i for i in range(1, 21) if i % 10]
    results = fake_results(n, (10.0, 1.0, 5.0, 2), (40.0, 12.0, 30.0, 80), (120.0, 60.0, 60.0, 400), changed)
    checks = bench.target_checks(results, n)
    assert checks["noop_speedup_vs_per_stack"] == {"value": 12.0, "target": ">= 10", "met": True}
    assert checks["first_rollout_speedup_vs_per_stack"]["value"] == 4.0
    assert checks["first_rollout_speedup_vs_per_alarm"]["value"] == 12.0
    assert checks["noop_api_calls_per_endpoint"]["value"] == 0.1 and checks["noop_api_calls_per_endpoint"]["met"]
    assert checks["one_change_touches_only_changed_stacks"]["met"] is True
    assert checks["controller_peak_memory"]["met"] is None  # judged at N = 1000 only

    results = fake_results(n, (30.0, 6.0, 5.0, 60), (40.0, 12.0, 30.0, 80), (120.0, 60.0, 60.0, 400),
                           changed + ["bench-ep-00010"])
    checks = bench.target_checks(results, n)
    assert not checks["noop_speedup_vs_per_stack"]["met"]
    assert not checks["noop_api_calls_per_endpoint"]["met"]
    assert checks["one_change_touches_only_changed_stacks"]["unchanged_but_written"] == ["bench-ep-00010"]
    assert not checks["one_change_touches_only_changed_stacks"]["met"]


def test_markdown_table_has_a_row_per_system_and_the_target_lines(tmp_path):
    results = fake_results(20, (10.0, 1.0, 5.0, 2), (40.0, 12.0, 30.0, 80), (120.0, 60.0, 60.0, 400), [])
    results["extra"]["targets"] = bench.target_checks(results, 20)
    text = bench.write_results(results, str(tmp_path))
    assert "| collection | 10.0 | 1.0 | 5.0 |" in text
    assert "| per-alarm baseline | 120.0 | 60.0 | 60.0 |" in text
    assert "- noop speedup vs per stack: 12.0 (target >= 10): met" in text
    with open(str(tmp_path / "latest.json")) as f:
        assert json.load(f)["runs"]["per_stack_baseline"]["noop_s"] == 12.0


def test_metric_math_queries_become_the_alarm_modules_snake_case():
    queries = [{"Id": "errors", "ReturnData": False, "MetricStat": {
        "Metric": {"Namespace": "AWS/SageMaker", "MetricName": "Invocation5XXErrors",
                   "Dimensions": [{"Name": "EndpointName", "Value": "e"}]}, "Period": 300, "Stat": "Sum"}},
        {"Id": "rate", "Expression": "100 * errors", "Label": "rate", "ReturnData": True}]
    assert metric_queries_snake(queries) == [
        {"id": "errors", "return_data": False, "metric_stat": {
            "metric": {"namespace": "AWS/SageMaker", "metric_name": "Invocation5XXErrors",
                       "dimensions": [{"name": "EndpointName", "value": "e"}]}, "period": 300, "stat": "Sum"}},
        {"id": "rate", "expression": "100 * errors", "label": "rate", "return_data": True}]


def test_runs_made_separately_combine_per_size_with_a_later_system_replacing_an_earlier_one():
    def result(n, commit, **walls):
        extra = {"forks": 5, "commit": commit} if commit else {"forks": 5}
        return {"endpoints": n, "extra": extra, "runs": dict(
            (system, {"first_rollout_s": wall, "noop_s": wall, "one_change_s": wall}) for system, wall in walls.items())}

    combined = bench.combine_runs([
        result(300, "c300", collection=80.0, per_alarm_baseline=900.0),
        result(10, None, collection=6.0, per_stack_baseline=17.0, per_alarm_baseline=35.0),
        result(10, "new", collection=4.0),
    ])
    assert [r["endpoints"] for r in combined] == [10, 300]
    small = combined[0]
    assert list(small["runs"]) == ["collection", "per_stack_baseline", "per_alarm_baseline"]
    assert small["runs"]["collection"]["first_rollout_s"] == 4.0
    assert small["runs"]["per_alarm_baseline"]["first_rollout_s"] == 35.0
    assert small["extra"]["commits"] == {"collection": "new", "per_stack_baseline": "unrecorded",
                                         "per_alarm_baseline": "unrecorded"}
    assert combined[1]["extra"]["commits"] == {"collection": "c300", "per_alarm_baseline": "c300"}
