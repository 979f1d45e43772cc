# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Replay alarms on metric history: how often would each alarm have fired, and for how long.

Pure functions; nothing here calls AWS. The caller fetches the history (GetMetricData) and passes it in as
series of (epoch seconds, value or None) on the alarm's period grid, None being a period without data.

Alarm evaluation follows the CloudWatch user guide, "Using Amazon CloudWatch alarms", sections "Evaluating
an alarm", "Configuring how CloudWatch alarms treat missing data" (its two tables of examples) and "Avoiding
premature transitions to alarm state":

- At each evaluation CloudWatch looks at an *evaluation range* of a few more periods than
  `evaluation_periods` (the guide's tables: 5 periods for 3 evaluation periods). This module uses
  `evaluation_periods + 2` (EXTRA_PERIODS), the only size the guide states.
- With at least `evaluation_periods` real datapoints in the range, the most recent `evaluation_periods` of
  them are evaluated (missing ones are skipped, whatever treat_missing_data says). ALARM when at least
  `datapoints_to_alarm` of them breach, OK otherwise.
- With none: `missing` -> INSUFFICIENT_DATA, `ignore` -> the current state, `breaching` -> ALARM,
  `notBreaching` -> OK.
- With some but fewer than `evaluation_periods`: `breaching` / `notBreaching` fill the missing ones (as few
  as needed: up to `evaluation_periods`) as breaching / not breaching, and every real datapoint of the range
  counts. `missing` and `ignore` use the real datapoints only: ALARM when at least `datapoints_to_alarm`
  breach; for `missing` also when no datapoint of the range is non-breaching and the oldest breaching one is
  at least `datapoints_to_alarm` periods old (the guide's premature-transition rule; its table keeps
  `ignore` in its state there); otherwise OK if any real datapoint is non-breaching, and else
  INSUFFICIENT_DATA for `missing` and the current state for `ignore`.

MISSING_DATA_TABLE below is the guide's table, row by row; the unit tests replay every row.

The replay evaluates once per period, at the end of each period (CloudWatch evaluates high-resolution alarms
every 10 seconds and others every minute; the datapoints only change once a period). Comparisons against an
anomaly-detection band are not replayed: the band comes from CloudWatch's model.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
import re

OK = "OK"
ALARM = "ALARM"
INSUFFICIENT_DATA = "INSUFFICIENT_DATA"
STATES = (OK, ALARM, INSUFFICIENT_DATA)

TREATMENTS = ("missing", "ignore", "breaching", "notBreaching")
COMPARISONS = {
    "GreaterThanThreshold": lambda value, threshold: value > threshold,
    "GreaterThanOrEqualToThreshold": lambda value, threshold: value >= threshold,
    "LessThanThreshold": lambda value, threshold: value < threshold,
    "LessThanOrEqualToThreshold": lambda value, threshold: value <= threshold,
}
COMPARISON_SYMBOLS = {
    "GreaterThanThreshold": ">",
    "GreaterThanOrEqualToThreshold": ">=",
    "LessThanThreshold": "<",
    "LessThanOrEqualToThreshold": "<=",
}
BAND_COMPARISONS = ("LessThanLowerOrGreaterThanUpperThreshold", "LessThanLowerThreshold", "GreaterThanUpperThreshold")
STATISTICS = ("Average", "Sum", "Minimum", "Maximum", "SampleCount")
PERCENTILE = re.compile(r"^p([0-9]{1,2}(\.[0-9]+)?|100)\Z")
RATE_EXPRESSION = re.compile(
    r"^IF\(\s*invocations\s*>=\s*([0-9]+)\s*,\s*100\s*\*\s*errors\s*/\s*invocations\s*,\s*0\s*\)\Z")

EXTRA_PERIODS = 2  # evaluation range = evaluation_periods + EXTRA_PERIODS (the guide's 5 for 3)

# GetMetricData's limits on one call.
MAX_QUERIES_PER_CALL = 500
MAX_DATAPOINTS_PER_CALL = 100800

# Source: awsdocs/amazon-cloudwatch-user-guide, doc_source/AlarmThatSendsEmail.md, "How alarm state is evaluated
# when data is missing" (commit 05fd32f63861ca6646c8aa5c94334fd6e0dfdbf5; today's page "Configuring how
# CloudWatch alarms treat missing data"). Datapoints oldest first: 0 not breaching, X breaching, - missing;
# CloudWatch retrieves 5 of them. "retain" is "Retain current state".
MISSING_DATA_TABLE = (
    # (datapoints_to_alarm, evaluation_periods, datapoints, missing, ignore, breaching, notBreaching)
    (3, 3, "0 - X - X", OK, OK, OK, OK),
    (3, 3, "0 - - - -", OK, OK, OK, OK),
    (3, 3, "- - - - -", INSUFFICIENT_DATA, "retain", ALARM, OK),
    (3, 3, "0 X X - X", ALARM, ALARM, ALARM, ALARM),
    (3, 3, "- - - - X", INSUFFICIENT_DATA, "retain", ALARM, OK),
    (3, 3, "X - - - -", ALARM, "retain", ALARM, OK),
    (2, 3, "0 - X - X", ALARM, ALARM, ALARM, ALARM),
    (2, 3, "0 0 X 0 X", ALARM, ALARM, ALARM, ALARM),
    (2, 3, "0 - X - -", OK, OK, ALARM, OK),
    (2, 3, "- - - - 0", OK, OK, ALARM, OK),
    (2, 3, "- - - - X", INSUFFICIENT_DATA, "retain", ALARM, OK),
)


class BacktestError(ValueError):
    pass


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not (
        isinstance(value, float) and (math.isnan(value) or math.isinf(value)))


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


# --------------------------------------------------------------------------------------------- alarm settings

def unsupported(alarm):
    """Why this alarm cannot be replayed, or None."""
    if not isinstance(alarm, dict):
        return "not an alarm mapping"
    if alarm.get("kind") == "anomaly" or alarm.get("comparison") in BAND_COMPARISONS:
        return ("compares with an anomaly-detection band (%s), which CloudWatch computes from a model of its own; "
                "not replayed" % alarm.get("comparison"))
    if alarm.get("kind", "metric") not in ("metric", "math"):
        return "alarm kind %r is not replayed" % alarm.get("kind")
    return None


def alarm_settings(alarm):
    """The evaluation settings of an alarm spec, checked; raises BacktestError naming the bad field."""
    name = alarm.get("name", "alarm") if isinstance(alarm, dict) else "alarm"
    why = unsupported(alarm)
    if why:
        raise BacktestError("%s: %s" % (name, why))
    period = alarm.get("period")
    evaluation_periods = alarm.get("evaluation_periods")
    datapoints = alarm.get("datapoints_to_alarm", evaluation_periods)
    treat = alarm.get("treat_missing_data") or "missing"
    threshold = alarm.get("threshold")
    problems = []
    if not _is_int(period) or period < 1:
        problems.append("period must be a whole number of seconds, got %r" % (period,))
    if not _is_int(evaluation_periods) or evaluation_periods < 1:
        problems.append("evaluation_periods must be a whole number of at least 1, got %r" % (evaluation_periods,))
    if not _is_int(datapoints) or datapoints < 1 or (_is_int(evaluation_periods) and datapoints > evaluation_periods):
        problems.append("datapoints_to_alarm must be from 1 to evaluation_periods, got %r" % (datapoints,))
    if treat not in TREATMENTS:
        problems.append("treat_missing_data must be one of %s, got %r" % (", ".join(TREATMENTS), treat))
    if not _is_number(threshold):
        problems.append("threshold must be a number, got %r" % (threshold,))
    if alarm.get("comparison") not in COMPARISONS:
        problems.append("comparison must be one of %s, got %r" % (", ".join(COMPARISONS), alarm.get("comparison")))
    if problems:
        raise BacktestError("%s: %s" % (name, "; ".join(problems)))
    return {"period": period, "evaluation_periods": evaluation_periods, "datapoints_to_alarm": datapoints,
            "treat_missing_data": treat, "threshold": threshold, "comparison": alarm["comparison"]}


def evaluation_range(evaluation_periods):
    return evaluation_periods + EXTRA_PERIODS


# --------------------------------------------------------------------------------------------- evaluation

def decide(window, evaluation_periods, datapoints_to_alarm, treat_missing_data, current_state):
    """The state one evaluation sets, from the evaluation range's datapoints.

    window: oldest first, one entry per period of the evaluation range: True (breaching), False (not
    breaching) or None (missing).
    """
    real = [flag for flag in window if flag is not None]
    if len(real) >= evaluation_periods:
        # Enough real datapoints: the most recent ones are evaluated and missing data plays no part.
        recent = real[-evaluation_periods:]
        return ALARM if sum(recent) >= datapoints_to_alarm else OK
    if not real:
        return {"missing": INSUFFICIENT_DATA, "ignore": current_state, "breaching": ALARM,
                "notBreaching": OK}[treat_missing_data]
    breaching = sum(real)
    fill = evaluation_periods - len(real)
    if treat_missing_data == "breaching":
        return ALARM if breaching + fill >= datapoints_to_alarm else OK
    if treat_missing_data == "notBreaching":
        return ALARM if breaching >= datapoints_to_alarm else OK
    # missing, ignore: the real datapoints only.
    if breaching >= datapoints_to_alarm:
        return ALARM
    if treat_missing_data == "missing" and all(real):
        oldest_breaching_age = len(window) - window.index(True)  # the newest period is 1 old
        if oldest_breaching_age >= datapoints_to_alarm:
            return ALARM
    if not all(real):
        return OK
    return INSUFFICIENT_DATA if treat_missing_data == "missing" else current_state


def _grid(series, period):
    """Sort the series and fill the periods between its first and last datapoint with None."""
    points = {}
    for item in series:
        try:
            timestamp, value = item
        except (TypeError, ValueError):
            raise BacktestError("a datapoint must be (timestamp, value), got %r" % (item,))
        if not _is_number(timestamp):
            raise BacktestError("timestamp %r is not epoch seconds" % (timestamp,))
        if value is not None and not _is_number(value):
            raise BacktestError("value at %s must be a number or None, got %r" % (timestamp, value))
        if timestamp in points and points[timestamp] is not None and value is not None:
            raise BacktestError("two datapoints at %s" % timestamp)
        if value is not None or timestamp not in points:
            points[timestamp] = value
    if not points:
        return []
    first = min(points)
    last = max(points)
    for timestamp in points:
        if (timestamp - first) % period:
            raise BacktestError("datapoint at %s is not on the %d s period grid starting at %s"
                                % (timestamp, period, first))
    return [(first + i * period, points.get(first + i * period)) for i in range(int((last - first) // period) + 1)]


def evaluate(series, alarm, initial_state=INSUFFICIENT_DATA):
    """Replay CloudWatch's evaluation of one alarm on a series.

    series: (epoch seconds, value or None) on the alarm's period grid; periods absent between the first and last
    datapoint count as missing. The first evaluation_periods + 1 periods (evaluation range - 1) are history for
    the first evaluation, which happens at the end of the next period; fetch that much before the window of
    interest. alarm: a spec alarm (period, evaluation_periods, datapoints_to_alarm, comparison, threshold,
    treat_missing_data).

    Returns timeline [(time, state)] (time: the end of the period just evaluated), transitions
    [(time, from, to)], episodes of ALARM [{start, end, duration, ongoing}], fired (transitions into ALARM),
    alarm_seconds, evaluations, datapoints (real datapoints among the evaluated periods), values (those
    datapoints' values) and final_state.
    """
    if initial_state not in STATES:
        raise BacktestError("initial_state must be one of %s, got %r" % (", ".join(STATES), initial_state))
    settings = alarm_settings(alarm)
    period = settings["period"]
    compare = COMPARISONS[settings["comparison"]]
    threshold = settings["threshold"]
    grid = _grid(series, period)
    size = evaluation_range(settings["evaluation_periods"])
    flags = [None if value is None else compare(value, threshold) for _t, value in grid]

    state = initial_state
    timeline = []
    transitions = []
    for i in range(size - 1, len(grid)):
        new_state = decide(flags[i - size + 1:i + 1], settings["evaluation_periods"],
                           settings["datapoints_to_alarm"], settings["treat_missing_data"], state)
        time = grid[i][0] + period
        if new_state != state:
            transitions.append((time, state, new_state))
        state = new_state
        timeline.append((time, state))

    episodes = []
    for time, before, after in transitions:
        if after == ALARM:
            episodes.append({"start": time, "end": None, "duration": 0, "ongoing": True})
        elif before == ALARM and episodes:
            episodes[-1].update(end=time, duration=time - episodes[-1]["start"], ongoing=False)
    if episodes and episodes[-1]["ongoing"]:
        last = timeline[-1][0]
        episodes[-1].update(end=last, duration=last - episodes[-1]["start"])
    evaluated = grid[size - 1:]
    values = [value for _t, value in evaluated if value is not None]
    return {
        "timeline": timeline,
        "transitions": transitions,
        "episodes": episodes,
        "fired": sum(1 for _t, _b, after in transitions if after == ALARM),
        "alarm_seconds": sum(e["duration"] for e in episodes),
        "evaluations": len(timeline),
        "datapoints": len(values),
        "values": values,
        "final_state": state,
    }


# --------------------------------------------------------------------------------------------- statistics

def nearest_rank(values, p):
    """Nearest-rank percentile: the smallest value with at least p % of the values at or below it."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = int(math.ceil(p / 100.0 * len(ordered)))
    return ordered[min(max(rank, 1), len(ordered)) - 1]


def statistic_of(values, statistic):
    if statistic == "Average":
        return sum(values) / float(len(values))
    if statistic == "Sum":
        return sum(values)
    if statistic == "Minimum":
        return min(values)
    if statistic == "Maximum":
        return max(values)
    if statistic == "SampleCount":
        return float(len(values))
    match = PERCENTILE.match(statistic or "")
    if match:
        return nearest_rank(values, float(match.group(1)))
    raise BacktestError("statistic must be one of %s or a percentile such as p99, got %r"
                        % (", ".join(STATISTICS), statistic))


def aggregate(raw_points, period, statistic):
    """Per-period statistics of raw datapoints, as CloudWatch computes them for an alarm.

    raw_points: (epoch seconds, value). Periods start at multiples of `period` (as GetMetricData's do when the
    start time is one). Returns [(period start, statistic)] for the periods with data, oldest first.
    Percentiles (pNN, pNN.N) are nearest-rank.
    """
    if not _is_int(period) or period < 1:
        raise BacktestError("period must be a whole number of seconds, got %r" % (period,))
    statistic_of([1.0], statistic)  # rejects an unknown statistic even without data
    buckets = {}
    for timestamp, value in raw_points:
        if value is None:
            continue
        start = int(timestamp // period * period)
        buckets.setdefault(start, []).append(value)
    return [(start, statistic_of(buckets[start], statistic)) for start in sorted(buckets)]


def fill_grid(points, start, end, period):
    """(time, value or None) for every period from start (included) to end (excluded): the series evaluate wants.

    points: (epoch seconds, value) or a mapping of epoch seconds to value.
    """
    found = dict(points) if not isinstance(points, dict) else points
    return [(t, found.get(t)) for t in range(int(start), int(end), int(period))]


def rate_series(errors, invocations, min_invocations):
    """The series of `IF(invocations >= min_invocations, 100 * errors / invocations, 0)`, per period.

    errors, invocations: (time, Sum or None) series (or mappings). A period without invocations has no value
    (metric math has nothing to compute on); one with fewer than min_invocations is 0; one with enough
    invocations but no errors datapoint has no value either (arithmetic on a missing value gives none).
    """
    errs = dict(errors) if not isinstance(errors, dict) else errors
    invs = dict(invocations) if not isinstance(invocations, dict) else invocations
    result = []
    for t in sorted(set(errs) | set(invs)):
        inv = invs.get(t)
        err = errs.get(t)
        if inv is None:
            value = None
        elif inv < min_invocations or inv <= 0:
            value = 0.0
        elif err is None:
            value = None
        else:
            value = 100.0 * err / inv
        result.append((t, value))
    return result


def min_invocations_of(alarm):
    """The traffic guard of a spec's error-rate alarm, read from its expression."""
    match = RATE_EXPRESSION.match((alarm.get("expression") or "").strip())
    if not match:
        raise BacktestError("%s: expression %r is not the collection's error-rate expression "
                            "IF(invocations >= N, 100 * errors / invocations, 0)"
                            % (alarm.get("name", "alarm"), alarm.get("expression")))
    return int(match.group(1))


def _round_significant(value, digits, up):
    """value rounded to `digits` significant digits, up (towards +infinity) or down."""
    if value == 0:
        return 0
    exponent = int(math.floor(math.log10(abs(value)))) - digits + 1
    step = 10.0 ** exponent
    steps = value / step
    steps = math.ceil(steps - 1e-9) if up else math.floor(steps + 1e-9)
    rounded = round(steps * step, max(0, -exponent))
    return int(rounded) if float(rounded).is_integer() else rounded


def suggest_threshold(values, comparison, percentile=99, margin=0.2, digits=3):
    """A threshold that the history would not have crossed, with room to spare; None without values.

    The rule, for an alarm on high values (GreaterThan...): take the `percentile` percentile of the history's
    values (nearest rank), add `margin` of it, and round up to `digits` significant digits. With the defaults,
    p99 + 20 %: all but the top 1 % of the history stays below the threshold by at least a fifth, so it marks a
    departure from what the endpoint normally does instead of paging on its usual peaks; the top 1 % are
    the excursions the alarm is for. For an alarm on low values (LessThan...) the mirror image: the
    (100 - percentile) percentile, less the margin, rounded down (p1 - 20 %).

    The suggestion is a starting point read from history, not a service level: a history that contains an
    incident yields a threshold above that incident.
    """
    values = [v for v in values if v is not None]
    if comparison not in COMPARISONS:
        raise BacktestError("comparison %r has no threshold to suggest" % (comparison,))
    if not _is_number(percentile) or not 0 < percentile <= 100 or not _is_number(margin) or margin < 0:
        raise BacktestError("percentile must be in (0, 100] and margin a number of at least 0, got %r and %r"
                            % (percentile, margin))
    if not values:
        return None
    high = comparison.startswith("Greater")
    base = nearest_rank(values, percentile if high else 100 - percentile)
    value = base + abs(base) * margin if high else base - abs(base) * margin
    return _round_significant(value, digits, up=high)


# --------------------------------------------------------------------------------------------- units

_DISPLAY = re.compile(r"^\s*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*(.*?)\s*$")
_UNIT_FACTORS = {"ms": 1000.0, "%": 0.01}


def display_factor(alarm):
    """(factor, units): CloudWatch's value = factor x the value in the units of display_threshold."""
    shown = alarm.get("display_threshold")
    threshold = alarm.get("threshold")
    if not isinstance(shown, str):
        return 1.0, ""
    match = _DISPLAY.match(shown)
    if not match:
        return 1.0, ""
    number, units = float(match.group(1)), match.group(2)
    if number and _is_number(threshold):
        return threshold / number, units
    return _UNIT_FACTORS.get(units, 1.0), units


def format_number(value):
    if value is None:
        return "-"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    if isinstance(value, int):
        return str(value)
    return ("%.3g" % value) if abs(value) < 1 else ("%.4g" % value)


def to_display(raw, alarm):
    """A CloudWatch value in the units people set the threshold in (display_threshold's): '620 ms'."""
    if raw is None:
        return None
    factor, units = display_factor(alarm)
    value = raw / factor if factor else raw
    value = float("%.6g" % value)
    return ("%s %s" % (format_number(value), units)).strip()


def format_duration(seconds):
    seconds = int(round(seconds))
    if seconds < 60:
        return "%ds" % seconds
    minutes, _s = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return "%dd %dh" % (days, hours) if hours else "%dd" % days
    if hours:
        return "%dh %dm" % (hours, minutes) if minutes else "%dh" % hours
    return "%dm" % minutes


# --------------------------------------------------------------------------------------------- GetMetricData

def _metric_key(namespace, metric, dimensions, stat, period):
    dims = tuple(sorted((d["Name"], d["Value"]) for d in dimensions or []))
    return (namespace, metric, dims, stat, period)


def build_queries(alarms):
    """GetMetricData queries for the alarms, one per distinct metric, statistic and period.

    Returns (queries, plans): queries are MetricDataQuery mappings (Id q0, q1, ...); plans has one entry per
    alarm: {"alarm", "skip": reason or None, "series": id} for a metric alarm, or {"errors": id,
    "invocations": id, "min_invocations": n} for an error-rate alarm. Raises BacktestError on a malformed alarm.
    """
    queries = []
    ids = {}

    def query_id(namespace, metric, dimensions, stat, period):
        key = _metric_key(namespace, metric, dimensions, stat, period)
        if key not in ids:
            ids[key] = "q%d" % len(ids)
            queries.append({"Id": ids[key], "ReturnData": True, "MetricStat": {
                "Metric": {"Namespace": namespace, "MetricName": metric, "Dimensions": list(dimensions or [])},
                "Period": period, "Stat": stat}})
        return ids[key]

    plans = []
    for alarm in alarms:
        if not isinstance(alarm, dict) or not alarm.get("name"):
            raise BacktestError("every alarm must be a mapping with a name, got %r" % (alarm,))
        why = unsupported(alarm)
        if why:
            plans.append({"alarm": alarm, "skip": why})
            continue
        settings = alarm_settings(alarm)
        plan = {"alarm": alarm, "skip": None, "settings": settings}
        if alarm.get("kind") == "math":
            stats = dict((q.get("Id"), q["MetricStat"]) for q in alarm.get("metrics") or [] if "MetricStat" in q)
            if "errors" not in stats or "invocations" not in stats:
                raise BacktestError("%s: a math alarm needs the metric queries 'errors' and 'invocations'"
                                    % alarm["name"])
            for role in ("errors", "invocations"):
                stat = stats[role]
                metric = stat.get("Metric", {})
                plan[role] = query_id(metric.get("Namespace"), metric.get("MetricName"), metric.get("Dimensions"),
                                      "Sum", settings["period"])
            plan["min_invocations"] = min_invocations_of(alarm)
        else:
            for key in ("namespace", "metric", "statistic"):
                if not isinstance(alarm.get(key), str) or not alarm.get(key):
                    raise BacktestError("%s: %s must be a non-empty string, got %r"
                                        % (alarm["name"], key, alarm.get(key)))
            statistic_of([1.0], alarm["statistic"])
            plan["series"] = query_id(alarm["namespace"], alarm["metric"], alarm.get("dimensions"),
                                      alarm["statistic"], settings["period"])
        plans.append(plan)
    return queries, plans


def window_for(period, evaluation_periods, start, end):
    """(fetch start, first evaluated period, end) on the period grid: the periods from the one start falls in
    to the last one complete at end, and before them the history the first evaluation looks back on."""
    first = int(start) // period * period
    last = int(end) // period * period
    return first - (evaluation_range(evaluation_periods) - 1) * period, first, last


def plan_requests(queries, max_queries=MAX_QUERIES_PER_CALL, max_datapoints=MAX_DATAPOINTS_PER_CALL):
    """Split GetMetricData work into calls within its limits: at most max_queries queries and max_datapoints
    datapoints (queries x periods) per call. One call's queries share one period; a time range too long for one
    query is cut into consecutive chunks.

    queries: [(query, start, end)] with start and end on the query's period grid. Returns
    [{"start", "end", "queries"}], in order.
    """
    groups = {}
    for query, q_start, q_end in queries:
        period = query["MetricStat"]["Period"]
        groups.setdefault((period, q_start, q_end), []).append(query)
    requests = []
    for (period, q_start, q_end) in sorted(groups):
        members = groups[(period, q_start, q_end)]
        chunk_seconds = max_datapoints * period
        t = q_start
        while t < q_end:
            chunk_end = min(t + chunk_seconds, q_end)
            points = max(1, (chunk_end - t) // period)
            per_call = max(1, min(max_queries, max_datapoints // points))
            for i in range(0, len(members), per_call):
                requests.append({"start": t, "end": chunk_end, "period": period, "queries": members[i:i + per_call]})
            t = chunk_end
    return requests


def fetch_plan(alarms, start, end, max_queries=MAX_QUERIES_PER_CALL, max_datapoints=MAX_DATAPOINTS_PER_CALL):
    """The GetMetricData calls that fetch what the alarms need over start-end (epoch seconds), with the history
    each alarm's first evaluation needs before start. Returns (plans, requests): see build_queries and
    plan_requests."""
    queries, plans = build_queries(alarms)
    windows = {}
    for plan in plans:
        if plan.get("skip"):
            continue
        settings = plan["settings"]
        fetch_start, _first, last = window_for(settings["period"], settings["evaluation_periods"], start, end)
        for role in ("series", "errors", "invocations"):
            if role in plan:
                known = windows.get(plan[role])
                windows[plan[role]] = (min(fetch_start, known[0]) if known else fetch_start, last)
    work = [(query, windows[query["Id"]][0], windows[query["Id"]][1]) for query in queries if query["Id"] in windows]
    return plans, plan_requests(work, max_queries=max_queries, max_datapoints=max_datapoints)


# --------------------------------------------------------------------------------------------- one alarm

def backtest_alarm(plan, data, start, end, percentile=99, margin=0.2, max_episodes=5):
    """Replay one alarm of build_queries' plans on fetched data ({query id: {epoch seconds: value}}), over
    the window start-end (epoch seconds). Returns the result the module reports for it."""
    alarm = plan["alarm"]
    result = {
        "name": alarm.get("name"),
        "metric": alarm.get("metric"),
        "kind": alarm.get("kind", "metric"),
        "statistic": alarm.get("statistic"),
        "period": alarm.get("period"),
        "evaluation_periods": alarm.get("evaluation_periods"),
        "datapoints_to_alarm": alarm.get("datapoints_to_alarm"),
        "comparison": alarm.get("comparison"),
        "treat_missing_data": alarm.get("treat_missing_data"),
        "threshold": alarm.get("threshold"),
        "display_threshold": alarm.get("display_threshold"),
        "evaluated": False,
    }
    if plan.get("skip"):
        result["note"] = plan["skip"]
        result["summary"] = "%s: not replayed: %s" % (alarm.get("name"), plan["skip"])
        return result
    settings = plan["settings"]
    result.update((key, settings[key]) for key in ("period", "evaluation_periods", "datapoints_to_alarm",
                                                   "comparison", "treat_missing_data", "threshold"))
    period = settings["period"]
    fetch_start, first, last = window_for(period, settings["evaluation_periods"], start, end)
    if "series" in plan:
        series = fill_grid(data.get(plan["series"], {}), fetch_start, last, period)
    else:
        errors = fill_grid(data.get(plan["errors"], {}), fetch_start, last, period)
        invocations = fill_grid(data.get(plan["invocations"], {}), fetch_start, last, period)
        series = rate_series(errors, invocations, plan["min_invocations"])
    replay = evaluate(series, alarm)
    suggestion = suggest_threshold(replay["values"], settings["comparison"], percentile, margin)
    result.update({
        "evaluated": True,
        "start": first,
        "end": last,
        "periods": replay["evaluations"],
        "datapoints": replay["datapoints"],
        "fired": replay["fired"],
        "alarm_seconds": replay["alarm_seconds"],
        "longest_seconds": max([e["duration"] for e in replay["episodes"]] or [0]),
        "episodes": replay["episodes"][:max_episodes],
        "episode_count": len(replay["episodes"]),
        "final_state": replay["final_state"],
        "suggested_threshold": suggestion,
        "suggested_display_threshold": to_display(suggestion, alarm),
        "suggested_fired": None,
    })
    if suggestion is not None:
        result["suggested_fired"] = evaluate(series, dict(alarm, threshold=suggestion))["fired"]
    result["summary"] = summary_line(result, percentile, margin)
    return result


def summary_line(result, percentile=99, margin=0.2):
    """One line a person reads: how often, how long, and the suggestion."""
    name = result["name"]
    if not result.get("evaluated"):
        return "%s: not replayed: %s" % (name, result.get("note", "no data"))
    symbol = COMPARISON_SYMBOLS.get(result["comparison"], result["comparison"])
    shown = result.get("display_threshold") or format_number(result["threshold"])
    window = format_duration(result["end"] - result["start"])
    if not result["datapoints"]:
        return "%s: no datapoints in %s; the alarm would have been %s (%s %s)" % (
            name, window, result["final_state"], symbol, shown)
    times = "once" if result["fired"] == 1 else "%d times" % result["fired"]
    line = "%s: fired %s in %s" % (name, times, window)
    if result["fired"]:
        line += " (%s in ALARM, longest %s)" % (format_duration(result["alarm_seconds"]),
                                                format_duration(result["longest_seconds"]))
    line += "; %s %s" % (symbol, shown)
    if result["suggested_threshold"] is not None:
        tail = "p%s" % format_number(percentile if symbol.startswith(">") else 100 - percentile)
        sign = "+" if symbol.startswith(">") else "-"
        line += "; suggested %s %s (%s of %d datapoints %s %s%%), which would have fired %s" % (
            symbol, result["suggested_display_threshold"], tail, result["datapoints"], sign,
            format_number(margin * 100), "once" if result["suggested_fired"] == 1 else "%d times"
            % result["suggested_fired"])
    return line
