#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: monitoring_prune
short_description: Find the monitoring stacks of endpoints that no longer exist, read-only
version_added: 1.0.0
description:
  - Lists the region's SageMaker endpoints (ListEndpoints) and stacks (DescribeStacks) and returns the stacks that this
    collection created (tagged C(managed-by=mlops.sagemaker_monitoring)) for endpoints that are gone. Stacks without
    that tag are never returned.
  - Endpoints named in O(keep) are never returned, whatever SageMaker answers.
  - Stacks that cannot be removed safely (another operation is changing them, stuck in a failed state, termination
    protection on) are returned in RV(refused) with why, not in RV(prune).
  - Makes no write call; the monitor_endpoints playbook removes what it returns with M(amazon.aws.cloudformation).
  - "Each AWS call is retried in botocore's standard retry mode, 10 times unless O(aws_config) says otherwise
    (the monitor_endpoints playbook passes C(endpoint_monitoring_aws_config)): throttling, 5xx answers with or
    without an error code, dropped connections and timeouts, with a jittered backoff."
options:
  keep:
    description: Endpoints whose monitoring is kept in any case (usually the endpoints of the current run).
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - mlops.sagemaker_monitoring contributors (@example)
"""

EXAMPLES = r"""
- name: Find the monitoring of deleted endpoints
  mlops.sagemaker_monitoring.monitoring_prune:
    region: eu-west-1
    keep: "{{ ansible_play_hosts_all }}"
  register: pruned

- name: Remove it
  amazon.aws.cloudformation:
    stack_name: "{{ item.stack_name }}"
    region: "{{ item.region }}"
    state: absent
  loop: "{{ pruned.prune }}"
"""

RETURN = r"""
prune:
  description: The stacks to remove, each with C(stack_name), C(endpoint), C(region) and C(status).
  returned: success
  type: list
  elements: dict
refused:
  description: Stacks of deleted endpoints that are left alone, each with C(reason).
  returned: success
  type: list
  elements: dict
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.client_config import client_config
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.plan import live
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.sagemaker_facts import (
    list_endpoints,
)
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.stack_plan import plan_prune


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(keep=dict(type="list", elements="str", default=[])),
        supports_check_mode=True,
    )
    retry = AWSRetry.jittered_backoff()
    cfn = module.client("cloudformation", config=client_config())
    try:
        endpoints = [e["EndpointName"] for e in list_endpoints(module.client("sagemaker", config=client_config()))]
        stacks = live(retry(cfn.get_paginator("describe_stacks").paginate().build_full_result)().get("Stacks", []))
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        module.fail_json_aws(e, msg="Failed to list the region's endpoints and stacks")
    prune, refused = plan_prune(stacks, endpoints, keep=module.params["keep"])
    for entry in prune + refused:
        entry["region"] = module.region
    for entry in refused:
        module.warn("monitoring of deleted endpoint %r left alone: %s" % (entry["endpoint"], entry["reason"]))
    module.exit_json(changed=False, prune=prune, refused=refused)


if __name__ == "__main__":
    main()
