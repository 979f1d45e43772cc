"""The shipped IAM policies (iam/) are exactly what the collection, and CloudFormation for it, need.

A representative run goes through recording proxies: on LocalStack a rollout with subscriptions (one endpoint's
stack with a CloudFormation service role), a re-run, a check-mode preview, a purge of subscriptions, a dashboard
preview from CloudWatch data and a teardown; on moto (the SageMaker API) the inventory plugin, with and without a
region list, and a rollout with pruning; on both at once (SageMaker on moto, the rest on LocalStack) a rollout of
endpoints that the inventory names only, completed from SageMaker. Every (service, operation) the collection
called must be allowed by the policy, by name; and the policy allows nothing else, except the actions
iam/README.md lists with the reason: CloudFormation creating the stack's resources with the caller's permissions,
and passing a service role to CloudFormation, which no proxy sees.

The stack writes are allowed only on stacks tagged as the collection's (aws:ResourceTag) and only with that tag
in the request (aws:RequestTag): every CreateStack and UpdateStack the collection sent carries it.

With endpoint_monitoring_role_arn, two more: the runner's policy without any alarm, topic or per-endpoint dashboard
write (iam/sagemaker-monitoring-runner-with-service-role-policy.json), which must still allow every call of the
same run, and the CloudFormation service role's (iam/sagemaker-monitoring-cfn-service-role-policy.json), which must
hold exactly what CloudFormation calls for the resource types of the templates the run sent: the create, read,
update and delete handler permissions of each type's registry schema (HANDLER_PERMISSIONS, compared with the
schemas cfn-lint ships and cited in iam/README.md), on the names those templates give.

The drift repair's calls (a drift-aware change set) cannot run on LocalStack: DRIFT_REPAIR_CALLS is the repair
module's own list of them.
"""

import fnmatch
import json
import os
import re
import subprocess
import sys
import uuid

import pytest
import yaml

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.drift import REPAIR_CALLS
from conftest import REGION, ROOT, Inventory, ansible_env, run_playbook, unique

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_spec import COLLECTION, MANAGED_BY_TAG

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "support"))

import aws_proxy  # noqa: E402

pytestmark = pytest.mark.integration

# The CloudFormation operations of the drift repair: a drift-aware change set (CreateChangeSet with
# DeploymentMode=REVERT_DRIFT, ChangeSetType=UPDATE and the stack's tags in the request), described, executed, and
# deleted when it failed; the stack described. LocalStack cannot run drift-aware change sets, so no proxy of this
# file records them: the repair module's Stubber tests prove that these are its calls (this constant is to become
# that module's own list of them).
DRIFT_REPAIR_CALLS = REPAIR_CALLS  # proven by tests/unit/test_revert_drift.py
FEW_RETRIES = {"retries": {"mode": "standard", "max_attempts": 2}}

POLICY = os.path.join(ROOT, "iam", "sagemaker-monitoring-policy.json")
RUNNER_WITH_ROLE_POLICY = os.path.join(ROOT, "iam", "sagemaker-monitoring-runner-with-service-role-policy.json")
SERVICE_ROLE_POLICY = os.path.join(ROOT, "iam", "sagemaker-monitoring-cfn-service-role-policy.json")
SERVICE_ROLE_TRUST = os.path.join(ROOT, "iam", "sagemaker-monitoring-cfn-service-role-trust.json")
RUNNER_POLICIES = (POLICY, RUNNER_WITH_ROLE_POLICY)
PERMISSION_POLICIES = RUNNER_POLICIES + (SERVICE_ROLE_POLICY,)
TEMPLATE = os.path.join(ROOT, "roles", "endpoint_monitoring", "templates", "monitoring_stack.yml.j2")
POLICY_README = os.path.join(ROOT, "iam", "README.md")
SQS_PREFIX = "arn:aws:sqs:%s:000000000000:" % REGION
ROLE_ARN = "arn:aws:iam::123456789012:role/sagemaker"
# The CloudFormation service role an endpoint of the representative run names (endpoint_monitoring_role_arn).
SERVICE_ROLE_ARN = "arn:aws:iam::000000000000:role/sagemaker-monitoring-cloudformation"
# Signing name in the SigV4 credential scope -> IAM service prefix.
IAM_PREFIX = {"monitoring": "cloudwatch", "cloudformation": "cloudformation", "sns": "sns", "sagemaker": "sagemaker",
              "sts": "sts", "ec2": "ec2", "sqs": "sqs", "iam": "iam"}
STACKS = "arn:aws:cloudformation:*:*:stack/sagemaker-monitoring-*/*"
# What a stack holds is named sagemaker-monitoring_<endpoint>...; fleet dashboards sagemaker-monitoring-fleet-<region>
TOPICS = "arn:aws:sns:*:*:sagemaker-monitoring_*"
ALARMS = "arn:aws:cloudwatch:*:*:alarm:sagemaker-monitoring_*"
FLEET_DASHBOARDS = "arn:aws:cloudwatch::*:dashboard/sagemaker-monitoring-*"
ENDPOINT_DASHBOARDS = "arn:aws:cloudwatch::*:dashboard/sagemaker-monitoring_*"
DASHBOARDS = [FLEET_DASHBOARDS, ENDPOINT_DASHBOARDS]
ACCOUNT = "123456789012"  # any account: the policies name none
STACK_ID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"  # the id part of a stack's ARN
CALLED_VIA_CLOUDFORMATION = {"ForAnyValue:StringEquals": {"aws:CalledVia": ["cloudformation.amazonaws.com"]}}
RESOURCE_TAG = {"aws:ResourceTag/" + MANAGED_BY_TAG: COLLECTION}
REQUEST_TAG = {"aws:RequestTag/" + MANAGED_BY_TAG: COLLECTION}
# The stack actions whose request can carry tags (aws:RequestTag in the Service Authorization Reference); the
# others act on an existing stack, whose tag aws:ResourceTag reads.
TAGGED_REQUESTS = ("cloudformation:CreateStack", "cloudformation:UpdateStack", "cloudformation:CreateChangeSet")
# What the runner never does itself once a service role does it: alarm and topic writes.
RESOURCE_WRITES = ("cloudwatch:PutMetricAlarm", "cloudwatch:PutCompositeAlarm", "cloudwatch:DeleteAlarms",
                   "sns:CreateTopic", "sns:DeleteTopic", "sns:SetTopicAttributes")

# What CloudFormation calls for each resource type a stack holds: the permissions its registry schema lists for
# the create, read, update and delete handlers (read: drift detection and drift-aware change sets compare with
# it; the list handler serves Cloud Control and resource scans, never a stack), less LEFT_OUT. iam/README.md cites
# this table, and test_the_handler_table_is_the_registry_schemas_and_the_readme_cites_it compares it with the
# schemas cfn-lint (requirements.txt) ships.
SCHEMA_HANDLERS = ("create", "read", "update", "delete")
HANDLER_PERMISSIONS = {
    "AWS::CloudWatch::Alarm": {
        "cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms",
        "cloudwatch:TagResource", "cloudwatch:UntagResource", "cloudwatch:ListTagsForResource"},
    "AWS::CloudWatch::CompositeAlarm": {
        "cloudwatch:PutCompositeAlarm", "cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms",
        "cloudwatch:TagResource", "cloudwatch:UntagResource", "cloudwatch:ListTagsForResource"},
    "AWS::CloudWatch::Dashboard": {
        "cloudwatch:PutDashboard", "cloudwatch:GetDashboard", "cloudwatch:DeleteDashboards",
        "cloudwatch:TagResource", "cloudwatch:UntagResource", "cloudwatch:ListTagsForResource"},
    "AWS::SNS::Topic": {
        "sns:CreateTopic", "sns:DeleteTopic", "sns:GetTopicAttributes", "sns:SetTopicAttributes",
        "sns:TagResource", "sns:UntagResource", "sns:ListTagsForResource", "sns:ListSubscriptionsByTopic",
        "sns:GetDataProtectionPolicy"},
    "AWS::SNS::TopicPolicy": {"sns:SetTopicAttributes"},
}
# Handler permissions that serve only a property the template never sets: {type: {action: property}}.
LEFT_OUT = {
    "AWS::SNS::Topic": {"sns:Subscribe": "Subscription", "sns:Unsubscribe": "Subscription",
                        "sns:PutDataProtectionPolicy": "DataProtectionPolicy",
                        "iam:GetRole": "DeliveryStatusLogging", "iam:PassRole": "DeliveryStatusLogging"},
}


def load_policy(path=POLICY):
    with open(path) as f:
        return json.load(f)


def policy_id(path):
    return os.path.basename(path)[:-len(".json")]


def drift_actions():
    return ["cloudformation:" + operation for operation in DRIFT_REPAIR_CALLS]


def statements(policy):
    found = policy["Statement"]
    return found if isinstance(found, list) else [found]


def as_list(value):
    return value if isinstance(value, list) else [value]


def allowed(policy):
    """{action: [resources]} over the policy's Allow statements."""
    actions = {}
    for statement in statements(policy):
        if statement["Effect"] != "Allow":
            continue
        for action in as_list(statement["Action"]):
            actions.setdefault(action, []).extend(as_list(statement["Resource"]))
    return actions


UNSEEN_HEADING = "## Allowed but not seen by the tests"
SERVICE_ROLE_HEADING = "## With a CloudFormation service role"
DRIFT_HEADING = "## Drift repair"
HANDLERS_HEADING = "## The service role's policy"


def _table(text):
    return dict((m.group(1), m.group(2).strip()) for m in re.finditer(r"^\|\s*`([a-z0-9-]+:[A-Za-z]+)`\s*\|([^|]+)\|",
                                                                     text, re.M))


def readme_section(heading):
    """The text of one `## ` section of iam/README.md (empty when there is none)."""
    with open(POLICY_README) as f:
        parts = f.read().split("\n" + heading + "\n")
    return parts[1].split("\n## ")[0] if len(parts) > 1 else ""


def justified_extras():
    """Actions iam/README.md lists as needed but unseen by the proxies, because CloudFormation makes them:
    `prefix:Action` in the first column of the table of its section on them."""
    return _table(readme_section(UNSEEN_HEADING))


def service_role_extras():
    """Actions needed only to pass a CloudFormation service role (endpoint_monitoring_role_arn): AWS checks them
    when the stack call names the role, no proxy sees them."""
    return _table(readme_section(SERVICE_ROLE_HEADING))


def drift_repair_extras():
    """The drift repair's actions, as iam/README.md lists them."""
    return _table(readme_section(DRIFT_HEADING))


def handler_table():
    """{resource type: (actions, {left-out action: property})} from iam/README.md's table of the service role's
    actions: rows `| `AWS::X::Y` | `a:B`, ... | `c:D` (`Property`); ... | source |`."""
    table = {}
    rows = r"^\|\s*`(AWS::\w+::\w+)`\s*\|([^|]*)\|([^|]*)\|([^|]*)\|"
    for row in re.finditer(rows, readme_section(HANDLERS_HEADING), re.M):
        left_out = {}
        for part in row.group(3).split(";"):
            properties = re.findall(r"\(`(\w+)`\)", part)
            for action in re.findall(r"`([a-z0-9-]+:[A-Za-z]+)`", part):
                left_out[action] = properties[0] if len(properties) == 1 else properties
        table[row.group(1)] = (set(re.findall(r"`([a-z0-9-]+:[A-Za-z]+)`", row.group(2))), left_out, row.group(4))
    return table


def sent_templates(observed):
    """The templates the run sent (TemplateBody of each CreateStack and UpdateStack; the role renders YAML)."""
    calls = observed.get("cloudformation:CreateStack", []) + observed.get("cloudformation:UpdateStack", [])
    return [yaml.safe_load(c.params["TemplateBody"]) for c in calls if c.params.get("TemplateBody")]


def resource_arns(template, resource):
    """The ARNs CloudFormation acts on for one resource of a template (a topic policy: its topics')."""
    kind, properties = resource["Type"], resource.get("Properties", {})
    if kind in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm"):
        return ["arn:aws:cloudwatch:%s:%s:alarm:%s" % (REGION, ACCOUNT, properties["AlarmName"])]
    if kind == "AWS::CloudWatch::Dashboard":
        return ["arn:aws:cloudwatch::%s:dashboard/%s" % (ACCOUNT, properties["DashboardName"])]
    if kind == "AWS::SNS::Topic":
        return ["arn:aws:sns:%s:%s:%s" % (REGION, ACCOUNT, properties["TopicName"])]
    if kind == "AWS::SNS::TopicPolicy":
        topics = [template["Resources"][topic["Ref"]] for topic in properties["Topics"]]
        return [arn for topic in topics for arn in resource_arns(template, topic)]
    raise AssertionError("no ARN known for %s: add it, and the type to HANDLER_PERMISSIONS" % kind)


def call_resource(call):
    """The resource ARN one recorded call acts on, where the request names it (a stack, a topic), else None."""
    name = call.params.get("StackName") if call.service == "cloudformation" else None
    if name:
        return name if name.startswith("arn:") else "arn:aws:cloudformation:%s:%s:stack/%s/%s" % (
            call.region, ACCOUNT, name, STACK_ID)
    if call.service == "sns" and call.params.get("TopicArn"):
        return call.params["TopicArn"]
    return None


def covered(pattern, patterns):
    """Whether an ARN or ARN pattern lies within one of `patterns` (IAM wildcards)."""
    return any(fnmatch.fnmatchcase(pattern, p) for p in patterns)


def request_tags(call):
    """The tags of a CreateStack or UpdateStack request (query protocol: Tags.member.N.Key / .Value)."""
    keys = dict((k.split(".")[2], v) for k, v in call.params.items() if re.match(r"^Tags\.member\.\d+\.Key$", k))
    return dict((v, call.params.get("Tags.member.%s.Value" % n)) for n, v in keys.items())


def iam_action(call):
    return "%s:%s" % (IAM_PREFIX.get(call.service, call.service), call.operation)


def ansible(command, env, timeout=300):
    completed = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               universal_newlines=True, timeout=timeout)
    return completed.returncode, completed.stdout


@pytest.fixture(scope="module")
def observed(localstack, moto, tmp_path_factory):
    """{IAM action: [calls]} the collection made in a representative run."""
    calls = []
    # -- LocalStack: stacks, alarms, topics, subscriptions ---------------------------------------------------------
    sqs = localstack.client("sqs")
    queues = dict((k, unique("iam" + k)) for k in ("raw", "plain", "next"))
    for queue in queues.values():
        sqs.create_queue(QueueName=queue)
    inventory = Inventory(str(tmp_path_factory.mktemp("iam-localstack")))
    # both dashboards: the fleet dashboard is the collection's own CloudWatch calls
    inventory.group_vars("fleet", {"endpoint_monitoring_dashboard": "both"})
    one = inventory.add("fleet", unique("iam-one"), endpoint_monitoring_endpoint_subscribers=[
        {"protocol": "sqs", "endpoint": SQS_PREFIX + queues["raw"], "raw_message_delivery": True},
        {"protocol": "email", "endpoint": "ml-oncall@example.com"}])
    two = inventory.add("fleet", unique("iam-two"), endpoint_monitoring_endpoint_subscribers=[
        {"protocol": "sqs", "endpoint": SQS_PREFIX + queues["plain"]}])
    # its stack is created, updated and deleted by CloudFormation with a service role
    three = inventory.add("fleet", unique("iam-three"), endpoint_monitoring_role_arn=SERVICE_ROLE_ARN)
    # its alarms notify the region's shared topics, which the collection's shared stack holds
    inventory.add("fleet", unique("iam-four"), endpoint_monitoring_topic_mode="shared",
                  endpoint_monitoring_endpoint_subscribers=[
                      {"protocol": "sqs", "endpoint": SQS_PREFIX + queues["plain"], "severities": ["critical"]}])
    with aws_proxy.AwsProxy(localstack.url) as proxy:
        env = proxy.env(ansible_env(localstack))
        for name in ("rollout", "re-run"):
            run = run_playbook(localstack, inventory, env=env)
            assert run.rc == 0, "%s:\n%s" % (name, run.output)
        inventory.host_vars(one, {
            "endpoint_monitoring_termination_protection": True,
            "endpoint_monitoring_endpoint_metrics": {"ModelLatency": {"threshold": 250}},
            "endpoint_monitoring_endpoint_subscribers": [
                {"protocol": "sqs", "endpoint": SQS_PREFIX + queues["raw"]},  # raw delivery off again
                {"protocol": "email", "endpoint": "ml-oncall@example.com"}]})
        inventory.host_vars(two, {"endpoint_monitoring_purge_subscriptions": True,
                                  "endpoint_monitoring_endpoint_subscribers": [
                                      {"protocol": "sqs", "endpoint": SQS_PREFIX + queues["next"]}]})
        for name, args in (("check", ("--check", "--diff")), ("purge", ())):
            run = run_playbook(localstack, inventory, "monitor_endpoints.yml", *args, env=env)
            assert run.rc == 0, "%s:\n%s" % (name, run.output)
        ops = set(c.operation for c in proxy.snapshot())
        assert {"Unsubscribe", "UpdateStack", "UpdateTerminationProtection", "PutDashboard"} <= ops, ops
        passed = [c for c in proxy.snapshot() if c.operation == "CreateStack" and c.params.get("RoleARN")]
        assert [(c.params["StackName"], c.params["RoleARN"]) for c in passed] == [
            ("sagemaker-monitoring-" + three, SERVICE_ROLE_ARN)], passed
        # LocalStack answers metric-math queries with a 500 every time: two attempts are enough to record the calls
        preview = run_playbook(localstack, inventory, "preview_dashboards.yml", "-e", "preview_source=cloudwatch",
                               "-e", "preview_dir=%s" % tmp_path_factory.mktemp("preview"), "-e",
                               json.dumps({"endpoint_monitoring_aws_config": FEW_RETRIES}), env=env)
        assert preview.rc == 0, preview.output
        # a protected stack is refused by teardown: protection off first (a monitoring run), then teardown
        inventory.host_vars(one, {"endpoint_monitoring_termination_protection": False})
        refused = run_playbook(localstack, inventory, "teardown.yml", "--limit", one, env=env)
        assert refused.rc != 0 and "has termination protection" in refused.output, refused.output
        unprotect = run_playbook(localstack, inventory, env=env)
        assert unprotect.rc == 0, unprotect.output
        teardown = run_playbook(localstack, inventory, "teardown.yml", env=env)
        assert teardown.rc == 0, teardown.output
        assert {"DeleteStack", "DeleteDashboards"} <= set(c.operation for c in proxy.snapshot())
        calls.extend(proxy.snapshot())

    # -- moto: SageMaker endpoint discovery, a rollout on the discovered fleet, pruning ---------------------------
    sagemaker = moto.client("sagemaker", REGION)
    prefix = "iam%s" % uuid.uuid4().hex[:6]
    for short in ("a", "b"):
        name = "%s-%s" % (prefix, short)
        sagemaker.create_model(ModelName=name, ExecutionRoleArn=ROLE_ARN, PrimaryContainer={
            "Image": "123456789012.dkr.ecr.%s.amazonaws.com/inference:1" % REGION})
        sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": name, "InstanceType": "ml.m5.xlarge",
            "InitialInstanceCount": 1, "InitialVariantWeight": 1.0}])
        sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    directory = tmp_path_factory.mktemp("iam-moto")
    listed = str(directory / "listed.sagemaker_endpoints.yml")
    every_region = str(directory / "every.sagemaker_endpoints.yml")
    # moto has no ListInferenceComponents (it answers 500): two attempts record the call without waiting out ten
    with open(listed, "w") as f:
        yaml.safe_dump({"plugin": "mlops.sagemaker_monitoring.sagemaker_endpoints", "regions": [REGION],
                        "name_patterns": [prefix + "-*"], "aws_config": FEW_RETRIES}, f)
    with open(every_region, "w") as f:
        yaml.safe_dump({"plugin": "mlops.sagemaker_monitoring.sagemaker_endpoints",
                        "name_patterns": [prefix + "-*"], "aws_config": FEW_RETRIES}, f)

    class Path:
        path = listed

    with aws_proxy.AwsProxy(moto.url) as proxy:
        env = proxy.env(ansible_env(moto))
        env["ANSIBLE_INVENTORY_UNPARSED_FAILED"] = "true"
        for path in (listed, every_region):
            rc, output = ansible([os.path.join(ROOT, ".venv", "bin", "ansible-inventory"), "-i", path, "--list"], env)
            assert rc == 0 and prefix in output, output
        run = run_playbook(moto, Path, env=env)
        assert run.rc == 0, run.output
        sagemaker.delete_endpoint(EndpointName="%s-b" % prefix)
        pruned = run_playbook(moto, Path, "monitor_endpoints.yml", "-e", "sagemaker_monitoring_prune=true", env=env)
        assert pruned.rc == 0, pruned.output
        assert "sagemaker-monitoring-%s-b" % prefix in [c.params.get("StackName") for c in proxy.snapshot()
                                                        if c.operation == "DeleteStack"]
        calls.extend(proxy.snapshot())

    # -- both: endpoints the inventory names only, completed from SageMaker (moto), monitored on LocalStack --------
    bare = Inventory(str(tmp_path_factory.mktemp("iam-bare")))
    bare.group_vars("all", {"endpoint_monitoring_variants": [], "endpoint_monitoring_instance_type": ""})
    for short in ("a", "b"):
        bare.add("fleet", "%s-%s" % (prefix, short))
    # (endpoint b was deleted above: SageMaker lacks it, so it fails alone)
    with aws_proxy.AwsProxy(localstack.url) as rest, aws_proxy.AwsProxy(moto.url) as sagemaker_proxy:
        env = ansible_env(localstack, sagemaker=moto)
        env.update(AWS_ENDPOINT_URL=rest.url, AWS_ENDPOINT_URL_SAGEMAKER=sagemaker_proxy.url)
        run = run_playbook(localstack, bare, env=env)
        assert run.rc == 2 and run.summary()["%s-b" % prefix][0] == "FAILED", run.output
        assert run.summary()["%s-a" % prefix][0] == "changed", run.output
        assert {"DescribeEndpoint", "DescribeEndpointConfig", "DescribeModel"} <= set(
            c.operation for c in sagemaker_proxy.snapshot()), sagemaker_proxy.snapshot()
        calls.extend(rest.snapshot() + sagemaker_proxy.snapshot())

    by_action = {}
    for call in calls:
        by_action.setdefault(iam_action(call), []).append(call)
    return by_action


@pytest.fixture(scope="module")
def policy_sids():
    return dict((s["Sid"], s) for s in statements(load_policy()))


@pytest.mark.parametrize("path", PERMISSION_POLICIES, ids=policy_id)
def test_policy_is_valid_iam_grammar_without_wildcard_actions(path):
    with open(path) as f:
        text = f.read()
    policy = json.loads(text)
    assert text == json.dumps(policy, indent=2) + "\n", "not formatted as json.dumps(indent=2)"
    assert set(policy) <= {"Version", "Id", "Statement"} and policy["Version"] == "2012-10-17"
    sids = []
    for statement in statements(policy):
        assert set(statement) <= {"Sid", "Effect", "Action", "Resource", "Condition"}, statement
        assert statement["Effect"] == "Allow"
        assert re.match(r"^[A-Za-z0-9]+$", statement["Sid"]), statement["Sid"]
        sids.append(statement["Sid"])
        for action in as_list(statement["Action"]):
            assert re.match(r"^[a-z0-9-]+:[A-Za-z]+$", action), "not one named action: %r" % action
        for resource in as_list(statement["Resource"]):
            assert resource == "*" or re.match(r"^arn:aws:[a-z0-9-]+:[a-z0-9-*]*:[0-9*]*:\S+$", resource), resource
        assert "NotAction" not in statement and "NotResource" not in statement
    assert len(sids) == len(set(sids))


@pytest.mark.parametrize("path", RUNNER_POLICIES, ids=policy_id)
def test_every_call_the_collection_made_is_allowed(observed, path):
    """By name, and where the request names its stack or topic, on that stack or topic. The run has an endpoint
    with endpoint_monitoring_role_arn: with a service role or without one, the runner makes the same calls."""
    actions = allowed(load_policy(path))
    missing = dict((a, calls[0]) for a, calls in observed.items() if a not in actions)
    assert not missing, "calls the policy does not allow: %s" % missing
    outside = [(a, call_resource(c)) for a, calls in observed.items() for c in calls
               if call_resource(c) and not covered(call_resource(c), actions[a])]
    assert not outside, "calls on resources the policy does not allow them on: %s" % outside[:5]


def test_the_policy_allows_nothing_it_does_not_need(observed):
    extras = set(allowed(load_policy())) - set(observed) - set(drift_actions())
    documented = dict(justified_extras(), **service_role_extras())
    assert documented, "iam/README.md has no table of unseen actions"
    undocumented = sorted(a for a in extras if a not in documented)
    assert not undocumented, "allowed but never called, and no reason in iam/README.md: %s" % undocumented
    # a reason listed for an action the proxies did see is stale: it is needed because it is called
    stale = sorted(a for a in documented if a in observed)
    assert not stale, "iam/README.md explains as unseen actions that were called: %s" % stale
    # and every documented action is really in the policy
    assert not sorted(a for a in documented if a not in allowed(load_policy()))


def test_what_only_cloudformation_needs_is_allowed_only_through_cloudformation(observed):
    extras = set(justified_extras())
    for statement in statements(load_policy()):
        unseen = extras & set(as_list(statement["Action"]))
        if not unseen:
            continue
        # a statement of such actions holds nothing the collection calls itself
        assert not unseen ^ set(as_list(statement["Action"])), statement["Sid"]
        assert statement.get("Condition") == CALLED_VIA_CLOUDFORMATION, statement["Sid"]


def test_the_collection_itself_never_calls_sqs_or_iam(observed):
    assert not [a for a in observed if a.startswith(("sqs:", "iam:"))], sorted(observed)


@pytest.mark.parametrize("path", RUNNER_POLICIES, ids=policy_id)
def test_the_service_role_can_be_passed_to_cloudformation_only(observed, path):
    """iam:PassRole on one named role, only to CloudFormation; the role the representative run named is it."""
    extras = set(service_role_extras())
    assert extras == {"iam:PassRole"}, extras
    holding = [s for s in statements(load_policy(path)) if extras & set(as_list(s["Action"]))]
    assert len(holding) == 1, holding
    statement = holding[0]
    assert as_list(statement["Action"]) == ["iam:PassRole"], statement
    roles = as_list(statement["Resource"])
    assert len(roles) == 1 and re.match(r"^arn:aws:iam::\*:role/[\w+=,.@-]+$", roles[0]), roles
    assert statement.get("Condition") == {
        "StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}}, statement
    passed = set(c.params["RoleARN"] for c in observed["cloudformation:CreateStack"] if c.params.get("RoleARN"))
    assert passed == {SERVICE_ROLE_ARN} and fnmatch.fnmatchcase(SERVICE_ROLE_ARN, roles[0]), (passed, roles)


def test_the_readme_says_what_a_service_role_takes_off_the_runner(policy_sids):
    """With endpoint_monitoring_role_arn, CloudFormation creates the stack's resources with the role's rights: the
    statements iam/README.md names as no longer needed are exactly those of the actions only CloudFormation
    makes, and the runner keeps all it calls itself."""
    named = set(re.findall(r"`([A-Za-z0-9]+)`", readme_section(SERVICE_ROLE_HEADING))) & set(policy_sids)
    through_cloudformation = set(sid for sid, s in policy_sids.items()
                                 if set(as_list(s["Action"])) <= set(justified_extras()))
    assert through_cloudformation and named == through_cloudformation, (named, through_cloudformation)


@pytest.mark.parametrize("path", RUNNER_POLICIES, ids=policy_id)
def test_stack_writes_need_the_collections_tag(observed, path):
    """Stack writes are allowed only with the managed-by tag: in the request where it can be (CreateStack,
    UpdateStack), on the stack where it exists (UpdateStack, DeleteStack, UpdateTerminationProtection)."""
    tag = {MANAGED_BY_TAG: COLLECTION}
    wanted = {
        "cloudformation:CreateStack": REQUEST_TAG,
        "cloudformation:UpdateStack": dict(REQUEST_TAG, **RESOURCE_TAG),
        "cloudformation:DeleteStack": RESOURCE_TAG,
        "cloudformation:UpdateTerminationProtection": RESOURCE_TAG,
    }
    for action, condition in wanted.items():
        holding = [s for s in statements(load_policy(path)) if action in as_list(s["Action"])]
        assert len(holding) == 1 and holding[0].get("Condition") == {"StringEquals": condition}, (action, holding)
    # what the collection sent meets those conditions: each create and update carried the tag, so each stack it
    # later updated, protected or deleted had it
    created = set()
    for action in ("cloudformation:CreateStack", "cloudformation:UpdateStack"):
        for call in observed[action]:
            assert dict(request_tags(call), **tag) == request_tags(call), (call, call.params)
            created.add(call.params["StackName"])
    for action in ("cloudformation:DeleteStack", "cloudformation:UpdateTerminationProtection"):
        touched = set(c.params["StackName"] for c in observed[action])
        assert touched and touched <= created, (action, touched - created)


@pytest.mark.parametrize("path", RUNNER_POLICIES, ids=policy_id)
def test_drift_repair_calls_are_allowed_only_on_the_collections_tagged_stacks(path):
    """The drift repair's change set is created only on a stack that has the managed-by tag and with the tag in the
    request (as UpdateStack), and described, executed or deleted only on a stack that has it (the only condition
    key those three take on a stack: aws:ResourceTag)."""
    policy = load_policy(path)
    actions = allowed(policy)
    for action in drift_actions():
        assert action in actions, "the drift repair's %s is not allowed" % action
        if action in STAR_ONLY:  # DescribeStacks: a listing of the region, as the runner reads it anyway
            continue
        holding = [s for s in statements(policy) if action in as_list(s["Action"])]
        condition = dict(REQUEST_TAG, **RESOURCE_TAG) if action in TAGGED_REQUESTS else RESOURCE_TAG
        assert len(holding) == 1 and holding[0].get("Condition") == {"StringEquals": condition}, (action, holding)
        assert as_list(holding[0]["Resource"]) == [STACKS], (action, holding)


def test_the_readme_lists_the_drift_repair_calls(observed):
    listed = set(drift_repair_extras())
    assert listed == set(drift_actions()), "iam/README.md %s lists %s" % (DRIFT_HEADING, sorted(listed))
    # none of them is listed as CloudFormation's own work or the service role's
    assert not listed & (set(justified_extras()) | set(service_role_extras()))


def test_resources_are_scoped_to_the_collections_stacks_and_topics(observed):
    actions = allowed(load_policy())
    # what changes stacks touches only the collection's stacks
    for action in ("cloudformation:CreateStack", "cloudformation:UpdateStack", "cloudformation:DeleteStack",
                   "cloudformation:UpdateTerminationProtection", "cloudformation:GetTemplate",
                   "cloudformation:DescribeStackEvents", "cloudformation:ListStackResources",
                   "cloudformation:CreateChangeSet", "cloudformation:DescribeChangeSet",
                   "cloudformation:ExecuteChangeSet", "cloudformation:DeleteChangeSet"):
        assert actions[action] == [STACKS], (action, actions[action])
    for action in ("sns:Subscribe", "sns:ListSubscriptionsByTopic", "sns:CreateTopic", "sns:DeleteTopic",
                   "sns:SetTopicAttributes", "sns:GetTopicAttributes"):
        assert actions[action] == [TOPICS], (action, actions[action])
    for action in ("cloudwatch:PutMetricAlarm", "cloudwatch:PutCompositeAlarm", "cloudwatch:DeleteAlarms"):
        assert actions[action] == [ALARMS], (action, actions[action])
    for action in ("cloudwatch:PutDashboard", "cloudwatch:DeleteDashboards", "cloudwatch:GetDashboard"):
        assert actions[action] == DASHBOARDS, (action, actions[action])
    # and the topics the collection itself subscribes to are within them
    for call in observed["sns:Subscribe"] + observed["sns:ListSubscriptionsByTopic"]:
        assert fnmatch.fnmatchcase(call.params["TopicArn"], TOPICS), call.params
    # "*" only where AWS offers no resource-level permission or the call lists a whole region
    for action, resources in actions.items():
        if "*" in resources:
            assert action in STAR_ONLY, "%s is allowed on every resource" % action
            assert resources == ["*"]


# -- with a CloudFormation service role (endpoint_monitoring_role_arn) ---------------------------------------------

def test_the_runner_with_a_service_role_allows_what_it_calls_and_nothing_else(observed):
    """Everything the runner called in the run (which has an endpoint with endpoint_monitoring_role_arn, its stack
    created, updated and deleted with the role) is allowed (test_every_call_the_collection_made_is_allowed, by
    name and resource); beyond those, only passing the role and the drift repair's calls, which no proxy sees."""
    extras = set(allowed(load_policy(RUNNER_WITH_ROLE_POLICY))) - set(observed)
    assert extras == {"iam:PassRole"} | (set(drift_actions()) - set(observed)), sorted(extras)
    assert [c for c in observed["cloudformation:CreateStack"] if c.params.get("RoleARN") == SERVICE_ROLE_ARN]


def test_the_runner_with_a_service_role_writes_no_alarm_topic_or_endpoint_dashboard(observed):
    """No alarm or topic write, and of what the service role holds only what the runner calls itself (reads of
    alarms and topics, subscriptions' listing, fleet dashboards); the dashboards it writes are the fleet's."""
    actions = allowed(load_policy(RUNNER_WITH_ROLE_POLICY))
    assert not [a for a in RESOURCE_WRITES if a in actions], sorted(a for a in RESOURCE_WRITES if a in actions)
    shared = set(actions) & set(allowed(load_policy(SERVICE_ROLE_POLICY)))
    assert shared and shared <= set(observed), sorted(shared - set(observed))
    for action in ("cloudwatch:PutDashboard", "cloudwatch:GetDashboard", "cloudwatch:DeleteDashboards"):
        assert actions[action] == [FLEET_DASHBOARDS], (action, actions[action])
        # a request carries the dashboard's name as text (CBOR or JSON): the runner names fleet dashboards only
        assert observed[action] and all(c.mentions("sagemaker-monitoring-fleet-") for c in observed[action])
        if action != "cloudwatch:PutDashboard":  # (a fleet dashboard's body names the endpoints' alarms)
            assert not [c for c in observed[action] if c.mentions("sagemaker-monitoring_")], action
    for resources in actions.values():
        assert ENDPOINT_DASHBOARDS not in resources and ALARMS not in resources


def test_the_two_runner_policies_differ_only_in_what_cloudformation_does():
    """The runner's policy with a service role is the one without, less the statements of CloudFormation's work,
    with the dashboards narrowed to the fleet's: a change to one that the other misses fails here."""
    runner = [s for s in statements(load_policy()) if s.get("Condition") != CALLED_VIA_CLOUDFORMATION]
    with_role = statements(load_policy(RUNNER_WITH_ROLE_POLICY))
    assert len(runner) == len(with_role), ([s["Sid"] for s in runner], [s["Sid"] for s in with_role])
    for mine, theirs in zip(runner, with_role):
        assert (mine["Action"], mine.get("Condition")) == (theirs["Action"], theirs.get("Condition")), theirs["Sid"]
        narrowed = as_list(theirs["Resource"])
        assert narrowed == as_list(mine["Resource"]) or (
            set(narrowed) < set(as_list(mine["Resource"])) and narrowed == [FLEET_DASHBOARDS]), theirs["Sid"]


def test_the_service_role_holds_what_cloudformation_calls_for_the_stacks_resources(observed):
    """The service role's actions are exactly the handler permissions of the resource types in the templates the
    run sent (all five the template can hold: the run has composite alarms and per-endpoint dashboards)."""
    templates = sent_templates(observed)
    types = set(r["Type"] for t in templates for r in t["Resources"].values())
    assert types == set(HANDLER_PERMISSIONS), "resource types the table lacks or the run lacks: %s" % (
        types ^ set(HANDLER_PERMISSIONS))
    needed = set().union(*(HANDLER_PERMISSIONS[t] for t in types))
    granted = set(allowed(load_policy(SERVICE_ROLE_POLICY)))
    assert granted == needed, "missing %s, beyond them %s" % (sorted(needed - granted), sorted(granted - needed))


def test_the_service_role_acts_only_on_the_names_the_templates_give(observed):
    """Each resource CloudFormation creates for the run is within the resources its actions are allowed on, and
    each (action, resource pattern) of the policy serves one of them: alarms and topics sagemaker-monitoring_*,
    the endpoint's dashboard, and DescribeAlarms (a listing, as the runner's) on "*"."""
    actions = allowed(load_policy(SERVICE_ROLE_POLICY))
    served = set()
    for template in sent_templates(observed):
        for resource in template["Resources"].values():
            for arn in resource_arns(template, resource):
                for action in HANDLER_PERMISSIONS[resource["Type"]]:
                    patterns = [p for p in actions.get(action, []) if fnmatch.fnmatchcase(arn, p)]
                    assert patterns, "%s may not %s" % (action, arn)
                    served.update((action, p) for p in patterns)
    granted = set((a, p) for a, patterns in actions.items() for p in patterns)
    assert granted == served, "allowed on nothing the stacks hold: %s" % sorted(granted - served)
    assert set(p for _, p in granted) == {ALARMS, TOPICS, ENDPOINT_DASHBOARDS, "*"}
    assert [a for a, p in granted if p == "*"] == ["cloudwatch:DescribeAlarms"]


def test_left_out_handler_permissions_serve_properties_the_template_never_sets(observed):
    """What the schemas list but the service role's policy leaves out (iam:PassRole, subscription writes...) is
    not in it, and serves only a property that no template of the run sets, and that the template source cannot
    set whatever the variables."""
    with open(TEMPLATE) as f:
        source = f.read()
    granted = allowed(load_policy(SERVICE_ROLE_POLICY))
    for kind, left_out in LEFT_OUT.items():
        assert not set(left_out) & HANDLER_PERMISSIONS[kind], kind
        assert not set(left_out) & set(granted), sorted(set(left_out) & set(granted))
        for template in sent_templates(observed):
            for resource in template["Resources"].values():
                if resource["Type"] == kind:
                    assert not set(left_out.values()) & set(resource.get("Properties", {})), resource
        for prop in set(left_out.values()):
            assert not re.search(r"^\s+%s:" % prop, source, re.M), "the template can set %s.%s" % (kind, prop)


def test_the_handler_table_is_the_registry_schemas_and_the_readme_cites_it():
    """HANDLER_PERMISSIONS with LEFT_OUT is, per type, every permission of the create, read, update and delete
    handlers of the type's registry schema (the copy cfn-lint ships: AWS's resource provider schemas), and
    iam/README.md's table, which names a source per type, says the same."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    for kind, needed in HANDLER_PERMISSIONS.items():
        handlers = PROVIDER_SCHEMA_MANAGER.get_resource_schema(REGION, kind).schema["handlers"]
        listed = set(a for h in SCHEMA_HANDLERS for a in handlers.get(h, {}).get("permissions", []))
        left_out = LEFT_OUT.get(kind, {})
        assert listed == needed | set(left_out), "%s: not in the schema %s, in it but not here %s" % (
            kind, sorted((needed | set(left_out)) - listed), sorted(listed - needed - set(left_out)))
    table = handler_table()
    assert set(table) == set(HANDLER_PERMISSIONS), sorted(set(table) ^ set(HANDLER_PERMISSIONS))
    for kind, (actions, left_out, source) in table.items():
        assert (actions, left_out) == (HANDLER_PERMISSIONS[kind], LEFT_OUT.get(kind, {})), kind
        assert source.strip(), "iam/README.md gives no source for %s" % kind


def test_without_a_service_role_the_runner_lets_cloudformation_do_the_same():
    """Without a service role CloudFormation acts with the runner's rights: the runner's policy allows each action
    of the service role's on at least its resources, and what it allows only through CloudFormation is among
    them."""
    runner = allowed(load_policy())
    for action, resources in allowed(load_policy(SERVICE_ROLE_POLICY)).items():
        assert action in runner, action
        for resource in resources:
            assert covered(resource, runner[action]), (action, resource, runner[action])
    assert set(justified_extras()) <= set(allowed(load_policy(SERVICE_ROLE_POLICY)))


def test_the_service_role_trusts_cloudformation_of_one_account():
    """The trust policy lets cloudformation.amazonaws.com assume the role, for stacks of one account only
    (aws:SourceAccount); iam/README.md's command puts the account in."""
    with open(SERVICE_ROLE_TRUST) as f:
        text = f.read()
    trust = json.loads(text)
    assert text == json.dumps(trust, indent=2) + "\n"
    assert set(trust) == {"Version", "Statement"} and trust["Version"] == "2012-10-17"
    (statement,) = statements(trust)
    assert set(statement) == {"Sid", "Effect", "Principal", "Action", "Condition"}, statement
    assert statement["Effect"] == "Allow" and as_list(statement["Action"]) == ["sts:AssumeRole"]
    assert statement["Principal"] == {"Service": "cloudformation.amazonaws.com"}
    account = statement["Condition"]["StringEquals"]["aws:SourceAccount"]
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": account}}
    assert re.match(r"^\d{12}$", account), account
    with open(POLICY_README) as f:
        readme = f.read()
    assert re.search(r"s/%s/" % account, readme) and os.path.relpath(SERVICE_ROLE_TRUST, ROOT) in readme
    for path in PERMISSION_POLICIES:
        assert os.path.relpath(path, ROOT) in readme, path
    # the role the runner's policies let it pass is the one the README creates
    role = re.search(r"--role-name (\S+)", readme).group(1)
    for path in RUNNER_POLICIES:
        passed = [r for s in statements(load_policy(path)) if "iam:PassRole" in as_list(s["Action"])
                  for r in as_list(s["Resource"])]
        assert passed == ["arn:aws:iam::*:role/" + role], (path, passed)


# Actions allowed on "*": listings of a region, and actions without resource-level permissions.
STAR_ONLY = {
    "cloudformation:DescribeStacks",  # a run, the prune and the fleet dashboards list every stack of the region
    "cloudwatch:DescribeAlarms", "cloudwatch:GetMetricData",
    "cloudwatch:ListDashboards",  # a region listing by name prefix
    "sagemaker:ListEndpoints", "sagemaker:ListInferenceComponents",
    "ec2:DescribeRegions",
    "sns:ListSubscriptions",  # one listing of the account's subscriptions per region
    "sns:ListTopics",  # one listing of the region's topics, when a stack is to be created (names held already)
    "sns:Unsubscribe",  # acts on a subscription ARN, not a topic
    "sns:GetSubscriptionAttributes",  # raw message delivery: acts on a subscription ARN, not a topic
    "sns:SetSubscriptionAttributes",
}
