"""topic_mode shared: the spec's alarms notify their region's shared topic of their severity, subscribers name the
severities they want; the plan of a region's shared topics stack and its subscriptions, the outcome of the role's
tasks for it, and the drift check's normal form of an alarm that notifies a shared topic (pure functions)."""

import copy
import itertools
import json

import pytest
import yaml

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils import catalog, drift
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_spec import (
    SHARED_TOPICS_STACK,
    SpecError,
)
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.plan import (
    FINGERPRINT_OUTPUT,
    group_subscriptions,
    plan_endpoint,
)
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.shared_topics import (
    outcome,
    pending_of,
    plan_region_topics,
    region_topics,
    stack_settings,
    stack_topics,
    switch_gap,
    topic_output,
    topics_drift,
    topics_fingerprint,
)

from role_support import described, render_template
from test_endpoint_spec import spec_for

ENDPOINT = "fraud-scoring"
REGION = "eu-west-1"
ACCOUNT = "123456789012"
OTHER_ACCOUNT = "210987654321"
FLEET_SUBS = "endpoint_monitoring_subscribers"
HOST_SUBS = "endpoint_monitoring_endpoint_subscribers"
GPU_INSTANCE = "ml.g4dn.xlarge"  # 4 vCPUs, 1 GPU: alarms of both severities
SEVERITIES = ["critical", "warning"]
SUB_TEMPLATE = "arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:sagemaker-monitoring_shared_%s"
OPS = {"protocol": "email", "endpoint": "ops@example.com"}
QUEUE = "arn:aws:sqs:eu-west-1:123456789012:alerts"
HOOK = "https://hooks.example.com/services/T0KEN-s3cr3t?sig=abc123"
DIGEST = "template-digest-1"
ROLE = "arn:aws:iam::123456789012:role/cfn-service"
NOTIFY_A = "arn:aws:sns:eu-west-1:123456789012:stack-events-a"
NOTIFY_B = "arn:aws:sns:eu-west-1:123456789012:stack-events-b"
NO_SETTINGS = {"topic_kms_key": "", "role_arn": "", "notification_arns": [], "termination_protection": False}


def shared_arn(severity, region=REGION, account=ACCOUNT, partition="aws"):
    return "arn:%s:sns:%s:%s:sagemaker-monitoring_shared_%s" % (partition, region, account, severity)


def problems_of(**kwargs):
    with pytest.raises(SpecError) as e:
        spec_for(**kwargs)
    return e.value.problems


# ------------------------------------------------------------------------------------------------ build_spec
def test_every_alarm_and_the_composite_notify_the_shared_topic_of_their_severity():
    spec = spec_for(topic_mode="shared", notify="both")
    assert set(a["severity"] for a in spec["alarms"]) == set(SEVERITIES)  # both topics are used
    for alarm in spec["alarms"]:
        assert alarm["topic"] == {"Fn::Sub": SUB_TEMPLATE % alarm["severity"]}, alarm["name"]
    assert spec["composite"]["topic"] == {"Fn::Sub": SUB_TEMPLATE % "critical"}
    assert spec["topic_mode"] == "shared"
    assert spec["topic_name"] is None


def test_per_endpoint_alarms_notify_the_stacks_own_topic():
    spec = spec_for()
    assert [a["topic"] for a in spec["alarms"] if a["topic"] is not None] == []
    assert spec["composite"]["topic"] is None
    assert spec["topic_name"] == "sagemaker-monitoring_" + ENDPOINT


@pytest.mark.parametrize("asked, kept", [
    (["warning", "critical"], ["critical", "warning"]),
    (["warning"], ["warning"]),
    (["critical"], ["critical"]),
    (["warning", "warning"], ["warning"]),
])
def test_a_subscribers_severities_are_kept_in_catalog_order_in_shared_mode(asked, kept):
    spec = spec_for(topic_mode="shared", fleet_subs=[dict(OPS, severities=asked)])
    assert spec["subscribers"] == [dict(OPS, raw_message_delivery=False, severities=kept)]


def test_a_subscriber_without_severities_has_none_in_shared_mode():
    spec = spec_for(topic_mode="shared", host_subs=[OPS])
    assert spec["subscribers"] == [dict(OPS, raw_message_delivery=False)]


@pytest.mark.parametrize("layer", [FLEET_SUBS, HOST_SUBS])
@pytest.mark.parametrize("severities", [[], ["page"], "critical", None, ["critical", 1], {"critical": True}])
def test_severities_that_are_not_a_list_of_severities_are_refused_naming_the_field(layer, severities):
    subs = [dict(OPS, severities=severities)]
    kwargs = {"fleet_subs": subs} if layer == FLEET_SUBS else {"host_subs": subs}
    problems = problems_of(topic_mode="shared", **kwargs)
    field = "%s[0].severities: " % layer
    assert [p for p in problems if p.startswith(field)], problems
    assert "must be a non-empty list of severities (critical, warning)" in [
        p for p in problems if p.startswith(field)][0]


def test_the_second_subscribers_bad_severities_name_its_index():
    problems = problems_of(topic_mode="shared", fleet_subs=[OPS, dict(OPS, endpoint="b@example.com", severities=[])])
    assert [p.split(":")[0] for p in problems] == [FLEET_SUBS + "[1].severities"]


@pytest.mark.parametrize("asked", [["critical"], ["warning"]])
def test_a_subset_of_severities_is_refused_in_per_endpoint_mode(asked):
    problems = problems_of(fleet_subs=[dict(OPS, severities=asked)])
    assert len(problems) == 1
    assert problems[0].startswith(FLEET_SUBS + "[0].severities: ")
    assert "only topic_mode shared routes by severity" in problems[0]
    assert "topic_mode per_endpoint" in problems[0]


@pytest.mark.parametrize("asked", [["critical", "warning"], ["warning", "critical"]])
def test_every_severity_is_accepted_in_per_endpoint_mode_and_not_kept(asked):
    spec = spec_for(fleet_subs=[dict(OPS, severities=asked)])
    assert spec["subscribers"] == [dict(OPS, raw_message_delivery=False)]
    assert "severities" not in spec["subscribers"][0]


def test_a_subscriber_in_two_layers_with_the_same_severities_is_kept_once():
    spec = spec_for(topic_mode="shared", fleet_subs=[dict(OPS, severities=["critical"])],
                    host_subs=[dict(OPS, severities=["critical"])])
    assert spec["subscribers"] == [dict(OPS, raw_message_delivery=False, severities=["critical"])]


def test_a_subscriber_in_two_layers_with_other_severities_loses_none_of_them_silently():
    try:
        spec = spec_for(topic_mode="shared", fleet_subs=[dict(OPS, severities=["critical"])],
                        host_subs=[dict(OPS, severities=["warning"])])
    except SpecError:
        return  # refusing the disagreement is as good as keeping both
    assert [s.get("severities") for s in spec["subscribers"]] in ([["critical", "warning"]], [None])


def test_a_subscriber_with_severities_in_existing_mode_is_refused_for_what_it_is():
    arns = {s: "arn:aws:sns:%s:%s:team-%s" % (REGION, ACCOUNT, s) for s in SEVERITIES}
    problems = problems_of(topic_mode="existing", topic_arns=arns, fleet_subs=[dict(OPS, severities=["critical"])])
    assert [p for p in problems if p.startswith("endpoint_monitoring_subscribers: with topic_mode existing")]
    assert not [p for p in problems if "its one topic" in p]


def test_a_subscriber_with_every_severity_in_existing_mode_is_refused_as_a_subscriber():
    arns = {s: "arn:aws:sns:%s:%s:team-%s" % (REGION, ACCOUNT, s) for s in SEVERITIES}
    problems = problems_of(topic_mode="existing", topic_arns=arns, fleet_subs=[dict(OPS, severities=SEVERITIES)])
    assert [p.split(":")[0] for p in problems] == ["endpoint_monitoring_subscribers"]


def test_topic_arns_are_refused_in_shared_mode():
    problems = problems_of(topic_mode="shared", topic_arns={s: shared_arn(s) for s in SEVERITIES})
    assert len(problems) == 1
    assert problems[0].startswith("endpoint_monitoring_topic_arns: is only for topic_mode existing")
    assert "topic_mode shared" in problems[0]


@pytest.mark.parametrize("prefix, endpoint", [
    ("sagemaker-monitoring--", "shared-topics"),
    ("sagemaker-", "monitoring--shared-topics"),
])
@pytest.mark.parametrize("topic_mode", ["per_endpoint", "shared"])
def test_a_stack_name_equal_to_the_shared_topics_stack_is_refused(prefix, endpoint, topic_mode):
    problems = problems_of(stack_prefix=prefix, endpoint=endpoint, topic_mode=topic_mode)
    assert len(problems) == 1
    assert problems[0].startswith("stack_prefix: ")
    assert repr(SHARED_TOPICS_STACK) in problems[0]
    assert "shared topics" in problems[0]


def test_a_stack_name_that_only_starts_like_the_shared_topics_stack_is_accepted():
    spec = spec_for(stack_prefix="sagemaker-monitoring--", endpoint="shared-topics2", topic_mode="shared")
    assert spec["stack_name"] == SHARED_TOPICS_STACK + "2"


# ------------------------------------------------------------------------------------------------ plan entry
def test_a_shared_plan_entry_carries_severities_raw_delivery_and_the_stack_settings():
    prepared = described(region=REGION, topic_mode="shared", topic_kms_key="alias/topics", role_arn=ROLE,
                         notification_arns=[NOTIFY_B, NOTIFY_A], termination_protection=True, subscribers=[
                             dict(OPS, severities=["warning"]),
                             {"protocol": "sqs", "endpoint": QUEUE, "raw_message_delivery": True}])
    entry = prepared["plan_entry"]
    assert entry["topic_mode"] == "shared"
    assert entry["shared_stack"] == {"topic_kms_key": "alias/topics", "role_arn": ROLE,
                                     "notification_arns": [NOTIFY_B, NOTIFY_A], "termination_protection": True}
    assert "topic_kms_key" not in entry  # no longer at the top level
    assert stack_settings(entry) == {"topic_kms_key": "alias/topics", "role_arn": ROLE,
                                     "notification_arns": [NOTIFY_A, NOTIFY_B], "termination_protection": True}
    assert entry["topic_arns"] == {}
    assert entry["subscribers"] == [dict(OPS, raw_message_delivery=False, severities=["warning"]),
                                    {"protocol": "sqs", "endpoint": QUEUE, "raw_message_delivery": True}]


def test_a_per_endpoint_plan_entry_carries_addresses_only_and_no_topics_key():
    prepared = described(region=REGION, topic_kms_key="alias/topics",
                         subscribers=[{"protocol": "sqs", "endpoint": QUEUE, "raw_message_delivery": True}])
    entry = prepared["plan_entry"]
    assert entry["subscribers"] == [{"protocol": "sqs", "endpoint": QUEUE}]
    assert "topic_kms_key" not in entry
    assert "shared_stack" not in entry
    assert entry["topic_arns"] == {}


def test_an_existing_mode_plan_entry_carries_the_users_topics():
    arns = {s: "arn:aws:sns:%s:%s:team-%s" % (REGION, ACCOUNT, s) for s in SEVERITIES}
    entry = described(region=REGION, topic_mode="existing", topic_arns=arns)["plan_entry"]
    assert entry["topic_arns"] == arns
    assert "topic_kms_key" not in entry
    assert "shared_stack" not in entry


def test_plan_endpoint_plans_no_subscription_of_the_own_topic_in_shared_mode():
    own = "arn:aws:sns:%s:%s:sagemaker-monitoring_ep" % (REGION, ACCOUNT)
    stack = {"StackName": "sagemaker-monitoring-ep", "StackStatus": "UPDATE_COMPLETE",
             "Tags": [{"Key": "managed-by", "Value": "mlops.sagemaker_monitoring"},
                      {"Key": "sagemaker-endpoint", "Value": "ep"}],
             "Outputs": [{"OutputKey": FINGERPRINT_OUTPUT, "OutputValue": "fp"}]}
    entry = {"endpoint": "ep", "stack_name": "sagemaker-monitoring-ep", "state": "present", "fingerprint": "fp",
             "termination_protection": False, "subscribers": [OPS], "purge_subscriptions": False,
             "topic_mode": "shared"}
    result = plan_endpoint(entry, stack, {})
    assert result["status"] == "unchanged", result["changes"]
    assert not result["subscriptions_change"]
    assert result["confirmations_asked"] == 0
    # the same entry in per_endpoint mode, its topic existing, would subscribe OPS
    stack["Outputs"].append({"OutputKey": "TopicArn", "OutputValue": own})
    per_endpoint = plan_endpoint(dict(entry, topic_mode="per_endpoint"), stack, {})
    assert per_endpoint["subscriptions_change"] and per_endpoint["confirmations_asked"] == 1
    shared = plan_endpoint(entry, stack, {})
    assert not [line for line in shared["changes"] if "subscription" in line and line.startswith("+")]
    assert shared["confirmations_asked"] == 0


# ------------------------------------------------------------------------------------------------ region_topics
def entry(n, subscribers=(), kms="", **settings):
    """A plan entry of topic_mode shared; settings: the other settings of the shared stack (role_arn, ...)."""
    return {"host": "host-%d" % n, "endpoint": "ep-%d" % n, "subscribers": [dict(s) for s in subscribers],
            "shared_stack": dict(settings, topic_kms_key=kms)}


def addresses(topics):
    return dict((severity, [s["endpoint"] for s in subs]) for severity, subs in topics["subscribers"].items())


def test_a_shared_plan_entry_without_stack_settings_asks_for_none():
    entry_ = described(region=REGION, topic_mode="shared")["plan_entry"]
    assert entry_["shared_stack"] == {"topic_kms_key": "", "role_arn": "", "notification_arns": [],
                                      "termination_protection": False}
    assert stack_settings(entry_) == NO_SETTINGS


@pytest.mark.parametrize("given", [{}, {"shared_stack": None}, {"shared_stack": {}}, {"shared_stack": {
    "topic_kms_key": None, "role_arn": None, "notification_arns": None, "termination_protection": None}}])
def test_stack_settings_of_an_entry_without_them_are_empty(given):
    assert stack_settings(given) == NO_SETTINGS


def test_stack_settings_sort_the_notification_arns_and_leave_the_entry_alone():
    given = {"shared_stack": {"topic_kms_key": "alias/k", "role_arn": ROLE, "notification_arns": [NOTIFY_B, NOTIFY_A],
                              "termination_protection": 1}}
    assert stack_settings(given) == {"topic_kms_key": "alias/k", "role_arn": ROLE,
                                     "notification_arns": [NOTIFY_A, NOTIFY_B], "termination_protection": True}
    assert given["shared_stack"]["notification_arns"] == [NOTIFY_B, NOTIFY_A]


def test_twenty_endpoints_listing_one_subscriber_subscribe_it_once_per_severity():
    asked = itertools.cycle([["critical"], ["warning"], None, ["critical", "warning"]])
    entries = []
    for n in range(20):
        severities = next(asked)
        sub = dict(OPS, raw_message_delivery=False, **({"severities": severities} if severities else {}))
        entries.append(entry(n, [sub]))
    topics, refused = region_topics(entries)
    assert refused == {}
    assert topics["subscribers"] == {
        "critical": [dict(OPS, raw_message_delivery=False)], "warning": [dict(OPS, raw_message_delivery=False)]}
    assert topics["settings"] == NO_SETTINGS
    assert sorted(topics) == ["settings", "subscribers"]


def test_a_subscriber_is_subscribed_only_to_the_severities_any_entry_asks_for():
    pager = {"protocol": "email", "endpoint": "pager@example.com", "severities": ["critical"]}
    entries = [entry(n, [pager, dict(OPS, severities=["warning"])]) for n in range(5)]
    topics, refused = region_topics(entries)
    assert refused == {}
    assert addresses(topics) == {"critical": ["pager@example.com"], "warning": ["ops@example.com"]}
    topics, _ = region_topics(entries + [entry(5, [dict(pager, severities=["warning"])])])
    assert addresses(topics) == {"critical": ["pager@example.com"],
                                 "warning": ["ops@example.com", "pager@example.com"]}


def test_email_addresses_differing_only_in_the_case_of_their_domain_are_one_subscriber():
    entries = [entry(0, [{"protocol": "email", "endpoint": "Ops@Example.COM"}]),
               entry(1, [{"protocol": "email", "endpoint": "Ops@example.com"}]),
               entry(2, [{"protocol": "email", "endpoint": "Ops@EXAMPLE.com"}])]
    topics, refused = region_topics(entries)
    assert refused == {}
    assert addresses(topics) == {"critical": ["Ops@Example.COM"], "warning": ["Ops@Example.COM"]}


def test_email_addresses_differing_in_the_case_of_their_local_part_are_two_subscribers():
    topics, _ = region_topics([entry(0, [{"protocol": "email", "endpoint": "ops@example.com"}]),
                               entry(1, [{"protocol": "email", "endpoint": "OPS@example.com"}])])
    assert addresses(topics)["critical"] == ["ops@example.com", "OPS@example.com"]


def test_an_entry_disagreeing_on_raw_delivery_is_refused_and_adds_nothing():
    raw = {"protocol": "sqs", "endpoint": QUEUE, "raw_message_delivery": True}
    newcomer = {"protocol": "email", "endpoint": "new@example.com"}
    entries = [entry(0, [raw]), entry(1, [dict(raw, raw_message_delivery=False), newcomer]),
               entry(2, [raw, {"protocol": "email", "endpoint": "late@example.com"}])]
    topics, refused = region_topics(entries)
    assert list(refused) == ["host-1"]
    why = refused["host-1"]
    assert why.startswith("endpoint_monitoring_*subscribers: sqs %s with raw_message_delivery false" % QUEUE)
    assert "endpoint 'ep-0'" in why
    assert "lists it with true" in why
    # nothing of the refused entry; the later entry that agrees is not blocked
    assert addresses(topics) == {"critical": [QUEUE, "late@example.com"], "warning": [QUEUE, "late@example.com"]}
    assert all(s["raw_message_delivery"] for s in topics["subscribers"]["critical"] if s["protocol"] == "sqs")


def test_a_refusal_names_the_endpoint_that_listed_the_subscriber_first():
    raw = {"protocol": "sqs", "endpoint": QUEUE, "raw_message_delivery": True}
    entries = [entry(0, [OPS]), entry(1, [raw]), entry(2, [raw]), entry(3, [dict(raw, raw_message_delivery=False)])]
    _, refused = region_topics(entries)
    assert list(refused) == ["host-3"]
    assert "endpoint 'ep-1'" in refused["host-3"]
    assert "'ep-2'" not in refused["host-3"]


def test_an_entry_disagreeing_on_the_topics_key_is_refused_and_adds_nothing():
    entries = [entry(0, [OPS], kms="alias/a"), entry(1, [{"protocol": "email", "endpoint": "b@example.com"}],
                                                     kms="alias/b"),
               entry(2, [{"protocol": "email", "endpoint": "c@example.com"}], kms="alias/a")]
    topics, refused = region_topics(entries)
    assert list(refused) == ["host-1"]
    assert refused["host-1"].startswith("endpoint_monitoring_topic_kms_key: 'alias/b'")
    assert "endpoint 'ep-0'" in refused["host-1"]
    assert "'alias/a'" in refused["host-1"]
    assert topics["settings"] == dict(NO_SETTINGS, topic_kms_key="alias/a")
    assert addresses(topics)["critical"] == ["ops@example.com", "c@example.com"]


@pytest.mark.parametrize("name, first, other", [
    ("topic_kms_key", "alias/a", "alias/b"),
    ("topic_kms_key", "", "alias/b"),
    ("role_arn", ROLE, ""),
    ("role_arn", ROLE, "arn:aws:iam::123456789012:role/other"),
    ("notification_arns", [NOTIFY_A], [NOTIFY_A, NOTIFY_B]),
    ("notification_arns", [], [NOTIFY_B]),
    ("termination_protection", True, False),
    ("termination_protection", False, True),
])
def test_an_entry_disagreeing_on_any_stack_setting_is_refused_naming_it(name, first, other):
    def with_setting(n, value, subscribers):
        given = entry(n, subscribers)
        given["shared_stack"][name] = value
        return given
    entries = [with_setting(0, first, [OPS]), with_setting(1, other, [{"protocol": "email", "endpoint": "b@x.com"}]),
               with_setting(2, first, [{"protocol": "email", "endpoint": "c@x.com"}])]
    topics, refused = region_topics(entries)
    assert list(refused) == ["host-1"]
    why = refused["host-1"]

    def written(value):  # as the inventory writes it
        return str(value).lower() if isinstance(value, bool) else repr(value) if value != "" else "none"
    assert why.startswith("endpoint_monitoring_%s: %s, but endpoint 'ep-0' of the same region gives %s"
                          % (name, written(other), written(first))), why
    assert "topic_mode shared" in why and "must agree" in why
    assert [n for n in ("topic_kms_key", "role_arn", "notification_arns", "termination_protection")
            if "endpoint_monitoring_%s" % n in why] == [name]
    assert topics["settings"][name] == first
    assert addresses(topics)["critical"] == ["ops@example.com", "c@x.com"]


def test_the_order_of_the_notification_arns_is_no_disagreement():
    topics, refused = region_topics([entry(0, notification_arns=[NOTIFY_B, NOTIFY_A]),
                                     entry(1, notification_arns=[NOTIFY_A, NOTIFY_B])])
    assert refused == {}
    assert topics["settings"]["notification_arns"] == [NOTIFY_A, NOTIFY_B]


def test_the_settings_of_the_region_are_the_first_entrys_whole():
    topics, refused = region_topics([entry(0, kms="alias/k", role_arn=ROLE, notification_arns=[NOTIFY_A],
                                           termination_protection=True),
                                     entry(1, kms="alias/k", role_arn=ROLE, notification_arns=[NOTIFY_A],
                                           termination_protection=True)])
    assert refused == {}
    assert topics["settings"] == {"topic_kms_key": "alias/k", "role_arn": ROLE, "notification_arns": [NOTIFY_A],
                                  "termination_protection": True}


def test_no_settings_and_empty_settings_agree_and_a_setting_after_none_is_refused():
    first = entry(0, [OPS])
    del first["shared_stack"]
    later = [entry(1, kms=""), entry(2, kms=None, role_arn=None, notification_arns=None, termination_protection=None),
             entry(3, notification_arns=[]), entry(4, kms="alias/late"), entry(5, termination_protection=True)]
    topics, refused = region_topics([first] + later)
    assert list(refused) == ["host-4", "host-5"]
    assert "endpoint_monitoring_topic_kms_key" in refused["host-4"]
    assert refused["host-5"].startswith("endpoint_monitoring_termination_protection: true, but endpoint 'ep-0' "
                                        "of the same region gives false")
    assert topics["settings"] == NO_SETTINGS


def test_an_entry_disagreeing_on_everything_says_everything():
    raw = {"protocol": "https", "endpoint": HOOK, "raw_message_delivery": True}
    _, refused = region_topics([
        entry(0, [raw], kms="alias/a"),
        entry(1, [dict(raw, raw_message_delivery=False)], kms="alias/b", role_arn=ROLE, notification_arns=[NOTIFY_A],
              termination_protection=True)])
    parts = refused["host-1"].split("; ")
    assert [p.split(":")[0] for p in parts if p.startswith("endpoint_monitoring_")] == [
        "endpoint_monitoring_topic_kms_key", "endpoint_monitoring_role_arn", "endpoint_monitoring_notification_arns",
        "endpoint_monitoring_termination_protection", "endpoint_monitoring_*subscribers"]
    assert "s3cr3t" not in refused["host-1"] and "T0KEN" not in refused["host-1"]  # a webhook's token is never shown
    assert "https https://hooks.example.com/..." in refused["host-1"]


def test_a_refused_entry_sets_no_precedent():
    raw = {"protocol": "sqs", "endpoint": QUEUE, "raw_message_delivery": True}
    entries = [entry(0, kms="alias/a"), entry(1, [dict(raw, raw_message_delivery=False)], kms="alias/b"),
               entry(2, [raw], kms="alias/a")]
    topics, refused = region_topics(entries)
    assert list(refused) == ["host-1"]
    assert addresses(topics)["critical"] == [QUEUE]


def test_a_region_without_entries_has_no_subscriber_and_no_settings():
    assert region_topics([]) == ({"settings": NO_SETTINGS, "subscribers": {"critical": [], "warning": []}}, {})


# ------------------------------------------------------------------------------------------------ fingerprint
def topics_with(subscribers, kms="", **settings):
    return region_topics([entry(0, subscribers, kms=kms, **settings)])[0]


RAW_QUEUE = {"protocol": "sqs", "endpoint": QUEUE, "raw_message_delivery": True}
SUBSCRIBERS = [OPS, RAW_QUEUE, {"protocol": "https", "endpoint": HOOK, "severities": ["critical"]}]


def test_the_fingerprint_changes_with_the_template_and_each_setting_but_termination_protection():
    base = topics_fingerprint(topics_with(SUBSCRIBERS), DIGEST)
    assert len(base) == 16
    assert base == topics_fingerprint(topics_with(copy.deepcopy(SUBSCRIBERS)), DIGEST)
    changed = [topics_fingerprint(topics_with(SUBSCRIBERS), "template-digest-2"),
               topics_fingerprint(topics_with(SUBSCRIBERS, kms="alias/topics"), DIGEST),
               topics_fingerprint(topics_with(SUBSCRIBERS, role_arn=ROLE), DIGEST),
               topics_fingerprint(topics_with(SUBSCRIBERS, notification_arns=[NOTIFY_A]), DIGEST),
               topics_fingerprint(topics_with(SUBSCRIBERS, notification_arns=[NOTIFY_A, NOTIFY_B]), DIGEST)]
    assert base not in changed
    assert len(set(changed)) == len(changed)
    # termination protection is no part of the template: a change of it alone is no stack update
    assert topics_fingerprint(topics_with(SUBSCRIBERS, termination_protection=True), DIGEST) == base


def test_the_fingerprint_covers_the_stacks_topics():
    topics = topics_with(SUBSCRIBERS)
    base = topics_fingerprint(topics, DIGEST)
    renamed = [dict(t, name=t["name"] + "-2") for t in stack_topics()]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.shared_topics."
                      "stack_topics", lambda: renamed)
        assert topics_fingerprint(topics, DIGEST) != base
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.shared_topics."
                      "SHARED_TOPICS_STACK", SHARED_TOPICS_STACK + "-2")
        assert topics_fingerprint(topics, DIGEST) != base
    assert topics_fingerprint(topics, DIGEST) == base


def test_the_fingerprint_does_not_change_with_the_order_of_the_notification_arns():
    base = topics_fingerprint(topics_with([], notification_arns=[NOTIFY_A, NOTIFY_B]), DIGEST)
    assert topics_fingerprint(topics_with([], notification_arns=[NOTIFY_B, NOTIFY_A]), DIGEST) == base


def test_the_fingerprint_leaves_out_subscribers_and_their_raw_delivery():
    """Batches of the fleet (--limit, serial) see different subscribers: the fingerprint of the one stack must be
    the same in each, or every batch would update the stack. Raw delivery is read instead (plan_region_topics)."""
    base = topics_fingerprint(topics_with(SUBSCRIBERS), DIGEST)
    assert topics_fingerprint(topics_with([]), DIGEST) == base
    assert topics_fingerprint(topics_with(SUBSCRIBERS + [{"protocol": "email", "endpoint": "new@example.com"}]),
                              DIGEST) == base
    not_raw = [OPS, dict(RAW_QUEUE, raw_message_delivery=False), SUBSCRIBERS[2]]
    assert topics_fingerprint(topics_with(not_raw), DIGEST) == base
    # the raw subscriber subscribed for one severity fewer
    assert topics_fingerprint(topics_with([OPS, dict(RAW_QUEUE, severities=["warning"]), SUBSCRIBERS[2]]),
                              DIGEST) == base
    for order in itertools.permutations(SUBSCRIBERS):
        assert topics_fingerprint(topics_with(list(order)), DIGEST) == base
    # yet the settings still count with these subscribers
    assert topics_fingerprint(topics_with(not_raw, kms="alias/topics"), DIGEST) != base


# ------------------------------------------------------------------------------------------------ plan_region_topics
OURS = [{"Key": "managed-by", "Value": "mlops.sagemaker_monitoring"}]
FP = "fedcba9876543210"


def shared_stack(status="UPDATE_COMPLETE", fp=FP, tags=OURS, protected=None):
    """A DescribeStacks entry of the shared topics stack; protected: its EnableTerminationProtection (None: left
    out, as some servers do)."""
    outputs = [{"OutputKey": topic_output(s), "OutputValue": shared_arn(s)} for s in SEVERITIES]
    outputs.append({"OutputKey": FINGERPRINT_OUTPUT, "OutputValue": fp})
    stack = {"StackName": SHARED_TOPICS_STACK, "StackStatus": status, "Tags": tags, "Outputs": outputs}
    if protected is not None:
        stack["EnableTerminationProtection"] = protected
    return stack


def listed(severity, endpoint, protocol="email", arn=None, topic=None):
    topic = topic or shared_arn(severity)
    return {"SubscriptionArn": arn or "%s:%08d" % (topic, abs(hash((severity, endpoint))) % 10 ** 8),
            "Protocol": protocol, "Endpoint": endpoint, "TopicArn": topic}


def region_plan(stack, subscribers, listing=(), fp=FP, read_attributes=None, **settings):
    topics = topics_with(subscribers, **settings)
    if read_attributes is None:
        return plan_region_topics(stack, topics, fp, group_subscriptions(list(listing)))
    return plan_region_topics(stack, topics, fp, group_subscriptions(list(listing)), read_attributes)


class Attributes:
    """GetSubscriptionAttributes of listed subscriptions: raw delivery on for the ARNs in `raw`; remembers the ARNs
    it is asked about."""

    def __init__(self, raw=()):
        self.raw = set(raw)
        self.asked = []

    def __call__(self, arn):
        self.asked.append(arn)
        return {"SubscriptionArn": arn, "RawMessageDelivery": "true" if arn in self.raw else "false"}


UPDATE_LINE = ("~ stack %s: its template or settings (endpoint_monitoring_topic_kms_key, _role_arn, "
               "_notification_arns) changed since it was last applied" % SHARED_TOPICS_STACK)


ALL_HELD = [listed("critical", OPS["endpoint"]), listed("warning", OPS["endpoint"]),
            listed("critical", QUEUE, "sqs"), listed("warning", QUEUE, "sqs")]


def test_topic_output_and_stack_topics_name_each_severitys_topic():
    assert topic_output("critical") == "CriticalTopicArn"
    assert topic_output("warning") == "WarningTopicArn"
    assert stack_topics() == [
        {"severity": "critical", "name": "sagemaker-monitoring_shared_critical", "logical_id": "CriticalTopic",
         "output": "CriticalTopicArn"},
        {"severity": "warning", "name": "sagemaker-monitoring_shared_warning", "logical_id": "WarningTopic",
         "output": "WarningTopicArn"}]
    assert [t["severity"] for t in stack_topics()] == list(catalog.SEVERITIES)


def test_no_stack_is_created_and_every_wanted_severity_subscribed():
    result = region_plan(None, [OPS, RAW_QUEUE])
    assert result["status"] == "changed"
    assert result["action"] == "create"
    assert result["error"] == ""
    assert result["outputs"] == {}
    first = result["changes"][0]
    assert first.startswith("+ stack %s" % SHARED_TOPICS_STACK)
    assert "sagemaker-monitoring_shared_critical" in first and "sagemaker-monitoring_shared_warning" in first
    assert sorted(result["changes"][1:]) == sorted(
        "+ subscription %s to sagemaker-monitoring_shared_%s" % (who, s)
        for who in ("email ops@example.com", "sqs " + QUEUE) for s in SEVERITIES)
    assert result["subscribe"] == ["critical", "warning"]
    assert result["confirmations_asked"] == 2  # the email address, once per topic; SNS confirms the queue itself


def test_a_new_stack_subscribes_only_the_severities_someone_asks_for():
    result = region_plan(None, [dict(OPS, severities=["warning"])])
    assert result["action"] == "create"
    assert result["subscribe"] == ["warning"]
    assert result["confirmations_asked"] == 1
    assert [c for c in result["changes"] if "subscription" in c] == [
        "+ subscription email ops@example.com to sagemaker-monitoring_shared_warning"]


def test_a_new_stack_without_subscribers_subscribes_nothing():
    result = region_plan(None, [])
    assert result["action"] == "create" and result["status"] == "changed"
    assert result["subscribe"] == [] and len(result["changes"]) == 1


@pytest.mark.parametrize("status", ["CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE",
                                    "IMPORT_COMPLETE"])
def test_a_settled_stack_with_the_fingerprint_and_every_subscription_is_unchanged(status):
    result = region_plan(shared_stack(status), [OPS, RAW_QUEUE], ALL_HELD)
    assert result["status"] == "unchanged"
    assert result["action"] == "none"
    assert result["changes"] == [] and result["subscribe"] == [] and result["pending"] == []
    assert result["confirmations_asked"] == 0
    assert result["outputs"][topic_output("critical")] == shared_arn("critical")


def test_an_address_listed_with_another_domain_case_is_held_already():
    held = [listed(s, "ops@EXAMPLE.com") for s in SEVERITIES]
    result = region_plan(shared_stack(), [OPS], held)
    assert result["status"] == "unchanged", result["changes"]


def test_another_fingerprint_updates_the_stack_and_subscribes_nothing_more():
    result = region_plan(shared_stack(fp="0000000000000000"), [dict(RAW_QUEUE, severities=["critical"])], ALL_HELD)
    assert result["status"] == "changed"
    assert result["action"] == "update"
    assert result["changes"] == [UPDATE_LINE]
    # nothing new to subscribe and no raw delivery to change: an update alone keeps no subscriptions any more
    assert result["subscribe"] == []
    assert result["confirmations_asked"] == 0


@pytest.mark.parametrize("protected", [None, False])
def test_termination_protection_asked_for_alone_is_the_protect_action(protected):
    result = region_plan(shared_stack(protected=protected), [OPS, RAW_QUEUE], ALL_HELD, termination_protection=True)
    assert result["status"] == "changed"
    assert result["action"] == "protect"
    assert result["changes"] == ["~ stack %s: termination protection on" % SHARED_TOPICS_STACK]
    assert result["subscribe"] == [] and result["confirmations_asked"] == 0


def test_termination_protection_turned_off_is_the_protect_action():
    result = region_plan(shared_stack(protected=True), [OPS, RAW_QUEUE], ALL_HELD)
    assert (result["status"], result["action"]) == ("changed", "protect")
    assert result["changes"] == ["~ stack %s: termination protection off" % SHARED_TOPICS_STACK]


@pytest.mark.parametrize("protected, wanted", [(True, True), (False, False), (None, False)])
def test_termination_protection_as_the_stack_has_it_is_no_change(protected, wanted):
    result = region_plan(shared_stack(protected=protected), [OPS, RAW_QUEUE], ALL_HELD,
                         termination_protection=wanted)
    assert (result["status"], result["action"], result["changes"]) == ("unchanged", "none", [])


def test_termination_protection_with_an_update_is_an_update_saying_both():
    result = region_plan(shared_stack(fp="another", protected=False), [OPS, RAW_QUEUE], ALL_HELD,
                         termination_protection=True)
    assert result["action"] == "update"
    assert result["changes"] == [UPDATE_LINE, "~ stack %s: termination protection on" % SHARED_TOPICS_STACK]


def test_termination_protection_of_a_new_stack_is_no_extra_line():
    result = region_plan(None, [], termination_protection=True)
    assert result["action"] == "create"
    assert len(result["changes"]) == 1 and result["changes"][0].startswith("+ stack")


def test_the_fingerprint_of_the_settings_is_what_the_plan_compares():
    topics = topics_with([OPS], role_arn=ROLE)
    stack = shared_stack(fp=topics_fingerprint(topics, DIGEST))
    held = group_subscriptions([listed(s, OPS["endpoint"]) for s in SEVERITIES])
    assert plan_region_topics(stack, topics, topics_fingerprint(topics, DIGEST), held)["action"] == "none"
    other = topics_with([OPS])
    assert plan_region_topics(stack, other, topics_fingerprint(other, DIGEST), held)["action"] == "update"
    protected = topics_with([OPS], role_arn=ROLE, termination_protection=True)
    assert plan_region_topics(stack, protected, topics_fingerprint(protected, DIGEST), held)["action"] == "protect"


# raw delivery of the kept subscriptions, read with GetSubscriptionAttributes
def held_arn(severity, endpoint, protocol="email"):
    return listed(severity, endpoint, protocol)["SubscriptionArn"]


def test_raw_delivery_of_a_kept_queue_that_differs_is_a_change_of_its_severity():
    attributes = Attributes(raw=[held_arn("warning", QUEUE, "sqs")])  # on for warning only
    result = region_plan(shared_stack(), [OPS, RAW_QUEUE], ALL_HELD, read_attributes=attributes)
    assert result["status"] == "changed"
    assert result["action"] == "none"
    assert result["changes"] == [
        "~ subscription sqs %s: RawMessageDelivery -> true on sagemaker-monitoring_shared_critical" % QUEUE]
    assert result["subscribe"] == ["critical"]
    assert result["confirmations_asked"] == 0 and result["pending"] == []
    # only the queue's subscriptions are read: an email subscription has no raw delivery
    assert sorted(attributes.asked) == sorted([held_arn(s, QUEUE, "sqs") for s in SEVERITIES])


def test_raw_delivery_as_wanted_is_no_change():
    attributes = Attributes(raw=[held_arn(s, QUEUE, "sqs") for s in SEVERITIES])
    result = region_plan(shared_stack(), [OPS, RAW_QUEUE], ALL_HELD, read_attributes=attributes)
    assert (result["status"], result["changes"], result["subscribe"]) == ("unchanged", [], [])
    assert len(attributes.asked) == 2


def test_raw_delivery_turned_off_and_a_webhooks_line_is_redacted():
    hook = {"protocol": "https", "endpoint": HOOK, "severities": ["warning"]}
    held = ALL_HELD + [listed("warning", HOOK, "https")]
    attributes = Attributes(raw=[held_arn("warning", HOOK, "https")] + [held_arn(s, QUEUE, "sqs") for s in SEVERITIES])
    result = region_plan(shared_stack(), [OPS, RAW_QUEUE, hook], held, read_attributes=attributes)
    assert result["changes"] == [
        "~ subscription https https://hooks.example.com/...: RawMessageDelivery -> false on "
        "sagemaker-monitoring_shared_warning"]
    assert result["subscribe"] == ["warning"]
    assert held_arn("warning", HOOK, "https") in attributes.asked


def test_raw_delivery_of_a_pending_subscription_is_not_read():
    hook = {"protocol": "https", "endpoint": HOOK, "raw_message_delivery": True, "severities": ["critical"]}
    held = [listed("critical", HOOK, "https", arn="PendingConfirmation")]
    attributes = Attributes()
    result = region_plan(shared_stack(), [hook], held, read_attributes=attributes)
    assert attributes.asked == []
    assert (result["status"], result["subscribe"]) == ("unchanged", [])
    assert result["pending"] == [("https", HOOK)]


def test_raw_delivery_is_not_read_without_read_attributes():
    result = region_plan(shared_stack(), [OPS, RAW_QUEUE], ALL_HELD)  # the listed queue is read as not raw
    assert (result["status"], result["changes"], result["subscribe"]) == ("unchanged", [], [])


def test_raw_delivery_is_read_when_the_stack_is_updated_too():
    result = region_plan(shared_stack(fp="another"), [OPS, RAW_QUEUE], ALL_HELD, read_attributes=Attributes())
    assert result["action"] == "update"
    assert result["changes"][0] == UPDATE_LINE
    assert sorted(result["changes"][1:]) == sorted(
        "~ subscription sqs %s: RawMessageDelivery -> true on sagemaker-monitoring_shared_%s" % (QUEUE, s)
        for s in SEVERITIES)
    assert result["subscribe"] == ["critical", "warning"]


def test_a_new_subscription_and_a_raw_delivery_change_are_both_said():
    held = [listed("critical", QUEUE, "sqs")]
    result = region_plan(shared_stack(), [RAW_QUEUE], held, read_attributes=Attributes())
    assert sorted(result["changes"]) == sorted([
        "~ subscription sqs %s: RawMessageDelivery -> true on sagemaker-monitoring_shared_critical" % QUEUE,
        "+ subscription sqs %s to sagemaker-monitoring_shared_warning" % QUEUE])
    assert result["subscribe"] == ["critical", "warning"]
    assert result["confirmations_asked"] == 0  # SNS confirms the queue itself


def test_a_stack_not_settled_is_updated():
    result = region_plan(shared_stack("IMPORT_ROLLBACK_COMPLETE"), [OPS], ALL_HELD)
    assert result["action"] == "update"


def test_a_missing_subscription_of_one_severity_is_a_change_of_that_severity_only():
    held = [listed("critical", OPS["endpoint"])]
    result = region_plan(shared_stack(), [OPS], held)
    assert result["status"] == "changed"
    assert result["action"] == "none"
    assert result["changes"] == ["+ subscription email ops@example.com to sagemaker-monitoring_shared_warning"]
    assert result["subscribe"] == ["warning"]
    assert result["confirmations_asked"] == 1


def test_a_subscription_of_another_topic_does_not_count():
    other = "arn:aws:sns:%s:%s:sagemaker-monitoring_ep" % (REGION, ACCOUNT)
    held = [listed("critical", OPS["endpoint"], topic=other), listed("warning", OPS["endpoint"])]
    result = region_plan(shared_stack(), [OPS], held)
    assert result["subscribe"] == ["critical"]


@pytest.mark.parametrize("tags", [[], [{"Key": "managed-by", "Value": "someone-else"}],
                                  [{"Key": "team", "Value": "mlops.sagemaker_monitoring"}]])
def test_a_stack_not_tagged_as_ours_is_refused(tags):
    result = region_plan(shared_stack(tags=tags), [OPS])
    assert result["status"] == "failed"
    assert result["action"] == "none"
    assert "not tagged managed-by=mlops.sagemaker_monitoring" in result["error"]
    assert SHARED_TOPICS_STACK in result["error"]
    # no endpoint's stack prefix names this stack: the advice is to delete or rename it
    assert "to use topic_mode shared in this region" in result["error"]
    assert "endpoint_monitoring_stack_prefix" not in result["error"]
    assert result["subscribe"] == [] and result["changes"] == []


def test_a_stack_without_tags_is_refused():
    stack = shared_stack()
    del stack["Tags"]
    assert region_plan(stack, [OPS])["status"] == "failed"


@pytest.mark.parametrize("status", ["ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED"])
def test_a_stack_whose_creation_failed_is_created_again_with_every_subscriber(status):
    result = region_plan(shared_stack(status), [OPS], ALL_HELD)
    assert result["status"] == "changed"
    assert result["action"] == "recreate"
    assert result["outputs"] == {}
    assert result["changes"][0].startswith("! stack %s is %s" % (SHARED_TOPICS_STACK, status))
    assert result["subscribe"] == ["critical", "warning"]
    assert result["confirmations_asked"] == 2


@pytest.mark.parametrize("status", ["UPDATE_IN_PROGRESS", "CREATE_IN_PROGRESS", "DELETE_IN_PROGRESS",
                                    "UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"])
def test_a_busy_stack_is_refused(status):
    result = region_plan(shared_stack(status), [OPS], ALL_HELD)
    assert result["status"] == "failed"
    assert "busy (%s)" % status in result["error"]
    assert result["subscribe"] == [] and result["changes"] == []


@pytest.mark.parametrize("status", ["UPDATE_ROLLBACK_FAILED", "DELETE_FAILED"])
def test_a_stuck_stack_is_refused_with_the_repair_command(status):
    result = region_plan(shared_stack(status), [OPS], ALL_HELD)
    assert result["status"] == "failed"
    assert "--stack-name %s" % SHARED_TOPICS_STACK in result["error"]


def test_subscriptions_waiting_for_confirmation_are_pending_and_new_emails_are_counted():
    held = [listed("critical", OPS["endpoint"], arn="PendingConfirmation"), listed("critical", QUEUE, "sqs"),
            listed("warning", QUEUE, "sqs")]
    subscribers = [OPS, RAW_QUEUE, {"protocol": "email", "endpoint": "new@example.com", "severities": ["warning"]},
                   {"protocol": "https", "endpoint": HOOK, "severities": ["critical"]}]
    result = region_plan(shared_stack(), subscribers, held)
    assert result["status"] == "changed"
    # waiting: ops on critical already; after this run also what it asks (ops on warning, new@, the webhook)
    assert sorted(set(result["pending"])) == sorted([("email", "ops@example.com"), ("email", "new@example.com"),
                                                     ("https", HOOK)])
    assert ("sqs", QUEUE) not in result["pending"]
    # ops on warning, new@ on warning, the webhook on critical: three subscriptions that wait for confirmation
    assert result["confirmations_asked"] == 3
    assert result["subscribe"] == ["critical", "warning"]
    assert "+ subscription https https://hooks.example.com/... to sagemaker-monitoring_shared_critical" in result[
        "changes"]
    assert not [c for c in result["changes"] if "s3cr3t" in c or "T0KEN" in c]


def test_a_pending_subscription_alone_is_no_change():
    held = [listed(s, OPS["endpoint"], arn="PendingConfirmation") for s in SEVERITIES]
    result = region_plan(shared_stack(), [OPS], held)
    assert result["status"] == "unchanged"
    assert result["pending"] == [("email", "ops@example.com")] * 2
    assert result["confirmations_asked"] == 0


def test_subscriptions_no_entry_lists_are_never_removed():
    held = ALL_HELD + [listed("critical", "person@example.com"), listed("warning", "other@example.com"),
                       listed("warning", "left@example.com", arn="PendingConfirmation")]
    result = region_plan(shared_stack(), [OPS, RAW_QUEUE], held)
    assert result["status"] == "unchanged"
    assert result["changes"] == []
    # not even when the stack is written again
    result = region_plan(shared_stack(fp="another"), [OPS], held)
    assert not [c for c in result["changes"] if c.startswith("-")]
    assert result["pending"] == []


def test_pending_of_names_the_endpoints_own_subscribers_only():
    listing = {"subscribers": [dict(OPS, endpoint="ops@EXAMPLE.com"), {"protocol": "https", "endpoint": HOOK},
                               {"protocol": "email", "endpoint": "done@example.com"}]}
    keys = [("email", "ops@example.com"), ("https", HOOK), ("email", "someone@example.com")]
    assert pending_of(listing, keys) == [{"protocol": "email", "endpoint": "ops@EXAMPLE.com"},
                                         {"protocol": "https", "endpoint": "https://hooks.example.com/..."}]
    assert pending_of({"subscribers": []}, keys) == []
    assert pending_of(listing, []) == []


# ------------------------------------------------------------------------------------------------ switch_gap
RETIRING = {"topic_retirement": ["! topic sagemaker-monitoring_ep-0 is retired: its alarms notify the shared topics"]}


def test_a_switch_names_the_endpoints_subscribers_that_wait_redacting_webhooks():
    listing = entry(0, [OPS, {"protocol": "https", "endpoint": HOOK}, {"protocol": "sqs", "endpoint": QUEUE}])
    line = switch_gap(listing, RETIRING, [("email", "ops@example.com"), ("https", HOOK), ("email", "x@example.com")])
    assert line.startswith("! email ops@example.com, https https://hooks.example.com/... must confirm the "
                           "subscription to the shared topics")
    assert "s3cr3t" not in line and "T0KEN" not in line
    assert QUEUE not in line and "x@example.com" not in line


def test_a_switch_where_none_of_the_endpoints_subscribers_waits_has_no_gap():
    listing = entry(0, [OPS])
    assert switch_gap(listing, RETIRING, [("email", "someone@example.com")]) is None
    assert switch_gap(listing, RETIRING, []) is None
    assert switch_gap(entry(0), RETIRING, [("email", "ops@example.com")]) is None


@pytest.mark.parametrize("result", [{}, {"topic_retirement": []}, {"topic_retirement": None}, {"status": "changed"}])
def test_without_a_topic_retirement_there_is_no_gap(result):
    assert switch_gap(entry(0, [OPS]), result, [("email", "ops@example.com")]) is None
    assert switch_gap(entry(0, [OPS]), dict(result, **RETIRING), [("email", "ops@example.com")]) is not None


def test_a_switch_gap_matches_addresses_as_sns_does():
    line = switch_gap(entry(0, [dict(OPS, endpoint="ops@EXAMPLE.com")]), RETIRING, [("email", "ops@example.com")])
    assert line.startswith("! email ops@EXAMPLE.com must confirm")


# ------------------------------------------------------------------------------------------------ topics_drift
def good_policy(arn):
    return json.dumps(drift.wanted_topic_policy(arn))


def all_outputs():
    return dict(stack_outputs(), MonitoringFingerprint=FP)


def test_topics_with_their_policies_as_wanted_have_no_drift():
    policies = dict((shared_arn(s), good_policy(shared_arn(s))) for s in SEVERITIES)
    assert topics_drift(all_outputs(), policies) == []


def test_a_topic_deleted_outside_ansible_is_said():
    policies = {shared_arn("critical"): None, shared_arn("warning"): good_policy(shared_arn("warning"))}
    assert topics_drift(all_outputs(), policies) == [
        "+ topic sagemaker-monitoring_shared_critical (deleted outside Ansible): the critical alarms of the region's "
        "endpoints in topic_mode shared notify nothing"]


def test_both_topics_deleted_are_said_in_severity_order():
    lines = topics_drift(all_outputs(), {shared_arn("warning"): None, shared_arn("critical"): None})
    assert [line.split(" (")[0] for line in lines] == ["+ topic sagemaker-monitoring_shared_critical",
                                                       "+ topic sagemaker-monitoring_shared_warning"]


@pytest.mark.parametrize("policy", ["", "not json", json.dumps({"Version": "2012-10-17", "Statement": []}),
                                    json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*",
                                                               "Action": "sns:Publish", "Resource": "*"}]})])
def test_a_topic_policy_changed_outside_ansible_is_said_as_the_drift_check_says_it(policy):
    arn = shared_arn("warning")
    policies = {shared_arn("critical"): good_policy(shared_arn("critical")), arn: policy}
    expected = drift.topic_policy_drift(arn, policy)
    assert expected and expected[0].startswith("~ topic sagemaker-monitoring_shared_warning: ")
    assert topics_drift(all_outputs(), policies) == expected


def test_another_accounts_policy_is_drift():
    arn = shared_arn("critical")
    policies = {arn: good_policy(shared_arn("critical", account=OTHER_ACCOUNT))}
    lines = topics_drift(all_outputs(), policies)
    assert len(lines) == 1 and lines[0].startswith("~ topic sagemaker-monitoring_shared_critical: policy")


def test_topics_not_read_or_not_in_the_outputs_are_skipped():
    assert topics_drift(all_outputs(), {}) == []
    assert topics_drift({}, {shared_arn("critical"): None}) == []
    # a policy read for an ARN the outputs do not name is not this stack's topic
    outputs = dict(all_outputs(), CriticalTopicArn=shared_arn("critical", account=OTHER_ACCOUNT))
    assert topics_drift(outputs, {shared_arn("critical"): None}) == []
    assert topics_drift(outputs, {shared_arn("critical", account=OTHER_ACCOUNT): None}) != []


# ------------------------------------------------------------------------------------------------ outcome
def changed_plan(region=REGION, outputs=None, hosts=("host-0", "host-1"), profile="", endpoint_url=""):
    return {"key": "%s|%s|%s" % (region, profile, endpoint_url), "region": region, "profile": profile,
            "endpoint_url": endpoint_url, "outputs": dict(outputs or {}), "topics": stack_topics(),
            "hosts": list(hosts), "subscribe": ["critical"]}


def stack_outputs(region=REGION, account=ACCOUNT):
    return dict((topic_output(s), shared_arn(s, region, account)) for s in SEVERITIES)


WEST = "%s||" % REGION
EAST = "us-east-1||"


def test_the_topic_arns_come_from_the_plan_when_nothing_was_applied():
    plan = changed_plan(outputs=dict(stack_outputs(), MonitoringFingerprint=FP))
    assert outcome([plan]) == {WEST: {"topic_arns": {s: shared_arn(s) for s in SEVERITIES}, "error": "",
                                      "hosts": ["host-0", "host-1"]}}
    skipped = {"results": [{"item": plan, "skipped": True}], "skipped": True}
    assert outcome([plan], skipped, None, {}) == outcome([plan])


def test_the_topic_arns_of_a_stack_not_created_yet_are_none():
    assert outcome([changed_plan()])[WEST]["topic_arns"] == {"critical": None, "warning": None}


def test_the_topic_arns_come_from_the_apply_where_it_made_one():
    plan = changed_plan()  # a stack to create: the plan knows no ARN
    applied = {"results": [{"item": plan, "changed": True, "stack_outputs": stack_outputs(account=OTHER_ACCOUNT)}]}
    result = outcome([plan], applied)
    assert result[WEST]["topic_arns"] == {s: shared_arn(s, account=OTHER_ACCOUNT) for s in SEVERITIES}
    assert result[WEST]["error"] == ""
    stale = changed_plan(outputs=stack_outputs())
    assert outcome([stale], applied)[WEST]["topic_arns"]["warning"] == shared_arn("warning", account=OTHER_ACCOUNT)


def test_a_failed_result_fails_its_region_only():
    east, west = changed_plan("us-east-1", stack_outputs("us-east-1"), ["h-east"]), changed_plan(
        REGION, stack_outputs(), ["h-west"])
    applied = {"results": [{"item": east, "failed": True, "msg": "Stack creation failed"},
                           {"item": west, "changed": True, "stack_outputs": stack_outputs()}]}
    result = outcome([east, west], applied)
    assert result[EAST] == {"topic_arns": {}, "error": "Stack creation failed", "hosts": ["h-east"]}
    assert result[WEST] == {"topic_arns": {s: shared_arn(s) for s in SEVERITIES}, "error": "",
                            "hosts": ["h-west"]}


def test_a_failed_subscription_item_fails_its_region_and_messages_add_up():
    east, west = changed_plan("us-east-1", stack_outputs("us-east-1"), ["h-east"]), changed_plan(
        REGION, stack_outputs(), ["h-west"])
    removed = {"results": [{"item": west, "failed": True}]}
    subscribed = {"results": [{"item": [east, "critical"], "changed": True},
                              {"item": [west, "critical"], "failed": True, "msg": "AuthorizationError"},
                              {"item": (west, "warning"), "failed": True, "msg": "Throttling"}]}
    result = outcome([east, west], removed, subscribed)
    assert result[WEST]["topic_arns"] == {}
    assert result[WEST]["error"] == "failed; AuthorizationError; Throttling"
    assert result[EAST]["error"] == ""
    assert result[EAST]["topic_arns"] == {s: shared_arn(s, "us-east-1") for s in SEVERITIES}


def test_results_of_regions_without_a_plan_are_left_out():
    plan = changed_plan()
    other = changed_plan("ap-south-1")
    result = outcome([plan], {"results": [{"item": other, "failed": True, "msg": "boom"}, {"item": "text"},
                                          {"item": []}, {}, {"item": {"region": REGION, "failed": True}}]})
    assert list(result) == [WEST]
    assert result[WEST]["error"] == ""


def test_two_connections_of_one_region_do_not_mix():
    prod = changed_plan(outputs=stack_outputs(), hosts=["h-prod"], profile="prod")
    staging = changed_plan(hosts=["h-staging"], profile="staging")  # a stack to create there
    local = changed_plan(outputs=stack_outputs(account="000000000000"), hosts=["h-local"],
                         endpoint_url="http://localhost:4566")
    assert (prod["key"], staging["key"], local["key"]) == (
        REGION + "|prod|", REGION + "|staging|", REGION + "||http://localhost:4566")
    applied = {"results": [{"item": prod, "failed": True, "msg": "AccessDenied"},
                           {"item": staging, "changed": True, "stack_outputs": stack_outputs(account=OTHER_ACCOUNT)}]}
    subscribed = {"results": [{"item": [local, "warning"], "failed": True, "msg": "Throttling"},
                              {"item": [staging, "warning"], "changed": True}]}
    result = outcome([prod, staging, local], applied, subscribed)
    assert sorted(result) == sorted([prod["key"], staging["key"], local["key"]])
    assert result[prod["key"]] == {"topic_arns": {}, "error": "AccessDenied", "hosts": ["h-prod"]}
    assert result[staging["key"]] == {"topic_arns": {s: shared_arn(s, account=OTHER_ACCOUNT) for s in SEVERITIES},
                                      "error": "", "hosts": ["h-staging"]}
    assert result[local["key"]] == {"topic_arns": {}, "error": "Throttling", "hosts": ["h-local"]}
    assert REGION not in result


def test_the_apply_of_one_connection_gives_no_arns_to_another_of_the_region():
    prod = changed_plan(outputs=stack_outputs(), profile="prod")
    staging = changed_plan(profile="staging")
    applied = {"results": [{"item": prod, "changed": True, "stack_outputs": stack_outputs(account=OTHER_ACCOUNT)}]}
    result = outcome([prod, staging], applied)
    assert result[prod["key"]]["topic_arns"] == {s: shared_arn(s, account=OTHER_ACCOUNT) for s in SEVERITIES}
    assert result[staging["key"]]["topic_arns"] == {"critical": None, "warning": None}


# ------------------------------------------------------------------------------------------------ drift
def resolve(value, region=REGION, account=ACCOUNT):
    """A template value as CloudFormation resolves it for a stack in the account and region."""
    if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
        return value["Fn::Sub"].replace("${AWS::AccountId}", account).replace("${AWS::Region}", region).replace(
            "${AWS::Partition}", "aws")
    if isinstance(value, dict):
        return dict((k, resolve(v, region, account)) for k, v in value.items())
    if isinstance(value, list):
        return [resolve(v, region, account) for v in value]
    return value


def described_alarms(prepared, region=REGION):
    """What DescribeAlarms answers for the alarms of the prepared endpoint's stack template, by name."""
    resources = yaml.safe_load(render_template(prepared))["Resources"]
    alarms = {}
    for resource in resources.values():
        if resource["Type"] not in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm"):
            continue
        item = resolve(resource["Properties"], region)
        item.update(AlarmArn="arn:aws:cloudwatch:%s:%s:alarm:%s" % (region, ACCOUNT, item["AlarmName"]),
                    ActionsEnabled=True, StateValue="OK", InsufficientDataActions=[],
                    OKActions=item.get("OKActions", []), AlarmActions=item.get("AlarmActions", []))
        if "Threshold" in item:
            item["Threshold"] = float(item["Threshold"])
        alarms[item["AlarmName"]] = item
    return alarms


@pytest.fixture(scope="module")
def shared_prepared():
    return described(region=REGION, topic_mode="shared", notify="both", instance_type=GPU_INSTANCE,
                     endpoint_metrics={"ModelLatency": {"anomaly_band": 2}})


def critical_alarm(prepared):
    return [a["name"] for a in prepared["spec"]["alarms"] if a["severity"] == "critical"][0]


def test_the_wanted_actions_of_a_shared_spec_are_the_templates_fn_sub():
    spec = spec_for(topic_mode="shared", notify="both", ok_actions=True)
    wanted = drift.wanted_alarms(spec)
    for alarm in spec["alarms"]:
        assert wanted[alarm["name"]]["AlarmActions"] == [SUB_TEMPLATE % alarm["severity"]]
        assert wanted[alarm["name"]]["OKActions"] == [SUB_TEMPLATE % alarm["severity"]]
    assert wanted[spec["composite"]["name"]]["AlarmActions"] == [SUB_TEMPLATE % "critical"]


def test_a_clean_shared_stack_as_aws_describes_it_has_no_drift(shared_prepared):
    alarms = described_alarms(shared_prepared)
    expected = shared_prepared["plan_entry"]["expected"]
    assert sorted(expected["alarms"]) == sorted(alarms)
    assert set(a["severity"] for a in shared_prepared["spec"]["alarms"]) == set(SEVERITIES)
    name = critical_alarm(shared_prepared)
    assert alarms[name]["AlarmActions"] == [shared_arn("critical")]  # as DescribeAlarms answers: the ARN
    assert alarms[name]["AlarmArn"] == "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:" + name
    assert drift.changed_alarms(expected, alarms, None) == []
    # the stack's own topic given (a retired topic) changes nothing
    own = "arn:aws:sns:%s:%s:sagemaker-monitoring_churn" % (REGION, ACCOUNT)
    assert drift.changed_alarms(expected, alarms, own) == []


def test_a_deployed_shared_action_reads_as_the_templates_fn_sub():
    item = {"AlarmArn": "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:x", "AlarmRule": 'ALARM("y")',
            "AlarmActions": [shared_arn("critical"), shared_arn("warning", account=OTHER_ACCOUNT)],
            "OKActions": [shared_arn("warning")]}
    normal = drift.deployed_alarm(item, None)
    assert normal["AlarmActions"] == sorted([SUB_TEMPLATE % "critical", shared_arn("warning", account=OTHER_ACCOUNT)])
    assert normal["OKActions"] == [SUB_TEMPLATE % "warning"]
    china = dict(item, AlarmArn="arn:aws-cn:cloudwatch:cn-north-1:123456789012:alarm:x",
                 AlarmActions=[shared_arn("critical", "cn-north-1", partition="aws-cn")])
    assert drift.deployed_alarm(china, None)["AlarmActions"] == [SUB_TEMPLATE % "critical"]


def test_only_the_shared_topics_of_the_alarms_own_account_and_region_read_as_the_fn_sub():
    arn = "arn:aws:cloudwatch:eu-central-1:%s:alarm:x" % OTHER_ACCOUNT
    item = {"AlarmArn": arn, "AlarmRule": 'ALARM("y")', "AlarmActions": [
        shared_arn("critical", "eu-central-1", OTHER_ACCOUNT), shared_arn("warning"),
        shared_arn("warning", "eu-central-1")]}
    assert drift.deployed_alarm(item, None)["AlarmActions"] == sorted([
        SUB_TEMPLATE % "critical", shared_arn("warning"), shared_arn("warning", "eu-central-1")])
    # without the alarm's ARN (a server that leaves it out) nothing is read as a shared topic
    del item["AlarmArn"]
    assert drift.deployed_alarm(item, None)["AlarmActions"] == sorted(item["AlarmActions"])


@pytest.mark.parametrize("action", [
    shared_arn("critical", account=OTHER_ACCOUNT),
    shared_arn("critical", region="eu-central-1"),
    shared_arn("critical", partition="aws-cn"),
    shared_arn("warning"),
    "arn:aws:sns:eu-west-1:123456789012:sagemaker-monitoring_churn",
])
def test_a_critical_alarm_notifying_another_topic_has_drifted(shared_prepared, action):
    alarms = described_alarms(shared_prepared)
    name = critical_alarm(shared_prepared)
    alarms[name]["AlarmActions"] = [action]
    assert drift.changed_alarms(shared_prepared["plan_entry"]["expected"], alarms, None) == [name]


def test_a_composite_notifying_another_accounts_shared_topic_has_drifted(shared_prepared):
    alarms = described_alarms(shared_prepared)
    name = shared_prepared["spec"]["composite"]["name"]
    assert alarms[name]["AlarmActions"] == [shared_arn("critical")]
    alarms[name]["AlarmActions"] = [shared_arn("critical", account=OTHER_ACCOUNT)]
    assert drift.changed_alarms(shared_prepared["plan_entry"]["expected"], alarms, None) == [name]


def test_an_alarm_without_its_actions_has_drifted(shared_prepared):
    alarms = described_alarms(shared_prepared)
    name = critical_alarm(shared_prepared)
    alarms[name]["AlarmActions"] = []
    assert drift.changed_alarms(shared_prepared["plan_entry"]["expected"], alarms, None) == [name]


def test_a_per_endpoint_alarm_moved_to_a_shared_topic_has_drifted():
    prepared = described(region=REGION, instance_type=GPU_INSTANCE)
    own = "arn:aws:sns:%s:%s:sagemaker-monitoring_churn" % (REGION, ACCOUNT)
    alarms = described_alarms(prepared)
    for item in alarms.values():
        item["AlarmActions"] = [own if a == {"Ref": "AlarmTopic"} else a for a in item["AlarmActions"]]
    expected = prepared["plan_entry"]["expected"]
    assert drift.changed_alarms(expected, alarms, own) == []
    name = critical_alarm(prepared)
    alarms[name]["AlarmActions"] = [shared_arn("critical")]
    assert drift.changed_alarms(expected, alarms, own) == [name]


def existing_mode_alarms(topic_arns):
    prepared = described(region=REGION, topic_mode="existing", topic_arns=topic_arns, instance_type=GPU_INSTANCE)
    return prepared, described_alarms(prepared)


def test_a_clean_existing_mode_stack_has_no_drift():
    arns = {s: "arn:aws:sns:%s:%s:team-%s" % (REGION, ACCOUNT, s) for s in SEVERITIES}
    prepared, alarms = existing_mode_alarms(arns)
    assert alarms[critical_alarm(prepared)]["AlarmActions"] == [arns["critical"]]
    assert drift.changed_alarms(prepared["plan_entry"]["expected"], alarms, None) == []


def test_existing_mode_refuses_the_collections_own_topics_so_the_drift_check_never_misreads_them():
    # The shared topics' ARNs are mapped back to the template's Fn::Sub on the deployed side: given as "your" topics
    # in existing mode they would read as drifted on every run, so the spec refuses them (and any collection topic).
    arns = {s: shared_arn(s) for s in SEVERITIES}
    with pytest.raises(SpecError) as raised:
        existing_mode_alarms(arns)
    assert "endpoint_monitoring_topic_arns.critical: %s is a topic of the collection's own" % arns["critical"] \
        in str(raised.value)
    assert "set endpoint_monitoring_topic_mode: shared" in str(raised.value)
