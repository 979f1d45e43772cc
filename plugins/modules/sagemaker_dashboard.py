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
        or mappings with C(name) and C(metrics), as in RV(mlops.sagemaker_monitoring.monitoring_spec#module:spec.variants).
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
      - The enabled alarms, as returned in RV(mlops.sagemaker_monitoring.monitoring_spec#module:spec.alarms).
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
  - mlops.sagemaker_monitoring contributors
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

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.dashboard import (
    ACCOUNT_PLACEHOLDER,
    DashboardError,
    build_dashboard,
    minify,
)

ALARM_KEYS = ("name", "metric", "statistic", "period", "comparison")
# What each kind of alarm needs besides ALARM_KEYS to be drawn (threshold annotation, rate line, band line).
KIND_KEYS = {"metric": ("threshold",), "math": ("threshold", "expression"), "anomaly": ("band",)}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            endpoint_name=dict(type="str", required=True),
            region=dict(type="str", required=True),
            variants=dict(type="list", elements="raw", default=["AllTraffic"]),
            endpoint_metrics=dict(type="list", elements="str", default=[]),
            components=dict(type="list", elements="dict", default=[]),
            composite=dict(type="str"),
            alarms=dict(type="list", elements="dict", default=[]),
            metrics=dict(type="list", elements="str"),
            account_id=dict(type="str", default=ACCOUNT_PLACEHOLDER),
            topic_name=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    for option in ("variants", "components"):
        for i, scope in enumerate(p[option]):
            if option == "variants" and isinstance(scope, str):
                continue
            missing = [k for k in ("name", "metrics") if not isinstance(scope, dict) or k not in scope]
            if missing:
                module.fail_json(msg="endpoint %r: %s[%d] must be a mapping with name and metrics%s; it lacks %s"
                                 % (p["endpoint_name"], option, i, " (or a name)" if option == "variants" else "",
                                    ", ".join(missing)))
    for i, alarm in enumerate(p["alarms"]):
        kind = alarm.get("kind") or "metric"
        if kind not in KIND_KEYS:
            module.fail_json(msg="endpoint %r: alarms[%d] has kind %r; expected one of %s"
                             % (p["endpoint_name"], i, kind, ", ".join(KIND_KEYS)))
        missing = [k for k in ALARM_KEYS + KIND_KEYS[kind] if k not in alarm]
        if missing:
            module.fail_json(msg="endpoint %r: alarms[%d] lacks %s" % (p["endpoint_name"], i, ", ".join(missing)))
    try:
        body = build_dashboard(p["endpoint_name"], p["region"], p["variants"], p["alarms"], metrics=p["metrics"],
                               account_id=p["account_id"], topic_name=p["topic_name"],
                               endpoint_metrics=p["endpoint_metrics"], components=p["components"],
                               composite=p["composite"])
    except DashboardError as e:
        module.fail_json(msg=str(e))
    module.exit_json(changed=False, body=body, body_json=minify(body), widget_count=len(body["widgets"]))


if __name__ == "__main__":
    main()
