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


def _annotation(alarm):
    symbol = catalog.COMPARISONS[alarm["comparison"]]
    return {
        "label": "%s alarm: %s %s %s" % (alarm["metric"], alarm["statistic"], symbol, alarm["threshold"]),
        "value": alarm["threshold"],
        "fill": "above" if symbol.startswith(">") else "below",
    }


def _graph(endpoint, region, variant, widget_title, metrics, alarms_by_metric):
    lines = []
    annotations = []
    periods = []
    for metric in metrics:
        alarm = alarms_by_metric.get(metric.name)
        stat = alarm["statistic"] if alarm else metric.defaults["statistic"]
        period = alarm["period"] if alarm else DEFAULT_PERIOD
        periods.append(period)
        lines.append([
            metric.namespace, metric.name, "EndpointName", endpoint, "VariantName", variant,
            {"stat": stat, "period": period, "label": "%s (%s)" % (metric.name, stat)},
        ])
        if alarm:
            annotations.append(_annotation(alarm))
    properties = {
        "title": "%s: %s" % (variant, widget_title),
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


def build_dashboard(endpoint, region, variants, alarms, metrics=None, account_id=ACCOUNT_PLACEHOLDER,
                    topic_name=None):
    """Return the dashboard body as a dict.

    alarms: the enabled alarms, each a dict with name, metric, variant, statistic, period, comparison
    and threshold (as made by endpoint_spec.build_spec).
    metrics: names of the metrics to graph (default: every metric in the catalog).
    """
    if not variants:
        raise DashboardError("endpoint %r: at least one production variant is needed for a dashboard" % endpoint)
    metric_names = list(catalog.METRICS) if metrics is None else list(metrics)
    unknown = [m for m in metric_names if m not in catalog.METRICS]
    if unknown:
        raise DashboardError("endpoint %r: unknown metrics %s" % (endpoint, ", ".join(unknown)))
    by_variant = dict((v, {}) for v in variants)
    for alarm in alarms:
        if alarm["variant"] not in by_variant:
            raise DashboardError("endpoint %r: alarm %r is for variant %r, which is not among the variants %s"
                                 % (endpoint, alarm["name"], alarm["variant"], variants))
        if alarm["comparison"] not in catalog.COMPARISONS:
            raise DashboardError("endpoint %r: alarm %r has an unknown comparison %r"
                                 % (endpoint, alarm["name"], alarm["comparison"]))
        by_variant[alarm["variant"]][alarm["metric"]] = alarm

    header_lines = [
        "# SageMaker endpoint `%s` (%s)" % (endpoint, region),
        "Variants: %s. %d alarms%s. Managed by mlops.sagemaker_monitoring: change its variables, not this dashboard."
        % (", ".join("`%s`" % v for v in variants), len(alarms),
           " notify SNS topic `%s`" % topic_name if topic_name else ""),
    ]
    widgets = [{
        "type": "text", "x": 0, "y": 0, "width": GRID_COLUMNS, "height": HEADER_HEIGHT,
        "properties": {"markdown": "\n\n".join(header_lines)},
    }]
    y = HEADER_HEIGHT

    alarm_names = [a["name"] for a in alarms]
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
    for variant in variants:
        graphs = []
        for widget_title in catalog.WIDGETS:
            in_widget = [m for m in catalog.metrics_in_widget(widget_title) if m.name in metric_names]
            if in_widget:
                graphs.append(_graph(endpoint, region, variant, widget_title, in_widget, by_variant[variant]))
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
