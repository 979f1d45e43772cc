#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: monitoring_spec
short_description: Validate and merge one SageMaker endpoint's monitoring settings
version_added: 1.0.0
description:
  - Merges per-metric alarm settings over the collection's metric catalog, layer by layer (fleet-wide
    overrides, then per-endpoint overrides), so that an override changes only the keys it names.
  - Validates every value and fails with one message that names the endpoint and each bad field, before
    any AWS call is made.
  - Makes no AWS call; the result feeds M(mlops.sagemaker_monitoring.sagemaker_dashboard) and the
    CloudFormation template of the P(mlops.sagemaker_monitoring.endpoint_monitoring#role) role.
options:
  endpoint_name:
    description: Name of the SageMaker endpoint.
    type: str
    required: true
  region:
    description: AWS region of the endpoint.
    type: str
    required: true
  variants:
    description:
      - Production variants of the endpoint; one alarm per published metric and variant.
      - Each is a name, or a mapping with C(name), C(instance_type), C(instance_count), C(vcpus), C(gpus) and
        C(serverless) (C(memory_size_mb), C(max_concurrency), C(provisioned_concurrency)).
    type: list
    elements: raw
    default: [AllTraffic]
  endpoint_type:
    description: V(realtime), V(serverless) or V(async); decides which metrics are published and alarmed on.
    type: str
    default: realtime
  multi_model:
    description: The endpoint hosts several models (multi-model endpoint).
    type: bool
    default: false
  inference_components:
    description: Names of the endpoint's inference components.
    type: list
    elements: str
    default: []
  instance_type:
    description: Instance type of the variants that do not state their own.
    type: str
  composite:
    description: Add a composite alarm that is in ALARM when any alarm of the endpoint is.
    type: bool
    default: true
  notify:
    description: Which alarms notify the topic; V(alarms), V(composite) (one signal per endpoint) or V(both).
    type: str
    default: alarms
  metric_layers:
    description:
      - Per-metric alarm overrides, lowest precedence first. Each item names the variable it came from
        (used in error messages) and its value, a mapping of metric name to settings.
    type: list
    elements: dict
    default: []
  subscriber_layers:
    description: Subscriber lists, each item with the variable it came from and its value.
    type: list
    elements: dict
    default: []
  stack_prefix:
    description: Prefix of the CloudFormation stack name; the endpoint name follows it.
    type: str
    default: sagemaker-monitoring-
  ok_actions:
    description: Also notify the topic when an alarm returns to OK.
    type: bool
    default: false
  tags:
    description: Extra tags for the stack and its resources.
    type: dict
    default: {}
  unknown_variables:
    description: Variables with the role's prefix that the role does not know, reported as errors.
    type: list
    elements: str
    default: []
  known_variables:
    description: The role's variable names, used to suggest the intended one for a misspelling.
    type: list
    elements: str
    default: []
author:
  - mlops.sagemaker_monitoring contributors
"""

EXAMPLES = r"""
- name: Merge fleet and endpoint settings for one endpoint
  mlops.sagemaker_monitoring.monitoring_spec:
    endpoint_name: churn-model
    region: eu-west-1
    variants: [AllTraffic]
    metric_layers:
      - variable: fleet_metrics
        value: {ModelLatency: {threshold: 500000}}
      - variable: endpoint_metrics
        value: {ModelLatency: {evaluation_periods: 5}}
  register: spec
"""

RETURN = r"""
spec:
  description: The normalised endpoint spec.
  returned: success
  type: dict
  contains:
    endpoint: {description: Endpoint name., type: str, returned: always}
    stack_name: {description: Name of the endpoint's monitoring stack., type: str, returned: always}
    topic_name: {description: Name of the SNS topic., type: str, returned: always}
    dashboard_name: {description: Name of the CloudWatch dashboard., type: str, returned: always}
    alarms: {description: One entry per enabled and published metric and variant., type: list, elements: dict, returned: always}
    composite: {description: The composite health alarm, or null., type: dict, returned: always}
    variants: {description: Variants with vcpus, gpus and the metrics they publish., type: list, elements: dict, returned: always}
    subscribers: {description: Validated, de-duplicated subscribers., type: list, elements: dict, returned: always}
    tags: {description: Tags of the stack, with the collection's own., type: dict, returned: always}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_spec import SpecError
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.task_args import (
    MONITORING_SPEC_ARGS,
    monitoring_spec_result,
)


def main():
    # In a playbook the action plugin of the same name runs this logic in the controller's process.
    module = AnsibleModule(argument_spec=MONITORING_SPEC_ARGS, supports_check_mode=True)
    try:
        result = monitoring_spec_result(module.params)
    except SpecError as e:
        module.fail_json(msg=str(e), endpoint=e.endpoint, problems=e.problems)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
