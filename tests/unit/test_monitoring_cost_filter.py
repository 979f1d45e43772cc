"""The monitoring_cost filter: a run's outcome (the monitoring_results filter's dict) in, lines about the monthly
cost out."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.mlops.sagemaker_monitoring.plugins.filter.monitoring_cost import FilterModule
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.cost import fleet_dashboard_pages
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.plan import usage
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.summary import collect_run

from role_support import described

monitoring_cost = FilterModule().filters()["monitoring_cost"]


def spec(endpoint, standard=11, high=0, math=0, composite=False):
    alarms = [{"name": "%s-%d" % (endpoint, i), "kind": "metric", "metric": "CPUUtilization", "period": 300}
              for i in range(standard)]
    alarms += [{"name": "%s-hr%d" % (endpoint, i), "kind": "metric", "metric": "ModelLatency", "period": 10}
               for i in range(high)]
    alarms += [{"name": "%s-m%d" % (endpoint, i), "kind": "math", "metric_count": 2, "metric": "Invocation5XXErrors",
                "period": 300} for i in range(math)]
    return {"endpoint": endpoint, "alarms": alarms,
            "composite": {"name": "sagemaker-monitoring_%s_health" % endpoint, "rule": "..."} if composite else None}


def host(spec_value, metrics=11, section_widgets=6):
    return spec_value, metrics, section_widgets


def run(**hosts):
    """A run's outcome for these hosts, as monitoring_results makes it: a host given as None failed before its
    alarms were computed."""
    results, usages = {}, {}
    for name, value in hosts.items():
        results[name] = {"endpoint": name, "status": "failed" if value is None else "changed"}
        if value is not None:
            spec_value, metrics, widgets = value
            usages[name] = usage(spec_value, metrics, fleet_section={"widgets": widgets, "metrics": metrics})
    sections = [u["fleet_section"] for u in usages.values()]
    layout = fleet_dashboard_pages(len(sections), [s["widgets"] for s in sections], [s["metrics"] for s in sections],
                                   widgets_per_dashboard=1) if sections else None
    return {"hosts": results, "usage": usages, "fleet_endpoints": {}, "fleet_dashboards": {},
            "fleet_dashboard_layout": layout}


def test_prices_each_endpoint_and_the_fleet():
    lines = monitoring_cost(run(a=host(spec("a")), b=host(spec("b", standard=9, high=1, math=2, composite=True))))
    assert lines[1] == "  a        11 alarms $1.10 (11 standard) + 1 dashboard $3.00 = $4.10"
    # 9 x 0.10 + 0.30 + 2 x 2 x 0.10 + 0.50 = 2.10
    assert lines[2] == ("  b        13 alarms $2.10 (10 standard (1 high-resolution), 2 metric-math = 4 metrics, "
                        "1 composite) + 1 dashboard $3.00 = $5.10")
    assert lines[3] == "Fleet: 2 endpoints, 24 alarms $3.20; 2 dashboards, 2 free: $0.00; total $3.20 per month"
    # a header and two sections of 6 widgets; 22 metrics: under 50, free like the two of their own
    assert lines[4] == ("Alternative: 1 fleet dashboard (13 widgets, 22 metrics in all) for the whole fleet instead of "
                        "one per endpoint: $0.00, 1 free; total $3.20 per month, which costs the same")


def test_prices_come_from_the_argument():
    lines = monitoring_cost(run(a=host(spec("a"))), {"dashboard": 5, "free_dashboards": 0})
    assert lines[1].endswith("+ 1 dashboard $5.00 = $6.10")


def test_hosts_without_a_spec_are_listed_as_not_priced():
    lines = monitoring_cost(run(a=host(spec("a")), broken=None, removed=None))
    assert lines[-1] == "Not priced (no computed alarms): broken, removed"
    assert monitoring_cost(run(broken=None))[0].startswith("Monthly CloudWatch cost: no endpoint to price")
    assert monitoring_cost(None)[0].startswith("Monthly CloudWatch cost: no endpoint to price")


def test_bad_prices_fail_the_filter_with_the_reason():
    with pytest.raises(AnsibleFilterError) as info:
        monitoring_cost(run(a=host(spec("a"))), {"dashbord": 1})
    assert "did you mean 'dashboard'" in str(info.value)


def test_the_composite_alarm_counts_once():
    value = usage(spec("a", standard=1, composite=True), 0)
    assert [a.get("kind") for a in value["alarms"]] == ["metric", "composite"]


def test_deployed_fleet_dashboards_are_priced_once_with_the_free_ones():
    result = run(a=host(spec("a")), b=host(spec("b")))
    result["usage"]["a"]["dashboards"] = result["usage"]["b"]["dashboards"] = 0  # fleet mode
    result["fleet_dashboards"] = {"f-us-east-1": {"status": "unchanged", "pages": [
        {"name": "f-us-east-1", "endpoints": ["a", "b"], "widgets": 13, "metrics": 60}]}}
    lines = monitoring_cost(result)
    assert "  (fleet dashboards) 0 alarms $0.00 (no alarms) + 1 dashboard $3.00 = $3.00" in lines
    # over 50 metrics: not a free dashboard
    assert [line for line in lines if line.startswith("Fleet: ")] == [
        "Fleet: 2 endpoints, 22 alarms $2.20; 1 dashboard, 0 free: $3.00; total $5.20 per month"]
    assert not [line for line in lines if line.startswith("Alternative: ")]


def test_a_large_fleet_is_priced_on_as_many_fleet_dashboards_as_its_sections_need():
    # 100 endpoints of 6 widgets: 500 widgets a dashboard at most, each with a header
    result = run(**dict(("ep%d" % i, host(spec("ep%d" % i), metrics=20)) for i in range(100)))
    [alternative] = [line for line in monitoring_cost(result) if line.startswith("Alternative: ")]
    assert alternative.startswith("Alternative: 2 fleet dashboards (602 widgets, 2000 metrics in all)")


def test_the_run_of_the_role_is_priced_per_host():
    prepared = dict((h, described(h, dashboard=mode)) for h, mode in (("own", "endpoint"), ("fleet", "fleet")))
    hostvars = dict((h, {"endpoint_monitoring__prepared": dict(
        (k, p[k]) for k in ("stack", "fingerprint", "usage", "fleet_entry")),
        "endpoint_monitoring__plan": {"endpoints": {"own": {"status": "unchanged"}, "fleet": {"status": "unchanged"}}}})
        for h, p in prepared.items())
    for h in hostvars:
        hostvars[h]["endpoint_monitoring__prepared"].update(endpoint=h, region="us-east-1", state="present",
                                                            stack_name="sagemaker-monitoring-" + h)
    hostvars["broken"] = {"endpoint_monitoring__prepared": {"failed": True, "msg": "bad", "endpoint": "broken"}}
    lines = monitoring_cost(collect_run(["own", "fleet", "broken"], hostvars, ["own", "fleet"]))
    alarms = len(prepared["own"]["usage"]["alarms"])
    assert [line.split()[0] for line in lines[1:3]] == ["own", "fleet"]
    assert " + 1 dashboard " in lines[1] and " + 0 dashboards " in lines[2]
    assert lines[3].startswith("Fleet: 2 endpoints, %d alarms " % (2 * alarms))
    assert lines[-1] == "Not priced (no computed alarms): broken"
