"""Smoke test of the fleet benchmark (benchmarks/bench.py): 3 endpoints, the collection and the per-stack
baseline, each on a LocalStack of its own; the results have the shape the README and the issue describe."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH = os.path.join(ROOT, "benchmarks", "bench.py")
PHASES = ("first_rollout", "noop", "one_change")
RUN_KEYS = {"first_rollout_s", "noop_s", "one_change_s", "peak_rss_mb", "peak_pss_mb", "api_calls",
            "api_calls_as_aws_pages"}

pytestmark = pytest.mark.integration


def test_bench_writes_results_of_the_documented_shape(tmp_path):
    results_dir = tmp_path / "results"
    completed = subprocess.run(
        [sys.executable, BENCH, "--endpoints", "3", "--systems", "collection,per_stack_baseline",
         "--results-dir", str(results_dir), "--work-dir", str(tmp_path / "work")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=600)
    assert completed.returncode == 0, completed.stdout[-4000:]

    with open(str(results_dir / "latest.json")) as f:
        results = json.load(f)
    assert set(results) == {"endpoints", "runs", "extra"}
    assert results["endpoints"] == 3
    assert list(results["runs"]) == ["collection", "per_stack_baseline"]
    for system, run in results["runs"].items():
        assert set(run) == RUN_KEYS, system
        for key in ("first_rollout_s", "noop_s", "one_change_s", "peak_rss_mb", "peak_pss_mb"):
            assert isinstance(run[key], (int, float)) and run[key] > 0, (system, key)
        assert set(run["api_calls"]) == set(PHASES)
        assert all(isinstance(v, int) for v in run["api_calls"].values())
        assert run["api_calls"]["first_rollout"] > 0
        details = results["extra"]["systems"][system]
        assert all(details[phase]["ok"] for phase in PHASES), system
        # every endpoint's stack and alarms were really deployed, then only the ModelLatency change was applied
        assert details["first_rollout"]["deployed"]["stacks"] == 3
        assert details["first_rollout"]["deployed"]["metric_alarms"] == 3 * 8
        assert sum(details["first_rollout"]["api_calls"]["by_operation"].values()) == run["api_calls"]["first_rollout"]
        assert details["one_change"]["api_calls"]["endpoints_written"] == [
            "bench-ep-00001", "bench-ep-00002", "bench-ep-00003"]
        assert details["one_change"]["api_calls"]["stacks_updated"] == [
            "bench-ep-00001", "bench-ep-00002", "bench-ep-00003"]
        assert all(details[phase]["hosts"] == 3 for phase in PHASES)  # every endpoint in the recap
        assert details["first_rollout"]["task_seconds"], "no task times (ansible.posix.profile_tasks)"
        assert details["noop"]["api_calls"]["endpoints_written"] == []
        assert details["first_rollout"]["cpu_s"] > 0

    extra = results["extra"]
    assert extra["forks"] == 5
    assert set(extra["targets"]) >= {"noop_speedup_vs_per_stack", "first_rollout_vs_per_stack",
                                     "one_change_vs_per_stack", "noop_api_calls_per_endpoint",
                                     "noop_every_endpoint_in_recap", "one_change_updates_exactly_the_changed_stacks"}
    assert extra["targets"]["one_change_updates_exactly_the_changed_stacks"]["met"] is True

    table = (results_dir / "latest.md").read_text()
    assert "| collection |" in table and "| per-stack baseline |" in table
    assert "noop speedup vs per stack" in table
    assert "| collection |" in completed.stdout
    assert (results_dir / "README-section.md").exists()


def test_real_clock_bench_holds_each_stack_and_compares_with_the_floor(tmp_path):
    """Two endpoints on AWS's clock with a short hold: every stack stays in progress at least the hold, and the
    run ends without throttling reaching the output."""
    results_dir = tmp_path / "results"
    completed = subprocess.run(
        [sys.executable, BENCH, "--real-clock", "--endpoints", "2", "--hold", "6", "--forks", "2",
         "--results-dir", str(results_dir), "--work-dir", str(tmp_path / "work")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=600)
    assert completed.returncode == 0, completed.stdout[-4000:]
    with open(str(results_dir / "real-clock.json")) as f:
        results = json.load(f)
    first = results["runs"]["first_rollout"]
    assert (first["stacks"], first["alarms"]) == (2, 18)  # 8 metric alarms and the composite, per stack
    assert first["floor_s"] == 6.0 and first["stack_phase_s"] >= 6.0 and first["wall_s"] > first["floor_s"]
    assert first["throttling_reaching_user"] == 0
    change = results["runs"]["one_change"]
    assert (change["stacks"], change["alarms"]) == (2, 2)  # only the ModelLatency alarm changes
    clock = results["extra"]["systems"]["collection"]["first_rollout"]["stack_clock"]
    assert clock["not_seen_complete"] == 0 and clock["writes_refused_busy"] == 0
    assert set(results["extra"]["targets"]) == {"real_clock_first_rollout_vs_floor",
                                                "real_clock_no_throttling_error_reaches_the_user"}
    assert "Real-clock benchmark" in (results_dir / "real-clock.md").read_text()
