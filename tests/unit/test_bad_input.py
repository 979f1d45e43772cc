"""Bad input (issue #14, point 5): each case is one endpoint's settings, as an inventory gives them, run through the
role's first task (monitoring_prepare, in the controller, before any AWS call). Each is refused with one message that
names the endpoint and the field and shows the value as the user wrote it, never the class Ansible wraps it in."""

import pytest

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils import regions
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_spec import (
    EMAIL,
    HTTPS_URL,
    LAMBDA_ARN,
    PERCENTILE,
    REGION,
    SAGEMAKER_NAME,
    SQS_ARN,
    STACK_NAME,
)
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_settings import (
    DASHBOARD_NAME,
    KMS_KEY,
    ROLE_ARN,
    TOPIC_ARN,
)

from test_monitoring_prepare import DESCRIBED, no_region_in_the_environment, prepare  # noqa: F401 (autouse fixture)

HOST = "churn@us-east-1"
M = "endpoint_monitoring_endpoint_metrics"
S = "endpoint_monitoring_endpoint_subscribers"
ACCOUNT = "123456789012"
SQS = "arn:aws:sqs:us-east-1:%s:alarms" % ACCOUNT
LAMBDA = "arn:aws:lambda:us-east-1:%s:function:notify" % ACCOUNT
TOPIC = "arn:aws:sns:us-east-1:%s:stack-events" % ACCOUNT
ROLE = "arn:aws:iam::%s:role/cfn-monitoring" % ACCOUNT
KEY_ARN = "arn:aws:kms:us-east-1:%s:key/1234abcd-12ab-34cd-56ef-1234567890ab" % ACCOUNT


def metric(name, **settings):
    return {M: {name: settings}}


def subscriber(protocol, endpoint):
    return {S: [{"protocol": protocol, "endpoint": endpoint}]}


def tags(**values):
    return {"endpoint_monitoring_tags": values}


def setting(name, value):
    return {"endpoint_monitoring_" + name: value}


USER_TOPIC = "arn:aws:sns:us-east-1:%s:oncall" % ACCOUNT


def existing(**topic_arns):
    """Topic mode existing with these topics per severity."""
    return {"endpoint_monitoring_topic_mode": "existing", "endpoint_monitoring_topic_arns": topic_arns}


def config(**values):
    return {"endpoint_monitoring_aws_config": values}


def policy(**statement):
    """A stack policy of one statement: allow every update, but for what `statement` changes."""
    return {"endpoint_monitoring_stack_policy_body": {"Statement": [
        dict({"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"}, **statement)]}}


def many_tags(count):
    return {"endpoint_monitoring_tags": dict(("tag%02d" % i, "v") for i in range(count))}


# (case id, the endpoint's host variables over DESCRIBED, the field the message names, a fragment of the message).
# The host is churn@us-east-1 unless the case's variables say otherwise ("host" is popped from them).
CASES = [
    # -- a trailing newline passes no pattern: every one matches the whole string ---------------------------
    ("endpoint-name-newline", setting("endpoint_name", "churn\n"), "endpoint_name", "'churn\\n'"),
    ("variant-newline", setting("variants", ["AllTraffic\n"]), "variants[0]", "'AllTraffic\\n'"),
    ("variant-mapping-name-newline", setting("variants", [{"name": "blue\n", "instance_type": "ml.m5.xlarge"}]),
     "variants[0].name", "'blue\\n'"),
    ("inference-component-newline", setting("inference_components", ["ranker\n"]), "inference_components",
     "'ranker\\n'"),
    ("region-newline", setting("region", "eu-west-1\n"), "region", "'eu-west-1\\n'"),
    ("kms-alias-newline", setting("topic_kms_key", "alias/monitoring\n"), "topic_kms_key", "'alias/monitoring\\n'"),
    ("kms-arn-newline", setting("topic_kms_key", KEY_ARN + "\n"), "topic_kms_key", "\\n'"),
    ("role-arn-newline", setting("role_arn", ROLE + "\n"), "role_arn", "cfn-monitoring\\n'"),
    ("notification-arn-newline", setting("notification_arns", [TOPIC + "\n"]), "notification_arns[0]",
     "stack-events\\n'"),
    ("email-newline", subscriber("email", "oncall@example.com\n"), S + "[0].endpoint", "'oncall@example.com\\n'"),
    ("sqs-newline", subscriber("sqs", SQS + "\n"), S + "[0].endpoint", "alarms\\n'"),
    ("lambda-newline", subscriber("lambda", LAMBDA + "\n"), S + "[0].endpoint", "notify\\n'"),
    ("https-newline", subscriber("https", "https://hooks.example.com/T0KEN\n"), S + "[0].endpoint", "hidden"),
    ("percentile-newline", metric("ModelLatency", statistic="p99\n"), M + ".ModelLatency.statistic", "'p99\\n'"),
    ("fleet-dashboard-name-newline", setting("fleet_dashboard_name", "fleet\n"),
     "endpoint_monitoring_fleet_dashboard_name", "'fleet\\n'"),
    ("endpoint-url-newline", setting("aws_endpoint_url", "http://127.0.0.1:4566\n"),
     "endpoint_monitoring_aws_endpoint_url", "'http://127.0.0.1:4566\\n'"),
    # ... and only ASCII digits (\d also matches other scripts' digits)
    ("region-arabic-digit", setting("region", "eu-west-\u0661"), "region", "is not an AWS region name"),
    ("sqs-fullwidth-account", subscriber("sqs", "arn:aws:sqs:us-east-1:\uff11\uff12\uff13\uff14\uff15\uff16"
                                                "\uff17\uff18\uff19\uff10\uff11\uff12:alarms"),
     S + "[0].endpoint", "an SQS queue ARN"),
    ("role-name-not-ascii", setting("role_arn", "arn:aws:iam::%s:role/r\u00f4le" % ACCOUNT), "role_arn",
     "is not an IAM role ARN"),
    # -- regions: botocore's partition data --------------------------------------------------------------------
    ("region-typo", setting("region", "eu-wset-1"), "region", "did you mean 'eu-west-1'?"),
    ("region-unknown-number", setting("region", "us-east-7"), "region",
     "'us-east-7' is not a region botocore knows"),
    ("region-typo-in-host-name", {"host": "churn@eu-wset-1"}, "region", "'eu-wset-1' is not a region botocore knows"),
    ("region-upper-case", setting("region", "EU-WEST-1"), "region", "'EU-WEST-1' is not an AWS region name"),
    ("region-of-endpoint-to-remove", dict(setting("region", "us-east-7"), endpoint_monitoring_state="absent"),
     "region", "endpoint_monitoring_allow_unlisted_region: true"),
    # -- thresholds that can never fire, or always fire, for their comparison ----------------------------------
    ("latency-negative-always-fires", metric("ModelLatency", threshold=-5), M + ".ModelLatency.threshold",
     "always be in ALARM: no value of ModelLatency is below 0, so every value is above -5"),
    ("latency-at-least-zero-always-fires", metric("ModelLatency", threshold=0, comparison=">="),
     M + ".ModelLatency.threshold", "always be in ALARM"),
    ("memory-below-150-always-fires", metric("MemoryUtilization", threshold=150, comparison="<"),
     M + ".MemoryUtilization.threshold", "always below 150"),
    ("memory-at-most-100-always-fires", metric("MemoryUtilization", threshold=100, comparison="<="),
     M + ".MemoryUtilization.threshold", "always be in ALARM"),
    ("error-rate-at-most-100-always-fires", metric("Invocation5XXErrors", threshold=100, comparison="<="),
     M + ".Invocation5XXErrors.threshold", "percentage of requests"),
    ("cpu-per-vcpu-over-100-never-fires", metric("CPUUtilization", threshold=150), M + ".CPUUtilization.threshold",
     "never exceeds 150"),
    ("invocations-below-zero-never-fires", metric("Invocations", enabled=True, threshold=-1),
     M + ".Invocations.threshold", "could never fire"),
    # -- numbers past what CloudWatch takes, as written or once scaled to the metric's unit -----------------
    ("latency-overflows-once-scaled", metric("ModelLatency", threshold=1.0e306), M + ".ModelLatency.threshold",
     "1e+306 ms is beyond the largest number CloudWatch takes"),
    ("overhead-overflows-once-scaled", metric("OverheadLatency", threshold=5e305), M + ".OverheadLatency.threshold",
     "5e+305 ms"),
    ("threshold-past-double", metric("InvocationsPerInstance", threshold=10 ** 400),
     M + ".InvocationsPerInstance.threshold", "beyond the largest number CloudWatch takes"),
    ("min-invocations-past-double", metric("Invocation5XXErrors", min_invocations=10 ** 400),
     M + ".Invocation5XXErrors.min_invocations", "beyond the largest number"),
    ("period-longer-than-any-window", metric("ModelLatency", period=60 * 10 ** 6, evaluation_periods=1),
     M + ".ModelLatency.period", "60000000 seconds"),
    ("evaluation-periods-huge", metric("ModelLatency", evaluation_periods=10 ** 12), M + ".ModelLatency."
     "evaluation_periods", "CloudWatch allows at most 86400"),
    # -- settings that reach AWS only as numbers: timeouts and counts ------------------------------------------
    ("create-timeout-negative", setting("stack_create_timeout", -5), "endpoint_monitoring_stack_create_timeout",
     "from 1 to 2147483647, got -5"),
    ("create-timeout-zero", setting("stack_create_timeout", 0), "endpoint_monitoring_stack_create_timeout",
     "got 0"),
    ("create-timeout-past-32-bits", setting("stack_create_timeout", 2 ** 31),
     "endpoint_monitoring_stack_create_timeout", "got 2147483648"),
    ("wait-timeout-negative", setting("wait_timeout", -1), "endpoint_monitoring_wait_timeout", "got -1"),
    ("wait-timeout-of-endpoint-to-remove", dict(setting("wait_timeout", -1), endpoint_monitoring_state="absent"),
     "endpoint_monitoring_wait_timeout", "got -1"),
    ("retries-negative", config(retries={"mode": "standard", "max_attempts": -1}),
     "endpoint_monitoring_aws_config.retries.max_attempts", "got -1"),
    ("retries-as-text", config(retries={"mode": "standard", "max_attempts": "10"}),
     "endpoint_monitoring_aws_config.retries.max_attempts", "got '10'"),
    ("retry-mode-unknown", config(retries={"mode": "fast"}), "endpoint_monitoring_aws_config", '"fast"'),
    ("aws-config-misspelt", config(retry={"mode": "standard"}), "endpoint_monitoring_aws_config", "'retry'"),
    ("connect-timeout-negative", config(connect_timeout=-1), "endpoint_monitoring_aws_config.connect_timeout",
     "got -1"),
    ("stack-policy-effect-misspelt", policy(Effect="Alow"),
     "endpoint_monitoring_stack_policy_body.Statement[0].Effect", "must be Allow or Deny, got 'Alow'"),
    ("stack-policy-iam-action", policy(Action="cloudformation:UpdateStack"),
     "endpoint_monitoring_stack_policy_body.Statement[0].Action", "got 'cloudformation:UpdateStack'"),
    ("stack-policy-principal", policy(Principal={"AWS": "arn:aws:iam::%s:root" % ACCOUNT}),
     "endpoint_monitoring_stack_policy_body.Statement[0].Principal", "must be '*'"),
    ("instance-count-negative", setting("variants", [{"name": "AllTraffic", "instance_count": -1}]),
     "variants[0].instance_count", "got int -1"),
    # -- CloudFormation's tag rules -----------------------------------------------------------------------------
    ("tag-value-300-characters", tags(team="x" * 300), "tags.team", "300 characters long"),
    ("tag-value-empty", tags(team=""), "tags.team", "the value is empty"),
    ("tag-key-129-characters", {"endpoint_monitoring_tags": {"k" * 129: "v"}}, "tags." + "k" * 129,
     "129 characters long"),
    ("tag-key-aws-prefix", {"endpoint_monitoring_tags": {"aws:team": "fraud"}}, "tags.aws:team", "reserved"),
    ("tag-key-aws-prefix-upper-case", {"endpoint_monitoring_tags": {"AWS:team": "fraud"}}, "tags.AWS:team",
     "reserved"),
    ("tags-51-with-the-collections-two", many_tags(49), "tags", "49 tags and the collection's 2"),
    ("tag-value-a-number", {"endpoint_monitoring_tags": {"cost-centre": 42}}, "tags.cost-centre",
     "quote it: '42'"),
    ("tag-value-null", tags(team=None), "tags.team", "got null"),
    ("tag-reserved-by-the-collection", {"endpoint_monitoring_tags": {"managed-by": "me"}}, "tags.managed-by",
     "set by the collection"),
    # -- values shown as written, never Ansible's class names ----------------------------------------------------
    ("threshold-as-text", metric("ModelLatency", threshold="500"), M + ".ModelLatency.threshold",
     "must be a number, got str '500'"),
    ("wait-timeout-as-words", setting("wait_timeout", "long"), "endpoint_monitoring_wait_timeout",
     "must be a whole number, got 'long'"),
    ("multi-model-as-words", setting("multi_model", "perhaps"), "endpoint_monitoring_multi_model",
     "must be true or false, got 'perhaps'"),
    ("endpoint-type-unknown", setting("endpoint_type", "batch"), "endpoint_monitoring_endpoint_type",
     "must be one of realtime, serverless, async, got 'batch'"),
    ("metrics-as-a-list", {M: ["ModelLatency"]}, M, "must be a mapping, got ['ModelLatency']"),
    # -- connection and run settings: each fails its endpoint alone ------------------------------------------
    ("profile-unknown", setting("aws_profile", "opps"), "endpoint_monitoring_aws_profile",
     "'opps' is in neither the AWS config file nor the shared credentials file (did you mean 'ops'?)"),
    ("profile-of-endpoint-to-remove", dict(setting("aws_profile", "nope"), endpoint_monitoring_state="absent"),
     "endpoint_monitoring_aws_profile", "'nope'"),
    ("endpoint-url-without-scheme", setting("aws_endpoint_url", "localhost:4566"),
     "endpoint_monitoring_aws_endpoint_url", "'localhost:4566' is not an http:// or https:// URL"),
    ("fleet-dashboard-name-with-space", setting("fleet_dashboard_name", "fleet board"),
     "endpoint_monitoring_fleet_dashboard_name", "'fleet board'"),
    ("fleet-dashboard-name-too-long", setting("fleet_dashboard_name", "f" * 250),
     "endpoint_monitoring_fleet_dashboard_name", "255 at most"),
    ("undefined-variable", tags(team="{{ no_such_variable }}"), "endpoint_monitoring_tags", "cannot be templated"),
    # -- topic modes ---------------------------------------------------------------------------------------------
    ("topic-mode-unknown", setting("topic_mode", "per_region"), "endpoint_monitoring_topic_mode", "'per_region'"),
    ("existing-topic-arn-missing", existing(critical=USER_TOPIC), "endpoint_monitoring_topic_arns.warning",
     "is required with topic_mode existing"),
    ("existing-topic-arn-other-region", existing(critical=USER_TOPIC, warning=USER_TOPIC.replace("us-east-1",
                                                                                                "eu-west-1")),
     "endpoint_monitoring_topic_arns.warning", "not in the endpoint's region us-east-1"),
    ("existing-topic-arn-other-partition", existing(critical=USER_TOPIC.replace("arn:aws:", "arn:aws-cn:"),
                                                    warning=USER_TOPIC),
     "endpoint_monitoring_topic_arns.critical", "(partition aws)"),
    ("existing-topic-arn-fifo", existing(critical=USER_TOPIC + ".fifo", warning=USER_TOPIC),
     "endpoint_monitoring_topic_arns.critical", "CloudWatch cannot notify a FIFO topic"),
    ("existing-topic-arn-newline", existing(critical=USER_TOPIC + "\n", warning=USER_TOPIC),
     "endpoint_monitoring_topic_arns.critical", "oncall\\n'"),
    ("existing-topic-severity-misspelt", existing(critical=USER_TOPIC, warning=USER_TOPIC, warnings=USER_TOPIC),
     "endpoint_monitoring_topic_arns.warnings", "did you mean 'warning'?"),
    ("existing-topics-with-subscribers", dict(existing(critical=USER_TOPIC, warning=USER_TOPIC),
                                              **subscriber("email", "oncall@example.com")),
     "endpoint_monitoring_subscribers", "never changes the subscriptions of your topics"),
    ("topic-arns-in-per-endpoint-mode", setting("topic_arns", {"critical": USER_TOPIC, "warning": USER_TOPIC}),
     "endpoint_monitoring_topic_arns", "is only for topic_mode existing"),
]


def test_the_table_has_50_distinct_cases_or_more():
    assert len(CASES) >= 50
    assert len(set(case[0] for case in CASES)) == len(CASES)


@pytest.mark.parametrize("host_vars, field, fragment", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_bad_input_is_refused_with_one_message_naming_the_endpoint_and_the_field(host_vars, field, fragment):
    host_vars = dict(host_vars)
    host = host_vars.pop("host", HOST)
    result = prepare(host, dict(DESCRIBED, **host_vars))
    assert result.get("failed") is True, result
    message = result["msg"]
    endpoint = host_vars.get("endpoint_monitoring_endpoint_name", host.partition("@")[0])
    assert message.startswith("endpoint %r: %s: " % (endpoint, field)), message
    assert fragment in message, message
    assert len(message.splitlines()) == 1, "more than one problem reported:\n" + message
    assert "_Ansible" not in message and "<class" not in message, message
    # refused before anything that the plan would compare with AWS, let alone write
    assert "plan_entry" not in result and "spec" not in result and "fingerprint" not in result


# --------------------------------------------------------------------------------------------- the option

def test_an_unlisted_region_is_taken_when_allowed():
    result = prepare("churn@us-east-7", dict(DESCRIBED, endpoint_monitoring_allow_unlisted_region=True),
                     args={"include_spec": True})
    assert not result.get("failed"), result.get("msg")
    assert result["region"] == "us-east-7" and result["spec"]["region"] == "us-east-7"
    # still only a name that looks like a region
    result = prepare("churn", dict(DESCRIBED, endpoint_monitoring_region="mars",
                                   endpoint_monitoring_allow_unlisted_region=True))
    assert result["msg"] == "endpoint 'churn': region: 'mars' is not an AWS region name such as eu-west-1"


def test_every_partition_of_botocore_is_known():
    known = regions.known_regions()
    for region in ("us-east-1", "eu-west-1", "cn-north-1", "us-gov-west-1", "us-iso-east-1", "eusc-de-east-1"):
        assert region in known, region
    assert not [r for r in known if not REGION.match(r)]
    assert "aws-global" not in known


def test_good_tags_at_the_limits_pass():
    values = {"k" * 128: "v" * 256, "a": "b"}
    values.update(("tag%02d" % i, "v") for i in range(46))  # 48 and the collection's 2 make 50
    result = prepare(HOST, dict(DESCRIBED, endpoint_monitoring_tags=values), args={"include_spec": True})
    assert not result.get("failed"), result.get("msg")
    assert len(result["spec"]["tags"]) == 50


def test_thresholds_next_to_the_refused_ones_pass():
    metrics = {"ModelLatency": {"threshold": 0},  # > 0: fires on any latency
               "MemoryUtilization": {"threshold": 100, "comparison": "<"},
               "OverheadLatency": {"threshold": 1e300}}
    result = prepare(HOST, dict(DESCRIBED, endpoint_monitoring_endpoint_metrics=metrics), args={"include_spec": True})
    assert not result.get("failed"), result.get("msg")


def test_a_stack_policy_of_several_statements_passes():
    body = {"Statement": [{"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"},
                          {"Effect": "Deny", "NotAction": ["Update:Modify", "Update:Replace"], "Principal": "*",
                           "NotResource": "LogicalResourceId/AlarmTopic"}]}
    assert not prepare(HOST, dict(DESCRIBED, endpoint_monitoring_stack_policy_body=body)).get("failed")


@pytest.mark.parametrize("timeout", [1, 2 ** 31 - 1])
def test_create_timeouts_at_the_limits_pass(timeout):
    assert not prepare(HOST, dict(DESCRIBED, endpoint_monitoring_stack_create_timeout=timeout)).get("failed")


def test_several_problems_of_one_endpoint_are_all_reported():
    result = prepare(HOST, dict(DESCRIBED, endpoint_monitoring_tags={"aws:x": "y"},
                                endpoint_monitoring_stack_create_timeout=-1, endpoint_monitoring_wait_timeout=-1,
                                endpoint_monitoring_topic_kms_key="my key"))
    fields = [line.split(": ")[1] for line in result["msg"].splitlines()]
    assert fields == ["tags.aws:x", "topic_kms_key", "endpoint_monitoring_stack_create_timeout",
                      "endpoint_monitoring_wait_timeout"]


# --------------------------------------------------------------------------------------------- every pattern

PATTERNS = [
    (SAGEMAKER_NAME, "churn"), (STACK_NAME, "sagemaker-monitoring-churn"), (REGION, "eu-west-1"),
    (PERCENTILE, "p99.9"), (EMAIL, "oncall@example.com"), (HTTPS_URL, "https://hooks.example.com/x"),
    (SQS_ARN, SQS), (LAMBDA_ARN, LAMBDA), (KMS_KEY, KEY_ARN), (KMS_KEY, "alias/monitoring"), (ROLE_ARN, ROLE),
    (TOPIC_ARN, TOPIC), (DASHBOARD_NAME, "sagemaker-monitoring-fleet"),
]


@pytest.mark.parametrize("pattern, good", PATTERNS, ids=[p[1] for p in PATTERNS])
def test_every_name_pattern_matches_the_whole_string_only(pattern, good):
    assert pattern.match(good)
    for bad in (good + "\n", good + " ", " " + good, "\n" + good, good + "\n\n", good + "\r"):
        assert not pattern.match(bad), repr(bad)
