#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: monitoring_prune
short_description: Remove the monitoring stacks of SageMaker endpoints that no longer exist
version_added: 1.0.0
description:
  - Lists the region's SageMaker endpoints (ListEndpoints) and CloudFormation stacks (DescribeStacks), and deletes
    the stacks that this collection created (tagged C(managed-by=mlops.sagemaker_monitoring)) for endpoints that are
    gone. Stacks without that tag are never touched.
  - Endpoints named in O(keep) are never pruned, whatever SageMaker answers.
  - In check mode, reports what would be deleted and deletes nothing.
  - Waits for the deletions together, up to O(wait_timeout) seconds, and fails with the stacks still being deleted
    if that passes.
options:
  keep:
    description: Endpoints whose monitoring is kept in any case (usually the endpoints of the current run).
    type: list
    elements: str
    default: []
  wait_timeout:
    description: Seconds to wait for the deletions to finish.
    type: int
    default: 900
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - mlops.sagemaker_monitoring contributors
"""

EXAMPLES = r"""
- name: Remove the monitoring of deleted endpoints
  mlops.sagemaker_monitoring.monitoring_prune:
    region: eu-west-1
    keep: "{{ ansible_play_hosts_all }}"
"""

RETURN = r"""
pruned:
  description: The stacks deleted (or, in check mode, that would be), with their endpoint.
  returned: success
  type: list
  elements: dict
"""

import time

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.stack_plan import plan_prune

POLL_SECONDS = 2


def _paginate(client, operation, key, **kwargs):
    pages = client.get_paginator(operation).paginate(**kwargs)
    return [item for page in pages for item in page.get(key, [])]


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            keep=dict(type="list", elements="str", default=[]),
            wait_timeout=dict(type="int", default=900),
        ),
        supports_check_mode=True,
    )
    retry = AWSRetry.jittered_backoff()
    sagemaker = module.client("sagemaker", retry_decorator=retry)
    cfn = module.client("cloudformation", retry_decorator=retry)
    try:
        endpoints = [e["EndpointName"] for e in retry(_paginate)(sagemaker, "list_endpoints", "Endpoints")]
        stacks = retry(_paginate)(cfn, "describe_stacks", "Stacks")
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        module.fail_json_aws(e, msg="Failed to list the region's endpoints and stacks")

    pruned = plan_prune(stacks, endpoints, keep=module.params["keep"])
    changes = ["- stack %s (endpoint %s no longer exists)" % (p["stack_name"], p["endpoint"]) for p in pruned]
    result = dict(changed=bool(pruned), pruned=pruned, changes=changes)
    if changes:
        result["diff"] = {"prepared": "\n".join(changes) + "\n"}
    if module.check_mode or not pruned:
        module.exit_json(**result)

    try:
        for stack in pruned:
            cfn.delete_stack(aws_retry=True, StackName=stack["stack_name"])
        deadline = time.time() + module.params["wait_timeout"]
        waiting = set(p["stack_name"] for p in pruned)
        failed = {}
        while waiting and time.time() < deadline:
            # One listing a round for all the stacks, not one describe per stack.
            statuses = dict((s["StackName"], s) for s in retry(_paginate)(cfn, "describe_stacks", "Stacks"))
            for name in list(waiting):
                stack = statuses.get(name)
                if stack is None or stack["StackStatus"] == "DELETE_COMPLETE":
                    waiting.discard(name)
                elif stack["StackStatus"] == "DELETE_FAILED":
                    failed[name] = stack.get("StackStatusReason", "")
                    waiting.discard(name)
            if waiting:
                time.sleep(POLL_SECONDS)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        module.fail_json_aws(e, msg="Failed to delete monitoring stacks of deleted endpoints")
    if failed or waiting:
        module.fail_json(msg="Pruning did not finish: %s%s" % (
            "; ".join("%s is DELETE_FAILED (%s)" % (n, r) for n, r in sorted(failed.items())),
            " still deleting after %ds: %s" % (module.params["wait_timeout"], ", ".join(sorted(waiting)))
            if waiting else ""), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
