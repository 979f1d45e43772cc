"""Fleet dashboards from partial runs: sections kept, replaced, dropped; foreign dashboards never overwritten."""

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.dashboard import (
    build_fleet_dashboards,
    fleet_sections,
    sections_of,
)
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.fleet_dashboards import (
    is_ours,
    merge_sections,
    page_names,
    plan_fleet_dashboards,
)

BASE = "sagemaker-monitoring-fleet-us-east-1"


def entry(name, threshold=1000):
    alarm = {"name": "sagemaker-monitoring_%s_AllTraffic_ModelLatency" % name, "kind": "metric", "metric": "ModelLatency",
             "scope": "variant", "variant": "AllTraffic", "statistic": "Average", "period": 300,
             "comparison": "GreaterThanThreshold", "threshold": threshold * 1000, "display_threshold": threshold,
             "unit": "ms"}
    return {"endpoint": name, "region": "us-east-1", "variants": [{"name": "AllTraffic", "metrics": ["ModelLatency"]}],
            "alarms": [alarm], "endpoint_metrics": [], "components": []}


def deployed(*names, base=BASE):
    return dict((p["name"], p["body"]) for p in build_fleet_dashboards([entry(n) for n in names], name=base))


def test_sections_read_back_as_they_were_laid_out():
    sections = fleet_sections([entry("a"), entry("b")])
    [page] = build_fleet_dashboards([entry("a"), entry("b")], name=BASE)
    assert sections_of(page["body"]) == sections
    assert is_ours(page["body"]) and not is_ours({"widgets": [{"type": "text", "properties": {"markdown": "x"}}]})


def test_a_partial_run_keeps_the_endpoints_it_does_not_know():
    pages = deployed("a", "b", "c")
    plan = plan_fleet_dashboards(BASE, pages, fleet_sections([entry("b", threshold=250)]), drop=[],
                                 monitored={"a", "b", "c"})
    [(name, body)] = plan["put"]
    assert name == BASE and [e for e, _w in sections_of(body)] == ["a", "b", "c"]
    assert plan["changes"] == ["~ fleet dashboard %s: 3 -> 3 endpoints, %d -> %d widgets (graphs or thresholds)"
                               % (BASE, len(pages[BASE]["widgets"]), len(body["widgets"]))]
    assert "Average > 250'" in str(dict(sections_of(body))["b"])


def test_nothing_to_write_when_nothing_changed():
    plan = plan_fleet_dashboards(BASE, deployed("a", "b"), fleet_sections([entry("a")]), drop=[], monitored={"a", "b"})
    assert plan["put"] == [] and plan["delete"] == [] and plan["changes"] == []


def test_torn_down_or_unmonitored_endpoints_leave_and_new_ones_join_in_name_order():
    plan = plan_fleet_dashboards(BASE, deployed("a", "b", "c"), fleet_sections([entry("e"), entry("d")]),
                                 drop=["b"], monitored={"a", "b", "d", "e"})
    [(_name, body)] = plan["put"]
    assert [e for e, _w in sections_of(body)] == ["a", "d", "e"]
    assert plan["changes"][0].endswith("(+ d, e; - b, c)")


def test_a_page_left_empty_is_deleted_and_a_new_dashboard_is_created():
    plan = plan_fleet_dashboards(BASE, deployed("a"), [], drop=["a"], monitored={"a"})
    assert plan["put"] == [] and plan["delete"] == [BASE]
    assert plan["changes"] == ["- fleet dashboard %s (no endpoint left on it)" % BASE]
    created = plan_fleet_dashboards(BASE, {}, fleet_sections([entry("a")]), drop=[], monitored=set())
    assert created["changes"] == ["+ fleet dashboard %s: 1 endpoints, 3 widgets" % BASE]


def test_a_dashboard_of_someone_else_with_the_name_is_refused_and_kept():
    theirs = {"widgets": [{"type": "text", "x": 0, "y": 0, "width": 6, "height": 2, "properties": {"markdown": "mine"}}]}
    plan = plan_fleet_dashboards(BASE, {BASE: theirs}, fleet_sections([entry("a")]), drop=[], monitored=set())
    assert plan["put"] == [] and plan["delete"] == []
    assert "is not this collection's" in plan["refused"][0]
    unreadable = plan_fleet_dashboards(BASE, {BASE: None}, fleet_sections([entry("a")]), drop=[], monitored=set())
    assert unreadable["put"] == [] and unreadable["refused"]


def test_pages_are_the_base_name_or_numbered():
    names = [BASE, BASE + "-2", BASE + "-10", BASE + "-1", BASE + "-other", "x" + BASE]
    assert page_names(BASE, names) == [BASE, BASE + "-1", BASE + "-2", BASE + "-10"]


def test_merge_keeps_the_deployed_order():
    pages = [p["body"] for p in build_fleet_dashboards([entry("z"), entry("a")], name=BASE)]
    merged = merge_sections(pages, fleet_sections([entry("a")]), drop=set(), monitored={"z", "a"})
    assert [e for e, _w in merged] == ["z", "a"]
