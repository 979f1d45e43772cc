#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: alarm_backtest
short_description: Replay an endpoint's alarms on its metric history
version_added: 1.0.0
description:
  - Fetches the last O(days) of the metrics the alarms watch (GetMetricData, read-only) and replays each alarm
    with CloudWatch's evaluation rules, period by period, to tell how many times it would have fired and for
    how long.
  - The rules are those of the CloudWatch user guide, including its table of how missing data is treated
    (C(missing), C(ignore), C(breaching), C(notBreaching)) and M out of N datapoints; the evaluation range
    is the alarm's evaluation periods plus 2. Error-rate alarms are replayed on their expression
    C(IF(invocations >= N, 100 * errors / invocations, 0)), computed from the Sum of both metrics.
  - Suggests a threshold per alarm from the history, in the units of the alarm's threshold (for a high-value
    alarm the 99th percentile plus 20 %, see O(percentile) and O(margin)), and how often that one would have
    fired.
  - Anomaly-detection alarms are not replayed (their band comes from CloudWatch's model); they are listed
    with a note. So are alarms whose query CloudWatch refuses (an emulator refusing a percentile, say).
  - "Each call is retried in botocore's standard retry mode, 10 times unless O(aws_config) says otherwise (the
    backtest playbook passes C(endpoint_monitoring_aws_config)): throttling, 5xx answers with or without an error
    code, dropped connections and timeouts, with a jittered backoff. A query refused for good (a 4xx answer, or a
    fault that outlasts the retries) leaves its alarms out, with a note."
  - Never changes anything; check mode is the same run.
options:
  alarms:
    description:
      - The alarms to replay, as in RV(mlops.sagemaker_monitoring.monitoring_prepare#module:spec.alarms).
      - Each needs C(name), C(period), C(evaluation_periods), C(comparison) and C(threshold) (CloudWatch's
        units), and C(namespace), C(metric), C(dimensions), C(statistic) for a metric alarm, or C(kind=math)
        with C(metrics) (queries C(errors) and C(invocations)) and C(expression) for an error-rate alarm.
        C(datapoints_to_alarm) defaults to C(evaluation_periods), C(treat_missing_data) to C(missing);
        C(display_threshold) gives the units of the suggestion.
    type: list
    elements: dict
    required: true
  days:
    description:
      - Length of the history, in days (1 to 455). CloudWatch keeps 10 and 30 second datapoints for 3 hours,
        1 minute ones for 15 days, 5 minute ones for 63 days; periods older than that come back empty and
        are replayed as missing (each alarm's C(note) says so).
    type: int
    default: 14
  start_time:
    description:
      - Start of the history, ISO 8601 in UTC (C(2025-06-01T00:00:00Z)), instead of O(days) before O(end_time).
    type: str
  end_time:
    description:
      - End of the history, ISO 8601 in UTC. Default, and latest, is now. Only complete periods are replayed.
    type: str
  percentile:
    description: Percentile of the history the suggested threshold starts from (its mirror for C(LessThan) alarms).
    type: float
    default: 99
  margin:
    description: Share of that percentile added to it (taken from it for C(LessThan) alarms); C(0.2) is 20 %.
    type: float
    default: 0.2
  max_episodes:
    description: How many ALARM episodes to list per alarm (the oldest first); the counts cover all of them.
    type: int
    default: 5
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - mlops.sagemaker_monitoring contributors (@example)
"""

EXAMPLES = r"""
- name: Check the endpoint's settings and compute its alarms (inside the endpoint_monitoring role's task list)
  mlops.sagemaker_monitoring.monitoring_prepare:
    argument_specs: "{{ role_path }}/meta/argument_specs.yml"
    template: "{{ role_path }}/templates/monitoring_stack.yml.j2"
  register: prepared

- name: Replay its alarms on the last two weeks
  mlops.sagemaker_monitoring.alarm_backtest:
    alarms: "{{ prepared.spec.alarms }}"
    days: 14
    region: eu-west-1
  register: backtest

- name: Say how often each alarm would have fired
  ansible.builtin.debug:
    msg: "{{ backtest.summary }}"

- name: Replay one alarm of your own on a fixed week
  mlops.sagemaker_monitoring.alarm_backtest:
    alarms:
      - name: churn-model-AllTraffic-ModelLatency
        namespace: AWS/SageMaker
        metric: ModelLatency
        dimensions:
          - {Name: EndpointName, Value: churn-model}
          - {Name: VariantName, Value: AllTraffic}
        statistic: p99
        period: 300
        evaluation_periods: 3
        datapoints_to_alarm: 2
        comparison: GreaterThanThreshold
        threshold: 500000
        display_threshold: 500 ms
        treat_missing_data: notBreaching
    start_time: "2025-06-01T00:00:00Z"
    end_time: "2025-06-08T00:00:00Z"
    region: eu-west-1
"""

RETURN = r"""
start_time:
  description: Start of the history (UTC).
  returned: success
  type: str
  sample: "2025-06-01T00:00:00Z"
end_time:
  description: End of the history (UTC).
  returned: success
  type: str
  sample: "2025-06-15T00:00:00Z"
requests:
  description: Number of GetMetricData calls made (pages included).
  returned: success
  type: int
summary:
  description: One line per alarm, as in RV(alarms[].summary).
  returned: success
  type: list
  elements: str
  sample:
    - "sagemaker-monitoring_churn-model_AllTraffic_ModelLatency: fired 3 times in 14d (45m in ALARM, longest 20m); > 300 ms;
      suggested > 261 ms (p99 of 4031 datapoints + 20%), which would have fired 3 times"
alarms:
  description: The replay of each alarm, in the order given.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: Alarm name.
      type: str
    evaluated:
      description: Whether the alarm was replayed (false for anomaly-detection alarms and refused queries).
      type: bool
    note:
      description: Why it was not replayed, or what limits the replay (CloudWatch's retention).
      type: str
      returned: when there is something to say
    fired:
      description: Transitions into ALARM (from OK or INSUFFICIENT_DATA).
      type: int
    alarm_seconds:
      description: Seconds spent in ALARM.
      type: int
    longest_seconds:
      description: The longest ALARM episode, in seconds.
      type: int
    episodes:
      description: The first O(max_episodes) ALARM episodes, C(start), C(end) (UTC), C(duration_seconds), C(ongoing).
      type: list
      elements: dict
    episode_count:
      description: All ALARM episodes.
      type: int
    periods:
      description: Periods evaluated.
      type: int
    datapoints:
      description: Periods with a datapoint among those.
      type: int
    final_state:
      description: The state at the end of the history.
      type: str
    threshold:
      description: The alarm's threshold, in CloudWatch's units.
      type: float
    suggested_threshold:
      description: The suggested threshold in CloudWatch's units; null without datapoints.
      type: float
    suggested_display_threshold:
      description: The same in the units of the alarm's display_threshold (C(620 ms), C(70 % per vCPU)).
      type: str
    suggested_fired:
      description: How many times the alarm would have fired with the suggested threshold.
      type: int
    summary:
      description: The readable line.
      type: str
"""

import calendar
import datetime
import time

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils import backtest
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.client_config import client_config
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.cloudwatch_data import metric_data_pages

MAX_DAYS = 455  # CloudWatch keeps hourly datapoints for 455 days
# Errors that mean the caller cannot read CloudWatch at all: fail rather than report every alarm as refused.
FATAL_CODES = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnrecognizedClientException",
               "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException", "InvalidSignatureException",
               "SignatureDoesNotMatch", "MissingAuthenticationToken")
THROTTLING_CODES = ("Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded")
# How long CloudWatch keeps datapoints of a given resolution (seconds of period -> seconds kept).
RETENTION = ((60, 3 * 3600), (300, 15 * 86400), (3600, 63 * 86400))
READ_TIMEOUT = 300  # seconds


class ThrottlingRetry(AWSRetry):
    """More retries for throttling that outlasts the client's own (botocore's standard mode, which retries every
    transient fault): a query the service refuses is not asked again, and its alarms are reported as not
    replayed."""

    @staticmethod
    def found(response_code, catch_extra_error_codes=None):
        return response_code in THROTTLING_CODES


def parse_time(text, option):
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%MZ", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S",
                "%Y-%m-%d"):
        try:
            return calendar.timegm(time.strptime(text, fmt))
        except ValueError:
            continue
    raise ValueError("%s %r is not an ISO 8601 UTC time such as 2025-06-01T12:00:00Z" % (option, text))


def iso(epoch):
    return datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc(epoch):
    return datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc)


def error_code(e):
    return getattr(e, "response", {}).get("Error", {}).get("Code", "")


def retention_note(period, start, now):
    """What CloudWatch no longer has for this period, or None."""
    kept = next((seconds for shorter_than, seconds in RETENTION if period < shorter_than), None)
    if kept is None or now - start <= kept:
        return None
    return ("CloudWatch keeps %d-second datapoints for %s only; the periods before %s come back empty and are "
            "replayed as missing" % (period, backtest.format_duration(kept), iso(now - kept)))


class Fetcher:
    """Runs the planned GetMetricData calls; collects {query id: {epoch: value}} and the refused queries."""

    def __init__(self, module):
        self.module = module
        # A call answers with up to 100,800 datapoints: give it longer than botocore's 60 s (emulators take longer
        # still over days of history).
        self.client = module.client(
            "cloudwatch", retry_decorator=ThrottlingRetry.jittered_backoff(retries=8, delay=1),
            config=client_config(read_timeout=READ_TIMEOUT))
        self.data = {}
        self.refused = {}
        self.calls = 0

    def _call(self, queries, start, end):
        """All pages of one call; raises ClientError when the service refuses it."""
        found = {}
        for answer in metric_data_pages(self.client, queries, utc(start), utc(end)):
            self.calls += 1
            for result in answer.get("MetricDataResults", []):
                points = found.setdefault(result["Id"], {})
                if result.get("StatusCode") in ("Forbidden", "InternalError"):
                    self.refused[result["Id"]] = "status %s" % result["StatusCode"]
                for stamp, value in zip(result.get("Timestamps", []), result.get("Values", [])):
                    points[calendar.timegm(stamp.utctimetuple())] = value
        return found

    def run(self, request):
        try:
            results = self._call(request["queries"], request["start"], request["end"])
        except botocore.exceptions.ClientError as e:
            if error_code(e) in FATAL_CODES:
                self.module.fail_json_aws(e, msg="Failed to read metric data from CloudWatch")
            # The call was refused: find out which of its queries by asking for each alone.
            results = {}
            for query in request["queries"]:
                try:
                    results.update(self._call([query], request["start"], request["end"]))
                except botocore.exceptions.ClientError as single:
                    if error_code(single) in FATAL_CODES:
                        self.module.fail_json_aws(single, msg="Failed to read metric data from CloudWatch")
                    self.refused[query["Id"]] = "%s: %s" % (
                        error_code(single) or "error", single.response.get("Error", {}).get("Message", ""))
        except botocore.exceptions.BotoCoreError as e:
            self.module.fail_json_aws(e, msg="Failed to read metric data from CloudWatch")
        for query_id, points in results.items():
            self.data.setdefault(query_id, {}).update(points)


def describe_query(plan, query_id):
    alarm = plan["alarm"]
    if plan.get("series") == query_id:
        return "%s (%s)" % (alarm.get("metric"), alarm.get("statistic"))
    return "%s of %s" % ("errors" if plan.get("errors") == query_id else "invocations", alarm.get("name"))


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            alarms=dict(type="list", elements="dict", required=True),
            days=dict(type="int", default=14),
            start_time=dict(type="str"),
            end_time=dict(type="str"),
            percentile=dict(type="float", default=99.0),
            margin=dict(type="float", default=0.2),
            max_episodes=dict(type="int", default=5),
        ),
        supports_check_mode=True,
    )
    p = module.params
    now = int(time.time())
    if not 1 <= p["days"] <= MAX_DAYS:
        module.fail_json(msg="days must be from 1 to %d, got %d" % (MAX_DAYS, p["days"]))
    if not 0 < p["percentile"] <= 100:
        module.fail_json(msg="percentile must be above 0 and at most 100, got %s" % p["percentile"])
    if p["margin"] < 0:
        module.fail_json(msg="margin must not be negative, got %s" % p["margin"])
    if p["max_episodes"] < 0:
        module.fail_json(msg="max_episodes must not be negative, got %d" % p["max_episodes"])
    try:
        # Periods still to come have no datapoints yet: they are not history, so the window ends now at the latest.
        end = min(parse_time(p["end_time"], "end_time"), now) if p["end_time"] else now
        start = parse_time(p["start_time"], "start_time") if p["start_time"] else end - p["days"] * 86400
    except ValueError as e:
        module.fail_json(msg=str(e))
    if start >= end:
        module.fail_json(msg="the history must start before it ends: %s is not before %s" % (iso(start), iso(end)))
    if end - start > MAX_DAYS * 86400:
        module.fail_json(msg="the history may be %d days at most, got %s" % (
            MAX_DAYS, backtest.format_duration(end - start)))

    try:
        plans, requests = backtest.fetch_plan(p["alarms"], start, end)
    except backtest.BacktestError as e:
        module.fail_json(msg="alarms: %s" % e)

    fetcher = Fetcher(module) if requests else None
    for request in requests:
        fetcher.run(request)
    data = fetcher.data if fetcher else {}
    refused = fetcher.refused if fetcher else {}

    results = []
    for plan in plans:
        ids = [plan[role] for role in ("series", "errors", "invocations") if role in plan]
        bad = [i for i in ids if i in refused]
        if bad:
            plan = dict(plan, skip="CloudWatch refused the query of %s (%s)" % (
                ", ".join(describe_query(plan, i) for i in bad), "; ".join(refused[i] for i in bad)))
        try:
            result = backtest.backtest_alarm(plan, data, start, end, percentile=p["percentile"], margin=p["margin"],
                                             max_episodes=p["max_episodes"])
        except backtest.BacktestError as e:
            module.fail_json(msg="alarms: %s" % e)
        if result["evaluated"]:
            note = retention_note(result["period"], start, now)
            if note:
                result["note"] = note
            result["start"] = iso(result["start"])
            result["end"] = iso(result["end"])
            result["episodes"] = [{"start": iso(e["start"]), "end": iso(e["end"]), "duration_seconds": e["duration"],
                                   "ongoing": e["ongoing"]} for e in result["episodes"]]
        results.append(result)

    module.exit_json(
        changed=False,
        start_time=iso(start),
        end_time=iso(end),
        requests=fetcher.calls if fetcher else 0,
        alarms=results,
        summary=[r["summary"] for r in results],
    )


if __name__ == "__main__":
    main()
