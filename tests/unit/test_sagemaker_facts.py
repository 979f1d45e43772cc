"""sagemaker_facts: what SageMaker says about an endpoint, as the facts its monitoring is built from. The calls run
against SageMaker endpoints of a moto server on 127.0.0.1; the pure functions on answers as SageMaker gives them."""

import datetime

import pytest
from botocore.exceptions import ClientError

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.sagemaker_facts import (
    build_variants,
    components_by_endpoint,
    endpoint_type,
    is_multi_model,
    iso_time,
    list_endpoints,
    read_endpoint_facts,
    short_error,
)

from moto_support import instance_variant, serverless_variant


class Reader:
    """read_endpoint_facts with a client of the moto server, counting the SageMaker calls and keeping warnings."""

    def __init__(self, moto):
        self.client = moto.client("sagemaker")
        self.calls = []
        self.warnings = []
        self.models = {}
        self.client.meta.events.register("before-call.sagemaker.*",
                                         lambda model, **_kwargs: self.calls.append(model.name))

    def __call__(self, name, components=None):
        return read_endpoint_facts(self.client, name, self.models, components or {}, self.warnings.append)


@pytest.fixture
def reader(moto):
    moto.model("model")
    return Reader(moto)


def facts_of(reader, name, components=None):
    endpoint, config, facts = reader(name, components)
    assert endpoint["EndpointName"] == name
    return facts


def test_a_real_time_endpoint_on_cpu_instances(moto, reader):
    moto.endpoint("cpu", [instance_variant("AllTraffic", "model", "ml.m5.xlarge", 2)])
    assert facts_of(reader, "cpu") == {
        "endpoint_type": "realtime", "multi_model": False, "inference_components": [],
        "variants": [{"name": "AllTraffic", "instance_type": "ml.m5.xlarge", "instance_count": 2, "vcpus": 4,
                      "gpus": 0, "serverless": None}]}
    assert reader.calls == ["DescribeEndpoint", "DescribeEndpointConfig", "DescribeModel"]
    assert reader.warnings == []


def test_variants_on_gpu_instances_in_the_endpoints_order(moto, reader):
    moto.endpoint("gpu", [instance_variant("blue", "model", "ml.g4dn.xlarge", 1),
                          instance_variant("green", "model", "ml.g4dn.12xlarge", 3)])
    variants = facts_of(reader, "gpu")["variants"]
    assert [(v["name"], v["instance_type"], v["instance_count"], v["vcpus"], v["gpus"]) for v in variants] == [
        ("blue", "ml.g4dn.xlarge", 1, 4, 1), ("green", "ml.g4dn.12xlarge", 3, 48, 4)]


def test_a_serverless_endpoint_with_provisioned_concurrency(moto, reader):
    moto.endpoint("sl", [serverless_variant("AllTraffic", "model", memory=4096, concurrency=10, provisioned=2)])
    facts = facts_of(reader, "sl")
    assert facts["endpoint_type"] == "serverless"
    assert facts["variants"] == [{"name": "AllTraffic", "instance_type": None, "instance_count": None, "vcpus": None,
                                  "gpus": None, "serverless": {"memory_size_mb": 4096, "max_concurrency": 10,
                                                               "provisioned_concurrency": 2}}]


def test_an_asynchronous_endpoint(moto, reader):
    moto.endpoint("queue", [instance_variant("AllTraffic", "model", "ml.c5.xlarge")],
                  AsyncInferenceConfig={"OutputConfig": {"S3OutputPath": "s3://async-results/out/"}})
    assert facts_of(reader, "queue")["endpoint_type"] == "async"


def test_a_multi_model_endpoint_and_each_model_described_once(moto, reader):
    moto.model("mme", multi_model=True)
    moto.endpoint("mme-a", [instance_variant("AllTraffic", "mme", "ml.m5.large")])
    moto.endpoint("mme-b", [instance_variant("AllTraffic", "mme", "ml.m5.large")])
    assert facts_of(reader, "mme-a")["multi_model"] is True
    assert facts_of(reader, "mme-b")["multi_model"] is True
    assert reader.calls.count("DescribeModel") == 1 and reader.models == {"mme": True}


def test_inference_components_come_from_the_regions_listing(moto, reader):
    moto.endpoint("ic", [instance_variant("AllTraffic", "model", "ml.m5.large")])
    facts = facts_of(reader, "ic", {"ic": ["ranker", "embedder"], "other": ["x"]})
    assert facts["inference_components"] == ["embedder", "ranker"]


def test_a_deleted_endpoint_configuration_is_a_warning_and_instance_types_unknown(moto, reader):
    moto.endpoint("orphan", [instance_variant("AllTraffic", "model", "ml.m5.xlarge", 2)])
    moto.client("sagemaker").delete_endpoint_config(EndpointConfigName="orphan-config")
    endpoint, config, facts = reader("orphan")
    assert config is None
    assert reader.warnings == ["Endpoint configuration orphan-config of SageMaker endpoint orphan no longer exists: "
                               "instance types and counts of its variants are unknown"]
    # what runs is still known from the endpoint itself
    assert facts["variants"] == [{"name": "AllTraffic", "instance_type": None, "instance_count": 2, "vcpus": None,
                                  "gpus": None, "serverless": None}]
    assert facts["endpoint_type"] == "realtime" and facts["multi_model"] is False
    assert "DescribeModel" not in reader.calls  # no configuration, no model names


def test_a_deleted_model_is_a_warning_and_taken_as_single_model(moto, reader):
    moto.model("short-lived", multi_model=True)
    moto.endpoint("lost-model", [instance_variant("AllTraffic", "short-lived", "ml.m5.xlarge")])
    moto.client("sagemaker").delete_model(ModelName="short-lived")
    assert facts_of(reader, "lost-model")["multi_model"] is False
    assert reader.warnings == ["Model short-lived of SageMaker endpoint lost-model no longer exists: taken as "
                               "single-model"]


def test_an_endpoint_that_does_not_exist_is_none(moto, reader):
    assert reader("ghost") is None
    assert reader.calls == ["DescribeEndpoint"]


def test_list_endpoints_follows_the_pages(moto, reader):
    for i in range(5):
        moto.endpoint("ep%d" % i, [instance_variant("AllTraffic", "model", "ml.m5.large")])
    names = [e["EndpointName"] for e in list_endpoints(reader.client, page_size=2)]
    assert sorted(names) == ["ep%d" % i for i in range(5)]
    assert reader.calls.count("ListEndpoints") == 3


# --------------------------------------------------------------------------------------------- pure functions

def test_build_variants_takes_the_names_from_the_configuration_when_the_endpoint_has_none():
    config = {"ProductionVariants": [{"VariantName": "a", "InstanceType": "ml.c5.xlarge", "InitialInstanceCount": 3}]}
    [variant] = build_variants({}, config)
    assert (variant["name"], variant["instance_count"], variant["vcpus"]) == ("a", 3, 4)


def test_build_variants_reads_a_serverless_configuration_being_applied_or_only_configured():
    desired = {"ProductionVariants": [{"VariantName": "a", "DesiredServerlessConfig": {"MemorySizeInMB": 1024,
                                                                                        "MaxConcurrency": 2}}]}
    assert build_variants(desired, None)[0]["serverless"] == {"memory_size_mb": 1024, "max_concurrency": 2,
                                                               "provisioned_concurrency": 0}
    creating = {"ProductionVariants": [{"VariantName": "a"}]}
    config = {"ProductionVariants": [{"VariantName": "a", "ServerlessConfig": {"MemorySizeInMB": 3072,
                                                                               "MaxConcurrency": 8}}]}
    assert build_variants(creating, config)[0]["serverless"]["memory_size_mb"] == 3072


def test_an_instance_count_prefers_what_runs_then_what_is_wanted_then_the_configured_one():
    config = {"ProductionVariants": [{"VariantName": "a", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}]}
    assert build_variants({"ProductionVariants": [{"VariantName": "a", "CurrentInstanceCount": 4,
                                                   "DesiredInstanceCount": 6}]}, config)[0]["instance_count"] == 4
    assert build_variants({"ProductionVariants": [{"VariantName": "a", "DesiredInstanceCount": 6}]},
                          config)[0]["instance_count"] == 6
    # zero is a count (scaled to zero), not a missing one
    assert build_variants({"ProductionVariants": [{"VariantName": "a", "CurrentInstanceCount": 0}]},
                          config)[0]["instance_count"] == 0


def test_endpoint_type_is_async_from_either_description_and_serverless_only_when_every_variant_is():
    serverless = {"serverless": {"memory_size_mb": 1024}}
    assert endpoint_type({"AsyncInferenceConfig": {}}, None, []) == "realtime"  # an empty config is none
    assert endpoint_type({}, {"AsyncInferenceConfig": {"OutputConfig": {}}}, []) == "async"
    assert endpoint_type({"AsyncInferenceConfig": {"OutputConfig": {}}}, None, []) == "async"
    assert endpoint_type({}, None, [serverless, serverless]) == "serverless"
    assert endpoint_type({}, None, [serverless, {"serverless": None}]) == "realtime"
    assert endpoint_type({}, None, []) == "realtime"


def test_a_model_is_multi_model_when_any_container_is():
    assert is_multi_model({"Containers": [{"Mode": "SingleModel"}, {"Mode": "MultiModel"}]})
    assert not is_multi_model({"PrimaryContainer": {"Mode": "SingleModel"}})
    assert not is_multi_model({})


def test_components_are_grouped_by_endpoint():
    listed = [{"EndpointName": "a", "InferenceComponentName": "x"},
              {"EndpointName": "b", "InferenceComponentName": "y"},
              {"EndpointName": "a", "InferenceComponentName": "z"},
              {"InferenceComponentName": "orphan"}]
    assert components_by_endpoint(listed) == {"a": ["x", "z"], "b": ["y"]}


def test_iso_time_is_in_utc_and_passes_text_through():
    local = datetime.datetime(2025, 6, 1, 12, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
    assert iso_time(local) == "2025-06-01T10:00:00+00:00"
    assert iso_time(local) == iso_time(local.astimezone(datetime.timezone.utc))
    assert iso_time("2025-06-01T10:00:00+00:00") == "2025-06-01T10:00:00+00:00" and iso_time(None) is None


def test_short_error_is_one_line_without_html_and_cut_at_the_limit():
    page = ("<!doctype html>\n<html><title>500 Internal Server Error</title>\n<h1>Internal Server Error</h1>\n"
            "<p>The server encountered an internal error.</p>")
    error = ClientError({"Error": {"Code": "500", "Message": page}}, "ListInferenceComponents")
    assert short_error(error) == ("500: 500 Internal Server Error Internal Server Error The server encountered an "
                                  "internal error.")
    cut = short_error(ClientError({"Error": {"Code": "X", "Message": "y" * 500}}, "Op"), limit=50)
    assert len(cut) == 50 and cut.endswith("...")
    assert short_error(ValueError("no\nconnection")) == "no connection"
