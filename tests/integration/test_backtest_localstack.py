"""The alarm backtest against LocalStack's own alarm evaluation: one alarm, a known series with a breach, a gap,
a quiet stretch and a second breach; LocalStack evaluates the alarm as the datapoints come due, and the replay
of the same series (GetMetricData, then module_utils/backtest.py, and the alarm_backtest module through
ansible-playbook) must fire as often as LocalStack did.

Where LocalStack and the replay differ, and the tolerance that follows:
- LocalStack evaluates every period from the moment the alarm was created, on the 10 seconds before that moment,
  not on CloudWatch's period grid; the replay evaluates at the end of each grid period. Each datapoint sits in
  the middle of its period, so LocalStack sees it between 5 s before and 5 s after the replay does: ALARM
  transitions agree within half a period (and SLACK seconds of rounding and scheduling).
- LocalStack counts every real datapoint of its evaluation range (evaluation periods + 2), where CloudWatch
  (and the replay) evaluate the most recent `evaluation_periods` of them; with 1 of 1 it leaves ALARM up to 2
  periods later. The quiet stretch is 3 periods long so that LocalStack reaches OK before the second breach,
  and the number of ALARM transitions is the same.
- LocalStack's DescribeAlarmHistory stamps an item with the time of the previous state change; the evaluation
  time is the new state's queryDate.
"""

import calendar
import datetime
import json
import os
import subprocess
import time

import pytest
import yaml

from conftest import REGION, ROOT, ansible_env, run_playbook, unique

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils import backtest

pytestmark = pytest.mark.integration

PERIOD = 10
THRESHOLD = 100000.0  # ModelLatency in microseconds: 100 ms
# One value per period; None is a period without a datapoint.
SERIES = (200000.0, None, 50000.0, 50000.0, 50000.0, 200000.0)
LEAD = 3  # seconds between putting the data and the first period
# LocalStack's evaluation times: the queryDate is in whole seconds, and its scheduler may run late when other
# alarms of the session are evaluated at the same moment.
SLACK = 4


def utc(epoch):
    return datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc)


def iso(epoch):
    return utc(epoch).strftime("%Y-%m-%dT%H:%M:%SZ")


def alarm_spec(endpoint):
    """An alarm as endpoint_spec.build_spec writes it (names without "test": Ansible hides the local servers'
    credential, "test", wherever it appears in a module's result)."""
    return {
        "name": "sagemaker-monitoring_%s_AllTraffic_ModelLatency" % endpoint, "kind": "metric",
        "metric": "ModelLatency",
        "namespace": "AWS/SageMaker", "statistic": "Maximum",
        "dimensions": [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": "AllTraffic"}],
        "period": PERIOD, "evaluation_periods": 1, "datapoints_to_alarm": 1, "comparison": "GreaterThanThreshold",
        "threshold": THRESHOLD, "display_threshold": "100 ms", "treat_missing_data": "missing",
    }


def localstack_transitions(cloudwatch, name):
    """(evaluation time, old state, new state) of each state change LocalStack's evaluation made."""
    items = cloudwatch.describe_alarm_history(AlarmName=name, HistoryItemType="StateUpdate")["AlarmHistoryItems"]
    changes = []
    for item in items:
        data = json.loads(item["HistoryData"])
        reason = data["newState"].get("stateReasonData") or {}
        stamp = calendar.timegm(time.strptime(reason["queryDate"], "%Y-%m-%dT%H:%M:%S+0000")) if reason.get(
            "queryDate") else item["Timestamp"].timestamp()
        changes.append((stamp, data["oldState"]["stateValue"], data["newState"]["stateValue"]))
    return sorted(changes)


def fetch_series(cloudwatch, alarm, start, end):
    answer = cloudwatch.get_metric_data(
        MetricDataQueries=[{"Id": "m", "MetricStat": {
            "Metric": {"Namespace": alarm["namespace"], "MetricName": alarm["metric"],
                       "Dimensions": alarm["dimensions"]},
            "Period": PERIOD, "Stat": alarm["statistic"]}}],
        StartTime=utc(start), EndTime=utc(end), ScanBy="TimestampAscending")["MetricDataResults"][0]
    return dict((calendar.timegm(t.utctimetuple()), v) for t, v in zip(answer["Timestamps"], answer["Values"]))


def start_module(localstack, tmp_path, alarm, start, end):
    """Run the alarm_backtest module through ansible-playbook (in check mode: it only reads) in the background."""
    result_file = str(tmp_path / "result.json")
    play = [{
        "name": "Backtest one alarm", "hosts": "localhost", "connection": "local", "gather_facts": False,
        "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
        "tasks": [
            {"name": "Replay the alarm", "register": "replay",
             "mlops.sagemaker_monitoring.alarm_backtest": {
                 "alarms": [alarm], "start_time": iso(start), "end_time": iso(end), "region": REGION}},
            {"name": "Keep the result", "changed_when": False, "check_mode": False,
             "ansible.builtin.copy": {"content": "{{ replay | to_json }}", "dest": result_file, "mode": "0644"}},
        ],
    }]
    playbook = str(tmp_path / "replay.yml")
    with open(playbook, "w") as f:
        yaml.safe_dump(play, f, sort_keys=False)
    process = subprocess.Popen([os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), "-i", "localhost,", playbook,
                                "--check"], cwd=ROOT, env=ansible_env(localstack), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, universal_newlines=True)
    return process, result_file


def module_result(process, result_file):
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output
    with open(result_file) as f:
        return json.load(f)


def test_replay_fires_as_often_as_localstack_evaluation(localstack, tmp_path):
    began = time.time()
    cloudwatch = localstack.client("cloudwatch", REGION)
    endpoint = unique("replay")
    alarm = alarm_spec(endpoint)
    cloudwatch.put_metric_alarm(
        AlarmName=alarm["name"], Namespace=alarm["namespace"], MetricName=alarm["metric"],
        Dimensions=alarm["dimensions"], Statistic=alarm["statistic"], Period=PERIOD,
        EvaluationPeriods=alarm["evaluation_periods"], DatapointsToAlarm=alarm["datapoints_to_alarm"],
        Threshold=alarm["threshold"], ComparisonOperator=alarm["comparison"],
        TreatMissingData=alarm["treat_missing_data"], ActionsEnabled=False)
    # The series starts at the next period boundary; each datapoint is in the middle of its period. They are all
    # put now, with their own timestamps: LocalStack evaluates each once its time has come, as if it arrived then.
    t0 = (int(time.time()) + LEAD) // PERIOD * PERIOD + PERIOD
    end = t0 + PERIOD * len(SERIES)
    cloudwatch.put_metric_data(Namespace=alarm["namespace"], MetricData=[
        {"MetricName": alarm["metric"], "Dimensions": alarm["dimensions"], "Value": value, "Unit": "Microseconds",
         "StorageResolution": 1, "Timestamp": utc(t0 + PERIOD * i + PERIOD // 2)}
        for i, value in enumerate(SERIES) if value is not None])

    # Once the last period is over, the module replays the series (while LocalStack may still be evaluating it).
    time.sleep(max(0, end + 1 - time.time()))
    module = start_module(localstack, tmp_path, alarm, t0, end)

    # LocalStack's last evaluation that can see the last datapoint is at most a period after it; after that, with
    # no more data, the alarm can only stay in ALARM or go to INSUFFICIENT_DATA.
    time.sleep(max(0, end + PERIOD // 2 + SLACK + 1 - time.time()))
    observed = localstack_transitions(cloudwatch, alarm["name"])
    observed_alarms = [t for t, _old, new in observed if new == backtest.ALARM]

    # The same series, as GetMetricData returns it, replayed: the history before t0 is what the first
    # evaluation looks back on (empty here, as it was for LocalStack).
    history = (backtest.evaluation_range(alarm["evaluation_periods"]) - 1) * PERIOD
    fetched = fetch_series(cloudwatch, alarm, t0 - history, end)
    assert [fetched.get(t0 + PERIOD * i) for i in range(len(SERIES))] == list(SERIES)
    replay = backtest.evaluate(backtest.fill_grid(fetched, t0 - history, end, PERIOD), alarm)
    predicted_alarms = [t for t, _old, new in replay["transitions"] if new == backtest.ALARM]

    # The breach, the gap (no change: the breaching datapoint is still the most recent one), OK, the second breach.
    assert [(t - t0, old, new) for t, old, new in replay["transitions"]] == [
        (10, "INSUFFICIENT_DATA", "ALARM"), (30, "ALARM", "OK"), (60, "OK", "ALARM")]
    assert replay["fired"] == 2
    assert len(observed_alarms) == replay["fired"], (observed, replay["transitions"])
    for seen, predicted in zip(observed_alarms, predicted_alarms):
        assert abs(seen - predicted) <= PERIOD / 2 + SLACK, (observed, replay["transitions"])
    # Leaving ALARM: LocalStack keeps every datapoint of its 3-period range in view, so it may be 2 periods later.
    seen_ok = [t for t, old, new in observed if old == backtest.ALARM and new == backtest.OK]
    assert len(seen_ok) == 1, observed
    assert -(PERIOD / 2 + SLACK) <= seen_ok[0] - (t0 + 30) <= 2 * PERIOD + PERIOD / 2 + SLACK, observed
    assert cloudwatch.describe_alarms(AlarmNames=[alarm["name"]])["MetricAlarms"][0]["StateValue"] == "ALARM"

    # The module, through ansible-playbook (in check mode: it reads only), says the same.
    result = module_result(*module)
    assert result["changed"] is False
    (replayed,) = result["alarms"]
    assert replayed["evaluated"] and replayed["fired"] == len(observed_alarms) == 2
    assert replayed["datapoints"] == 5 and replayed["periods"] == len(SERIES)
    assert [e["start"] for e in replayed["episodes"]] == [iso(t) for t in predicted_alarms]
    assert replayed["episodes"][0]["duration_seconds"] == 20
    assert replayed["episodes"][1]["ongoing"] is True
    assert replayed["final_state"] == "ALARM"
    assert replayed["suggested_display_threshold"] == "240 ms"  # p99 of the series (200 ms) + 20 %
    assert result["summary"][0].startswith("%s: fired 2 times in 1m (20s in ALARM, longest 20s); > 100 ms; "
                                           "suggested > 240 ms" % alarm["name"]), result["summary"]
    assert time.time() - began < 120


def test_backtest_playbook_replays_the_alarms_the_role_would_deploy(localstack, inventory):
    """playbooks/backtest_alarms.yml on one endpoint of the default settings: a 15-minute latency breach an hour ago
    fires ModelLatency (Average over 5 minutes, 3 of 3) once, for one period; every other alarm has no data."""
    endpoint = inventory.add("fleet", unique("replayed"))
    cloudwatch = localstack.client("cloudwatch", REGION)
    now = int(time.time())
    breach = now // 300 * 300 - 3600
    dims = [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": "AllTraffic"}]
    latencies = [(breach + 300 * i, value) for i, value in enumerate((1500000.0, 1600000.0, 1700000.0, 400000.0))]
    cloudwatch.put_metric_data(Namespace="AWS/SageMaker", MetricData=[
        {"MetricName": "ModelLatency", "Dimensions": dims, "Value": value, "Unit": "Microseconds",
         "Timestamp": utc(t + 150)} for t, value in latencies])

    run = run_playbook(localstack, inventory, "backtest_alarms.yml", "-e", "backtest_days=1")
    assert run.rc == 0, run.output
    assert run.changed(endpoint) == 0 and run.failed(endpoint) == 0
    flat = " ".join(run.output.split())  # the YAML callback wraps long lines
    alarm = "sagemaker-monitoring_%s_AllTraffic_%%s" % endpoint
    assert (alarm % "ModelLatency: fired once in 1d (5m in ALARM, longest 5m); > 1000 ms") in flat
    assert alarm % "CPUUtilization: no datapoints in 1d; the alarm would have been INSUFFICIENT_DATA" in flat
    assert alarm % "Invocation5XXErrors: no datapoints in 1d; the alarm would have been OK" in flat
