"""summary: a run's outcome per endpoint from what the role's tasks registered (collect_run), and the closing
summary (summarize, summarize_dashboards); the monitoring_results and rollout_summary filters over them."""

import pytest

from ansible_collections.mlops.sagemaker_monitoring.plugins.filter.monitoring_results import FilterModule as Results
from ansible_collections.mlops.sagemaker_monitoring.plugins.filter.rollout_summary import FilterModule as Summary
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.summary import collect_run, summarize

from role_support import described

monitoring_results = Results().filters()["monitoring_results"]
rollout_summary = Summary().filters()["rollout_summary"]


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


# --------------------------------------------------------------------------------------------- collect_run

def prepared(endpoint, region="us-east-1", **values):
    """endpoint_monitoring__prepared of a host, as the role's first task registers it (without the spec)."""
    value = described(endpoint, region, **values)
    result = {"changed": False, "endpoint": endpoint, "region": region, "stack_name": value["spec"]["stack_name"],
              "state": values.get("state", "present"), "plan_entry": value["plan_entry"]}
    if result["state"] == "absent":
        return dict(result, facts_source=None)  # nothing is computed for an endpoint to remove
    result.update((k, value[k]) for k in ("stack", "fingerprint", "usage", "fleet_entry"))
    return dict(result, facts_source="inventory")


def prepared_failure(endpoint, message):
    return {"changed": False, "failed": True, "endpoint": endpoint, "msg": message}


def planned(status="unchanged", action="none", changes=(), **extra):
    """One host's entry of endpoint_monitoring__plan.endpoints, as monitoring_plan returns it."""
    return dict({"status": status, "action": action, "changes": list(changes), "outputs": {},
                 "protection_change": False, "subscriptions_change": False}, **extra)


def hostvars_of(prepared_by_host, plan=None, confirmed=None, **registered):
    """hostvars of a run: each host's prepared result; the run_once plan and confirmation registered on every
    host of the batch; other registered results by host (endpoint_monitoring__NAME={host: result})."""
    hostvars = {}
    for host, value in prepared_by_host.items():
        variables = {"endpoint_monitoring__prepared": value}
        if plan is not None:
            variables["endpoint_monitoring__plan"] = {"changed": False, "endpoints": plan}
        if confirmed is not None:
            variables["endpoint_monitoring__confirmed"] = {"changed": False, "endpoints": confirmed}
        for name, by_host in registered.items():
            if host in by_host:
                variables["endpoint_monitoring__" + name] = by_host[host]
        hostvars[host] = variables
    return hostvars


UPDATE = "~ stack sagemaker-monitoring-%s: the settings changed since it was last applied"


def test_statuses_come_from_the_plan_and_what_each_host_registered():
    hostvars = hostvars_of(
        {"same": prepared("same"), "updated": prepared("updated"), "broken": prepared_failure("broken", "bad spec"),
         "rolled-back": prepared("rolled-back"), "refused": prepared("refused"), "drifted": prepared("drifted")},
        plan={"same": planned(), "updated": planned("changed", "update", [UPDATE % "updated"]),
              "rolled-back": planned("changed", "update", [UPDATE % "rolled-back"]),
              "refused": planned("failed", error="endpoint 'refused': stack sagemaker-monitoring-refused is busy"),
              "drifted": planned("changed", "update", [UPDATE % "drifted"])},
        confirmed={"updated": planned(), "drifted": planned("changed", "update", [UPDATE % "drifted"])},
        stack_result={"rolled-back": {"failed": True, "msg": "Stack sagemaker-monitoring-rolled-back rolled back"}})
    hosts = ["same", "updated", "broken", "rolled-back", "refused", "drifted", "unreached"]
    run = collect_run(hosts, hostvars, ["same", "updated"])
    status = dict((h, (r["status"], r.get("error"))) for h, r in run["hosts"].items())
    assert status == {
        "same": ("unchanged", None),
        "updated": ("changed", None),
        "broken": ("failed", "bad spec"),
        "rolled-back": ("failed", "Stack sagemaker-monitoring-rolled-back rolled back"),
        "refused": ("failed", "endpoint 'refused': stack sagemaker-monitoring-refused is busy"),
        "drifted": ("failed", "the stack did not end as applied: " + UPDATE % "drifted"),
        "unreached": ("not run", None),
    }
    assert run["hosts"]["updated"]["action"] == "update" and run["hosts"]["updated"]["changes"] == [UPDATE % "updated"]
    assert run["hosts"]["updated"]["stack_name"] == "sagemaker-monitoring-updated"
    assert summarize(run["hosts"])[-1] == "endpoints: 7; changed 1, unchanged 1, failed 4, not run 1"


def test_the_first_registered_failure_is_the_message():
    hostvars = hostvars_of({"ep": prepared("ep")}, plan={"ep": planned("changed", "create", ["+ stack x"])},
                           dashboard={"ep": {"failed": True, "msg": "dashboard: too many widgets"}},
                           stack_result={"ep": {"failed": True, "msg": "never reached"}})
    assert collect_run(["ep"], hostvars, [])["hosts"]["ep"]["error"] == "dashboard: too many widgets"


def test_an_inactive_host_without_a_registered_failure_is_failed_in_a_task_of_the_role():
    hostvars = hostvars_of({"ep": prepared("ep")}, plan={"ep": planned("changed", "create", ["+ stack x"])},
                           diff={"ep": {"changed": False, "skipped": True}})
    result = collect_run(["ep"], hostvars, [])["hosts"]["ep"]
    assert (result["status"], result["error"]) == ("failed", "failed in a task of the role (see its output above)")


def test_a_host_failed_by_its_region_s_shared_topics_says_so_and_the_others_do_not():
    outcome = {"eu-west-1||": {"topic_arns": {}, "error": "CreateStack: Bad Gateway", "hosts": ["ep"]},
               "us-east-1||": {"topic_arns": {"critical": "arn"}, "error": "", "hosts": ["other"]}}
    hostvars = hostvars_of({"ep": prepared("ep"), "other": prepared("other")},
                           plan={"ep": planned(), "other": planned()}, shared_outcome={"ep": outcome, "other": outcome})
    hosts = collect_run(["ep", "other"], hostvars, [])["hosts"]
    assert (hosts["ep"]["status"], hosts["ep"]["error"]) == (
        "failed", "the shared topics of its region could not be kept right: CreateStack: Bad Gateway")
    assert hosts["other"]["error"] == "failed in a task of the role (see its output above)"


def test_a_host_the_plan_did_not_reach_is_not_run():
    hostvars = hostvars_of({"ep": prepared("ep")})
    assert collect_run(["ep"], hostvars, ["ep"])["hosts"]["ep"]["status"] == "not run"
    assert collect_run(["ep"], {}, ["ep"])["hosts"]["ep"] == {
        "endpoint": "ep", "region": None, "stack_name": "", "action": "none", "changes": [], "check_mode": False,
        "status": "not run"}


def test_the_worded_diff_replaces_the_plans_lines_and_keeps_its_subscription_lines():
    plan = {"ep": planned("changed", "update", [UPDATE % "ep", "+ subscription email b@example.com"])}
    hostvars = hostvars_of({"ep": prepared("ep")}, plan=plan, confirmed={"ep": planned()},
                           diff={"ep": {"changed": True, "changes": ["~ alarm ep-x: Threshold 1 -> 2"]}},
                           subscriptions={"ep": {"changed": True, "pending_confirmation": [
                               {"protocol": "email", "endpoint": "b@example.com"}]}})
    result = collect_run(["ep"], hostvars, ["ep"], check_mode=True)["hosts"]["ep"]
    assert result["changes"] == ["~ alarm ep-x: Threshold 1 -> 2", "+ subscription email b@example.com"]
    assert result["pending_confirmation"] == [{"protocol": "email", "endpoint": "b@example.com"}]
    [line, _total] = summarize({"ep": result})
    assert line == ("changed    ep: sagemaker-monitoring-ep (would be update, 2 changes, 1 subscription waiting for "
                    "confirmation (b@example.com))")


def test_a_retired_topic_is_said_under_its_endpoint_in_check_mode_and_in_a_real_run():
    retired = ("~ topic sagemaker-monitoring_ep is retired: no alarm notifies it; kept with its 1 subscription "
               "(endpoint_monitoring_purge_subscriptions: true removes it and them)")
    plan = {"ep": planned("changed", "update", [UPDATE % "ep", retired], topic_retirement=[retired])}
    for check_mode, diff in ((True, {"ep": {"changed": True, "changes": ["~ alarm ep-x: AlarmActions"]}}), (False, {})):
        hostvars = hostvars_of({"ep": prepared("ep")}, plan=plan, confirmed={"ep": planned()}, diff=diff)
        result = collect_run(["ep"], hostvars, ["ep"], check_mode=check_mode)["hosts"]["ep"]
        lines = summarize({"ep": result})
        assert lines[1] == "           " + retired, lines


def test_usage_and_fleet_endpoints_of_the_hosts_that_did_not_fail():
    hosts = {"own": prepared("own"), "fleet": prepared("fleet", dashboard="fleet"),
             "both": prepared("both", dashboard="both"), "gone": prepared("gone", state="absent"),
             "broken": prepared("broken", dashboard="fleet")}
    plan = dict((h, planned()) for h in hosts)
    plan["broken"] = planned("failed", error="endpoint 'broken': busy")
    run = collect_run(list(hosts), hostvars_of(hosts, plan=plan), list(hosts))
    assert sorted(run["usage"]) == ["both", "fleet", "own"]
    assert run["usage"]["fleet"]["dashboards"] == 0 and run["usage"]["both"]["dashboards"] == 1
    entries = dict((e["endpoint"], e) for e in run["fleet_endpoints"]["us-east-1"])
    assert sorted(entries) == ["both", "fleet", "gone", "own"]  # removed ones too, to take them off the dashboard
    assert entries["own"]["fleet_entry"] is None and entries["gone"] == {"endpoint": "gone", "state": "absent",
                                                                         "fleet_entry": None}
    assert entries["fleet"]["fleet_entry"] == hosts["fleet"]["fleet_entry"]
    assert entries["fleet"]["fleet_entry"]["alarms"] == described("fleet", dashboard="fleet")["spec"]["alarms"]
    assert entries["both"]["fleet_entry"]["endpoint"] == "both"
    # the price of fleet dashboards instead of one each, from every priced endpoint's section
    sections = [hosts[h]["usage"]["fleet_section"] for h in ("own", "fleet", "both")]
    assert run["fleet_dashboard_layout"] == [{"endpoints": 3, "widgets": 1 + sum(s["widgets"] for s in sections),
                                              "metrics": sum(s["metrics"] for s in sections)}]


def test_an_endpoint_named_only_is_priced_from_what_the_plan_read():
    prepared_value = {"changed": False, "endpoint": "ep", "region": "us-east-1", "state": "present",
                      "stack_name": "sagemaker-monitoring-ep", "facts_source": "sagemaker", "plan_entry": {}}
    value = described("ep", dashboard="fleet")
    plan = {"ep": planned("changed", "create", ["+ stack sagemaker-monitoring-ep"],
                          **dict((k, value[k]) for k in ("spec", "stack", "fingerprint", "usage", "fleet_entry")))}
    run = collect_run(["ep"], hostvars_of({"ep": prepared_value}, plan=plan), ["ep"])
    assert run["usage"]["ep"] == value["usage"]
    assert run["fleet_endpoints"]["us-east-1"][0]["fleet_entry"]["endpoint"] == "ep"


def test_hosts_named_name_at_region_show_their_host_name():
    hosts = {"churn@us-east-1": prepared("churn"), "churn@eu-west-1": prepared("churn", "eu-west-1")}
    plan = {"churn@us-east-1": planned(), "churn@eu-west-1": planned("changed", "create", ["+ stack x"])}
    run = collect_run(list(hosts), hostvars_of(hosts, plan=plan), list(hosts))
    lines = rollout_summary(run)
    assert lines == ["changed    churn@eu-west-1: sagemaker-monitoring-churn (create, 1 change)",
                     "unchanged  churn@us-east-1: sagemaker-monitoring-churn (none)",
                     "endpoints: 2; changed 1, unchanged 1"]
    assert sorted(e for entries in run["fleet_endpoints"].values() for e in (x["endpoint"] for x in entries)) == [
        "churn", "churn"]
    # the same endpoint name in two regions: two sections to price
    assert run["fleet_dashboard_layout"][0]["endpoints"] == 2


def test_fleet_dashboard_results_of_the_run():
    pages = [{"name": "f-us-east-1", "endpoints": ["ep"], "widgets": 4, "metrics": 9}]
    hostvars = hostvars_of({"ep": prepared("ep")}, plan={"ep": planned()}, fleet_dashboards={"ep": {"results": [
        {"name": "f-us-east-1", "changed": True, "changes": ["+ fleet dashboard f-us-east-1"], "pages": pages},
        {"name": "f-eu-west-1", "failed": True, "msg": "dashboard f-eu-west-1 exists and is not this collection's"},
        {"skipped": True}]}})
    run = collect_run(["ep"], hostvars, ["ep"])
    assert run["fleet_dashboards"] == {
        "f-us-east-1": {"status": "changed", "changes": ["+ fleet dashboard f-us-east-1"], "pages": pages,
                        "error": None},
        "f-eu-west-1": {"status": "failed", "changes": [], "pages": [],
                        "error": "dashboard f-eu-west-1 exists and is not this collection's"}}
    assert rollout_summary(run)[-2:] == [
        "FAILED     fleet dashboard f-eu-west-1: dashboard f-eu-west-1 exists and is not this collection's",
        "changed    fleet dashboard f-us-east-1: 1 page, 1 endpoints (+ fleet dashboard f-us-east-1)"]


# --------------------------------------------------------------------------------------------- the filters

def test_monitoring_results_takes_every_host_as_active_unless_told():
    hostvars = hostvars_of({"a": prepared("a"), "b": prepared("b")}, plan={"a": planned(), "b": planned()})
    assert monitoring_results(["a", "b"], hostvars) == collect_run(["a", "b"], hostvars, ["a", "b"])
    assert monitoring_results(("a", "b"), hostvars, ["a"])["hosts"]["b"]["status"] == "failed"
    assert monitoring_results(["a"], hostvars, None, True)["hosts"]["a"]["check_mode"] is True
    assert monitoring_results(None, {}) == collect_run([], {}, [])


@pytest.mark.parametrize("run", [None, {}, {"hosts": {}}])
def test_rollout_summary_of_an_empty_run(run):
    assert rollout_summary(run) == ["endpoints: 0; "]


def test_rollout_summary_reads_the_runs_hosts_only():
    run = {"hosts": {"fraud-scoring": RESULTS["fraud-scoring"], "recs-gpu": RESULTS["recs-gpu"],
                     "skipped": {"endpoint": "skipped", "status": "not run"}},
           "usage": {"not-a-host": {}}}
    lines = rollout_summary(run)
    assert len(lines) == 4
    assert lines[-1] == "endpoints: 3; changed 1, failed 1, not run 1"


def test_subscribers_waiting_for_confirmation_are_listed_for_endpoints_that_did_not_change_too():
    waiting = [{"protocol": "email", "endpoint": "oncall@example.com"}]
    plan = {"quiet": planned(pending_confirmation=waiting), "busy": planned("changed", "update", [UPDATE % "busy"],
                                                                            pending_confirmation=waiting)}
    hostvars = hostvars_of({"quiet": prepared("quiet"), "busy": prepared("busy")}, plan=plan,
                           confirmed={"busy": planned()},
                           # the subscription task ran for busy and found the subscriber confirmed meanwhile
                           subscriptions={"busy": {"changed": False, "pending_confirmation": []},
                                          "quiet": {"skipped": True, "changed": False}})
    run = collect_run(["quiet", "busy"], hostvars, ["quiet", "busy"])
    assert run["hosts"]["quiet"]["pending_confirmation"] == waiting
    assert "pending_confirmation" not in run["hosts"]["busy"]
    assert summarize(run["hosts"])[1] == ("unchanged  quiet: sagemaker-monitoring-quiet (none, 1 subscription waiting "
                                          "for confirmation (oncall@example.com))")


def test_the_summary_counts_the_subscriptions_waiting_against_the_quota_per_region():
    counts = {"eu-west-1": {"pending": 4990, "asked": 40, "quota": 5000},
              "us-east-1": {"pending": 0, "asked": 0, "quota": 5000}}
    hostvars = hostvars_of({"ep": prepared("ep")}, plan={"ep": planned()})
    hostvars["ep"]["endpoint_monitoring__plan"]["pending_subscriptions"] = counts
    run = collect_run(["ep"], hostvars, ["ep"])
    assert run["pending_subscriptions"] == counts
    assert rollout_summary(run)[-1] == ("subscriptions waiting for confirmation in eu-west-1: 4990 in the account "
                                        "before this run, 40 asked by it (SNS refuses more past 5000)")


def test_each_region_of_the_run_comes_with_the_connection_its_endpoints_use_for_the_prune_step():
    local = {"profile": "", "endpoint_url": "http://127.0.0.1:4566"}

    def connected(result, connection):
        result["plan_entry"].update(connection)
        return result

    hosts = {"a": connected(prepared("a"), local), "b": connected(prepared("b"), local),
             "c": connected(prepared("c", region="eu-west-1"), {"profile": "prod", "endpoint_url": ""}),
             "gone": prepared_failure("gone", "endpoint 'gone': region: 'eu-wset-1' is not an AWS region")}
    run = collect_run(list(hosts), hostvars_of(hosts, plan=dict((h, planned()) for h in hosts)), list(hosts))
    assert run["connections"] == [{"region": "eu-west-1", "profile": "prod", "endpoint_url": ""},
                                  dict(local, region="us-east-1")]
