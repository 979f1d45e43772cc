# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decide, from one listing per region, which endpoints' monitoring needs a change (pure functions).

Each stack carries a fingerprint of what the collection applied to it (an output, MonitoringFingerprint): the
endpoint's spec, the settings that reach the stack but not the spec, and digests of the code that turns a spec
into a template and a dashboard. DescribeStacks returns outputs, so one paginated listing per region says which
stacks are as desired, and a run where nothing changed needs no call per endpoint. Subscriptions come from one
ListSubscriptions per region in the same way. Everything else (the worded diff, the apply) happens per endpoint,
in the role's own tasks, only for endpoints that need it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_spec import (
    COLLECTION,
    ENDPOINT_TAG,
    MANAGED_BY_TAG,
    dashboard_name,
    topic_name,
)
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.subscriptions import (
    confirmations_asked,
    describe_plan,
    plan_subscriptions,
    waiting_for_confirmation,
)

FINGERPRINT_OUTPUT = "MonitoringFingerprint"
TOPIC_OUTPUT = "TopicArn"
# The stack's former topic, kept after a switch to topic_mode shared or existing: no alarm notifies it.
RETIRED_TOPIC_OUTPUT = "RetiredTopicArn"
# States in which the stack holds what its last operation applied.
SETTLED = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE", "UPDATE_ROLLBACK_COMPLETE")
BUSY_SUFFIX = "_IN_PROGRESS"
# A stack whose creation failed can only be deleted: rolled back, it holds nothing; left as it failed
# (on_create_failure DO_NOTHING), it holds part of the collection's own resources. Deleting it loses nothing.
RECREATE_STATES = ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED")
STUCK_STATES = {
    "UPDATE_ROLLBACK_FAILED": "continue the rollback (aws cloudformation continue-update-rollback --stack-name %s) "
                              "or delete the stack, then run again",
    "DELETE_FAILED": "delete the stack (aws cloudformation delete-stack --stack-name %s), then run again",
}


class PlanError(Exception):
    """No safe action exists for a stack; the message says why and what to do."""


def fingerprint(content):
    """16 hex digits that change whenever anything in `content` (JSON-serialisable) does."""
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def stack_fingerprint(spec, stack_settings):
    """The fingerprint of the stack an endpoint's spec and stack settings make.

    stack_settings: what reaches the stack besides the spec (dashboard mode, topic key, stack policy, service
    role, notification ARNs) and the digests of the template and dashboard code. Subscribers are left out except
    for their raw-delivery setting, which ListSubscriptions does not show: a change of it must show here to be
    noticed without reading every subscription's attributes. A variant's instance count is left out too: no alarm
    or graph depends on it, and autoscaling changes it all day."""
    # (in topic_mode shared the subscribers are the shared topics', which have a fingerprint of their own)
    own_subscribers = spec.get("topic_mode", "per_endpoint") == "per_endpoint"
    raw = sorted((s["protocol"], s["endpoint"]) for s in spec.get("subscribers") or []
                 if s.get("raw_message_delivery") and own_subscribers)
    content = dict((k, v) for k, v in spec.items() if k != "subscribers")
    content["variants"] = [dict((k, v) for k, v in variant.items() if k != "instance_count") if isinstance(variant, dict)
                           else variant for variant in spec.get("variants") or []]
    return fingerprint({"spec": content, "raw_delivery": raw, "stack": stack_settings})


def tags_of(stack):
    return dict((t["Key"], t["Value"]) for t in (stack or {}).get("Tags") or [])


def outputs_of(stack):
    return dict((o["OutputKey"], o["OutputValue"]) for o in (stack or {}).get("Outputs") or [])


def live(stacks):
    """Stacks that still exist: some servers go on listing deleted ones, as DELETE_COMPLETE."""
    return [s for s in stacks if s.get("StackStatus") != "DELETE_COMPLETE"]


def busy(stack_name, stack):
    """The message for a stack another operation is changing (None when it is not)."""
    status = (stack or {}).get("StackStatus", "")
    if status.endswith(BUSY_SUFFIX):
        return ("stack %s is busy (%s): another run or a person is changing it. Run again when it is done."
                % (stack_name, status))
    return None


def guard(stack_name, stack, state, endpoint=None):
    """Refuses (PlanError) a stack that is not this collection's, is another endpoint's (when endpoint is given),
    busy, or stuck; says whether an existing stack must be created again (True) after a failed creation."""
    if tags_of(stack).get(MANAGED_BY_TAG) != COLLECTION:
        raise PlanError("stack %s exists but is not tagged %s=%s, so it was not made by this collection; it is left "
                        "alone. Change the stack prefix (endpoint_monitoring_stack_prefix) or delete the stack yourself."
                        % (stack_name, MANAGED_BY_TAG, COLLECTION))
    held_by = tags_of(stack).get(ENDPOINT_TAG)
    if endpoint is not None and held_by and held_by != endpoint:
        # Stack prefix + endpoint name: prefix a-b- with endpoint c and prefix a- with endpoint b-c make one name.
        raise PlanError("stack %s is the stack of endpoint %r (tag %s), not of this endpoint: with their stack "
                        "prefixes the two endpoints' stacks have one name. It is left alone; change "
                        "endpoint_monitoring_stack_prefix for one of them." % (stack_name, held_by, ENDPOINT_TAG))
    if busy(stack_name, stack):
        raise PlanError(busy(stack_name, stack))
    status = stack.get("StackStatus", "")
    if status == "DELETE_FAILED" or (state == "present" and status in STUCK_STATES):
        raise PlanError("stack %s is %s: %s." % (stack_name, status, STUCK_STATES[status] % stack_name))
    return state == "present" and status in RECREATE_STATES


def _protection_line(protect):
    return "~ termination protection %s -> %s" % ("on" if not protect else "off", "on" if protect else "off")


def nothing_to_do(outputs=None):
    """An endpoint's plan before anything is found to change: what plan_endpoint starts from, and what an endpoint
    refused before its listing is compared (status failed) carries."""
    return {"status": "unchanged", "action": "none", "changes": [], "outputs": outputs or {},
            "protection_change": False, "subscriptions_change": False, "pending_confirmation": [],
            "confirmations_asked": 0, "retired_topic": ""}


def plan_endpoint(entry, stack, subscriptions_by_topic):
    """What one endpoint's monitoring needs, from the region's listings.

    entry: endpoint, stack_name, state, and for present: fingerprint, termination_protection, subscribers,
    purge_subscriptions. stack: its DescribeStacks entry or None. subscriptions_by_topic: ListSubscriptions
    entries by topic ARN.

    Returns status (unchanged, changed or failed), action (create, recreate, update, protect, delete or none: what
    the stack needs; protect is a termination-protection change alone), changes (lines in words), outputs,
    protection_change, subscriptions_change, retired_topic (the stack's topic its template keeps though no alarm
    notifies it), and error when failed."""
    name = entry["stack_name"]
    result = nothing_to_do(outputs_of(stack))
    if stack is None and entry["state"] == "absent":
        return result
    try:
        recreate = stack is not None and guard(name, stack, entry["state"], endpoint=entry["endpoint"])
    except PlanError as e:
        result.update(status="failed", error=str(e))
        return result

    if entry["state"] == "absent":
        if stack.get("EnableTerminationProtection"):
            result.update(status="failed", error="stack %s has termination protection on; turn it off "
                          "(endpoint_monitoring_termination_protection: false, then run monitor_endpoints.yml) to "
                          "remove it" % name)
            return result
        result.update(status="changed", action="delete", changes=["- stack %s and everything in it" % name])
        return result

    protect = bool(entry.get("termination_protection"))
    if stack is None or recreate:
        result["outputs"] = {}
        if recreate:
            result.update(action="recreate", changes=["! stack %s is %s after a failed creation: it is removed and "
                                                      "created again" % (name, stack["StackStatus"])])
        else:
            result.update(action="create", changes=["+ stack %s" % name])
    else:
        if stack.get("StackStatus") not in SETTLED or result["outputs"].get(FINGERPRINT_OUTPUT) != entry["fingerprint"]:
            result.update(action="update", changes=["~ stack %s: the settings changed since it was last applied" % name])
        if bool(stack.get("EnableTerminationProtection")) != protect:
            result["protection_change"] = True
            result["changes"].append(_protection_line(protect))
            if result["action"] == "none":
                result["action"] = "protect"

    own_topic = result["outputs"].get(TOPIC_OUTPUT) or result["outputs"].get(RETIRED_TOPIC_OUTPUT)
    per_endpoint = entry.get("topic_mode", "per_endpoint") == "per_endpoint"
    if own_topic and not per_endpoint:
        _retire_topic(result, own_topic, subscriptions_by_topic.get(own_topic, []), entry)
    # The subscribers are the stack's own topic's only in per_endpoint mode (a retired topic taken back included).
    topic = own_topic if per_endpoint else None
    existing = subscriptions_by_topic.get(topic, []) if topic else []
    # (in topic_mode shared the subscribers are the region's shared topics', which the plan of the region keeps)
    subscriptions = plan_subscriptions(existing, (entry.get("subscribers") or []) if per_endpoint else [],
                                       purge=bool(entry.get("purge_subscriptions")))
    result["pending_confirmation"] = waiting_for_confirmation(subscriptions)
    result["confirmations_asked"] = confirmations_asked(subscriptions)
    lines = describe_plan(subscriptions)
    if lines:
        result["subscriptions_change"] = True
        result["changes"].extend(lines)
    if result["changes"]:
        result["status"] = "changed"
    return result


def needs_own_topic_subscriptions(entry, stack):
    """Whether the plan of an endpoint needs its region's subscriptions: it has subscribers to keep or purge (a
    retired topic's included), or its topic mode retires its stack's topic in this run (its subscriptions are
    counted). A topic retired and kept by an earlier run needs no listing."""
    if entry["state"] != "present":
        return False
    if entry.get("subscribers") or entry.get("purge_subscriptions"):
        return True
    return entry.get("topic_mode", "per_endpoint") != "per_endpoint" and bool(outputs_of(stack).get(TOPIC_OUTPUT))


def _retire_topic(result, topic_arn, subscriptions, entry):
    """The stack's own topic, which no alarm notifies in the endpoint's topic mode: kept with its subscriptions
    (result retired_topic, for the template) unless endpoint_monitoring_purge_subscriptions is on, in which case the
    stack update deletes it and them. Either is said: nothing is retired unannounced."""
    name = topic_arn.rsplit(":", 1)[-1]
    count = len(subscriptions)
    held = "%d subscription%s" % (count, "" if count == 1 else "s")
    if entry.get("purge_subscriptions"):
        shown = ", ".join(sorted("%s %s" % (s.get("Protocol"), s.get("Endpoint")) for s in subscriptions))
        line = ("- topic %s and its %s%s: no alarm notifies it (topic_mode %s; endpoint_monitoring_purge_subscriptions "
                "is on)" % (name, held, " (%s)" % shown if shown else "", entry["topic_mode"]))
        if result["action"] in ("none", "protect"):
            result["action"] = "update"
    else:
        result["retired_topic"] = topic_arn
        if not result["outputs"].get(TOPIC_OUTPUT):
            return  # retired and kept by an earlier run, which said so
        line = ("~ topic %s is retired: no alarm notifies it; kept with its %s (endpoint_monitoring_purge_subscriptions: "
                "true removes it and them)" % (name, held))
    result["changes"].append(line)
    result["topic_retirement"] = [line]  # said on every run that does it, not only in --diff


def _run_names(entry):
    """The names an entry's stack takes that no other entry of the run may take, each as (key, words): its stack
    and topic in its region, its dashboard in the account (dashboards are global; the region is in the name). Its
    alarms need no key of their own: every alarm name starts with the topic's name and "_", and no endpoint name
    holds "_", so two endpoints' alarms share a name only where their topics do."""
    region = entry["region"]
    topic = topic_name(entry["endpoint"])
    dashboard = dashboard_name(entry["endpoint"], region)
    return [(("stack", region, entry["stack_name"]), "stack %s in %s" % (entry["stack_name"], region)),
            (("topic", region, topic), "topic %s in %s" % (topic, region)),
            (("dashboard", dashboard), "dashboard %s" % dashboard)]


def run_collisions(entries):
    """Entries of one run (endpoint, region, stack_name, host) whose stack or resources would take a name another
    entry's take: {index: why}. Every entry that shares a name is refused, not only the later ones: which of them
    the name should go to is for a person to say. Two hosts of one endpoint and stack, one endpoint under two stack
    prefixes, two endpoints whose stack prefixes make one stack name: all come down to a name taken twice."""
    holders = {}
    named = []
    for i, entry in enumerate(entries):
        names = _run_names(entry)
        named.append(names)
        for key, _words in names:
            holders.setdefault(key, []).append(i)
    refused = {}
    for i, names in enumerate(named):
        for key, words in names:
            others = [entries[j] for j in holders[key] if j != i]
            if others:
                refused[i] = ("%s would also be the %s of %s: two hosts of a run may not share a stack or a name of "
                              "what it holds, so none of them is applied (check endpoint_monitoring_endpoint_name and "
                              "endpoint_monitoring_stack_prefix)" % (words, key[0], " and ".join(
                                  "endpoint %r (host %r)" % (o["endpoint"], o["host"]) for o in others)))
                break
    return refused


# Resource types of a stack whose names the collection chooses, and the kind of name each is.
NAMED_RESOURCES = {"AWS::CloudWatch::Alarm": "alarm", "AWS::CloudWatch::CompositeAlarm": "alarm",
                   "AWS::SNS::Topic": "topic", "AWS::CloudWatch::Dashboard": "dashboard"}


def stack_resource_names(summaries):
    """(kind, name) of the alarms, topics and dashboards among a stack's ListStackResources entries (a topic's
    physical id is its ARN)."""
    names = set()
    for summary in summaries:
        kind = NAMED_RESOURCES.get(summary.get("ResourceType"))
        physical = summary.get("PhysicalResourceId")
        if kind and physical:
            names.add((kind, physical.rsplit(":", 1)[-1] if kind == "topic" else physical))
    return names


def taken_names(wanted, existing, own=()):
    """The (kind, name) among wanted that already exist (existing: {kind: names}) and are not the endpoint's own
    (own: (kind, name) in its stack)."""
    own = set(own)
    return [(kind, name) for kind, name in wanted if name in existing.get(kind, ()) and (kind, name) not in own]


def describe_taken(taken, stack_name, region, namesakes=()):
    """Why an endpoint's stack is not created: names it would take are held already, not by its stack.
    namesakes: other stacks of this collection for the same endpoint (another stack prefix), which may hold them."""
    shown = ", ".join("%s %s" % t for t in taken[:3]) + (" and %d more" % (len(taken) - 3) if len(taken) > 3 else "")
    one = len(taken) == 1
    text = ("%s already exist%s in %s and %s not this endpoint's (%s not in its stack %s): the stack would take %s "
            "over, so it is not created and %s left alone. Remove or rename %s first" % (
                shown, "s" if one else "", region, "is" if one else "are", "it is" if one else "they are", stack_name,
                "it" if one else "them", "it is" if one else "they are", "it" if one else "them"))
    if namesakes:
        text += ("; stack %s of this collection monitors the same endpoint (was endpoint_monitoring_stack_prefix "
                 "changed? remove that stack with the former prefix)" % ", ".join(sorted(namesakes)))
    return text


def namesakes(stacks, entry):
    """Names of the other live stacks of this collection in the region that monitor the entry's endpoint."""
    ours = [s for s in stacks if tags_of(s).get(MANAGED_BY_TAG) == COLLECTION]
    return [s["StackName"] for s in ours
            if s["StackName"] != entry["stack_name"] and tags_of(s).get(ENDPOINT_TAG) == entry["endpoint"]]


def group_subscriptions(subscriptions):
    """ListSubscriptions entries grouped by topic ARN."""
    grouped = {}
    for sub in subscriptions:
        grouped.setdefault(sub["TopicArn"], []).append(sub)
    return grouped


def usage(spec, dashboard_metrics, own_dashboard=True, fleet_section=None):
    """What the endpoint's monitoring is billed for, small enough to keep for every endpoint of a large fleet:
    its alarms, its own dashboard's metrics, and the widgets and metrics its section of a fleet dashboard would
    take (to price fleet dashboards instead)."""
    alarms = [dict((k, a[k]) for k in ("kind", "period", "metric_count") if k in a) for a in spec["alarms"]]
    if spec.get("composite"):
        alarms.append({"kind": "composite"})
    return {"alarms": alarms, "dashboards": 1 if own_dashboard else 0, "dashboard_metrics": dashboard_metrics,
            "fleet_section": fleet_section}
