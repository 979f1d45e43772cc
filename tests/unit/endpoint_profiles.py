"""Endpoint types of the unit tests and the metrics each one publishes, written out by hand.

The sets below come from /work/shared/sagemaker-metrics.md, not from the catalog's `published` functions, so that a
wrong entry in the catalog shows up as a test failure instead of being copied into the expectation.
"""

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils import catalog
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_spec import build_spec

ENDPOINT = "fraud-scoring"
REGION = "eu-west-1"
LAYER = "endpoint_monitoring_endpoint_metrics"
COMPONENT = "ranker-ic"

CPU_INSTANCE = "ml.m5.xlarge"  # 4 vCPUs, no GPU
GPU_INSTANCE = "ml.g4dn.xlarge"  # 4 vCPUs, 1 GPU

# Every metric switched on, so that only "is it published?" decides whether an alarm is made.
ALL_ON = dict((name, {"enabled": True}) for name in catalog.METRICS)

# name -> build_spec keyword arguments
PROFILES = {
    "realtime-cpu": dict(instance_type=CPU_INSTANCE),
    "realtime-gpu": dict(instance_type=GPU_INSTANCE),
    "serverless": dict(endpoint_type="serverless"),
    "serverless-provisioned": dict(endpoint_type="serverless", variants=[
        {"name": "AllTraffic", "serverless": {"memory_size_mb": 4096, "max_concurrency": 20,
                                              "provisioned_concurrency": 5}}]),
    "async": dict(endpoint_type="async", instance_type=CPU_INSTANCE),
    "multi-model": dict(multi_model=True, instance_type=CPU_INSTANCE),
    "inference-components": dict(inference_components=[COMPONENT], instance_type=CPU_INSTANCE),
}

_REALTIME_CPU = {"Invocations", "InvocationsPerInstance", "Invocation4XXErrors", "Invocation5XXErrors",
                 "ModelLatency", "OverheadLatency", "CPUUtilization", "MemoryUtilization", "DiskUtilization"}
_SERVERLESS = {"Invocations", "Invocation4XXErrors", "Invocation5XXErrors", "ModelLatency", "OverheadLatency",
               "ModelSetupTime", "ServerlessConcurrentExecutionsUtilization", "MemoryUtilization"}
BACKLOG = {"ApproximateBacklogSize", "ApproximateAgeOfOldestRequest", "HasBacklogWithoutCapacity"}

# name -> every metric the endpoint publishes (and so every alarm build_spec makes with ALL_ON)
PUBLISHED = {
    "realtime-cpu": _REALTIME_CPU,
    "realtime-gpu": _REALTIME_CPU | {"GPUUtilization", "GPUMemoryUtilization"},
    "serverless": _SERVERLESS,
    "serverless-provisioned": _SERVERLESS | {"ServerlessProvisionedConcurrencyUtilization",
                                             "ServerlessProvisionedConcurrencySpilloverInvocations"},
    "async": {"ModelLatency", "CPUUtilization", "MemoryUtilization", "DiskUtilization",
              "InvocationFailures", "ExpiredRequests", "NotificationFailures"} | BACKLOG,
    "multi-model": _REALTIME_CPU | {"ModelLoadingWaitTime", "ModelCacheHit", "LoadedModelCount"},
    "inference-components": _REALTIME_CPU | {"InvocationsPerCopy", "ConcurrentRequestsPerCopy"},
}

# Off unless switched on: an idle endpoint is normal, a loaded-model count or per-copy traffic is informational.
OFF_BY_DEFAULT = {"Invocations", "LoadedModelCount", "InvocationsPerCopy"}

# name -> the alarms build_spec makes without any override
DEFAULT_ALARMS = dict((name, metrics - OFF_BY_DEFAULT) for name, metrics in PUBLISHED.items())

# Metrics published per endpoint (EndpointName only) and per inference component (InferenceComponentName only).
ENDPOINT_LEVEL = BACKLOG
COMPONENT_LEVEL = {"InvocationsPerCopy", "ConcurrentRequestsPerCopy"}


def profile_spec(profile, layer=None, **overrides):
    kwargs = dict(PROFILES[profile])
    kwargs.update(overrides)
    kwargs.setdefault("composite", False)
    return build_spec(ENDPOINT, REGION, metric_layers=[(LAYER, layer)], **kwargs)


def alarm_metrics(spec, kinds=("metric", "math")):
    return set(a["metric"] for a in spec["alarms"] if a["kind"] in kinds)
