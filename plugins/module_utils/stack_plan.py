# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decide what a run must do to one monitoring stack, and say it in words a person reads.

Pure functions: the caller fetches the deployed stack (DescribeStacks) and template (GetTemplate).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_spec import (
    COLLECTION,
    ENDPOINT_TAG,
    MANAGED_BY_TAG,
)
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.plan import (  # noqa: F401 (PlanError: API)
    FINGERPRINT_OUTPUT,
    PlanError,
    guard,
    tags_of,
)

RESOURCE_LABELS = {
    "AWS::CloudWatch::Alarm": ("alarm", "AlarmName"),
    "AWS::CloudWatch::Dashboard": ("dashboard", "DashboardName"),
    "AWS::SNS::Topic": ("topic", "TopicName"),
    "AWS::SNS::TopicPolicy": ("topic policy", None),
}


def parse_template(body):
    """A template as a mapping: GetTemplate answers with a dict for JSON bodies (botocore parses them) or a
    string, and a rendered template is YAML text."""
    if body is None:
        return None
    if isinstance(body, dict):
        return json.loads(json.dumps(body))
    try:
        return json.loads(body)
    except ValueError:
        import yaml  # only for YAML text; the controller running these modules always has PyYAML (ansible-core)

        try:
            return yaml.load(body, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.YAMLError as e:
            raise ValueError(str(e))


def _label(logical_id, resource):
    kind, name_key = RESOURCE_LABELS.get(resource.get("Type"), (resource.get("Type", "resource"), None))
    name = resource.get("Properties", {}).get(name_key) if name_key else None
    return "%s %s" % (kind, name or logical_id)


def _short(value):
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= 60 else text[:57] + "..."


def _dashboard_widgets(resource):
    body = resource.get("Properties", {}).get("DashboardBody")
    if isinstance(body, dict) and "Fn::Sub" in body:
        body = body["Fn::Sub"]
    try:
        widgets = json.loads(body).get("widgets", [])
    except (TypeError, ValueError):
        return None
    return dict((w.get("properties", {}).get("title") or w.get("type"), w) for w in widgets)


def _property_changes(before, after):
    changes = []
    before_props = before.get("Properties", {})
    after_props = after.get("Properties", {})
    for key in sorted(set(before_props) | set(after_props)):
        old, new = before_props.get(key), after_props.get(key)
        if old == new:
            continue
        if key == "DashboardBody":
            old_w, new_w = _dashboard_widgets(before), _dashboard_widgets(after)
            if old_w is not None and new_w is not None:
                parts = ["widget %r added" % t for t in new_w if t not in old_w]
                parts += ["widget %r removed" % t for t in old_w if t not in new_w]
                parts += ["widget %r changed" % t for t in new_w if t in old_w and old_w[t] != new_w[t]]
                changes.append("DashboardBody: " + ("; ".join(parts) or "layout changed"))
                continue
        if old is None:
            changes.append("%s set to %s" % (key, _short(new)))
        elif new is None:
            changes.append("%s %s removed" % (key, _short(old)))
        elif isinstance(old, (dict, list)) or isinstance(new, (dict, list)):
            changes.append("%s changed" % key)
        else:
            changes.append("%s %s -> %s" % (key, _short(old), _short(new)))
    if before.get("Type") != after.get("Type"):
        changes.insert(0, "type %s -> %s" % (before.get("Type"), after.get("Type")))
    return changes


def diff_templates(deployed, desired):
    """Readable changes from the deployed template to the desired one, one line each."""
    deployed = deployed or {}
    lines = []
    old_res = deployed.get("Resources", {})
    new_res = desired.get("Resources", {})
    for logical_id, resource in new_res.items():
        if logical_id not in old_res:
            lines.append("+ %s" % _label(logical_id, resource))
    for logical_id, resource in new_res.items():
        if logical_id in old_res and old_res[logical_id] != resource:
            lines.append("~ %s: %s" % (_label(logical_id, resource),
                                       ", ".join(_property_changes(old_res[logical_id], resource))))
    for logical_id, resource in old_res.items():
        if logical_id not in new_res:
            lines.append("- %s" % _label(logical_id, resource))
    for section in ("Outputs", "Description", "Metadata", "AWSTemplateFormatVersion"):
        old, new = deployed.get(section), desired.get(section)
        if section == "Outputs":
            old, new = [dict((k, v) for k, v in (o or {}).items() if k != FINGERPRINT_OUTPUT) for o in (old, new)]
        if old != new and old_res:
            lines.append("~ template %s" % section.lower())
    return lines


def diff_tags(deployed_tags, desired_tags):
    lines = []
    for key in sorted(set(deployed_tags) | set(desired_tags)):
        old, new = deployed_tags.get(key), desired_tags.get(key)
        if old == new:
            continue
        if old is None:
            lines.append("+ stack tag %s=%s" % (key, new))
        elif new is None:
            lines.append("- stack tag %s=%s" % (key, old))
        else:
            lines.append("~ stack tag %s: %s -> %s" % (key, old, new))
    return lines


def plan_stack(stack_name, stack, deployed_template, desired_template, desired_tags, state="present"):
    """What to do with one stack, and each change in words.

    stack: the DescribeStacks entry, or None if the stack does not exist. deployed_template: its template (None
    when there is none to read). Returns {"action": create|recreate|update|delete|none, "changes": [lines]}.
    Raises PlanError where no safe action exists (plan.guard).
    """
    if stack is None:
        if state == "absent":
            return {"action": "none", "changes": []}
        return {"action": "create", "changes": ["+ stack %s" % stack_name] + diff_templates(None, desired_template)}
    recreate = guard(stack_name, stack, state)
    if state == "absent":
        contents = ", ".join(_label(k, r) for k, r in (deployed_template or {}).get("Resources", {}).items())
        return {"action": "delete", "changes": ["- stack %s and everything in it: %s" % (stack_name, contents or "no resources")]}
    if recreate:
        return {"action": "recreate",
                "changes": ["! stack %s is %s after a failed creation: it is removed and created again"
                            % (stack_name, stack["StackStatus"])] + diff_templates(None, desired_template)}
    changes = diff_templates(deployed_template, desired_template) + diff_tags(tags_of(stack), desired_tags)
    return {"action": "update" if changes else "none", "changes": changes}


def plan_prune(stacks, existing_endpoints, keep=()):
    """Stacks of this collection whose endpoint no longer exists, and those of them that cannot be removed safely.

    stacks: DescribeStacks entries of the region. existing_endpoints: names SageMaker lists in the region.
    keep: endpoints of the current run, never pruned whatever SageMaker says.
    Only stacks tagged managed-by=<this collection> with a sagemaker-endpoint tag are considered; stacks
    being deleted or already deleted are skipped. Returns (prune, refused): refused entries carry why (busy,
    stuck, termination protection on).
    """
    existing = set(existing_endpoints) | set(keep)
    prune, refused = [], []
    for stack in stacks:
        tags = tags_of(stack)
        endpoint = tags.get(ENDPOINT_TAG)
        if tags.get(MANAGED_BY_TAG) != COLLECTION or not endpoint or endpoint in existing:
            continue
        if stack.get("StackStatus", "") in ("DELETE_COMPLETE", "DELETE_IN_PROGRESS"):
            continue
        entry = {"stack_name": stack["StackName"], "endpoint": endpoint, "status": stack.get("StackStatus")}
        try:
            guard(stack["StackName"], stack, "absent")
        except PlanError as e:
            refused.append(dict(entry, reason=str(e)))
            continue
        if stack.get("EnableTerminationProtection"):
            refused.append(dict(entry, reason="stack %s has termination protection on" % stack["StackName"]))
            continue
        prune.append(entry)
    return sorted(prune, key=lambda p: p["stack_name"]), sorted(refused, key=lambda p: p["stack_name"])
