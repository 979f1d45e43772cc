"""plan: what one endpoint's monitoring needs, from the region's DescribeStacks and ListSubscriptions listings."""

import copy
import itertools

import pytest

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.plan import (
    FINGERPRINT_OUTPUT,
    PlanError,
    describe_taken,
    fingerprint,
    group_subscriptions,
    guard,
    live,
    needs_own_topic_subscriptions,
    namesakes,
    outputs_of,
    plan_endpoint,
    run_collisions,
    stack_fingerprint,
    stack_resource_names,
    tags_of,
    taken_names,
    usage,
)

from role_support import described

STACK = "sagemaker-monitoring-ep"
TOPIC = "arn:aws:sns:us-east-1:123456789012:" + STACK
OURS = {"managed-by": "mlops.sagemaker_monitoring", "sagemaker-endpoint": "ep"}
FP = "0123456789abcdef"


def stack(status="CREATE_COMPLETE", fp=FP, tags=OURS, protected=False, topic_output="TopicArn"):
    outputs = [{"OutputKey": topic_output, "OutputValue": TOPIC}] if topic_output else []
    if fp:
        outputs.append({"OutputKey": FINGERPRINT_OUTPUT, "OutputValue": fp})
    return {"StackName": STACK, "StackStatus": status, "EnableTerminationProtection": protected,
            "Tags": [{"Key": k, "Value": v} for k, v in tags.items()], "Outputs": outputs}


def entry(state="present", **values):
    base = {"endpoint": "ep", "stack_name": STACK, "state": state}
    if state == "present":
        base.update(fingerprint=FP, termination_protection=False, subscribers=[], purge_subscriptions=False)
    base.update(values)
    return base


def subscription(endpoint, protocol="email", topic=TOPIC, arn=None):
    return {"SubscriptionArn": arn or "%s:%s" % (topic, abs(hash(endpoint))), "Protocol": protocol,
            "Endpoint": endpoint, "TopicArn": topic}


def plan(entry_value, stack_value, subscriptions=()):
    return plan_endpoint(entry_value, stack_value, group_subscriptions(list(subscriptions)))


# --------------------------------------------------------------------------------------------- present
def test_an_unchanged_endpoint_still_says_which_subscribers_have_not_confirmed():
    subscribers = [{"protocol": "email", "endpoint": "oncall@example.com"},
                   {"protocol": "sqs", "endpoint": "arn:aws:sqs:eu-west-1:123456789012:alerts"}]
    result = plan(entry(subscribers=subscribers), stack(), [
        subscription("oncall@example.com", arn="PendingConfirmation"),
        subscription("arn:aws:sqs:eu-west-1:123456789012:alerts", protocol="sqs")])
    assert result["status"] == "unchanged"
    assert result["pending_confirmation"] == [{"protocol": "email", "endpoint": "oncall@example.com"}]
    assert result["confirmations_asked"] == 0


def test_a_new_topic_asks_every_subscriber_that_must_confirm():
    subscribers = [{"protocol": "email", "endpoint": "a@example.com"}, {"protocol": "https", "endpoint": "https://p/x"},
                   {"protocol": "sqs", "endpoint": "arn:aws:sqs:eu-west-1:123456789012:alerts"}]
    result = plan(entry(subscribers=subscribers), None)
    assert (result["action"], result["confirmations_asked"], result["pending_confirmation"]) == ("create", 2, [])



def test_a_missing_stack_is_created_with_every_subscriber():
    result = plan(entry(subscribers=[{"protocol": "email", "endpoint": "oncall@example.com"}]), None)
    assert (result["status"], result["action"]) == ("changed", "create")
    assert result["changes"] == ["+ stack %s" % STACK, "+ subscription email oncall@example.com"]
    assert result["outputs"] == {} and result["subscriptions_change"] is True
    assert result["protection_change"] is False


def test_a_stack_with_the_wanted_fingerprint_is_unchanged():
    result = plan(entry(), stack())
    assert result == {"status": "unchanged", "action": "none", "changes": [], "protection_change": False,
                      "subscriptions_change": False, "outputs": {"TopicArn": TOPIC, FINGERPRINT_OUTPUT: FP},
                      "pending_confirmation": [], "confirmations_asked": 0, "retired_topic": ""}


@pytest.mark.parametrize("status", ["CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE",
                                    "UPDATE_ROLLBACK_COMPLETE"])
def test_every_settled_state_with_the_wanted_fingerprint_is_unchanged(status):
    assert plan(entry(), stack(status))["status"] == "unchanged"


@pytest.mark.parametrize("deployed", ["fedcba9876543210", None], ids=["other-fingerprint", "no-fingerprint"])
def test_a_stack_with_another_fingerprint_is_updated(deployed):
    result = plan(entry(), stack(fp=deployed))
    assert (result["status"], result["action"]) == ("changed", "update")
    assert result["changes"] == ["~ stack %s: the settings changed since it was last applied" % STACK]


@pytest.mark.parametrize("status", ["UPDATE_FAILED", "IMPORT_ROLLBACK_COMPLETE"])
def test_a_stack_not_settled_is_updated_even_with_the_wanted_fingerprint(status):
    result = plan(entry(), stack(status))
    assert (result["status"], result["action"]) == ("changed", "update")


@pytest.mark.parametrize("deployed, wanted, line", [(False, True, "~ termination protection off -> on"),
                                                    (True, False, "~ termination protection on -> off")])
def test_termination_protection_alone_is_a_protect_action(deployed, wanted, line):
    result = plan(entry(termination_protection=wanted), stack(protected=deployed))
    assert (result["status"], result["action"], result["changes"]) == ("changed", "protect", [line])
    assert result["protection_change"] is True


def test_an_update_with_a_protection_change_stays_an_update_and_says_both():
    result = plan(entry(termination_protection=True), stack(fp="other"))
    assert result["action"] == "update" and result["protection_change"] is True
    assert result["changes"][1] == "~ termination protection off -> on"


def test_protection_on_creation_is_no_protection_change():
    # amazon.aws.cloudformation sets it when it creates the stack
    result = plan(entry(termination_protection=True), None)
    assert result["action"] == "create" and result["protection_change"] is False


@pytest.mark.parametrize("status", ["ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED"])
def test_a_stack_whose_creation_failed_is_created_again(status):
    result = plan(entry(subscribers=[{"protocol": "email", "endpoint": "a@example.com"}]), stack(status, fp=None))
    assert (result["status"], result["action"]) == ("changed", "recreate")
    assert result["changes"][0] == ("! stack %s is %s after a failed creation: it is removed and created again"
                                    % (STACK, status))
    # what it had is gone with it: no outputs, every subscriber again
    assert result["outputs"] == {} and result["changes"][1:] == ["+ subscription email a@example.com"]


# --------------------------------------------------------------------------------------------- refused

@pytest.mark.parametrize("state", ["present", "absent"])
@pytest.mark.parametrize("tags", [{}, {"managed-by": "someone-else"}, {"sagemaker-endpoint": "ep"}],
                         ids=["no-tags", "other-manager", "endpoint-tag-only"])
def test_a_stack_that_is_not_ours_is_refused(state, tags):
    result = plan(entry(state), stack(tags=tags))
    assert (result["status"], result["action"], result["changes"]) == ("failed", "none", [])
    assert result["error"].startswith("stack %s exists but is not tagged managed-by=mlops.sagemaker_monitoring"
                                      % STACK)
    assert "endpoint_monitoring_stack_prefix" in result["error"]


def test_a_stack_without_a_tags_key_is_not_ours():
    bare = {"StackName": STACK, "StackStatus": "CREATE_COMPLETE"}
    with pytest.raises(PlanError):
        guard(STACK, bare, "present")


@pytest.mark.parametrize("state", ["present", "absent"])
@pytest.mark.parametrize("status", ["CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "DELETE_IN_PROGRESS",
                                    "ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS",
                                    "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "REVIEW_IN_PROGRESS",
                                    "IMPORT_IN_PROGRESS"])
def test_a_busy_stack_is_refused(state, status):
    result = plan(entry(state), stack(status))
    assert result["status"] == "failed" and result["action"] == "none"
    assert result["error"] == ("stack %s is busy (%s): another run or a person is changing it. Run again when it is "
                               "done." % (STACK, status))


def test_a_stack_stuck_in_update_rollback_failed_is_refused_with_the_repair_command():
    result = plan(entry(), stack("UPDATE_ROLLBACK_FAILED"))
    assert result["status"] == "failed"
    assert result["error"].startswith("stack %s is UPDATE_ROLLBACK_FAILED: continue the rollback" % STACK)
    assert "aws cloudformation continue-update-rollback --stack-name %s" % STACK in result["error"]


@pytest.mark.parametrize("state", ["present", "absent"])
def test_a_stack_whose_deletion_failed_is_refused_with_the_repair_command(state):
    result = plan(entry(state), stack("DELETE_FAILED"))
    assert result["status"] == "failed"
    assert "aws cloudformation delete-stack --stack-name %s), then run again" % STACK in result["error"]


def test_a_stack_stuck_in_update_rollback_failed_may_still_be_deleted():
    assert plan(entry("absent"), stack("UPDATE_ROLLBACK_FAILED"))["action"] == "delete"


@pytest.mark.parametrize("state", ["present", "absent"])
def test_a_stack_tagged_as_another_endpoints_is_refused(state):
    result = plan(entry(state, endpoint="other"), stack())
    assert (result["status"], result["action"]) == ("failed", "none")
    assert result["error"].startswith("stack %s is the stack of endpoint 'ep' (tag sagemaker-endpoint), not of this "
                                      "endpoint" % STACK)
    # without the endpoint (the prune, which goes by the tag itself) the guard does not compare
    assert guard(STACK, stack(), "absent") is False


# --------------------------------------------------------------------------------------------- names

def run_entry(endpoint, host=None, region="us-east-1", prefix="sagemaker-monitoring-"):
    return {"endpoint": endpoint, "host": host or endpoint, "region": region, "stack_name": prefix + endpoint}


def test_entries_whose_names_differ_are_not_refused():
    entries = [run_entry("cola"), run_entry("cola-b"), run_entry("b-cola"), run_entry("cola", "cola@eu", "eu-west-1")]
    assert run_collisions(entries) == {}


def test_every_entry_that_shares_a_name_is_refused_naming_the_others():
    entries = [run_entry("cola", prefix="a-b-"), run_entry("b-cola", prefix="a-"), run_entry("fine"),
               run_entry("cola", "cola@2", prefix="a-b-"), run_entry("cola", "cola@3", prefix="other-")]
    refused = run_collisions(entries)
    assert sorted(refused) == [0, 1, 3, 4]
    assert refused[0].startswith("stack a-b-cola in us-east-1 would also be the stack of endpoint 'b-cola' (host "
                                 "'b-cola') and endpoint 'cola' (host 'cola@2'): ")
    assert refused[1].startswith("stack a-b-cola in us-east-1 would also be the stack of endpoint 'cola' (host "
                                 "'cola') and endpoint 'cola' (host 'cola@2'): ")
    # another stack prefix: another stack, but the same topic
    assert refused[4].startswith("topic sagemaker-monitoring_cola in us-east-1 would also be the topic of endpoint "
                                 "'cola' (host 'cola') and endpoint 'cola' (host 'cola@2'): ")


def test_names_a_stack_holds_are_read_from_its_resources():
    summaries = [
        {"ResourceType": "AWS::SNS::Topic", "PhysicalResourceId": "arn:aws:sns:us-east-1:1:sagemaker-monitoring_ep"},
        {"ResourceType": "AWS::SNS::TopicPolicy", "PhysicalResourceId": "policy"},
        {"ResourceType": "AWS::CloudWatch::Alarm", "PhysicalResourceId": "sagemaker-monitoring_ep_AllTraffic_ModelLatency"},
        {"ResourceType": "AWS::CloudWatch::CompositeAlarm", "PhysicalResourceId": "sagemaker-monitoring_ep_health"},
        {"ResourceType": "AWS::CloudWatch::Dashboard", "PhysicalResourceId": "sagemaker-monitoring_ep_us-east-1"},
        {"ResourceType": "AWS::CloudWatch::Alarm"},  # not made before the creation failed
    ]
    assert stack_resource_names(summaries) == {
        ("topic", "sagemaker-monitoring_ep"), ("alarm", "sagemaker-monitoring_ep_AllTraffic_ModelLatency"),
        ("alarm", "sagemaker-monitoring_ep_health"), ("dashboard", "sagemaker-monitoring_ep_us-east-1")}


def test_names_held_already_are_taken_unless_the_endpoints_stack_holds_them():
    wanted = [("alarm", "sagemaker-monitoring_ep_AllTraffic_ModelLatency"), ("alarm", "sagemaker-monitoring_ep_health"),
              ("topic", "sagemaker-monitoring_ep"), ("dashboard", "sagemaker-monitoring_ep_us-east-1")]
    existing = {"alarm": {"sagemaker-monitoring_ep_AllTraffic_ModelLatency", "sagemaker-monitoring_ep_health"},
                "topic": {"sagemaker-monitoring_ep"}, "dashboard": set()}
    assert taken_names(wanted, existing) == wanted[:3]
    # a stack created again after a failed creation: what it still holds is its own
    own = {("alarm", "sagemaker-monitoring_ep_health"), ("topic", "sagemaker-monitoring_ep")}
    assert taken_names(wanted, existing, own) == wanted[:1]
    # a name is taken by its own kind only: an alarm named like the topic is no topic
    assert taken_names([("topic", "x")], {"alarm": {"x"}}) == []


def test_taken_names_are_said_with_the_stack_that_may_hold_them():
    many = [("alarm", "a%d" % i) for i in range(5)]
    text = describe_taken(many, STACK, "us-east-1")
    assert text.startswith("alarm a0, alarm a1, alarm a2 and 2 more already exist in us-east-1 and are not this "
                           "endpoint's (they are not in its stack %s)" % STACK)
    stacks = [dict(stack(), StackName="old-ep"), stack(), dict(stack(tags=dict(OURS, **{"sagemaker-endpoint": "x"})),
                                                                 StackName="old-x")]
    assert namesakes(stacks, entry()) == ["old-ep"]
    assert describe_taken(many[:1], STACK, "us-east-1", ["old-ep"]).endswith(
        "; stack old-ep of this collection monitors the same endpoint (was endpoint_monitoring_stack_prefix "
        "changed? remove that stack with the former prefix)")


# --------------------------------------------------------------------------------------------- absent

@pytest.mark.parametrize("status", ["CREATE_COMPLETE", "ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"])
def test_absent_deletes_a_stack_of_ours(status):
    result = plan(entry("absent"), stack(status))
    assert (result["status"], result["action"]) == ("changed", "delete")
    assert result["changes"] == ["- stack %s and everything in it" % STACK]
    assert result["subscriptions_change"] is False


def test_absent_refuses_a_stack_with_termination_protection():
    result = plan(entry("absent"), stack(protected=True))
    assert (result["status"], result["action"]) == ("failed", "none")
    assert result["error"].startswith("stack %s has termination protection on" % STACK)
    assert "endpoint_monitoring_termination_protection: false" in result["error"]


def test_absent_without_a_stack_is_unchanged():
    result = plan(entry("absent"), None, [subscription("a@example.com")])
    assert (result["status"], result["action"], result["changes"]) == ("unchanged", "none", [])


# --------------------------------------------------------------------------------------------- subscriptions

def test_a_missing_subscriber_is_a_subscriptions_change_on_an_unchanged_stack():
    wanted = [{"protocol": "email", "endpoint": "a@example.com"}, {"protocol": "email", "endpoint": "b@example.com"}]
    result = plan(entry(subscribers=wanted), stack(), [subscription("a@example.com")])
    assert (result["status"], result["action"]) == ("changed", "none")
    assert result["changes"] == ["+ subscription email b@example.com"]
    assert result["subscriptions_change"] is True and result["protection_change"] is False


def test_subscriptions_of_other_topics_do_not_count():
    wanted = [{"protocol": "email", "endpoint": "a@example.com"}]
    other = subscription("a@example.com", topic=TOPIC + "-other")
    assert plan(entry(subscribers=wanted), stack(), [other])["changes"] == ["+ subscription email a@example.com"]


def test_an_unlisted_subscription_is_left_without_purge_and_removed_with_it():
    listed = [subscription("a@example.com"), subscription("old@example.com")]
    wanted = [{"protocol": "email", "endpoint": "a@example.com"}]
    assert plan(entry(subscribers=wanted), stack(), listed)["status"] == "unchanged"
    result = plan(entry(subscribers=wanted, purge_subscriptions=True), stack(), listed)
    assert (result["status"], result["action"]) == ("changed", "none")
    assert result["changes"] == ["- subscription email old@example.com"] and result["subscriptions_change"]


def test_purge_never_removes_a_subscription_waiting_for_confirmation():
    pending = subscription("new@example.com", arn="PendingConfirmation")
    assert plan(entry(purge_subscriptions=True), stack(), [pending])["status"] == "unchanged"


def test_subscription_lines_hide_webhook_tokens():
    hook = "https://hooks.example.com/services/T0/B0/s3cr3t"
    result = plan(entry(subscribers=[{"protocol": "https", "endpoint": hook}]), stack())
    assert result["changes"] == ["+ subscription https https://hooks.example.com/..."]


# --------------------------------------------------------------------------------------------- fingerprints

SPEC = described(subscribers=[{"protocol": "email", "endpoint": "oncall@example.com"}])


def _reversed(mapping):
    """The same mapping with its keys (at every level) in the opposite order."""
    if isinstance(mapping, dict):
        return dict((k, _reversed(mapping[k])) for k in reversed(list(mapping)))
    if isinstance(mapping, list):
        return [_reversed(v) for v in mapping]
    return mapping


def test_fingerprint_is_16_hex_digits_and_follows_the_content():
    value = fingerprint({"a": 1})
    assert len(value) == 16 and int(value, 16) >= 0
    assert value != fingerprint({"a": 2}) and value == fingerprint({"a": 1})


def test_the_stack_fingerprint_does_not_depend_on_key_order():
    spec, settings = SPEC["spec"], SPEC["stack"]
    assert list(_reversed(spec)) != list(spec)
    assert stack_fingerprint(_reversed(spec), _reversed(settings)) == stack_fingerprint(spec, settings) \
        == SPEC["fingerprint"]


@pytest.mark.parametrize("setting, value", [
    ("dashboard", "fleet"),
    ("topic_kms_key", "alias/monitoring"),
    ("stack_policy_body", {"Statement": [{"Effect": "Deny", "Action": "Update:Delete", "Principal": "*",
                                          "Resource": "*"}]}),
    ("role_arn", "arn:aws:iam::123456789012:role/cfn"),
    ("notification_arns", ["arn:aws:sns:us-east-1:123456789012:events"]),
    ("code", "ffffffffffffffff"),
])
def test_each_stack_setting_changes_the_stack_fingerprint(setting, value):
    assert SPEC["stack"][setting] != value
    assert stack_fingerprint(SPEC["spec"], dict(SPEC["stack"], **{setting: value})) != SPEC["fingerprint"]


def test_every_stack_setting_gives_a_fingerprint_of_its_own():
    variants = [dict(SPEC["stack"], **{k: "x"}) for k in SPEC["stack"]]
    prints = set(stack_fingerprint(SPEC["spec"], s) for s in variants)
    assert len(prints) == len(SPEC["stack"]) and SPEC["fingerprint"] not in prints


def test_a_spec_change_changes_the_stack_fingerprint():
    spec = copy.deepcopy(SPEC["spec"])
    spec["alarms"][0]["threshold"] += 1
    assert stack_fingerprint(spec, SPEC["stack"]) != SPEC["fingerprint"]


def test_an_instance_count_does_not_change_the_stack_fingerprint_an_instance_type_does():
    spec = copy.deepcopy(SPEC["spec"])
    assert spec["variants"][0]["instance_count"] != 7
    spec["variants"][0]["instance_count"] = 7  # autoscaling changes it all day; no alarm or graph depends on it
    assert stack_fingerprint(spec, SPEC["stack"]) == SPEC["fingerprint"]
    spec["variants"][0]["instance_type"] = "ml.m5.2xlarge"
    assert stack_fingerprint(spec, SPEC["stack"]) != SPEC["fingerprint"]


def test_a_plain_subscriber_does_not_change_the_stack_fingerprint_raw_delivery_does():
    spec = copy.deepcopy(SPEC["spec"])
    queue = {"protocol": "sqs", "endpoint": "arn:aws:sqs:us-east-1:123456789012:q", "raw_message_delivery": False}
    spec["subscribers"] = spec["subscribers"] + [queue]
    # a plain subscriber is compared with ListSubscriptions: no stack change for it
    assert stack_fingerprint(spec, SPEC["stack"]) == SPEC["fingerprint"]
    # raw delivery is an attribute ListSubscriptions does not show: switching it must show in the fingerprint
    queue["raw_message_delivery"] = True
    raw = stack_fingerprint(spec, SPEC["stack"])
    assert raw != SPEC["fingerprint"]
    spec["subscribers"].reverse()
    assert stack_fingerprint(spec, SPEC["stack"]) == raw  # the order of subscribers does not matter


# --------------------------------------------------------------------------------------------- small helpers

def test_subscriptions_are_grouped_by_topic():
    subs = [subscription("1", topic="a"), subscription("2", topic="b"), subscription("3", topic="a")]
    assert group_subscriptions(subs) == {"a": [subs[0], subs[2]], "b": [subs[1]]}


def test_deleted_stacks_some_servers_still_list_are_not_live():
    stacks = [stack(), dict(stack(), StackStatus="DELETE_COMPLETE"), stack("DELETE_FAILED")]
    assert [s["StackStatus"] for s in live(stacks)] == ["CREATE_COMPLETE", "DELETE_FAILED"]


def test_tags_and_outputs_of_nothing_are_empty():
    assert tags_of(None) == {} and outputs_of(None) == {} and tags_of({"StackName": "x"}) == {}
    assert tags_of(stack()) == OURS


def test_usage_counts_each_alarm_the_composite_and_the_own_dashboard():
    spec = SPEC["spec"]
    value = usage(spec, 13)
    assert [a.get("kind") for a in value["alarms"]] == [a["kind"] for a in spec["alarms"]] + ["composite"]
    assert value["dashboards"] == 1 and value["dashboard_metrics"] == 13
    assert usage(dict(spec, composite=None), 13, own_dashboard=False)["dashboards"] == 0
    assert len(usage(dict(spec, composite=None), 13)["alarms"]) == len(spec["alarms"])
    # only what pricing reads is kept, for every endpoint of a large fleet
    assert set(itertools.chain.from_iterable(value["alarms"])) <= {"kind", "period", "metric_count"}


# -- topic modes: the stack's own topic, retired by topic_mode existing ---------------------------------------------

USER_TOPICS = {"critical": "arn:aws:sns:us-east-1:123456789012:pager", "warning": "arn:aws:sns:us-east-1:123456789012:chat"}


def existing_entry(**values):
    return entry(fingerprint="fedcba9876543210", topic_mode="existing", topic_arns=USER_TOPICS, **values)


def test_a_switch_to_existing_topics_keeps_the_former_topic_and_says_so_with_its_subscriptions():
    subs = [subscription("oncall@example.com"), subscription("arn:aws:sqs:us-east-1:123456789012:q", "sqs")]
    result = plan(existing_entry(), stack(), subs)
    assert (result["status"], result["action"], result["retired_topic"]) == ("changed", "update", TOPIC)
    assert result["changes"] == [
        "~ stack %s: the settings changed since it was last applied" % STACK,
        "~ topic %s is retired: no alarm notifies it; kept with its 2 subscriptions "
        "(endpoint_monitoring_purge_subscriptions: true removes it and them)" % STACK]
    assert result["topic_retirement"] == result["changes"][1:]  # said on the real run too, not only in --diff
    # nothing is unsubscribed from it: the subscribers are not the retired topic's to keep
    assert result["subscriptions_change"] is False


def test_a_kept_retired_topic_stays_kept_and_the_next_run_is_unchanged():
    result = plan(existing_entry(), stack(fp="fedcba9876543210", topic_output="RetiredTopicArn"),
                  [subscription("oncall@example.com")])
    assert (result["status"], result["action"], result["changes"]) == ("unchanged", "none", [])
    assert result["retired_topic"] == TOPIC  # a later update of the stack keeps it too
    assert "topic_retirement" not in result


@pytest.mark.parametrize("topic_output, fp", [("TopicArn", FP), ("RetiredTopicArn", "fedcba9876543210")])
def test_with_purge_the_retired_topic_leaves_the_stack_and_its_subscriptions_are_listed(topic_output, fp):
    result = plan(existing_entry(purge_subscriptions=True), stack(fp=fp, topic_output=topic_output),
                  [subscription("oncall@example.com")])
    assert (result["status"], result["action"], result["retired_topic"]) == ("changed", "update", "")
    assert result["changes"][-1] == (
        "- topic %s and its 1 subscription (email oncall@example.com): no alarm notifies it (topic_mode existing; "
        "endpoint_monitoring_purge_subscriptions is on)" % STACK)
    assert result["topic_retirement"] == result["changes"][-1:]
    assert result["subscriptions_change"] is False


def test_a_switch_back_to_per_endpoint_takes_the_retired_topic_back_with_its_subscribers():
    result = plan(entry(subscribers=[{"protocol": "email", "endpoint": "oncall@example.com"},
                                     {"protocol": "email", "endpoint": "new@example.com"}]),
                  stack(fp="fedcba9876543210", topic_output="RetiredTopicArn"), [subscription("oncall@example.com")])
    assert (result["action"], result["retired_topic"]) == ("update", "")
    assert result["changes"][1:] == ["+ subscription email new@example.com"]


def test_the_subscriptions_are_listed_for_a_stack_whose_topic_the_mode_retires_now_or_purges():
    assert needs_own_topic_subscriptions(existing_entry(), stack())
    assert not needs_own_topic_subscriptions(existing_entry(), stack(topic_output="RetiredTopicArn"))
    assert needs_own_topic_subscriptions(existing_entry(purge_subscriptions=True), stack(topic_output="RetiredTopicArn"))
    assert not needs_own_topic_subscriptions(existing_entry(), stack(topic_output=None))
    assert not needs_own_topic_subscriptions(existing_entry(), None)
    assert not needs_own_topic_subscriptions(entry(), stack())
    assert needs_own_topic_subscriptions(entry(purge_subscriptions=True), stack())
