# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs the monitoring_spec module's logic in the controller's process (no module process per endpoint)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_spec import SpecError
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.task_args import (
    MONITORING_SPEC_ARGS,
    monitoring_spec_result,
)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        _validation, params = self.validate_argument_spec(argument_spec=MONITORING_SPEC_ARGS)
        try:
            result.update(monitoring_spec_result(params))
        except SpecError as e:
            result.update(failed=True, msg=str(e), endpoint=e.endpoint, problems=e.problems)
        return result
