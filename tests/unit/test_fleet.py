from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.fleet import (
    FINGERPRINT_OUTPUT,
    fingerprint,
    is_unchanged,
    subscriptions_by_topic,
    with_fingerprint,
    without_fingerprint,
)

TEMPLATE = {"Resources": {"T": {"Type": "AWS::SNS::Topic"}}, "Outputs": {"TopicArn": {"Value": {"Ref": "T"}}}}
TAGS = {"managed-by": "mlops.sagemaker_monitoring", "sagemaker-endpoint": "ep"}


def _stack(fp, status="CREATE_COMPLETE", managed=True):
    tags = [{"Key": "managed-by", "Value": "mlops.sagemaker_monitoring"}] if managed else []
    return {"StackStatus": status, "Tags": tags, "Outputs": [{"OutputKey": FINGERPRINT_OUTPUT, "OutputValue": fp}]}


def test_fingerprint_follows_template_and_tags_and_ignores_itself():
    fp = fingerprint(TEMPLATE, TAGS)
    assert fp == fingerprint(with_fingerprint(TEMPLATE, TAGS), TAGS)
    assert fp != fingerprint(TEMPLATE, dict(TAGS, team="x"))
    changed = {"Resources": {"T": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "n"}}}}
    assert fp != fingerprint(changed, TAGS)
    assert len(fp) == 16


def test_with_fingerprint_adds_an_output_without_touching_the_input():
    applied = with_fingerprint(TEMPLATE, TAGS)
    assert applied["Outputs"][FINGERPRINT_OUTPUT]["Value"] == fingerprint(TEMPLATE, TAGS)
    assert FINGERPRINT_OUTPUT not in TEMPLATE["Outputs"]
    assert without_fingerprint(applied) == TEMPLATE


def test_unchanged_only_for_a_settled_stack_of_ours_with_the_same_fingerprint():
    fp = fingerprint(TEMPLATE, TAGS)
    assert is_unchanged(_stack(fp), fp)
    assert is_unchanged(_stack(fp, "UPDATE_COMPLETE"), fp)
    assert not is_unchanged(_stack("other"), fp)
    assert not is_unchanged(_stack(fp, "UPDATE_ROLLBACK_COMPLETE"), fp)
    assert not is_unchanged(_stack(fp, "UPDATE_IN_PROGRESS"), fp)
    assert not is_unchanged(_stack(fp, managed=False), fp)
    assert not is_unchanged(None, fp)


def test_subscriptions_grouped_by_topic():
    subs = [{"TopicArn": "a", "Endpoint": "1"}, {"TopicArn": "b", "Endpoint": "2"}, {"TopicArn": "a", "Endpoint": "3"}]
    assert subscriptions_by_topic(subs) == {"a": [subs[0], subs[2]], "b": [subs[1]]}


def test_only_raw_delivery_subscribers_are_in_the_fingerprint():
    plain = [{"protocol": "sqs", "endpoint": "arn:aws:sqs:us-east-1:123456789012:q"}]
    raw = [dict(plain[0], raw_message_delivery=True)]
    base = fingerprint(TEMPLATE, TAGS)
    # a plain subscriber is reconciled from the listing of subscriptions: no stack change for it
    assert fingerprint(TEMPLATE, TAGS, plain) == base
    # raw delivery is an attribute the listing does not show: turning it on or off changes the fingerprint
    assert fingerprint(TEMPLATE, TAGS, raw) != base
