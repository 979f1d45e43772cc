#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: monitoring_stack_plan
short_description: Work out what a run would change in an endpoint's monitoring stack, without changing it
version_added: 1.0.0
description:
  - "Compares the desired template and tags of an endpoint's monitoring stack with the deployed ones
    (DescribeStacks and GetTemplate only: no write call, no change set) and reports the action to take
    and each change in words, such as C(~ alarm ep-AllTraffic-ModelLatency: Threshold 1000000 -> 250000)."
  - Checks the template against CloudFormation's limits (51,200 bytes inline, 500 resources) before any
    AWS call.
  - Refuses stacks that exist but were not created by this collection (no C(managed-by) tag), stacks that
    another operation is changing, and stacks stuck in a failed state, with a message saying what to do.
  - Reports C(changed) when the stack would change, so check mode and C(--diff) show the plan.
options:
  endpoint_name:
    description: The SageMaker endpoint the stack monitors (used in messages).
    type: str
    required: true
  stack_name:
    description: Name of the CloudFormation stack.
    type: str
    required: true
  template:
    description: The desired template, as a mapping. Required when O(state=present).
    type: dict
  state:
    description:
      - V(present) plans a create or an update; V(absent) plans the deletion of a stack made by this collection.
    type: str
    choices: [present, absent]
    default: present
  tags:
    description: The desired stack tags.
    type: dict
    default: {}
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - mlops.sagemaker_monitoring contributors
"""

EXAMPLES = r"""
- name: Show what would change
  mlops.sagemaker_monitoring.monitoring_stack_plan:
    endpoint_name: churn-model
    stack_name: sagemaker-monitoring-churn-model
    template: "{{ lookup('ansible.builtin.template', 'stack.yml.j2') | from_yaml }}"
    tags: {managed-by: mlops.sagemaker_monitoring, sagemaker-endpoint: churn-model}
  register: plan
"""

RETURN = r"""
action:
  description: C(create), C(recreate) (a stack left in ROLLBACK_COMPLETE), C(update), C(delete) or C(none).
  returned: success
  type: str
changes:
  description: Each change in words; C(+) added, C(~) changed, C(-) removed.
  returned: success
  type: list
  elements: str
template_body:
  description: The desired template as minified JSON, the exact body to apply.
  returned: when O(state=present)
  type: str
stack_status:
  description: Status of the deployed stack, if there is one.
  returned: success
  type: str
check_mode:
  description: Whether this ran in check mode (from the command line or the play); later writes follow it.
  returned: success
  type: bool
outputs:
  description: Outputs of the deployed stack (empty if there is none).
  returned: success
  type: dict
"""

import json

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_spec import (
    SpecError,
    check_template_limits,
)
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.fleet import outputs_of
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.stack_plan import (
    PlanError,
    parse_template,
    plan_stack,
)


def describe_stack(client, stack_name):
    try:
        stacks = client.describe_stacks(aws_retry=True, StackName=stack_name)["Stacks"]
    except is_boto3_error_code("ValidationError"):
        # CloudFormation's answer for a stack that does not exist.
        return None
    return stacks[0] if stacks else None


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            endpoint_name=dict(type="str", required=True),
            stack_name=dict(type="str", required=True),
            template=dict(type="dict"),
            tags=dict(type="dict", default={}),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        required_if=[("state", "present", ["template"])],
        supports_check_mode=True,
    )
    p = module.params
    body = None
    if p["state"] == "present":
        body = json.dumps(p["template"], separators=(",", ":"))
        try:
            check_template_limits(p["endpoint_name"], p["template"], body)
        except SpecError as e:
            module.fail_json(msg=str(e))

    client = module.client("cloudformation", retry_decorator=AWSRetry.jittered_backoff())
    try:
        stack = describe_stack(client, p["stack_name"])
        deployed = None
        if stack is not None and stack.get("StackStatus") not in ("ROLLBACK_COMPLETE",):
            deployed = parse_template(client.get_template(aws_retry=True, StackName=p["stack_name"])["TemplateBody"])
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        module.fail_json_aws(e, msg="endpoint %r: failed to read stack %s" % (p["endpoint_name"], p["stack_name"]))

    try:
        plan = plan_stack(p["stack_name"], stack, deployed, p["template"], p["tags"], state=p["state"])
    except PlanError as e:
        module.fail_json(msg="endpoint %r: %s" % (p["endpoint_name"], e))

    outputs = outputs_of(stack)
    result = dict(
        changed=plan["action"] != "none",
        action=plan["action"],
        changes=plan["changes"],
        stack_status=(stack or {}).get("StackStatus", ""),
        outputs=outputs,
        check_mode=module.check_mode,
    )
    if body is not None:
        result["template_body"] = body
    if plan["changes"]:
        result["diff"] = {"prepared": "%s (%s):\n%s\n" % (p["stack_name"], plan["action"], "\n".join(plan["changes"]))}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
