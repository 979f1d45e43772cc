# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reconcile the subscribers of an SNS topic with the ones listed in variables (pure logic)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

PENDING = "PendingConfirmation"
# Protocols whose subscriptions can deliver the raw message, without the SNS envelope.
RAW_DELIVERY_PROTOCOLS = ("sqs", "https")


def _key(protocol, endpoint):
    # SNS compares email addresses without regard to case of the domain; keep the rest exact.
    if protocol == "email" and "@" in endpoint:
        local, dummy, domain = endpoint.rpartition("@")
        endpoint = "%s@%s" % (local, domain.lower())
    return (protocol, endpoint)


def redact(protocol, endpoint):
    """Webhook URLs often carry tokens in their path or query: show only scheme and host."""
    if protocol in ("http", "https"):
        scheme, dummy, rest = endpoint.partition("://")
        host = rest.split("/", 1)[0].split("?", 1)[0]
        host = host.rpartition("@")[2]  # user:password@ is a secret too
        return "%s://%s/..." % (scheme, host) if rest != host else "%s://%s" % (scheme, host)
    return endpoint


def plan_subscriptions(existing, desired, purge=False):
    """Compare what the topic has with what variables list.

    existing: ListSubscriptionsByTopic entries (SubscriptionArn, Protocol, Endpoint).
    desired: dicts with protocol, endpoint, raw_message_delivery.
    Returns dict with lists: subscribe (desired), unsubscribe (existing), keep (pairs of existing, desired),
    pending (existing entries still waiting for confirmation), foreign_pending (pending and not listed:
    AWS gives no ARN to remove them with; they expire after three days).
    """
    wanted = {}
    for sub in desired:
        wanted.setdefault(_key(sub["protocol"], sub["endpoint"]), sub)
    plan = {"subscribe": [], "unsubscribe": [], "keep": [], "pending": [], "unlisted": []}
    seen = set()
    for sub in existing:
        key = _key(sub["Protocol"], sub["Endpoint"])
        if key in wanted:
            if key in seen:
                continue
            seen.add(key)
            plan["keep"].append((sub, wanted[key]))
            if sub["SubscriptionArn"] == PENDING:
                plan["pending"].append(sub)
        elif purge and sub["SubscriptionArn"] != PENDING:
            plan["unsubscribe"].append(sub)
        else:
            plan["unlisted"].append(sub)
    for key, sub in wanted.items():
        if key not in seen:
            plan["subscribe"].append(sub)
    return plan


def describe_plan(plan):
    """Readable lines for check mode and --diff."""
    lines = ["+ subscription %s %s" % (s["protocol"], redact(s["protocol"], s["endpoint"])) for s in plan["subscribe"]]
    lines += ["- subscription %s %s" % (s["Protocol"], redact(s["Protocol"], s["Endpoint"]))
              for s in plan["unsubscribe"]]
    return lines


def raw_delivery_updates(keep, read_attributes):
    """(subscription ARN, wanted subscriber) for kept, confirmed sqs/https subscriptions whose raw delivery
    differs from the listed one. read_attributes(arn) returns the subscription's attributes
    (GetSubscriptionAttributes): the listing of subscriptions does not show them."""
    updates = []
    for sub, wanted in keep:
        if wanted["protocol"] not in RAW_DELIVERY_PROTOCOLS or sub["SubscriptionArn"] == PENDING:
            continue
        current = read_attributes(sub["SubscriptionArn"]).get("RawMessageDelivery", "false") == "true"
        if current != bool(wanted.get("raw_message_delivery")):
            updates.append((sub["SubscriptionArn"], wanted))
    return updates


def describe_raw_updates(updates):
    """Readable lines for the raw-delivery changes of raw_delivery_updates."""
    return ["~ subscription %s %s: RawMessageDelivery -> %s" % (
        w["protocol"], redact(w["protocol"], w["endpoint"]), str(bool(w.get("raw_message_delivery"))).lower())
        for _arn, w in updates]
