"""The sagemaker_endpoints inventory plugin against SageMaker endpoints of a moto server on 127.0.0.1.

A fleet of endpoints of every kind is created once in two regions; each test writes an inventory file of its
own and runs the real ansible-inventory (or ansible-playbook) on it, as a user would.
"""

import json
import os
import subprocess
import uuid

import pytest
import yaml

from conftest import ROOT, ansible_env

from ansible_collections.mlops.sagemaker_monitoring.plugins.inventory import sagemaker_endpoints
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils import sagemaker_facts

pytestmark = pytest.mark.integration

PLUGIN = "mlops.sagemaker_monitoring.sagemaker_endpoints"
EAST, WEST = "us-east-1", "eu-west-1"
ROLE = "arn:aws:iam::123456789012:role/sagemaker"
BIN = os.path.join(ROOT, ".venv", "bin")


# --- the fleet ----------------------------------------------------------------------------------------------

class Fleet:
    def __init__(self, server):
        self.server = server
        self.prefix = "inv%s" % uuid.uuid4().hex[:6]
        self.clients = {EAST: server.client("sagemaker", EAST), WEST: server.client("sagemaker", WEST)}

    def name(self, short):
        return "%s-%s" % (self.prefix, short)

    def model(self, region, short, multi_model=False):
        container = {"Image": "123456789012.dkr.ecr.%s.amazonaws.com/inference:1" % region,
                     "ModelDataUrl": "s3://models/%s/" % short}
        if multi_model:
            container["Mode"] = "MultiModel"
        self.clients[region].create_model(ModelName=self.name(short), ExecutionRoleArn=ROLE,
                                          PrimaryContainer=container)
        return self.name(short)

    def endpoint(self, region, short, variants, tags=None, **config):
        client = self.clients[region]
        client.create_endpoint_config(EndpointConfigName=self.name(short) + "-config", ProductionVariants=variants,
                                      **config)
        client.create_endpoint(EndpointName=self.name(short), EndpointConfigName=self.name(short) + "-config",
                               Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()])
        return self.name(short)


def instance_variant(name, model, instance_type, count):
    return {"VariantName": name, "ModelName": model, "InstanceType": instance_type, "InitialInstanceCount": count,
            "InitialVariantWeight": 1.0}


@pytest.fixture(scope="module")
def fleet(moto):
    fleet = Fleet(moto)
    model = fleet.model(EAST, "model")
    fleet.endpoint(EAST, "cpu", [instance_variant("AllTraffic", model, "ml.m5.xlarge", 2)],
                   tags={"team": "fraud", "env": "prod"})
    fleet.endpoint(EAST, "gpu", [instance_variant("blue", model, "ml.g4dn.xlarge", 1),
                                 instance_variant("green", model, "ml.g4dn.xlarge", 3)], tags={"team": "recs"})
    fleet.endpoint(EAST, "serverless", [{"VariantName": "AllTraffic", "ModelName": model,
                                         "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5}}])
    fleet.endpoint(EAST, "async", [instance_variant("AllTraffic", model, "ml.c5.xlarge", 1)],
                   AsyncInferenceConfig={"OutputConfig": {"S3OutputPath": "s3://async-results/out/"}})
    fleet.endpoint(EAST, "mme", [instance_variant("AllTraffic", fleet.model(EAST, "mme-model", multi_model=True),
                                                  "ml.m5.large", 1)])
    fleet.endpoint(EAST, "shared", [instance_variant("AllTraffic", model, "ml.t2.medium", 1)])

    west_model = fleet.model(WEST, "model")
    fleet.endpoint(WEST, "serverless-pc", [{"VariantName": "AllTraffic", "ModelName": west_model,
                                            "ServerlessConfig": {"MemorySizeInMB": 4096, "MaxConcurrency": 10,
                                                                 "ProvisionedConcurrency": 2}}],
                   tags={"team": "fraud"})
    fleet.endpoint(WEST, "shared", [instance_variant("AllTraffic", west_model, "ml.c5.2xlarge", 2)])
    # A type the collection's table does not know (moto's list of instance types is old).
    fleet.endpoint(WEST, "legacy", [instance_variant("AllTraffic", west_model, "ml.p2.xlarge", 1)])
    return fleet


# --- running the inventory ----------------------------------------------------------------------------------

def untag(data):
    """ansible-inventory marks values from an inventory plugin as unsafe ({"__ansible_unsafe": value})."""
    if isinstance(data, dict):
        if set(data) == {"__ansible_unsafe"}:
            return data["__ansible_unsafe"]
        return dict((k, untag(v)) for k, v in data.items())
    if isinstance(data, list):
        return [untag(v) for v in data]
    return data


class Result:
    def __init__(self, completed):
        self.rc = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr

    @property
    def inventory(self):
        assert self.rc == 0, self.stderr
        return untag(json.loads(self.stdout))

    @property
    def hostvars(self):
        return self.inventory["_meta"]["hostvars"]

    def group(self, name):
        return sorted(self.inventory.get(name, {}).get("hosts", []))


# moto answers ListInferenceComponents, which it lacks, with HTTP 500: three attempts (botocore's default), not the
# plugin's eleven, before the plugin warns and carries on without inference components.
QUICK_RETRIES = {"retries": {"mode": "standard", "max_attempts": 2}}


def write_inventory(tmp_path, fleet, name="fleet", **options):
    config = {"plugin": PLUGIN, "regions": [EAST, WEST], "name_patterns": [fleet.prefix + "-*"],
              "aws_config": QUICK_RETRIES}
    config.update(options)
    path = tmp_path / ("%s.sagemaker_endpoints.yml" % name)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return str(path)


def run(command, server, env=None, timeout=120):
    env = dict(env or ansible_env(server))
    # An inventory source that fails to parse is only a warning by default; here it fails the command.
    env["ANSIBLE_INVENTORY_UNPARSED_FAILED"] = "true"
    completed = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, universal_newlines=True, timeout=timeout)
    return Result(completed)


def inventory_list(path, server, *args, **kwargs):
    return run([os.path.join(BIN, "ansible-inventory"), "-i", path, "--list"] + list(args), server, **kwargs)


@pytest.fixture(scope="module")
def everything(fleet, moto, tmp_path_factory):
    """The whole fleet with the plugin's defaults (apart from the name pattern that keeps it to this module)."""
    result = inventory_list(write_inventory(tmp_path_factory.mktemp("everything"), fleet), moto)
    assert result.rc == 0, result.stderr
    return result


# --- host variables, per kind of endpoint ---------------------------------------------------------------------

def test_one_host_per_endpoint_named_after_it(everything, fleet):
    assert sorted(everything.hostvars) == sorted(
        [fleet.name(n) for n in ("cpu", "gpu", "serverless", "async", "mme", "serverless-pc", "legacy")]
        + [fleet.name("shared") + "@" + EAST, fleet.name("shared") + "@" + WEST])
    for host, hostvars in everything.hostvars.items():
        assert hostvars["ansible_connection"] == "local"
        assert host.split("@")[0] == hostvars["endpoint_monitoring_endpoint_name"]
        assert set(hostvars) == {
            "ansible_connection", "endpoint_monitoring_endpoint_name", "endpoint_monitoring_region",
            "endpoint_monitoring_endpoint_type", "endpoint_monitoring_multi_model", "endpoint_monitoring_variants",
            "endpoint_monitoring_inference_components", "sagemaker_endpoint"}


def test_no_group_is_made_by_default(everything):
    assert set(everything.inventory) == {"_meta", "all", "ungrouped"}


def test_realtime_cpu_endpoint(everything, fleet):
    hostvars = everything.hostvars[fleet.name("cpu")]
    assert hostvars["endpoint_monitoring_endpoint_name"] == fleet.name("cpu")
    assert hostvars["endpoint_monitoring_region"] == EAST
    assert hostvars["endpoint_monitoring_endpoint_type"] == "realtime"
    assert hostvars["endpoint_monitoring_multi_model"] is False
    assert hostvars["endpoint_monitoring_variants"] == [
        {"name": "AllTraffic", "instance_type": "ml.m5.xlarge", "instance_count": 2, "vcpus": 4, "gpus": 0,
         "serverless": None}]
    assert hostvars["endpoint_monitoring_inference_components"] == []
    facts = hostvars["sagemaker_endpoint"]
    assert facts["arn"] == "arn:aws:sagemaker:%s:123456789012:endpoint/%s" % (EAST, fleet.name("cpu"))
    assert facts["status"] == "InService"
    assert facts["config_name"] == fleet.name("cpu") + "-config"
    assert facts["tags"] == {"team": "fraud", "env": "prod"}
    assert facts["creation_time"].startswith("20") and facts["creation_time"].endswith("+00:00")


def test_gpu_endpoint_with_two_variants(everything, fleet):
    hostvars = everything.hostvars[fleet.name("gpu")]
    assert hostvars["endpoint_monitoring_endpoint_type"] == "realtime"
    assert hostvars["endpoint_monitoring_variants"] == [
        {"name": "blue", "instance_type": "ml.g4dn.xlarge", "instance_count": 1, "vcpus": 4, "gpus": 1,
         "serverless": None},
        {"name": "green", "instance_type": "ml.g4dn.xlarge", "instance_count": 3, "vcpus": 4, "gpus": 1,
         "serverless": None}]
    assert hostvars["sagemaker_endpoint"]["tags"] == {"team": "recs"}


def test_serverless_endpoint_without_provisioned_concurrency(everything, fleet):
    hostvars = everything.hostvars[fleet.name("serverless")]
    assert hostvars["endpoint_monitoring_endpoint_type"] == "serverless"
    assert hostvars["endpoint_monitoring_variants"] == [
        {"name": "AllTraffic", "instance_type": None, "instance_count": None, "vcpus": None, "gpus": None,
         "serverless": {"memory_size_mb": 2048, "max_concurrency": 5, "provisioned_concurrency": 0}}]
    assert hostvars["sagemaker_endpoint"]["tags"] == {}


def test_serverless_endpoint_with_provisioned_concurrency(everything, fleet):
    hostvars = everything.hostvars[fleet.name("serverless-pc")]
    assert hostvars["endpoint_monitoring_region"] == WEST
    assert hostvars["endpoint_monitoring_endpoint_type"] == "serverless"
    assert hostvars["endpoint_monitoring_variants"][0]["serverless"] == {
        "memory_size_mb": 4096, "max_concurrency": 10, "provisioned_concurrency": 2}


def test_async_endpoint(everything, fleet):
    hostvars = everything.hostvars[fleet.name("async")]
    assert hostvars["endpoint_monitoring_endpoint_type"] == "async"
    assert hostvars["endpoint_monitoring_variants"] == [
        {"name": "AllTraffic", "instance_type": "ml.c5.xlarge", "instance_count": 1, "vcpus": 4, "gpus": 0,
         "serverless": None}]


def test_multi_model_endpoint(everything, fleet):
    assert everything.hostvars[fleet.name("mme")]["endpoint_monitoring_multi_model"] is True
    assert everything.hostvars[fleet.name("mme")]["endpoint_monitoring_endpoint_type"] == "realtime"
    others = [h for h in everything.hostvars if h != fleet.name("mme")]
    assert not any(everything.hostvars[h]["endpoint_monitoring_multi_model"] for h in others)


def test_unknown_instance_type_has_null_counts_and_a_warning(everything, fleet):
    variant = everything.hostvars[fleet.name("legacy")]["endpoint_monitoring_variants"][0]
    assert (variant["instance_type"], variant["instance_count"], variant["vcpus"], variant["gpus"]) == \
        ("ml.p2.xlarge", 1, None, None)
    assert "Instance type ml.p2.xlarge is not in the collection's table" in everything.stderr


def test_same_name_in_two_regions_gets_the_region_in_the_host_name(everything, fleet):
    east = everything.hostvars[fleet.name("shared") + "@" + EAST]
    west = everything.hostvars[fleet.name("shared") + "@" + WEST]
    assert east["endpoint_monitoring_endpoint_name"] == west["endpoint_monitoring_endpoint_name"] == fleet.name("shared")
    assert (east["endpoint_monitoring_region"], west["endpoint_monitoring_region"]) == (EAST, WEST)
    assert east["endpoint_monitoring_variants"][0]["instance_type"] == "ml.t2.medium"
    assert west["endpoint_monitoring_variants"][0]["instance_type"] == "ml.c5.2xlarge"
    # Queried in one region only, the name is not ambiguous and stays bare.
    assert fleet.name("cpu") in everything.hostvars


def test_hostname_region_suffix_always(fleet, moto, tmp_path):
    result = inventory_list(write_inventory(tmp_path, fleet, regions=[WEST], hostname_region_suffix="always"), moto)
    assert sorted(result.hostvars) == sorted("%s@%s" % (fleet.name(n), WEST)
                                             for n in ("serverless-pc", "shared", "legacy"))


def test_region_qualified_host_names_work_in_patterns_and_host_vars(fleet, moto, tmp_path):
    path = write_inventory(tmp_path, fleet)
    host = "%s@%s" % (fleet.name("shared"), WEST)
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "host_vars" / (host + ".yml")).write_text(yaml.safe_dump({"endpoint_monitoring_ok_actions": True}))
    result = run([os.path.join(BIN, "ansible"), "-i", path, host, "-m", "ansible.builtin.debug",
                  "-a", "msg={{ endpoint_monitoring_endpoint_name }}/{{ endpoint_monitoring_region }}/"
                        "{{ endpoint_monitoring_ok_actions }}"], moto)
    assert result.rc == 0, result.stdout + result.stderr
    assert "%s | SUCCESS" % host in result.stdout
    assert "msg: %s/%s/True" % (fleet.name("shared"), WEST) in result.stdout


def test_inference_components_fall_back_to_empty_once_per_region(everything):
    # moto has no ListInferenceComponents (HTTP 500, "not implemented"): one warning per region, [] everywhere.
    assert all(h["endpoint_monitoring_inference_components"] == [] for h in everything.hostvars.values())
    for region in (EAST, WEST):
        assert everything.stderr.count("Could not list SageMaker inference components in %s," % region) == 1
    assert "<html" not in everything.stderr


def test_deleted_endpoint_config_and_model_are_warnings_not_failures(fleet, moto, tmp_path):
    # SageMaker lets a configuration and a model be deleted while an endpoint still runs on them.
    own = Fleet(moto)  # endpoints of this test only, out of the module's fleet
    client = own.clients[WEST]
    model = own.model(WEST, "orphan-model", multi_model=True)
    no_config = own.endpoint(WEST, "orphan-config", [instance_variant("AllTraffic", own.model(WEST, "model"),
                                                                        "ml.m5.large", 3)])
    no_model = own.endpoint(WEST, "orphan-model", [instance_variant("AllTraffic", model, "ml.m5.large", 1)])
    client.delete_endpoint_config(EndpointConfigName=no_config + "-config")
    client.delete_model(ModelName=model)
    result = inventory_list(write_inventory(tmp_path, own, regions=[WEST]), moto)
    # What DescribeEndpoint still tells: the variant and its instance count, not the type.
    assert result.hostvars[no_config]["endpoint_monitoring_variants"] == [
        {"name": "AllTraffic", "instance_type": None, "instance_count": 3, "vcpus": None, "gpus": None,
         "serverless": None}]
    assert result.hostvars[no_config]["endpoint_monitoring_endpoint_type"] == "realtime"
    assert "Endpoint configuration %s-config of SageMaker endpoint %s no longer exists" % (
        no_config, no_config) in result.stderr
    assert result.hostvars[no_model]["endpoint_monitoring_multi_model"] is False
    assert result.hostvars[no_model]["endpoint_monitoring_variants"][0]["instance_type"] == "ml.m5.large"
    assert "Model %s of SageMaker endpoint %s no longer exists: taken as single-model (region %s)" % (
        model, no_model, WEST) in result.stderr


# --- filters ---------------------------------------------------------------------------------------------

def test_name_patterns(fleet, moto, tmp_path):
    path = write_inventory(tmp_path, fleet, name_patterns=[fleet.prefix + "-serverless*", "*-gp?"])
    assert sorted(inventory_list(path, moto).hostvars) == sorted(
        fleet.name(n) for n in ("serverless", "serverless-pc", "gpu"))


def test_name_patterns_are_case_sensitive(fleet, moto, tmp_path):
    path = write_inventory(tmp_path, fleet, name_patterns=[fleet.prefix.upper() + "-*"])
    assert inventory_list(path, moto).hostvars == {}


def test_tags_must_all_match(fleet, moto, tmp_path):
    fraud = inventory_list(write_inventory(tmp_path, fleet, tags={"team": "fraud"}), moto)
    assert sorted(fraud.hostvars) == sorted([fleet.name("cpu"), fleet.name("serverless-pc")])
    both = inventory_list(write_inventory(tmp_path, fleet, tags={"team": "fraud", "env": "prod"}), moto)
    assert sorted(both.hostvars) == [fleet.name("cpu")]
    none = inventory_list(write_inventory(tmp_path, fleet, tags={"team": "fraud", "env": "dev"}), moto)
    assert none.hostvars == {}


def test_tag_values_are_compared_as_text():
    assert sagemaker_endpoints.tags_match({"canary": "true", "shard": "2", "team": "fraud"},
                                          {"canary": True, "shard": 2})
    assert not sagemaker_endpoints.tags_match({"canary": "True"}, {"canary": True})
    assert not sagemaker_endpoints.tags_match({}, {"team": ""})
    assert sagemaker_endpoints.tags_match({"team": ""}, {"team": None})


def test_no_regions_means_every_region_of_the_account(fleet, moto, tmp_path):
    path = tmp_path / "all-regions.sagemaker_endpoints.yml"
    path.write_text(yaml.safe_dump({"plugin": PLUGIN, "name_patterns": [fleet.prefix + "-*"], "aws_config": QUICK_RETRIES}))
    hostvars = inventory_list(str(path), moto).hostvars
    assert set(h["endpoint_monitoring_region"] for h in hostvars.values()) == {EAST, WEST}
    assert fleet.name("serverless-pc") in hostvars and fleet.name("cpu") in hostvars


def test_statuses(fleet, moto, tmp_path):
    default = inventory_list(write_inventory(tmp_path, fleet, regions=[EAST]), moto)
    assert len(default.hostvars) == 6
    failed_only = inventory_list(write_inventory(tmp_path, fleet, regions=[EAST], statuses=["Failed", "Creating"]),
                                 moto)
    assert failed_only.hostvars == {}
    everything = inventory_list(write_inventory(tmp_path, fleet, regions=[EAST], statuses=["all"]), moto)
    assert sorted(everything.hostvars) == sorted(default.hostvars)


def test_endpoint_not_in_service_is_left_out():
    pytest.skip("moto 5.2.5 puts every endpoint InService at once (CreateEndpoint, UpdateEndpoint and "
                "UpdateEndpointWeightsAndCapacities alike): no endpoint in another state can be made; "
                "test_statuses covers the filter itself")


# --- constructed: keyed_groups, groups, compose, strict --------------------------------------------------------

def test_keyed_groups_groups_and_compose(fleet, moto, tmp_path):
    path = write_inventory(
        tmp_path, fleet,
        keyed_groups=[{"key": "endpoint_monitoring_endpoint_type", "prefix": "sagemaker"},
                      {"key": "sagemaker_endpoint.tags", "prefix": "tag"},
                      {"key": "endpoint_monitoring_region", "prefix": "region"}],
        groups={"accelerated": "endpoint_monitoring_variants | selectattr('gpus') | list | length > 0",
                "multi_model": "endpoint_monitoring_multi_model"},
        compose={"endpoint_monitoring_tags": "{'team': sagemaker_endpoint.tags.team | default('platform')}",
                 "total_vcpus": "endpoint_monitoring_variants | map(attribute='vcpus') | select('number') | sum"})
    result = inventory_list(path, moto)
    n = fleet.name
    assert result.group("sagemaker_realtime") == sorted(
        [n("cpu"), n("gpu"), n("mme"), n("legacy"), n("shared") + "@" + EAST, n("shared") + "@" + WEST])
    assert result.group("sagemaker_serverless") == sorted([n("serverless"), n("serverless-pc")])
    assert result.group("sagemaker_async") == [n("async")]
    assert result.group("tag_team_fraud") == sorted([n("cpu"), n("serverless-pc")])
    assert result.group("tag_team_recs") == [n("gpu")]
    assert result.group("tag_env_prod") == [n("cpu")]
    assert result.group("region_eu_west_1") == sorted([n("serverless-pc"), n("legacy"), n("shared") + "@" + WEST])
    assert result.group("accelerated") == [n("gpu")]
    assert result.group("multi_model") == [n("mme")]
    hostvars = result.hostvars
    assert hostvars[n("cpu")]["endpoint_monitoring_tags"] == {"team": "fraud"}
    assert hostvars[n("async")]["endpoint_monitoring_tags"] == {"team": "platform"}
    assert hostvars[n("gpu")]["total_vcpus"] == 8
    assert hostvars[n("serverless")]["total_vcpus"] == 0


def test_strict_makes_a_bad_expression_fatal(fleet, moto, tmp_path):
    options = {"regions": [EAST], "compose": {"x": "no_such_variable.attribute"}}
    lenient = inventory_list(write_inventory(tmp_path, fleet, **options), moto)
    assert lenient.rc == 0 and "x" not in lenient.hostvars[fleet.name("cpu")]
    strict = inventory_list(write_inventory(tmp_path, fleet, strict=True, **options), moto)
    assert strict.rc != 0
    assert "Could not set x for host" in strict.stderr


def test_graph(fleet, moto, tmp_path):
    path = write_inventory(tmp_path, fleet, regions=[EAST],
                           keyed_groups=[{"key": "endpoint_monitoring_endpoint_type", "prefix": "sagemaker"}])
    result = run([os.path.join(BIN, "ansible-inventory"), "-i", path, "--graph"], moto)
    assert result.rc == 0, result.stderr
    assert "@sagemaker_serverless:" in result.stdout
    assert "|--%s" % fleet.name("serverless") in result.stdout
    assert "|--%s@%s" % (fleet.name("shared"), EAST) not in result.stdout  # one region: the bare name
    assert "|--%s" % fleet.name("shared") in result.stdout


# --- cache ---------------------------------------------------------------------------------------------------

def test_cache_serves_a_second_run_without_any_aws_call(fleet, moto, tmp_path):
    own = Fleet(moto)  # the endpoint this test deletes is not one of the module's fleet
    client = own.clients[EAST]
    cached = own.endpoint(EAST, "cached", [instance_variant("AllTraffic", own.model(EAST, "model"), "ml.m5.large", 1)])
    cache_dir = tmp_path / "cache"
    path = write_inventory(tmp_path, fleet, regions=[EAST], name_patterns=[cached, fleet.name("cpu")],
                           cache=True, cache_plugin="ansible.builtin.jsonfile", cache_connection=str(cache_dir),
                           cache_timeout=600,
                           keyed_groups=[{"key": "endpoint_monitoring_endpoint_type", "prefix": "sagemaker"}])
    first = inventory_list(path, moto)
    assert sorted(first.hostvars) == sorted([cached, fleet.name("cpu")])
    assert os.listdir(str(cache_dir))

    client.delete_endpoint(EndpointName=cached)
    # Nothing listens at this address: a run that called AWS at all would fail.
    dead_env = ansible_env(moto, EAST)
    dead_env["AWS_URL"] = dead_env["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9"
    second = inventory_list(path, moto, env=dead_env)
    assert second.rc == 0, second.stderr
    assert second.hostvars == first.hostvars
    assert second.group("sagemaker_realtime") == sorted([cached, fleet.name("cpu")])

    # --flush-cache asks AWS again: the deleted endpoint is gone, and the new result is what the cache holds.
    flushed = inventory_list(path, moto, "--flush-cache")
    assert sorted(flushed.hostvars) == [fleet.name("cpu")]
    third = inventory_list(path, moto, env=dead_env)
    assert sorted(third.hostvars) == [fleet.name("cpu")]

    # A changed filter is a different question: the cached answer is not used for it.
    with open(path) as f:
        config = yaml.safe_load(f)
    config["name_patterns"] = [fleet.name("gpu")]
    with open(path, "w") as f:
        yaml.safe_dump(config, f)
    assert inventory_list(path, moto, env=dead_env).rc != 0
    assert sorted(inventory_list(path, moto).hostvars) == [fleet.name("gpu")]


def test_without_cache_every_run_asks_aws(fleet, moto, tmp_path):
    path = write_inventory(tmp_path, fleet, regions=[EAST], name_patterns=[fleet.name("cpu")])
    assert inventory_list(path, moto).rc == 0
    dead_env = ansible_env(moto, EAST)
    dead_env["AWS_URL"] = "http://127.0.0.1:9"
    failed = inventory_list(path, moto, env=dead_env)
    assert failed.rc != 0
    assert "Failed to list SageMaker endpoints in us-east-1" in failed.stderr + failed.stdout


# --- SageMaker calls -------------------------------------------------------------------------------------

def test_list_endpoints_follows_pages(fleet):
    client = fleet.clients[EAST]
    assert client.list_endpoints(MaxResults=2).get("NextToken")  # more than one page at this size
    paged = sagemaker_facts.list_endpoints(client, page_size=2)
    names = [e["EndpointName"] for e in paged]
    assert len(names) == len(set(names))
    assert set(fleet.name(n) for n in ("cpu", "gpu", "serverless", "async", "mme", "shared")) <= set(names)
    assert sorted(names) == sorted(e["EndpointName"] for e in sagemaker_facts.list_endpoints(client))


# --- the playbooks run on it ---------------------------------------------------------------------------------

def test_monitor_endpoints_playbook_runs_on_the_inventory(fleet, moto, tmp_path):
    path = write_inventory(tmp_path, fleet, regions=[EAST])
    listed = run([os.path.join(BIN, "ansible-playbook"), "-i", path,
                  os.path.join(ROOT, "playbooks", "monitor_endpoints.yml"), "--list-hosts"], moto)
    assert listed.rc == 0, listed.stdout + listed.stderr
    lines = listed.stdout.split("hosts (6):", 1)[1].splitlines()
    hosts = [line.strip() for line in lines if line.strip()]
    assert sorted(hosts) == sorted(fleet.name(n) for n in ("cpu", "gpu", "serverless", "async", "mme", "shared"))

    # What a play sees on a host, with the connection the plugin sets (no SSH).
    debug = run([os.path.join(BIN, "ansible"), "-i", path, fleet.name("gpu"), "-m", "ansible.builtin.debug",
                 "-a", "msg={{ endpoint_monitoring_variants | map(attribute='name') | join(',') }}"
                       "/{{ endpoint_monitoring_endpoint_type }}/{{ endpoint_monitoring_region }}"], moto)
    assert debug.rc == 0, debug.stdout + debug.stderr
    assert "msg: blue,green/realtime/us-east-1" in debug.stdout


def test_ansible_doc_renders(moto):
    result = run([os.path.join(BIN, "ansible-doc"), "-t", "inventory", PLUGIN], moto)
    assert result.rc == 0, result.stderr
    assert PLUGIN in result.stdout and "[WARNING]" not in result.stderr + result.stdout
    doc = json.loads(run([os.path.join(BIN, "ansible-doc"), "-t", "inventory", "--json", PLUGIN], moto).stdout)[PLUGIN]
    options = doc["doc"]["options"]
    assert {"regions", "name_patterns", "statuses", "tags", "endpoint_url", "profile", "keyed_groups", "compose",
            "groups", "strict", "cache", "cache_plugin"} <= set(options)
    assert options["statuses"]["default"] == ["InService"]
    for example in yaml.safe_load_all(doc["examples"]):
        assert example["plugin"] == PLUGIN
