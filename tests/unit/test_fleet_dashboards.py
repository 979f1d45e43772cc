"""dashboard.build_fleet_dashboards: many endpoints per dashboard, within CloudWatch's widget and metric limits."""

import itertools

import pytest

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils import catalog
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.cost import fleet_dashboard_count
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.dashboard import (
    GRID_COLUMNS,
    MAX_METRICS,
    MAX_WIDGETS,
    DashboardError,
    build_fleet_dashboards,
)

REGION = "eu-west-1"


def alarm(endpoint, variant, metric, threshold, statistic="Average", period=300, **extra):
    return dict({"name": "sagemaker-monitoring_%s_%s_%s" % (endpoint, variant, metric), "kind": "metric", "metric": metric,
                 "scope": "variant", "variant": variant, "statistic": statistic, "period": period,
                 "comparison": "GreaterThanThreshold", "threshold": threshold}, **extra)


def endpoint(name, variants=("AllTraffic",), latency=None):
    latency = latency or {}
    return {"endpoint": name, "region": REGION, "variants": list(variants),
            "alarms": [alarm(name, v, "ModelLatency", latency.get(v, 500000)) for v in variants]
            + [alarm(name, v, "CPUUtilization", 80) for v in variants]}


def fleet(count, variants=("AllTraffic",)):
    return [endpoint("ep%03d" % i, variants) for i in range(count)]


def headers(dashboard):
    return [w["properties"]["markdown"] for w in dashboard["body"]["widgets"] if w["type"] == "text"]


def endpoints_in(dashboards):
    return [name for d in dashboards for name in d["endpoints"]]


def assert_on_the_grid_without_overlap(widgets):
    rects = []
    for w in widgets:
        assert w["x"] >= 0 and w["y"] >= 0 and w["x"] + w["width"] <= GRID_COLUMNS, w
        rects.append((w["x"], w["y"], w["x"] + w["width"], w["y"] + w["height"]))
    for a, b in itertools.combinations(rects, 2):
        assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (a, b)


def metrics_of(dashboard):
    return sum(len(w["properties"].get("metrics", [])) for w in dashboard["body"]["widgets"])


def test_a_small_fleet_fits_one_dashboard_with_each_endpoint_once():
    dashboards = build_fleet_dashboards(fleet(3, variants=("blue", "green")))
    assert len(dashboards) == 1
    (board,) = dashboards
    assert board["name"] == "sagemaker-monitoring-fleet"
    assert board["endpoints"] == ["ep000", "ep001", "ep002"]
    widgets = board["body"]["widgets"]
    assert board["widgets"] == len(widgets) and board["metrics"] == metrics_of(board)
    assert_on_the_grid_without_overlap(widgets)
    assert widgets[0]["y"] == 0 and widgets[0]["width"] == GRID_COLUMNS
    assert "3 endpoints" in widgets[0]["properties"]["markdown"]
    for name in board["endpoints"]:
        assert sum(1 for text in headers(board) if "`%s`" % name in text) == 1
    # Per endpoint: a header and one graph per metric group, each group with a line per variant.
    graphs = [w for w in widgets if w["type"] == "metric"]
    for name in board["endpoints"]:
        groups = [w["properties"]["title"].split(": ", 1)[1] for w in graphs
                  if w["properties"]["title"].startswith(name + ": ")]
        assert set(groups) >= {"Traffic", "Errors", "Latency", "CPU", "Memory and disk", "GPU"}
        assert groups == [g for g in catalog.WIDGETS if g in groups]  # in the catalog's order, each once
    latency = [w for w in graphs if w["properties"]["title"] == "ep001: Latency"][0]
    variants = sorted(set(line[5] for line in latency["properties"]["metrics"] if not isinstance(line[0], dict)))
    assert variants == ["blue", "green"]
    assert all(line[3] == "ep001" for line in latency["properties"]["metrics"])
    assert latency["width"] == 4 and latency["height"] == 5


def test_thresholds_are_annotations_and_differing_ones_name_their_variant():
    same = build_fleet_dashboards([endpoint("same", ("blue", "green"))])[0]
    latency = [w for w in same["body"]["widgets"] if w["properties"].get("title") == "same: Latency"][0]
    assert [a["value"] for a in latency["properties"]["annotations"]["horizontal"]] == [500000]
    differ = build_fleet_dashboards([endpoint("differ", ("blue", "green"), latency={"green": 250000})])[0]
    latency = [w for w in differ["body"]["widgets"] if w["properties"].get("title") == "differ: Latency"][0]
    labels = sorted(a["label"] for a in latency["properties"]["annotations"]["horizontal"])
    assert labels[0].startswith("ModelLatency alarm (blue): ") and labels[1].startswith("ModelLatency alarm (green): ")


def test_a_metric_math_alarm_is_drawn_as_its_expression():
    entry = endpoint("rates")
    entry["alarms"].append(alarm("rates", "AllTraffic", "Invocation5XXErrors", 2, statistic="Sum", kind="math",
                                 metric_count=2, metrics=[
                                     {"Id": "errors", "ReturnData": False, "MetricStat": {
                                         "Metric": {"Namespace": "AWS/SageMaker", "MetricName": "Invocation5XXErrors",
                                                    "Dimensions": [{"Name": "EndpointName", "Value": "rates"},
                                                                   {"Name": "VariantName", "Value": "AllTraffic"}]},
                                         "Period": 300, "Stat": "Sum"}},
                                     {"Id": "invocations", "ReturnData": False, "MetricStat": {
                                         "Metric": {"Namespace": "AWS/SageMaker", "MetricName": "Invocations",
                                                    "Dimensions": [{"Name": "EndpointName", "Value": "rates"},
                                                                   {"Name": "VariantName", "Value": "AllTraffic"}]},
                                         "Period": 300, "Stat": "Sum"}},
                                     {"Id": "rate", "ReturnData": True,
                                      "Expression": "IF(invocations >= 20, 100 * errors / invocations, 0)"}]))
    board = build_fleet_dashboards([entry])[0]
    errors = [w for w in board["body"]["widgets"] if w["properties"].get("title") == "rates: Errors"][0]
    lines = errors["properties"]["metrics"]
    hidden = [line for line in lines if isinstance(line[-1], dict) and line[-1].get("visible") is False]
    assert [line[1] for line in hidden] == ["Invocation5XXErrors", "Invocations"]
    expression = [line[0] for line in lines if isinstance(line[0], dict)][0]
    ids = [line[-1]["id"] for line in hidden]
    assert expression["expression"] == "IF(%s >= 20, 100 * %s / %s, 0)" % (ids[1], ids[0], ids[1])
    assert expression["label"] == "AllTraffic Invocation5XXErrors rate"
    assert any(a["value"] == 2 for a in errors["properties"]["annotations"]["horizontal"])


def test_a_large_fleet_is_split_within_the_limits_with_every_endpoint_once_in_order():
    endpoints = fleet(150)
    dashboards = build_fleet_dashboards(endpoints)
    assert len(dashboards) > 1
    assert endpoints_in(dashboards) == [e["endpoint"] for e in endpoints]
    assert [d["name"] for d in dashboards] == ["sagemaker-monitoring-fleet-%d" % i
                                               for i in range(1, len(dashboards) + 1)]
    for board in dashboards:
        assert board["widgets"] <= MAX_WIDGETS and metrics_of(board) <= MAX_METRICS
        assert_on_the_grid_without_overlap(board["body"]["widgets"])
        assert "(%d of %d)" % (dashboards.index(board) + 1, len(dashboards)) in headers(board)[0]
    # As few dashboards as the widget limit allows, the number cost.fleet_dashboard_count works out.
    widgets = [build_fleet_dashboards([e])[0]["widgets"] - 1 for e in endpoints]  # less the dashboard's header
    metrics = [build_fleet_dashboards([e])[0]["metrics"] for e in endpoints]
    assert len(dashboards) == fleet_dashboard_count(len(endpoints), widgets, metrics, widgets_per_dashboard=1)


def test_the_metric_limit_splits_too():
    dashboards = build_fleet_dashboards(fleet(10, variants=("a", "b", "c")), max_metrics=100)
    assert len(dashboards) > 1
    assert all(d["metrics"] <= 100 for d in dashboards)
    assert len(endpoints_in(dashboards)) == 10 == len(set(endpoints_in(dashboards)))


def test_an_endpoint_too_big_for_one_dashboard_is_refused():
    with pytest.raises(DashboardError) as info:
        build_fleet_dashboards(fleet(1, variants=("a", "b")), max_metrics=5)
    assert "ep000" in str(info.value)


def test_an_endpoint_listed_twice_is_refused():
    with pytest.raises(DashboardError):
        build_fleet_dashboards([endpoint("twice"), endpoint("twice")])


def test_no_endpoints_no_dashboards():
    assert build_fleet_dashboards([]) == []


def test_variants_with_their_metrics_are_graphed_with_those_only():
    entry = endpoint("cpu-only")
    entry["variants"] = [{"name": "AllTraffic", "metrics": ["ModelLatency", "CPUUtilization"]}]
    board = build_fleet_dashboards([entry])[0]
    titles = [w["properties"].get("title") for w in board["body"]["widgets"] if w["type"] == "metric"]
    assert titles == ["cpu-only: Latency", "cpu-only: CPU"]
