#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: cloudformation_revert_drift
short_description: Bring a stack's drifted resources back to its template with a drift-aware change set
version_added: 1.0.0
description:
  - Creates a drift-aware change set (C(DeploymentMode=REVERT_DRIFT)) for the stack with O(template_body), waits for
    it, executes it and waits for the stack's update. CloudFormation compares the template with the live state of
    each resource and overwrites what was changed outside it, so that the stack's record and AWS agree again; the
    alarms and the topic are written by CloudFormation (with O(role_arn), its service role), not by the runner.
  - M(amazon.aws.cloudformation) has no option for a drift-aware change set; this module does that one thing.
  - The change set's name is also its C(ClientToken), and the execution's C(ClientRequestToken), so that a retried
    call whose answer was lost is not made twice.
  - A change set with nothing to do (the drift was reverted meanwhile) is deleted and the module reports no change.
    A server that ignores C(DeploymentMode) (LocalStack, an older CloudFormation) makes an ordinary change set,
    which would revert nothing that drifted; it is deleted, unexecuted, and the module fails saying so.
  - In check mode nothing is created; the plan's lines say what drifted.
options:
  stack_name: {description: The stack., type: str, required: true}
  template_body: {description: The stack's template (as the role renders it)., type: str, required: true}
  tags: {description: The stack's tags., type: dict, default: {}}
  role_arn: {description: The CloudFormation service role the stack is applied with., type: str}
  notification_arns: {description: SNS topics for the stack's events., type: list, elements: str, default: []}
  termination_protection:
    description: Termination protection the stack should have; switched when it differs. Left as it is when omitted.
    type: bool
  wait_timeout: {description: Seconds to wait for the change set and then for the stack's update., type: int, default: 1800}
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - mlops.sagemaker_monitoring contributors (@example)
"""

EXAMPLES = r"""
- name: Revert what was changed outside CloudFormation
  mlops.sagemaker_monitoring.cloudformation_revert_drift:
    stack_name: sagemaker-monitoring-fraud-scoring
    template_body: "{{ lookup('file', 'monitoring_stack.yml') }}"
    tags:
      managed-by: mlops.sagemaker_monitoring
"""

RETURN = r"""
changes:
  description: The change set's resource changes in words (C(~ AWS::CloudWatch::Alarm AlarmX (Modify; drift MODIFIED))).
  returned: always
  type: list
  elements: str
change_set_name: {description: The change set made., type: str, returned: when not in check mode}
stack_status: {description: The stack's status at the end., type: str, returned: when executed}
"""

import uuid

try:
    from botocore.exceptions import BotoCoreError, ClientError, WaiterError
except ImportError:
    pass  # AnsibleAWSModule reports the missing library

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.client_config import client_config
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.drift import (
    CHANGE_SET_PREFIX,
    change_lines,
    has_nothing_to_do,
    is_drift_aware,
    revert_drift_request,
)

POLL_SECONDS = 5


def _waiter_config(timeout):
    return {"Delay": POLL_SECONDS, "MaxAttempts": max(1, timeout // POLL_SECONDS)}


class Repair:
    def __init__(self, module):
        self.module = module
        self.cfn = module.client("cloudformation", config=client_config())
        self.params = module.params
        self.name = CHANGE_SET_PREFIX + uuid.uuid4().hex[:20]

    def fail(self, e, message):
        self.module.fail_json_aws(e, msg="stack %s: %s" % (self.params["stack_name"], message))

    def described(self):
        """The change set with every page of its changes."""
        kwargs = {"StackName": self.params["stack_name"], "ChangeSetName": self.name}
        result = self.cfn.describe_change_set(**kwargs)
        changes = list(result.get("Changes") or [])
        while result.get("NextToken"):
            result = self.cfn.describe_change_set(NextToken=result["NextToken"], **kwargs)
            changes.extend(result.get("Changes") or [])
        return dict(result, Changes=changes)

    def delete(self):
        try:
            self.cfn.delete_change_set(StackName=self.params["stack_name"], ChangeSetName=self.name)
        except (BotoCoreError, ClientError) as e:
            self.module.warn("could not delete change set %s of stack %s: %s" % (
                self.name, self.params["stack_name"], e))

    def run(self):
        p = self.params
        request = revert_drift_request(p["stack_name"], self.name, p["template_body"], p["tags"],
                                       p["role_arn"], p["notification_arns"])
        try:
            self.cfn.create_change_set(**request)
        except (BotoCoreError, ClientError) as e:
            self.fail(e, "could not create a drift-aware change set")
        try:
            self.cfn.get_waiter("change_set_create_complete").wait(
                StackName=p["stack_name"], ChangeSetName=self.name, WaiterConfig=_waiter_config(p["wait_timeout"]))
        except WaiterError:
            pass  # a failed change set is read below, with its reason
        try:
            change_set = self.described()
        except (BotoCoreError, ClientError) as e:
            self.fail(e, "could not read change set %s" % self.name)
        if not is_drift_aware(change_set):
            self.delete()
            self.module.fail_json(msg=(
                "stack %s: CloudFormation made an ordinary change set, not a drift-aware one (it ignored "
                "DeploymentMode=REVERT_DRIFT, as LocalStack and CloudFormation before November 2025 do), so what "
                "drifted cannot be reverted this way; the change set is deleted unexecuted. Delete the stack (the next "
                "run creates it again) or put the drifted values back by hand." % p["stack_name"]))
        if has_nothing_to_do(change_set):
            self.delete()
            return self.protect(dict(changed=False, changes=[], change_set_name=self.name))
        if change_set.get("Status") != "CREATE_COMPLETE":
            self.delete()
            self.module.fail_json(msg="stack %s: change set %s is %s: %s" % (
                p["stack_name"], self.name, change_set.get("Status"), change_set.get("StatusReason", "")))
        lines = change_lines(change_set["Changes"])
        try:
            self.cfn.execute_change_set(StackName=p["stack_name"], ChangeSetName=self.name,
                                        ClientRequestToken=self.name)
            self.cfn.get_waiter("stack_update_complete").wait(StackName=p["stack_name"],
                                                              WaiterConfig=_waiter_config(p["wait_timeout"]))
        except WaiterError as e:
            status = ((e.last_response or {}).get("Stacks") or [{}])[0].get("StackStatus", "unknown")
            self.module.fail_json(msg="stack %s: the drift-aware change set %s did not complete: the stack is %s"
                                  % (p["stack_name"], self.name, status), changes=lines)
        except (BotoCoreError, ClientError) as e:
            self.fail(e, "could not execute change set %s" % self.name)
        return self.protect(dict(changed=True, changes=lines, change_set_name=self.name,
                                 stack_status="UPDATE_COMPLETE"))

    def protect(self, result):
        wanted = self.params["termination_protection"]
        if wanted is None:
            return result
        try:
            stack = self.cfn.describe_stacks(StackName=self.params["stack_name"])["Stacks"][0]
            if bool(stack.get("EnableTerminationProtection")) != wanted:
                self.cfn.update_termination_protection(StackName=self.params["stack_name"],
                                                       EnableTerminationProtection=wanted)
                result["changed"] = True
                result["changes"] = result["changes"] + ["~ termination protection %s" % ("on" if wanted else "off")]
        except (BotoCoreError, ClientError) as e:
            self.fail(e, "could not set termination protection")
        return result


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            stack_name=dict(type="str", required=True),
            template_body=dict(type="str", required=True),
            tags=dict(type="dict", default={}),
            role_arn=dict(type="str"),
            notification_arns=dict(type="list", elements="str", default=[]),
            termination_protection=dict(type="bool"),
            wait_timeout=dict(type="int", default=1800),
        ),
        supports_check_mode=True,
    )
    if module.check_mode:
        module.exit_json(changed=True, changes=[])
    module.exit_json(**Repair(module).run())


if __name__ == "__main__":
    main()
