"""Each endpoint type gets alarms for exactly the metrics it publishes, and each alarm fires on a breach of
its own metric and stays quiet on healthy data (LocalStack evaluates the alarms from PutMetricData).

LocalStack evaluates alarms on a plain statistic only: metric-math (error-rate) alarms and the composite
health alarm stay INSUFFICIENT_DATA there whatever the data, so for those this test checks what was
deployed (queries, expression, rule) and not their firing.
"""

import time

import pytest

from conftest import Inventory, run_playbook, unique

pytestmark = pytest.mark.integration

# Written out by hand from ../shared/sagemaker-metrics.md, not read from the catalog, so the test can
# disagree with it. Every metric is enabled for this test (some are off by default).
REALTIME_CPU = {"Invocations", "InvocationsPerInstance", "Invocation4XXErrors", "Invocation5XXErrors", "ModelLatency",
                "OverheadLatency", "CPUUtilization", "MemoryUtilization", "DiskUtilization"}
REALTIME_GPU = REALTIME_CPU | {"GPUUtilization", "GPUMemoryUtilization"}
SERVERLESS = {"Invocations", "Invocation4XXErrors", "Invocation5XXErrors", "ModelLatency", "OverheadLatency",
              "ModelSetupTime", "MemoryUtilization", "ServerlessConcurrentExecutionsUtilization"}
SERVERLESS_PROVISIONED = SERVERLESS | {"ServerlessProvisionedConcurrencyUtilization",
                                       "ServerlessProvisionedConcurrencySpilloverInvocations"}
ASYNC_VARIANT = {"ModelLatency", "CPUUtilization", "MemoryUtilization", "DiskUtilization", "InvocationFailures",
                 "ExpiredRequests", "NotificationFailures"}
ASYNC_ENDPOINT = {"ApproximateBacklogSize", "ApproximateAgeOfOldestRequest", "HasBacklogWithoutCapacity"}
MULTI_MODEL = REALTIME_CPU | {"ModelLoadingWaitTime", "ModelCacheHit", "LoadedModelCount"}
COMPONENT = {"InvocationsPerCopy", "ConcurrentRequestsPerCopy"}
ALL_METRICS = (REALTIME_GPU | SERVERLESS_PROVISIONED | ASYNC_VARIANT | ASYNC_ENDPOINT | MULTI_MODEL | COMPONENT)
RATE_METRICS = {"Invocation4XXErrors", "Invocation5XXErrors"}

TYPES = {
    # name: (host vars, expected {scope name or None for endpoint-level: metric names})
    "cpu": ({"endpoint_monitoring_instance_type": "ml.m5.xlarge"}, {"AllTraffic": REALTIME_CPU}),
    "gpu": ({"endpoint_monitoring_instance_type": "ml.g4dn.xlarge"}, {"AllTraffic": REALTIME_GPU}),
    "srv": ({"endpoint_monitoring_endpoint_type": "serverless",
             "endpoint_monitoring_variants": [{"name": "AllTraffic", "serverless": {"memory_size_mb": 2048,
                                                                                    "max_concurrency": 10}}]},
            {"AllTraffic": SERVERLESS}),
    "srvpc": ({"endpoint_monitoring_endpoint_type": "serverless",
               "endpoint_monitoring_variants": [{"name": "AllTraffic", "serverless": {
                   "memory_size_mb": 2048, "max_concurrency": 10, "provisioned_concurrency": 2}}]},
              {"AllTraffic": SERVERLESS_PROVISIONED}),
    "async": ({"endpoint_monitoring_endpoint_type": "async", "endpoint_monitoring_instance_type": "ml.m5.xlarge"},
              {"AllTraffic": ASYNC_VARIANT, None: ASYNC_ENDPOINT}),
    "mme": ({"endpoint_monitoring_multi_model": True, "endpoint_monitoring_instance_type": "ml.m5.xlarge"},
            {"AllTraffic": MULTI_MODEL}),
    # Component metrics carry InferenceComponentName only: each endpoint gets its own component (below).
    "ic": ({"endpoint_monitoring_instance_type": "ml.g4dn.xlarge"},
           {"AllTraffic": REALTIME_GPU, "COMPONENT": COMPONENT}),
}


def component(endpoint):
    return endpoint + "-comp"


def _scope_and_metric(endpoint, alarm_name):
    """sagemaker-monitoring_<endpoint>_[<variant or component>_]<metric>"""
    rest = alarm_name[len("sagemaker-monitoring_%s_" % endpoint):]
    if "_" not in rest:
        return None, rest
    scope, _, metric = rest.rpartition("_")
    return scope, metric


def _values(alarm):
    """(healthy, breaching) datapoint values for an alarm, one datapoint per period or more."""
    threshold = alarm["Threshold"]
    if alarm["ComparisonOperator"].startswith("Greater"):
        return 0.0, threshold * 1.1 + 1
    return threshold * 10 + 10, 0.0


@pytest.fixture(scope="module")
def deployed(localstack, tmp_path_factory):

    inventory = Inventory(str(tmp_path_factory.mktemp("types") / "inventory"))
    fast = dict((m, {"enabled": True, "period": 10, "evaluation_periods": 1, "datapoints_to_alarm": 1})
                for m in ALL_METRICS)
    inventory.group_vars("all", {"endpoint_monitoring_metrics": fast})
    endpoints = {}
    for kind, (host_vars, expected) in TYPES.items():
        for health in ("healthy", "breach"):
            name = unique("%s-%s" % (kind, health))
            if kind == "ic":
                host_vars = dict(host_vars, endpoint_monitoring_inference_components=[component(name)])
            inventory.add(kind, name, **host_vars)
            endpoints[(kind, health)] = name
    run = run_playbook(localstack, inventory)
    assert run.rc == 0, run.output
    return endpoints


def alarms_of(cloudwatch, endpoint):
    pages = cloudwatch.get_paginator("describe_alarms").paginate(
        AlarmNamePrefix="sagemaker-monitoring_%s_" % endpoint, AlarmTypes=["MetricAlarm"])
    return dict((a["AlarmName"], a) for page in pages for a in page["MetricAlarms"])


def test_each_type_gets_alarms_for_exactly_the_metrics_it_publishes(localstack, deployed):
    cloudwatch = localstack.client("cloudwatch")
    for (kind, health), endpoint in deployed.items():
        expected = dict((component(endpoint) if scope == "COMPONENT" else scope, metrics)
                        for scope, metrics in TYPES[kind][1].items())
        found = {}
        for name in alarms_of(cloudwatch, endpoint):
            scope, metric = _scope_and_metric(endpoint, name)
            found.setdefault(scope, set()).add(metric)
        assert found == expected, "%s: %s" % (kind, found)


def test_scopes_have_the_dimensions_that_carry_data(localstack, deployed):
    cloudwatch = localstack.client("cloudwatch")
    async_alarms = alarms_of(cloudwatch, deployed[("async", "healthy")])
    backlog = async_alarms["sagemaker-monitoring_%s_ApproximateBacklogSize" % deployed[("async", "healthy")]]
    assert backlog["Dimensions"] == [{"Name": "EndpointName", "Value": deployed[("async", "healthy")]}]
    ic_alarms = alarms_of(cloudwatch, deployed[("ic", "healthy")])
    ic = deployed[("ic", "healthy")]
    per_copy = ic_alarms["sagemaker-monitoring_%s_%s_ConcurrentRequestsPerCopy" % (ic, component(ic))]
    assert per_copy["Dimensions"] == [{"Name": "InferenceComponentName", "Value": component(ic)}]
    gpu = alarms_of(cloudwatch, deployed[("gpu", "healthy")])
    # 90 % per GPU on the single-GPU ml.g4dn.xlarge, 80 % per vCPU on its 4 vCPUs
    gpu_name = "sagemaker-monitoring_%s_AllTraffic_%%s" % deployed[("gpu", "healthy")]
    assert gpu[gpu_name % "GPUUtilization"]["Threshold"] == 90
    assert gpu[gpu_name % "CPUUtilization"]["Threshold"] == 320
    srv = alarms_of(cloudwatch, deployed[("srv", "healthy")])
    # serverless utilisation is a ratio: 90 % -> 0.9
    srv_name = "sagemaker-monitoring_%s_AllTraffic_ServerlessConcurrentExecutionsUtilization" % deployed[
        ("srv", "healthy")]
    assert srv[srv_name]["Threshold"] == 0.9
    for name, alarm in gpu.items():
        if _scope_and_metric(deployed[("gpu", "healthy")], name)[1] in RATE_METRICS:
            assert alarm["Metrics"][2]["Expression"] == "IF(invocations >= 50, 100 * errors / invocations, 0)"


def test_each_alarm_fires_on_its_own_metric_and_stays_quiet_on_healthy_data(localstack, deployed):
    cloudwatch = localstack.client("cloudwatch")
    evaluable = {}
    for (kind, health), endpoint in deployed.items():
        for name, alarm in alarms_of(cloudwatch, endpoint).items():
            if alarm.get("Metrics"):
                continue  # metric math: not evaluated by LocalStack (see the module docstring)
            healthy, breach = _values(alarm)
            evaluable[name] = (alarm, healthy if health == "healthy" else breach, health)
    assert len(evaluable) > 100

    want = dict((name, "OK" if health == "healthy" else "ALARM") for name, (_a, _v, health) in evaluable.items())
    deadline = time.time() + 120
    states = {}
    while time.time() < deadline:
        data = []
        for name, (alarm, value, _health) in evaluable.items():
            data.append({"MetricName": alarm["MetricName"], "Dimensions": alarm["Dimensions"], "Value": value,
                         "_ns": alarm["Namespace"]})
        for namespace in sorted(set(d["_ns"] for d in data)):
            batch = [dict((k, v) for k, v in d.items() if k != "_ns") for d in data if d["_ns"] == namespace]
            for start in range(0, len(batch), 500):
                cloudwatch.put_metric_data(Namespace=namespace, MetricData=batch[start:start + 500])
        states = {}
        for endpoint in deployed.values():
            for name, alarm in alarms_of(cloudwatch, endpoint).items():
                if name in want:
                    states[name] = alarm["StateValue"]
        if all(states.get(name) == state for name, state in want.items()):
            break
        time.sleep(3)
    wrong = dict((name, (states.get(name), state)) for name, state in want.items() if states.get(name) != state)
    assert not wrong, "alarms not in the expected state (found, wanted): %s" % wrong
