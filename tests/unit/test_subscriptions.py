"""subscriptions: reconcile an SNS topic's subscriptions with the listed subscribers; redact webhook URLs."""

import pytest

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.subscriptions import (
    PENDING,
    PENDING_QUOTA,
    confirmations_asked,
    count_pending,
    describe_plan,
    describe_raw_updates,
    pending_quota_warning,
    plan_subscriptions,
    raw_delivery_updates,
    redact,
    waiting_for_confirmation,
)

TOPIC = "arn:aws:sns:eu-west-1:123456789012:sagemaker-monitoring-fraud-scoring"
QUEUE = "arn:aws:sqs:eu-west-1:123456789012:alarms"
HOOK = "https://hooks.example.com/services/T0KEN/s3cr3t?sig=abc123"


def existing(protocol, endpoint, arn=None):
    return {"SubscriptionArn": arn or "%s:%s" % (TOPIC, abs(hash((protocol, endpoint))) % 10 ** 8),
            "Protocol": protocol, "Endpoint": endpoint, "TopicArn": TOPIC}


def wanted(protocol, endpoint, raw=False):
    return {"protocol": protocol, "endpoint": endpoint, "raw_message_delivery": raw}


def test_only_missing_subscribers_are_subscribed():
    have = [existing("email", "oncall@example.com")]
    want = [wanted("email", "oncall@example.com"), wanted("sqs", QUEUE, raw=True)]
    plan = plan_subscriptions(have, want)
    assert plan["subscribe"] == [wanted("sqs", QUEUE, raw=True)]
    assert plan["keep"] == [(have[0], want[0])]
    assert plan["unsubscribe"] == []


def test_everything_listed_and_present_is_kept():
    have = [existing("email", "oncall@example.com"), existing("sqs", QUEUE)]
    want = [wanted("sqs", QUEUE), wanted("email", "oncall@example.com")]
    plan = plan_subscriptions(have, want, purge=True)
    assert plan["subscribe"] == [] and plan["unsubscribe"] == [] and plan["unlisted"] == []
    assert sorted(k[0]["Protocol"] for k in plan["keep"]) == ["email", "sqs"]


def test_unlisted_subscriptions_are_left_alone_without_purge():
    have = [existing("email", "oncall@example.com"), existing("email", "someone-else@example.com")]
    plan = plan_subscriptions(have, [wanted("email", "oncall@example.com")])
    assert plan["unsubscribe"] == []
    assert plan["unlisted"] == [have[1]]


def test_purge_removes_confirmed_unlisted_but_never_pending_ones():
    confirmed = existing("email", "former@example.com")
    pending = existing("email", "new-hire@example.com", arn=PENDING)
    listed = existing("email", "oncall@example.com")
    plan = plan_subscriptions([confirmed, pending, listed], [wanted("email", "oncall@example.com")], purge=True)
    assert plan["unsubscribe"] == [confirmed]
    assert pending not in plan["unsubscribe"]
    assert plan["unlisted"] == [pending]
    assert [k[0] for k in plan["keep"]] == [listed]


def test_listed_pending_subscription_is_kept_and_reported_pending():
    pending = existing("email", "oncall@example.com", arn=PENDING)
    plan = plan_subscriptions([pending], [wanted("email", "oncall@example.com")], purge=True)
    assert plan["subscribe"] == []
    assert plan["pending"] == [pending]
    assert plan["unsubscribe"] == []


def test_email_domain_matches_case_insensitively():
    have = [existing("email", "Oncall@Example.COM")]
    plan = plan_subscriptions(have, [wanted("email", "Oncall@example.com")], purge=True)
    assert plan["subscribe"] == []
    assert plan["unsubscribe"] == []
    assert len(plan["keep"]) == 1


def test_email_local_part_stays_case_sensitive():
    have = [existing("email", "oncall@example.com")]
    plan = plan_subscriptions(have, [wanted("email", "OnCall@example.com")])
    assert plan["subscribe"] == [wanted("email", "OnCall@example.com")]


def test_protocol_is_part_of_the_match():
    have = [existing("email-json", "oncall@example.com")]
    plan = plan_subscriptions(have, [wanted("email", "oncall@example.com")])
    assert plan["subscribe"] == [wanted("email", "oncall@example.com")]
    assert plan["unlisted"] == have


def test_duplicate_existing_subscriptions_are_kept_once():
    have = [existing("sqs", QUEUE, arn=TOPIC + ":1"), existing("sqs", QUEUE, arn=TOPIC + ":2")]
    plan = plan_subscriptions(have, [wanted("sqs", QUEUE)], purge=True)
    assert len(plan["keep"]) == 1
    assert plan["subscribe"] == []


def test_empty_topic_subscribes_everything_once():
    want = [wanted("sqs", QUEUE), wanted("email", "a@example.com"), wanted("email", "a@EXAMPLE.com")]
    plan = plan_subscriptions([], want)
    # The two spellings are one subscription for SNS.
    assert plan["subscribe"] == want[:2]


# --------------------------------------------------------------------------------------------- redact

@pytest.mark.parametrize("url, shown", [
    (HOOK, "https://hooks.example.com/..."),
    ("https://hooks.example.com/path-only", "https://hooks.example.com/..."),
    ("https://hooks.example.com?token=abc", "https://hooks.example.com/..."),
    ("https://hooks.example.com:8443/x", "https://hooks.example.com:8443/..."),
    ("https://hooks.example.com", "https://hooks.example.com"),
    ("http://hooks.example.com/t0ken", "http://hooks.example.com/..."),
])
def test_redact_hides_path_and_query_of_urls(url, shown):
    assert redact("https" if url.startswith("https") else "http", url) == shown


def test_redact_hides_credentials_in_the_url():
    shown = redact("https", "https://alertbot:pa55word@hooks.example.com/notify")
    assert "pa55word" not in shown and "alertbot" not in shown
    assert shown == "https://hooks.example.com/..."


@pytest.mark.parametrize("protocol, endpoint", [
    ("email", "oncall@example.com"),
    ("sqs", QUEUE),
    ("lambda", "arn:aws:lambda:eu-west-1:123456789012:function:notify"),
])
def test_redact_leaves_other_protocols_alone(protocol, endpoint):
    assert redact(protocol, endpoint) == endpoint


def test_describe_plan_redacts_webhooks():
    plan = plan_subscriptions([existing("https", "https://old.example.com/T0KEN2")],
                              [wanted("https", HOOK), wanted("email", "oncall@example.com")], purge=True)
    lines = describe_plan(plan)
    assert lines == [
        "+ subscription https https://hooks.example.com/...",
        "+ subscription email oncall@example.com",
        "- subscription https https://old.example.com/...",
    ]
    assert not any(secret in line for line in lines for secret in ("T0KEN", "s3cr3t", "abc123"))


def test_raw_delivery_updates_read_only_confirmed_sqs_and_https_subscriptions():

    def kept(protocol, endpoint, arn, raw):
        return ({"Protocol": protocol, "Endpoint": endpoint, "SubscriptionArn": arn},
                {"protocol": protocol, "endpoint": endpoint, "raw_message_delivery": raw})

    keep = [
        kept("sqs", "arn:aws:sqs:us-east-1:123456789012:on", "arn:on", True),       # off now: turn on
        kept("sqs", "arn:aws:sqs:us-east-1:123456789012:same", "arn:same", False),  # already as listed
        kept("https", "https://hooks.example.com/T0K3N", "PendingConfirmation", True),  # no ARN to act on
        kept("email", "a@example.com", "arn:mail", True),                           # email has no raw delivery
        kept("https", "https://hooks.example.com/T0K3N", "arn:hook", False),        # on now: turn off
    ]
    current = {"arn:on": {}, "arn:same": {"RawMessageDelivery": "false"}, "arn:hook": {"RawMessageDelivery": "true"}}
    read = []

    def read_attributes(arn):
        read.append(arn)
        return current[arn]

    updates = raw_delivery_updates(keep, read_attributes)
    assert read == ["arn:on", "arn:same", "arn:hook"]
    assert [(arn, w["raw_message_delivery"]) for arn, w in updates] == [("arn:on", True), ("arn:hook", False)]
    assert describe_raw_updates(updates) == [
        "~ subscription sqs arn:aws:sqs:us-east-1:123456789012:on: RawMessageDelivery -> true",
        "~ subscription https https://hooks.example.com/...: RawMessageDelivery -> false",
    ]


def test_what_waits_for_confirmation_is_listed_with_webhook_secrets_redacted():
    hook = existing("https", "https://hooks.example.com/T000/secret-token", arn=PENDING)
    mail = existing("email", "oncall@example.com", arn=PENDING)
    confirmed = existing("email", "lead@example.com")
    plan = plan_subscriptions([hook, mail, confirmed], [
        wanted("https", "https://hooks.example.com/T000/secret-token"), wanted("email", "oncall@example.com"),
        wanted("email", "lead@example.com")])
    assert waiting_for_confirmation(plan) == [{"protocol": "https", "endpoint": "https://hooks.example.com/..."},
                                              {"protocol": "email", "endpoint": "oncall@example.com"}]


def test_only_subscribers_that_must_confirm_count_against_the_pending_quota():
    plan = plan_subscriptions([existing("email", "old@example.com")], [
        wanted("email", "old@example.com"), wanted("email", "new@example.com"),
        wanted("email-json", "json@example.com"), wanted("https", "https://pager.example.com/x"),
        wanted("sqs", "arn:aws:sqs:eu-west-1:123456789012:alerts"),
        wanted("lambda", "arn:aws:lambda:eu-west-1:123456789012:function:page")])
    assert confirmations_asked(plan) == 3  # email, email-json, https; not sqs or lambda, not the one already there
    listing = [existing("email", "a@example.com", arn=PENDING), existing("email", "b@example.com"),
               existing("https", "https://x.example.com/", arn=PENDING)]
    assert count_pending(listing) == 2


def test_a_run_that_would_pass_the_pending_quota_is_warned_before_it_subscribes():
    assert PENDING_QUOTA == 5000
    assert pending_quota_warning("eu-west-1", 4000, 1000) is None  # exactly at the quota: every one is accepted
    assert pending_quota_warning("eu-west-1", 6000, 0) is None  # asks for none: nothing of this run is refused
    warning = pending_quota_warning("eu-west-1", 4990, 40)
    assert warning.startswith("eu-west-1: 4990 subscriptions of the account already wait for confirmation")
    assert "40 more" in warning and "quota of 5000" in warning and "for the 30 past it" in warning
    assert "1 subscription of the account already waits" in pending_quota_warning("us-east-1", 1, 10, quota=5)
