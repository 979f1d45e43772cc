"""dashboard_preview: the grid in pixels, synthetic data, CloudWatch queries, and the PNG and HTML drawn from a
body that dashboard.build_dashboard computed; and the dashboard_preview module run in-process."""

import io
import itertools
import os
import re

import pytest

matplotlib = pytest.importorskip("matplotlib")
import numpy  # noqa: E402  (matplotlib's own dependency, like Pillow)
from PIL import Image  # noqa: E402

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils import dashboard  # noqa: E402
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils import dashboard_preview as preview  # noqa: E402

ENDPOINT = "fraud-scoring"
REGION = "eu-west-1"
ACCOUNT = "123456789012"
VARIANTS = ["blue", "green"]
CELL = (60, 40)
BACKGROUND = (0xF2, 0xF3, 0xF3)
PANEL = (0xFF, 0xFF, 0xFF)


def alarm(variant, metric, threshold, statistic="Average", period=300, comparison="GreaterThanThreshold"):
    return {"name": "sagemaker-monitoring_%s_%s_%s" % (ENDPOINT, variant, metric), "kind": "metric", "metric": metric, "scope": "variant",
            "variant": variant, "statistic": statistic, "period": period, "comparison": comparison,
            "threshold": threshold}


ALARMS = [a for v in VARIANTS for a in (
    alarm(v, "ModelLatency", 100000, period=60),
    alarm(v, "OverheadLatency", 200000),
    alarm(v, "CPUUtilization", 80),
    alarm(v, "InvocationsPerInstance", 30000, statistic="Sum"),
)]


@pytest.fixture(scope="module")
def body():
    return dashboard.build_dashboard(ENDPOINT, REGION, VARIANTS, ALARMS, account_id=ACCOUNT, topic_name="alarms")


@pytest.fixture(scope="module")
def rendered(body):
    states = {ALARMS[0]["name"]: "ALARM", ALARMS[1]["name"]: "OK"}
    series = preview.synthetic_data(body, seed=7)
    png = preview.render_png(body, series, states=states)
    image = Image.open(io.BytesIO(png)).convert("RGB")
    return {"png": png, "image": image, "series": series, "states": states}


def graph(body, title):
    return [(i, w) for i, w in enumerate(body["widgets"]) if w["properties"].get("title") == title][0]


def pixels(image, box=None):
    """The RGB pixels of box (x0, y0, x1, y1), or of the whole image, as tuples."""
    region = numpy.asarray(image.crop(box) if box else image).reshape(-1, 3)
    return [tuple(int(c) for c in p) for p in region]


def non_background(image, box):
    """How many pixels of box are neither the page background nor the white panel."""
    return sum(1 for p in pixels(image, box) if p not in (BACKGROUND, PANEL))


# --------------------------------------------------------------------------------------------- layout

def test_layout_is_the_grid_times_the_cell_size(body):
    rects = preview.layout(body, cell_px=CELL)
    assert len(rects) == len(body["widgets"])
    for rect, widget in zip(rects, body["widgets"]):
        assert (rect["x"], rect["y"], rect["w"], rect["h"]) == (
            widget["x"] * 60, widget["y"] * 40, widget["width"] * 60, widget["height"] * 40)
        assert rect["type"] == widget["type"]
    header = rects[0]
    assert (header["x"], header["y"], header["w"], header["h"]) == (0, 0, 1440, 80)
    assert header["title"] == "SageMaker endpoint fraud-scoring (eu-west-1)"
    index, _widget = graph(body, "green: Latency")
    assert rects[index]["title"] == "green: Latency"
    assert (rects[index]["w"], rects[index]["h"]) == (480, 240)


def test_layout_rectangles_do_not_overlap_and_fill_the_24_columns(body):
    rects = preview.layout(body, cell_px=CELL)
    width, height = preview.canvas_size(body, cell_px=CELL)
    assert width == 24 * 60
    assert height == max(w["y"] + w["height"] for w in body["widgets"]) * 40
    for r in rects:
        assert 0 <= r["x"] and r["x"] + r["w"] <= width and 0 <= r["y"] and r["y"] + r["h"] <= height
    for a, b in itertools.combinations(rects, 2):
        apart = (a["x"] + a["w"] <= b["x"] or b["x"] + b["w"] <= a["x"]
                 or a["y"] + a["h"] <= b["y"] or b["y"] + b["h"] <= a["y"])
        assert apart, (a, b)


def test_layout_takes_one_number_for_square_cells():
    body = {"widgets": [{"type": "text", "x": 2, "y": 1, "width": 4, "height": 3, "properties": {"markdown": "hi"}}]}
    rect = preview.layout(body, cell_px=10)[0]
    assert (rect["x"], rect["y"], rect["w"], rect["h"]) == (20, 10, 40, 30)
    assert preview.canvas_size(body, cell_px=10) == (240, 40)


def test_widgets_without_a_place_flow_left_to_right_as_cloudwatch_places_them():
    body = {"widgets": [{"type": "metric", "width": 12, "height": 6, "properties": {}},
                        {"type": "metric", "width": 12, "height": 4, "properties": {}},
                        {"type": "metric", "properties": {}}]}
    assert preview.grid_positions(body) == [(0, 0, 12, 6), (12, 0, 12, 4), (0, 6, 6, 6)]


@pytest.mark.parametrize("widget", [
    {"type": "metric", "x": 20, "y": 0, "width": 8, "height": 6},
    {"type": "metric", "x": 0, "y": 0, "width": 25, "height": 6},
    {"type": "metric", "x": "0", "y": 0, "width": 8, "height": 6},
])
def test_widgets_off_the_grid_are_refused(widget):
    with pytest.raises(preview.PreviewError):
        preview.layout({"widgets": [widget]})


def test_a_body_without_widgets_is_refused():
    for bad in (None, {}, {"widgets": "x"}, {"widgets": ["x"]}):
        with pytest.raises(preview.PreviewError):
            preview.layout(bad)


# --------------------------------------------------------------------------------------------- lines and data

def test_metric_lines_expand_cloudwatch_shorthand_and_read_expressions():
    widget = {"type": "metric", "properties": {"region": REGION, "period": 60, "metrics": [
        ["AWS/SageMaker", "Invocation5XXErrors", "EndpointName", "ep", "VariantName", "blue",
         {"id": "e1", "stat": "Sum", "visible": False}],
        [".", "Invocations", ".", ".", ".", ".", {"id": "i1", "stat": "Sum", "visible": False}],
        [{"id": "r1", "expression": "IF(i1 >= 20, 100 * e1 / i1, 0)", "label": "blue Invocation5XXErrors rate"}],
        ["AWS/SageMaker", "ModelLatency", "EndpointName", "ep", "VariantName", "blue", {"id": "m1"}],
        [{"expression": "ANOMALY_DETECTION_BAND(m1, 3)", "label": "ModelLatency expected band"}],
    ]}}
    lines = preview.widget_lines(widget)
    assert lines[1]["namespace"] == "AWS/SageMaker" and lines[1]["metric"] == "Invocations"
    assert lines[1]["dimensions"] == [("EndpointName", "ep"), ("VariantName", "blue")]
    assert [line["visible"] for line in lines] == [False, False, True, True, True]
    assert lines[2]["expression"] and lines[2]["subject"] == "Invocation5XXErrors"
    assert lines[3]["stat"] == "Average" and lines[3]["period"] == 60 and lines[3]["region"] == REGION
    assert (lines[4]["band_of"], lines[4]["band_width"]) == ("m1", 3.0)
    assert [preview.needs_data(line) for line in lines] == [False, False, True, True, False]


def test_synthetic_series_stays_below_a_greater_threshold_but_for_one_excursion():
    line = ["AWS/SageMaker", "ModelLatency", "EndpointName", "ep", "VariantName", "blue", {"stat": "Average"}]
    annotations = [{"label": "ModelLatency alarm: Average > 100000", "value": 100000, "fill": "above"},
                   {"label": "OverheadLatency alarm: Average > 5", "value": 5, "fill": "above"}]
    values = preview.synthetic_series(line, annotations, 60, seed=1)
    assert len(values) == 60 and all(v >= 0 for v in values)
    above = [i for i, v in enumerate(values) if v > 100000]
    assert above, "the threshold is never crossed"
    assert above == list(range(above[0], above[-1] + 1)), "more than one excursion"
    assert len(above) <= 60 // 10
    assert max(v for v in values if v <= 100000) <= 90000  # quiet well below the threshold
    assert preview.synthetic_series(line, annotations, 60, seed=1) == values
    assert preview.synthetic_series(line, annotations, 60, seed=2) != values


def test_synthetic_series_stays_above_a_lower_threshold_but_for_one_dip():
    line = ["AWS/SageMaker", "Invocations", "EndpointName", "ep", "VariantName", "blue", {"stat": "Sum"}]
    annotations = [{"label": "Invocations alarm: Sum < 1", "value": 1, "fill": "below"}]
    values = preview.synthetic_series(line, annotations, 40, seed=0)
    below = [i for i, v in enumerate(values) if v < 1]
    assert below and below == list(range(below[0], below[-1] + 1))


def test_synthetic_series_without_threshold_wanders_around_a_plausible_level():
    line = ["/aws/sagemaker/Endpoints", "MemoryUtilization", "EndpointName", "ep", "VariantName", "b", {}]
    values = preview.synthetic_series(line, [], 30, seed=0)
    assert all(0 < v < 100 for v in values)
    with pytest.raises(preview.PreviewError):
        preview.synthetic_series(line, [], 1, seed=0)


def test_synthetic_data_covers_every_drawn_line_of_the_body_and_only_those(body):
    data = preview.synthetic_data(body, hours=3)
    keys = set(preview.series_key(w, i) for w, i, line in preview.metric_lines(body) if preview.needs_data(line))
    assert set(data) == keys
    for entry in data.values():
        assert entry["synthetic"] is True
        assert entry["t"][0] == -3 * 3600 and entry["t"][-1] == 0 and len(entry["t"]) == len(entry["v"])
    known = {sorted(keys)[0]: {"t": [0], "v": [1.0], "synthetic": False}}
    assert set(preview.synthetic_data(body, only_missing_from=known)) == keys - set(known)


def test_anomaly_band_surrounds_the_values():
    values = [10, 12, 11, 30, 12, 10, 11, 12, 13, 11]
    lower, upper = preview.anomaly_band(values, 2)
    assert len(lower) == len(upper) == len(values)
    assert all(lo < hi for lo, hi in zip(lower, upper))
    assert preview.anomaly_band([], 2) == ([], [])


def test_cloudwatch_requests_one_per_widget_with_unique_ids_and_rewritten_expressions():
    body = {"widgets": [
        {"type": "text", "x": 0, "y": 0, "width": 24, "height": 1, "properties": {"markdown": "x"}},
        {"type": "metric", "x": 0, "y": 1, "width": 8, "height": 6, "properties": {"region": REGION, "metrics": [
            ["AWS/SageMaker", "Invocation5XXErrors", "EndpointName", "ep", {"id": "e1", "stat": "Sum",
                                                                          "visible": False}],
            ["AWS/SageMaker", "Invocations", "EndpointName", "ep", {"id": "i1", "stat": "Sum", "visible": False}],
            [{"id": "r1", "expression": "IF(i1 >= 20, 100 * e1 / i1, 0)", "label": "rate"}],
            ["AWS/SageMaker", "ModelLatency", "EndpointName", "ep", {"id": "m1", "stat": "p99", "period": 60}],
            [{"expression": "ANOMALY_DETECTION_BAND(m1, 2)", "label": "band"}],
        ]}},
    ]}
    (request,) = preview.cloudwatch_requests(body)
    assert request["widget"] == 1 and request["region"] == REGION
    ids = [q["Id"] for q in request["queries"]]
    assert ids == ["w1_e1", "w1_i1", "w1_r1", "w1_m1"]  # the band is drawn, not queried
    assert request["queries"][2]["Expression"] == "IF(w1_i1 >= 20, 100 * w1_e1 / w1_i1, 0)"
    assert [q["ReturnData"] for q in request["queries"]] == [False, False, True, True]
    assert request["queries"][3]["MetricStat"] == {
        "Metric": {"Namespace": "AWS/SageMaker", "MetricName": "ModelLatency",
                   "Dimensions": [{"Name": "EndpointName", "Value": "ep"}]},
        "Period": 60, "Stat": "p99"}
    assert request["keys"] == {"w1_r1": "w1.m2", "w1_m1": "w1.m3"}
    singles = preview.single_queries(request)
    assert [s["keys"] for s in singles] == [{"w1_m1": "w1.m3"}]  # expressions are left out


def test_series_from_result_is_sorted_and_relative_to_the_end():
    entry = preview.series_from_result([1000, 400, 700], [3.0, 1.0, 2.0], end_epoch=1000)
    assert entry == {"t": [-600.0, -300.0, 0.0], "v": [1.0, 2.0, 3.0], "synthetic": False}


def test_alarm_names_come_from_the_arns_even_with_the_cloudformation_placeholder():
    body = dashboard.build_dashboard(ENDPOINT, REGION, VARIANTS, ALARMS)  # ${AWS::AccountId} in the ARNs
    assert preview.alarm_names(body) == [(a["name"], REGION) for a in ALARMS]


# --------------------------------------------------------------------------------------------- PNG

def test_png_has_the_size_of_the_grid(body, rendered):
    assert rendered["image"].size == preview.canvas_size(body)
    assert rendered["png"][:8] == b"\x89PNG\r\n\x1a\n"


def test_png_is_the_same_for_the_same_input(body, rendered):
    again = preview.render_png(body, preview.synthetic_data(body, seed=7), states=rendered["states"])
    assert again == rendered["png"]
    other = preview.render_png(body, preview.synthetic_data(body, seed=8), states=rendered["states"])
    assert other != rendered["png"]


def test_png_is_not_blank(rendered):
    image = rendered["image"]
    assert len(set(pixels(image))) > 200
    width, height = image.size
    assert non_background(image, (0, 0, width, height)) > 0.05 * width * height


def test_png_draws_each_widget_at_its_place(body, rendered):
    image = rendered["image"]
    rects = dict((r["index"], r) for r in preview.layout(body))
    header = rects[0]
    # The header's text, in its first rows.
    assert non_background(image, (header["x"] + 8, header["y"] + 6, header["x"] + 600, header["y"] + 30)) > 200
    # A graph: its title, and its plot with the lines and the threshold.
    index, _widget = graph(body, "green: Latency")
    r = rects[index]
    assert non_background(image, (r["x"] + 8, r["y"] + 6, r["x"] + 160, r["y"] + 24)) > 50
    plot = set(pixels(image, (r["x"] + 60, r["y"] + 30, r["x"] + r["w"] - 16, r["y"] + r["h"] - 60)))
    blue, orange, red = (0x1F, 0x77, 0xB4), (0xFF, 0x7F, 0x0E), (0xD6, 0x27, 0x28)
    assert blue in plot and orange in plot and red in plot
    # Between two graphs (the grid line at r["x"]) the page background shows.
    gap = (r["x"] - 2, r["y"] + 20, r["x"] + 2, r["y"] + r["h"] - 20)
    assert set(pixels(image, gap)) == {BACKGROUND}


def test_png_colours_each_alarm_tile_by_its_state(body, rendered):
    image = rendered["image"]
    rect = [r for r in preview.layout(body) if r["type"] == "alarm"][0]
    # Four tiles a row, 351 px wide with 4 px between, below the title; the names are on their left.
    def tile(i):
        return image.getpixel((rect["x"] + 12 + i * 355 + 340, rect["y"] + 34 + 18))
    assert tile(0) == (0xD1, 0x32, 0x12)  # ALARM
    assert tile(1) == (0x1D, 0x81, 0x02)  # OK
    assert tile(3) == (0x87, 0x91, 0x96)  # not given: INSUFFICIENT_DATA


def test_png_is_written_to_a_path(body, tmp_path):
    path = str(tmp_path / "d.png")
    data = preview.render_png(body, {}, path)
    with open(path, "rb") as f:
        assert f.read() == data


# --------------------------------------------------------------------------------------------- HTML

def test_html_shows_the_png_and_lists_every_widget(body, rendered, tmp_path):
    path = str(tmp_path / "page.html")
    text = preview.render_html(body, "fraud-scoring.png", path, title="Preview <fraud>", note="synthetic",
                               series=rendered["series"], states=rendered["states"])
    with open(path, encoding="utf-8") as f:
        assert f.read() == text
    width, height = preview.canvas_size(body)
    assert '<img src="fraud-scoring.png" width="%d" height="%d"' % (width, height) in text
    assert "Preview &lt;fraud&gt;" in text and "<fraud>" not in text
    assert text.count('<tr id="widget-') == len(body["widgets"])
    assert text.count("<area ") == len(body["widgets"])
    assert "%s: ALARM" % ALARMS[0]["name"] in text
    assert re.search(r"threshold: ModelLatency alarm: (critical|warning) when Average &gt; 100000", text)
    assert "synthetic data" in text
    assert preview.render_html(body, "fraud-scoring.png", title="Preview <fraud>", note="synthetic",
                               series=rendered["series"], states=rendered["states"]) == text


# --------------------------------------------------------------------------------------------- the module

def run_module(args, capsys):
    from module_runner import run_module as run
    from ansible_collections.mlops.sagemaker_monitoring.plugins.modules import dashboard_preview

    return run(dashboard_preview, args, capsys)


def test_module_writes_png_and_html_and_changes_only_when_they_change(body, tmp_path, capsys):
    dest = str(tmp_path / "preview")
    args = {"body": body, "dest": dest, "name": ENDPOINT, "alarm_states": {ALARMS[0]["name"]: "ALARM"}}

    code, checked = run_module(dict(args, _ansible_check_mode=True), capsys)
    assert code == 0 and checked["changed"] is True, checked
    assert not os.path.exists(dest)

    code, first = run_module(args, capsys)
    assert code == 0 and first["changed"] is True, first
    assert first["png"] == os.path.join(dest, ENDPOINT + ".png")
    assert first["html"] == os.path.join(dest, ENDPOINT + ".html")
    assert Image.open(first["png"]).size == (first["width"], first["height"])
    assert first["widgets"] == len(body["widgets"])
    assert len(first["synthetic_lines"]) == first["lines"] > 0
    assert first["alarm_states"][ALARMS[0]["name"]] == "ALARM"
    assert first["alarm_states"][ALARMS[1]["name"]] == "INSUFFICIENT_DATA"

    code, second = run_module(args, capsys)
    assert code == 0 and second["changed"] is False, second
    code, checked = run_module(dict(args, _ansible_check_mode=True), capsys)
    assert checked["changed"] is False

    code, redrawn = run_module(dict(args, seed=3), capsys)
    assert redrawn["changed"] is True


@pytest.mark.parametrize("bad,message", [
    ({"name": "../x"}, "plain file name"),
    ({"hours": 0}, "hours must be"),
    ({"alarm_states": {"a": "RED"}}, "alarm_states"),
    ({"end_time": "yesterday"}, "ISO 8601"),
    ({"body": {"widgets": [{"type": "metric", "x": 20, "width": 8, "y": 0, "height": 6}]}}, "grid"),
])
def test_module_refuses_bad_arguments(body, tmp_path, capsys, bad, message):
    args = dict({"body": body, "dest": str(tmp_path), "name": ENDPOINT}, **bad)
    code, result = run_module(args, capsys)
    assert code == 1 and result["failed"] is True
    assert message in result["msg"]


# --------------------------------------------------------------------------------------------- threshold labels

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE_INVENTORY = os.path.join(ROOT, "examples", "inventory")
# What SageMaker says of the example endpoints that the inventory names only (its comments say so).
EXAMPLE_FACTS = {"product-recs": "ml.c5.2xlarge", "fraud-scoring": "ml.g4dn.xlarge"}


def example_hosts():
    """{host: variables} of examples/inventory (a static YAML inventory: hosts.yml, group_vars, host_vars), merged as
    Ansible merges them: all's, then the host's group's, then the host's own; files over the inventory's vars."""
    import yaml

    def load(*parts):
        path = os.path.join(EXAMPLE_INVENTORY, *parts)
        if not os.path.exists(path):
            return {}
        with open(path) as f:
            return yaml.safe_load(f) or {}

    inventory = load("hosts.yml")["all"]
    hosts = {}
    for group, members in (inventory.get("children") or {}).items():
        for host, inline in ((members or {}).get("hosts") or {}).items():
            merged = dict(inventory.get("vars") or {})
            merged.update(load("group_vars", "all.yml"))
            merged.update((members or {}).get("vars") or {})
            merged.update(load("group_vars", group + ".yml"))
            merged.update(inline or {})
            merged.update(load("host_vars", host + ".yml"))
            hosts[host] = merged
    return hosts


def example_bodies():
    """{endpoint: dashboard body} of every endpoint of examples/inventory, as a monitoring run computes them."""
    from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_settings import (
        PREFIX, dashboard_of, needs_facts, spec_from_settings)
    from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.instance_types import instance_counts
    from ansible_collections.mlops.sagemaker_monitoring.plugins.plugin_utils.endpoint_render import (
        read_settings, role_options)

    options = role_options(os.path.join(ROOT, "roles", "endpoint_monitoring", "meta", "argument_specs.yml"))
    bodies = {}
    for host, host_vars in example_hosts().items():
        host_vars.setdefault(PREFIX + "region", "us-east-1")
        settings = read_settings(lambda value: value, host_vars, options, default_endpoint=host)
        settings[PREFIX + "endpoint_name"] = settings.get(PREFIX + "endpoint_name") or host
        facts = None
        if needs_facts(settings):
            vcpus, gpus = instance_counts(EXAMPLE_FACTS[host])
            facts = {"endpoint_type": "realtime", "multi_model": False, "inference_components": [],
                     "variants": [{"name": "AllTraffic", "instance_type": EXAMPLE_FACTS[host],
                                   "instance_count": 1, "vcpus": vcpus, "gpus": gpus, "serverless": None}]}
        bodies[host] = dashboard_of(spec_from_settings(settings, facts))["body"]
    return bodies


def profile_body(profile):
    from endpoint_profiles import ALL_ON, profile_spec

    from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_settings import dashboard_of

    return dashboard_of(profile_spec(profile, ALL_ON))["body"]


def fleet_body():
    """A fleet dashboard page (4 x 5 graphs, a line per variant): a GPU endpoint, and one whose two variants have
    4 and 16 vCPUs, so different CPU thresholds in CloudWatch's units for the same 80 % per vCPU."""
    from endpoint_profiles import ALL_ON, LAYER, profile_spec

    from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_settings import fleet_entry
    from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_spec import build_spec

    two = build_spec("ranker", REGION, variants=[{"name": "blue", "instance_type": "ml.m5.xlarge"},
                                                 {"name": "green", "instance_type": "ml.m5.4xlarge"}],
                     metric_layers=[(LAYER, ALL_ON)], composite=False)
    entries = [fleet_entry(profile_spec("realtime-gpu", ALL_ON)), fleet_entry(two)]
    return dashboard.build_fleet_dashboards(entries)[0]["body"]


def crowded_body():
    """One graph with many alarms, their thresholds close together, and lines crossing them; and the same in a
    fleet-sized graph (4 x 5)."""
    latencies = [["AWS/SageMaker", "ModelLatency", "EndpointName", "ep", "VariantName", v, {"label": "%s latency" % v}]
                 for v in ("blue", "green", "red", "black")]
    annotations = [{"label": "ModelLatency alarm (%s): Average > %d ms" % (v, t), "value": t * 1000, "fill": "above"}
                   for v, t in (("blue", 300), ("green", 305), ("red", 310), ("black", 320), ("white", 325),
                                ("grey", 340))]
    annotations.append({"label": "ModelLatency alarm (blue): Average < 20 ms", "value": 20000, "fill": "below"})
    annotations.append({"label": "ModelLatency alarm (green): Average < 25 ms", "value": 25000, "fill": "below"})
    graph = {"type": "metric", "properties": {"title": "Crowded", "region": REGION, "metrics": latencies,
                                              "annotations": {"horizontal": annotations},
                                              "yAxis": {"left": {"min": 0}}}}
    return {"widgets": [dict(graph, x=0, y=0, width=8, height=6), dict(graph, x=8, y=0, width=4, height=5),
                        dict(graph, x=12, y=0, width=12, height=6)]}


def crossing_series(body):
    """Data that runs right through the crowded thresholds, back and forth."""
    series = {}
    for w, i, _line in preview.metric_lines(body):
        values = [(280000 + 70000 * ((k * (i + 3)) % 7) / 6.0) if k % 9 else 15000 for k in range(60)]
        series[preview.series_key(w, i)] = {"t": [-3 * 3600 + 180 * k for k in range(60)], "v": values,
                                            "synthetic": True}
    return series


def display_path(line):
    return line.get_transform().transform_path(line.get_path())


def label_problems(figure):
    """Every threshold label that overlaps another text of its graph, leaves its plot or crosses a line of the graph
    (data lines, other thresholds' lines, leader lines), in display coordinates as the renderer lays the text out.
    Its own threshold line (and any other threshold at the same value) and its own leader line do not count."""
    figure.canvas.draw()  # tick labels and their places are final once drawn
    renderer = figure.canvas.get_renderer()
    problems = []
    graphs = [a for a in figure.axes if (a.get_gid() or "").startswith("widget-")]
    assert graphs
    for primary in graphs:
        group = primary.get_shared_x_axes().get_siblings(primary)
        lines = [line for axes in group for line in axes.get_lines()]
        texts = [t for axes in group for t in axes.texts if t.get_text()]
        labels = [t for t in texts if (t.get_gid() or "").startswith("threshold-label-")]
        others = texts + [axes.yaxis.label for axes in group if axes.yaxis.label.get_text()]
        others += [t for axes in group for t in axes.get_yticklabels() + axes.get_xticklabels() if t.get_text()]
        for label in labels:
            n = label.get_gid().rsplit("-", 1)[1]
            box = label.get_window_extent(renderer)
            where = "%s: %r" % (primary.get_gid(), label.get_text())
            if not (primary.bbox.x0 <= box.x0 and box.x1 <= primary.bbox.x1
                    and primary.bbox.y0 <= box.y0 and box.y1 <= primary.bbox.y1):
                problems.append("%s leaves the plot" % where)
            for other in others:
                if other is not label and box.overlaps(other.get_window_extent(renderer)):
                    problems.append("%s overlaps %r" % (where, other.get_text()))
            own = [line for line in lines if line.get_gid() == "threshold-" + n]
            assert len(own) == 1, where
            own_y = display_path(own[0]).vertices[0][1]
            for line in lines:
                gid = line.get_gid() or ""
                path = display_path(line)
                if gid == "threshold-leader-" + n:
                    continue
                if gid.startswith("threshold-") and "leader" not in gid and abs(path.vertices[0][1] - own_y) < 0.5:
                    continue
                if path.intersects_bbox(box, filled=False):
                    problems.append("%s crosses line %s" % (where, gid))
    return problems


def thresholds_shown(figure):
    """How many thresholds are labelled on their graph, and how many in its legend (a graph too small for all of
    them says how many more the HTML page lists: "6 more thresholds: see the page's list")."""
    import re

    inline = sum(1 for a in figure.axes for t in a.texts if (t.get_gid() or "").startswith("threshold-label-"))
    legend = 0
    for text in figure.axes[0].texts:
        if text.get_color() == preview.THRESHOLD:
            more = re.match(r"^(\d+) more thresholds?: ", text.get_text())
            legend += int(more.group(1)) if more else 1
    return inline, legend


@pytest.mark.parametrize("case", ["example:similar-items", "example:product-recs", "example:fraud-scoring",
                                  "serverless-provisioned", "async", "multi-model", "inference-components",
                                  "fleet", "crowded"])
def test_threshold_labels_cross_no_line_and_no_other_label(case):
    if case.startswith("example:"):
        bodies = example_bodies()
        assert sorted(bodies) == ["fraud-scoring", "product-recs", "similar-items"]
        body = bodies[case.split(":", 1)[1]]
    elif case == "crowded":
        body = crowded_body()
    elif case == "fleet":
        body = fleet_body()
    else:
        body = profile_body(case)
    annotations = sum(len(preview.horizontal_annotations(w)) for w in body["widgets"] if w.get("type") == "metric")
    assert annotations
    for series in (preview.synthetic_data(body, seed=0), preview.synthetic_data(body, seed=5),
                   crossing_series(body) if case == "crowded" else {}):
        figure = preview.render_figure(body, series)
        assert label_problems(figure) == []
        inline, legend = thresholds_shown(figure)
        assert inline + legend == annotations  # every threshold is labelled somewhere
        assert inline >= annotations // 2, "most labels should sit by their line"


def test_labels_of_thresholds_close_together_stack_with_leader_lines():
    body = crowded_body()
    figure = preview.render_figure(body, preview.synthetic_data(body, seed=0))
    graph = [a for a in figure.axes if a.get_gid() == "widget-2"][0]  # the wide one: room for all
    labels = [t for t in graph.texts if (t.get_gid() or "").startswith("threshold-label-")]
    leaders = [line for line in graph.get_lines() if (line.get_gid() or "").startswith("threshold-leader-")]
    assert len(labels) == 8 and leaders
    assert label_problems(figure) == []


# --------------------------------------------------------------------------------------------- units

def test_annotation_units_come_from_the_threshold_as_its_label_writes_it():
    assert preview.annotation_unit({"label": "ModelLatency alarm: Average > 300 ms", "value": 300000}) == (1000, "ms")
    assert preview.annotation_unit({"label": "CPUUtilization alarm: Average > 70 % per vCPU", "value": 560}) == (
        8, "% per vCPU")
    assert preview.annotation_unit({"label": "ModelCacheHit alarm: Average < 50 %", "value": 0.5}) == (0.01, "%")
    assert preview.annotation_unit({"label": "Invocation5XXErrors alarm: rate > 2 % of requests", "value": 2}) == (
        1, "% of requests")
    # No unit written: the metric's own (a raw threshold), or a threshold of 0 in a unit the catalog knows.
    assert preview.annotation_unit({"label": "ModelLatency alarm: Average > 100000", "value": 100000}) == (
        1, u"\u00b5s")
    assert preview.annotation_unit({"label": "ApproximateAgeOfOldestRequest alarm: Maximum > 900",
                                    "value": 900}) == (1, "s")
    assert preview.annotation_unit({"label": "ModelLatency alarm: Average > 0 ms", "value": 0}) == (1000, "ms")
    assert preview.annotation_unit({"label": "anything", "value": 3}) == (1, "")


def graph_axes(figure, body, title):
    index = [i for i, w in enumerate(body["widgets"]) if (w.get("properties") or {}).get("title") == title][0]
    primary = [a for a in figure.axes if a.get_gid() == "widget-%d" % index][0]
    siblings = primary.get_shared_x_axes().get_siblings(primary)
    return [primary] + sorted((a for a in siblings if a is not primary), key=lambda a: a.bbox.x1)


def line_of(axes_list, gid):
    return [line for axes in axes_list for line in axes.get_lines() if line.get_gid() == gid][0]


def test_y_axes_are_in_the_units_the_thresholds_are_written_in():
    body = example_bodies()["similar-items"]  # ModelLatency 300 ms (group), CPU 70 % per vCPU on 8 and 16 vCPUs
    series = preview.synthetic_data(body, seed=0)
    figure = preview.render_figure(body, series)

    latency = graph_axes(figure, body, "blue: Latency")
    assert [a.get_ylabel() for a in latency] == ["ms"]
    index = [i for i, w in enumerate(body["widgets"]) if w["properties"].get("title") == "blue: Latency"][0]
    assert line_of(latency, "threshold-0").get_ydata()[0] == 300  # the threshold as written, not 300000
    raw = series[preview.series_key(index, 0)]["v"]
    assert list(line_of(latency, "line-0").get_ydata()) == pytest.approx([v / 1000.0 for v in raw])
    low, high = latency[0].get_ylim()
    assert low == 0 and 300 < high < 1000  # the axis spans the values in ms

    for variant, vcpus in (("blue", 8), ("green", 16)):  # ml.c5.2xlarge, ml.c5.4xlarge
        cpu = graph_axes(figure, body, "%s: CPU" % variant)
        assert [a.get_ylabel() for a in cpu] == ["% per vCPU"]
        assert line_of(cpu, "threshold-0").get_ydata()[0] == 70
        index = [i for i, w in enumerate(body["widgets"]) if w["properties"].get("title") == "%s: CPU" % variant][0]
        raw = series[preview.series_key(index, 0)]["v"]
        assert list(line_of(cpu, "line-0").get_ydata()) == pytest.approx([v / vcpus for v in raw])

    errors = graph_axes(figure, body, "blue: Errors")
    assert [a.get_ylabel() for a in errors] == ["% of requests"]


def test_graphs_mixing_units_get_an_axis_per_unit():
    body = profile_body("serverless-provisioned")
    figure = preview.render_figure(body, preview.synthetic_data(body, seed=0))
    serverless = graph_axes(figure, body, "AllTraffic: Serverless")
    assert [a.get_ylabel() for a in serverless] == ["%", "count"]
    assert line_of(serverless, "threshold-0").get_ydata()[0] == 90  # 0.9 in CloudWatch

    body = profile_body("multi-model")
    figure = preview.render_figure(body, preview.synthetic_data(body, seed=0))
    multi = graph_axes(figure, body, "AllTraffic: Multi-model")
    assert [a.get_ylabel() for a in multi] == ["ms", "%", "count"]
    # each axis and its unit label inside the graph's rectangle
    rect = [r for r in preview.layout(body) if r["title"] == "AllTraffic: Multi-model"][0]
    renderer = figure.canvas.get_renderer()
    height = preview.canvas_size(body)[1]
    for axes in multi:
        box = axes.get_tightbbox(renderer)
        assert rect["x"] <= box.x0 and box.x1 <= rect["x"] + rect["w"], (axes.get_ylabel(), box, rect)
        assert height - rect["y"] - rect["h"] <= box.y0 and box.y1 <= height - rect["y"]


def test_a_raw_threshold_keeps_the_metrics_own_unit():
    body = dashboard.build_dashboard(ENDPOINT, REGION, ["blue"], [alarm("blue", "ModelLatency", 100000)])
    figure = preview.render_figure(body, preview.synthetic_data(body))
    latency = graph_axes(figure, body, "blue: Latency")
    assert latency[0].get_ylabel() == u"\u00b5s"
    assert line_of(latency, "threshold-0").get_ydata()[0] == 100000


def test_the_label_check_finds_labels_put_where_cloudwatch_puts_them(monkeypatch):
    """The check above is not vacuous: labels drawn at the left end of their line, just above it (as CloudWatch
    draws them, and as the preview did), cross lines and each other on the crowded graph."""
    from matplotlib.transforms import Bbox

    def naive(plot, size, own_y, placed, paths, thresholds):
        return Bbox.from_bounds(plot.x0 + 4, own_y + 2, size[0], size[1]), None, 0

    monkeypatch.setattr(preview, "_free_place", naive)
    body = crowded_body()
    problems = label_problems(preview.render_figure(body, preview.synthetic_data(body, seed=0)))
    assert any(" overlaps " in p for p in problems) and any(" crosses line " in p for p in problems), problems


def test_a_fleet_graph_scales_each_variants_line_by_its_own_threshold():
    """Two variants of 4 and 16 vCPUs with the same 80 % per vCPU: CloudWatch's thresholds are 320 and 1280 (% summed
    over the vCPUs); the graph draws both at 80 % per vCPU, and each line divided by its own variant's vCPUs."""
    body = fleet_body()
    series = preview.synthetic_data(body, seed=0)
    figure = preview.render_figure(body, series)
    title = "ranker: CPU"
    index = [i for i, w in enumerate(body["widgets"]) if (w.get("properties") or {}).get("title") == title][0]
    cpu = graph_axes(figure, body, title)
    assert [a.get_ylabel() for a in cpu] == ["% per vCPU"]
    annotations = preview.horizontal_annotations(body["widgets"][index])
    assert sorted(a["value"] for a in annotations) == [320, 1280]
    assert [line_of(cpu, "threshold-%d" % n).get_ydata()[0] for n in range(2)] == [80, 80]
    for line_index, line in enumerate(preview.widget_lines(body["widgets"][index])):
        vcpus = {"blue": 4, "green": 16}[line["label"].split()[0]]
        raw = series[preview.series_key(index, line_index)]["v"]
        assert list(line_of(cpu, "line-%d" % line_index).get_ydata()) == pytest.approx([v / vcpus for v in raw])
        # and the made-up data is shaped by the line's own threshold: one excursion over 80 % per vCPU
        assert max(raw) / vcpus > 80 > sorted(raw)[len(raw) // 2] / vcpus
