"""The shipped IAM policy (iam/sagemaker-monitoring-policy.json) is exactly what the collection needs.

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

from conftest import REGION, ROOT, Inventory, ansible_env, run_playbook, unique

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_spec import COLLECTION, MANAGED_BY_TAG

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "support"))

import aws_proxy  # noqa: E402

pytestmark = pytest.mark.integration

POLICY = os.path.join(ROOT, "iam", "sagemaker-monitoring-policy.json")
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
DASHBOARDS = ["arn:aws:cloudwatch::*:dashboard/sagemaker-monitoring-*",
              "arn:aws:cloudwatch::*:dashboard/sagemaker-monitoring_*"]


def load_policy():
    with open(POLICY) as f:
        return json.load(f)


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
        preview = run_playbook(localstack, inventory, "preview_dashboards.yml", "-e", "preview_source=cloudwatch",
                               "-e", "preview_dir=%s" % tmp_path_factory.mktemp("preview"), env=env)
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
    with open(listed, "w") as f:
        yaml.safe_dump({"plugin": "mlops.sagemaker_monitoring.sagemaker_endpoints", "regions": [REGION],
                        "name_patterns": [prefix + "-*"]}, f)
    with open(every_region, "w") as f:
        yaml.safe_dump({"plugin": "mlops.sagemaker_monitoring.sagemaker_endpoints",
                        "name_patterns": [prefix + "-*"]}, f)

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


def test_policy_is_valid_iam_grammar_without_wildcard_actions():
    policy = load_policy()
    assert set(policy) <= {"Version", "Id", "Statement"} and policy["Version"] == "2012-10-17"
    sids = []
    for statement in statements(policy):
        assert set(statement) <= {"Sid", "Effect", "Action", "Resource", "Condition"}, statement
        assert statement["Effect"] == "Allow"
        assert re.match(r"^[A-Za-z0-9]+$", statement["Sid"]), statement["Sid"]
        sids.append(statement["Sid"])
        for action in as_list(statement["Action"]):
            assert re.match(r"^[a-z0-9-]+:[A-Za-z]+$", action), "not one named action: %r" % action
        assert "NotAction" not in statement and "NotResource" not in statement
    assert len(sids) == len(set(sids))


def test_every_call_the_collection_made_is_allowed(observed):
    actions = allowed(load_policy())
    missing = dict((a, calls[0]) for a, calls in observed.items() if a not in actions)
    assert not missing, "calls the policy does not allow: %s" % missing


def test_the_policy_allows_nothing_it_does_not_need(observed):
    extras = set(allowed(load_policy())) - set(observed)
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
        assert statement.get("Condition") == {
            "ForAnyValue:StringEquals": {"aws:CalledVia": ["cloudformation.amazonaws.com"]}}, statement["Sid"]


def test_the_collection_itself_never_calls_sqs_or_iam(observed):
    assert not [a for a in observed if a.startswith(("sqs:", "iam:"))], sorted(observed)


def test_the_service_role_can_be_passed_to_cloudformation_only(observed):
    """iam:PassRole on one named role, only to CloudFormation; the role the representative run named is it."""
    extras = set(service_role_extras())
    assert extras == {"iam:PassRole"}, extras
    holding = [s for s in statements(load_policy()) if extras & set(as_list(s["Action"]))]
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


def test_stack_writes_need_the_collections_tag(observed, policy_sids):
    """Stack writes are allowed only with the managed-by tag: in the request where it can be (CreateStack,
    UpdateStack), on the stack where it exists (UpdateStack, DeleteStack, UpdateTerminationProtection)."""
    tag = {MANAGED_BY_TAG: COLLECTION}
    wanted = {
        "cloudformation:CreateStack": {"aws:RequestTag/" + MANAGED_BY_TAG: COLLECTION},
        "cloudformation:UpdateStack": {"aws:RequestTag/" + MANAGED_BY_TAG: COLLECTION,
                                       "aws:ResourceTag/" + MANAGED_BY_TAG: COLLECTION},
        "cloudformation:DeleteStack": {"aws:ResourceTag/" + MANAGED_BY_TAG: COLLECTION},
        "cloudformation:UpdateTerminationProtection": {"aws:ResourceTag/" + MANAGED_BY_TAG: COLLECTION},
    }
    for action, condition in wanted.items():
        holding = [s for s in policy_sids.values() if action in as_list(s["Action"])]
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


def test_resources_are_scoped_to_the_collections_stacks_and_topics(observed):
    actions = allowed(load_policy())
    # what changes stacks touches only the collection's stacks
    for action in ("cloudformation:CreateStack", "cloudformation:UpdateStack", "cloudformation:DeleteStack",
                   "cloudformation:UpdateTerminationProtection", "cloudformation:GetTemplate",
                   "cloudformation:DescribeStackEvents", "cloudformation:ListStackResources"):
        assert actions[action] == [STACKS], (action, actions[action])
    for action in ("sns:Subscribe", "sns:ListSubscriptionsByTopic", "sns:CreateTopic", "sns:DeleteTopic",
                   "sns:SetTopicAttributes"):
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
