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

# Stack states in which another operation is under way.
BUSY_SUFFIX = "_IN_PROGRESS"
# Every CloudFormation stack status with that suffix, for ListStacks' StackStatusFilter.
IN_PROGRESS_STATES = (
    "CREATE_IN_PROGRESS", "DELETE_IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "UPDATE_IN_PROGRESS",
    "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS",
    "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", "REVIEW_IN_PROGRESS", "IMPORT_IN_PROGRESS",
    "IMPORT_ROLLBACK_IN_PROGRESS",
)
# The wait loop's shortest delay between two polls, in seconds, and the share of an operation's typical duration
# that a freed slot may stay idle before a poll notices it.
SHORTEST_POLL_DELAY = 0.5
POLL_SHARE_OF_DURATION = 0.125


class PollDelays:
    """How long the wait loop sleeps before each poll of the stacks in progress. A stack operation takes a second
    or two on an emulator and minutes in a real region, so the delay follows what the run sees: an eighth of the
    median time its finished operations took, between the shortest and the longest delay. Until one has finished,
    the delay starts at the shortest and doubles after each poll."""

    def __init__(self, longest, shortest=SHORTEST_POLL_DELAY):
        self.shortest = min(shortest, longest)
        self.longest = longest
        self.delay = self.shortest
        self.durations = []

    def after_poll(self, durations=()):
        """The delay before the next poll, given the seconds each operation the last poll saw finish took."""
        self.durations = (self.durations + list(durations))[-50:]
        if self.durations:
            ordered = sorted(self.durations)
            middle = len(ordered) // 2
            median = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2.0
            self.delay = median * POLL_SHARE_OF_DURATION
        else:
            self.delay *= 2
        self.delay = min(self.longest, max(self.shortest, self.delay))
        return self.delay


# A stack whose creation failed and rolled back holds no resources: deleting it loses nothing.
RECREATE_STATES = ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED")
STUCK_STATES = {
    "UPDATE_ROLLBACK_FAILED": "continue the rollback (aws cloudformation continue-update-rollback --stack-name %s) "
                              "or delete the stack, then run again",
    "DELETE_FAILED": "delete the stack (aws cloudformation delete-stack --stack-name %s), then run again",
}

RESOURCE_LABELS = {
    "AWS::CloudWatch::Alarm": ("alarm", "AlarmName"),
    "AWS::CloudWatch::Dashboard": ("dashboard", "DashboardName"),
    "AWS::SNS::Topic": ("topic", "TopicName"),
    "AWS::SNS::TopicPolicy": ("topic policy", None),
}


class PlanError(Exception):
    pass


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
        if deployed.get(section) != desired.get(section) and old_res:
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


def busy(stack_name, stack):
    """The message for a stack another operation is changing (None when it is not): nothing may be read or
    written for it until that operation ends."""
    status = (stack or {}).get("StackStatus", "")
    if status.endswith(BUSY_SUFFIX):
        return ("stack %s is busy (%s): another run or a person is changing it. Run again when it is done."
                % (stack_name, status))
    return None


def plan_stack(stack_name, stack, deployed_template, desired_template, desired_tags, state="present"):
    """What to do with one stack.

    stack: the DescribeStacks entry, or None if the stack does not exist.
    Returns {"action": create|recreate|update|delete|none, "changes": [lines]}.
    Raises PlanError where no safe action exists.
    """
    if stack is None:
        if state == "absent":
            return {"action": "none", "changes": []}
        return {"action": "create", "changes": ["+ stack %s" % stack_name] + diff_templates(None, desired_template)}
    status = stack.get("StackStatus", "")
    tags = dict((t["Key"], t["Value"]) for t in stack.get("Tags", []))
    if tags.get(MANAGED_BY_TAG) != COLLECTION:
        raise PlanError("stack %s exists but is not tagged %s=%s, so it was not made by this collection; "
                        "it is left alone. Rename the stack prefix (endpoint_monitoring_stack_prefix) or "
                        "delete the stack yourself." % (stack_name, MANAGED_BY_TAG, COLLECTION))
    if busy(stack_name, stack):
        raise PlanError(busy(stack_name, stack))
    if state == "absent":
        if status == "DELETE_FAILED":
            raise PlanError("stack %s is DELETE_FAILED: %s." % (stack_name, STUCK_STATES[status] % stack_name))
        return {"action": "delete", "changes": ["- stack %s and everything in it: %s" % (
            stack_name, ", ".join(_label(k, r) for k, r in (deployed_template or {}).get("Resources", {}).items())
            or "no resources")]}
    if status in STUCK_STATES:
        raise PlanError("stack %s is %s and cannot be updated: %s." % (
            stack_name, status, STUCK_STATES[status] % stack_name))
    if status in RECREATE_STATES:
        return {"action": "recreate",
                "changes": ["! stack %s is %s after a failed creation: it holds nothing and is created again"
                            % (stack_name, status)] + diff_templates(None, desired_template)}
    changes = diff_templates(deployed_template, desired_template) + diff_tags(tags, desired_tags)
    return {"action": "update" if changes else "none", "changes": changes}


def plan_prune(stacks, existing_endpoints, keep=()):
    """Stacks of this collection whose endpoint no longer exists.

    stacks: DescribeStacks entries of the region. existing_endpoints: names SageMaker lists in the region.
    keep: endpoints of the current run, never pruned whatever SageMaker says.
    Only stacks tagged managed-by=<this collection> with a sagemaker-endpoint tag are considered; stacks
    being deleted or already deleted are skipped.
    """
    existing = set(existing_endpoints) | set(keep)
    prune = []
    for stack in stacks:
        tags = dict((t["Key"], t["Value"]) for t in stack.get("Tags", []))
        endpoint = tags.get(ENDPOINT_TAG)
        if tags.get(MANAGED_BY_TAG) != COLLECTION or not endpoint:
            continue
        if stack.get("StackStatus", "").startswith("DELETE_"):
            continue
        if endpoint not in existing:
            prune.append({"stack_name": stack["StackName"], "endpoint": endpoint, "status": stack.get("StackStatus")})
    return sorted(prune, key=lambda p: p["stack_name"])
