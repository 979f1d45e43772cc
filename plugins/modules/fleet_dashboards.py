#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: fleet_dashboards
short_description: Keep a region's fleet dashboards right, merging what this run knows into what is deployed
version_added: 1.0.0
description:
  - A fleet dashboard shows many endpoints of a region (endpoints with C(endpoint_monitoring_dashboard) V(fleet) or
    V(both)), on as many pages (C(NAME), C(NAME-1), ...) as CloudWatch's limits need. Its body is too large for a
    stack template, so it is written with PutDashboard.
  - A run may see only some endpoints (C(--limit), job slicing, an inventory per team), so the deployed pages are
    read and merged. Sections of endpoints this run does not know stay while their monitoring stacks exist; this
    run's endpoints are replaced, added, or dropped when they left fleet mode or were torn down.
  - Dashboards with one of the names that this collection did not make (no marker in their header) are refused,
    never overwritten. A dashboard that cannot be kept right (refused, or AWS failed) is said in RV(error) and as a
    warning, not as a task failure, since the task runs once for the play and a failure would fail every endpoint.
  - In check mode, reports the changes and writes nothing.
  - "Each AWS call is retried in botocore's standard retry mode, 10 times unless O(aws_config) says otherwise (the
    role passes C(endpoint_monitoring_aws_config)). PutDashboard is idempotent; a DeleteDashboards whose answer was
    lost is retried by botocore and meets pages already deleted, which counts as done."
options:
  name:
    description: Name of the fleet dashboard (of its first page).
    type: str
    required: true
  endpoints:
    description:
      - This run's endpoints of the region, each with C(endpoint), C(state) and C(fleet_entry) (the endpoint's
        section, as monitoring_prepare computes it; null when the endpoint is not in fleet mode).
    type: list
    elements: dict
    default: []
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - mlops.sagemaker_monitoring contributors (@example)
"""

EXAMPLES = r"""
- name: Keep the fleet dashboard of eu-west-1 right
  mlops.sagemaker_monitoring.fleet_dashboards:
    region: eu-west-1
    name: sagemaker-monitoring-fleet-eu-west-1
    endpoints: "{{ endpoints_of_the_run }}"
  run_once: true
"""

RETURN = r"""
name:
  description: The dashboard's name, as given.
  returned: always
  type: str
pages:
  description: The dashboard's pages after the run, each with C(name), C(endpoints), C(widgets) and C(metrics).
  returned: always
  type: list
  elements: dict
changes:
  description: Each change in words.
  returned: always
  type: list
  elements: str
error:
  description: Why the dashboard could not be kept right.
  returned: when it could not
  type: str
"""

import json

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.client_config import client_config

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.dashboard import (
    DashboardError,
    fleet_sections,
)
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_spec import (
    COLLECTION,
    ENDPOINT_TAG,
    MANAGED_BY_TAG,
)
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.fleet_dashboards import (
    page_names,
    plan_fleet_dashboards,
)
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.plan import live, tags_of
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.sagemaker_facts import short_error

# What CloudWatch answers a DeleteDashboards naming a dashboard that does not exist.
DASHBOARD_NOT_FOUND = ["ResourceNotFound", "ResourceNotFoundException"]


def _body(text):
    try:
        body = json.loads(text)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def listed_pages(cloudwatch, name, retry):
    """The deployed pages of the fleet dashboard `name` (NAME, NAME-1, ...)."""
    listing = retry(cloudwatch.get_paginator("list_dashboards").paginate(DashboardNamePrefix=name).build_full_result)
    return page_names(name, [d["DashboardName"] for d in listing().get("DashboardEntries", [])])


def delete_pages(cloudwatch, name, pages, retry):
    """Delete these pages. When the answer of a deletion is lost, botocore sends it again, and the second attempt
    finds the pages gone (ResourceNotFound): the pages still listed are deleted, and when none is, it is done."""
    try:
        cloudwatch.delete_dashboards(aws_retry=True, DashboardNames=pages)
    except is_boto3_error_code(DASHBOARD_NOT_FOUND):
        left = [page for page in listed_pages(cloudwatch, name, retry) if page in pages]
        if left:
            cloudwatch.delete_dashboards(aws_retry=True, DashboardNames=left)


def monitored_endpoints(stacks):
    """Endpoints with a monitoring stack of this collection in the region."""
    return set(tags_of(s)[ENDPOINT_TAG] for s in live(stacks)
               if tags_of(s).get(MANAGED_BY_TAG) == COLLECTION and tags_of(s).get(ENDPOINT_TAG))


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            endpoints=dict(type="list", elements="dict", default=[]),
        ),
        supports_check_mode=True,
    )
    name = module.params["name"]
    fresh, drop = [], []
    for entry in module.params["endpoints"]:
        if entry.get("state", "present") == "present" and entry.get("fleet_entry"):
            try:
                fresh.extend(fleet_sections([entry["fleet_entry"]]))
            except DashboardError as e:
                module.warn("fleet dashboard %s: endpoint %r left out: %s" % (name, entry.get("endpoint"), e))
        elif entry.get("endpoint"):
            drop.append(entry["endpoint"])

    retry = AWSRetry.jittered_backoff()
    cloudwatch = module.client("cloudwatch", retry_decorator=retry, config=client_config())
    try:
        names = listed_pages(cloudwatch, name, retry)
        if not names and not fresh:
            module.exit_json(changed=False, name=name, pages=[], changes=[])
        deployed = dict((page, _body(cloudwatch.get_dashboard(aws_retry=True, DashboardName=page)["DashboardBody"]))
                        for page in names)
        cfn = module.client("cloudformation", config=client_config())
        stacks = retry(cfn.get_paginator("describe_stacks").paginate().build_full_result)().get("Stacks", [])
        monitored = monitored_endpoints(stacks) | set(e for e, _widgets in fresh)
        monitored -= set(drop)
        plan = plan_fleet_dashboards(name, deployed, fresh, drop, monitored)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        refuse(module, name, "fleet dashboard %s: failed to read it: %s" % (name, short_error(e)))
    except DashboardError as e:
        refuse(module, name, "fleet dashboard %s: %s" % (name, e))
    if plan["refused"]:
        refuse(module, name, "; ".join(plan["refused"]), changes=plan["changes"], pages=plan["pages"])
    result = dict(changed=bool(plan["changes"]), name=name, changes=plan["changes"], pages=plan["pages"])
    if plan["changes"]:
        result["diff"] = {"prepared": "%s:\n%s\n" % (name, "\n".join(plan["changes"]))}
    if module.check_mode or not plan["changes"]:
        module.exit_json(**result)
    try:
        for page, body in plan["put"]:
            answer = cloudwatch.put_dashboard(aws_retry=True, DashboardName=page,
                                              DashboardBody=json.dumps(body, separators=(",", ":")))
            for problem in answer.get("DashboardValidationMessages") or []:
                module.warn("fleet dashboard %s: CloudWatch says %s" % (page, problem))
        if plan["delete"]:
            delete_pages(cloudwatch, name, plan["delete"], retry)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        result.pop("diff", None)
        refuse(module, name, "fleet dashboard %s: failed to write it: %s" % (name, short_error(e)), **dict(
            (k, v) for k, v in result.items() if k != "name"))
    module.exit_json(**result)


def refuse(module, name, message, **result):
    """The dashboard cannot be kept right: said in the result and as a warning, not as a failure. The task runs
    once for the play, and a failure there would fail every endpoint, whose stacks are fine."""
    module.warn(message)
    result.setdefault("changed", False)
    result.setdefault("changes", [])
    result.setdefault("pages", [])
    module.exit_json(name=name, error=message, **result)


if __name__ == "__main__":
    main()
