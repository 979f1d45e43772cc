"""dashboard.build_dashboard: layout on the 24-column grid, alarm widgets, graphs, annotations, limits."""

import itertools
import json

import pytest

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils import catalog, dashboard
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.dashboard import (
    DashboardError,
    build_dashboard,
    minify,
)
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_spec import build_spec

ENDPOINT = "fraud-scoring"
REGION = "eu-west-1"
ACCOUNT = "123456789012"


def spec_alarms(variants=("AllTraffic",), host=None):
    spec = build_spec(ENDPOINT, REGION, variants=list(variants),
                      metric_layers=[("endpoint_monitoring_endpoint_metrics", host)])
    return spec["alarms"]


def graphs(body):
    return [w for w in body["widgets"] if w["type"] == "metric"]


def graph_by_title(body):
    return dict((w["properties"]["title"], w) for w in graphs(body))


def alarm_widgets(body):
    return [w for w in body["widgets"] if w["type"] == "alarm"]


def assert_fits_grid_without_overlap(body):
    rects = []
    for w in body["widgets"]:
        for key in ("x", "y", "width", "height"):
            assert isinstance(w[key], int), (key, w)
        assert w["x"] >= 0 and w["y"] >= 0
        assert w["width"] >= 1 and w["height"] >= 1
        assert w["x"] + w["width"] <= 24, w
        rects.append((w["x"], w["y"], w["x"] + w["width"], w["y"] + w["height"]))
    for a, b in itertools.combinations(rects, 2):
        overlap = a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
        assert not overlap, (a, b)


def test_overlap_check_itself_catches_overlaps_and_overflow():
    side_by_side = {"widgets": [dict(x=0, y=0, width=8, height=6), dict(x=8, y=0, width=8, height=6)]}
    assert_fits_grid_without_overlap(side_by_side)
    for bad in ([dict(x=0, y=0, width=8, height=6), dict(x=7, y=5, width=8, height=6)],
                [dict(x=20, y=0, width=8, height=6)]):
        with pytest.raises(AssertionError):
            assert_fits_grid_without_overlap({"widgets": bad})


# --------------------------------------------------------------------------------------------- header and alarms

def test_header_is_a_full_width_text_widget_at_the_top():
    body = build_dashboard(ENDPOINT, REGION, ["AllTraffic"], spec_alarms(), topic_name="alarms-topic")
    header = body["widgets"][0]
    assert header["type"] == "text"
    assert (header["x"], header["y"], header["width"]) == (0, 0, 24)
    markdown = header["properties"]["markdown"]
    assert ENDPOINT in markdown and REGION in markdown
    assert "alarms-topic" in markdown
    assert "AllTraffic" in markdown
    # Nothing else starts at the top row.
    assert all(w["y"] > 0 for w in body["widgets"][1:])


def test_alarm_widget_lists_the_arn_of_every_alarm_with_the_account_id():
    alarms = spec_alarms(variants=["blue", "green"])
    body = build_dashboard(ENDPOINT, REGION, ["blue", "green"], alarms, account_id=ACCOUNT)
    widgets = alarm_widgets(body)
    assert len(widgets) == 1
    assert widgets[0]["width"] == 24
    assert widgets[0]["properties"]["alarms"] == [
        "arn:aws:cloudwatch:%s:%s:alarm:%s" % (REGION, ACCOUNT, a["name"]) for a in alarms]


def test_alarm_arns_default_to_the_cloudformation_account_placeholder():
    body = build_dashboard(ENDPOINT, REGION, ["AllTraffic"], spec_alarms())
    for arn in alarm_widgets(body)[0]["properties"]["alarms"]:
        assert arn.startswith("arn:aws:cloudwatch:%s:${AWS::AccountId}:alarm:%s-AllTraffic-" % (REGION, ENDPOINT))


def test_no_alarms_means_no_alarm_widget():
    body = build_dashboard(ENDPOINT, REGION, ["AllTraffic"], [])
    assert alarm_widgets(body) == []
    assert len(graphs(body)) == len(catalog.WIDGETS)


def test_more_than_100_alarms_are_split_over_several_alarm_widgets():
    variants = ["v%d" % i for i in range(11)]
    alarms = spec_alarms(variants=variants)
    assert len(alarms) > 100
    body = build_dashboard(ENDPOINT, REGION, variants, alarms, account_id=ACCOUNT)
    widgets = alarm_widgets(body)
    assert len(widgets) == 2
    listed = [arn for w in widgets for arn in w["properties"]["alarms"]]
    assert listed == ["arn:aws:cloudwatch:%s:%s:alarm:%s" % (REGION, ACCOUNT, a["name"]) for a in alarms]
    assert all(len(w["properties"]["alarms"]) <= 100 for w in widgets)
    titles = [w["properties"]["title"] for w in widgets]
    assert len(set(titles)) == 2  # distinct titles, so the plan diff can tell them apart
    assert_fits_grid_without_overlap(body)


# --------------------------------------------------------------------------------------------- graphs

def test_one_graph_per_metric_group_and_variant():
    variants = ["blue", "green"]
    body = build_dashboard(ENDPOINT, REGION, variants, spec_alarms(variants))
    titles = sorted(graph_by_title(body))
    assert titles == sorted("%s: %s" % (v, w) for v in variants for w in catalog.WIDGETS)
    assert len(graphs(body)) == len(titles)
    for title, widget in graph_by_title(body).items():
        variant, group = title.split(": ")
        drawn = sorted(line[1] for line in widget["properties"]["metrics"])
        assert drawn == sorted(m.name for m in catalog.metrics_in_widget(group))


def test_only_the_requested_metrics_are_graphed():
    body = build_dashboard(ENDPOINT, REGION, ["AllTraffic"], [], metrics=["ModelLatency", "CPUUtilization"])
    by_title = graph_by_title(body)
    assert sorted(by_title) == ["AllTraffic: CPU", "AllTraffic: Latency"]
    assert [line[1] for line in by_title["AllTraffic: Latency"]["properties"]["metrics"]] == ["ModelLatency"]


def test_graph_metrics_carry_endpoint_and_variant_and_query_the_region():
    variants = ["blue", "green"]
    body = build_dashboard(ENDPOINT, REGION, variants, spec_alarms(variants))
    for title, widget in graph_by_title(body).items():
        variant = title.split(": ")[0]
        assert widget["properties"]["region"] == REGION
        for line in widget["properties"]["metrics"]:
            metric = catalog.METRICS[line[1]]
            assert line[0] == metric.namespace
            assert line[2:6] == ["EndpointName", ENDPOINT, "VariantName", variant]
            assert isinstance(line[6], dict)


@pytest.mark.parametrize("variants", [["AllTraffic"], ["blue", "green"], ["a", "b", "c", "d"]])
def test_every_widget_fits_the_grid_and_none_overlap(variants):
    body = build_dashboard(ENDPOINT, REGION, variants, spec_alarms(variants))
    assert_fits_grid_without_overlap(body)


def test_partial_rows_do_not_overlap_the_next_variant():
    # Two groups per variant leave a partial row: the next variant must still start below it.
    body = build_dashboard(ENDPOINT, REGION, ["a", "b", "c"], [], metrics=["ModelLatency", "CPUUtilization"])
    assert_fits_grid_without_overlap(body)


def test_each_alarm_threshold_is_an_annotation_in_its_own_graph():
    variants = ["blue", "green"]
    alarms = [dict(a) for a in spec_alarms(variants, host={"Invocations": {"enabled": True}})]
    # Give every alarm a distinct threshold so that a misplaced annotation shows.
    for i, a in enumerate(alarms):
        a["threshold"] = 1000 + i
    body = build_dashboard(ENDPOINT, REGION, variants, alarms)
    by_title = graph_by_title(body)
    expected = dict((t, []) for t in by_title)
    for a in alarms:
        title = "%s: %s" % (a["variant"], catalog.METRICS[a["metric"]].widget)
        fill = "above" if a["comparison"].startswith("Greater") else "below"
        expected[title].append((a["threshold"], fill))
    for title, widget in by_title.items():
        horizontal = widget["properties"].get("annotations", {}).get("horizontal", [])
        assert sorted((h["value"], h["fill"]) for h in horizontal) == sorted(expected[title]), title


@pytest.mark.parametrize("comparison, fill", [
    ("GreaterThanThreshold", "above"),
    ("GreaterThanOrEqualToThreshold", "above"),
    ("LessThanThreshold", "below"),
    ("LessThanOrEqualToThreshold", "below"),
])
def test_annotation_fill_follows_the_comparison(comparison, fill):
    alarm = dict(name="ep-AllTraffic-ModelLatency", metric="ModelLatency", variant="AllTraffic",
                 statistic="Average", period=300, comparison=comparison, threshold=250000)
    body = build_dashboard(ENDPOINT, REGION, ["AllTraffic"], [alarm])
    [annotation] = graph_by_title(body)["AllTraffic: Latency"]["properties"]["annotations"]["horizontal"]
    assert annotation["value"] == 250000
    assert annotation["fill"] == fill
    assert catalog.COMPARISONS[comparison] in annotation["label"]


def test_disabled_alarm_has_no_annotation():
    body = build_dashboard(ENDPOINT, REGION, ["AllTraffic"], spec_alarms())
    traffic = graph_by_title(body)["AllTraffic: Traffic"]
    # Invocations is off by default, InvocationsPerInstance on: exactly one annotation.
    assert [h["value"] for h in traffic["properties"]["annotations"]["horizontal"]] == [
        catalog.METRICS["InvocationsPerInstance"].defaults["threshold"]]


def test_metric_line_uses_the_alarm_statistic_and_period():
    alarms = spec_alarms(host={"ModelLatency": {"statistic": "p99", "period": 60},
                               "OverheadLatency": {"period": 120}})
    body = build_dashboard(ENDPOINT, REGION, ["AllTraffic"], alarms)
    lines = dict((line[1], line[6]) for line in graph_by_title(body)["AllTraffic: Latency"]["properties"]["metrics"])
    assert (lines["ModelLatency"]["stat"], lines["ModelLatency"]["period"]) == ("p99", 60)
    assert (lines["OverheadLatency"]["stat"], lines["OverheadLatency"]["period"]) == ("Average", 120)


def test_metric_without_alarm_uses_the_catalog_statistic():
    body = build_dashboard(ENDPOINT, REGION, ["AllTraffic"], spec_alarms())
    lines = dict((line[1], line[6]) for line in graph_by_title(body)["AllTraffic: Traffic"]["properties"]["metrics"])
    assert lines["Invocations"]["stat"] == "Sum"


def test_annotations_only_in_the_variant_of_the_alarm():
    alarms = spec_alarms(["blue"])
    body = build_dashboard(ENDPOINT, REGION, ["blue", "green"], alarms)
    for title, widget in graph_by_title(body).items():
        if title.startswith("green: "):
            assert "annotations" not in widget["properties"], title


# --------------------------------------------------------------------------------------------- errors and limits

def test_too_many_widgets_raises_naming_the_endpoint(monkeypatch):
    monkeypatch.setattr(dashboard, "MAX_WIDGETS", 5)
    with pytest.raises(DashboardError) as info:
        build_dashboard(ENDPOINT, REGION, ["AllTraffic"], spec_alarms())
    assert repr(ENDPOINT) in str(info.value)
    assert "widgets" in str(info.value)


def test_many_variants_pass_the_500_widget_limit():
    variants = ["v%d" % i for i in range(90)]  # 90 x 6 graphs
    with pytest.raises(DashboardError) as info:
        build_dashboard(ENDPOINT, REGION, variants, [])
    assert repr(ENDPOINT) in str(info.value)
    assert "500" in str(info.value)


def test_too_many_metrics_in_one_widget_raises(monkeypatch):
    monkeypatch.setattr(dashboard, "MAX_METRICS_PER_WIDGET", 1)
    with pytest.raises(DashboardError) as info:
        build_dashboard(ENDPOINT, REGION, ["AllTraffic"], [], metrics=["CPUUtilization", "ModelLatency",
                                                                        "OverheadLatency"])
    assert repr(ENDPOINT) in str(info.value)
    assert "AllTraffic: Latency" in str(info.value)


def test_too_many_metrics_in_the_dashboard_raises(monkeypatch):
    monkeypatch.setattr(dashboard, "MAX_METRICS", 20)
    with pytest.raises(DashboardError) as info:
        build_dashboard(ENDPOINT, REGION, ["blue", "green"], [])  # 22 metric lines
    assert repr(ENDPOINT) in str(info.value)
    build_dashboard(ENDPOINT, REGION, ["blue"], [])  # 11 lines are fine


def test_widget_past_the_grid_raises():
    widgets = [{"type": "metric", "x": 20, "y": 0, "width": 8, "height": 6, "properties": {"title": "wide"}}]
    with pytest.raises(DashboardError) as info:
        dashboard.check_limits(ENDPOINT, widgets)
    assert repr(ENDPOINT) in str(info.value) and "wide" in str(info.value)


@pytest.mark.parametrize("kwargs", [
    dict(variants=[]),
    dict(metrics=["ModelLatancy"]),
    dict(alarms=[dict(name="x", metric="ModelLatency", variant="purple", statistic="Average", period=60,
                      comparison="GreaterThanThreshold", threshold=1)]),
    dict(alarms=[dict(name="x", metric="ModelLatency", variant="AllTraffic", statistic="Average", period=60,
                      comparison=">", threshold=1)]),
], ids=["no-variants", "unknown-metric", "alarm-of-unknown-variant", "unnormalised-comparison"])
def test_bad_arguments_raise_naming_the_endpoint(kwargs):
    args = dict(variants=["AllTraffic"], alarms=[])
    args.update(kwargs)
    with pytest.raises(DashboardError) as info:
        build_dashboard(ENDPOINT, REGION, args.pop("variants"), args.pop("alarms"), **args)
    assert str(info.value).startswith("endpoint %r: " % ENDPOINT)


# --------------------------------------------------------------------------------------------- minify

def _whitespace_outside_strings(text):
    in_string = escaped = False
    found = []
    for i, ch in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch.isspace():
            found.append(i)
    return found


def test_minify_has_no_whitespace_between_tokens_and_round_trips():
    body = build_dashboard(ENDPOINT, REGION, ["blue", "green"], spec_alarms(["blue", "green"]), topic_name="t")
    text = minify(body)
    assert _whitespace_outside_strings(text) == []
    assert json.loads(text) == body
    assert len(text) < len(json.dumps(body))


def test_body_has_the_dashboard_top_level_keys():
    body = build_dashboard(ENDPOINT, REGION, ["AllTraffic"], [])
    assert set(body) == {"start", "periodOverride", "widgets"}
