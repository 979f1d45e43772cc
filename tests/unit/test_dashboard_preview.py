"""dashboard_preview: the grid in pixels, synthetic data, CloudWatch queries, and the PNG and HTML drawn from a
body that dashboard.build_dashboard computed; and the dashboard_preview module run in-process."""

import io
import itertools
import os

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
    return {"name": "%s-%s-%s" % (ENDPOINT, variant, metric), "kind": "metric", "metric": metric, "scope": "variant",
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
    assert "threshold: ModelLatency alarm: Average &gt; 100000" in text
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
