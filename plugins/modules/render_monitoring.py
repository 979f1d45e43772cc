#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: render_monitoring
short_description: One endpoint's checked settings, spec, dashboard and stack template, without AWS
version_added: 1.0.0
description:
  - An action that runs in the controller for the current host (one endpoint). It reads the host's
    endpoint_monitoring_* variables, checks them against the role's argument spec and the metric catalog, and
    returns what M(mlops.sagemaker_monitoring.monitor_fleet) would apply for it. Makes no AWS call.
  - Used by the P(mlops.sagemaker_monitoring.endpoint_monitoring#role) role's C(render.yml) tasks, for the
    render, preview and backtest playbooks.
options:
  argument_specs:
    description: The role's C(meta/argument_specs.yml).
    type: path
    required: true
  template:
    description: The Jinja2 CloudFormation template.
    type: path
    required: true
attributes:
  check_mode: {support: full}
  diff_mode: {support: none}
  platform: {platforms: all}
author:
  - mlops.sagemaker_monitoring contributors
"""

EXAMPLES = r"""
- name: Render the endpoint's stack
  mlops.sagemaker_monitoring.render_monitoring:
    argument_specs: "{{ role_path }}/meta/argument_specs.yml"
    template: "{{ role_path }}/templates/monitoring_stack.yml.j2"
  register: rendered
"""

RETURN = r"""
spec:
  description: The endpoint's validated spec (alarms, subscribers, names, tags), as monitoring_spec returns it.
  returned: success
  type: dict
dashboard:
  description: The dashboard, as sagemaker_dashboard returns it (body, body_json, widget_count).
  returned: success
  type: dict
template:
  description: The CloudFormation template, as a mapping.
  returned: success
  type: dict
"""
