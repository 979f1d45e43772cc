# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plan a whole fleet's monitoring stacks from one listing of the region's stacks.

A stack carries a fingerprint of what was applied (template and tags) in its output MonitoringFingerprint, so a
run where nothing changed needs no call per endpoint: one paginated DescribeStacks, which returns the outputs,
says every stack is as desired. Only stacks whose fingerprint differs get their template read (for a readable
diff) and an update. (An output rather than a tag: outputs follow every update, on AWS and on emulators.)
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_spec import (
    COLLECTION,
    MANAGED_BY_TAG,
)

FINGERPRINT_OUTPUT = "MonitoringFingerprint"
SETTLED = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE")


def without_fingerprint(template):
    """The template as the user's settings make it, without the fingerprint output."""
    if not template or FINGERPRINT_OUTPUT not in template.get("Outputs", {}):
        return template
    template = dict(template)
    template["Outputs"] = dict((k, v) for k, v in template["Outputs"].items() if k != FINGERPRINT_OUTPUT)
    return template


def fingerprint(template, tags, subscribers=None):
    """What is applied, in 16 hex digits: the template (without the fingerprint), the tags and the subscribers
    with raw message delivery. A subscription's attributes are not in the listing of subscriptions, so turning raw
    delivery on or off has to show in the fingerprint to be noticed without reading every subscription.

    The template is a mapping, or the text it is rendered to: text is hashed as it is, so that a run where
    nothing changed does not have to parse every endpoint's template to know it."""
    subs = sorted((s["protocol"], s["endpoint"]) for s in subscribers or [] if s.get("raw_message_delivery"))
    content = json.dumps({"template": template if isinstance(template, str) else without_fingerprint(template),
                          "tags": sorted(tags.items()), "subscribers": subs}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(content.encode("utf-8")).hexdigest()[:16]


def with_fingerprint(template, tags, subscribers=None, value=None):
    """The template (a mapping) to apply: the desired one plus its fingerprint as an output. value: the
    fingerprint when it was computed from the template's text."""
    value = value or fingerprint(template, tags, subscribers)
    template = dict(template)
    template["Outputs"] = dict(template.get("Outputs", {}))
    template["Outputs"][FINGERPRINT_OUTPUT] = {
        "Description": "What mlops.sagemaker_monitoring last applied, to skip unchanged stacks",
        "Value": value}
    return template


def minify(template):
    return json.dumps(template, separators=(",", ":"))


def is_unchanged(stack, desired_fingerprint):
    """True when the listing alone shows the stack is exactly as desired (no further call needed)."""
    if stack is None or stack.get("StackStatus") not in SETTLED:
        return False
    tags = dict((t["Key"], t["Value"]) for t in stack.get("Tags", []))
    return (tags.get(MANAGED_BY_TAG) == COLLECTION
            and outputs_of(stack).get(FINGERPRINT_OUTPUT) == desired_fingerprint)


def outputs_of(stack):
    return dict((o["OutputKey"], o["OutputValue"]) for o in (stack or {}).get("Outputs", []))


def subscriptions_by_topic(subscriptions):
    """ListSubscriptions entries grouped by topic ARN."""
    grouped = {}
    for sub in subscriptions:
        grouped.setdefault(sub["TopicArn"], []).append(sub)
    return grouped
