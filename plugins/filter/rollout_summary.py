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
  - Turns a run's outcome (R(monitoring_results,ansible_collections.mlops.sagemaker_monitoring.monitoring_results_filter))
    into a line per endpoint (changed, unchanged, failed with why, not run; with the subscribers that have not
    confirmed yet) and a total, then per region the subscriptions that wait for confirmation against SNS's quota,
    then a line per fleet dashboard the run kept.
options:
  _input:
    description: The run's outcome, from the monitoring_results filter.
    type: dict
    required: true
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
  description: Lines of text.
  type: list
  elements: str
"""

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.summary import (
    summarize,
    summarize_dashboards,
    summarize_pending,
)


def rollout_summary(run):
    run = run or {}
    lines = summarize(run.get("hosts") or {})
    lines += summarize_pending(run.get("pending_subscriptions"))
    return lines + summarize_dashboards(run.get("fleet_dashboards"))


class FilterModule(object):
    def filters(self):
        return {"rollout_summary": rollout_summary}
