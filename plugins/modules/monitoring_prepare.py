#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: monitoring_prepare
short_description: Check one endpoint's settings and compute its monitoring, in the controller, with no AWS call
version_added: 1.0.0
description:
  - The first task of the endpoint_monitoring role, once per host (one host is one endpoint). It runs in the
    controller (an action plugin) and reads the host's own C(endpoint_monitoring_*) variables as Ansible resolves
    them for the task (role defaults, group and host vars, play vars, extra vars).
  - Checks them against the role's argument spec (types, choices) and the collection's metric catalog (values,
    names, thresholds that could never fire or would always fire, thresholds past what CloudWatch takes once scaled
    to the metric's unit); names and ARNs must match as a whole; the region must be one of botocore's partition data
    (unless C(endpoint_monitoring_allow_unlisted_region)); tags must follow CloudFormation's rules (keys of 1 to 128
    characters, not starting with C(aws:), values of 1 to 256, 50 tags with the collection's two); the settings that
    reach AWS or the run as numbers (timeouts, retry counts) must be in range; the AWS profile must be in the AWS
    config or credentials file, the endpoint URL a URL, the fleet dashboard name a CloudWatch dashboard name. Every
    error names the endpoint and the field and shows the value as written, before any AWS call; the endpoint fails
    alone. An C(endpoint_monitoring_*) variable the role does not know is refused as a misspelling.
  - Computes the endpoint's spec (alarms, composite alarm, subscribers, names, tags), the fingerprint of the stack
    it makes, what it is billed for, and the compact entry that M(mlops.sagemaker_monitoring.monitoring_plan)
    compares with what is deployed.
  - An endpoint that the inventory names only (no C(endpoint_monitoring_variants)) gets its spec from the facts a
    former run read from SageMaker, kept in Ansible's fact cache as C(endpoint_monitoring__sagemaker_facts);
    without them, its settings are checked with stand-in facts and the plan reads the real ones.
  - Empty C(endpoint_monitoring_region), C(endpoint_monitoring_aws_profile) and C(endpoint_monitoring_aws_endpoint_url)
    take O(region), O(profile) and O(endpoint_url), which module_defaults for the group
    C(mlops.sagemaker_monitoring.aws) set; an empty region then falls back to C(AWS_REGION) or C(AWS_DEFAULT_REGION).
options:
  argument_specs:
    description: The role's C(meta/argument_specs.yml).
    type: path
    required: true
  template:
    description: The role's stack template (its digest is part of the fingerprint, so a new template re-applies).
    type: path
    required: true
  include_spec:
    description:
      - Return the endpoint's spec too (RV(spec)). Every endpoint's result is kept for the whole run, so a monitoring
        run leaves it out and gets the spec of the endpoints that need a change from
        M(mlops.sagemaker_monitoring.monitoring_plan), built by the same code; the render tasks ask for it.
    type: bool
    default: false
  region:
    description: Region of endpoints that set none.
    type: str
    aliases: [aws_region, ec2_region]
  profile:
    description: AWS profile of endpoints that set none.
    type: str
    aliases: [aws_profile]
  endpoint_url:
    description: AWS endpoint URL of endpoints that set none.
    type: str
    aliases: [aws_endpoint_url, ec2_url, s3_url]
  access_key:
    description: Accepted so that module_defaults for the group can carry it; not used (no AWS call).
    type: str
    aliases: [aws_access_key_id, aws_access_key, ec2_access_key]
  secret_key:
    description: Accepted so that module_defaults for the group can carry it; not used (no AWS call).
    type: str
    aliases: [aws_secret_access_key, aws_secret_key, ec2_secret_key]
  session_token:
    description: Accepted so that module_defaults for the group can carry it; not used (no AWS call).
    type: str
    aliases: [aws_session_token, security_token, access_token]
  validate_certs:
    description: Accepted so that module_defaults for the group can carry it; not used (no AWS call).
    type: bool
  aws_ca_bundle:
    description: Accepted so that module_defaults for the group can carry it; not used (no AWS call).
    type: path
  aws_config:
    description: Accepted so that module_defaults for the group can carry it; not used (no AWS call).
    type: dict
  debug_botocore_endpoint_logs:
    description: Accepted so that module_defaults for the group can carry it; not used (no AWS call).
    type: bool
attributes:
  action:
    description: Runs in the controller.
    support: full
  check_mode:
    description: Makes no change, in check mode or not.
    support: full
author:
  - mlops.sagemaker_monitoring contributors (@example)
"""

EXAMPLES = r"""
- name: Check the endpoint's settings and compute its monitoring
  mlops.sagemaker_monitoring.monitoring_prepare:
    argument_specs: "{{ role_path }}/meta/argument_specs.yml"
    template: "{{ role_path }}/templates/monitoring_stack.yml.j2"
  register: endpoint_monitoring__prepared
"""

RETURN = r"""
endpoint: {description: The SageMaker endpoint's name., type: str, returned: always}
region: {description: Its region., type: str, returned: always}
stack_name: {description: Its monitoring stack's name., type: str, returned: always}
state: {description: C(present) or C(absent)., type: str, returned: always}
spec:
  description: The endpoint's spec (alarms, composite, subscribers, names, tags).
  type: dict
  returned: with O(include_spec), when the endpoint's facts are known
stack:
  description: The settings that reach the stack but not the spec (dashboard mode, topic key, stack policy, role).
  type: dict
  returned: when the endpoint's facts are known
fingerprint: {description: 'What the stack is applied from, in 16 hex digits.', type: str, returned: when the facts are known}
usage: {description: What the endpoint's monitoring is billed for., type: dict, returned: when the facts are known}
fleet_entry:
  description: The endpoint's section of a fleet dashboard, for endpoints in fleet or both dashboard mode.
  type: dict
  returned: when the facts are known
facts_source:
  description: Where the endpoint's facts come from, C(inventory), C(cache), or C(sagemaker) (the plan reads them).
  type: str
  returned: always
plan_entry: {description: What monitoring_plan compares with what is deployed., type: dict, returned: success}
guardrail_alarms:
  description:
    - Per production variant, the names of its alarms fit for SageMaker's deployment guardrails (the alarms of a
      blue/green or rolling update's C(AutoRollbackConfiguration)) -- critical, fixed-threshold alarms on the
      variant's own metrics. The stack's outputs C(GuardrailAlarms<variant>) hold the same names, comma-separated.
  type: dict
  returned: when the endpoint's facts are known
"""
