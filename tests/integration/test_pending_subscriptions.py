"""Subscriptions that wait for their subscriber's confirmation, on LocalStack (which keeps email subscriptions
pending, as SNS does until the link in the email is followed): counted against SNS's quota before a run
subscribes anyone, and listed in the summary for every endpoint, changed or not."""

import pytest

from conftest import REGION, run_playbook, unique

pytestmark = pytest.mark.integration


def pending_in_region(sns):
    return len([s for page in sns.get_paginator("list_subscriptions").paginate() for s in page["Subscriptions"]
                if s["SubscriptionArn"] == "PendingConfirmation"])


def test_pending_confirmations_are_counted_against_the_quota_and_listed_per_subscriber(localstack, inventory):
    sns = localstack.client("sns")
    someone_elses = sns.create_topic(Name=unique("someone-elses"))["TopicArn"]
    sns.subscribe(TopicArn=someone_elses, Protocol="email", Endpoint="%s@example.com" % unique("user"))
    before = pending_in_region(sns)
    assert before >= 1  # the topic above is not the collection's: it still counts against the account's quota

    team, lead = "%s@example.com" % unique("team"), "%s@example.com" % unique("lead")
    inventory.group_vars("all", {"endpoint_monitoring_pending_subscriptions_quota": before + 2})
    one = inventory.add("fleet", unique("pend-a"), endpoint_monitoring_endpoint_subscribers=[
        {"protocol": "email", "endpoint": team}, {"protocol": "email", "endpoint": lead}])
    two = inventory.add("fleet", unique("pend-b"), endpoint_monitoring_endpoint_subscribers=[
        {"protocol": "email", "endpoint": team}])

    first = run_playbook(localstack, inventory)
    assert first.rc == 0, first.output
    words = " ".join(first.output.split())  # warnings are wrapped to the terminal's width
    assert ("%s: %d subscription%s of the account already wait" % (REGION, before, "" if before == 1 else "s")) in words
    assert "for confirmation and this run asks for 3 more, past SNS's quota of %d" % (before + 2) in words
    assert ("subscriptions waiting for confirmation in %s: %d in the account before this run, 3 asked by it"
            % (REGION, before)) in words, first.output

    again = run_playbook(localstack, inventory)
    assert again.rc == 0, again.output
    summary = again.summary()
    assert summary[one][0] == "unchanged" and summary[two][0] == "unchanged", again.output
    assert "2 subscriptions waiting for confirmation (" in summary[one][1], summary
    assert team in summary[one][1] and lead in summary[one][1], summary
    assert "1 subscription waiting for confirmation (%s)" % team in summary[two][1], summary
    words = " ".join(again.output.split())
    assert "already wait for confirmation and this run asks" not in words  # it asks for none: no warning
    assert ("subscriptions waiting for confirmation in %s: %d in the account before this run, 0 asked by it"
            % (REGION, before + 3)) in words, again.output


def test_in_shared_topic_mode_a_subscriber_waits_once_per_severity_however_many_endpoints_list_it(
        localstack, inventory):
    sns = localstack.client("sns")
    before = pending_in_region(sns)
    pager, lead = "%s@example.com" % unique("pager"), "%s@example.com" % unique("lead")
    inventory.group_vars("fleet", {"endpoint_monitoring_topic_mode": "shared", "endpoint_monitoring_group_subscribers": [
        {"protocol": "email", "endpoint": pager, "severities": ["critical"]}]})
    endpoints = [inventory.add("fleet", unique("pend-shared")) for _ in range(3)]
    inventory.host_vars(endpoints[0], {"endpoint_monitoring_endpoint_subscribers": [
        {"protocol": "email", "endpoint": lead}]})

    first = run_playbook(localstack, inventory)
    assert first.rc == 0, first.output
    words = " ".join(first.output.split())
    # the pager once (critical), the lead once per severity: three, not one per endpoint
    assert ("subscriptions waiting for confirmation in %s: %d in the account before this run, 3 asked by it"
            % (REGION, before)) in words, first.output
    summary = first.summary()
    assert "1 subscription waiting for confirmation (%s)" % pager in summary[endpoints[1]][1], summary
    assert pager in summary[endpoints[0]][1] and lead in summary[endpoints[0]][1], summary

    again = run_playbook(localstack, inventory)
    assert again.rc == 0, again.output
    words = " ".join(again.output.split())
    assert ("subscriptions waiting for confirmation in %s: %d in the account before this run, 0 asked by it"
            % (REGION, before + 3)) in words, again.output
    summary = again.summary()
    assert all(summary[e][0] == "unchanged" for e in endpoints), summary
    assert "2 subscriptions waiting for confirmation (" in summary[endpoints[0]][1], summary
