#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: monitor_fleet
short_description: Check, render and apply the monitoring of every endpoint of a play in one task
version_added: 1.0.0
description:
  - An action that runs in the controller, once for the whole play (C(run_once)), and is what the
    P(mlops.sagemaker_monitoring.endpoint_monitoring#role) role does. For each host of O(hosts) it reads the
    endpoint_monitoring_* variables as that host's own task would see them, checks them against the role's
    argument spec and the metric catalog, computes the dashboard and renders the stack template.
  - Then it applies all the stacks with one M(mlops.sagemaker_monitoring.monitoring_fleet) run per AWS profile
    and endpoint URL (batched listing, fingerprints, concurrent stack operations, one wait loop).
  - An endpoint with bad settings or whose stack fails has status C(failed) with a message naming it and the
    field; the others go on. Hosts with C(endpoint_monitoring_state=absent) have their stack removed.
  - In check mode only read calls are made; with --diff each change is said in words.
options:
  hosts:
    description: Inventory hosts, one endpoint each; normally C(ansible_play_batch).
    type: list
    elements: str
    required: true
  argument_specs:
    description: The role's C(meta/argument_specs.yml); its C(main) options are the variables read and checked.
    type: path
    required: true
  template:
    description: The Jinja2 CloudFormation template to render for each endpoint.
    type: path
    required: true
  concurrency:
    description: Stack operations at once per region; default the smallest C(endpoint_monitoring_concurrency).
    type: int
  wait_timeout:
    description: Seconds to wait for the stack operations; default the largest C(endpoint_monitoring_wait_timeout).
    type: int
  poll_interval:
    description:
      - The longest wait, in seconds, between two polls of a region's stacks in progress.
      - The wait is an eighth of the median time the finished operations took, at least 0.5 seconds; until one has
        finished, it starts at 0.5 seconds and doubles after each poll.
    type: float
    default: 5.0
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
attributes:
  check_mode: {support: full}
  diff_mode: {support: full}
  platform: {platforms: all}
author:
  - mlops.sagemaker_monitoring contributors
"""

EXAMPLES = r"""
- name: Monitor the play's endpoints
  mlops.sagemaker_monitoring.monitor_fleet:
    hosts: "{{ ansible_play_batch }}"
    argument_specs: "{{ role_path }}/meta/argument_specs.yml"
    template: "{{ role_path }}/templates/monitoring_stack.yml.j2"
  run_once: true
  register: endpoint_monitoring_fleet
"""

RETURN = r"""
hosts:
  description: Per host, its endpoint's result (as M(mlops.sagemaker_monitoring.monitoring_fleet) returns it) with
    the computed C(spec) (webhook URLs shortened) and C(dashboard_metrics).
  returned: always
  type: dict
check_mode:
  description: Whether this was a check-mode run.
  returned: always
  type: bool
"""
