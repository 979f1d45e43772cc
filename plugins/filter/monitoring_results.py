# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: monitoring_results
short_description: The outcome of a monitoring run, per endpoint, from what the endpoint_monitoring role registered
version_added: 1.0.0
description:
  - Reads, for each host, what the role's tasks registered (the prepared spec, the comparison, the apply, the
    subscriptions, the confirmation) and says per endpoint how it went.
  - The input of the R(rollout_summary,ansible_collections.mlops.sagemaker_monitoring.rollout_summary_filter) and
    R(monitoring_cost,ansible_collections.mlops.sagemaker_monitoring.monitoring_cost_filter) filters, and of the
    role's fleet dashboard task.
positional: hostvars, active_hosts
options:
  _input:
    description: The play's hosts (C(ansible_play_hosts_all), or C(ansible_play_batch) within a batch).
    type: list
    elements: str
    required: true
  hostvars:
    description: C(hostvars).
    type: dict
    required: true
  active_hosts:
    description: The hosts that have not failed (C(ansible_play_hosts)); by default all of them.
    type: list
    elements: str
  check_mode:
    description: Whether the run is in check mode (C(ansible_check_mode)).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Summarise the run
  ansible.builtin.debug:
    msg: >-
      {{ ansible_play_hosts_all | mlops.sagemaker_monitoring.monitoring_results(hostvars, ansible_play_hosts)
         | mlops.sagemaker_monitoring.rollout_summary }}
  run_once: true
"""

RETURN = r"""
_value:
  description:
    - C(hosts) (per host C(endpoint), C(region), C(stack_name), C(status), C(action), C(changes), C(error),
      C(pending_confirmation)), C(usage) (per host, what is billed), C(fleet_endpoints) (per region, the entries of
      the fleet dashboards) and C(fleet_dashboards) (per fleet dashboard, how it went).
  type: dict
"""

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.summary import collect_run


def monitoring_results(hosts, hostvars, active_hosts=None, check_mode=False):
    hosts = list(hosts or [])
    return collect_run(hosts, hostvars, hosts if active_hosts is None else list(active_hosts), bool(check_mode))


class FilterModule(object):
    def filters(self):
        return {"monitoring_results": monitoring_results}
