#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: monitoring_result
short_description: Report one endpoint's outcome of the fleet task as the host's own result
version_added: 1.0.0
description:
  - An action that runs in the controller for the current host. It returns the endpoint's result from
    M(mlops.sagemaker_monitoring.monitor_fleet) as the host's task result, C(changed) when the endpoint's
    monitoring changed, and failed with the endpoint's message when it failed, so the play recap counts each
    endpoint and a failed endpoint leaves the play alone.
options:
  result:
    description: The endpoint's entry of the fleet result, C(endpoint_monitoring_fleet.hosts[inventory_hostname]).
    type: dict
    required: true
attributes:
  check_mode: {support: full}
  diff_mode: {support: none}
  platform: {platforms: all}
author:
  - mlops.sagemaker_monitoring contributors
"""

EXAMPLES = r"""
- name: Report the endpoint's result
  mlops.sagemaker_monitoring.monitoring_result:
    result: "{{ endpoint_monitoring_fleet.hosts[inventory_hostname] }}"
  register: endpoint_monitoring_result
"""

RETURN = r"""
status:
  description: C(changed), C(unchanged), C(failed) or C(not run).
  returned: always
  type: str
error:
  description: Why the endpoint failed, naming it (also in C(msg)).
  returned: when failed
  type: str
"""
