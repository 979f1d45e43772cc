# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Draw a CloudWatch dashboard body to a PNG and a static HTML page, without CloudWatch.

Pure functions: the caller supplies the data (from GetMetricData, or made up by synthetic_series) and the
alarm states; nothing here calls AWS. The picture follows the body: CloudWatch's 24-column grid, each
widget at its place with its title; text widgets show their markdown as plain text, alarm-status widgets a
coloured tile per alarm, metric widgets a line per metric and each horizontal annotation as a threshold line
shaded on its alarming side. The same inputs always give the same bytes.

matplotlib is needed only by render_png, and imported there.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import html
import io
import json
import math
import random
import re
import textwrap

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils import catalog

GRID_COLUMNS = 24
# Pixels of one grid unit (width, height). A CloudWatch graph (8 x 6) is then 480 x 240 px.
DEFAULT_CELL_PX = (60, 40)
DPI = 100
# CloudWatch's defaults for a widget that gives no size or place.
DEFAULT_WIDGET_WIDTH = 6
DEFAULT_WIDGET_HEIGHT = 6
DEFAULT_PERIOD = 300
DEFAULT_HOURS = 3
MAX_SYNTHETIC_POINTS = 180

BACKGROUND = "#f2f3f3"
PANEL = "#ffffff"
PANEL_EDGE = "#d5dbdb"
TEXT = "#16191f"
MUTED = "#5f6b7a"
THRESHOLD = "#d62728"
GRID_LINE = "#e9ebed"
STATE_COLOURS = {
    "ALARM": "#d13212",
    "OK": "#1d8102",
    "INSUFFICIENT_DATA": "#879196",
}
DEFAULT_STATE = "INSUFFICIENT_DATA"
# Line colours in order; no red, which is the thresholds'.
LINE_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
                "#7f7f7f", "#aec7e8", "#ffbb78", "#98df8a")

GUTTER_PX = 4  # space kept free around each widget inside its grid rectangle
TITLE_PX = 24
TITLE_PT = 9
SMALL_PT = 7
LEGEND_ROW_PX = 14
X_TICKS_PX = 18
Y_TICKS_PX = 50

ALARM_ARN = re.compile(r"^arn:[^:]+:cloudwatch:([^:]*):.*?:alarm:(.+)$")  # the account may be ${AWS::AccountId}


class PreviewError(ValueError):
    pass


# --------------------------------------------------------------------------------------------- layout

def _cell(cell_px):
    if isinstance(cell_px, (int, float)):
        cell_px = (cell_px, cell_px)
    width, height = int(cell_px[0]), int(cell_px[1])
    if width < 1 or height < 1:
        raise PreviewError("cell_px must be positive, got %r" % (cell_px,))
    return width, height


def _int_field(widget, index, key, default):
    value = widget.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PreviewError("widget %d: %s must be a whole number of grid units, got %r" % (index, key, value))
    return value


def _widgets(body):
    if not isinstance(body, dict) or not isinstance(body.get("widgets"), list):
        raise PreviewError("the dashboard body must be a mapping with a list of widgets")
    for index, widget in enumerate(body["widgets"]):
        if not isinstance(widget, dict):
            raise PreviewError("widget %d is not a mapping" % index)
    return body["widgets"]


def grid_positions(body):
    """(x, y, width, height) in grid units for each widget.

    Widgets without x and y are placed as CloudWatch places them: left to right after the widget before,
    on a new row when the row is full.
    """
    placed = []
    cursor_x, cursor_y, row_bottom = 0, 0, 0
    for index, widget in enumerate(_widgets(body)):
        width = _int_field(widget, index, "width", DEFAULT_WIDGET_WIDTH)
        height = _int_field(widget, index, "height", DEFAULT_WIDGET_HEIGHT)
        if width < 1 or height < 1 or width > GRID_COLUMNS:
            raise PreviewError("widget %d: %d x %d does not fit the %d-column grid"
                               % (index, width, height, GRID_COLUMNS))
        if "x" in widget and "y" in widget:
            x = _int_field(widget, index, "x", 0)
            y = _int_field(widget, index, "y", 0)
        else:
            if cursor_x + width > GRID_COLUMNS:
                cursor_x, cursor_y = 0, row_bottom
            x, y = cursor_x, cursor_y
        if x + width > GRID_COLUMNS:
            raise PreviewError("widget %d: x %d + width %d passes the %d-column grid" % (index, x, width, GRID_COLUMNS))
        placed.append((x, y, width, height))
        cursor_x, cursor_y = x + width, y
        row_bottom = max(row_bottom, y + height)
    return placed


def widget_title(widget):
    properties = widget.get("properties") or {}
    if widget.get("type") == "text":
        return _first_text_line(properties.get("markdown", ""))
    return str(properties.get("title") or "")


def layout(body, cell_px=DEFAULT_CELL_PX):
    """Each widget's rectangle in pixels: a list of dicts with index, type, title, x, y, w, h (and grid).

    Pixels count from the top-left corner of the picture; one grid column is cell_px[0] wide and one grid
    row cell_px[1] high, so the picture is 24 columns wide whatever the widgets are.
    """
    cell_w, cell_h = _cell(cell_px)
    positions = grid_positions(body)
    rects = []
    for index, (widget, (x, y, width, height)) in enumerate(zip(body["widgets"], positions)):
        rects.append({
            "index": index,
            "type": widget.get("type", "metric"),
            "title": widget_title(widget),
            "x": x * cell_w,
            "y": y * cell_h,
            "w": width * cell_w,
            "h": height * cell_h,
            "grid": (x, y, width, height),
        })
    return rects


def canvas_size(body, cell_px=DEFAULT_CELL_PX):
    """Width and height in pixels of the whole picture."""
    cell_w, cell_h = _cell(cell_px)
    rows = max([y + h for (_x, y, _w, h) in grid_positions(body)] or [1])
    return GRID_COLUMNS * cell_w, rows * cell_h


# --------------------------------------------------------------------------------------------- metric lines

BAND = re.compile(r"^\s*ANOMALY_DETECTION_BAND\s*\(\s*([a-z][a-zA-Z0-9_]*)\s*(?:,\s*([0-9.]+)\s*)?\)\s*$")


def parse_metric_line(line, previous=None):
    """A metrics-array entry as a dict.

    Keys: namespace, metric, dimensions [(name, value)], stat, period, label, id, visible, expression,
    band_of (the id an ANOMALY_DETECTION_BAND expression draws around) and band_width, and subject: the
    metric the line is about, for matching threshold annotations (for an expression, the first metric name
    in its label, else its first word). Handles CloudWatch's shorthand "." (the value of the line before at that place).
    """
    if not isinstance(line, list) or not line:
        raise PreviewError("a metric line must be a non-empty list, got %r" % (line,))
    options = line[-1] if isinstance(line[-1], dict) else {}
    values = list(line[:-1] if isinstance(line[-1], dict) else line)
    parsed = {"namespace": None, "metric": None, "dimensions": [], "stat": options.get("stat"),
              "period": options.get("period"), "id": options.get("id"), "visible": options.get("visible", True) is not False,
              "expression": None, "band_of": None, "band_width": None, "_values": []}
    if not values:
        expression = options.get("expression")
        if not isinstance(expression, str):
            raise PreviewError("metric line %r has neither a metric nor an expression" % (line,))
        parsed["expression"] = expression
        parsed["label"] = str(options.get("label") or expression)
        band = BAND.match(expression)
        if band:
            parsed["band_of"] = band.group(1)
            parsed["band_width"] = float(band.group(2) or 2)
        words = parsed["label"].split()
        known = [word for word in words if word in catalog.METRICS]
        parsed["subject"] = known[0] if known else (words[0] if words else None)
        return parsed
    prior = (previous or {}).get("_values", [])
    for i, value in enumerate(values):
        if value == "." and i < len(prior):
            values[i] = prior[i]
    if len(values) < 2 or len(values) % 2:
        raise PreviewError("metric line %r: expected namespace, metric name and name/value dimension pairs" % (line,))
    parsed.update({"namespace": values[0], "metric": values[1], "subject": values[1],
                   "dimensions": [(values[i], values[i + 1]) for i in range(2, len(values), 2)],
                   "label": str(options.get("label") or values[1]), "_values": values})
    return parsed


def widget_lines(widget):
    """The parsed lines of a metric widget, with the widget's defaults for stat, period and region."""
    properties = widget.get("properties") or {}
    lines = []
    previous = None
    for line in properties.get("metrics") or []:
        parsed = parse_metric_line(line, previous)
        previous = parsed
        parsed = dict(parsed)
        parsed.pop("_values")
        parsed["stat"] = parsed["stat"] or properties.get("stat") or "Average"
        parsed["period"] = parsed["period"] or properties.get("period") or DEFAULT_PERIOD
        parsed["region"] = properties.get("region")
        lines.append(parsed)
    return lines


def metric_lines(body):
    """Every line of every metric widget: (widget index, line index, parsed line)."""
    found = []
    for index, widget in enumerate(_widgets(body)):
        if widget.get("type", "metric") == "metric":
            found.extend((index, line_index, line) for line_index, line in enumerate(widget_lines(widget)))
    return found


def needs_data(line):
    """Whether a line is drawn from a series of its own (hidden lines are not; a band is drawn from the
    line it surrounds)."""
    return line["visible"] and not line["band_of"]


def series_key(widget_index, line_index):
    return "w%d.m%d" % (widget_index, line_index)


def horizontal_annotations(widget):
    annotations = ((widget.get("properties") or {}).get("annotations") or {}).get("horizontal") or []
    return [a for a in annotations if isinstance(a, dict) and _is_number(a.get("value"))]


def annotations_for(subject, annotations):
    """The annotations about one metric: their labels start with its name ("ModelLatency alarm: ...")."""
    if not subject:
        return []
    return [a for a in annotations if str(a.get("label", "")).startswith("%s " % subject)]


ANNOTATION_WHO = re.compile(r"^\S+ alarm \(([^)]*)\):")


def annotations_of_line(line, annotations):
    """The annotations about a parsed line's metric; where they name whom they are for (a fleet graph's line per
    variant: "CPUUtilization alarm (blue): ..."), those for the line's variant, endpoint or component."""
    about = annotations_for(line.get("subject"), annotations)
    names = set(str(value) for _name, value in line.get("dimensions") or [])
    words = str(line.get("label") or "").split()
    if words:
        names.add(words[0])
    own = [a for a in about if (ANNOTATION_WHO.match(str(a.get("label", ""))) or [None, None])[1] in names]
    return own or about


def alarm_arns(widget):
    return [str(arn) for arn in (widget.get("properties") or {}).get("alarms") or []]


def alarm_name(arn):
    match = ALARM_ARN.match(arn)
    return match.group(2) if match else arn


def alarm_names(body):
    """(name, region of its ARN) of the alarms in the alarm-status widgets, in order, each once."""
    names = []
    seen = set()
    for widget in _widgets(body):
        if widget.get("type") != "alarm":
            continue
        for arn in alarm_arns(widget):
            match = ALARM_ARN.match(arn)
            name = alarm_name(arn)
            if name not in seen:
                seen.add(name)
                names.append((name, match.group(1) if match else None))
    return names


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# --------------------------------------------------------------------------------------------- CloudWatch queries

QUERY_ID = re.compile(r"\b([a-z][a-zA-Z0-9_]*)\b")


def cloudwatch_requests(body):
    """The GetMetricData queries that fetch the body's lines: one request per metric widget.

    Each request: {"widget": index, "region": the widget's region or None, "queries": [MetricDataQuery],
    "keys": {query id: series_key}}. Hidden lines are queried (ReturnData false) when an expression uses
    them; ids are prefixed with the widget so that they are unique in a request. Anomaly bands are not
    queried: the picture draws an approximate band around the line they belong to.
    """
    requests = []
    for index, widget in enumerate(_widgets(body)):
        if widget.get("type", "metric") != "metric":
            continue
        lines = widget_lines(widget)
        ids = dict((line["id"], "w%d_%s" % (index, line["id"])) for line in lines if line["id"])
        queries = []
        keys = {}
        for line_index, line in enumerate(lines):
            if line["band_of"]:
                continue
            query_id = ids.get(line["id"]) or "w%d_l%d" % (index, line_index)
            if line["expression"]:
                expression = QUERY_ID.sub(lambda m: ids.get(m.group(1), m.group(1)), line["expression"])
                query = {"Id": query_id, "Expression": expression, "Label": line["label"],
                         "Period": int(line["period"]), "ReturnData": line["visible"]}
            else:
                query = {"Id": query_id, "Label": line["label"], "ReturnData": line["visible"], "MetricStat": {
                    "Metric": {"Namespace": line["namespace"], "MetricName": line["metric"],
                               "Dimensions": [{"Name": str(n), "Value": str(v)} for n, v in line["dimensions"]]},
                    "Period": int(line["period"]), "Stat": line["stat"]}}
            queries.append(query)
            if line["visible"]:
                keys[query_id] = series_key(index, line_index)
        if keys:
            requests.append({"widget": index, "region": (widget.get("properties") or {}).get("region"),
                             "queries": queries, "keys": keys})
    return requests


def single_queries(request):
    """The request's visible metric lines as requests of one query each (for when the whole widget's request
    is refused, as emulators do for expressions or percentiles): expressions are left out."""
    singles = []
    for query in request["queries"]:
        if "MetricStat" in query and query["Id"] in request["keys"]:
            singles.append(dict(request, queries=[dict(query, ReturnData=True)],
                                keys={query["Id"]: request["keys"][query["Id"]]}))
    return singles


def series_from_result(timestamps, values, end_epoch):
    """A series entry from a MetricDataResult's timestamps (epoch seconds) and values, oldest first."""
    pairs = sorted((float(t) - end_epoch, float(v)) for t, v in zip(timestamps, values) if _is_number(v))
    return {"t": [round(t, 3) for t, _v in pairs], "v": [v for _t, v in pairs], "synthetic": False}


# --------------------------------------------------------------------------------------------- units

# The units CloudWatch reports the catalog's metrics in, as an axis names them.
RAW_UNITS = {"Microseconds": u"\u00b5s", "Milliseconds": "ms", "Seconds": "s", "Percent": "%", "Count": "count",
             "Bytes": "bytes", "None": ""}
# The threshold as an annotation's label writes it: "ModelLatency alarm: Average > 300 ms" -> 300, "ms".
THRESHOLD_TEXT = re.compile(r"(?:<=|>=|<|>)\s*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*([^<>=]*?)\s*$")


def raw_unit(metric_name):
    """The unit of a catalog metric's datapoints as an axis names it ("" when unknown)."""
    known = catalog.METRICS.get(metric_name or "")
    return RAW_UNITS.get(known.unit, "") if known else ""


def _scale_of(metric_name, unit):
    """CloudWatch's value per unit of a threshold written in `unit`, where the label's numbers cannot tell (0)."""
    known = catalog.METRICS.get(metric_name or "")
    if known is None:
        return 1.0
    if unit == catalog.SCALE_UNITS[catalog.SCALE_MS] and known.unit == "Microseconds":
        return 1000.0
    if unit == catalog.SCALE_UNITS[catalog.SCALE_PERCENT_OF_ONE] and known.scale == catalog.SCALE_PERCENT_OF_ONE:
        return 0.01
    return 1.0


def annotation_unit(annotation):
    """(factor, unit) of a threshold annotation: its value (what CloudWatch compares, in the metric's own unit)
    is factor x the threshold its label writes, in unit.

    The collection writes thresholds in the units people set them in ("ModelLatency alarm: Average > 300 ms",
    "CPUUtilization alarm: Average > 70 % per vCPU") while the annotation's value is the raw metric's (300000
    microseconds, 560 % summed over 8 vCPUs): factors 1000 and 8. A label that writes no unit is in the metric's
    own unit (factor 1).
    """
    label = str(annotation.get("label", ""))
    subject = label.split(" ", 1)[0]
    value = float(annotation["value"])
    match = THRESHOLD_TEXT.search(label)
    if not match:
        return 1.0, raw_unit(subject)
    number, unit = float(match.group(1)), match.group(2).strip()
    factor = value / number if number and value else _scale_of(subject, unit)
    if not unit:
        unit = raw_unit(subject) if abs(factor - 1.0) < 1e-9 else ""
    return factor, unit


def line_unit(line, annotations):
    """(factor, unit) a parsed line is drawn in: its threshold's unit when the widget has one for its metric,
    else the unit the collection writes such thresholds in (milliseconds, percent), else the metric's own."""
    relevant = annotations_of_line(line, annotations)
    if relevant:
        return annotation_unit(relevant[0])
    known = catalog.METRICS.get(line.get("metric") or line.get("subject") or "")
    if known is None:
        return 1.0, ""
    if line.get("expression"):
        if known.scale == catalog.SCALE_ERROR_RATE and "rate" in str(line.get("label", "")):
            return 1.0, catalog.SCALE_UNITS[catalog.SCALE_ERROR_RATE]
        return 1.0, ""
    if known.scale == catalog.SCALE_MS:
        return 1000.0, catalog.SCALE_UNITS[catalog.SCALE_MS]
    if known.scale == catalog.SCALE_PERCENT_OF_ONE:
        return 0.01, catalog.SCALE_UNITS[catalog.SCALE_PERCENT_OF_ONE]
    return 1.0, RAW_UNITS.get(known.unit, "")


def widget_units(widget):
    """How a metric widget is drawn in the units its thresholds are written in.

    {"lines": {line index: (factor, unit)} for the visible lines (a line's values are divided by its factor),
     "thresholds": [(factor, unit)] in the order of horizontal_annotations,
     "axes": [unit]}: one y axis per unit, the first (left) the first threshold's; the others on the right.
    """
    lines = widget_lines(widget)
    annotations = horizontal_annotations(widget)
    thresholds = [annotation_unit(a) for a in annotations]
    threshold_units = [unit for _factor, unit in thresholds]
    drawn = {}
    for index, line in enumerate(lines):
        if line["visible"] and not line["band_of"]:
            drawn[index] = line_unit(line, annotations)
            own = raw_unit(line.get("metric"))
            if not annotations_for(line.get("subject"), annotations) and drawn[index][1] not in threshold_units \
                    and own and own in threshold_units:
                drawn[index] = (1.0, own)  # beside raw thresholds of the same unit, raw too
    ids = dict((line["id"], index) for index, line in enumerate(lines) if line["id"])
    for index, line in enumerate(lines):
        if line["visible"] and line["band_of"]:
            around = ids.get(line["band_of"])
            drawn[index] = drawn.get(around) or line_unit(lines[around] if around is not None else line, annotations)
    axes = []
    for _factor, unit in thresholds + [drawn[i] for i in sorted(drawn)]:
        if unit not in axes:
            axes.append(unit)
    return {"lines": drawn, "thresholds": thresholds, "axes": axes or [""]}


# --------------------------------------------------------------------------------------------- synthetic data

def _typical_level(metric, stat, expression=None):
    """A plausible level for a metric that has no threshold to relate to."""
    if expression:
        return 5.0
    known = catalog.METRICS.get(metric)
    unit = known.unit if known else None
    if unit == "Microseconds":
        return 40000.0
    if unit == "Percent":
        return 35.0
    if unit == "Count":
        if known.ceiling is not None and stat not in ("Sum", "SampleCount"):
            return 0.004  # an error rate
        return 1200.0
    return 10.0


def _seed_for(seed, line):
    text = json.dumps([seed, line.get("namespace"), line.get("metric"), [list(d) for d in line.get("dimensions", [])],
                       line.get("stat"), line.get("expression")], sort_keys=True, default=str)
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:16], 16)


def synthetic_series(metric_line, threshold_annotations, points, seed):
    """Made-up but plausible values for one metric line, the same for the same inputs.

    metric_line: a metrics-array entry (or its parsed form). threshold_annotations: the widget's horizontal
    annotations; those about this metric shape the data: it stays on the quiet side of the first one
    (below a "fill above" threshold, above a "fill below" one) with one short excursion across it, so the
    threshold on the picture means something. Without one the metric wanders around a typical level.
    """
    line = metric_line if isinstance(metric_line, dict) else parse_metric_line(metric_line)
    points = int(points)
    if points < 2:
        raise PreviewError("a series needs at least 2 points, got %d" % points)
    rng = random.Random(_seed_for(seed, line))
    relevant = [a for a in annotations_of_line(line, threshold_annotations or [])
                if _is_number(a.get("value"))]

    excursion_len = max(2, points // 24)
    start = rng.randint(points * 55 // 100, max(points * 55 // 100, points * 85 // 100 - excursion_len))
    phase = rng.random() * 2 * math.pi

    threshold = None
    level = _typical_level(line.get("metric"), line.get("stat"), line.get("expression"))
    known = catalog.METRICS.get(line.get("metric"))
    bounded = str(line.get("stat")) in catalog.BOUNDED_STATISTICS or str(line.get("stat")).startswith("p")
    ceiling = known.ceiling if known is not None and known.ceiling is not None and bounded else None
    if ceiling is not None:
        level = min(level, ceiling * 0.6)  # a ratio stays <= 1, a percentage <= 100
    if relevant:
        threshold = float(relevant[0]["value"])
        above = relevant[0].get("fill", "above") != "below"
        if above:
            # Quiet at 40-55 % of the threshold, never past 90 % of it; the excursion 20-35 % over it.
            level = threshold * (0.4 + 0.15 * rng.random()) if threshold > 0 else 0.0
            quiet_limit = threshold * 0.9 if threshold > 0 else 0.0
            peak = threshold * (1.2 + 0.15 * rng.random()) if threshold > 0 else threshold + 1.0
            if ceiling is not None and threshold < ceiling:
                peak = min(peak, threshold + (ceiling - threshold) * 0.9)  # a percentage stays <= 100
        else:
            # Quiet well above the threshold, the excursion down to 40 % of it.
            level = max(threshold * 2.5, level)
            if ceiling is not None and threshold < ceiling:
                level = min(level, threshold + (ceiling - threshold) * 0.7)
            quiet_limit = threshold + (level - threshold) * 0.5
            peak = threshold * 0.4 if threshold > 0 else threshold - 1.0

    values = []
    wander = 0.0
    for i in range(points):
        wander = 0.7 * wander + 0.3 * (rng.random() * 2 - 1)
        value = level * (1 + 0.15 * math.sin(phase + 2 * math.pi * i / points) + 0.18 * wander)
        if threshold is not None:
            value = min(value, quiet_limit) if above else max(value, quiet_limit)
            if start <= i < start + excursion_len:
                value = peak * (1 + 0.05 * (rng.random() * 2 - 1))
        if ceiling is not None:
            value = min(value, ceiling)
        values.append(round(max(value, 0.0), 6))
    return values


def synthetic_points(period, hours=DEFAULT_HOURS):
    return int(max(12, min(MAX_SYNTHETIC_POINTS, hours * 3600 // max(int(period), 1))))


def synthetic_entry(widget, line, hours=DEFAULT_HOURS, seed=0):
    """One series entry ({"t", "v", "synthetic"}) of made-up data for a parsed line of widget."""
    points = synthetic_points(line["period"], hours)
    values = synthetic_series(line, horizontal_annotations(widget), points, seed)
    span = hours * 3600.0
    times = [round(-span + span * i / (points - 1), 3) for i in range(points)]
    return {"t": times, "v": values, "synthetic": True}


def synthetic_data(body, hours=DEFAULT_HOURS, seed=0, only_missing_from=None):
    """Made-up data for the lines of the body that are drawn from data of their own:
    {series_key: {"t": [seconds before the end, -hours x 3600 .. 0], "v": [values], "synthetic": True}}.

    only_missing_from: series already known; only lines without values there are made up.
    """
    widgets = _widgets(body)
    known = only_missing_from or {}
    made = {}
    for w, i, line in metric_lines(body):
        key = series_key(w, i)
        if needs_data(line) and not (known.get(key) or {}).get("v"):
            made[key] = synthetic_entry(widgets[w], line, hours, seed)
    return made


def anomaly_band(values, width=2.0):
    """An approximate expected band around values: a centred moving average +- width standard deviations of
    the values around it. CloudWatch trains a model over two weeks; the preview only suggests the shape."""
    count = len(values)
    if count == 0:
        return [], []
    half_window = max(1, count // 30)
    centre = []
    for i in range(count):
        window = values[max(0, i - half_window):i + half_window + 1]
        centre.append(sum(window) / float(len(window)))
    spread = math.sqrt(sum((v - c) ** 2 for v, c in zip(values, centre)) / float(count))
    spread = max(spread, 0.02 * abs(sum(values) / float(count)))
    return ([max(0.0, c - width * spread) for c in centre], [c + width * spread for c in centre])


# --------------------------------------------------------------------------------------------- text helpers

def markdown_to_plain(markdown):
    """(text, is_heading) per line of a markdown string, without markup."""
    lines = []
    for raw in str(markdown).splitlines():
        stripped = raw.strip()
        heading = stripped.startswith("#")
        stripped = stripped.lstrip("#").strip()
        stripped = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", stripped)  # links: their text
        stripped = re.sub(r"[`*]", "", stripped)
        stripped = re.sub(r"^[-+] ", u"\u2022 ", stripped)
        lines.append((stripped, heading))
    # Collapse runs of blank lines (markdown paragraphs) to one.
    collapsed = []
    for text, heading in lines:
        if not text and (not collapsed or not collapsed[-1][0]):
            continue
        collapsed.append((text, heading))
    while collapsed and not collapsed[-1][0]:
        collapsed.pop()
    return collapsed


def _first_text_line(markdown):
    for text, _heading in markdown_to_plain(markdown):
        if text:
            return text
    return ""


def _char_px(points, dpi=DPI):
    """Rough width of one character of DejaVu Sans at this size, for wrapping and cutting text."""
    return points * dpi / 72.0 * 0.58


def fit(text, width_px, points, dpi=DPI):
    """Cut text to what fits width_px, with an ellipsis."""
    limit = max(1, int(width_px // _char_px(points, dpi)))
    return text if len(text) <= limit else text[:max(1, limit - 1)] + u"\u2026"


def compact_number(value):
    """Axis labels such as 1.5M, 200k, 0.05."""
    if value == 0:
        return "0"
    magnitude = abs(value)
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if magnitude >= size:
            return ("%.3g" % (value / size)) + suffix
    return "%.3g" % value


def _format_time(seconds_from_end, end_time):
    if end_time is None:
        return "now" if seconds_from_end == 0 else "%dh" % round(seconds_from_end / 3600.0)
    import datetime

    moment = datetime.datetime.fromtimestamp(end_time + seconds_from_end, tz=datetime.timezone.utc)
    return moment.strftime("%H:%M")


# --------------------------------------------------------------------------------------------- PNG

RC = {"font.family": "DejaVu Sans", "font.size": SMALL_PT, "axes.unicode_minus": False, "path.simplify": True}


def render_figure(body, series, states=None, cell_px=DEFAULT_CELL_PX, hours=DEFAULT_HOURS, end_time=None):
    """The dashboard as a matplotlib Figure (on an Agg canvas), as render_png draws it.

    Each metric widget's plot axes carry the gid "widget-<index>"; its threshold lines "threshold-<n>", their
    labels "threshold-label-<n>" and a label's leader line "threshold-leader-<n>" (n: the annotation's index
    among the widget's horizontal annotations); its data lines "line-<line index>".
    """
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    series = series or {}
    states = states or {}
    rects = layout(body, cell_px)
    width, height = canvas_size(body, cell_px)
    with rc_context(RC):
        figure = Figure(figsize=(width / float(DPI), height / float(DPI)), dpi=DPI, facecolor=BACKGROUND)
        FigureCanvasAgg(figure)
        canvas = figure.add_axes((0, 0, 1, 1), zorder=0)
        canvas.set_xlim(0, width)
        canvas.set_ylim(height, 0)  # pixels from the top, like the grid
        canvas.set_axis_off()
        for rect, widget in zip(rects, body["widgets"]):
            _draw_widget(figure, canvas, rect, widget, series, states, (width, height), hours, end_time)
    return figure


def render_png(body, series, path=None, states=None, cell_px=DEFAULT_CELL_PX, hours=DEFAULT_HOURS,
               end_time=None):
    """Draw the dashboard; return the PNG bytes, and write them to path if given.

    series: {series_key(widget, line): {"t": [seconds before the end, <= 0], "v": [values], "synthetic": bool}};
    a line without an entry is listed in its legend but not drawn.
    states: {alarm name: ALARM | OK | INSUFFICIENT_DATA}; alarms not named are INSUFFICIENT_DATA.
    end_time: epoch seconds of the window's end, for clock times on the x axes (default: -3h .. now).
    """
    from matplotlib import rc_context

    figure = render_figure(body, series, states=states, cell_px=cell_px, hours=hours, end_time=end_time)
    with rc_context(RC):
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=DPI, facecolor=BACKGROUND, metadata={"Software": None})
    data = buffer.getvalue()
    if path is not None:
        with open(path, "wb") as f:
            f.write(data)
    return data


def _inner(rect):
    return (rect["x"] + GUTTER_PX, rect["y"] + GUTTER_PX, rect["w"] - 2 * GUTTER_PX, rect["h"] - 2 * GUTTER_PX)


def _draw_widget(figure, canvas, rect, widget, series, states, size, hours, end_time):
    from matplotlib.patches import Rectangle

    x, y, w, h = _inner(rect)
    canvas.add_patch(Rectangle((x, y), w, h, facecolor=PANEL, edgecolor=PANEL_EDGE, linewidth=1))
    kind = widget.get("type", "metric")
    if kind == "text":
        _draw_text(canvas, (x, y, w, h), widget)
        return
    canvas.text(x + 8, y + 6, fit(rect["title"] or "(untitled)", w - 16, TITLE_PT), fontsize=TITLE_PT,
                fontweight="bold", color=TEXT, va="top", ha="left")
    if kind == "alarm":
        _draw_alarms(canvas, (x, y, w, h), widget, states)
    elif kind == "metric":
        _draw_metric(figure, canvas, rect, (x, y, w, h), widget, series, size, hours, end_time)
    else:
        canvas.text(x + w / 2.0, y + h / 2.0, "%s widget (not previewed)" % kind, color=MUTED,
                    ha="center", va="center")


def _draw_text(canvas, box, widget):
    x, y, w, h = box
    top = y + 6
    for text, heading in markdown_to_plain((widget.get("properties") or {}).get("markdown", "")):
        points = 12 if heading else 8
        line_px = points * DPI / 72.0 * 1.35
        if not text:
            top += line_px * 0.4
            continue
        width_chars = max(8, int((w - 16) // _char_px(points)))
        for part in textwrap.wrap(text, width_chars) or [""]:
            if top + line_px > y + h:
                return
            canvas.text(x + 8, top, part, fontsize=points, fontweight="bold" if heading else "normal",
                        color=TEXT, va="top", ha="left")
            top += line_px


def _draw_alarms(canvas, box, widget, states):
    from matplotlib.patches import Rectangle

    x, y, w, h = box
    names = [alarm_name(arn) for arn in alarm_arns(widget)]
    area_top = y + TITLE_PX + 6
    if not names:
        canvas.text(x + 8, area_top, "No alarms", color=MUTED, va="top", ha="left")
        return
    columns = max(1, min(len(names), int(round(w / 350.0)) or 1))
    rows = -(-len(names) // columns)
    gap = 4
    tile_w = (w - 16 - gap * (columns - 1)) / float(columns)
    tile_h = min(36.0, (y + h - 6 - area_top - gap * (rows - 1)) / float(rows))
    if tile_h < 8:
        canvas.text(x + 8, area_top, "%d alarms (too many to draw here)" % len(names), color=MUTED,
                    va="top", ha="left")
        return
    for i, name in enumerate(names):
        state = states.get(name, DEFAULT_STATE)
        colour = STATE_COLOURS.get(state, STATE_COLOURS[DEFAULT_STATE])
        tx = x + 8 + (i % columns) * (tile_w + gap)
        ty = area_top + (i // columns) * (tile_h + gap)
        canvas.add_patch(Rectangle((tx, ty), tile_w, tile_h, facecolor=colour, edgecolor="none"))
        if tile_h >= 26:
            canvas.text(tx + 6, ty + 3, fit(name, tile_w - 12, 8), fontsize=8, color="white",
                        fontweight="bold", va="top", ha="left")
            canvas.text(tx + 6, ty + tile_h - 3, state.replace("_", " "), fontsize=6.5, color="white",
                        va="bottom", ha="left")
        else:
            canvas.text(tx + 6, ty + tile_h / 2.0, fit("%s  %s" % (name, state), tile_w - 12, 7), fontsize=7,
                        color="white", va="center", ha="left")


def _legend_columns(width_px):
    return max(1, int(width_px // 230))


LABEL_PT = 6.5
LABEL_PAD_PX = 2  # between a threshold line and its label
LINE_CLEARANCE_PX = 3  # between a label and any other line (data lines carry dots about 5 px wide)
LEADER_INSET_PX = 6  # where a leader line leaves its label, from the label's left edge
UNIT_LABEL_PX = 12  # room for an axis's unit label beside its tick labels
RIGHT_AXIS_PX = 46  # room for the tick labels of an axis on the right
# Headroom above the highest value or threshold, tried in turn when the thresholds' labels find no free place:
# more headroom is free space above the lines for them (a label that still finds none goes to the legend).
HEADROOMS = (1.12, 1.4, 1.8, 2.4)
MIN_PLOT_PX = 80  # labels moved to the legend leave the plot at least this high (the others: "N more")


def _draw_metric(figure, canvas, rect, box, widget, series, size, hours, end_time):
    """A graph: each unit on an axis of its own (the thresholds' units: the lines are scaled to them), each
    threshold a red line shaded on its alarming side, with its label beside it where the label crosses no line
    and no other label (further up or down with a leader line if need be, else in the legend)."""
    x, y, w, h = box
    lines = [(i, line) for i, line in enumerate(widget_lines(widget)) if line["visible"]]
    annotations = horizontal_annotations(widget)
    units = widget_units(widget)
    in_legend = set()
    # Tried in turn until every label finds a place: the labels as long as they fit, then all in their shortest
    # form (which leaves room for more of them); at each headroom. Then the labels still without a place go to the
    # legend, and the rest are tried again.
    attempts = [(headroom, compact) for headroom in HEADROOMS for compact in (False, True)]
    attempt = 0
    while True:
        headroom, compact = attempts[attempt]
        plot = _plot_metric(figure, rect, box, widget, series, size, hours, end_time, lines, annotations, units,
                            headroom, in_legend, compact)
        if plot is None:
            canvas.text(x + 8, y + TITLE_PX + 4, "%d lines (widget too small to draw)" % len(lines), color=MUTED,
                        va="top", ha="left")
            return
        if not plot["unplaced"]:
            break
        if attempt + 1 < len(attempts):
            attempt += 1
        else:
            in_legend |= plot["unplaced"]
        for axes in plot["axes"]:
            figure.delaxes(axes)
    _draw_legend(canvas, box, plot)


def _metric_geometry(box, units, legend_entries):
    x, y, w, h = box
    columns = _legend_columns(w - 16)
    legend_rows = -(-legend_entries // columns) if legend_entries else 0
    left_px = Y_TICKS_PX + (UNIT_LABEL_PX if units["axes"][0] else 0)
    right_px = 12 + sum(RIGHT_AXIS_PX + (UNIT_LABEL_PX if unit else 0) for unit in units["axes"][1:])
    plot_left = x + left_px
    plot_top = y + TITLE_PX + 4
    plot_w = w - left_px - right_px
    plot_h = h - TITLE_PX - 4 - X_TICKS_PX - legend_rows * LEGEND_ROW_PX - 6
    return {"left": plot_left, "top": plot_top, "w": plot_w, "h": plot_h, "columns": columns}


def _plot_metric(figure, rect, box, widget, series, size, hours, end_time, lines, annotations, units, headroom,
                 in_legend, compact=False):
    """The plot of a metric widget (its axes, lines, thresholds and the labels that fit beside them); None if the
    widget is too small for one. Returns the axes, the legend entries and the labels that found no place."""
    from matplotlib.ticker import FixedLocator, FuncFormatter

    fig_w, fig_h = size
    properties = widget.get("properties") or {}
    # Labels that found no place on the plot go to the legend, as many as leave the plot MIN_PLOT_PX high.
    legend_thresholds = sorted(n for n in in_legend if annotations[n].get("label"))
    geometry = _metric_geometry(box, units, len(lines) + len(legend_thresholds))
    hidden = 0
    while geometry["h"] < MIN_PLOT_PX and legend_thresholds:
        legend_thresholds.pop()
        hidden += 1
        geometry = _metric_geometry(box, units, len(lines) + len(legend_thresholds) + 1)
    geometry.update(legend_thresholds=legend_thresholds, hidden_thresholds=hidden)
    plot_left, plot_top, plot_w, plot_h = geometry["left"], geometry["top"], geometry["w"], geometry["h"]
    if plot_w < 20 or plot_h < 20:
        return None
    primary = figure.add_axes((plot_left / float(fig_w), 1 - (plot_top + plot_h) / float(fig_h),
                               plot_w / float(fig_w), plot_h / float(fig_h)), zorder=1)
    primary.set_gid("widget-%d" % rect["index"])
    primary.set_facecolor(PANEL)
    primary.set_xlim(-float(hours), 0)
    all_axes = [primary]
    offset = 0
    for unit in units["axes"][1:]:
        twin = primary.twinx()
        twin.set_zorder(1)  # drawn after the primary axes (added before it), over its white face
        twin.patch.set_visible(False)
        twin.spines["right"].set_position(("outward", offset))
        offset += RIGHT_AXIS_PX + (UNIT_LABEL_PX if unit else 0)
        all_axes.append(twin)
    axis_of = dict((unit, index) for index, unit in enumerate(units["axes"]))

    by_id = {}
    for line_index, line in enumerate(widget_lines(widget)):
        entry = series.get(series_key(rect["index"], line_index))
        if line["id"] and entry and entry.get("v"):
            by_id[line["id"]] = entry

    legend = []  # (colour, label, style): style "line", "dashed", "band" or "threshold"
    values = [[] for _axes in all_axes]
    data_lines = []
    several = len(all_axes) > 1
    for position, (line_index, line) in enumerate(lines):
        colour = LINE_COLOURS[position % len(LINE_COLOURS)]
        factor, unit = units["lines"][line_index]
        index = axis_of[unit]
        axes = all_axes[index]
        label = line["label"] + (" [%s]" % unit if several and unit else "")
        if line["band_of"]:
            around = by_id.get(line["band_of"])
            if around:
                lower, upper = anomaly_band(around["v"], line["band_width"])
                axes.fill_between([t / 3600.0 for t in around["t"]], [v / factor for v in lower],
                                  [v / factor for v in upper], color="#9aa5b1", alpha=0.35, linewidth=0, zorder=2)
                values[index].extend(v / factor for v in upper)
                label += " (approximated)"
            else:
                label += " (no data)"
            legend.append(("#9aa5b1", label, "band"))
            continue
        entry = series.get(series_key(rect["index"], line_index))
        synthetic = bool(entry and entry.get("synthetic"))
        if entry and entry.get("v"):
            scaled = [v / factor for v in entry["v"]]
            # Few datapoints (a metric that just started, or a lone one) get dots, or a single one would not show.
            drawn, = axes.plot([t / 3600.0 for t in entry["t"]], scaled, color=colour, linewidth=1.3,
                               linestyle="--" if synthetic else "-", marker="o" if len(scaled) <= 30 else None,
                               markersize=3.5, zorder=3)
            drawn.set_gid("line-%d" % line_index)
            data_lines.append(drawn)
            values[index].extend(scaled)
            label += " (synthetic)" if synthetic else ""
        else:
            label += " (no data)"
        legend.append((colour, label, "dashed" if synthetic else "line"))

    thresholds = []  # (annotation index, axes, value in the axis's unit)
    for n, annotation in enumerate(annotations):
        factor, unit = units["thresholds"][n]
        thresholds.append((n, axis_of[unit], annotation["value"] / factor))
    y_axes = properties.get("yAxis") or {}
    for index, axes in enumerate(all_axes):
        settings = y_axes.get("left" if index == 0 else "right") or {}
        factors = [units["thresholds"][n][0] for n, i, _v in thresholds if i == index] + [
            units["lines"][i][0] for i, _line in lines if axis_of[units["lines"][i][1]] == index]
        factor = factors[0] if factors else 1.0
        low = settings["min"] / factor if _is_number(settings.get("min")) else min(values[index] + [0.0])
        candidates = values[index] + [value for _n, i, value in thresholds if i == index]
        high = max(candidates) if candidates else 1.0
        high = high * headroom if high > 0 else high + 1.0
        if _is_number(settings.get("max")):
            high = settings["max"] / factor
        if high <= low:
            high = low + 1.0
        axes.set_ylim(low, high)

    threshold_lines = {}
    shaded = set()
    for n, index, value in thresholds:
        axes = all_axes[index]
        low, high = axes.get_ylim()
        drawn = axes.axhline(value, color=THRESHOLD, linewidth=1.0, zorder=2)
        drawn.set_gid("threshold-%d" % n)
        threshold_lines[n] = drawn
        fill = annotations[n].get("fill")
        if (index, value, fill) in shaded:
            continue
        shaded.add((index, value, fill))
        if fill == "above" and value < high:
            axes.axhspan(value, high, color=THRESHOLD, alpha=0.07, linewidth=0, zorder=1)
        if fill == "below" and value > low:
            axes.axhspan(low, value, color=THRESHOLD, alpha=0.07, linewidth=0, zorder=1)
    avoid = []
    if not any(values):
        note = primary.text(0.5, 0.5, "No data", transform=primary.transAxes, color=MUTED, ha="center", va="center")
        avoid.append(note.get_window_extent(figure.canvas.get_renderer()))

    step = 1 if hours <= 12 else -(-int(hours) // 6)
    ticks = [float(t) for t in range(-int(hours), 1, step)]
    primary.xaxis.set_major_locator(FixedLocator(ticks))
    primary.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _format_time(round(v * 3600), end_time)))
    primary.grid(axis="y", color=GRID_LINE, linewidth=0.6, zorder=0)
    for index, axes in enumerate(all_axes):
        axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: compact_number(v)))
        axes.tick_params(labelsize=SMALL_PT, colors=MUTED, length=2)
        if units["axes"][index]:
            axes.set_ylabel(units["axes"][index], fontsize=SMALL_PT, color=MUTED, labelpad=2)
        for side in ("top", "right", "left", "bottom"):
            axes.spines[side].set_color(PANEL_EDGE)
        axes.spines["top"].set_visible(False)
        if index == 0:
            axes.spines["right"].set_visible(False)
        else:
            for side in ("left", "bottom"):
                axes.spines[side].set_visible(False)

    # Shorter forms of the labels name the metric unless every threshold of the graph is about the same one.
    metric_shown = len(set(str(a.get("label", "")).split(" ", 1)[0] for a in annotations)) > 1
    labels = [(n, label_texts(str(annotations[n]["label"]), metric_shown), threshold_lines[n])
              for n, _i, _v in thresholds if annotations[n].get("label") and n not in in_legend]
    unplaced = _place_labels(figure, primary, labels, data_lines, list(threshold_lines.values()), avoid, compact)
    for n in geometry["legend_thresholds"]:
        # the longest form of the label that the legend's column shows whole
        forms = label_texts(str(annotations[n]["label"]), metric_shown)
        room = (box[2] - 16) / float(geometry["columns"]) - 22
        legend.append((THRESHOLD, ([f for f in forms if fit(f, room, SMALL_PT) == f] or forms[-1:])[0], "threshold"))
    if geometry["hidden_thresholds"]:
        hidden = geometry["hidden_thresholds"]
        legend.append((THRESHOLD, "%d more threshold%s: see the page's list" % (hidden, "" if hidden == 1 else "s"),
                       "threshold"))
    return {"axes": all_axes, "legend": legend, "unplaced": unplaced, "geometry": geometry}


def _display_path(line):
    return line.get_transform().transform_path(line.get_path())


def _text_size(figure, renderer, text):
    from matplotlib.transforms import IdentityTransform

    probe = figure.text(0, 0, text, fontsize=LABEL_PT, transform=IdentityTransform(), va="bottom", ha="left")
    extent = probe.get_window_extent(renderer)
    probe.remove()
    return extent.width, extent.height


LABEL_FORM = re.compile(r"^(?P<metric>\S+) alarm(?: \((?P<who>[^)]*)\))?: (?P<condition>.+)$")


def label_texts(label, metric_shown=True):
    """The texts a threshold label may be drawn with, longest first: the whole label ("ModelLatency alarm (blue):
    Average > 300 ms"), then shorter ones for where it finds no room ("ModelLatency (blue) > 300 ms", at last
    "blue > 300 ms"). With metric_shown false (every threshold of the graph is about one metric) the shorter ones
    leave the metric out ("blue: Average > 300 ms", "blue > 300 ms"). The legend and the HTML page say it all."""
    texts = [label]
    form = LABEL_FORM.match(label)
    threshold = THRESHOLD_TEXT.search(label)
    if form:
        who, metric = form.group("who"), form.group("metric")
        if metric_shown:
            if threshold:
                texts.append("%s%s %s" % (metric, " (%s)" % who if who else "", threshold.group(0)))
                texts.append("%s %s" % (who, threshold.group(0)) if who else threshold.group(0))  # narrow graphs
        else:
            texts.append("%s: %s" % (who, form.group("condition")) if who else form.group("condition"))
            if threshold:
                texts.append("%s %s" % (who, threshold.group(0)) if who else threshold.group(0))
    elif threshold and threshold.start() > 0:
        texts.append(threshold.group(0))
    unique = []
    for text in texts:
        if text not in unique:
            unique.append(text)
    return unique


def _fitted(figure, renderer, text, width):
    """text, cut with an ellipsis to width pixels if need be, and its size."""
    shown = text
    size = _text_size(figure, renderer, shown)
    keep = int(len(text) * width / size[0]) if size[0] > width else len(text)
    while size[0] > width and keep > 1:
        shown = text[:keep - 1] + u"\u2026"
        size = _text_size(figure, renderer, shown)
        keep -= 1
    return shown, size


def _place_labels(figure, axes, labels, data_lines, threshold_lines, avoid=(), compact=False):
    """Puts each threshold label beside its line (above it, else below it, along the line from the left) where its
    box crosses no data line, no other threshold line, no leader line and no other label; failing that further up
    or down with a leader line to its threshold; failing that in a shorter form (label_texts). Returns the
    annotation indexes of the labels that found no place.

    labels: [(annotation index, the label's forms (label_texts), its threshold's Line2D)]; avoid: boxes of other
    texts in the plot; compact: every label in its shortest form (room for more of them where they are many). Works in
    display coordinates (pixels from the bottom left), so the boxes are the text's own extents as laid out.
    """
    from matplotlib.lines import Line2D
    from matplotlib.path import Path
    from matplotlib.transforms import IdentityTransform

    if not labels:
        return set()
    renderer = figure.canvas.get_renderer()
    plot = axes.bbox
    data_paths = [_display_path(line) for line in data_lines]
    thresholds = [_display_path(line) for line in threshold_lines]
    placed = list(avoid)  # boxes of the texts in the plot
    leaders = []  # display paths of the leader lines drawn
    unplaced = set()
    for n, texts, own in labels:
        own_y = _display_path(own).vertices[0][1]
        # The whole label where it finds a place, unless a shorter form finds one much nearer its line: each form
        # shorter counts as two rows further away.
        best = None
        forms = texts[-1:] if compact else texts
        for number, form in enumerate(forms):
            if number + 1 < len(forms):
                size = _text_size(figure, renderer, form)
                if size[0] > plot.width - 2 * LABEL_PAD_PX - 4:
                    continue
            else:
                form, size = _fitted(figure, renderer, form, plot.width - 2 * LABEL_PAD_PX - 4)
            found = _free_place(plot, size, own_y, placed, data_paths + leaders, thresholds)
            if found and (best is None or found[2] + 2 * number < best[0]):
                best = (found[2] + 2 * number, form, found[0], found[1])
            if best is not None and best[0] <= 2 * (number + 1):
                break  # no shorter form can do better
        if best is None:
            unplaced.add(n)
            continue
        _score, shown, box, leader = best
        label = axes.text(box.x0, box.y0, shown, transform=IdentityTransform(), fontsize=LABEL_PT,
                          color=THRESHOLD, va="bottom", ha="left", zorder=4, clip_on=False)
        label.set_gid("threshold-label-%d" % n)
        placed.append(box)
        if leader is not None:
            drawn = Line2D(leader.vertices[:, 0], leader.vertices[:, 1], transform=IdentityTransform(),
                           color=THRESHOLD, linewidth=0.7, linestyle=":", zorder=4, clip_on=False)
            drawn.set_gid("threshold-leader-%d" % n)
            axes.add_line(drawn)
            leaders.append(Path(leader.vertices))
    return unplaced


def _free_place(plot, size, own_y, placed, paths, thresholds):
    """(box, leader path or None, rows away from the line) of the first free place for a label of this size by the
    threshold at own_y; None if there is none."""
    from matplotlib.path import Path
    from matplotlib.transforms import Bbox

    text_w, text_h = size
    xs = []
    left = plot.x0 + LABEL_PAD_PX + 2
    step = max(6.0, plot.width / 48.0)
    while left + text_w <= plot.x1 - LABEL_PAD_PX:
        xs.append(left)
        left += step
    # Beside the line first (above, then below), then one row further away at a time.
    bottoms = []
    for k in range(0, int(plot.height // (text_h + 2)) + 1):
        bottoms.append((own_y + LABEL_PAD_PX + k * (text_h + 2), k))
        bottoms.append((own_y - LABEL_PAD_PX - text_h - k * (text_h + 2), k))
    for bottom, k in bottoms:
        if bottom < plot.y0 + 1 or bottom + text_h > plot.y1 - 1:
            continue
        for left in xs:
            box = Bbox.from_bounds(left, bottom, text_w, text_h)
            clear = box.padded(LINE_CLEARANCE_PX)
            if any(box.padded(1).overlaps(other) for other in placed):
                continue
            if any(path.intersects_bbox(clear, filled=False) for path in paths):
                continue
            if any(abs(path.vertices[0][1] - own_y) > 0.5 and path.intersects_bbox(clear, filled=False)
                   for path in thresholds):
                continue
            if not k:
                return box, None, k
            # a leader line from the label's left end or else its right end, clear of the other labels
            for lx in (left + LEADER_INSET_PX, left + text_w - LEADER_INSET_PX):
                leader = Path([(lx, bottom if bottom > own_y else bottom + text_h), (lx, own_y)])
                if not any(leader.intersects_bbox(other.padded(1), filled=False) for other in placed):
                    return box, leader, k
    return None


def _draw_legend(canvas, box, plot):
    from matplotlib.lines import Line2D
    from matplotlib.patches import Rectangle

    x, _y, w, _h = box
    geometry = plot["geometry"]
    columns = geometry["columns"]
    legend_top = geometry["top"] + geometry["h"] + X_TICKS_PX + 2
    column_w = (w - 16) / float(columns)
    for position, (colour, label, style) in enumerate(plot["legend"]):
        lx = x + 8 + (position % columns) * column_w
        ly = legend_top + (position // columns) * LEGEND_ROW_PX + LEGEND_ROW_PX / 2.0
        if style == "band":
            canvas.add_patch(Rectangle((lx, ly - 4), 14, 8, facecolor=colour, alpha=0.5, edgecolor="none"))
        else:
            canvas.add_line(Line2D([lx, lx + 14], [ly, ly], color=colour, linewidth=1 if style == "threshold" else 2,
                                   linestyle="--" if style == "dashed" else "-"))
        canvas.text(lx + 18, ly, fit(label, column_w - 22, SMALL_PT), fontsize=SMALL_PT,
                    color=THRESHOLD if style == "threshold" else TEXT, va="center", ha="left")


# --------------------------------------------------------------------------------------------- HTML

def _widget_details(index, widget, series, states):
    properties = widget.get("properties") or {}
    kind = widget.get("type", "metric")
    items = []
    if kind == "text":
        items = [text for text, _heading in markdown_to_plain(properties.get("markdown", "")) if text]
    elif kind == "alarm":
        for arn in alarm_arns(widget):
            name = alarm_name(arn)
            items.append("%s: %s" % (name, states.get(name, DEFAULT_STATE)))
    elif kind == "metric":
        for line_index, line in enumerate(widget_lines(widget)):
            if not line["visible"]:
                continue
            if line["expression"]:
                where = line["expression"]
            else:
                where = ", ".join("%s=%s" % pair for pair in line["dimensions"])
            data = ""
            if series is not None and not line["band_of"]:
                entry = series.get(series_key(index, line_index))
                data = " - no data" if not entry or not entry.get("v") else (
                    " - synthetic data" if entry.get("synthetic") else " - %d datapoints" % len(entry["v"]))
            elif line["band_of"]:
                data = " - approximated around %s" % line["band_of"]
            items.append("%s (%s)%s" % (line["label"], where, data))
        for annotation in horizontal_annotations(widget):
            items.append("threshold: %s" % annotation.get("label", annotation["value"]))
    return items


def render_html(body, png_name, path=None, title=None, note=None, series=None, states=None,
                cell_px=DEFAULT_CELL_PX):
    """A static page showing the PNG (each widget clickable) and the list of widgets; returns the text and
    writes it to path if given."""
    states = states or {}
    rects = layout(body, cell_px)
    width, height = canvas_size(body, cell_px)
    title = title or "Dashboard preview"
    esc = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        "<title>%s</title>" % esc(title),
        "<style>",
        "body{font-family:sans-serif;margin:24px;color:%s;background:%s}" % (TEXT, BACKGROUND),
        "img{border:1px solid %s;max-width:100%%;height:auto}" % PANEL_EDGE,
        "table{border-collapse:collapse;background:%s}" % PANEL,
        "th,td{border:1px solid %s;padding:4px 8px;text-align:left;vertical-align:top}" % PANEL_EDGE,
        "td ul{margin:0;padding-left:18px}",
        "</style>",
        "</head>",
        "<body>",
        "<h1>%s</h1>" % esc(title),
    ]
    if note:
        out.append("<p>%s</p>" % esc(note))
    out.append('<img src="%s" width="%d" height="%d" alt="%s" usemap="#widgets">'
               % (esc(png_name, quote=True), width, height, esc(title, quote=True)))
    out.append('<map name="widgets">')
    for rect in rects:
        out.append('<area shape="rect" coords="%d,%d,%d,%d" href="#widget-%d" alt="%s">'
                   % (rect["x"], rect["y"], rect["x"] + rect["w"], rect["y"] + rect["h"], rect["index"],
                      esc(rect["title"] or rect["type"], quote=True)))
    out.append("</map>")
    out.append("<h2>Widgets</h2>")
    out.append("<table>")
    out.append("<tr><th>#</th><th>type</th><th>title</th><th>grid x, y, width, height</th><th>content</th></tr>")
    for rect, widget in zip(rects, body["widgets"]):
        details = _widget_details(rect["index"], widget, series, states)
        cells = (rect["index"], rect["index"], esc(rect["type"]), esc(rect["title"])) + tuple(rect["grid"])
        cells += ("".join("<li>%s</li>" % esc(item) for item in details),)
        out.append('<tr id="widget-%d"><td>%d</td><td>%s</td><td>%s</td><td>%d, %d, %d, %d</td><td><ul>%s</ul></td></tr>' % cells)
    out.append("</table>")
    out.append("</body>")
    out.append("</html>")
    text = "\n".join(out) + "\n"
    if path is not None:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    return text
