# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: rollout_summary
short_description: One line per endpoint on how a monitoring run went
version_added: 1.0.0
description:
  - Turns the role's fleet result (C(endpoint_monitoring_fleet)) into a line per endpoint (changed, unchanged,
    failed with why) and a total. Hosts of the play without a result (failed before the role) are "not run".
positional: hosts
options:
  _input:
    description: C(endpoint_monitoring_fleet), registered by the endpoint_monitoring role.
    type: dict
    required: true
  hosts:
    description: The hosts of the play.
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Print the summary
  ansible.builtin.debug:
    msg: "{{ endpoint_monitoring_fleet | mlops.sagemaker_monitoring.rollout_summary(ansible_play_hosts_all) }}"
  run_once: true
"""

RETURN = r"""
_value:
  description: Lines of text.
  type: list
  elements: str
"""

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.summary import (
    summarize,
    summarize_dashboards,
)


def rollout_summary(fleet, hosts):
    results = (fleet or {}).get("hosts") or {}
    return summarize(dict((h, results.get(h)) for h in hosts)) + summarize_dashboards((fleet or {}).get(
        "fleet_dashboards"))


class FilterModule(object):
    def filters(self):
        return {"rollout_summary": rollout_summary}
