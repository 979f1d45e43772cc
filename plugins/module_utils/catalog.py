# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one catalog of SageMaker endpoint metrics the collection alarms on and graphs.

Everything else (validation, alarm specs, dashboard widgets, docs, tests) reads this table.
Adding a metric is adding one entry here. Each entry says which endpoints publish the metric
(an alarm on a metric that is never published stays INSUFFICIENT_DATA forever), which dimensions
carry its data, and how a threshold in the units people think in becomes CloudWatch's value.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections

INVOCATION_NAMESPACE = "AWS/SageMaker"
INSTANCE_NAMESPACE = "/aws/sagemaker/Endpoints"

ENDPOINT_TYPES = ("realtime", "serverless", "async")

ALARM_KEYS = (
    "enabled",
    "threshold",
    "period",
    "evaluation_periods",
    "datapoints_to_alarm",
    "statistic",
    "comparison",
    "treat_missing_data",
    "raw",
    "min_invocations",
    "anomaly_band",
    "severity",
)

# How urgent an alarm is: critical means users are failed now (errors, latency, a queue nobody serves), warning
# that something runs out soon (utilisation, rejected input). In shared and existing topic modes each severity has
# a topic of its own; the descriptions and the dashboard always say it.
SEVERITIES = ("critical", "warning")

# How the user's threshold becomes the value CloudWatch compares (unless raw: true).
SCALE_NONE = None
SCALE_PER_VCPU = "per_vcpu"  # percent per vCPU; the metric is summed over vCPUs
SCALE_PER_GPU = "per_gpu"  # percent per GPU; the metric is summed over GPUs
SCALE_MS = "ms"  # milliseconds; the metric is in microseconds
SCALE_PERCENT_OF_ONE = "percent_of_one"  # percent; the metric is a ratio from 0 to 1
SCALE_ERROR_RATE = "error_rate"  # percent of invocations, by metric math with a minimum-traffic guard

SCALE_UNITS = {
    SCALE_PER_VCPU: "% per vCPU",
    SCALE_PER_GPU: "% per GPU",
    SCALE_MS: "ms",
    SCALE_PERCENT_OF_ONE: "%",
    SCALE_ERROR_RATE: "% of requests",
}

# Which dimensions carry the metric's data.
DIMS_VARIANT = "variant"  # EndpointName + VariantName
DIMS_ENDPOINT = "endpoint"  # EndpointName only (asynchronous backlog metrics)
DIMS_COMPONENT = "component"  # InferenceComponentName

Metric = collections.namedtuple(
    "Metric",
    [
        "name",
        "namespace",
        "unit",  # unit of the raw datapoints, as CloudWatch reports them
        "widget",  # dashboard graph the metric is drawn in
        "ceiling",  # highest value Average/Minimum/Maximum/percentiles take, raw; None: unbounded
        "defaults",  # alarm settings before group_vars and host_vars (threshold in scaled units)
        "runbook",  # what to look at when the alarm fires (alarm description)
        "published",  # function(endpoint, variant) -> bool: is the metric published for it
        "dims",  # DIMS_*
        "scale",  # SCALE_*
        "anomaly",  # whether an anomaly-detection band alarm may be asked for
    ],
)


def _alarm(enabled=True, threshold=None, period=300, evaluation_periods=3, datapoints_to_alarm=None,
           statistic="Average", comparison="GreaterThanThreshold", treat_missing_data="notBreaching",
           min_invocations=None, severity="warning"):
    return {
        "enabled": enabled,
        "threshold": threshold,
        "period": period,
        "evaluation_periods": evaluation_periods,
        "datapoints_to_alarm": evaluation_periods if datapoints_to_alarm is None else datapoints_to_alarm,
        "statistic": statistic,
        "comparison": comparison,
        "treat_missing_data": treat_missing_data,
        "raw": False,
        "min_invocations": min_invocations,
        "anomaly_band": None,
        "severity": severity,
    }


# Who publishes what (../shared/sagemaker-metrics.md). `endpoint` is the normalised endpoint (type,
# multi_model, inference_components); `variant` has vcpus, gpus and serverless settings.
def _realtime_or_serverless(endpoint, variant):
    return endpoint["type"] in ("realtime", "serverless")


def _realtime(endpoint, variant):
    return endpoint["type"] == "realtime"


def _any_type(endpoint, variant):
    return True


def _instances(endpoint, variant):
    return endpoint["type"] in ("realtime", "async")


def _gpu_instances(endpoint, variant):
    return _instances(endpoint, variant) and bool(variant.get("gpus")) and variant.get("gpu_metrics", True)


def _serverless(endpoint, variant):
    return endpoint["type"] == "serverless"


def _provisioned(endpoint, variant):
    return _serverless(endpoint, variant) and bool((variant.get("serverless") or {}).get("provisioned_concurrency"))


def _memory(endpoint, variant):
    return True  # instance endpoints and serverless endpoints both publish it


def _async(endpoint, variant):
    return endpoint["type"] == "async"


def _multi_model(endpoint, variant):
    return endpoint["type"] in ("realtime", "async") and endpoint.get("multi_model", False)


def _components(endpoint, variant):
    return bool(endpoint.get("inference_components"))


def _m(name, namespace, unit, widget, ceiling, defaults, runbook, published, dims=DIMS_VARIANT, scale=SCALE_NONE,
       anomaly=False):
    return Metric(name, namespace, unit, widget, ceiling, defaults, runbook, published, dims, scale, anomaly)


# Order matters: it is the order of alarms in the template and of lines in the dashboard graphs.
METRICS = collections.OrderedDict(
    (m.name, m)
    for m in (
        _m("Invocations", INVOCATION_NAMESPACE, "Count", "Traffic", None,
           # Off by default: an idle endpoint is normal for many teams. Turn it on where traffic
           # stopping is an outage; missing data then counts as "no traffic".
           _alarm(enabled=False, threshold=1, statistic="Sum", comparison="LessThanThreshold",
                  treat_missing_data="breaching", severity="critical"),
           "No requests reached the variant. Check the callers and the endpoint's status.",
           _realtime_or_serverless, anomaly=True),
        _m("InvocationsPerInstance", INVOCATION_NAMESPACE, "Count", "Traffic", None,
           _alarm(threshold=30000, statistic="Sum"),
           "Requests per instance are above what one instance is sized for. Consider scaling out.",
           _realtime),
        _m("Invocation4XXErrors", INVOCATION_NAMESPACE, "Count", "Errors", 1.0,
           _alarm(threshold=5, datapoints_to_alarm=2, statistic="Sum", min_invocations=50),
           "More than the threshold share of requests was rejected as bad input (4XX). "
           "Check recent client releases and the request payloads.",
           _realtime_or_serverless, scale=SCALE_ERROR_RATE),
        _m("Invocation5XXErrors", INVOCATION_NAMESPACE, "Count", "Errors", 1.0,
           _alarm(threshold=1, datapoints_to_alarm=2, statistic="Sum", min_invocations=50, severity="critical"),
           "The model container failed more than the threshold share of requests (5XX). Check the endpoint's "
           "CloudWatch logs (/aws/sagemaker/Endpoints/<endpoint>).",
           _realtime_or_serverless, scale=SCALE_ERROR_RATE),
        _m("ModelLatency", INVOCATION_NAMESPACE, "Microseconds", "Latency", None,
           _alarm(threshold=1000, severity="critical"),
           "The model takes longer than the threshold to answer. Check the instance utilization graphs and "
           "recent model changes.",
           _any_type, scale=SCALE_MS, anomaly=True),
        _m("OverheadLatency", INVOCATION_NAMESPACE, "Microseconds", "Latency", None,
           _alarm(threshold=200),
           "SageMaker's own overhead around the model is high (on serverless endpoints it includes cold "
           "starts). Check payload sizes and the AWS Health Dashboard.",
           _realtime_or_serverless, scale=SCALE_MS),
        _m("ModelSetupTime", INVOCATION_NAMESPACE, "Microseconds", "Latency", None,
           _alarm(threshold=30000, statistic="Maximum"),
           "Cold starts of the serverless endpoint take long. Check the model's size and container start-up, "
           "or add provisioned concurrency.",
           _serverless, scale=SCALE_MS),
        _m("CPUUtilization", INSTANCE_NAMESPACE, "Percent", "CPU", None,
           _alarm(threshold=80, treat_missing_data="missing"),
           "CPU is saturated (threshold per vCPU). Scale out or use a larger instance.",
           _instances, scale=SCALE_PER_VCPU),
        _m("MemoryUtilization", INSTANCE_NAMESPACE, "Percent", "Memory and disk", 100.0,
           _alarm(threshold=85, treat_missing_data="missing"),
           "The container is close to running out of memory. Check the model's footprint.",
           _memory),
        _m("DiskUtilization", INSTANCE_NAMESPACE, "Percent", "Memory and disk", 100.0,
           _alarm(threshold=85, treat_missing_data="missing"),
           "The instance's disk is filling up. Check what the container writes locally.",
           _instances),
        _m("GPUUtilization", INSTANCE_NAMESPACE, "Percent", "GPU", None,
           _alarm(threshold=90, treat_missing_data="missing"),
           "GPUs are saturated (threshold per GPU). Scale out or use a larger instance.",
           _gpu_instances, scale=SCALE_PER_GPU),
        _m("GPUMemoryUtilization", INSTANCE_NAMESPACE, "Percent", "GPU", None,
           _alarm(threshold=90, treat_missing_data="missing"),
           "GPU memory is nearly full (threshold per GPU). Check batch sizes and the model.",
           _gpu_instances, scale=SCALE_PER_GPU),
        _m("ServerlessConcurrentExecutionsUtilization", INVOCATION_NAMESPACE, "None", "Serverless", 1.0,
           _alarm(threshold=90, statistic="Maximum"),
           "Concurrent requests are near the serverless endpoint's maximum concurrency; more are throttled. "
           "Raise MaxConcurrency.",
           _serverless, scale=SCALE_PERCENT_OF_ONE),
        _m("ServerlessProvisionedConcurrencyUtilization", INVOCATION_NAMESPACE, "None", "Serverless", 1.0,
           _alarm(threshold=90, statistic="Maximum"),
           "Provisioned concurrency is nearly used up; further requests cold-start. Raise it.",
           _provisioned, scale=SCALE_PERCENT_OF_ONE),
        _m("ServerlessProvisionedConcurrencySpilloverInvocations", INVOCATION_NAMESPACE, "Count", "Serverless", None,
           _alarm(threshold=0, statistic="Sum", datapoints_to_alarm=2),
           "Requests spilled over provisioned concurrency onto cold starts. Raise the provisioned concurrency.",
           _provisioned),
        _m("ApproximateBacklogSize", INVOCATION_NAMESPACE, "Count", "Async queue", None,
           _alarm(threshold=100, statistic="Average"),
           "Requests queue up faster than the asynchronous endpoint processes them. Scale out.",
           _async, dims=DIMS_ENDPOINT),
        _m("ApproximateAgeOfOldestRequest", INVOCATION_NAMESPACE, "Seconds", "Async queue", None,
           _alarm(threshold=900, statistic="Maximum"),
           "The oldest queued request has waited longer than the threshold (seconds). Scale out or check the "
           "model for stuck requests.",
           _async, dims=DIMS_ENDPOINT),
        _m("HasBacklogWithoutCapacity", INVOCATION_NAMESPACE, "Count", "Async queue", 1.0,
           _alarm(threshold=0, statistic="Maximum", evaluation_periods=1, treat_missing_data="missing",
                  severity="critical"),
           "Requests are queued and no instance is running (scaled to zero). Check the scale-in policy.",
           _async, dims=DIMS_ENDPOINT),
        _m("InvocationFailures", INVOCATION_NAMESPACE, "Count", "Async failures", None,
           _alarm(threshold=0, statistic="Sum", datapoints_to_alarm=2, severity="critical"),
           "Asynchronous invocations failed. Check the endpoint's logs and the failure notifications.",
           _async),
        _m("ExpiredRequests", INVOCATION_NAMESPACE, "Count", "Async failures", None,
           _alarm(threshold=0, statistic="Sum", datapoints_to_alarm=1, severity="critical"),
           "Queued requests expired before they were processed. Scale out or raise the request TTL.",
           _async),
        _m("NotificationFailures", INVOCATION_NAMESPACE, "Count", "Async failures", None,
           _alarm(threshold=0, statistic="Sum", datapoints_to_alarm=1),
           "Success or error notifications of the asynchronous endpoint could not be sent. Check its SNS topics.",
           _async),
        _m("ModelLoadingWaitTime", INVOCATION_NAMESPACE, "Microseconds", "Multi-model", None,
           _alarm(threshold=5000, statistic="Average"),
           "Requests wait long for their model to be loaded. Raise the instance memory or count.",
           _multi_model, scale=SCALE_MS),
        _m("ModelCacheHit", INVOCATION_NAMESPACE, "None", "Multi-model", 1.0,
           _alarm(threshold=50, statistic="Average", comparison="LessThanThreshold", min_invocations=None),
           "Fewer requests than the threshold find their model already loaded. The instances hold too few "
           "models: raise memory or the instance count.",
           _multi_model, scale=SCALE_PERCENT_OF_ONE),
        _m("LoadedModelCount", INSTANCE_NAMESPACE, "Count", "Multi-model", None,
           _alarm(enabled=False, threshold=1, statistic="Average", comparison="LessThanThreshold"),
           "No model is loaded on the instances.",
           _multi_model),
        _m("InvocationsPerCopy", INVOCATION_NAMESPACE, "Count", "Components", None,
           _alarm(enabled=False, threshold=30000, statistic="Sum"),
           "Requests per inference component copy are high. Add copies.",
           _components, dims=DIMS_COMPONENT),
        _m("ConcurrentRequestsPerCopy", INVOCATION_NAMESPACE, "Count", "Components", None,
           _alarm(threshold=20, statistic="Maximum"),
           "Concurrent requests per inference component copy are high. Add copies or raise the component's "
           "compute.",
           _components, dims=DIMS_COMPONENT),
    )
)

# The metric an error-rate alarm divides by.
TRAFFIC_METRIC = "Invocations"

# Dashboard graphs, in the order they are laid out. Graphs of endpoint-level and component-level
# metrics come once per endpoint or component, the others once per variant.
WIDGETS = ("Traffic", "Errors", "Latency", "CPU", "Memory and disk", "GPU", "Serverless", "Async queue",
           "Async failures", "Multi-model", "Components")

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


def published_metrics(endpoint, variant):
    """Metrics the endpoint publishes for this variant (for endpoint- and component-level metrics, the
    variant does not matter)."""
    return [m for m in METRICS.values() if m.published(endpoint, variant)]
