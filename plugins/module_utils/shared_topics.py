# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""topic_mode shared: one stack per region holds a topic per severity, and each subscriber is subscribed once per
region and severity it asks for, whatever the number of endpoints (pure functions).

The plan decides from the listings it reads anyway (DescribeStacks, ListSubscriptions) whether a region's shared
topics stack or its subscriptions need a change, so that a run where nothing changed makes no call for them. A run
only adds subscriptions to the shared topics: it sees the endpoints of its own batch (--limit, serial), not the
whole fleet, so a subscription no endpoint of the run lists may be another endpoint's, or a person's, and is kept.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.catalog import SEVERITIES
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_spec import (
    COLLECTION,
    MANAGED_BY_TAG,
    SHARED_TOPICS_STACK,
    shared_topic_name,
)
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.plan import (
    FINGERPRINT_OUTPUT,
    SETTLED,
    PlanError,
    fingerprint,
    guard,
    outputs_of,
    tags_of,
)
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.subscriptions import (
    CONFIRMED_BY_SUBSCRIBER,
    confirmations_asked,
    plan_subscriptions,
    redact,
    subscription_key,
)


def topic_output(severity):
    """The stack output holding the ARN of the shared topic of a severity: CriticalTopicArn, WarningTopicArn."""
    return severity[:1].upper() + severity[1:] + "TopicArn"


def stack_topics():
    """The shared topics stack's topics, as its template writes them: severity, name, logical id, output."""
    return [{"severity": severity, "name": shared_topic_name(severity), "logical_id": topic_output(severity)[:-3],
             "output": topic_output(severity)} for severity in SEVERITIES]


def _shown(subscriber):
    return "%s %s" % (subscriber["protocol"], redact(subscriber["protocol"], subscriber["endpoint"]))


def region_topics(entries):
    """What a region's shared topics are made with, from the entries (plan entries of topic_mode shared, in run
    order) of the region: (topics, refused).

    topics: {"topic_kms_key": the topics' key, "subscribers": {severity: [subscriber]}}, each subscriber (protocol,
    endpoint, raw_message_delivery) once per severity any entry asks it for. refused: {host: why} for an entry that
    disagrees with an earlier one on what one stack or subscription can hold only once (the topics' key, a
    subscriber's raw delivery); a refused entry adds nothing."""
    subscribers = dict((severity, []) for severity in SEVERITIES)
    first = {}  # subscription key -> (raw delivery, endpoint that listed it first)
    key_of_topics = None
    refused = {}
    for entry in entries:
        problems = []
        kms_key = entry.get("topic_kms_key") or ""
        if key_of_topics is not None and kms_key != key_of_topics[0]:
            problems.append("endpoint_monitoring_topic_kms_key: %r, but endpoint %r of the same region wants %r for "
                            "the shared topics; one stack holds them, so the endpoints of a region in topic_mode "
                            "shared must agree" % (kms_key, key_of_topics[1], key_of_topics[0]))
        for sub in entry.get("subscribers") or []:
            key = subscription_key(sub["protocol"], sub["endpoint"])
            raw = bool(sub.get("raw_message_delivery"))
            if key in first and first[key][0] != raw:
                problems.append("endpoint_monitoring_subscribers: %s with raw_message_delivery %s, but endpoint %r of "
                                "the same region lists it with %s; it is subscribed once to each shared topic, so the "
                                "endpoints must agree" % (_shown(sub), str(raw).lower(), first[key][1],
                                                          str(first[key][0]).lower()))
        if problems:
            refused[entry["host"]] = "; ".join(problems)
            continue
        if key_of_topics is None:
            key_of_topics = (kms_key, entry["endpoint"])
        for sub in entry.get("subscribers") or []:
            key = subscription_key(sub["protocol"], sub["endpoint"])
            first.setdefault(key, (bool(sub.get("raw_message_delivery")), entry["endpoint"]))
            for severity in sub.get("severities") or SEVERITIES:
                if not any(subscription_key(s["protocol"], s["endpoint"]) == key for s in subscribers[severity]):
                    subscribers[severity].append({"protocol": sub["protocol"], "endpoint": sub["endpoint"],
                                                  "raw_message_delivery": bool(sub.get("raw_message_delivery"))})
    topics = {"topic_kms_key": key_of_topics[0] if key_of_topics else "", "subscribers": subscribers}
    return topics, refused


def topics_fingerprint(topics, template_digest):
    """The fingerprint of the shared topics stack: its template's code, the topics' key, and which subscriptions
    deliver raw messages (the listing of subscriptions does not show it: a change must show here)."""
    raw = sorted([severity, s["protocol"], s["endpoint"]] for severity, subs in topics["subscribers"].items()
                 for s in subs if s["raw_message_delivery"])
    return fingerprint({"stack": SHARED_TOPICS_STACK, "severities": list(SEVERITIES), "template": template_digest,
                        "topic_kms_key": topics["topic_kms_key"], "raw_delivery": raw})


def plan_region_topics(stack, topics, fingerprint_value, subscriptions_by_topic):
    """What a region's shared topics need, from its listings. stack: the DescribeStacks entry of the shared topics
    stack (None: there is none); topics: region_topics' first result; subscriptions_by_topic: ListSubscriptions
    entries by topic ARN.

    Returns status (unchanged, changed or failed), action (create, recreate, update or none), changes (lines in
    words), outputs, subscribe (the severities whose topic the subscribers task keeps), pending (subscription keys
    that wait for confirmation, this run's new ones included), confirmations_asked, and error when failed."""
    result = {"status": "unchanged", "action": "none", "changes": [], "outputs": outputs_of(stack), "subscribe": [],
              "pending": [], "confirmations_asked": 0, "error": ""}
    try:
        if stack is not None and tags_of(stack).get(MANAGED_BY_TAG) != COLLECTION:
            raise PlanError("stack %s exists but is not tagged %s=%s, so it was not made by this collection; it is "
                            "left alone. Delete or rename it to use topic_mode shared in this region"
                            % (SHARED_TOPICS_STACK, MANAGED_BY_TAG, COLLECTION))
        recreate = stack is not None and guard(SHARED_TOPICS_STACK, stack, "present")
    except PlanError as e:
        result.update(status="failed", error=str(e))
        return result
    names = ", ".join(shared_topic_name(severity) for severity in SEVERITIES)
    if stack is None:
        result.update(action="create", changes=["+ stack %s (topics %s)" % (SHARED_TOPICS_STACK, names)])
    elif recreate:
        result.update(action="recreate", outputs={}, changes=[
            "! stack %s is %s after a failed creation: it is removed and created again"
            % (SHARED_TOPICS_STACK, stack["StackStatus"])])
    elif stack.get("StackStatus") not in SETTLED or result["outputs"].get(FINGERPRINT_OUTPUT) != fingerprint_value:
        result.update(action="update", changes=["~ stack %s: the settings changed since it was last applied"
                                                % SHARED_TOPICS_STACK])
    for severity in SEVERITIES:
        wanted = topics["subscribers"][severity]
        arn = result["outputs"].get(topic_output(severity))
        held = subscriptions_by_topic.get(arn, []) if arn else []
        plan = plan_subscriptions(held, wanted)
        name = shared_topic_name(severity)
        result["changes"].extend("+ subscription %s to %s" % (_shown(s), name) for s in plan["subscribe"])
        result["confirmations_asked"] += confirmations_asked(plan)
        result["pending"].extend(subscription_key(s["Protocol"], s["Endpoint"]) for s in plan["pending"])
        # what this run subscribes waits too, until its subscriber confirms it
        result["pending"].extend(subscription_key(s["protocol"], s["endpoint"]) for s in plan["subscribe"]
                                 if s["protocol"] in CONFIRMED_BY_SUBSCRIBER)
        # A stack written again may have changed a subscription's raw delivery: the task sets it.
        if plan["subscribe"] or (wanted and result["action"] != "none"):
            result["subscribe"].append(severity)
    if result["changes"]:
        result["status"] = "changed"
    return result


def pending_of(entry, pending_keys):
    """The endpoint's subscribers whose subscription to a shared topic waits for confirmation, as the summary shows
    them."""
    pending = set(pending_keys)
    return [{"protocol": s["protocol"], "endpoint": redact(s["protocol"], s["endpoint"])}
            for s in entry.get("subscribers") or [] if subscription_key(s["protocol"], s["endpoint"]) in pending]



def outcome(plans, *registered):
    """How the role's tasks for the shared topics went, per region of plans (the plan's shared_topics that needed a
    change): topic_arns ({severity: ARN}, from this run's apply where it made one, else from the plan's listing;
    {} where something failed), error (the failures' messages, empty when none) and hosts (the region's endpoints
    in topic_mode shared). registered: what the role's looped tasks registered; an item is a region's plan, or
    [plan, severity]."""
    regions = {}
    for plan in plans:
        regions[plan["region"]] = {"plan": plan, "outputs": dict(plan.get("outputs") or {}), "errors": []}
    for task in registered:
        for result in (task or {}).get("results") or []:
            item = result.get("item")
            plan = item[0] if isinstance(item, (list, tuple)) and item else item
            region = regions.get(plan.get("region")) if isinstance(plan, dict) else None
            if region is None:
                continue
            if result.get("failed"):
                region["errors"].append(result.get("msg") or "failed")
            elif result.get("stack_outputs"):
                region["outputs"] = dict(result["stack_outputs"])
    return dict((name, {"topic_arns": {} if region["errors"] else dict(
        (t["severity"], region["outputs"].get(t["output"])) for t in region["plan"]["topics"]),
        "error": "; ".join(region["errors"]), "hosts": list(region["plan"].get("hosts") or [])})
        for name, region in regions.items())
