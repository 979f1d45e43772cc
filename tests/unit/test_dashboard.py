"""dashboard.build_dashboard: layout on the 24-column grid, alarm widgets, graphs per published metric, annotations,
error-rate and anomaly lines, limits."""

import itertools
import json
import re

import pytest

from endpoint_profiles import ALL_ON, BACKLOG, COMPONENT, PROFILES, PUBLISHED, profile_spec

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
GPU_INSTANCE = "ml.g4dn.xlarge"
# The graphs of a variant given by name: every variant-level metric of a real-time GPU endpoint (the original 11).
NAME_GROUPS = ("Traffic", "Errors", "Latency", "CPU", "Memory and disk", "GPU")
ELEVEN = ("Invocations", "InvocationsPerInstance", "Invocation4XXErrors", "Invocation5XXErrors", "ModelLatency",
          "OverheadLatency", "CPUUtilization", "MemoryUtilization", "DiskUtilization", "GPUUtilization",
          "GPUMemoryUtilization")


def make_spec(variants=("AllTraffic",), host=None, **kwargs):
    kwargs.setdefault("instance_type", GPU_INSTANCE)
    kwargs.setdefault("composite", False)
    return build_spec(ENDPOINT, REGION, variants=list(variants),
                      metric_layers=[("endpoint_monitoring_endpoint_metrics", host)], **kwargs)


def spec_alarms(variants=("AllTraffic",), host=None, **kwargs):
    return make_spec(variants, host, **kwargs)["alarms"]


def dashboard_of(spec, **kwargs):
    """The dashboard the role computes from a spec."""
    return build_dashboard(spec["endpoint"], spec["region"], spec["variants"], spec["alarms"],
                           endpoint_metrics=spec["endpoint_metrics"], components=spec["components"],
                           composite=spec["composite"]["name"] if spec["composite"] else None, **kwargs)


def graphs(body):
    return [w for w in body["widgets"] if w["type"] == "metric"]


def graph_by_title(body):
    by_title = dict((w["properties"]["title"], w) for w in graphs(body))
    assert len(by_title) == len(graphs(body)), "two graphs share a title"
    return by_title


def alarm_widgets(body):
    return [w for w in body["widgets"] if w["type"] == "alarm"]


def metric_lines(widget):
    """Lines that query a metric (not expressions): [namespace, name, dimension pairs..., options]."""
    return [line for line in widget["properties"]["metrics"] if isinstance(line[0], str)]


def expression_lines(widget):
    return [line[0] for line in widget["properties"]["metrics"] if isinstance(line[0], dict)]


def drawn_metric_names(body):
    return set(line[1] for w in graphs(body) for line in metric_lines(w))


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


def assert_ids_are_unique_and_expressions_refer_to_them(body):
    for widget in graphs(body):
        ids = [line[-1]["id"] for line in metric_lines(widget) if "id" in line[-1]]
        ids += [e["id"] for e in expression_lines(widget)]
        assert len(ids) == len(set(ids)), (widget["properties"]["title"], ids)
        for e in expression_lines(widget):
            assert re.match(r"^[a-z][a-zA-Z0-9_]*$", e["id"]), e
            named = set(re.findall(r"\b[a-z][a-zA-Z0-9_]*\b", e["expression"]))
            assert named <= set(ids) - {e["id"]}, (e, ids)


def test_overlap_check_itself_catches_overlaps_and_overflow():
    side_by_side = {"widgets": [dict(x=0, y=0, width=8, height=6), dict(x=8, y=0, width=8, height=6)]}
    assert_fits_grid_without_overlap(side_by_side)
    for bad in ([dict(x=0, y=0, width=8, height=6), dict(x=7, y=5, width=8, height=6)],
                [dict(x=20, y=0, width=8, height=6)]):
        with pytest.raises(AssertionError):
            assert_fits_grid_without_overlap({"widgets": bad})


def test_id_check_itself_catches_duplicates_and_dangling_references():
    def body_of(lines):
        return {"widgets": [{"type": "metric", "properties": {"title": "t", "metrics": lines}}]}

    good = [["N", "M", {"id": "e0"}], ["N", "I", {"id": "i0"}], [{"id": "r0", "expression": "100 * e0 / i0"}]]
    assert_ids_are_unique_and_expressions_refer_to_them(body_of(good))
    for bad in (good + [["N", "M", {"id": "e0"}]], good[1:]):
        with pytest.raises(AssertionError):
            assert_ids_are_unique_and_expressions_refer_to_them(body_of(bad))


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
    assert "10 alarms" in markdown
    # Nothing else starts at the top row.
    assert all(w["y"] > 0 for w in body["widgets"][1:])


def test_header_names_variants_given_as_mappings():
    spec = make_spec(["blue", "green"])
    markdown = dashboard_of(spec)["widgets"][0]["properties"]["markdown"]
    assert "`blue`, `green`" in markdown
    assert "{" not in markdown


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
        assert arn.startswith("arn:aws:cloudwatch:%s:${AWS::AccountId}:alarm:sagemaker-monitoring_%s_AllTraffic_" % (
            REGION, ENDPOINT))


def test_composite_is_shown_first_in_the_alarm_widget():
    spec = make_spec(["blue", "green"], composite=True, host={"ModelLatency": {"anomaly_band": 2}})
    body = dashboard_of(spec, account_id=ACCOUNT)
    [widget] = alarm_widgets(body)
    arns = widget["properties"]["alarms"]
    assert arns[0] == "arn:aws:cloudwatch:%s:%s:alarm:sagemaker-monitoring_%s_health" % (REGION, ACCOUNT, ENDPOINT)
    assert arns[1:] == ["arn:aws:cloudwatch:%s:%s:alarm:%s" % (REGION, ACCOUNT, a["name"]) for a in spec["alarms"]]
    assert len(arns) == len(set(arns))
    # The widget grows with the extra tile: 1 title row + ceil(alarms / 4) rows of tiles.
    assert widget["height"] == 1 + -(-len(arns) // dashboard.ALARMS_PER_ROW)
    # Without a composite, the alarm list starts with the first alarm.
    plain = build_dashboard(ENDPOINT, REGION, spec["variants"], spec["alarms"], account_id=ACCOUNT)
    assert alarm_widgets(plain)[0]["properties"]["alarms"] == arns[1:]


def test_composite_counts_towards_the_100_alarms_of_an_alarm_widget():
    spec = make_spec(["v%d" % i for i in range(10)], composite=True)
    assert len(spec["alarms"]) == 100
    body = dashboard_of(spec, account_id=ACCOUNT)
    widgets = alarm_widgets(body)
    assert [len(w["properties"]["alarms"]) for w in widgets] == [100, 1]
    assert widgets[0]["properties"]["alarms"][0].endswith(":alarm:sagemaker-monitoring_%s_health" % ENDPOINT)
    assert_fits_grid_without_overlap(body)


def test_no_alarms_means_no_alarm_widget():
    body = build_dashboard(ENDPOINT, REGION, ["AllTraffic"], [])
    assert alarm_widgets(body) == []
    assert sorted(graph_by_title(body)) == sorted("AllTraffic: %s" % g for g in NAME_GROUPS)


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

def test_one_graph_per_metric_group_and_variant_given_by_name():
    variants = ["blue", "green"]
    body = build_dashboard(ENDPOINT, REGION, variants, [])
    titles = sorted(graph_by_title(body))
    assert titles == sorted("%s: %s" % (v, w) for v in variants for w in NAME_GROUPS)
    for title, widget in graph_by_title(body).items():
        variant, group = title.split(": ")
        drawn = sorted(line[1] for line in metric_lines(widget))
        assert drawn == sorted(m.name for m in catalog.metrics_in_widget(group) if m.name in ELEVEN)
    assert drawn_metric_names(body) == set(ELEVEN)


def test_one_graph_per_metric_group_and_variant_of_a_spec():
    spec = make_spec(["blue", "green"])
    body = dashboard_of(spec)
    assert sorted(graph_by_title(body)) == sorted("%s: %s" % (v, w) for v in ("blue", "green") for w in NAME_GROUPS)


def test_only_the_requested_metrics_are_graphed():
    body = build_dashboard(ENDPOINT, REGION, ["AllTraffic"], [], metrics=["ModelLatency", "CPUUtilization"])
    by_title = graph_by_title(body)
    assert sorted(by_title) == ["AllTraffic: CPU", "AllTraffic: Latency"]
    assert [line[1] for line in by_title["AllTraffic: Latency"]["properties"]["metrics"]] == ["ModelLatency"]


def test_requested_metrics_also_restrict_endpoint_level_graphs():
    spec = profile_spec("async")
    body = dashboard_of(spec, metrics=["ApproximateBacklogSize", "ModelLatency"])
    assert sorted(graph_by_title(body)) == ["AllTraffic: Latency", "%s: Async queue" % ENDPOINT]
    assert [line[1] for line in metric_lines(graph_by_title(body)["%s: Async queue" % ENDPOINT])] == [
        "ApproximateBacklogSize"]


def test_graph_metrics_carry_endpoint_and_variant_and_query_the_region():
    variants = ["blue", "green"]
    spec = make_spec(variants)
    body = dashboard_of(spec)
    for title, widget in graph_by_title(body).items():
        variant = title.split(": ")[0]
        assert widget["properties"]["region"] == REGION
        for line in metric_lines(widget):
            metric = catalog.METRICS[line[1]]
            assert line[0] == metric.namespace
            assert line[2:6] == ["EndpointName", ENDPOINT, "VariantName", variant]
            assert isinstance(line[6], dict) and len(line) == 7


@pytest.mark.parametrize("variants", [["AllTraffic"], ["blue", "green"], ["a", "b", "c", "d"]])
def test_every_widget_fits_the_grid_and_none_overlap(variants):
    body = build_dashboard(ENDPOINT, REGION, variants, spec_alarms(variants))
    assert_fits_grid_without_overlap(body)


@pytest.mark.parametrize("profile", sorted(PROFILES))
@pytest.mark.parametrize("variants", [1, 3])
def test_every_endpoint_type_fits_the_grid_without_overlap(profile, variants):
    names = ["AllTraffic"] if variants == 1 else ["v%d" % i for i in range(variants)]
    kwargs = {}
    if profile == "serverless-provisioned":
        kwargs["variants"] = [{"name": n, "serverless": {"provisioned_concurrency": 2}} for n in names]
    else:
        kwargs["variants"] = names
    spec = profile_spec(profile, dict(ALL_ON, ModelLatency={"anomaly_band": 2}), composite=True, **kwargs)
    body = dashboard_of(spec)
    assert_fits_grid_without_overlap(body)
    assert_ids_are_unique_and_expressions_refer_to_them(body)


def test_partial_rows_do_not_overlap_the_next_variant():
    # Two groups per variant leave a partial row: the next variant must still start below it.
    body = build_dashboard(ENDPOINT, REGION, ["a", "b", "c"], [], metrics=["ModelLatency", "CPUUtilization"])
    assert_fits_grid_without_overlap(body)


def test_partial_row_of_the_endpoint_scope_does_not_overlap_the_first_variant():
    spec = profile_spec("async", variants=["blue", "green"])
    body = dashboard_of(spec)
    assert_fits_grid_without_overlap(body)
    endpoint_graph = graph_by_title(body)["%s: Async queue" % ENDPOINT]
    variant_graphs = [w for t, w in graph_by_title(body).items() if not t.startswith(ENDPOINT)]
    assert all(w["y"] >= endpoint_graph["y"] + endpoint_graph["height"] for w in variant_graphs)


# -------------------------------------------------------------------------------------- what each endpoint type graphs

@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_graphs_only_for_metrics_the_endpoint_publishes(profile):
    spec = profile_spec(profile, ALL_ON)
    body = dashboard_of(spec)
    assert drawn_metric_names(body) == PUBLISHED[profile]
    # Each graph draws metrics of its own group only, and no group is graphed without metrics.
    for title, widget in graph_by_title(body).items():
        group = title.split(": ", 1)[1]
        in_group = set(m.name for m in catalog.metrics_in_widget(group))
        for line in metric_lines(widget):
            # The only line from another group: the hidden traffic input of an error rate.
            assert line[1] in in_group or (group, line[1], line[-1].get("visible")) == (
                "Errors", "Invocations", False), (title, line)
        assert metric_lines(widget) or expression_lines(widget)


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_graphs_follow_publishing_even_without_alarms(profile):
    spec = profile_spec(profile)
    body = build_dashboard(ENDPOINT, REGION, spec["variants"], [], endpoint_metrics=spec["endpoint_metrics"],
                           components=spec["components"])
    assert drawn_metric_names(body) == PUBLISHED[profile]


def test_no_gpu_graph_on_a_cpu_instance_and_no_instance_graphs_on_serverless():
    cpu = graph_by_title(dashboard_of(profile_spec("realtime-cpu")))
    assert "AllTraffic: GPU" not in cpu and "AllTraffic: CPU" in cpu
    serverless = graph_by_title(dashboard_of(profile_spec("serverless-provisioned")))
    assert not set(serverless) & {"AllTraffic: CPU", "AllTraffic: GPU"}
    assert [line[1] for line in metric_lines(serverless["AllTraffic: Memory and disk"])] == ["MemoryUtilization"]
    assert [line[1] for line in metric_lines(serverless["AllTraffic: Serverless"])] == [
        "ServerlessConcurrentExecutionsUtilization", "ServerlessProvisionedConcurrencyUtilization",
        "ServerlessProvisionedConcurrencySpilloverInvocations"]
    traffic = [line[1] for line in metric_lines(serverless["AllTraffic: Traffic"])]
    assert traffic == ["Invocations"]  # no InvocationsPerInstance without instances


def test_async_backlog_is_graphed_once_with_the_endpoint_name_dimension_only():
    spec = profile_spec("async", variants=["blue", "green"])
    body = dashboard_of(spec)
    by_title = graph_by_title(body)
    backlog_graphs = [t for t, w in by_title.items()
                      if any(line[1] in BACKLOG for line in metric_lines(w))]
    assert backlog_graphs == ["%s: Async queue" % ENDPOINT]
    widget = by_title[backlog_graphs[0]]
    lines = metric_lines(widget)
    assert [line[1] for line in lines] == ["ApproximateBacklogSize", "ApproximateAgeOfOldestRequest",
                                           "HasBacklogWithoutCapacity"]
    for line in lines:
        assert line[2:4] == ["EndpointName", ENDPOINT]
        assert isinstance(line[4], dict) and len(line) == 5  # no VariantName
    # Each backlog alarm's threshold is drawn there, once.
    annotations = widget["properties"]["annotations"]["horizontal"]
    assert sorted(h["value"] for h in annotations) == sorted(
        a["threshold"] for a in spec["alarms"] if a["metric"] in BACKLOG)
    # The variants' own graphs: no traffic or errors on async, failures per variant.
    for variant in ("blue", "green"):
        assert "%s: Traffic" % variant not in by_title and "%s: Errors" % variant not in by_title
        assert "%s: Async failures" % variant in by_title


def test_component_graphs_carry_the_inference_component_name():
    spec = profile_spec("inference-components", {"InvocationsPerCopy": {"enabled": True}})
    by_title = graph_by_title(dashboard_of(spec))
    widget = by_title["%s: Components" % COMPONENT]
    lines = metric_lines(widget)
    assert [line[1] for line in lines] == ["InvocationsPerCopy", "ConcurrentRequestsPerCopy"]
    for line in lines:
        assert line[2:4] == ["InferenceComponentName", COMPONENT] and len(line) == 5
    assert len(widget["properties"]["annotations"]["horizontal"]) == 2
    assert not [t for t in by_title if t.startswith("AllTraffic: Components")]


# --------------------------------------------------------------------------------------------- annotations and lines

def test_each_alarm_threshold_is_an_annotation_in_its_own_graph():
    variants = ["blue", "green"]
    alarms = [dict(a) for a in spec_alarms(variants, host={"Invocations": {"enabled": True, "anomaly_band": 2},
                                                           "ModelLatency": {"anomaly_band": 3}})]
    # Give every alarm a distinct threshold so that a misplaced annotation shows.
    for i, a in enumerate(alarms):
        if a["kind"] != "anomaly":
            a["threshold"] = 1000 + i
    body = build_dashboard(ENDPOINT, REGION, variants, alarms)
    by_title = graph_by_title(body)
    expected = dict((t, []) for t in by_title)
    for a in alarms:
        if a["kind"] == "anomaly":
            continue  # drawn as a band, not a line
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
    alarm = dict(name="sagemaker-monitoring_ep_AllTraffic_ModelLatency", metric="ModelLatency", variant="AllTraffic",
                 statistic="Average", period=300, comparison=comparison, threshold=250000)
    body = build_dashboard(ENDPOINT, REGION, ["AllTraffic"], [alarm])
    [annotation] = graph_by_title(body)["AllTraffic: Latency"]["properties"]["annotations"]["horizontal"]
    assert annotation["value"] == 250000
    assert annotation["fill"] == fill
    assert catalog.COMPARISONS[comparison] in annotation["label"]


def test_annotation_value_is_cloudwatch_units_and_label_people_units():
    spec = make_spec(instance_type="ml.c5.4xlarge", host={"ModelLatency": {"threshold": 250},
                                                          "CPUUtilization": {"threshold": 80}})
    by_title = graph_by_title(dashboard_of(spec))
    [latency] = by_title["AllTraffic: Latency"]["properties"]["annotations"]["horizontal"][:1]
    assert latency["value"] == 250000 and "250 ms" in latency["label"]
    [cpu] = by_title["AllTraffic: CPU"]["properties"]["annotations"]["horizontal"]
    assert cpu["value"] == 1280 and "80 % per vCPU" in cpu["label"]


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
    widget = graph_by_title(body)["AllTraffic: Latency"]
    lines = dict((line[1], line[6]) for line in metric_lines(widget))
    assert (lines["ModelLatency"]["stat"], lines["ModelLatency"]["period"]) == ("p99", 60)
    assert (lines["OverheadLatency"]["stat"], lines["OverheadLatency"]["period"]) == ("Average", 120)
    assert widget["properties"]["period"] == 60


def test_metric_without_alarm_uses_the_catalog_statistic():
    body = build_dashboard(ENDPOINT, REGION, ["AllTraffic"], spec_alarms())
    lines = dict((line[1], line[6]) for line in metric_lines(graph_by_title(body)["AllTraffic: Traffic"]))
    assert lines["Invocations"]["stat"] == "Sum"


def test_annotations_only_in_the_variant_of_the_alarm():
    alarms = spec_alarms(["blue"])
    body = build_dashboard(ENDPOINT, REGION, ["blue", "green"], alarms)
    for title, widget in graph_by_title(body).items():
        if title.startswith("green: "):
            assert "annotations" not in widget["properties"], title
            assert not expression_lines(widget), title


def test_error_rate_alarm_is_drawn_as_its_rate_with_hidden_inputs():
    spec = make_spec(["blue"], host={"Invocation5XXErrors": {"period": 60, "min_invocations": 20, "threshold": 2}})
    widget = graph_by_title(dashboard_of(spec))["blue: Errors"]
    dims = ["EndpointName", ENDPOINT, "VariantName", "blue"]
    assert widget["properties"]["metrics"] == [
        ["AWS/SageMaker", "Invocation4XXErrors"] + dims + [{"id": "e0", "stat": "Sum", "period": 300,
                                                             "visible": False}],
        ["AWS/SageMaker", "Invocations"] + dims + [{"id": "i0", "stat": "Sum", "period": 300, "visible": False}],
        [{"id": "r0", "label": "Invocation4XXErrors rate (%)", "expression": "IF(i0 >= 50, 100 * e0 / i0, 0)"}],
        ["AWS/SageMaker", "Invocation5XXErrors"] + dims + [{"id": "e1", "stat": "Sum", "period": 60,
                                                             "visible": False}],
        ["AWS/SageMaker", "Invocations"] + dims + [{"id": "i1", "stat": "Sum", "period": 60, "visible": False}],
        [{"id": "r1", "label": "Invocation5XXErrors rate (%)", "expression": "IF(i1 >= 20, 100 * e1 / i1, 0)"}],
    ]
    annotations = widget["properties"]["annotations"]["horizontal"]
    assert [(h["value"], h["fill"]) for h in annotations] == [(5, "above"), (2, "above")]
    assert annotations[1]["label"] == "Invocation5XXErrors alarm: critical when rate > 2 % of requests"
    assert widget["properties"]["period"] == 60


def test_raw_error_alarm_is_drawn_as_a_plain_line():
    spec = make_spec(host={"Invocation5XXErrors": {"raw": True, "threshold": 10}})
    widget = graph_by_title(dashboard_of(spec))["AllTraffic: Errors"]
    five = [line for line in metric_lines(widget) if line[1] == "Invocation5XXErrors"]
    assert len(five) == 1 and five[0][6] == {"stat": "Sum", "period": 300, "label": "Invocation5XXErrors (Sum)"}
    assert [e["id"] for e in expression_lines(widget)] == ["r0"]  # 4XX is still a rate
    assert sorted(h["value"] for h in widget["properties"]["annotations"]["horizontal"]) == [5, 10]


def test_anomaly_alarm_adds_a_band_line():
    spec = make_spec(host={"ModelLatency": {"anomaly_band": 2.5}})
    widget = graph_by_title(dashboard_of(spec))["AllTraffic: Latency"]
    lines = widget["properties"]["metrics"]
    latency = [line for line in metric_lines(widget) if line[1] == "ModelLatency"][0]
    assert latency[6]["id"] == "m0"
    assert expression_lines(widget) == [{"id": "b0", "label": "ModelLatency expected band",
                                         "expression": "ANOMALY_DETECTION_BAND(m0, 2.5)"}]
    # The band follows its metric's line; the static threshold is still an annotation, the band is not one.
    assert lines.index([expression_lines(widget)[0]]) == lines.index(latency) + 1
    assert [h["value"] for h in widget["properties"]["annotations"]["horizontal"]] == [1000000, 200000]
    # Without a band: no id, no band line.
    plain = graph_by_title(dashboard_of(make_spec()))["AllTraffic: Latency"]
    assert expression_lines(plain) == []
    assert all("id" not in line[6] for line in metric_lines(plain))


def test_anomaly_band_on_invocations_is_drawn_in_the_traffic_graph():
    spec = make_spec(host={"Invocations": {"enabled": True, "anomaly_band": 3}})
    widget = graph_by_title(dashboard_of(spec))["AllTraffic: Traffic"]
    assert expression_lines(widget) == [{"id": "b0", "label": "Invocations expected band",
                                         "expression": "ANOMALY_DETECTION_BAND(m0, 3)"}]
    assert_ids_are_unique_and_expressions_refer_to_them(dashboard_of(spec))


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


def test_expression_lines_count_towards_the_metric_limits(monkeypatch):
    # An error rate is 3 lines (two hidden inputs and the rate): 6 in the Errors graph.
    monkeypatch.setattr(dashboard, "MAX_METRICS_PER_WIDGET", 5)
    with pytest.raises(DashboardError) as info:
        dashboard_of(make_spec())
    assert "AllTraffic: Errors" in str(info.value)


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
    dict(alarms=[dict(name="x", metric="ConcurrentRequestsPerCopy", scope="component", component="other-ic",
                      statistic="Maximum", period=60, comparison="GreaterThanThreshold", threshold=1)],
         components=[{"name": "ranker-ic", "metrics": ["ConcurrentRequestsPerCopy"]}]),
    dict(alarms=[dict(name="x", metric="ApproximateBacklogSize", scope="endpoint", statistic="Average",
                      period=60, comparison="GreaterThanThreshold", threshold=1)]),
    dict(alarms=[dict(name="x", metric="Invocation5XXErrors", variant="AllTraffic", kind="math", statistic="Sum",
                      period=60, comparison="bigger", threshold=1, expression="errors")]),
], ids=["no-variants", "unknown-metric", "alarm-of-unknown-variant", "unnormalised-comparison",
        "alarm-of-unknown-component", "endpoint-alarm-without-endpoint-metrics", "math-alarm-bad-comparison"])
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
    spec = make_spec(["blue", "green"], composite=True, host={"ModelLatency": {"anomaly_band": 2}})
    body = dashboard_of(spec, topic_name="t")
    text = minify(body)
    assert _whitespace_outside_strings(text) == []
    assert json.loads(text) == body
    assert len(text) < len(json.dumps(body))


def test_body_has_the_dashboard_top_level_keys():
    body = build_dashboard(ENDPOINT, REGION, ["AllTraffic"], [])
    assert set(body) == {"start", "periodOverride", "widgets"}
