# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: sagemaker_endpoints
short_description: SageMaker endpoints as inventory hosts, with what their monitoring needs to know
version_added: 1.0.0
description:
  - One inventory host per Amazon SageMaker endpoint, found with ListEndpoints in each region, and host
    variables that the C(mlops.sagemaker_monitoring.endpoint_monitoring) role reads
    (C(endpoint_monitoring_*), see below), so that the monitoring follows the endpoints that exist.
  - For each endpoint it calls DescribeEndpoint, DescribeEndpointConfig, DescribeModel (once per model of
    the region), ListTags, and once per region ListInferenceComponents; every call is retried as O(aws_config)
    says (by default like the role's C(endpoint_monitoring_aws_config)).
  - The inventory file is a YAML file whose name ends with C(sagemaker_endpoints.yml) or
    C(sagemaker_endpoints.yaml), for example C(prod.sagemaker_endpoints.yml).
  - "The host name is the endpoint name. When the same endpoint name is found in more than one of the
    regions queried, each of those endpoints is named C(<endpoint>@<region>) (all of them, so the name does not
    depend on the order of O(regions)); with O(hostname_region_suffix=always) every host is named so.
    C(endpoint_monitoring_endpoint_name) always holds the real endpoint name."
  - "Host variables set for each endpoint:"
  - "C(ansible_connection): V(local); every AWS call of the role is made from the controller."
  - "C(endpoint_monitoring_endpoint_name) (str): the endpoint name. C(endpoint_monitoring_region) (str): its region."
  - "C(endpoint_monitoring_endpoint_type) (str): V(async) when the endpoint configuration has an
    C(AsyncInferenceConfig), else V(serverless) when every production variant has a C(ServerlessConfig),
    else V(realtime)."
  - "C(endpoint_monitoring_multi_model) (bool): whether a container of a variant's model has C(Mode: MultiModel)."
  - "C(endpoint_monitoring_variants) (list of dicts): one per production variant, in the endpoint's order, with
    the keys C(name), C(instance_type) (null for serverless), C(instance_count) (the current count, else the
    desired, else the configured initial count; null for serverless), C(vcpus) and C(gpus) (from the
    collection's table of instance types; C(gpus) counts GPUs and Inferentia/Trainium accelerators, 0 on a
    CPU type; both null for serverless and for a type not in the table), and C(serverless): null for an
    instance-based variant, else C({memory_size_mb, max_concurrency, provisioned_concurrency}) with
    C(provisioned_concurrency) 0 when none is configured."
  - "C(endpoint_monitoring_inference_components) (list of str): names of the inference components hosted on the
    endpoint, sorted; [] when ListInferenceComponents is not available in the region (a warning says so once per region)."
  - "C(sagemaker_endpoint) (dict): C(arn), C(status), C(config_name), C(creation_time) (ISO 8601, UTC) and C(tags)
    (a dict)."
  - No group is made except by O(keyed_groups) and O(groups).
notes:
  - The inventory cache (O(cache)) stores the endpoints found, keyed by the inventory file; a cached result is
    used only while O(regions), O(name_patterns), O(statuses), O(tags), O(profile) and O(assume_role_arn) are
    unchanged, and O(compose), O(groups) and O(keyed_groups) are applied afresh on every run. A run with the
    cache used makes no AWS call at all. Use C(--flush-cache) to query AWS again before the cache expires.
  - Shadow variants of an endpoint are not listed in C(endpoint_monitoring_variants).
  - "IAM permissions needed: sagemaker:ListEndpoints, sagemaker:DescribeEndpoint, sagemaker:DescribeEndpointConfig,
    sagemaker:DescribeModel, sagemaker:ListTags, sagemaker:ListInferenceComponents; and ec2:DescribeRegions when
    O(regions) is empty."
author:
  - mlops.sagemaker_monitoring contributors (@example)
extends_documentation_fragment:
  - inventory_cache
  - constructed
  - amazon.aws.boto3
  - amazon.aws.common.plugins
  - amazon.aws.region.plugins
  - amazon.aws.assume_role.plugins
options:
  plugin:
    description: Marks the file as a source of this plugin.
    type: str
    required: true
    choices: [mlops.sagemaker_monitoring.sagemaker_endpoints]
  regions:
    description:
      - The regions to look for endpoints in.
      - Empty (the default) means every region of the account (EC2 DescribeRegions), as for the amazon.aws
        inventory plugins; listing the regions you use is faster.
    type: list
    elements: str
    default: []
  name_patterns:
    description:
      - Only endpoints whose name matches at least one of these shell-style patterns (C(*), C(?), C([seq])),
        case-sensitively. Empty means every name.
    type: list
    elements: str
    default: []
  statuses:
    description:
      - Only endpoints in one of these states (V(InService), V(Creating), V(Updating), V(SystemUpdating),
        V(RollingBack), V(OutOfService), V(Deleting), V(Failed), V(UpdateRollbackFailed)).
      - V(all), or an empty list, keeps endpoints in any state.
    type: list
    elements: str
    default: [InService]
  tags:
    description:
      - Only endpoints that carry every one of these tags with exactly this value (compared as text; V(true) and
        V(false) as lower-case words).
    type: dict
    default: {}
  strict_permissions:
    description:
      - When false, a region where listing endpoints is denied (AccessDenied) is skipped with a warning instead
        of failing the inventory.
    type: bool
    default: true
  aws_config:
    description:
      - botocore settings of the plugin's AWS clients
        (U(https://botocore.amazonaws.com/v1/documentation/api/latest/reference/config.html#botocore.config.Config)),
        as C(endpoint_monitoring_aws_config) is for the role's calls; given here, it replaces the default whole.
      - "The default retries each call in botocore's standard retry mode, up to 10 times after the first attempt:
        throttling, 5xx answers with or without an AWS error code, dropped and reset connections, and connect and
        read timeouts, each after a jittered exponential backoff."
      - "A server that answers an API it lacks with HTTP 500 (moto's ListInferenceComponents) is asked 11 times, for
        about 20 s, before the plugin warns and carries on without inference components;
        C({retries: {mode: standard, max_attempts: 2}}) asks three times."
    type: dict
    default: {retries: {mode: standard, max_attempts: 10}}
  hostname_region_suffix:
    description:
      - V(auto) names a host C(<endpoint>@<region>) only when the endpoint name is found in more than one region;
        V(always) names every host so.
    type: str
    choices: [auto, always]
    default: auto
"""

EXAMPLES = r"""
# prod.sagemaker_endpoints.yml: every InService endpoint of two regions, grouped by type and by team tag.
#   ansible-inventory -i prod.sagemaker_endpoints.yml --graph
#   ansible-playbook -i prod.sagemaker_endpoints.yml mlops.sagemaker_monitoring.monitor_endpoints
plugin: mlops.sagemaker_monitoring.sagemaker_endpoints
regions:
  - eu-west-1
  - us-east-1
keyed_groups:
  # sagemaker_realtime, sagemaker_serverless, sagemaker_async
  - key: endpoint_monitoring_endpoint_type
    prefix: sagemaker
  # tag_team_fraud, ... (one group per tag key and value)
  - key: sagemaker_endpoint.tags
    prefix: tag
groups:
  # endpoints with a GPU or accelerator on some variant
  accelerated: endpoint_monitoring_variants | selectattr('gpus') | list | length > 0

---
# Only the fraud team's production endpoints, whatever their state, cached for an hour.
plugin: mlops.sagemaker_monitoring.sagemaker_endpoints
regions: [eu-west-1]
name_patterns: ["fraud-*", "*-prod"]
statuses: [all]
tags:
  team: fraud
compose:
  # Fleet settings can also come from the endpoint's own tags.
  endpoint_monitoring_tags: "{'team': sagemaker_endpoint.tags.team}"
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/ansible-sagemaker-endpoints
cache_timeout: 3600

---
# Against an AWS-compatible server (or set AWS_URL), with a named profile.
plugin: mlops.sagemaker_monitoring.sagemaker_endpoints
regions: [us-east-1]
profile: ml-readonly
endpoint_url: http://127.0.0.1:5000
"""

import fnmatch

try:
    import botocore
except ImportError:
    pass  # reported by AWSInventoryBase (require_aws_sdk)

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict
from ansible_collections.amazon.aws.plugins.plugin_utils.inventory import AWSInventoryBase

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.sagemaker_facts import (
    components_by_endpoint,
    endpoint_facts,
    iso_time,
    list_endpoints,
    list_inference_components,
    list_tags,
    read_endpoint_facts,
    short_error,
)

# Bump when the shape of the cached data changes: an old cache entry is then ignored, not misread.
CACHE_FORMAT = 1

ACCESS_DENIED = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation")


# --- pure functions: selection and host variables -------------------------------------------------------


def name_matches(name, patterns):
    """True when no pattern is given or the name matches one of the shell-style patterns."""
    return not patterns or any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def status_matches(status, statuses):
    return not statuses or "all" in statuses or status in statuses


def tag_text(value):
    """A tag value of the inventory file as the text AWS holds: YAML may have read 2 or true."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def tags_match(tags, wanted):
    """True when every wanted tag is present with exactly the wanted value (compared as text)."""
    return all(key in tags and tags[key] == tag_text(value) for key, value in wanted.items())


def endpoint_host_vars(region, endpoint, config, tags, multi_model, inference_components):
    """The host variables of one endpoint: the contract the endpoint_monitoring role reads."""
    host_vars = {
        "ansible_connection": "local",
        "endpoint_monitoring_endpoint_name": endpoint["EndpointName"],
        "endpoint_monitoring_region": region,
    }
    for key, value in endpoint_facts(endpoint, config, multi_model, inference_components).items():
        host_vars["endpoint_monitoring_" + key] = value
    host_vars["sagemaker_endpoint"] = {
        "arn": endpoint.get("EndpointArn"),
        "status": endpoint.get("EndpointStatus"),
        "config_name": endpoint.get("EndpointConfigName"),
        "creation_time": iso_time(endpoint.get("CreationTime")),
        "tags": dict(tags),
    }
    return host_vars


def host_names(endpoints, always_suffix=False):
    """Inventory host name of each endpoint (host variables as above): the endpoint name, or
    ``<name>@<region>`` for names found in more than one region (or for all with ``always_suffix``)."""
    regions_of = {}
    for host_vars in endpoints:
        regions_of.setdefault(host_vars["endpoint_monitoring_endpoint_name"], set()).add(
            host_vars["endpoint_monitoring_region"])
    names = []
    for host_vars in endpoints:
        name = host_vars["endpoint_monitoring_endpoint_name"]
        if always_suffix or len(regions_of[name]) > 1:
            name = "%s@%s" % (name, host_vars["endpoint_monitoring_region"])
        names.append(name)
    return names


# --- the plugin -----------------------------------------------------------------------------------------


class InventoryModule(AWSInventoryBase):
    NAME = "mlops.sagemaker_monitoring.sagemaker_endpoints"
    INVENTORY_FILE_SUFFIXES = ("sagemaker_endpoints.yml", "sagemaker_endpoints.yaml")

    def __init__(self):
        super().__init__()
        self._warned_types = set()

    def get_option(self, option, hostvars=None):
        # AWSInventoryBase templates every element of a list option with the ``disable_lookups`` argument,
        # which ansible-core 2.19 reports as deprecated on every run: template the regions without it.
        if option == "regions":
            value = super(AWSInventoryBase, self).get_option(option, hostvars)
            return [self.templar.template(region) for region in value or []]
        return super().get_option(option, hostvars)

    # Options that decide which endpoints are found: a cached result holds only while they are unchanged.
    def _query(self):
        return {
            "regions": list(self.get_option("regions") or []),
            "name_patterns": list(self.get_option("name_patterns") or []),
            "statuses": list(self.get_option("statuses") or []),
            "tags": dict((str(k), tag_text(v)) for k, v in (self.get_option("tags") or {}).items()),
            "profile": self.get_option("profile"),
            "assume_role_arn": self.get_option("assume_role_arn"),
        }

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache=cache)
        query = self._query()

        endpoints = None
        if cache and self.get_option("cache"):
            try:
                cached = self._cache[self.get_cache_key(path)]
            except KeyError:
                cached = None
            same_query = isinstance(cached, dict) and cached.get("format") == CACHE_FORMAT and cached.get("query") == query
            if same_query and isinstance(cached.get("endpoints"), list):
                endpoints = cached["endpoints"]

        if endpoints is None:
            endpoints = self._discover(query)
            if self.get_option("cache"):
                self._cache[self.get_cache_key(path)] = {"format": CACHE_FORMAT, "query": query, "endpoints": endpoints}

        self._populate(endpoints)

    # --- discovery

    def _discover(self, query):
        endpoints = []
        for client, region in self.all_clients("sagemaker"):
            endpoints.extend(self._discover_region(client, region, query))
        endpoints.sort(key=lambda e: (e["endpoint_monitoring_endpoint_name"], e["endpoint_monitoring_region"]))
        return endpoints

    def _discover_region(self, client, region, query):
        try:
            summaries = list_endpoints(client)
        except is_boto3_error_code(list(ACCESS_DENIED)) as e:
            if self.get_option("strict_permissions"):
                self.fail_aws("Not allowed to list SageMaker endpoints in %s" % region, exception=e)
            self.warn("Skipping region %s: not allowed to list SageMaker endpoints (%s)" % (region, e))
            return []
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:  # pylint: disable=duplicate-except
            self.fail_aws("Failed to list SageMaker endpoints in %s" % region, exception=e)

        named = [s for s in summaries if name_matches(s["EndpointName"], query["name_patterns"])]
        selected = sorted((s for s in named if status_matches(s.get("EndpointStatus"), query["statuses"])),
                          key=lambda s: s["EndpointName"])
        found = []
        models = {}  # model name -> multi-model, once per region
        components = None  # endpoint name -> inference component names, listed once per region
        for summary in selected:
            name = summary["EndpointName"]
            if components is None:
                components = self._inference_components(client, region)
            try:
                tags = boto3_tag_list_to_ansible_dict(list_tags(client, summary["EndpointArn"]))
                if not tags_match(tags, query["tags"]):
                    continue
                read = read_endpoint_facts(client, name, models, components,
                                           lambda message: self.warn("%s (region %s)" % (message, region)))
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
                self.fail_aws("Failed to describe SageMaker endpoint %s in %s" % (name, region), exception=e)
            if read is None:
                self.display.vvv("SageMaker endpoint %s in %s was deleted while listing; skipped" % (name, region))
                continue
            endpoint, config, facts = read
            host_vars = endpoint_host_vars(region, endpoint, config, tags, facts["multi_model"],
                                           facts["inference_components"])
            self._warn_unknown_types(host_vars)
            found.append(host_vars)
        return found

    def _inference_components(self, client, region):
        """Endpoint name -> names of its inference components, from one listing of the region. Inference
        components are optional for the monitoring: when the region cannot list them (no permission, or a
        server without the API), warn once and carry on with none."""
        try:
            return components_by_endpoint(list_inference_components(client))
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
            self.warn("Could not list SageMaker inference components in %s, so endpoint_monitoring_inference_components "
                      "is [] for its endpoints: %s" % (region, short_error(e)))
            return {}

    def _warn_unknown_types(self, host_vars):
        for variant in host_vars["endpoint_monitoring_variants"]:
            instance_type = variant["instance_type"]
            if instance_type and variant["vcpus"] is None and instance_type not in self._warned_types:
                self._warned_types.add(instance_type)
                self.warn("Instance type %s is not in the collection's table: vcpus and gpus of its variants are null"
                          % instance_type)

    # --- inventory

    def _populate(self, endpoints):
        strict = self.get_option("strict")
        always = self.get_option("hostname_region_suffix") == "always"
        for host, host_vars in zip(host_names(endpoints, always_suffix=always), endpoints):
            self.inventory.add_host(host)
            for key, value in host_vars.items():
                self.inventory.set_variable(host, key, value)
            self._set_composite_vars(self.get_option("compose"), host_vars, host, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), host_vars, host, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), host_vars, host, strict=strict)
