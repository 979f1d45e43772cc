# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the collection's CloudWatch resources cost per month, per endpoint and for the fleet.

Pure functions over the alarm specs (endpoint_spec.build_spec's `alarms`, each with an optional `kind`:
metric, math, anomaly or composite) and dashboard counts. CloudWatch bills an alarm per metric it
evaluates: a standard alarm is one metric, a metric-math alarm one per metric its expression queries, an
anomaly-detection alarm three (the metric and the two edges of its band); an alarm with a period under 60
seconds is high resolution and costs more per metric. A composite alarm has a price of its own. Dashboards
cost a monthly fee each, beyond a few free ones per account; the free ones are the account's, so they are
applied once, to the fleet, never per endpoint.

Prices are list prices in USD per month (us-east-1, as published); pass your own to override them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib
from decimal import Decimal

DEFAULT_PRICES = {
    "alarm_metric": 0.10,  # standard-resolution alarm, per metric evaluated
    "high_resolution_alarm_metric": 0.30,  # period under 60 seconds, per metric evaluated
    "composite_alarm": 0.50,
    "dashboard": 3.00,
    "free_dashboards": 3,  # per account
    "free_dashboard_max_metrics": 50,  # a dashboard with more metrics is never one of the free ones
    "free_alarm_metrics": 0,  # CloudWatch's free tier has 10 standard alarm metrics per account, usually in use
}
INTEGER_PRICES = ("free_dashboards", "free_dashboard_max_metrics", "free_alarm_metrics")

KINDS = ("metric", "math", "anomaly", "composite")
ANOMALY_BILLED_METRICS = 3
HIGH_RESOLUTION_BELOW = 60  # seconds

# CloudWatch's limits on one dashboard.
MAX_DASHBOARD_WIDGETS = 500
MAX_DASHBOARD_METRICS = 2500


class CostError(ValueError):
    pass


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _usd(amount):
    return float(round(Decimal(amount), 4))


def _price(prices, key):
    return Decimal(str(prices[key]))


def merge_prices(overrides=None):
    """The default prices with overrides over them; unknown keys and bad values are refused."""
    prices = dict(DEFAULT_PRICES)
    if overrides is None:
        return prices
    if not isinstance(overrides, dict):
        raise CostError("prices must be a mapping of price name to amount, got %r" % (overrides,))
    for key, value in overrides.items():
        if key not in DEFAULT_PRICES:
            close = difflib.get_close_matches(str(key), list(DEFAULT_PRICES), n=1)
            raise CostError("unknown price %r%s; known prices: %s" % (
                key, " (did you mean %r?)" % close[0] if close else "", ", ".join(sorted(DEFAULT_PRICES))))
        if key in INTEGER_PRICES:
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise CostError("price %s must be a whole number of at least 0, got %r" % (key, value))
        elif not _is_number(value) or value < 0:
            raise CostError("price %s must be an amount in USD of at least 0, got %r" % (key, value))
        prices[key] = value
    return prices


def high_resolution(alarm):
    period = alarm.get("period")
    return _is_number(period) and period < HIGH_RESOLUTION_BELOW


def billed_metrics(alarm):
    """How many alarm metrics CloudWatch bills for one alarm (0 for a composite alarm)."""
    kind = alarm.get("kind") or "metric"
    if kind not in KINDS:
        raise CostError("alarm %r: kind %r is not one of %s" % (alarm.get("name"), kind, ", ".join(KINDS)))
    if kind == "composite":
        return 0
    if kind == "anomaly":
        return ANOMALY_BILLED_METRICS
    if kind == "math":
        count = alarm.get("metric_count")
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise CostError("alarm %r: a metric-math alarm needs metric_count (the metrics its expression "
                            "queries), got %r" % (alarm.get("name"), count))
        return count
    return 1


def endpoint_cost(alarms, dashboards=1, prices=None, dashboard_metrics=None):
    """Monthly cost of one endpoint's alarms and dashboards, before the account's free allowances.

    Returns {"alarms": {kind: {"count", "high_resolution", "billed_metrics", "usd"}}, "alarm_count",
    "standard_alarm_metrics", "high_resolution_alarm_metrics", "alarms_usd", "dashboards",
    "dashboard_metrics" (metrics on each dashboard, if known), "dashboards_usd", "total_usd"}.
    """
    prices = merge_prices(prices)
    if not isinstance(dashboards, int) or isinstance(dashboards, bool) or dashboards < 0:
        raise CostError("dashboards must be a whole number of at least 0, got %r" % (dashboards,))
    by_kind = dict((kind, {"count": 0, "high_resolution": 0, "billed_metrics": 0, "usd": Decimal(0)})
                   for kind in KINDS)
    standard = high = 0
    for alarm in alarms or []:
        if not isinstance(alarm, dict):
            raise CostError("each alarm must be a mapping, got %r" % (alarm,))
        kind = alarm.get("kind") or "metric"
        count = billed_metrics(alarm)
        entry = by_kind[kind]
        entry["count"] += 1
        if kind == "composite":
            entry["usd"] += _price(prices, "composite_alarm")
            continue
        entry["billed_metrics"] += count
        if high_resolution(alarm):
            entry["high_resolution"] += 1
            high += count
            entry["usd"] += count * _price(prices, "high_resolution_alarm_metric")
        else:
            standard += count
            entry["usd"] += count * _price(prices, "alarm_metric")
    alarms_usd = sum((e["usd"] for e in by_kind.values()), Decimal(0))
    dashboards_usd = dashboards * _price(prices, "dashboard")
    if dashboard_metrics is not None and not isinstance(dashboard_metrics, list):
        dashboard_metrics = [dashboard_metrics] * dashboards
    for entry in by_kind.values():
        entry["usd"] = _usd(entry["usd"])
    return {
        "alarms": by_kind,
        "alarm_count": sum(e["count"] for e in by_kind.values()),
        "standard_alarm_metrics": standard,
        "high_resolution_alarm_metrics": high,
        "alarms_usd": _usd(alarms_usd),
        "dashboards": dashboards,
        "dashboard_metrics": dashboard_metrics,
        "dashboards_usd": _usd(dashboards_usd),
        "total_usd": _usd(alarms_usd + dashboards_usd),
    }


def _dashboards_cost(count, metrics, prices):
    """Cost of count dashboards with the account's free ones applied. metrics: metrics on each (None: unknown,
    taken as small enough to be free)."""
    metrics = list(metrics) if metrics is not None else [None] * count
    if len(metrics) < count:
        metrics += [None] * (count - len(metrics))
    eligible = sum(1 for m in metrics[:count] if m is None or m <= prices["free_dashboard_max_metrics"])
    free = min(prices["free_dashboards"], eligible)
    return {"dashboards": count, "free": free, "usd": _usd((count - free) * _price(prices, "dashboard")),
            "metrics": metrics[:count]}


def fleet_cost(endpoint_costs, prices=None, fleet_dashboard=False, fleet_dashboard_count=None,
               fleet_dashboard_metrics=None):
    """Monthly cost of the fleet: every endpoint's alarms, and its dashboards with the free ones applied once.

    endpoint_costs: endpoint_cost results, as a mapping of endpoint name to result or a list.
    fleet_dashboard_count: how many fleet dashboards (several endpoints each) would replace the one-per-endpoint
    dashboards (see fleet_dashboard_count()); given, both ways are priced and compared.
    fleet_dashboard_metrics: metrics on each fleet dashboard (a dashboard over the free-tier metric count is
    never free).
    fleet_dashboard: price the fleet as using the fleet dashboards instead of one per endpoint.

    Returns {"endpoints", "alarm_count", "alarms_usd", "free_alarm_metrics", "per_endpoint_dashboards",
    "fleet_dashboards" (None without a count), "fleet_dashboard", "dashboards_usd", "total_usd",
    "per_endpoint_total_usd", "fleet_dashboards_total_usd", "saving_usd" (what the fleet dashboards save per
    month; negative when they cost more; None without a count)}.
    """
    prices = merge_prices(prices)
    costs = list(endpoint_costs.values()) if isinstance(endpoint_costs, dict) else list(endpoint_costs)
    if fleet_dashboard and fleet_dashboard_count is None:
        raise CostError("fleet_dashboard needs fleet_dashboard_count")
    alarms_usd = sum((Decimal(str(c["alarms_usd"])) for c in costs), Decimal(0))
    standard = sum(c["standard_alarm_metrics"] for c in costs)
    free_alarm_metrics = min(prices["free_alarm_metrics"], standard)
    alarms_usd -= free_alarm_metrics * _price(prices, "alarm_metric")

    per_endpoint_metrics = []
    for c in costs:
        metrics = c.get("dashboard_metrics")
        per_endpoint_metrics.extend(metrics if metrics is not None else [None] * c["dashboards"])
    per_endpoint = _dashboards_cost(sum(c["dashboards"] for c in costs), per_endpoint_metrics, prices)
    fleet = None
    if fleet_dashboard_count is not None:
        fleet = _dashboards_cost(fleet_dashboard_count, fleet_dashboard_metrics, prices)

    per_endpoint_total = alarms_usd + Decimal(str(per_endpoint["usd"]))
    fleet_total = alarms_usd + Decimal(str(fleet["usd"])) if fleet else None
    chosen = fleet if fleet_dashboard else per_endpoint
    return {
        "endpoints": len(costs),
        "alarm_count": sum(c["alarm_count"] for c in costs),
        "alarms_usd": _usd(alarms_usd),
        "free_alarm_metrics": free_alarm_metrics,
        "per_endpoint_dashboards": per_endpoint,
        "fleet_dashboards": fleet,
        "fleet_dashboard": bool(fleet_dashboard),
        "dashboards_usd": chosen["usd"],
        "total_usd": _usd(fleet_total if fleet_dashboard else per_endpoint_total),
        "per_endpoint_total_usd": _usd(per_endpoint_total),
        "fleet_dashboards_total_usd": _usd(fleet_total) if fleet else None,
        "saving_usd": _usd(per_endpoint_total - fleet_total) if fleet else None,
    }


def fleet_dashboard_pages(n_endpoints, widgets_per_endpoint, metrics_per_endpoint,
                          max_widgets=MAX_DASHBOARD_WIDGETS, max_metrics=MAX_DASHBOARD_METRICS, widgets_per_dashboard=0):
    """The fleet dashboards that hold n_endpoints, none split across two, each within CloudWatch's limits, as
    [{"endpoints", "widgets", "metrics"}] (counts; widgets include widgets_per_dashboard, e.g. a header).

    widgets_per_endpoint / metrics_per_endpoint: one number for every endpoint, or a list with one per endpoint
    (packed in order, as dashboard.build_fleet_dashboards packs them).
    """
    def per_endpoint(value, what):
        values = list(value) if isinstance(value, (list, tuple)) else [value] * n_endpoints
        if len(values) != n_endpoints:
            raise CostError("%s: %d values for %d endpoints" % (what, len(values), n_endpoints))
        for v in values:
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise CostError("%s must be whole numbers of at least 0, got %r" % (what, v))
        return values

    widgets = per_endpoint(widgets_per_endpoint, "widgets_per_endpoint")
    metrics = per_endpoint(metrics_per_endpoint, "metrics_per_endpoint")
    pages = []
    for i, (w, m) in enumerate(zip(widgets, metrics)):
        if widgets_per_dashboard + w > max_widgets or m > max_metrics:
            raise CostError("endpoint %d alone needs %d widgets and %d metrics; a dashboard holds %d and %d"
                            % (i + 1, widgets_per_dashboard + w, m, max_widgets, max_metrics))
        if not pages or pages[-1]["widgets"] + w > max_widgets or pages[-1]["metrics"] + m > max_metrics:
            pages.append({"endpoints": 0, "widgets": widgets_per_dashboard, "metrics": 0})
        pages[-1]["endpoints"] += 1
        pages[-1]["widgets"] += w
        pages[-1]["metrics"] += m
    return pages


def fleet_dashboard_count(n_endpoints, widgets_per_endpoint, metrics_per_endpoint,
                          max_widgets=MAX_DASHBOARD_WIDGETS, max_metrics=MAX_DASHBOARD_METRICS, widgets_per_dashboard=0):
    """How many fleet dashboards hold n_endpoints (see fleet_dashboard_pages)."""
    return len(fleet_dashboard_pages(n_endpoints, widgets_per_endpoint, metrics_per_endpoint, max_widgets,
                                     max_metrics, widgets_per_dashboard))


def _money(amount):
    return "-$%.2f" % -amount if amount < 0 else "$%.2f" % amount


def _alarm_breakdown(cost):
    parts = []
    for kind in KINDS:
        entry = cost["alarms"][kind]
        if not entry["count"]:
            continue
        what = {"metric": "standard", "math": "metric-math", "anomaly": "anomaly-detection",
                "composite": "composite"}[kind]
        text = "%d %s" % (entry["count"], what)
        if entry["high_resolution"]:
            text += " (%d high-resolution)" % entry["high_resolution"]
        if kind in ("math", "anomaly"):
            text += " = %d metrics" % entry["billed_metrics"]
        parts.append(text)
    return ", ".join(parts) or "no alarms"


def _plural(count, word):
    return "%d %s%s" % (count, word, "" if count == 1 else "s")


def describe(endpoint_costs, fleet, prices=None, fleet_layout=None):
    """Lines of text: one per endpoint, the fleet's total, and the fleet-dashboard alternative.

    fleet_layout: (widgets, metrics) of the fleet dashboards in all, to show with the alternative.
    """
    prices = merge_prices(prices)
    names = list(endpoint_costs)
    width = max([len(n) for n in names] + [8])
    lines = ["Monthly CloudWatch cost (USD; list prices %s per alarm metric, %s high-resolution, %s composite, "
             "%s per dashboard beyond %d free):" % (
                 _money(prices["alarm_metric"]), _money(prices["high_resolution_alarm_metric"]),
                 _money(prices["composite_alarm"]), _money(prices["dashboard"]), prices["free_dashboards"])]
    for name in names:
        cost = endpoint_costs[name]
        lines.append("  %-*s %s alarms %s (%s) + %s %s = %s" % (
            width, name, cost["alarm_count"], _money(cost["alarms_usd"]), _alarm_breakdown(cost),
            _plural(cost["dashboards"], "dashboard"), _money(cost["dashboards_usd"]), _money(cost["total_usd"])))
    per_endpoint = fleet["per_endpoint_dashboards"]
    free_alarms = (", %d free alarm metrics" % fleet["free_alarm_metrics"]) if fleet["free_alarm_metrics"] else ""
    lines.append("Fleet: %s, %s %s%s; %s, %d free: %s; total %s per month" % (
        _plural(fleet["endpoints"], "endpoint"), _plural(fleet["alarm_count"], "alarm"), _money(fleet["alarms_usd"]),
        free_alarms, _plural(per_endpoint["dashboards"], "dashboard"), per_endpoint["free"],
        _money(per_endpoint["usd"]), _money(fleet["per_endpoint_total_usd"])))
    alternative = fleet["fleet_dashboards"]
    if alternative is not None:
        over = [m for m in alternative["metrics"] if m is not None and m > prices["free_dashboard_max_metrics"]]
        why_not_free = ""
        if over and alternative["free"] < min(alternative["dashboards"], prices["free_dashboards"]):
            why_not_free = " (a dashboard over %d metrics is not free)" % prices["free_dashboard_max_metrics"]
        saving = fleet["saving_usd"]
        verdict = "saves %s per month" % _money(saving) if saving > 0 else (
            "costs %s more per month" % _money(-saving) if saving < 0 else "costs the same")
        layout = " (%d widgets, %d metrics in all)" % tuple(fleet_layout) if fleet_layout else ""
        lines.append("Alternative: %s%s for the whole fleet instead of one per endpoint: %s, %d free%s; total %s per "
                     "month, which %s" % (
                         _plural(alternative["dashboards"], "fleet dashboard"), layout, _money(alternative["usd"]),
                         alternative["free"], why_not_free, _money(fleet["fleet_dashboards_total_usd"]), verdict))
    return lines
