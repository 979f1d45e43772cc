"""The monitoring_cost filter: the role's fleet result in, lines about the monthly cost out."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.mlops.sagemaker_monitoring.plugins.action.monitor_fleet import usage
from ansible_collections.mlops.sagemaker_monitoring.plugins.filter.monitoring_cost import FilterModule
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.dashboard import build_fleet_dashboards

monitoring_cost = FilterModule().filters()["monitoring_cost"]


def spec(endpoint, standard=11, high=0, math=0, composite=False):
    alarms = [{"name": "%s-%d" % (endpoint, i), "kind": "metric", "metric": "CPUUtilization", "scope": "variant",
               "variant": "AllTraffic", "period": 300, "statistic": "Average", "comparison": "GreaterThanThreshold",
               "threshold": 80} for i in range(standard)]
    alarms += [dict(alarms[0] if alarms else {}, name="%s-hr%d" % (endpoint, i), metric="ModelLatency", period=10,
                    kind="metric", variant="AllTraffic", threshold=100000, statistic="Average",
                    comparison="GreaterThanThreshold") for i in range(high)]
    alarms += [{"name": "%s-m%d" % (endpoint, i), "kind": "math", "metric_count": 2, "metric": "Invocation5XXErrors",
                "variant": "AllTraffic", "period": 300, "statistic": "Sum", "comparison": "GreaterThanThreshold",
                "threshold": 1} for i in range(math)]
    return {"endpoint": endpoint, "region": "us-east-1", "variants": ["AllTraffic"], "alarms": alarms,
            "composite": {"name": "%s-health" % endpoint, "rule": "..."} if composite else None}


def host(spec_value, metrics=11):
    return spec_value, metrics


def fleet(**hosts):
    """The role's fleet result for these hosts, as the monitor_fleet action returns it: a host given as None
    failed before its alarms were computed."""
    results, usages, entries = {}, {}, []
    for name, value in hosts.items():
        results[name] = {"endpoint": name, "status": "failed" if value is None else "changed"}
        if value is None:
            continue
        spec_value, metrics = value
        dashboard = {"body": {"widgets": [{"type": "metric", "properties": {"metrics": [["ns", "m"]] * metrics}}]}}
        usages[name] = usage(spec_value, dashboard)
        entries.append(dict(spec_value, endpoint_metrics=[], components=[]))
    layout = [dict((k, d[k]) for k in ("name", "endpoints", "widgets", "metrics"))
              for d in build_fleet_dashboards(entries)]
    return {"changed": True, "hosts": results, "usage": usages, "fleet_dashboard_layout": layout}


def test_prices_each_endpoint_and_the_fleet():
    lines = monitoring_cost(fleet(a=host(spec("a")), b=host(spec("b", standard=9, high=1, math=2, composite=True))))
    assert lines[1] == "  a        11 alarms $1.10 (11 standard) + 1 dashboard $3.00 = $4.10"
    # 9 x 0.10 + 0.30 + 2 x 2 x 0.10 + 0.50 = 2.10
    assert lines[2] == ("  b        13 alarms $2.10 (10 standard (1 high-resolution), 2 metric-math = 4 metrics, "
                        "1 composite) + 1 dashboard $3.00 = $5.10")
    assert lines[3] == "Fleet: 2 endpoints, 24 alarms $3.20; 2 dashboards, 2 free: $0.00; total $3.20 per month"
    assert lines[4].startswith("Alternative: 1 fleet dashboard (")
    # Two one-variant endpoints make a fleet dashboard of under 50 metrics: free, like the two of their own.
    assert lines[4].endswith(": $0.00, 1 free; total $3.20 per month, which costs the same")


def test_prices_come_from_the_argument():
    lines = monitoring_cost(fleet(a=host(spec("a"))), {"dashboard": 5, "free_dashboards": 0})
    assert lines[1].endswith("+ 1 dashboard $5.00 = $6.10")


def test_hosts_without_a_spec_are_listed_as_not_priced():
    lines = monitoring_cost(fleet(a=host(spec("a")), broken=None, removed=None))
    assert lines[-1] == "Not priced (no computed alarms): broken, removed"
    assert monitoring_cost(fleet(broken=None))[0].startswith("Monthly CloudWatch cost: no endpoint to price")
    assert monitoring_cost(None)[0].startswith("Monthly CloudWatch cost: no endpoint to price")


def test_bad_prices_fail_the_filter_with_the_reason():
    with pytest.raises(AnsibleFilterError) as info:
        monitoring_cost(fleet(a=host(spec("a"))), {"dashbord": 1})
    assert "did you mean 'dashboard'" in str(info.value)


def test_the_composite_alarm_counts_once():
    value = spec("a", standard=1, composite=True)
    assert [a.get("kind") for a in usage(value, {"body": {"widgets": []}})["alarms"]] == ["metric", "composite"]


def test_deployed_fleet_dashboards_are_priced_once_with_the_free_ones():
    result = fleet(a=host(spec("a")), b=host(spec("b")))
    result["usage"]["a"]["dashboards"] = result["usage"]["b"]["dashboards"] = 0  # fleet mode
    result["fleet_dashboards"] = {"f-us-east-1": {"status": "unchanged", "pages": [
        {"name": "f-us-east-1", "endpoints": ["a", "b"], "widgets": 13, "metrics": 60}]}}
    lines = monitoring_cost(result)
    assert "  (fleet dashboards) 0 alarms $0.00 (no alarms) + 1 dashboard $3.00 = $3.00" in lines
    # over 50 metrics: not a free dashboard
    assert [line for line in lines if line.startswith("Fleet: ")] == [
        "Fleet: 2 endpoints, 22 alarms $2.20; 1 dashboard, 0 free: $3.00; total $5.20 per month"]
