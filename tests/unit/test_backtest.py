"""backtest: CloudWatch's alarm evaluation replayed on history (AWS's missing-data table, M of N, statistics,
error rates, suggested thresholds, GetMetricData batching) and the alarm_backtest module on a stubbed client."""

import datetime
import json

import pytest

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils import backtest
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.backtest import (
    ALARM,
    INSUFFICIENT_DATA,
    MISSING_DATA_TABLE,
    OK,
    BacktestError,
    aggregate,
    evaluate,
    rate_series,
    suggest_threshold,
)
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_spec import build_spec

PERIOD = 300
THRESHOLD = 5.0
LOW, HIGH = 1.0, 10.0


def alarm(evaluation_periods=3, datapoints_to_alarm=None, treat="missing", comparison="GreaterThanThreshold",
          threshold=THRESHOLD, period=PERIOD, **extra):
    return dict({"name": "sagemaker-monitoring_ep_AllTraffic_ModelLatency", "kind": "metric", "metric": "ModelLatency",
                 "namespace": "AWS/SageMaker", "statistic": "Average",
                 "dimensions": [{"Name": "EndpointName", "Value": "ep"},
                                {"Name": "VariantName", "Value": "AllTraffic"}],
                 "period": period, "evaluation_periods": evaluation_periods,
                 "datapoints_to_alarm": evaluation_periods if datapoints_to_alarm is None else datapoints_to_alarm,
                 "comparison": comparison, "threshold": threshold, "treat_missing_data": treat}, **extra)


def series(text, t0=0, period=PERIOD):
    """'0 X -' -> datapoints: 0 within the threshold, X breaching, - missing (the notation of AWS's table)."""
    return [(t0 + i * period, {"0": LOW, "X": HIGH, "-": None}[c]) for i, c in enumerate(text.split())]


def states(text, start_state=INSUFFICIENT_DATA, **settings):
    return [s for _t, s in evaluate(series(text), alarm(**settings), initial_state=start_state)["timeline"]]


# --------------------------------------------------------------------------------------------- AWS's table

TABLE_CASES = [
    pytest.param(m, n, points, treat, expected, id="%d-of-%d [%s] %s" % (m, n, points, treat))
    for m, n, points, *outcomes in MISSING_DATA_TABLE
    for treat, expected in zip(("missing", "ignore", "breaching", "notBreaching"), outcomes)
]


def test_the_table_is_the_documented_one():
    # 6 rows for 3 of 3 and 5 rows for 2 of 3, each with an outcome for the four treatments.
    assert [(m, n) for m, n, *_ in MISSING_DATA_TABLE] == [(3, 3)] * 6 + [(2, 3)] * 5
    assert len(TABLE_CASES) == 44
    assert all(len(points.split()) == 5 for _m, _n, points, *_ in MISSING_DATA_TABLE)


@pytest.mark.parametrize("m,n,points,treat,expected", TABLE_CASES)
@pytest.mark.parametrize("current", [OK, ALARM, INSUFFICIENT_DATA])
def test_missing_data_table(m, n, points, treat, expected, current):
    """Each row of the user guide's table, each treatment, from each state the alarm may be in: CloudWatch
    retrieves 5 datapoints for 3 evaluation periods, which is one evaluation of a 5-period series."""
    result = evaluate(series(points), alarm(evaluation_periods=n, datapoints_to_alarm=m, treat=treat),
                      initial_state=current)
    assert result["evaluations"] == 1
    assert result["final_state"] == (current if expected == "retain" else expected)


def test_all_missing_is_insufficient_data_for_missing_and_kept_for_ignore():
    assert states("- - - - -", treat="missing", start_state=ALARM) == [INSUFFICIENT_DATA]
    assert states("- - - - -", treat="ignore", start_state=ALARM) == [ALARM]
    assert states("- - - - -", treat="ignore", start_state=OK) == [OK]


def test_missing_datapoints_are_skipped_when_enough_real_ones_are_in_range():
    # 0 X X - X: three of the four real datapoints are the most recent three, all breaching, whatever the treatment.
    for treat in backtest.TREATMENTS:
        assert states("0 X X - X", treat=treat) == [ALARM]
    # With only the real datapoints, notBreaching does not turn the gap into a good datapoint.
    assert states("X X - X -", treat="notBreaching") == [ALARM]


def test_breaching_fills_as_few_missing_datapoints_as_needed():
    # One real non-breaching datapoint + two filled breaching ones = 2 of 3: OK; the next evaluation has no real one.
    assert states("0 - - - - -", treat="breaching") == [OK, ALARM]


def test_premature_transition_rule_needs_the_breach_to_be_old_enough():
    # One breaching datapoint, then missing: ALARM only once it is datapoints_to_alarm periods old (treat missing).
    timeline = states("- - - - X - - -", treat="missing", evaluation_periods=3, datapoints_to_alarm=3)
    assert timeline == [INSUFFICIENT_DATA, INSUFFICIENT_DATA, ALARM, ALARM]


# --------------------------------------------------------------------------------------------- M of N

def test_m_out_of_n_needs_m_breaching_among_the_last_n():
    # 2 of 3 (the error-rate alarms' default): one breach alone never fires, two within three periods do.
    timeline = states("0 0 0 X 0 0 0 X 0 X 0 0 0", evaluation_periods=3, datapoints_to_alarm=2)
    # Evaluations from the 5th period (the first 4 are its history): X 0 X is the only 2 of 3.
    assert timeline == [OK, OK, OK, OK, OK, ALARM, OK, OK, OK]
    result = evaluate(series("0 0 0 X 0 0 0 X 0 X 0 0 0"), alarm(evaluation_periods=3, datapoints_to_alarm=2))
    assert result["fired"] == 1
    assert result["episodes"] == [{"start": 10 * PERIOD, "end": 11 * PERIOD, "duration": PERIOD, "ongoing": False}]
    assert result["alarm_seconds"] == PERIOD


def test_n_out_of_n_needs_consecutive_breaches():
    assert ALARM not in states("0 0 X X 0 X X 0", evaluation_periods=3, datapoints_to_alarm=3)
    assert states("0 0 X X X 0", evaluation_periods=3, datapoints_to_alarm=3)[-2:] == [ALARM, OK]


def test_fired_counts_transitions_from_ok_and_from_insufficient_data():
    # INSUFFICIENT_DATA -> ALARM (the first breach after a gap) counts as much as OK -> ALARM.
    result = evaluate(series("0 0 0 X 0 0 0 - - - X X"), alarm(evaluation_periods=1, treat="missing"))
    assert [(before, after) for _t, before, after in result["transitions"]] == [
        (INSUFFICIENT_DATA, OK), (OK, ALARM), (ALARM, OK), (OK, INSUFFICIENT_DATA), (INSUFFICIENT_DATA, ALARM)]
    assert result["fired"] == 2
    assert result["episodes"][-1]["ongoing"] is True
    assert result["final_state"] == ALARM


def test_the_first_periods_are_history_for_the_first_evaluation():
    result = evaluate(series("X X 0 0"), alarm(evaluation_periods=1))  # range of 3: evaluations at the 3rd and 4th
    assert result["evaluations"] == 2 and result["datapoints"] == 2 and result["values"] == [LOW, LOW]
    assert result["timeline"] == [(3 * PERIOD, OK), (4 * PERIOD, OK)]


def test_less_than_alarms_breach_below_the_threshold():
    # Low values (0) breach; 2 of 2 from the 4th period on (the first 3 are history).
    timeline = states("X X X 0 0 0 X", comparison="LessThanThreshold", evaluation_periods=2)
    assert timeline == [OK, ALARM, ALARM, OK]


def test_gaps_between_datapoints_are_missing_periods():
    sparse = [(0, LOW), (PERIOD, LOW), (5 * PERIOD, HIGH)]
    assert evaluate(sparse, alarm(evaluation_periods=1, treat="notBreaching"))["timeline"][-1] == (6 * PERIOD, ALARM)
    assert [s for _t, s in evaluate(sparse, alarm(evaluation_periods=1, treat="notBreaching"))["timeline"]] == [
        OK, OK, OK, ALARM]


def test_bad_input_is_refused_in_words():
    with pytest.raises(BacktestError, match="not on the 300 s period grid"):
        evaluate([(0, 1.0), (100, 2.0)], alarm())
    with pytest.raises(BacktestError, match="datapoints_to_alarm must be from 1 to evaluation_periods"):
        evaluate([], alarm(evaluation_periods=2, datapoints_to_alarm=3))
    with pytest.raises(BacktestError, match="anomaly-detection band"):
        evaluate([], alarm(kind="anomaly", comparison="GreaterThanUpperThreshold"))
    with pytest.raises(BacktestError, match="threshold must be a number"):
        evaluate([], alarm(threshold=None))


# --------------------------------------------------------------------------------------------- statistics

RAW = [(0, 4.0), (10, 1.0), (59, 7.0), (60, 2.0), (61, 2.0), (150, 9.0)]


@pytest.mark.parametrize("statistic,expected", [
    ("Average", [(0, 4.0), (60, 2.0), (120, 9.0)]),
    ("Sum", [(0, 12.0), (60, 4.0), (120, 9.0)]),
    ("Minimum", [(0, 1.0), (60, 2.0), (120, 9.0)]),
    ("Maximum", [(0, 7.0), (60, 2.0), (120, 9.0)]),
    ("SampleCount", [(0, 3.0), (60, 2.0), (120, 1.0)]),
    ("p50", [(0, 4.0), (60, 2.0), (120, 9.0)]),
    ("p99", [(0, 7.0), (60, 2.0), (120, 9.0)]),
])
def test_aggregate_per_period(statistic, expected):
    assert aggregate(RAW, 60, statistic) == expected


def test_percentiles_are_nearest_rank():
    values = [(i, float(i)) for i in range(1, 101)]  # 1 .. 100 in one period
    assert aggregate(values, 300, "p90") == [(0, 90.0)]
    assert aggregate(values, 300, "p99.5") == [(0, 100.0)]
    assert aggregate(values, 300, "p100") == [(0, 100.0)]
    assert backtest.nearest_rank([5.0], 1) == 5.0


def test_aggregate_refuses_unknown_statistics():
    with pytest.raises(BacktestError, match="percentile such as p99"):
        aggregate(RAW, 60, "Median")


def test_aggregated_series_replays_like_cloudwatch():
    # Raw latencies every 100 s; the Maximum of 300 s periods crosses 5 in periods 1 and 2 (from 0) only.
    raw = [(t, 1.0) for t in range(0, 1800, 100)] + [(400, 9.0), (700, 8.0)]
    assert [v for _t, v in aggregate(raw, 300, "Maximum")] == [1.0, 9.0, 8.0, 1.0, 1.0, 1.0]
    # 2 of 2: the first evaluation (end of period 3, after 3 periods of history) sees 8 and 1.
    assert evaluate(aggregate(raw, 300, "Maximum"), alarm(evaluation_periods=2))["fired"] == 0
    # 1 of 1: period 2 is evaluated and breaches; period 1 is history only.
    result = evaluate(aggregate(raw, 300, "Maximum"), alarm(evaluation_periods=1))
    assert result["fired"] == 1 and result["alarm_seconds"] == 300
    # With more history before, period 1 is evaluated too.
    result = evaluate(aggregate([(-900, 1.0)] + raw, 300, "Maximum"), alarm(evaluation_periods=1))
    assert result["fired"] == 1 and result["alarm_seconds"] == 600


# --------------------------------------------------------------------------------------------- error rates

def test_rate_series_follows_the_alarm_expression():
    errors = [(0, 1.0), (60, 3.0), (120, None), (180, 0.0), (240, 5.0)]
    invocations = [(0, 10.0), (60, 100.0), (120, 100.0), (180, None), (240, 40.0)]
    assert rate_series(errors, invocations, 50) == [
        (0, 0.0),  # under 50 requests: 0, not 10 %
        (60, 3.0),
        (120, None),  # no errors datapoint: the expression has no value
        (180, None),  # no traffic at all: no value
        (240, 0.0),
    ]


def test_error_rate_alarm_of_the_spec_replays_on_both_sums():
    spec = build_spec("fraud-scoring", "eu-west-1", variants=[{"name": "AllTraffic", "instance_type": "ml.m5.xlarge"}])
    rate = next(a for a in spec["alarms"] if a["metric"] == "Invocation5XXErrors")
    assert backtest.min_invocations_of(rate) == 50
    queries, plans = backtest.build_queries([rate])
    assert sorted(q["MetricStat"]["Metric"]["MetricName"] for q in queries) == ["Invocation5XXErrors", "Invocations"]
    assert {q["MetricStat"]["Stat"] for q in queries} == {"Sum"}
    plan = plans[0]
    # 4 periods of history then 2 of 2 % errors at 100 requests: a 1 % alarm, 2 of 3, fires once.
    start, end = 10 * 300, 16 * 300
    data = {plan["errors"]: dict((t, 2.0) for t in range(start, end, 300)),
            plan["invocations"]: dict((t, 100.0) for t in range(start - 1200, end, 300))}
    data[plan["errors"]].update((t, 0.0) for t in range(start - 1200, start + 600, 300))
    result = backtest.backtest_alarm(plan, data, start, end)
    assert result["evaluated"] and result["fired"] == 1
    assert result["display_threshold"] == "1 % of requests"
    assert result["suggested_display_threshold"] == "2.4 % of requests"


# --------------------------------------------------------------------------------------------- suggestions

def test_suggested_threshold_is_p99_plus_20_percent_rounded_up():
    values = [float(v) for v in range(1, 101)]  # p99 = 99
    assert suggest_threshold(values, "GreaterThanThreshold") == 119  # 118.8 rounded up to 3 digits
    assert suggest_threshold(values, "GreaterThanThreshold", percentile=90, margin=0) == 90
    assert suggest_threshold(values, "LessThanThreshold") == 0.8  # p1 = 1, less 20 %
    assert suggest_threshold([412345.0] * 10, "GreaterThanOrEqualToThreshold") == 495000
    assert suggest_threshold([], "GreaterThanThreshold") is None
    assert suggest_threshold([None, 0.0], "GreaterThanThreshold") == 0


def test_suggested_threshold_in_the_users_units():
    spec = build_spec("fraud-scoring", "eu-west-1", variants=[{"name": "AllTraffic", "instance_type": "ml.m5.xlarge"}])
    by_metric = dict((a["metric"], a) for a in spec["alarms"])
    assert backtest.to_display(620000, by_metric["ModelLatency"]) == "620 ms"  # microseconds -> ms
    assert backtest.to_display(280, by_metric["CPUUtilization"]) == "70 % per vCPU"  # 4 vCPUs
    assert backtest.to_display(91.5, by_metric["MemoryUtilization"]) == "91.5"
    assert backtest.display_factor({"display_threshold": "0 ms", "threshold": 0}) == (1000.0, "ms")


def test_bad_suggestion_settings_are_refused():
    with pytest.raises(BacktestError):
        suggest_threshold([1.0], "GreaterThanThreshold", percentile=0)
    with pytest.raises(BacktestError):
        suggest_threshold([1.0], "LessThanLowerOrGreaterThanUpperThreshold")


# --------------------------------------------------------------------------------------------- GetMetricData plan

def test_queries_are_shared_between_alarms_on_the_same_metric_statistic_and_period():
    a = alarm(name="a")
    b = alarm(name="b", threshold=7.0, evaluation_periods=5)
    c = alarm(name="c", statistic="p99")
    queries, plans = backtest.build_queries([a, b, c, alarm(name="d", kind="anomaly",
                                                            comparison="GreaterThanUpperThreshold")])
    assert len(queries) == 2
    assert plans[0]["series"] == plans[1]["series"] != plans[2]["series"]
    assert plans[3]["skip"].startswith("compares with an anomaly-detection band")
    # The shared query reaches back as far as the alarm with the longer evaluation range needs.
    _plans, requests = backtest.fetch_plan([a, b], 3000, 6000)
    assert [(r["start"], r["end"], len(r["queries"])) for r in requests] == [(3000 - 6 * 300, 6000, 1)]


def test_requests_respect_500_queries_and_100800_datapoints_per_call():
    def query(i, period):
        return {"Id": "q%d" % i, "MetricStat": {"Period": period}}

    # 1200 queries of 14 days at 5 minutes: 4032 datapoints each, so 25 per call (100,800 / 4032), not 500.
    work = [(query(i, 300), 0, 14 * 86400) for i in range(1200)]
    requests = backtest.plan_requests(work)
    assert all(len(r["queries"]) * (r["end"] - r["start"]) // 300 <= 100800 for r in requests)
    assert [len(r["queries"]) for r in requests] == [25] * 48
    # 600 queries of one hour at 1 minute: 60 datapoints each, so the 500-query limit is what splits.
    requests = backtest.plan_requests([(query(i, 60), 0, 3600) for i in range(600)])
    assert [len(r["queries"]) for r in requests] == [500, 100]
    # One query of 14 days at 10 seconds is 120,960 datapoints: cut in time.
    requests = backtest.plan_requests([(query(0, 10), 0, 14 * 86400)])
    assert [(r["start"], r["end"]) for r in requests] == [(0, 1008000), (1008000, 14 * 86400)]


def test_window_is_the_periods_from_start_to_the_last_complete_one():
    # 14 days to any time are 14 days of periods; the first evaluation looks back on 4 periods (5 in range, 3 of 3).
    assert backtest.window_for(300, 3, 1000, 4000) == (900 - 4 * 300, 900, 3900)
    end = 1748736123
    fetch_start, first, last = backtest.window_for(300, 3, end - 14 * 86400, end)
    assert last - first == 14 * 86400 and first - fetch_start == 1200


# --------------------------------------------------------------------------------------------- summary

def test_summary_line_says_how_often_how_long_and_what_to_use():
    a = alarm(threshold=500000, display_threshold="500 ms", evaluation_periods=1)
    _queries, plans = backtest.build_queries([a])
    start = 3 * 86400
    values = dict((t, 300000.0) for t in range(start - 600, start + 86400, 300))
    values.update({start + 3600: 900000.0, start + 3900: 950000.0, start + 7200: 800000.0})
    result = backtest.backtest_alarm(plans[0], {plans[0]["series"]: values}, start, start + 86400)
    assert result["fired"] == 2 and result["alarm_seconds"] == 900 and result["longest_seconds"] == 600
    assert result["summary"] == (
        "sagemaker-monitoring_ep_AllTraffic_ModelLatency: fired 2 times in 1d (15m in ALARM, longest 10m); > 500 ms; "
        "suggested > 960 ms (p99 of 288 datapoints + 20%), which would have fired 0 times")


def test_summary_without_data_and_for_skipped_alarms():
    a = alarm(treat="notBreaching")
    _queries, plans = backtest.build_queries([a, alarm(kind="anomaly", comparison="GreaterThanUpperThreshold")])
    quiet = backtest.backtest_alarm(plans[0], {}, 0, 3600)
    assert quiet["summary"] == "sagemaker-monitoring_ep_AllTraffic_ModelLatency: no datapoints in 1h; the alarm would have been OK (> 5)"
    assert quiet["suggested_threshold"] is None
    assert backtest.backtest_alarm(plans[1], {}, 0, 3600)["summary"].startswith(
        "sagemaker-monitoring_ep_AllTraffic_ModelLatency: not replayed: compares with an anomaly-detection band")


@pytest.mark.parametrize("seconds,text", [(45, "45s"), (600, "10m"), (9300, "2h 35m"), (86400 * 3 + 7200, "3d 2h"),
                                          (3600, "1h"), (86400 * 14, "14d")])
def test_durations_read_like_people_write_them(seconds, text):
    assert backtest.format_duration(seconds) == text


# --------------------------------------------------------------------------------------------- the module

class StubCloudWatch:
    """get_metric_data over canned series, paginating like CloudWatch, refusing the statistics it is told to."""

    def __init__(self, series_by_stat, refuse=(), page_size=2):
        self.series_by_stat = series_by_stat
        self.refuse = refuse
        self.page_size = page_size
        self.calls = []

    def get_metric_data(self, MetricDataQueries, StartTime, EndTime, NextToken=None, **kwargs):
        import botocore.exceptions

        kwargs.pop("aws_retry", None)
        self.calls.append((len(MetricDataQueries), StartTime, EndTime, NextToken))
        if any(q["MetricStat"]["Stat"] in self.refuse for q in MetricDataQueries):
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "InternalFailure", "Message": "statistic not supported"}}, "GetMetricData")
        page = int(NextToken or 0)
        results = []
        more = False
        for q in MetricDataQueries:
            points = [(t, v) for t, v in self.series_by_stat.get(q["MetricStat"]["Stat"], [])
                      if StartTime.timestamp() <= t < EndTime.timestamp()]
            chunk = points[page * self.page_size:(page + 1) * self.page_size]
            more = more or len(points) > (page + 1) * self.page_size
            results.append({"Id": q["Id"], "StatusCode": "Complete",
                            "Timestamps": [datetime.datetime.fromtimestamp(t, tz=datetime.timezone.utc)
                                           for t, _v in chunk],
                            "Values": [v for _t, v in chunk]})
        answer = {"MetricDataResults": results}
        if more:
            answer["NextToken"] = str(page + 1)
        return answer


def run_backtest(monkeypatch, capsys, client, args):
    from module_runner import run_module
    from ansible_collections.mlops.sagemaker_monitoring.plugins.modules import alarm_backtest

    monkeypatch.setattr(alarm_backtest.AnsibleAWSModule, "client", lambda self, *a, **k: client)
    return run_module(alarm_backtest, dict({"region": "eu-west-1"}, **args), capsys)


def test_module_replays_pages_refused_queries_and_anomaly_alarms(monkeypatch, capsys):
    start = 1748736000  # 2025-06-01T00:00:00Z
    averages = [(t, 2.0) for t in range(start - 1200, start + 3600, 300)]
    averages[6] = (averages[6][0], 9.0)  # one breach, in the window
    client = StubCloudWatch({"Average": averages}, refuse=("p99",))
    alarms = [alarm(name="avg", evaluation_periods=1, display_threshold="5"),
              alarm(name="pct", statistic="p99"),
              alarm(name="band", kind="anomaly", comparison="GreaterThanUpperThreshold", threshold=None)]
    code, result = run_backtest(monkeypatch, capsys, client, {
        "alarms": alarms, "start_time": "2025-06-01T00:00:00Z", "end_time": "2025-06-01T01:00:00Z"})
    assert code == 0, result
    assert result["changed"] is False
    avg, pct, band = result["alarms"]
    assert avg["evaluated"] and avg["fired"] == 1 and avg["alarm_seconds"] == 300
    assert avg["episodes"] == [{"start": "2025-06-01T00:15:00Z", "end": "2025-06-01T00:20:00Z",
                                "duration_seconds": 300, "ongoing": False}]
    assert avg["datapoints"] == 12 and avg["periods"] == 12
    assert not pct["evaluated"] and "refused the query of ModelLatency (p99)" in pct["note"]
    assert not band["evaluated"] and "anomaly-detection" in band["note"]
    assert result["summary"][0].startswith("avg: fired once in 1h (5m in ALARM, longest 5m); > 5; suggested > 10.8")
    # 14 periods (12 and 2 of history) in pages of 2: 7 calls through NextToken; the p99 query was refused twice
    # (in its call, then alone).
    assert result["requests"] == 7
    assert [token for _n, _s, _e, token in client.calls].count(None) == 3 and len(client.calls) == 9
    assert result["start_time"] == "2025-06-01T00:00:00Z"


def test_module_check_mode_reads_the_same(monkeypatch, capsys):
    client = StubCloudWatch({"Average": []})
    code, result = run_backtest(monkeypatch, capsys, client, {
        "alarms": [alarm(name="quiet", treat="notBreaching")], "days": 1, "end_time": "2025-06-02T00:00:00Z",
        "_ansible_check_mode": True})
    assert code == 0 and result["changed"] is False
    assert result["summary"] == ["quiet: no datapoints in 1d; the alarm would have been OK (> 5)"]


def test_module_notes_what_cloudwatch_no_longer_keeps():
    from ansible_collections.mlops.sagemaker_monitoring.plugins.modules.alarm_backtest import retention_note

    now = 1748736000
    assert retention_note(10, now - 3600, now) is None
    assert retention_note(10, now - 4 * 3600, now).startswith("CloudWatch keeps 10-second datapoints for 3h only")
    assert retention_note(60, now - 14 * 86400, now) is None
    assert "for 15d only" in retention_note(60, now - 16 * 86400, now)
    assert retention_note(300, now - 30 * 86400, now) is None
    assert retention_note(3600, now - 400 * 86400, now) is None


def test_module_history_ends_now_at_the_latest(monkeypatch, capsys):
    code, result = run_backtest(monkeypatch, capsys, StubCloudWatch({}), {
        "alarms": [alarm()], "days": 1, "end_time": "2999-01-01T00:00:00Z"})
    assert code == 0
    assert result["end_time"] < "2999" and result["alarms"][0]["end"] <= result["end_time"]


@pytest.mark.parametrize("args,message", [
    ({"days": 0}, "days must be from 1 to 455"),
    ({"end_time": "yesterday"}, "end_time 'yesterday' is not an ISO 8601 UTC time"),
    ({"start_time": "2025-06-02T00:00:00Z", "end_time": "2025-06-01T00:00:00Z"}, "must start before it ends"),
    ({"alarms": [{"name": "x", "period": 300}]}, "alarms: x: evaluation_periods must be"),
])
def test_module_refuses_bad_arguments_in_words(monkeypatch, capsys, args, message):
    code, result = run_backtest(monkeypatch, capsys, StubCloudWatch({}), dict({"alarms": [alarm()]}, **args))
    assert code == 1 and result["failed"]
    assert message in result["msg"], result["msg"]
    json.dumps(result)


def test_metric_data_pages_follows_next_token_with_retries_on():
    from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.cloudwatch_data import metric_data_pages

    class Client:
        def __init__(self):
            self.calls = []

        def get_metric_data(self, **kwargs):
            self.calls.append(kwargs)
            return {"MetricDataResults": [{"Id": "m%d" % len(self.calls)}],
                    "NextToken": "t%d" % len(self.calls) if len(self.calls) < 3 else None}

    client = Client()
    pages = list(metric_data_pages(client, [{"Id": "m"}], "start", "end"))
    assert [p["MetricDataResults"][0]["Id"] for p in pages] == ["m1", "m2", "m3"]
    assert [c.get("NextToken") for c in client.calls] == [None, "t1", "t2"]
    assert all(c["aws_retry"] and c["ScanBy"] == "TimestampAscending" for c in client.calls)
