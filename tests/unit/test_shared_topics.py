"""topic_mode shared: the spec's alarms notify their region's shared topic of their severity, subscribers name the
severities they want; the plan of a region's shared topics stack and its subscriptions, the outcome of the role's
tasks for it, and the drift check's normal form of an alarm that notifies a shared topic (pure functions)."""

import copy
import itertools

import pytest
import yaml

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils import catalog, drift
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_spec import (
    SHARED_TOPICS_STACK,
    SpecError,
    build_spec,
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
    stack_topics,
    topic_output,
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
def test_a_shared_plan_entry_carries_severities_raw_delivery_and_the_topics_key():
    prepared = described(region=REGION, topic_mode="shared", topic_kms_key="alias/topics", subscribers=[
        dict(OPS, severities=["warning"]), {"protocol": "sqs", "endpoint": QUEUE, "raw_message_delivery": True}])
    entry = prepared["plan_entry"]
    assert entry["topic_mode"] == "shared"
    assert entry["topic_kms_key"] == "alias/topics"
    assert entry["topic_arns"] == {}
    assert entry["subscribers"] == [dict(OPS, raw_message_delivery=False, severities=["warning"]),
                                    {"protocol": "sqs", "endpoint": QUEUE, "raw_message_delivery": True}]


def test_a_per_endpoint_plan_entry_carries_addresses_only_and_no_topics_key():
    prepared = described(region=REGION, topic_kms_key="alias/topics",
                         subscribers=[{"protocol": "sqs", "endpoint": QUEUE, "raw_message_delivery": True}])
    entry = prepared["plan_entry"]
    assert entry["subscribers"] == [{"protocol": "sqs", "endpoint": QUEUE}]
    assert "topic_kms_key" not in entry
    assert entry["topic_arns"] == {}


def test_an_existing_mode_plan_entry_carries_the_users_topics():
    arns = {s: "arn:aws:sns:%s:%s:team-%s" % (REGION, ACCOUNT, s) for s in SEVERITIES}
    entry = described(region=REGION, topic_mode="existing", topic_arns=arns)["plan_entry"]
    assert entry["topic_arns"] == arns
    assert "topic_kms_key" not in entry


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
def entry(n, subscribers=(), kms=""):
    return {"host": "host-%d" % n, "endpoint": "ep-%d" % n, "subscribers": [dict(s) for s in subscribers],
            "topic_kms_key": kms}


def addresses(topics):
    return dict((severity, [s["endpoint"] for s in subs]) for severity, subs in topics["subscribers"].items())


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
    assert topics["topic_kms_key"] == ""


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
    assert why.startswith("endpoint_monitoring_subscribers: sqs %s with raw_message_delivery false" % QUEUE)
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
    assert topics["topic_kms_key"] == "alias/a"
    assert addresses(topics)["critical"] == ["ops@example.com", "c@example.com"]


def test_no_key_and_an_empty_key_agree_and_a_key_after_none_is_refused():
    first = entry(0, [OPS])
    del first["topic_kms_key"]
    topics, refused = region_topics([first, entry(1, kms=""), entry(2, kms=None), entry(3, kms="alias/late")])
    assert list(refused) == ["host-3"]
    assert "endpoint_monitoring_topic_kms_key" in refused["host-3"]
    assert topics["topic_kms_key"] == ""


def test_an_entry_disagreeing_on_both_says_both():
    raw = {"protocol": "https", "endpoint": HOOK, "raw_message_delivery": True}
    _, refused = region_topics([entry(0, [raw], kms="alias/a"),
                                entry(1, [dict(raw, raw_message_delivery=False)], kms="alias/b")])
    why = refused["host-1"]
    assert "endpoint_monitoring_topic_kms_key" in why and "endpoint_monitoring_subscribers" in why
    assert "s3cr3t" not in why and "T0KEN" not in why  # a webhook's token is never shown


def test_a_refused_entry_sets_no_precedent():
    raw = {"protocol": "sqs", "endpoint": QUEUE, "raw_message_delivery": True}
    entries = [entry(0, kms="alias/a"), entry(1, [dict(raw, raw_message_delivery=False)], kms="alias/b"),
               entry(2, [raw], kms="alias/a")]
    topics, refused = region_topics(entries)
    assert list(refused) == ["host-1"]
    assert addresses(topics)["critical"] == [QUEUE]


def test_a_region_without_entries_has_no_subscriber_and_no_key():
    assert region_topics([]) == ({"topic_kms_key": "", "subscribers": {"critical": [], "warning": []}}, {})


# ------------------------------------------------------------------------------------------------ fingerprint
def topics_with(subscribers, kms=""):
    return region_topics([entry(0, subscribers, kms=kms)])[0]


RAW_QUEUE = {"protocol": "sqs", "endpoint": QUEUE, "raw_message_delivery": True}
SUBSCRIBERS = [OPS, RAW_QUEUE, {"protocol": "https", "endpoint": HOOK, "severities": ["critical"]}]


def test_the_fingerprint_changes_with_the_template_the_key_and_raw_delivery():
    base = topics_fingerprint(topics_with(SUBSCRIBERS), DIGEST)
    assert base == topics_fingerprint(topics_with(copy.deepcopy(SUBSCRIBERS)), DIGEST)
    assert topics_fingerprint(topics_with(SUBSCRIBERS), "template-digest-2") != base
    assert topics_fingerprint(topics_with(SUBSCRIBERS, kms="alias/topics"), DIGEST) != base
    not_raw = [OPS, dict(RAW_QUEUE, raw_message_delivery=False), SUBSCRIBERS[2]]
    assert topics_fingerprint(topics_with(not_raw), DIGEST) != base
    # the raw subscriber subscribed for one severity fewer
    assert topics_fingerprint(topics_with([OPS, dict(RAW_QUEUE, severities=["warning"]), SUBSCRIBERS[2]]),
                              DIGEST) != base


def test_the_fingerprint_does_not_change_with_the_order_of_the_subscribers():
    base = topics_fingerprint(topics_with(SUBSCRIBERS), DIGEST)
    for order in itertools.permutations(SUBSCRIBERS):
        assert topics_fingerprint(topics_with(list(order)), DIGEST) == base
    raw_hook = {"protocol": "https", "endpoint": HOOK, "raw_message_delivery": True}
    two_raw = topics_fingerprint(topics_with([RAW_QUEUE, raw_hook]), DIGEST)
    assert topics_fingerprint(topics_with([raw_hook, RAW_QUEUE]), DIGEST) == two_raw


def test_the_fingerprint_leaves_out_subscribers_the_listing_shows():
    """A subscriber without raw delivery shows in ListSubscriptions: adding one is a subscription, not a stack
    update."""
    base = topics_fingerprint(topics_with(SUBSCRIBERS), DIGEST)
    more = SUBSCRIBERS + [{"protocol": "email", "endpoint": "new@example.com"}]
    assert topics_fingerprint(topics_with(more), DIGEST) == base


# ------------------------------------------------------------------------------------------------ plan_region_topics
OURS = [{"Key": "managed-by", "Value": "mlops.sagemaker_monitoring"}]
FP = "fedcba9876543210"


def shared_stack(status="UPDATE_COMPLETE", fp=FP, tags=OURS):
    outputs = [{"OutputKey": topic_output(s), "OutputValue": shared_arn(s)} for s in SEVERITIES]
    outputs.append({"OutputKey": FINGERPRINT_OUTPUT, "OutputValue": fp})
    return {"StackName": SHARED_TOPICS_STACK, "StackStatus": status, "Tags": tags, "Outputs": outputs}


def listed(severity, endpoint, protocol="email", arn=None, topic=None):
    topic = topic or shared_arn(severity)
    return {"SubscriptionArn": arn or "%s:%08d" % (topic, abs(hash((severity, endpoint))) % 10 ** 8),
            "Protocol": protocol, "Endpoint": endpoint, "TopicArn": topic}


def region_plan(stack, subscribers, listing=(), fp=FP):
    topics = topics_with(subscribers)
    return plan_region_topics(stack, topics, fp, group_subscriptions(list(listing)))


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


def test_another_fingerprint_updates_the_stack_and_keeps_the_subscribers_raw_delivery():
    result = region_plan(shared_stack(fp="0000000000000000"), [dict(RAW_QUEUE, severities=["critical"])], ALL_HELD)
    assert result["status"] == "changed"
    assert result["action"] == "update"
    assert result["changes"] == ["~ stack %s: the settings changed since it was last applied" % SHARED_TOPICS_STACK]
    # nothing new to subscribe, but the task sets raw delivery where a subscriber is wanted
    assert result["subscribe"] == ["critical"]
    assert result["confirmations_asked"] == 0


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


# ------------------------------------------------------------------------------------------------ outcome
def changed_plan(region=REGION, outputs=None, hosts=("host-0", "host-1")):
    return {"region": region, "outputs": dict(outputs or {}), "topics": stack_topics(), "hosts": list(hosts),
            "subscribe": ["critical"]}


def stack_outputs(region=REGION, account=ACCOUNT):
    return dict((topic_output(s), shared_arn(s, region, account)) for s in SEVERITIES)


def test_the_topic_arns_come_from_the_plan_when_nothing_was_applied():
    plan = changed_plan(outputs=dict(stack_outputs(), MonitoringFingerprint=FP))
    assert outcome([plan]) == {REGION: {"topic_arns": {s: shared_arn(s) for s in SEVERITIES}, "error": "",
                                        "hosts": ["host-0", "host-1"]}}
    skipped = {"results": [{"item": plan, "skipped": True}], "skipped": True}
    assert outcome([plan], skipped, None, {}) == outcome([plan])


def test_the_topic_arns_of_a_stack_not_created_yet_are_none():
    assert outcome([changed_plan()])[REGION]["topic_arns"] == {"critical": None, "warning": None}


def test_the_topic_arns_come_from_the_apply_where_it_made_one():
    plan = changed_plan()  # a stack to create: the plan knows no ARN
    applied = {"results": [{"item": plan, "changed": True, "stack_outputs": stack_outputs(account=OTHER_ACCOUNT)}]}
    result = outcome([plan], applied)
    assert result[REGION]["topic_arns"] == {s: shared_arn(s, account=OTHER_ACCOUNT) for s in SEVERITIES}
    assert result[REGION]["error"] == ""
    stale = changed_plan(outputs=stack_outputs())
    assert outcome([stale], applied)[REGION]["topic_arns"]["warning"] == shared_arn("warning", account=OTHER_ACCOUNT)


def test_a_failed_result_fails_its_region_only():
    east, west = changed_plan("us-east-1", stack_outputs("us-east-1"), ["h-east"]), changed_plan(
        REGION, stack_outputs(), ["h-west"])
    applied = {"results": [{"item": east, "failed": True, "msg": "Stack creation failed"},
                           {"item": west, "changed": True, "stack_outputs": stack_outputs()}]}
    result = outcome([east, west], applied)
    assert result["us-east-1"] == {"topic_arns": {}, "error": "Stack creation failed", "hosts": ["h-east"]}
    assert result[REGION] == {"topic_arns": {s: shared_arn(s) for s in SEVERITIES}, "error": "",
                              "hosts": ["h-west"]}


def test_a_failed_subscription_item_fails_its_region_and_messages_add_up():
    east, west = changed_plan("us-east-1", stack_outputs("us-east-1"), ["h-east"]), changed_plan(
        REGION, stack_outputs(), ["h-west"])
    removed = {"results": [{"item": west, "failed": True}]}
    subscribed = {"results": [{"item": [east, "critical"], "changed": True},
                              {"item": [west, "critical"], "failed": True, "msg": "AuthorizationError"},
                              {"item": (west, "warning"), "failed": True, "msg": "Throttling"}]}
    result = outcome([east, west], removed, subscribed)
    assert result[REGION]["topic_arns"] == {}
    assert result[REGION]["error"] == "failed; AuthorizationError; Throttling"
    assert result["us-east-1"]["error"] == ""
    assert result["us-east-1"]["topic_arns"] == {s: shared_arn(s, "us-east-1") for s in SEVERITIES}


def test_results_of_regions_without_a_plan_are_left_out():
    plan = changed_plan()
    other = changed_plan("ap-south-1")
    result = outcome([plan], {"results": [{"item": other, "failed": True, "msg": "boom"}, {"item": "text"},
                                          {"item": []}, {}]})
    assert list(result) == [REGION]
    assert result[REGION]["error"] == ""


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
