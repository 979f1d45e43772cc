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
    group = load(os.path.join(path, "group_vars", "all", "main.yml"))
    assert group["endpoint_monitoring_instance_type"] == "ml.m5.xlarge"
    assert group["endpoint_monitoring_variants"] == ["AllTraffic"]  # no SageMaker call for the endpoints' facts
    assert sorted(os.listdir(os.path.join(path, "host_vars"))) == ["bench-ep-00010.yml", "bench-ep-00020.yml"]
    change = os.path.join(path, "group_vars", "all", bench.CHANGE_FILE)
    bench.set_one_change(path, True)
    assert load(change) == {"endpoint_monitoring_metrics": {"ModelLatency": {"threshold": 750}},
                            "endpoint_monitoring_drift_checks": ["topic_policy"]}
    bench.set_one_change(path, False)
    assert not os.path.exists(change)


def call(index, service, operation, body=b"", status=200, items=None, response_bytes=0, params=None, fault=None):
    c = Call(index, "POST", "/", service, "us-east-1", operation, "query", params or {}, body, fault, 0.0)
    c.status = status
    c.items = items
    c.response_bytes = response_bytes
    return c


def test_calls_are_counted_by_operation_and_refused_writes_touch_nothing():
    calls = [
        call(1, "cloudformation", "DescribeStacks", b"Action=DescribeStacks&StackName=sagemaker-monitoring-bench-ep-00001",
             params={"StackName": "sagemaker-monitoring-bench-ep-00001"}, items=1),
        call(2, "cloudformation", "UpdateStack", b"StackName=sagemaker-monitoring-bench-ep-00001", status=400),
        call(3, "cloudformation", "UpdateStack", b"StackName=sagemaker-monitoring-bench-ep-00002"),
        call(4, "monitoring", "PutMetricAlarm", b'{"AlarmName": "sagemaker-monitoring_bench-ep-00003_AllTraffic_ModelLatency"}'),
        call(5, "cloudformation", "CreateStack", b"StackName=sagemaker-monitoring-bench%2Dep%2D00004"),
        call(6, "monitoring", "PutMetricAlarm", b"", status=400, fault="throttle"),
    ]
    counted = bench.count_calls(calls)
    assert counted["total"] == 6 and counted["aws_pages"] == 6
    assert counted["by_operation"] == {"cloudformation:CreateStack": 1, "cloudformation:DescribeStacks": 1,
                                       "cloudformation:UpdateStack": 2, "monitoring:PutMetricAlarm": 2}
    assert counted["writes"] == 5 and counted["writes_refused"] == 2
    assert counted["endpoints_written"] == ["bench-ep-00002", "bench-ep-00003", "bench-ep-00004"]
    assert counted["stacks_written"] == ["bench-ep-00002", "bench-ep-00004"]
    assert (counted["update_stack_calls"], counted["update_stack_accepted"]) == (2, 1)
    assert counted["stacks_updated"] == ["bench-ep-00002"]
    assert (counted["create_stack_calls"], counted["delete_stack_calls"], counted["throttled"]) == (1, 0, 1)
    assert counted["errors_by_operation"] == {"cloudformation:UpdateStack": 1, "monitoring:PutMetricAlarm": 1}


def test_listings_count_the_pages_aws_would_have_needed():
    # DescribeStacks: 100 stacks a page (field reports) or 1 MB (documented), whichever gives more pages
    assert bench.aws_pages(call(1, "cloudformation", "DescribeStacks", items=250, response_bytes=600000)) == 3
    assert bench.aws_pages(call(1, "cloudformation", "DescribeStacks", items=40, response_bytes=2500000)) == 3
    assert bench.aws_pages(call(1, "cloudformation", "DescribeStacks", items=0, response_bytes=300)) == 1
    assert bench.aws_pages(call(1, "cloudformation", "DescribeStacks", items=1, response_bytes=5000,
                                params={"StackName": "one"})) == 1
    assert bench.aws_pages(call(1, "sns", "ListSubscriptions", items=201)) == 3
    assert bench.aws_pages(call(1, "monitoring", "DescribeAlarms", items=100)) == 1
    assert bench.aws_pages(call(1, "sagemaker", "ListEndpoints", items=1000)) == 10
    assert bench.aws_pages(call(1, "cloudformation", "CreateStack")) == 1
    assert bench.aws_pages(call(1, "sns", "ListSubscriptions", items=500, status=400)) == 1  # an error is one call
    counted = bench.count_calls([call(1, "cloudformation", "DescribeStacks", items=300, response_bytes=900000),
                                 call(2, "sns", "ListSubscriptions", items=20)])
    assert counted["total"] == 2 and counted["aws_pages"] == 4
    assert counted["aws_pages_by_operation"] == {"cloudformation:DescribeStacks": 3}


def phase_result(wall, hosts, api_calls=None, ok=True, peak=500.0):
    calls = {"total": 1, "aws_pages": 1, "endpoints_written": [], "stacks_updated": [], "update_stack_calls": 0,
             "update_stack_accepted": 0, "create_stack_calls": 0, "delete_stack_calls": 0}
    calls.update(api_calls or {})
    return {"wall_s": wall, "cpu_s": wall, "ok": ok, "rc": 0 if ok else 2, "hosts": hosts, "hosts_failed": 0,
            "other_cpu_s": 0.0, "peak_rss_mb": peak, "peak_pss_mb": peak / 2, "api_calls": calls,
            "task_seconds": {"mlops.sagemaker_monitoring.endpoint_monitoring : Apply the endpoint's stack": wall / 2}}


def fake_results(n, collection, per_stack, updated, noop_pages=2, peak=500.0):
    """collection and per_stack: (first rollout, no change, one change) wall seconds."""
    def system(walls, pages, stacks_updated):
        first, noop, change = walls
        return {"first_rollout": phase_result(first, n, peak=peak),
                "noop": phase_result(noop, n, {"total": pages, "aws_pages": pages}, peak=peak),
                "one_change": phase_result(change, n, {"update_stack_calls": len(stacks_updated),
                                                       "update_stack_accepted": len(stacks_updated),
                                                       "stacks_updated": stacks_updated}, peak=peak)}

    systems = {"collection": system(collection, noop_pages, updated),
               "per_stack_baseline": system(per_stack, 2 * n, bench.endpoints(n))}
    runs = {}
    for name, measured in systems.items():
        runs[name] = dict((bench.PHASE_KEYS[p], measured[p]["wall_s"]) for p in bench.PHASES)
        runs[name]["peak_rss_mb"] = peak
        runs[name]["peak_pss_mb"] = peak / 2
        runs[name]["api_calls"] = dict((p, measured[p]["api_calls"]["total"]) for p in bench.PHASES)
        runs[name]["api_calls_as_aws_pages"] = dict((p, measured[p]["api_calls"]["aws_pages"]) for p in bench.PHASES)
    return {"endpoints": n, "runs": runs,
            "extra": {"forks": 5, "date": "2026-12-01T00:00:00Z", "commit": "abc1234", "machine": {"cpus": 2},
                      "phases": list(bench.PHASES), "systems": systems, "page_rules": {}}}


def test_target_checks_compute_the_ratios_of_the_same_run():
    n = 20
    changed = bench.changed_templates(n)
    assert len(changed) == 18 and "bench-ep-00010" not in changed
    results = fake_results(n, (10.0, 1.0, 5.0), (9.0, 12.0, 4.5), changed)
    checks = bench.target_checks(results, n)
    assert checks["noop_speedup_vs_per_stack"]["value"] == 12.0 and checks["noop_speedup_vs_per_stack"]["met"]
    assert checks["noop_api_calls_per_endpoint"]["value"] == 0.1 and checks["noop_api_calls_per_endpoint"]["met"]
    assert checks["noop_every_endpoint_in_recap"]["met"]
    assert checks["first_rollout_vs_per_stack"] == {
        "value": 1.11, "target": "<= 1.2 (collection wall / per-stack wall, same forks)", "met": True}
    assert checks["one_change_vs_per_stack"]["value"] == 1.11 and checks["one_change_vs_per_stack"]["met"]
    assert checks["one_change_updates_exactly_the_changed_stacks"]["met"] is True
    assert checks["noop_seconds_at_1000"]["met"] is None and checks["noop_peak_memory_at_1000"]["met"] is None

    results = fake_results(n, (11.0, 6.0, 5.5), (9.0, 12.0, 4.5), changed + ["bench-ep-00010"], noop_pages=5)
    results["extra"]["systems"]["collection"]["noop"]["hosts"] = n - 1
    checks = bench.target_checks(results, n)
    assert not checks["noop_speedup_vs_per_stack"]["met"]
    assert not checks["noop_api_calls_per_endpoint"]["met"]
    assert not checks["noop_every_endpoint_in_recap"]["met"]
    assert not checks["first_rollout_vs_per_stack"]["met"] and not checks["one_change_vs_per_stack"]["met"]
    assert checks["one_change_updates_exactly_the_changed_stacks"]["unchanged_but_updated"] == ["bench-ep-00010"]
    assert not checks["one_change_updates_exactly_the_changed_stacks"]["met"]

    results = fake_results(1000, (10.0, 1.0, 5.0), (9.0, 12.0, 4.5), bench.changed_templates(1000), peak=1100.0)
    results["extra"]["systems"]["collection"]["noop"]["wall_s"] = 29.0
    checks = bench.target_checks(results, 1000)
    assert checks["noop_seconds_at_1000"]["met"] is True
    assert checks["noop_peak_memory_at_1000"]["value"] == 550.0 and checks["noop_peak_memory_at_1000"]["met"]  # PSS
    assert checks["noop_peak_memory_at_1000"]["rss_sum_mb"] == 1100.0
    results["extra"]["systems"]["collection"]["noop"]["peak_pss_mb"] = 1030.0
    assert bench.target_checks(results, 1000)["noop_peak_memory_at_1000"]["met"] is False

    results = fake_results(n, (10.0, 1.0, 5.0), (9.0, 12.0, 4.5), changed)
    results["extra"]["systems"]["per_stack_baseline"]["first_rollout"]["ok"] = False
    assert bench.target_checks(results, n)["first_rollout_vs_per_stack"]["met"] is False  # a failed run proves nothing


def test_markdown_table_has_a_row_per_system_the_ratios_and_the_target_lines(tmp_path):
    results = fake_results(20, (10.0, 1.0, 5.0), (9.0, 12.0, 4.5), bench.changed_templates(20))
    results["extra"]["targets"] = bench.target_checks(results, 20)
    text = bench.write_results(results, str(tmp_path))
    assert "| collection | 10.0 | 1.0 | 5.0 |" in text
    assert "| per-stack baseline | 9.0 | 12.0 | 4.5 |" in text
    assert "first rollout 1.11x slower" in text and "no change 12.00x faster" in text
    assert "- noop speedup vs per stack: 12.0 (target >= 10 (at N = 300)): met" in text
    assert "| Apply the endpoint's stack | 5.0 | 0.5 | 2.5 |" in text
    with open(str(tmp_path / "latest.json")) as f:
        assert json.load(f)["runs"]["per_stack_baseline"]["noop_s"] == 12.0


def real_clock_results():
    run = {"wall_s": 108.0, "stacks": 30, "alarms": 270, "alarms_per_stack": 9.0, "floor_s": 90.0,
           "wall_vs_floor": 1.2, "stack_phase_s": 93.0, "stack_phase_model_s": 94.0, "stack_phase_vs_model": 0.99,
           "before_first_write_s": 10.0, "after_last_stack_s": 5.0, "model_run_s": 109.0, "throttled_calls": 0,
           "throttling_reaching_user": 0, "ok": True}
    return {"endpoints": 30, "mode": "real_clock", "runs": {"first_rollout": run},
            "extra": {"forks": 10, "date": "2026-12-01T00:00:00Z", "commit": "abc1234", "machine": {"cpus": 2},
                      "clock": {"hold_s": 30.0, "alarm_rate_per_s": 3.0},
                      "systems": {"collection": {"first_rollout": {"wall_s": 108.0, "other_cpu_s": 0.0,
                                                                   "peak_rss_mb": 1200.0}}},
                      "targets": {"real_clock_first_rollout_vs_floor": {"value": 1.2, "target": "<= 1.25", "met": True}},
                      "model": bench.aws_model.model(30, 9, 30.0, forks=[5, 10])}}


def test_real_clock_results_and_the_readme_section_come_from_the_result_files(tmp_path):
    text = bench.write_results(real_clock_results(), str(tmp_path), "real-clock")
    assert "| first rollout | 108.0 | 30 | 270 | 90 | 1.20 | 10.0 | 93.0 | 94.0 | 5.0 | 0 | 0 |" in text
    assert "Quota floor: 30 x 9 alarms / 3 per s = 90 s" in text
    section = bench.write_readme_section(str(tmp_path))
    assert section == (tmp_path / "README-section.md").read_text()
    assert "| no-change run, N = 300: at least 10x faster than the per-stack baseline | not run yet | |" in section
    assert "| real clock, N = 30: first rollout within 1.25x of the quota floor | 1.20x (108 s; floor 270 alarms" in section
    assert "Quota floor: 1,000 x 9 alarms / 3 per s = 3,000 s (50 min)." in section
    assert "| first rollout | 10 (recommended) | 108 s | 90 s | 1.20 | 93.0 s / 94 s | 109 s |" in section
    other = real_clock_results()
    other["extra"]["forks"], other["extra"]["forks_given"] = 30, True
    bench.write_results(other, str(tmp_path), "real-clock-forks30")
    assert "| first rollout | 30 | 108 s |" in bench.readme_section(str(tmp_path))
    assert "peaked at 1200 MB (RSS summed over the process tree) with 10 forks, about 120 MB per fork" in section
    assert "the model's defaults (no emulator run with task times yet)" in section

    results = fake_results(300, (100.0, 4.0, 50.0), (95.0, 120.0, 48.0), bench.changed_templates(300))
    results["extra"]["targets"] = bench.target_checks(results, 300)
    results["extra"]["systems"]["collection"]["first_rollout"]["first_stack_write_s"] = 30.0
    bench.write_results(results, str(tmp_path))
    section = bench.readme_section(str(tmp_path))
    assert "| no-change run, N = 300: at least 10x faster than the per-stack baseline | 30.0x (4.0 s against 120.0 s) " \
           "| met |" in section
    assert "| first rollout: at most 1.2x the per-stack baseline's time, same forks | 1.05x (100.0 s against 95.0 s) " \
           "| met |" in section
    assert "0.10 s per endpoint before the first stack write" in section  # 30 s / 300 endpoints, from latest.json
    assert "measured on the emulator (the collection's first rollout in `latest.json`, N = 300, forks 5, on 2" in section

    big = fake_results(1000, (2000.0, 25.0, 5.0), (9.0, 12.0, 4.5), [])
    del big["runs"]["per_stack_baseline"], big["extra"]["systems"]["per_stack_baseline"]
    big["extra"]["systems"]["collection"]["first_rollout"]["first_stack_write_s"] = 470.0
    big["extra"]["targets"] = bench.target_checks(big, 1000)
    bench.write_results(big, str(tmp_path), "n1000")
    section = bench.readme_section(str(tmp_path))
    assert "| no-change run, N = 1,000: under 30 s on 2 cores | 25.0 s (2 calls as AWS pages them) | met |" in section
    assert "the first CreateStack came 470 s after the start (0.47 s per endpoint)" in section


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


def test_a_stored_run_is_rebuilt_from_its_measurements(tmp_path):
    results = fake_results(20, (10.0, 1.0, 5.0), (9.0, 12.0, 4.5), bench.changed_templates(20))
    del results["runs"]["collection"]["peak_pss_mb"]
    results["extra"]["targets"] = {"an_old_target": {"value": 1, "target": "old", "met": True}}
    bench.write_results(results, str(tmp_path), "old")
    assert bench.main(["--rebuild", "old", "--results-dir", str(tmp_path)]) == 0
    with open(str(tmp_path / "old.json")) as f:
        rebuilt = json.load(f)
    assert rebuilt["runs"]["collection"]["peak_pss_mb"] == 250.0
    assert "an_old_target" not in rebuilt["extra"]["targets"]
    assert rebuilt["extra"]["targets"]["first_rollout_vs_per_stack"]["value"] == 1.11
    assert (tmp_path / "README-section.md").exists()


def test_task_times_are_read_from_profile_tasks_recap_whatever_the_dashes():
    output = "\n".join([
        "TASK [x] ***", "ok: [h]", "TASKS RECAP ********", "Tuesday 01 December 2026  16:05:21 +0000 (0:00:00.047)"
        "       0:01:27.665 ****** ", "=" * 30,
        "mlops.sagemaker_monitoring.endpoint_monitoring : Check the endpoint's settings --- 1.71s",
        "mlops.sagemaker_monitoring.endpoint_monitoring : Compute the endpoint's dashboard -- 13.21s",
        "mlops.sagemaker_monitoring.endpoint_monitoring : Apply the endpoint's stack - 415.21s",
        "mlops.sagemaker_monitoring.endpoint_monitoring : Apply the endpoint's stack  1317.90s",
        "Summarise the run ------------------------------------------------------- 0.10s", ""])
    assert bench.task_seconds(output) == {
        "mlops.sagemaker_monitoring.endpoint_monitoring : Check the endpoint's settings": 1.71,
        "mlops.sagemaker_monitoring.endpoint_monitoring : Compute the endpoint's dashboard": 13.21,
        "mlops.sagemaker_monitoring.endpoint_monitoring : Apply the endpoint's stack": 1733.11,  # two tasks, one name
        "Summarise the run": 0.1}
    assert bench.task_seconds("no recap") == {}
