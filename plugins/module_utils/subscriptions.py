# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reconcile the subscribers of an SNS topic with the ones listed in variables (pure logic)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

PENDING = "PendingConfirmation"
# Protocols whose subscriptions can deliver the raw message, without the SNS envelope.
RAW_DELIVERY_PROTOCOLS = ("sqs", "https")


def subscription_key(protocol, endpoint):
    """What tells two subscriptions of a topic apart: SNS keeps one per protocol and address."""
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
        wanted.setdefault(subscription_key(sub["protocol"], sub["endpoint"]), sub)
    plan = {"subscribe": [], "unsubscribe": [], "keep": [], "pending": [], "unlisted": []}
    seen = set()
    for sub in existing:
        key = subscription_key(sub["Protocol"], sub["Endpoint"])
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


# Protocols whose subscriptions wait until the subscriber confirms them (a link in an email, an answer from the
# HTTP(S) endpoint). SNS confirms same-account SQS, Lambda and Firehose subscriptions itself.
CONFIRMED_BY_SUBSCRIBER = ("email", "email-json", "http", "https")
# SNS refuses Subscribe past this many subscriptions waiting for confirmation in an account (per region, like
# every SNS quota); they wait three days at most.
PENDING_QUOTA = 5000


def waiting_for_confirmation(plan):
    """The listed subscribers of a plan_subscriptions plan whose subscriptions still wait for confirmation, as the
    summary shows them (protocol, endpoint redacted)."""
    return [{"protocol": s["Protocol"], "endpoint": redact(s["Protocol"], s["Endpoint"])} for s in plan["pending"]]


def confirmations_asked(plan):
    """How many of the plan's new subscriptions will wait for their subscriber's confirmation."""
    return len([s for s in plan["subscribe"] if s["protocol"] in CONFIRMED_BY_SUBSCRIBER])


def count_pending(subscriptions):
    """Subscriptions of a ListSubscriptions listing (a region of the account) that wait for confirmation."""
    return len([s for s in subscriptions if s.get("SubscriptionArn") == PENDING])


def pending_quota_warning(region, pending, asked, quota=PENDING_QUOTA):
    """A warning when the run's new subscriptions would take the region past the account's quota of subscriptions
    waiting for confirmation, else None."""
    if asked <= 0 or pending + asked <= quota:
        return None
    return ("%s: %d subscription%s of the account already wait%s for confirmation and this run asks for %d more, "
            "past SNS's quota of %d: Subscribe is refused for the %d past it. Have the subscribers confirm (or let "
            "unconfirmed ones expire after three days), or roll out fewer endpoints at a time (--limit)"
            % (region, pending, "" if pending == 1 else "s", "s" if pending == 1 else "", asked, quota,
               pending + asked - quota))
