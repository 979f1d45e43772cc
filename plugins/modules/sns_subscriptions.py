#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: sns_subscriptions
short_description: Keep the subscribers of an SNS topic in line with a list
version_added: 1.0.0
description:
  - Subscribes each listed subscriber (email, https, sqs, lambda) to the topic, once.
  - Subscriptions that are not listed are left alone, unless O(purge=true); then they are removed.
  - Reports subscriptions still waiting for confirmation (email and https subscribers must confirm).
  - Webhook URLs are shown only as scheme and host in results, since they often carry tokens.
  - "Each AWS call is retried in botocore's standard retry mode, 10 times unless O(aws_config) says otherwise
    (the role passes C(endpoint_monitoring_aws_config)): throttling, 5xx answers with or without an error
    code, dropped connections and timeouts, with a jittered backoff."
  - Subscribe, Unsubscribe and SetSubscriptionAttributes are idempotent in SNS, so a call whose answer was lost
    and that botocore sends again has the same outcome.
options:
  topic_arn:
    description:
      - ARN of the topic.
      - May be empty in check mode, for a topic that does not exist yet; every subscriber is then reported
        as to be added.
    type: str
    required: true
  subscribers:
    description: The subscribers the topic should have.
    type: list
    elements: dict
    default: []
    suboptions:
      protocol:
        description: Delivery protocol.
        type: str
        required: true
        choices: [email, https, sqs, lambda]
      endpoint:
        description: Email address, https URL, SQS queue ARN or Lambda function ARN.
        type: str
        required: true
      raw_message_delivery:
        description: Deliver the message without the SNS envelope (sqs and https only).
        type: bool
        default: false
  purge:
    description: Remove confirmed subscriptions that are not listed in O(subscribers).
    type: bool
    default: false
notes:
  - An SQS queue must allow C(sns.amazonaws.com) to send messages, and a Lambda function must allow SNS to
    invoke it; those permissions belong to the queue or function, not to this module.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - mlops.sagemaker_monitoring contributors (@example)
"""

EXAMPLES = r"""
- name: Subscribe the on-call queue and the team's address
  mlops.sagemaker_monitoring.sns_subscriptions:
    topic_arn: arn:aws:sns:eu-west-1:123456789012:sagemaker-monitoring_churn-model
    subscribers:
      - {protocol: sqs, endpoint: "arn:aws:sqs:eu-west-1:123456789012:oncall"}
      - {protocol: email, endpoint: ml-team@example.com}
"""

RETURN = r"""
changes:
  description: Each change in words, webhook URLs shortened to scheme and host.
  returned: success
  type: list
  elements: str
subscribed:
  description: Subscribers added by this run (protocol and endpoint).
  returned: success
  type: list
  elements: dict
unsubscribed:
  description: Subscriptions removed by this run (only with O(purge=true)).
  returned: success
  type: list
  elements: dict
pending_confirmation:
  description: Listed subscribers that have not confirmed yet.
  returned: success
  type: list
  elements: dict
unlisted:
  description: Subscriptions on the topic that are not listed and were left alone.
  returned: success
  type: list
  elements: dict
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.client_config import client_config
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.subscriptions import (
    PENDING,
    describe_plan,
    describe_raw_updates,
    plan_subscriptions,
    raw_delivery_updates,
    redact,
)


def _show(protocol, endpoint):
    return {"protocol": protocol, "endpoint": redact(protocol, endpoint)}


def list_subscriptions(client, topic_arn):
    paginator = client.get_paginator("list_subscriptions_by_topic")
    return paginator.paginate(TopicArn=topic_arn).build_full_result().get("Subscriptions", [])


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            topic_arn=dict(type="str", required=True),
            subscribers=dict(
                type="list", elements="dict", default=[],
                options=dict(
                    protocol=dict(type="str", required=True, choices=["email", "https", "sqs", "lambda"]),
                    endpoint=dict(type="str", required=True),
                    raw_message_delivery=dict(type="bool", default=False),
                ),
            ),
            purge=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    p = module.params
    for sub in p["subscribers"] or []:
        if sub.get("protocol") in ("http", "https") and sub.get("endpoint"):
            module.no_log_values.add(sub["endpoint"])  # webhook URLs often hold tokens
    topic_arn = p["topic_arn"]
    if not topic_arn and not module.check_mode:
        module.fail_json(msg="topic_arn is empty")
    client = module.client("sns", retry_decorator=AWSRetry.jittered_backoff(), config=client_config())

    existing = []
    if topic_arn:
        try:
            existing = AWSRetry.jittered_backoff()(list_subscriptions)(client, topic_arn)
        except is_boto3_error_code("NotFound"):
            if not module.check_mode:
                module.fail_json(msg="SNS topic %s does not exist" % topic_arn)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:  # pylint: disable=duplicate-except
            module.fail_json_aws(e, msg="Failed to list the subscriptions of %s" % topic_arn)

    plan = plan_subscriptions(existing, p["subscribers"], purge=p["purge"])
    pending = [_show(s["Protocol"], s["Endpoint"]) for s in plan["pending"]]
    try:
        attribute_updates = raw_delivery_updates(plan["keep"], lambda arn: client.get_subscription_attributes(
            aws_retry=True, SubscriptionArn=arn).get("Attributes", {}))
        if not module.check_mode:
            for wanted in plan["subscribe"]:
                kwargs = dict(TopicArn=topic_arn, Protocol=wanted["protocol"], Endpoint=wanted["endpoint"],
                              ReturnSubscriptionArn=True)
                if wanted["raw_message_delivery"]:
                    kwargs["Attributes"] = {"RawMessageDelivery": "true"}
                arn = client.subscribe(aws_retry=True, **kwargs).get("SubscriptionArn", PENDING)
                if arn.lower() in (PENDING.lower(), "pending confirmation") or (
                        wanted["protocol"] in ("email", "https") and _is_pending(client, arn)):
                    pending.append(_show(wanted["protocol"], wanted["endpoint"]))
            for sub in plan["unsubscribe"]:
                client.unsubscribe(aws_retry=True, SubscriptionArn=sub["SubscriptionArn"])
            for arn, wanted in attribute_updates:
                client.set_subscription_attributes(
                    aws_retry=True, SubscriptionArn=arn, AttributeName="RawMessageDelivery",
                    AttributeValue="true" if wanted["raw_message_delivery"] else "false")
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        module.fail_json_aws(e, msg="Failed to update the subscriptions of %s" % topic_arn)

    lines = describe_plan(plan) + describe_raw_updates(attribute_updates)
    result = dict(
        changed=bool(lines),
        subscribed=[_show(s["protocol"], s["endpoint"]) for s in plan["subscribe"]],
        unsubscribed=[_show(s["Protocol"], s["Endpoint"]) for s in plan["unsubscribe"]],
        pending_confirmation=pending,
        unlisted=[_show(s["Protocol"], s["Endpoint"]) for s in plan["unlisted"]],
        changes=lines,
    )
    if lines:
        result["diff"] = {"prepared": "%s:\n%s\n" % (topic_arn or "new topic", "\n".join(lines))}
    module.exit_json(**result)


def _is_pending(client, arn):
    try:
        attrs = client.get_subscription_attributes(aws_retry=True, SubscriptionArn=arn)["Attributes"]
    except is_boto3_error_code("NotFound"):
        return True
    return attrs.get("PendingConfirmation") == "true"


if __name__ == "__main__":
    main()
