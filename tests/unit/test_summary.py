"""summary.summarize and the rollout_summary filter: one line per endpoint, then the totals."""

from ansible_collections.mlops.sagemaker_monitoring.plugins.filter.rollout_summary import FilterModule
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.summary import summarize


def changed(endpoint, action="update", changes=("~ alarm x: Threshold 1 -> 2",), **extra):
    result = {"endpoint": endpoint, "status": "changed", "action": action,
              "stack_name": "sagemaker-monitoring-" + endpoint, "changes": list(changes)}
    result.update(extra)
    return result


def unchanged(endpoint):
    return {"endpoint": endpoint, "status": "unchanged", "action": "none",
            "stack_name": "sagemaker-monitoring-" + endpoint, "changes": []}


def failed(endpoint, error):
    return {"endpoint": endpoint, "status": "failed", "error": error}


RESULTS = {
    "fraud-scoring": changed("fraud-scoring", changes=["+ alarm a", "~ alarm b: Threshold 1 -> 2"]),
    "churn-model": unchanged("churn-model"),
    "recs-gpu": failed("recs-gpu", "endpoint 'recs-gpu': region: bad\nendpoint 'recs-gpu': variants: empty"),
    "forgotten": None,
}


def test_one_line_per_endpoint_then_totals():
    lines = summarize(RESULTS)
    assert len(lines) == len(RESULTS) + 1
    assert lines[-1].startswith("endpoints: 4; ")


def test_lines_are_sorted_by_host():
    lines = summarize(RESULTS)[:-1]
    order = [next(h for h in RESULTS if " %s: " % h in line) for line in lines]
    assert order == sorted(RESULTS)


def test_failed_line_includes_the_whole_error_on_one_line():
    [line] = [l for l in summarize(RESULTS) if "recs-gpu" in l]
    assert line.startswith("FAILED")
    assert "region: bad" in line and "variants: empty" in line
    assert "\n" not in line


def test_changed_line_names_stack_action_and_change_count():
    [line] = [l for l in summarize(RESULTS) if "fraud-scoring" in l]
    assert line.startswith("changed")
    assert "sagemaker-monitoring-fraud-scoring" in line
    assert "update" in line
    assert "2 changes" in line
    assert "would be" not in line


def test_unchanged_line():
    [line] = [l for l in summarize(RESULTS) if "churn-model" in l]
    assert line.startswith("unchanged")
    assert "none" in line
    assert "change" not in line.split("(", 1)[1]


def test_host_without_result_is_not_run():
    [line] = [l for l in summarize(RESULTS) if "forgotten" in l]
    assert line.startswith("NOT RUN")


def test_totals_count_each_status():
    assert summarize(RESULTS)[-1] == "endpoints: 4; changed 1, unchanged 1, failed 1, not run 1"
    assert summarize({"a": unchanged("a"), "b": unchanged("b")})[-1] == "endpoints: 2; unchanged 2"


def test_check_mode_says_would_be():
    [line, _total] = summarize({"ep": changed("ep", action="create", check_mode=True)})
    assert "would be create" in line
    assert "1 change)" in line


def test_pending_confirmations_are_listed():
    result = changed("ep", pending_confirmation=[{"protocol": "email", "endpoint": "oncall@example.com"}])
    [line, _total] = summarize({"ep": result})
    assert "1 subscription waiting for confirmation (oncall@example.com)" in line


def test_empty_run():
    [total] = summarize({})
    assert total.startswith("endpoints: 0")


def test_rollout_summary_filter_reads_each_host_result():
    fleet = {"changed": True, "hosts": {
        "fraud-scoring": RESULTS["fraud-scoring"],
        "recs-gpu": RESULTS["recs-gpu"],
        "not-in-play": unchanged("not-in-play"),
    }}
    rollout_summary = FilterModule().filters()["rollout_summary"]
    # "skipped" failed before the role ran: it has no result and is "not run"
    lines = rollout_summary(fleet, ["fraud-scoring", "recs-gpu", "skipped"])
    assert len(lines) == 4
    assert lines[-1] == "endpoints: 3; changed 1, failed 1, not run 1"
    assert not any("not-in-play" in line for line in lines)


def test_fleet_dashboards_have_a_line_each_when_they_exist_or_fail():
    from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.summary import summarize_dashboards
    lines = summarize_dashboards({
        "b-us-east-1": {"status": "failed", "error": "dashboard b-us-east-1 exists and is not this collection's"},
        "a-us-east-1": {"status": "changed", "changes": ["+ fleet dashboard a-us-east-1: 2 endpoints, 9 widgets"],
                        "pages": [{"name": "a-us-east-1", "endpoints": ["x", "y"]}]},
        "none-us-east-1": {"status": "unchanged", "changes": [], "pages": []}})
    assert lines == ["changed    fleet dashboard a-us-east-1: 1 page, 2 endpoints "
                     "(+ fleet dashboard a-us-east-1: 2 endpoints, 9 widgets)",
                     "FAILED     fleet dashboard b-us-east-1: dashboard b-us-east-1 exists and is not this collection's"]
