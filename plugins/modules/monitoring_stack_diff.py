#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: monitoring_stack_diff
short_description: Say in words what applying a template would change in an endpoint's monitoring stack
version_added: 1.0.0
description:
  - "Compares the template and tags to apply with the deployed stack (DescribeStacks and GetTemplate only: no
    write call and no change set, in check mode or not) and reports each change in words, such as
    C(~ alarm ep-AllTraffic-ModelLatency: Threshold 1000000 -> 250000)."
  - The role runs it in check mode and with C(--diff), before M(amazon.aws.cloudformation) applies the template
    (whose own check mode would create a change set).
  - Checks the template against CloudFormation's limits (51,200 bytes inline, 500 resources) before any AWS call.
  - Refuses stacks that exist but were not created by this collection (no C(managed-by) tag), stacks that another
    operation is changing, and stacks stuck in a failed state, with a message saying what to do.
  - "Each AWS call is retried in botocore's standard retry mode, 10 times unless O(aws_config) says otherwise
    (the role passes C(endpoint_monitoring_aws_config)): throttling, 5xx answers with or without an error
    code, dropped connections and timeouts, with a jittered backoff."
options:
  endpoint_name:
    description: The SageMaker endpoint the stack monitors (used in messages).
    type: str
    required: true
  stack_name:
    description: Name of the CloudFormation stack.
    type: str
    required: true
  template_body:
    description: The template to apply, as JSON or YAML text. Required when O(state=present).
    type: str
  tags:
    description: The stack tags to apply.
    type: dict
    default: {}
  termination_protection:
    description: Whether termination protection is wanted on the stack.
    type: bool
    default: false
  state:
    description: V(present) compares for a create or an update; V(absent) lists what a deletion removes.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - mlops.sagemaker_monitoring contributors (@example)
"""

EXAMPLES = r"""
- name: Say what would change in the endpoint's stack
  mlops.sagemaker_monitoring.monitoring_stack_diff:
    endpoint_name: churn-model
    stack_name: sagemaker-monitoring-churn-model
    template_body: "{{ lookup('ansible.builtin.template', 'stack.yml.j2') }}"
    tags: {managed-by: mlops.sagemaker_monitoring, sagemaker-endpoint: churn-model}
  register: stack_diff
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
stack_status:
  description: Status of the deployed stack, if there is one.
  returned: success
  type: str
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_message
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.client_config import client_config
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_spec import (
    SpecError,
    check_template_limits,
)
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.plan import (
    FINGERPRINT_OUTPUT,
    RECREATE_STATES,
    outputs_of,
)
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.stack_plan import (
    PlanError,
    parse_template,
    plan_stack,
)


def describe_stack(client, stack_name):
    try:
        stacks = client.describe_stacks(aws_retry=True, StackName=stack_name)["Stacks"]
    except is_boto3_error_message("does not exist"):
        return None
    return stacks[0] if stacks else None


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            endpoint_name=dict(type="str", required=True),
            stack_name=dict(type="str", required=True),
            template_body=dict(type="str"),
            tags=dict(type="dict", default={}),
            termination_protection=dict(type="bool", default=False),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        required_if=[("state", "present", ["template_body"])],
        supports_check_mode=True,
    )
    p = module.params
    endpoint = p["endpoint_name"]
    template = None
    if p["state"] == "present":
        try:
            template = parse_template(p["template_body"])
            check_template_limits(endpoint, template, p["template_body"])
        except ValueError as e:  # SpecError is one
            module.fail_json(msg=str(e) if isinstance(e, SpecError) else
                             "endpoint %r: the template is neither JSON nor YAML: %s" % (endpoint, e))

    client = module.client("cloudformation", retry_decorator=AWSRetry.jittered_backoff(), config=client_config())
    try:
        stack = describe_stack(client, p["stack_name"])
        deployed = None
        if stack is not None and stack.get("StackStatus") not in RECREATE_STATES:
            deployed = parse_template(client.get_template(aws_retry=True, StackName=p["stack_name"])["TemplateBody"])
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        module.fail_json_aws(e, msg="endpoint %r: failed to read stack %s" % (endpoint, p["stack_name"]))

    try:
        plan = plan_stack(p["stack_name"], stack, deployed, template, p["tags"], state=p["state"])
    except PlanError as e:
        module.fail_json(msg="endpoint %r: %s" % (endpoint, e))

    changes = plan["changes"]
    action = plan["action"]
    if p["state"] == "present" and stack is not None and action == "none":
        wanted = template.get("Outputs", {}).get(FINGERPRINT_OUTPUT, {}).get("Value")
        if outputs_of(stack).get(FINGERPRINT_OUTPUT) != wanted:
            action = "update"
            changes = ["~ output %s: what is applied is recorded again (settings outside the template, such as the "
                       "stack policy or a subscriber's raw delivery, changed)" % FINGERPRINT_OUTPUT]
    if p["state"] == "present" and stack is not None and bool(stack.get("EnableTerminationProtection")) != \
            p["termination_protection"]:
        on = p["termination_protection"]
        changes = changes + ["~ termination protection %s -> %s" % ("off" if on else "on", "on" if on else "off")]
        action = "update" if action == "none" else action
    result = dict(changed=bool(changes), action=action, changes=changes,
                  stack_status=(stack or {}).get("StackStatus", ""))
    if changes:
        result["diff"] = {"prepared": "%s (%s):\n%s\n" % (p["stack_name"], action, "\n".join(changes))}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
