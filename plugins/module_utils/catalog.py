# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one catalog of SageMaker endpoint metrics the collection alarms on and graphs.

Everything else (validation, alarm specs, dashboard widgets, docs, tests) reads this table.
Adding a metric is adding one entry here.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections

INVOCATION_NAMESPACE = "AWS/SageMaker"
INSTANCE_NAMESPACE = "/aws/sagemaker/Endpoints"

ALARM_KEYS = (
    "enabled",
    "threshold",
    "period",
    "evaluation_periods",
    "datapoints_to_alarm",
    "statistic",
    "comparison",
    "treat_missing_data",
)

Metric = collections.namedtuple(
    "Metric",
    [
        "name",
        "namespace",
        "unit",  # unit of the raw datapoints, as CloudWatch reports them
        "widget",  # dashboard graph the metric is drawn in
        "ceiling",  # highest value Average/Minimum/Maximum/percentiles can take; None: unbounded
        "defaults",  # alarm settings before group_vars and host_vars
        "runbook",  # what to look at when the alarm fires (alarm description)
    ],
)


def _alarm(enabled=True, threshold=None, period=300, evaluation_periods=3, datapoints_to_alarm=None,
           statistic="Average", comparison="GreaterThanThreshold", treat_missing_data="notBreaching"):
    return {
        "enabled": enabled,
        "threshold": threshold,
        "period": period,
        "evaluation_periods": evaluation_periods,
        "datapoints_to_alarm": evaluation_periods if datapoints_to_alarm is None else datapoints_to_alarm,
        "statistic": statistic,
        "comparison": comparison,
        "treat_missing_data": treat_missing_data,
    }


# Order matters: it is the order of alarms in the template and of lines in the dashboard graphs.
METRICS = collections.OrderedDict(
    (m.name, m)
    for m in (
        Metric(
            "Invocations", INVOCATION_NAMESPACE, "Count", "Traffic", None,
            # Off by default: an idle endpoint is normal for many teams. Turn it on where traffic
            # stopping is an outage; missing data then counts as "no traffic".
            _alarm(enabled=False, threshold=1, statistic="Sum", comparison="LessThanThreshold",
                   treat_missing_data="breaching"),
            "No requests reached the variant. Check the callers and the endpoint's status.",
        ),
        Metric(
            "InvocationsPerInstance", INVOCATION_NAMESPACE, "Count", "Traffic", None,
            _alarm(threshold=30000, statistic="Sum"),
            "Requests per instance are above what one instance is sized for. Consider scaling out.",
        ),
        Metric(
            "Invocation4XXErrors", INVOCATION_NAMESPACE, "Count", "Errors", 1.0,
            # Each request publishes 1 or 0, so Average is the error rate (0..1).
            _alarm(threshold=0.05, datapoints_to_alarm=2),
            "More than the threshold share of requests was rejected as bad input (4XX). "
            "Check recent client releases and the request payloads.",
        ),
        Metric(
            "Invocation5XXErrors", INVOCATION_NAMESPACE, "Count", "Errors", 1.0,
            _alarm(threshold=0.01, datapoints_to_alarm=2),
            "The model container failed requests (5XX). Check the endpoint's CloudWatch logs "
            "(/aws/sagemaker/Endpoints/<endpoint>).",
        ),
        Metric(
            "ModelLatency", INVOCATION_NAMESPACE, "Microseconds", "Latency", None,
            _alarm(threshold=1000000),
            "The model takes longer than the threshold (microseconds) to answer. Check the "
            "instance utilization graphs and recent model changes.",
        ),
        Metric(
            "OverheadLatency", INVOCATION_NAMESPACE, "Microseconds", "Latency", None,
            _alarm(threshold=200000),
            "SageMaker's own overhead around the model is high (microseconds). Check payload sizes "
            "and the AWS Health Dashboard.",
        ),
        Metric(
            "CPUUtilization", INSTANCE_NAMESPACE, "Percent", "CPU", None,
            # Percent summed over vCPUs (0..100 x vCPUs), hence no ceiling.
            _alarm(threshold=80, treat_missing_data="missing"),
            "CPU is saturated (percent summed over all vCPUs). Scale out or use a larger instance.",
        ),
        Metric(
            "MemoryUtilization", INSTANCE_NAMESPACE, "Percent", "Memory and disk", 100.0,
            _alarm(threshold=85, treat_missing_data="missing"),
            "The container is close to running out of memory. Check the model's footprint.",
        ),
        Metric(
            "DiskUtilization", INSTANCE_NAMESPACE, "Percent", "Memory and disk", 100.0,
            _alarm(threshold=85, treat_missing_data="missing"),
            "The instance's disk is filling up. Check what the container writes locally.",
        ),
        Metric(
            "GPUUtilization", INSTANCE_NAMESPACE, "Percent", "GPU", None,
            _alarm(threshold=90, treat_missing_data="missing"),
            "GPUs are saturated (percent summed over all GPUs). Scale out or use a larger instance.",
        ),
        Metric(
            "GPUMemoryUtilization", INSTANCE_NAMESPACE, "Percent", "GPU", None,
            _alarm(threshold=90, treat_missing_data="missing"),
            "GPU memory is nearly full (percent summed over all GPUs). Check batch sizes and the model.",
        ),
    )
)

# Dashboard graphs, in the order they are laid out for each variant.
WIDGETS = ("Traffic", "Errors", "Latency", "CPU", "Memory and disk", "GPU")

STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
# Statistics whose value is bounded by the metric's ceiling (a Sum or a count is not).
BOUNDED_STATISTICS = ("Average", "Minimum", "Maximum")

COMPARISONS = collections.OrderedDict(
    [
        ("GreaterThanThreshold", ">"),
        ("GreaterThanOrEqualToThreshold", ">="),
        ("LessThanThreshold", "<"),
        ("LessThanOrEqualToThreshold", "<="),
    ]
)
COMPARISON_ALIASES = dict((symbol, name) for name, symbol in COMPARISONS.items())

TREAT_MISSING_DATA = ("breaching", "notBreaching", "ignore", "missing")


def metrics_in_widget(widget):
    return [m for m in METRICS.values() if m.widget == widget]
