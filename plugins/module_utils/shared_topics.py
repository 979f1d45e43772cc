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
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.drift import topic_policy_drift
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
    describe_plan,
    describe_raw_updates,
    plan_subscriptions,
    raw_delivery_updates,
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


def _setting(value):
    """A setting as the inventory writes it: true, [] or 'alias/key'."""
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value) if value != "" else "none"


def _shown(subscriber):
    return "%s %s" % (subscriber["protocol"], redact(subscriber["protocol"], subscriber["endpoint"]))


# The settings of the shared topics stack, from its endpoints' variables (endpoint_monitoring_<name>): one stack
# holds them, so the endpoints of a region in topic_mode shared must agree on them.
STACK_SETTINGS = ("topic_kms_key", "role_arn", "notification_arns", "termination_protection")


def region_topics(entries):
    """What a region's shared topics are made with, from the entries (plan entries of topic_mode shared, in run
    order) of the region: (topics, refused).

    topics: {"settings": the stack's settings (STACK_SETTINGS), "subscribers": {severity: [subscriber]}}, each
    subscriber (protocol, endpoint, raw_message_delivery) once per severity any entry asks it for. refused: {host:
    why} for an entry that disagrees with an earlier one on what one stack or subscription can hold only once (a
    setting of the stack, a subscriber's raw delivery); a refused entry adds nothing."""
    subscribers = dict((severity, []) for severity in SEVERITIES)
    subscribed = dict((severity, set()) for severity in SEVERITIES)  # subscription keys of each severity's list
    first = {}  # subscription key -> (raw delivery, endpoint that listed it first)
    settings = None  # (the stack's settings, endpoint that gave them first)
    refused = {}
    for entry in entries:
        problems = []
        wanted = stack_settings(entry)
        for name in STACK_SETTINGS if settings is not None else ():
            if wanted[name] != settings[0][name]:
                problems.append("endpoint_monitoring_%s: %s, but endpoint %r of the same region gives %s; one stack "
                                "holds the shared topics, so the endpoints of a region in topic_mode shared must agree"
                                % (name, _setting(wanted[name]), settings[1], _setting(settings[0][name])))
        for sub in entry.get("subscribers") or []:
            key = subscription_key(sub["protocol"], sub["endpoint"])
            raw = bool(sub.get("raw_message_delivery"))
            if key in first and first[key][0] != raw:
                problems.append("endpoint_monitoring_*subscribers: %s with raw_message_delivery %s, but endpoint %r "
                                "of the same region lists it with %s; it is subscribed once to each shared topic, so "
                                "the endpoints must agree" % (_shown(sub), str(raw).lower(), first[key][1],
                                                              str(first[key][0]).lower()))
        if problems:
            refused[entry["host"]] = "; ".join(problems)
            continue
        if settings is None:
            settings = (wanted, entry["endpoint"])
        for sub in entry.get("subscribers") or []:
            key = subscription_key(sub["protocol"], sub["endpoint"])
            first.setdefault(key, (bool(sub.get("raw_message_delivery")), entry["endpoint"]))
            for severity in sub.get("severities") or SEVERITIES:
                if key not in subscribed[severity]:
                    subscribed[severity].add(key)
                    subscribers[severity].append({"protocol": sub["protocol"], "endpoint": sub["endpoint"],
                                                  "raw_message_delivery": bool(sub.get("raw_message_delivery"))})
    topics = {"settings": settings[0] if settings else stack_settings({}), "subscribers": subscribers}
    return topics, refused


def stack_settings(entry):
    """The settings of the shared topics stack an entry asks for."""
    given = entry.get("shared_stack") or {}
    return {"topic_kms_key": given.get("topic_kms_key") or "", "role_arn": given.get("role_arn") or "",
            "notification_arns": sorted(given.get("notification_arns") or []),
            "termination_protection": bool(given.get("termination_protection"))}


def topics_fingerprint(topics, template_digest):
    """The fingerprint of the shared topics stack: its template's code, its topics and its settings; not who is
    subscribed, which a batch of the fleet (--limit, serial) sees only in part. The subscriptions' raw delivery is
    read (plan_region_topics)."""
    return fingerprint({"stack": SHARED_TOPICS_STACK, "topics": stack_topics(), "template": template_digest,
                        "settings": dict((k, v) for k, v in topics["settings"].items()
                                         if k != "termination_protection")})


def plan_region_topics(stack, topics, fingerprint_value, subscriptions_by_topic, read_attributes=None):
    """What a region's shared topics need, from its listings. stack: the DescribeStacks entry of the shared topics
    stack (None: there is none); topics: region_topics' first result; subscriptions_by_topic: ListSubscriptions
    entries by topic ARN; read_attributes(arn): a subscription's attributes (GetSubscriptionAttributes), to check the
    raw delivery of the kept sqs and https subscriptions (None: not checked).

    Returns status (unchanged, changed or failed), action (create, recreate, update, protect or none), changes (lines
    in words), outputs, subscribe (the severities whose topic the subscribers task keeps), pending (subscription keys
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
    names = ", ".join(topic["name"] for topic in stack_topics())
    protect = topics["settings"]["termination_protection"]
    if stack is None:
        result.update(action="create", changes=["+ stack %s (topics %s)" % (SHARED_TOPICS_STACK, names)])
    elif recreate:
        result.update(action="recreate", outputs={}, changes=[
            "! stack %s is %s after a failed creation: it is removed and created again"
            % (SHARED_TOPICS_STACK, stack["StackStatus"])])
    else:
        if stack.get("StackStatus") not in SETTLED or result["outputs"].get(FINGERPRINT_OUTPUT) != fingerprint_value:
            result.update(action="update", changes=[
                "~ stack %s: its template or settings (endpoint_monitoring_topic_kms_key, _role_arn, "
                "_notification_arns) changed since it was last applied" % SHARED_TOPICS_STACK])
        if bool(stack.get("EnableTerminationProtection")) != protect:
            shown = "on" if protect else "off"
            result["changes"].append("~ stack %s: termination protection %s" % (SHARED_TOPICS_STACK, shown))
            if result["action"] == "none":
                result["action"] = "protect"
    for severity in SEVERITIES:
        wanted = topics["subscribers"][severity]
        arn = result["outputs"].get(topic_output(severity))
        held = subscriptions_by_topic.get(arn, []) if arn else []
        plan = plan_subscriptions(held, wanted)
        name = shared_topic_name(severity)
        raw = raw_delivery_updates(plan["keep"], read_attributes) if read_attributes else []
        result["changes"].extend("%s to %s" % (line, name) for line in describe_plan(plan))
        result["changes"].extend("%s on %s" % (line, name) for line in describe_raw_updates(raw))
        result["confirmations_asked"] += confirmations_asked(plan)
        result["pending"].extend(subscription_key(s["Protocol"], s["Endpoint"]) for s in plan["pending"])
        # what this run subscribes waits too, until its subscriber confirms it
        result["pending"].extend(subscription_key(s["protocol"], s["endpoint"]) for s in plan["subscribe"]
                                 if s["protocol"] in CONFIRMED_BY_SUBSCRIBER)
        if plan["subscribe"] or raw or (wanted and result["action"] in ("create", "recreate")):
            result["subscribe"].append(severity)
    if result["changes"]:
        result["status"] = "changed"
    return result


def topics_drift(outputs, policies):
    """Worded drift of the shared topics of a settled stack. outputs: the stack's; policies: {topic ARN: its policy
    text, or None where the topic is gone} (GetTopicAttributes)."""
    lines = []
    for topic in stack_topics():
        arn = outputs.get(topic["output"])
        if not arn or arn not in policies:
            continue
        if policies[arn] is None:
            lines.append("+ topic %s (deleted outside Ansible): the %s alarms of the region's endpoints in "
                         "topic_mode shared notify nothing" % (topic["name"], topic["severity"]))
        else:
            lines.extend(topic_policy_drift(arn, policies[arn]))
    return lines


def switch_gap(entry, result, pending_keys):
    """Where an endpoint's own topic is retired in this run (a switch to topic_mode shared): the line that says
    which of its subscribers hear nothing of its alarms until they confirm their shared subscriptions (None: none
    of them waits)."""
    if not result.get("topic_retirement"):
        return None
    waiting = pending_of(entry, pending_keys)
    if not waiting:
        return None
    return ("! %s must confirm the subscription to the shared topics: until then this endpoint's alarms reach them "
            "no more (the retired topic keeps their former subscription)"
            % ", ".join("%s %s" % (w["protocol"], w["endpoint"]) for w in waiting))


def pending_of(entry, pending_keys):
    """The endpoint's subscribers whose subscription to a shared topic waits for confirmation, as the summary shows
    them."""
    pending = set(pending_keys)
    return [{"protocol": s["protocol"], "endpoint": redact(s["protocol"], s["endpoint"])}
            for s in entry.get("subscribers") or [] if subscription_key(s["protocol"], s["endpoint"]) in pending]


def outcome(plans, *registered):
    """How the role's tasks for the shared topics went, per connection of plans (the plan's shared_topics that
    needed a change, each with its key: region, profile and endpoint URL): topic_arns ({severity: ARN}, from this
    run's apply where it made one, else from the plan's listing; {} where something failed), error (the failures'
    messages, empty when none) and hosts (the connection's endpoints in topic_mode shared). registered: what the
    role's looped tasks registered; an item is a plan, or [plan, severity]."""
    found = {}
    for plan in plans:
        found[plan["key"]] = {"plan": plan, "outputs": dict(plan.get("outputs") or {}), "errors": []}
    for task in registered:
        for result in (task or {}).get("results") or []:
            item = result.get("item")
            plan = item[0] if isinstance(item, (list, tuple)) and item else item
            where = found.get(plan.get("key")) if isinstance(plan, dict) else None
            if where is None:
                continue
            if result.get("failed"):
                where["errors"].append(result.get("msg") or "failed")
            elif result.get("stack_outputs"):
                where["outputs"] = dict(result["stack_outputs"])
    return dict((key, {"topic_arns": {} if where["errors"] else dict(
        (t["severity"], where["outputs"].get(t["output"])) for t in where["plan"]["topics"]),
        "error": "; ".join(where["errors"]), "hosts": list(where["plan"].get("hosts") or [])})
        for key, where in found.items())
