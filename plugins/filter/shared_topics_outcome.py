# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: shared_topics_outcome
short_description: How the endpoint_monitoring role's tasks for the shared topics went, per region
version_added: 1.0.0
description:
  - For topic mode C(shared). Reads the regions the plan found a change in (RV(mlops.sagemaker_monitoring.monitoring_plan#module:shared_topics))
    and what the role's looped tasks for them registered, and says per region which topic ARN each severity has and
    what failed.
positional: registered
options:
  _input:
    description: The plan's C(shared_topics) entries that need a change.
    type: list
    elements: dict
    required: true
  registered:
    description: What the role's looped tasks registered (one or more), each item a region's entry or a pair of it
      and a severity.
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: Subscribe to the shared topics
  mlops.sagemaker_monitoring.sns_subscriptions:
    topic_arn: "{{ (changed | mlops.sagemaker_monitoring.shared_topics_outcome([applied]))[region].topic_arns.critical }}"
    subscribers: "{{ subscribers }}"
"""

RETURN = r"""
_value:
  description:
    - Per region, C(topic_arns) (severity to topic ARN; empty where something failed), C(error) (the failures'
      messages; empty when none) and C(hosts) (the region's endpoints in topic mode shared).
  type: dict
"""

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.shared_topics import outcome


def shared_topics_outcome(plans, registered):
    return outcome(list(plans or []), *list(registered or []))


class FilterModule(object):
    def filters(self):
        return {"shared_topics_outcome": shared_topics_outcome}
