#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: sagemaker_dashboard
short_description: Compute the CloudWatch dashboard body for a SageMaker endpoint
version_added: 1.0.0
description:
  - Computes a dashboard for one endpoint on CloudWatch's 24-column grid, so nobody edits or minifies
    dashboard JSON by hand.
  - A header text widget, an alarm-status widget (a new one for every 100 alarms), and for each production
    variant one graph per metric group (traffic, errors, latency, CPU, memory and disk, GPU), each metric
    drawn with its alarm's statistic and period and each alarm threshold drawn as an annotation.
  - Fails with a clear message if the dashboard would pass CloudWatch's limits (500 widgets, 2,500
    metrics, 500 metrics per widget).
  - Makes no AWS call.
options:
  endpoint_name:
    description: Name of the SageMaker endpoint.
    type: str
    required: true
  region:
    description: Region of the endpoint; graphs query it.
    type: str
    required: true
  variants:
    description:
      - Production variants to graph. Names (every variant-level metric of a real-time GPU endpoint is graphed),
        or mappings with C(name) and C(metrics), as in RV(mlops.sagemaker_monitoring.monitoring_prepare#module:spec.variants).
    type: list
    elements: raw
    default: [AllTraffic]
  endpoint_metrics:
    description: Metrics with the EndpointName dimension only (asynchronous backlog), graphed once.
    type: list
    elements: str
    default: []
  components:
    description: Inference components, each a mapping with C(name) and C(metrics).
    type: list
    elements: dict
    default: []
  composite:
    description: Name of the composite health alarm, shown first in the alarm widget.
    type: str
  alarms:
    description:
      - The enabled alarms, as returned in RV(mlops.sagemaker_monitoring.monitoring_prepare#module:spec.alarms).
      - Each needs C(name), C(metric), C(statistic), C(period) and C(comparison), and C(variant) or C(component)
        for the scope it watches; C(kind) is C(metric) (default), C(math) or C(anomaly).
    type: list
    elements: dict
    default: []
  metrics:
    description: Metrics to graph. Default is every metric of the collection's catalog.
    type: list
    elements: str
  account_id:
    description:
      - Account id used in the alarm ARNs of the alarm-status widget.
      - The default is CloudFormation's C(${AWS::AccountId}), for a body passed through C(Fn::Sub).
    type: str
    default: "${AWS::AccountId}"
  topic_name:
    description: SNS topic named in the header.
    type: str
author:
  - mlops.sagemaker_monitoring contributors (@example)
"""

EXAMPLES = r"""
- name: Compute the dashboard of an endpoint
  mlops.sagemaker_monitoring.sagemaker_dashboard:
    endpoint_name: churn-model
    region: eu-west-1
    variants: [AllTraffic]
    alarms: "{{ spec.spec.alarms }}"
    account_id: "123456789012"
  register: dashboard

- name: Publish it without CloudFormation
  ansible.builtin.command:
    argv: [aws, cloudwatch, put-dashboard, --dashboard-name, churn-model, --dashboard-body, "{{ dashboard.body_json }}"]
  changed_when: true
"""

RETURN = r"""
body:
  description: The dashboard body.
  returned: success
  type: dict
body_json:
  description: The dashboard body as minified JSON, ready for PutDashboard or a template.
  returned: success
  type: str
widget_count:
  description: Number of widgets.
  returned: success
  type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.dashboard import DashboardError
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.task_args import (
    DASHBOARD_ARGS,
    dashboard_result,
)


def main():
    module = AnsibleModule(argument_spec=DASHBOARD_ARGS, supports_check_mode=True)
    try:
        result = dashboard_result(module.params)
    except DashboardError as e:
        module.fail_json(msg=str(e))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
