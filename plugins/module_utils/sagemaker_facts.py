# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What SageMaker says about an endpoint, as the facts the monitoring is built from (type, variants with their
instance types and counts, serverless settings, multi-model, inference components).

Shared by the sagemaker_endpoints inventory plugin and the monitoring_plan module (which completes endpoints an
inventory lists by name only): the calls, with retries, and the pure functions that turn their answers into facts.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.instance_types import instance_counts

# SageMaker says ThrottlingException, which AWSRetry does not know by default.
RETRY = AWSRetry.jittered_backoff(retries=10, catch_extra_error_codes=["ThrottlingException"])

# The facts of an endpoint that decide its alarms (the role variables of the same names, without the prefix).
FACT_KEYS = ("endpoint_type", "multi_model", "variants", "inference_components")
# The Ansible fact in which a run keeps the facts it read for an endpoint, with the endpoint's LastModifiedTime at
# the time (through Ansible's fact cache, so an endpoint that did not change is not read again).
FACTS_NAME = "endpoint_monitoring__sagemaker_facts"


# --- SageMaker calls ------------------------------------------------------------------------------------


@RETRY
def list_endpoints(client, page_size=None):
    config = {"PageSize": page_size} if page_size else {}
    return client.get_paginator("list_endpoints").paginate(PaginationConfig=config).build_full_result()["Endpoints"]


@RETRY
def list_tags(client, arn):
    return client.get_paginator("list_tags").paginate(ResourceArn=arn).build_full_result().get("Tags", [])


@RETRY
def describe_endpoint(client, name):
    return client.describe_endpoint(EndpointName=name)


@RETRY
def describe_endpoint_config(client, name):
    return client.describe_endpoint_config(EndpointConfigName=name)


@RETRY
def describe_model(client, name):
    return client.describe_model(ModelName=name)


@RETRY
def list_inference_components(client):
    paginator = client.get_paginator("list_inference_components")
    return paginator.paginate().build_full_result().get("InferenceComponents", [])


# --- pure functions ----------------------------------------------------------------------------------


def iso_time(value):
    """A botocore timestamp as ISO 8601 in UTC; text is passed through."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.timezone.utc)
        return value.isoformat()
    return value


def short_error(error, limit=200):
    """One line about a boto error: its code and the start of its message (servers may answer with HTML)."""
    response = getattr(error, "response", None)
    if isinstance(response, dict) and isinstance(response.get("Error"), dict):
        text = "%s: %s" % (response["Error"].get("Code", "?"), response["Error"].get("Message", ""))
    else:
        text = str(error)
    text = " ".join(re.sub(r"<[^>]*>", " ", text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _first(*values):
    for value in values:
        if value is not None:
            return value
    return None


def build_variants(endpoint, config):
    """One dict per production variant, from DescribeEndpoint (what runs) completed by DescribeEndpointConfig
    (instance type, configured counts); ``config`` may be None when the configuration was deleted."""
    configured = dict((v.get("VariantName"), v) for v in (config or {}).get("ProductionVariants") or [])
    live = dict((v.get("VariantName"), v) for v in endpoint.get("ProductionVariants") or [])
    names = [v.get("VariantName") for v in endpoint.get("ProductionVariants") or []] or list(configured)
    variants = []
    for name in names:
        running = live.get(name, {})
        wanted = configured.get(name, {})
        serverless_config = running.get("CurrentServerlessConfig") or running.get("DesiredServerlessConfig")
        if not serverless_config and running.get("CurrentInstanceCount") is None:
            serverless_config = wanted.get("ServerlessConfig")
        if serverless_config:
            variants.append({
                "name": name,
                "instance_type": None,
                "instance_count": None,
                "vcpus": None,
                "gpus": None,
                "serverless": {
                    "memory_size_mb": serverless_config.get("MemorySizeInMB"),
                    "max_concurrency": serverless_config.get("MaxConcurrency"),
                    "provisioned_concurrency": serverless_config.get("ProvisionedConcurrency") or 0,
                },
            })
            continue
        instance_type = wanted.get("InstanceType")
        vcpus, gpus = instance_counts(instance_type)
        variants.append({
            "name": name,
            "instance_type": instance_type,
            "instance_count": _first(running.get("CurrentInstanceCount"), running.get("DesiredInstanceCount"),
                                     wanted.get("InitialInstanceCount")),
            "vcpus": vcpus,
            "gpus": gpus,
            "serverless": None,
        })
    return variants


def endpoint_type(endpoint, config, variants):
    if (config or {}).get("AsyncInferenceConfig") or endpoint.get("AsyncInferenceConfig"):
        return "async"
    if variants and all(v["serverless"] for v in variants):
        return "serverless"
    return "realtime"


def is_multi_model(model):
    """True when a container of the model (DescribeModel) is in MultiModel mode."""
    containers = [model.get("PrimaryContainer") or {}] + list(model.get("Containers") or [])
    return any(container.get("Mode") == "MultiModel" for container in containers)


def model_names(config):
    return [v["ModelName"] for v in (config or {}).get("ProductionVariants") or [] if v.get("ModelName")]


def endpoint_facts(endpoint, config, multi_model, inference_components):
    """The monitoring facts of one endpoint from DescribeEndpoint and DescribeEndpointConfig (None when the
    configuration is gone), whether a model of it is multi-model, and its inference components' names."""
    variants = build_variants(endpoint, config)
    return {
        "endpoint_type": endpoint_type(endpoint, config, variants),
        "multi_model": bool(multi_model),
        "variants": variants,
        "inference_components": sorted(inference_components),
    }


def components_by_endpoint(listed):
    """Endpoint name -> names of its inference components, from ListInferenceComponents entries."""
    components = {}
    for component in listed:
        if component.get("EndpointName") and component.get("InferenceComponentName"):
            components.setdefault(component["EndpointName"], []).append(component["InferenceComponentName"])
    return components


def read_endpoint_facts(client, name, models, components, warn):
    """The facts of endpoint `name`, read with DescribeEndpoint, DescribeEndpointConfig and DescribeModel (once
    per model: `models` caches model name -> multi-model across calls). `components`: endpoint name -> component
    names of the region. A configuration or model deleted since the endpoint was made is said through
    warn(message) and read as unknown. Returns None when the endpoint does not exist; other errors are raised."""
    try:
        endpoint = describe_endpoint(client, name)
    except is_boto3_error_code("ValidationException"):
        return None
    config = None
    config_name = endpoint.get("EndpointConfigName")
    if config_name:
        try:
            config = describe_endpoint_config(client, config_name)
        except is_boto3_error_code("ValidationException"):
            warn("Endpoint configuration %s of SageMaker endpoint %s no longer exists: instance types and counts of "
                 "its variants are unknown" % (config_name, name))
    multi_model = False
    for model in model_names(config):
        if model not in models:
            try:
                models[model] = is_multi_model(describe_model(client, model))
            except is_boto3_error_code("ValidationException"):
                warn("Model %s of SageMaker endpoint %s no longer exists: taken as single-model" % (model, name))
                models[model] = False
        multi_model = multi_model or models[model]
    return endpoint, config, endpoint_facts(endpoint, config, multi_model, components.get(name, []))
