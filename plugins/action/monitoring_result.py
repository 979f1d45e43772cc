# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""monitoring_result: one endpoint's outcome of the fleet task as its own host's task result (changed, or
failed with the endpoint's message), so the play recap and later plays see each endpoint as it went."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase

ARGS = dict(result=dict(type="dict", required=True))
# A failure's result is printed whole: only what says which stack failed and why.
FAILURE_KEYS = ("endpoint", "region", "stack_name", "status", "action", "error", "check_mode")


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=ARGS)
        outcome = args["result"]
        status = outcome.get("status", "not run")
        if status == "failed":
            result.update((k, outcome[k]) for k in FAILURE_KEYS if k in outcome)
            result.update(failed=True, changed=False, msg=outcome.get("error") or "failed")
            return result
        result.update(outcome)
        result["changed"] = status == "changed"
        return result
