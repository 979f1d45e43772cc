# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""render_monitoring: one endpoint's checked settings, spec, dashboard and stack template, from its host's
variables, without any AWS call (for review, dashboard previews and backtests)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase

from ansible_collections.mlops.sagemaker_monitoring.plugins.plugin_utils.endpoint_render import (
    RenderError,
    read_settings,
    render_endpoint,
    role_options,
    unknown_variables,
)

ARGS = dict(
    argument_specs=dict(type="path", required=True),
    template=dict(type="path", required=True),
)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=ARGS)
        options = role_options(args["argument_specs"])
        try:
            settings = read_settings(self._templar.template, task_vars, options)
            rendered = render_endpoint(settings, unknown_variables(task_vars, options), args["template"])
        except RenderError as e:
            result.update(failed=True, msg=str(e), endpoint=e.endpoint)
            return result
        result.update(changed=False, **rendered)
        return result
