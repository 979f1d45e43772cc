# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compute a CloudWatch dashboard body for one SageMaker endpoint.

Layout on CloudWatch's 24-column grid, top to bottom:
  a header text widget (24 x 2),
  alarm-status widgets (24 wide, up to 100 alarms each),
  for each production variant, one graph per metric group (8 x 6, three to a row),
  each metric drawn with its alarm's statistic and period and each threshold as an annotation.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils import catalog

GRID_COLUMNS = 24
MAX_WIDGETS = 500
MAX_METRICS = 2500
MAX_METRICS_PER_WIDGET = 500
MAX_ALARMS_PER_ALARM_WIDGET = 100

HEADER_HEIGHT = 2
GRAPH_WIDTH = 8
GRAPH_HEIGHT = 6
ALARMS_PER_ROW = 4  # how many alarm tiles an alarm-status widget shows per grid row, 24 wide

# CloudFormation substitutes these when the body is passed through Fn::Sub.
ACCOUNT_PLACEHOLDER = "${AWS::AccountId}"

DEFAULT_PERIOD = 300


class DashboardError(ValueError):
    pass


def _alarm_arn(region, account_id, alarm_name):
    return "arn:aws:cloudwatch:%s:%s:alarm:%s" % (region, account_id, alarm_name)


def _annotation(alarm, value=None):
    symbol = catalog.COMPARISONS[alarm["comparison"]]
    what = "rate" if alarm.get("kind") == "math" else alarm["statistic"]
    return {
        "label": "%s alarm: %s when %s %s %s" % (alarm["metric"], alarm.get("severity", "warning"), what, symbol,
                                                 alarm.get("display_threshold", alarm["threshold"])),
        "value": alarm["threshold"] if value is None else value,
        "fill": "above" if symbol.startswith(">") else "below",
    }


def _dims(metric, endpoint, scope_name):
    if metric.dims == catalog.DIMS_COMPONENT:
        return ["InferenceComponentName", scope_name]
    if metric.dims == catalog.DIMS_ENDPOINT:
        return ["EndpointName", endpoint]
    return ["EndpointName", endpoint, "VariantName", scope_name]


def _graph(endpoint, region, scope_name, widget_title, metrics, alarms_by_metric):
    """One graph: a line per metric, with its alarm's statistic and period; thresholds as annotations.

    An error-rate alarm (metric math) is drawn as its rate, so its threshold sits on the same scale; an
    anomaly-detection alarm adds its expected band.
    """
    lines = []
    annotations = []
    periods = []
    for n, metric in enumerate(metrics):
        alarms = alarms_by_metric.get(metric.name, [])
        plain = [a for a in alarms if a["kind"] == "metric"]
        math = [a for a in alarms if a["kind"] == "math"]
        anomaly = [a for a in alarms if a["kind"] == "anomaly"]
        reference = (plain or math or anomaly or [None])[0]
        stat = reference["statistic"] if reference else metric.defaults["statistic"]
        period = reference["period"] if reference else DEFAULT_PERIOD
        periods.append(period)
        dims = _dims(metric, endpoint, scope_name)
        if math:
            alarm = math[0]
            traffic = catalog.METRICS[catalog.TRAFFIC_METRIC]
            lines.append([metric.namespace, metric.name] + dims + [
                {"id": "e%d" % n, "stat": "Sum", "period": period, "visible": False}])
            lines.append([traffic.namespace, traffic.name] + dims + [
                {"id": "i%d" % n, "stat": "Sum", "period": period, "visible": False}])
            lines.append([{"id": "r%d" % n, "label": "%s rate (%%)" % metric.name,
                           "expression": alarm["expression"].replace("errors", "e%d" % n)
                           .replace("invocations", "i%d" % n)}])
            annotations.append(_annotation(alarm))
            continue
        options = {"stat": stat, "period": period, "label": "%s (%s)" % (metric.name, stat)}
        if anomaly:
            options["id"] = "m%d" % n
        lines.append([metric.namespace, metric.name] + dims + [options])
        for alarm in plain:
            annotations.append(_annotation(alarm))
        for alarm in anomaly:
            lines.append([{"id": "b%d" % n, "label": "%s expected band" % metric.name,
                           "expression": "ANOMALY_DETECTION_BAND(m%d, %s)" % (n, alarm["band"])}])
    properties = {
        "title": "%s: %s" % (scope_name, widget_title),
        "view": "timeSeries",
        "stacked": False,
        "region": region,
        "period": min(periods),
        "metrics": lines,
        "yAxis": {"left": {"min": 0}},
    }
    if annotations:
        properties["annotations"] = {"horizontal": annotations}
    return {"type": "metric", "width": GRAPH_WIDTH, "height": GRAPH_HEIGHT, "properties": properties}


def _scopes(endpoint_metrics, variants, components):
    """(scope name, metric names) in layout order: the endpoint, each variant, each component."""
    scopes = []
    if endpoint_metrics:
        scopes.append(("endpoint", None, list(endpoint_metrics)))
    for variant in variants:
        if isinstance(variant, str):
            names = [m.name for m in catalog.METRICS.values()
                     if m.dims == catalog.DIMS_VARIANT and m.published({"type": "realtime"}, {"gpus": 1})]
            scopes.append(("variant", variant, names))
        else:
            scopes.append(("variant", variant["name"], list(variant["metrics"])))
    for component in components or []:
        scopes.append(("component", component["name"], list(component["metrics"])))
    return scopes


def build_dashboard(endpoint, region, variants, alarms, metrics=None, account_id=ACCOUNT_PLACEHOLDER,
                    topic_name=None, endpoint_metrics=None, components=None, composite=None):
    """Return the dashboard body as a dict.

    variants: names (every variant-level metric of a real-time GPU endpoint is graphed) or mappings with
    `name` and `metrics`, the metrics the variant publishes (as endpoint_spec.build_spec returns them).
    endpoint_metrics: metrics with the EndpointName dimension only (asynchronous backlog), graphed once.
    components: mappings with `name` and `metrics` for inference components.
    alarms: the enabled alarms, each a dict with name, metric, variant (or component), kind, statistic,
    period, comparison and threshold (as made by endpoint_spec.build_spec).
    metrics: restrict the graphs to these metric names.
    composite: name of the endpoint's composite health alarm, shown first in the alarm widget.
    """
    if not variants:
        raise DashboardError("endpoint %r: at least one production variant is needed for a dashboard" % endpoint)
    only = None if metrics is None else list(metrics)
    unknown = [m for m in (only or []) if m not in catalog.METRICS]
    if unknown:
        raise DashboardError("endpoint %r: unknown metrics %s" % (endpoint, ", ".join(unknown)))
    scopes = _scopes(endpoint_metrics, variants, components)
    by_scope = dict(((kind, name), {}) for kind, name, _names in scopes)
    for alarm in alarms:
        alarm = dict(alarm, kind=alarm.get("kind", "metric"))
        scope = alarm.get("scope") or ("variant" if alarm.get("variant") else "endpoint")
        name = alarm.get("variant") if scope == "variant" else alarm.get("component")
        if (scope, name) not in by_scope:
            raise DashboardError("endpoint %r: alarm %r is for %s %r, which is not among the variants %s"
                                 % (endpoint, alarm["name"], scope, name, [n for _k, n, _m in scopes]))
        if alarm["kind"] != "anomaly" and alarm["comparison"] not in catalog.COMPARISONS:
            raise DashboardError("endpoint %r: alarm %r has an unknown comparison %r"
                                 % (endpoint, alarm["name"], alarm["comparison"]))
        by_scope[(scope, name)].setdefault(alarm["metric"], []).append(alarm)

    variant_names = [v if isinstance(v, str) else v["name"] for v in variants]
    header_lines = [
        "# SageMaker endpoint `%s` (%s)" % (endpoint, region),
        "Variants: %s. %d alarms%s. Managed by mlops.sagemaker_monitoring: change its variables, not this dashboard."
        % (", ".join("`%s`" % v for v in variant_names), len(alarms),
           " notify SNS topic `%s`" % topic_name if topic_name else ""),
    ]
    widgets = [{
        "type": "text", "x": 0, "y": 0, "width": GRID_COLUMNS, "height": HEADER_HEIGHT,
        "properties": {"markdown": "\n\n".join(header_lines)},
    }]
    y = HEADER_HEIGHT

    alarm_names = ([composite] if composite else []) + [a["name"] for a in alarms]
    for start in range(0, len(alarm_names), MAX_ALARMS_PER_ALARM_WIDGET):
        chunk = alarm_names[start:start + MAX_ALARMS_PER_ALARM_WIDGET]
        height = 1 + -(-len(chunk) // ALARMS_PER_ROW)
        part = "" if len(alarm_names) <= MAX_ALARMS_PER_ALARM_WIDGET else " (%d of %d)" % (
            start // MAX_ALARMS_PER_ALARM_WIDGET + 1, -(-len(alarm_names) // MAX_ALARMS_PER_ALARM_WIDGET))
        widgets.append({
            "type": "alarm", "x": 0, "y": y, "width": GRID_COLUMNS, "height": height,
            "properties": {
                "title": "Alarms%s" % part,
                "alarms": [_alarm_arn(region, account_id, name) for name in chunk],
                "sortBy": "stateUpdatedTimestamp",
            },
        })
        y += height

    per_row = GRID_COLUMNS // GRAPH_WIDTH
    for kind, name, names in scopes:
        graphs = []
        for widget_title in catalog.WIDGETS:
            in_widget = [m for m in catalog.metrics_in_widget(widget_title)
                         if m.name in names and (only is None or m.name in only)]
            if in_widget:
                graphs.append(_graph(endpoint, region, name or endpoint, widget_title, in_widget,
                                     by_scope[(kind, name)]))
        for i, graph in enumerate(graphs):
            graph["x"] = (i % per_row) * GRAPH_WIDTH
            graph["y"] = y + (i // per_row) * GRAPH_HEIGHT
            widgets.append(graph)
        y += -(-len(graphs) // per_row) * GRAPH_HEIGHT

    check_limits(endpoint, widgets)
    return {"start": "-PT6H", "periodOverride": "inherit", "widgets": widgets}


def check_limits(endpoint, widgets):
    if len(widgets) > MAX_WIDGETS:
        raise DashboardError("endpoint %r: the dashboard would have %d widgets; CloudWatch allows %d. "
                             "Monitor fewer variants or metrics." % (endpoint, len(widgets), MAX_WIDGETS))
    total = 0
    for widget in widgets:
        count = len(widget["properties"].get("metrics", []))
        if count > MAX_METRICS_PER_WIDGET:
            raise DashboardError("endpoint %r: widget %r would draw %d metrics; CloudWatch allows %d per widget"
                                 % (endpoint, widget["properties"]["title"], count, MAX_METRICS_PER_WIDGET))
        total += count
        if widget["x"] + widget["width"] > GRID_COLUMNS:
            raise DashboardError("endpoint %r: widget %r does not fit the %d-column grid"
                                 % (endpoint, widget["properties"].get("title"), GRID_COLUMNS))
    if total > MAX_METRICS:
        raise DashboardError("endpoint %r: the dashboard would draw %d metrics; CloudWatch allows %d"
                             % (endpoint, total, MAX_METRICS))


def minify(body):
    return json.dumps(body, separators=(",", ":"))


# --------------------------------------------------------------------------------------------- fleet dashboards
# One dashboard for many endpoints, as an alternative to one per endpoint (dashboards are billed each): per
# endpoint a header row and one compact graph per metric group with a line per variant, packed into as few
# dashboards as CloudWatch's widget and metric limits allow, never splitting an endpoint.

FLEET_HEADER_HEIGHT = 1
FLEET_GRAPH_WIDTH = 4
FLEET_GRAPH_HEIGHT = 5
FLEET_DASHBOARD_NAME = "sagemaker-monitoring-fleet"


def _fleet_scopes(entry):
    """(scope kind, scope name, metric names, dimensions function) of one endpoint, in layout order."""
    endpoint = entry["endpoint"]

    def variant_metrics():
        # A variant given by name only: every variant-level metric of a real-time endpoint with GPUs.
        names = []
        for metric in catalog.METRICS.values():
            published = getattr(metric, "published", None)
            if getattr(metric, "dims", "variant") == "variant" and (
                    published is None or published({"type": "realtime"}, {"gpus": 1})):
                names.append(metric.name)
        return names

    scopes = []
    if entry.get("endpoint_metrics"):
        scopes.append(("endpoint", None, list(entry["endpoint_metrics"]), ["EndpointName", endpoint]))
    for variant in entry["variants"]:
        name = variant if isinstance(variant, str) else variant["name"]
        names = variant_metrics() if isinstance(variant, str) else list(variant.get("metrics") or variant_metrics())
        scopes.append(("variant", name, names, ["EndpointName", endpoint, "VariantName", name]))
    for component in entry.get("components") or []:
        scopes.append(("component", component["name"], list(component.get("metrics") or []),
                       ["InferenceComponentName", component["name"]]))
    return scopes


def _fleet_alarm_scope(alarm):
    scope = alarm.get("scope") or ("variant" if alarm.get("variant") else "endpoint")
    return scope, alarm.get("variant") if scope == "variant" else alarm.get("component")


def _fleet_math_lines(alarm, prefix, label):
    """Dashboard lines that draw a metric-math alarm's expression: its metrics hidden, the expression shown."""
    import re

    ids = dict((q["Id"], "%s%s" % (prefix, q["Id"])) for q in alarm["metrics"])
    lines = []
    for query in alarm["metrics"]:
        if "MetricStat" in query:
            stat = query["MetricStat"]
            dims = []
            for dim in stat["Metric"].get("Dimensions", []):
                dims.extend([dim["Name"], dim["Value"]])
            lines.append([stat["Metric"]["Namespace"], stat["Metric"]["MetricName"]] + dims + [
                {"id": ids[query["Id"]], "stat": stat["Stat"], "period": stat["Period"], "visible": False}])
        elif query.get("ReturnData", True):
            expression = re.sub(r"\b[a-z][a-zA-Z0-9_]*\b", lambda m: ids.get(m.group(0), m.group(0)), query["Expression"])
            lines.append([{"id": ids[query["Id"]], "expression": expression, "label": label}])
    return lines


def _fleet_graph(entry, widget_title, scopes, alarms_by_scope):
    """One graph of an endpoint: the group's metrics for each of its variants (or the endpoint, or components)."""
    lines = []
    annotations = {}  # metric -> [(scope name, annotation)]
    periods = []
    for s, (kind, name, names, dims) in enumerate(scopes):
        for n, metric in enumerate(catalog.metrics_in_widget(widget_title)):
            if metric.name not in names:
                continue
            alarms = alarms_by_scope.get((kind, name), {}).get(metric.name, [])
            plain = [a for a in alarms if (a.get("kind") or "metric") == "metric"]
            math = [a for a in alarms if a.get("kind") == "math" and a.get("metrics")]
            reference = (plain or math or [None])[0]
            period = reference["period"] if reference else DEFAULT_PERIOD
            periods.append(period)
            who = name or entry["endpoint"]
            if math:
                lines.extend(_fleet_math_lines(math[0], "s%dm%d" % (s, n), "%s %s rate" % (who, metric.name)))
            else:
                stat = reference["statistic"] if reference else metric.defaults["statistic"]
                lines.append([metric.namespace, metric.name] + dims + [
                    {"stat": stat, "period": period, "label": "%s %s (%s)" % (who, metric.name, stat)}])
            for alarm in plain + math:
                annotations.setdefault(metric.name, []).append((who, _annotation(alarm)))
    horizontal = []
    for metric_name, found in annotations.items():
        distinct = []
        for _who, annotation in found:
            if annotation not in distinct:
                distinct.append(annotation)
        if len(distinct) == 1:
            horizontal.append(distinct[0])
        else:
            # Variants with different thresholds: each labelled with its variant.
            for who, annotation in found:
                labelled = dict(annotation, label=annotation["label"].replace(
                    "%s alarm" % metric_name, "%s alarm (%s)" % (metric_name, who), 1))
                if labelled not in horizontal:
                    horizontal.append(labelled)
    properties = {
        "title": "%s: %s" % (entry["endpoint"], widget_title),
        "view": "timeSeries",
        "stacked": False,
        "region": entry["region"],
        "period": min(periods),
        "metrics": lines,
        "yAxis": {"left": {"min": 0}},
    }
    if horizontal:
        properties["annotations"] = {"horizontal": horizontal}
    return {"type": "metric", "width": FLEET_GRAPH_WIDTH, "height": FLEET_GRAPH_HEIGHT, "properties": properties}


def _fleet_endpoint_widgets(entry, metrics=None):
    """The widgets of one endpoint, placed from y = 0: a header row, then its graphs, six to a row."""
    scopes = _fleet_scopes(entry)
    if metrics is not None:
        scopes = [(k, n, [m for m in names if m in metrics], d) for k, n, names, d in scopes]
    alarms_by_scope = {}
    for alarm in entry.get("alarms") or []:
        alarms_by_scope.setdefault(_fleet_alarm_scope(alarm), {}).setdefault(alarm["metric"], []).append(alarm)
    variant_names = [n for k, n, _m, _d in scopes if k == "variant"]
    widgets = [{
        "type": "text", "x": 0, "y": 0, "width": GRID_COLUMNS, "height": FLEET_HEADER_HEIGHT,
        "properties": {"markdown": "### `%s` (%s): variants %s; %d alarms" % (
            entry["endpoint"], entry["region"], ", ".join("`%s`" % v for v in variant_names),
            len(entry.get("alarms") or []))},
    }]
    per_row = GRID_COLUMNS // FLEET_GRAPH_WIDTH
    graphs = []
    for widget_title in catalog.WIDGETS:
        in_group = set(m.name for m in catalog.metrics_in_widget(widget_title))
        if any(in_group.intersection(names) for _k, _n, names, _d in scopes):
            graphs.append(_fleet_graph(entry, widget_title, scopes, alarms_by_scope))
    for i, graph in enumerate(graphs):
        graph["x"] = (i % per_row) * FLEET_GRAPH_WIDTH
        graph["y"] = FLEET_HEADER_HEIGHT + (i // per_row) * FLEET_GRAPH_HEIGHT
        widgets.append(graph)
    return widgets


def _metric_count(widgets):
    return sum(len(w["properties"].get("metrics", [])) for w in widgets)


def fleet_sections(endpoints, metrics=None):
    """[(endpoint, widgets)] in the given order: each endpoint's header row and graphs, placed from y = 0."""
    sections = []
    seen = set()
    for entry in endpoints:
        if entry["endpoint"] in seen:
            raise DashboardError("endpoint %r is listed twice for the fleet dashboards" % entry["endpoint"])
        seen.add(entry["endpoint"])
        if not entry.get("variants") and not entry.get("endpoint_metrics"):
            raise DashboardError("endpoint %r: at least one production variant is needed for a dashboard"
                                 % entry["endpoint"])
        sections.append((entry["endpoint"], _fleet_endpoint_widgets(entry, metrics)))
    return sections


SECTION_HEADER = re.compile(r"^### `([^`]+)` \(")


def sections_of(body):
    """The endpoint sections of a fleet dashboard body this collection made, as fleet_sections gives them:
    [(endpoint, widgets placed from y = 0)], in the order they are on the page."""
    widgets = sorted((w for w in (body or {}).get("widgets") or [] if isinstance(w, dict)),
                     key=lambda w: (w.get("y", 0), w.get("x", 0)))
    sections = []
    for widget in widgets:
        markdown = (widget.get("properties") or {}).get("markdown") or "" if widget.get("type") == "text" else ""
        match = SECTION_HEADER.match(markdown)
        if match:
            sections.append((match.group(1), widget.get("y", 0), [widget]))
        elif sections and widget.get("type") != "text":
            sections[-1][2].append(widget)
    result = []
    for endpoint, top, parts in sections:
        result.append((endpoint, [dict(w, y=w.get("y", 0) - top) for w in parts]))
    return result


def pack_fleet_dashboards(sections, name=FLEET_DASHBOARD_NAME, max_widgets=MAX_WIDGETS, max_metrics=MAX_METRICS):
    """Lay endpoint sections out on as few dashboards as CloudWatch's limits allow, in order, never splitting
    an endpoint. Returns [{"name", "endpoints", "widgets", "metrics", "body"}]; the name is suffixed -1, -2, ...
    when more than one dashboard is needed."""
    pages = []
    current = None
    for endpoint, section in sections:
        widgets = [dict(w) for w in section]
        count = _metric_count(widgets)
        if 1 + len(widgets) > max_widgets or count > max_metrics:
            raise DashboardError("endpoint %r alone needs %d widgets and %d metrics; a dashboard holds %d and %d"
                                 % (endpoint, 1 + len(widgets), count, max_widgets, max_metrics))
        if current is None or current["widgets"] + len(widgets) > max_widgets or \
                current["metrics"] + count > max_metrics:
            current = {"endpoints": [], "widgets": 1, "metrics": 0, "parts": [], "height": FLEET_HEADER_HEIGHT}
            pages.append(current)
        height = max(w["y"] + w["height"] for w in widgets)
        for widget in widgets:
            widget["y"] += current["height"]
        current["parts"].extend(widgets)
        current["height"] += height
        current["endpoints"].append(endpoint)
        current["widgets"] += len(widgets)
        current["metrics"] += count

    result = []
    for number, page in enumerate(pages, 1):
        page_name = name if len(pages) == 1 else "%s-%d" % (name, number)
        header = {
            "type": "text", "x": 0, "y": 0, "width": GRID_COLUMNS, "height": FLEET_HEADER_HEIGHT,
            "properties": {"markdown": "# SageMaker fleet%s: %d endpoints. Managed by mlops.sagemaker_monitoring: "
                                       "change its variables, not this dashboard." % (
                                           "" if len(pages) == 1 else " (%d of %d)" % (number, len(pages)),
                                           len(page["endpoints"]))},
        }
        widgets = [header] + page["parts"]
        check_limits(page_name, widgets)
        result.append({"name": page_name, "endpoints": page["endpoints"], "widgets": len(widgets),
                       "metrics": page["metrics"], "body": {"start": "-PT6H", "periodOverride": "inherit",
                                                            "widgets": widgets}})
    return result


def build_fleet_dashboards(endpoints, name=FLEET_DASHBOARD_NAME, metrics=None, max_widgets=MAX_WIDGETS,
                           max_metrics=MAX_METRICS):
    """Lay out many endpoints on as few dashboards as CloudWatch's limits allow.

    endpoints: one mapping per endpoint with endpoint, region, variants (names, or mappings with name and
    metrics), alarms, and optionally endpoint_metrics and components (as endpoint_spec.build_spec returns them).
    Each dashboard starts with a header row; each endpoint gets a header row and one graph per metric group
    (4 x 5, six to a row) with a line per variant, and each alarm threshold as an annotation. Endpoints are
    packed in order and never split between dashboards.
    Returns [{"name", "endpoints", "widgets", "metrics", "body"}]; the name is suffixed -1, -2, ... when the
    fleet needs more than one dashboard.
    """
    return pack_fleet_dashboards(fleet_sections(endpoints, metrics), name, max_widgets, max_metrics)
