"""The role's shape, seen from a run's output and from the calls it makes (LocalStack behind a recording proxy):

- a run that changes nothing lists every endpoint in the PLAY RECAP (ok, not changed), runs one task per
  endpoint (the controller-side prepare) and makes no AWS call about any endpoint, only the region's listing;
- ``--check --diff`` prints each endpoint's worded diff, writes nothing, and never runs amazon.aws.cloudformation
  (which would create and delete a change set in check mode);
- termination protection alone is a change (then none); the service role, notification topics and stack policy
  reach CloudFormation;
- guards: a stack left in ROLLBACK_COMPLETE is created again; a stack another operation is changing, a stack of the
  same name not tagged as the collection's, and an endpoint SageMaker cannot be asked about each fail alone, with a
  message naming the endpoint, and are left as they were;
- progress: the stack task prints one result line per endpoint (forks run the endpoints side by side).
"""

import json
import os
import re
import sys
import threading
import time
import types

import pytest

from conftest import REGION, ansible_env, run_playbook, template_of, unique

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "support"))

import aws_proxy  # noqa: E402

pytestmark = pytest.mark.integration

ROLE = "mlops.sagemaker_monitoring.endpoint_monitoring : "
PREPARE = ROLE + "Check the endpoint's settings and compute its monitoring"
DIFF = ROLE + "Say what would change in the endpoint's stack"
APPLY = ROLE + "Apply the endpoint's stack"
TASK = re.compile(r"^TASK \[(.+)\] \*+$", re.M)
RESULT = re.compile(r"^(ok|changed|skipping|failed|fatal): \[([^\]]+)\]", re.M)
TAGS = [{"Key": "managed-by", "Value": "mlops.sagemaker_monitoring"}]
STACK_WRITES = ("CreateStack", "UpdateStack", "DeleteStack", "CreateChangeSet", "ExecuteChangeSet",
                "UpdateTerminationProtection", "SetStackPolicy")


def stack_name(endpoint):
    return "sagemaker-monitoring-" + endpoint


def sections(output):
    """[(task name, text printed under it)] in the order the default callback printed them."""
    parts = TASK.split(output)
    return list(zip(parts[1::2], parts[2::2]))


def results(text):
    """[(status, host)] of the result lines in one task's text."""
    return RESULT.findall(text)


def section(output, name):
    """The text under the one task of that name."""
    found = [text for task, text in sections(output) if task == name]
    assert len(found) == 1, "task %r printed %d times:\n%s" % (name, len(found), output)
    return found[0]


def describe_stack(cfn, endpoint):
    return cfn.describe_stacks(StackName=stack_name(endpoint))["Stacks"][0]


def wait_settled(cfn, name, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
        if not status.endswith("_IN_PROGRESS"):
            return status
        time.sleep(0.5)
    raise AssertionError("stack %s still in progress after %ss" % (name, timeout))


def stack_writes(calls, endpoint=None):
    return [c for c in calls if c.operation in STACK_WRITES and (endpoint is None or c.mentions(stack_name(endpoint)))]


def recorded(localstack, inventory, *args):
    """A monitor_endpoints.yml run (with these arguments) through a recording proxy: (run, calls)."""
    with aws_proxy.AwsProxy(localstack.url) as proxy:
        run = run_playbook(localstack, inventory, "monitor_endpoints.yml", *args,
                           env=proxy.env(ansible_env(localstack)))
        return run, proxy.snapshot()


# -- 1. a run that changes nothing ------------------------------------------------------------------------------

def test_no_change_run_shows_every_endpoint_ok_with_one_task_and_no_call_about_it(localstack, inventory):
    endpoints = [inventory.add("fleet", unique("recap%d" % i)) for i in range(4)]
    first = run_playbook(localstack, inventory)
    assert first.rc == 0, first.output

    again, calls = recorded(localstack, inventory, "--forks", "5")
    assert again.rc == 0, again.output
    assert sorted(again.recap) == sorted(endpoints), again.output
    for endpoint in endpoints:
        assert again.recap[endpoint]["ok"] >= 1 and again.recap[endpoint]["changed"] == 0, again.output
        assert again.recap[endpoint]["failed"] == 0
        assert again.summary()[endpoint] == ("unchanged", "%s (none)" % stack_name(endpoint)), again.output
    assert "endpoints: 4; unchanged 4" in again.output

    # One task ran per endpoint: prepare. Every other result is a run_once task's, printed for the one host that
    # ran it (the first of the play); the other endpoints show up under prepare only, and count one ok.
    printed = [(task, set(host for _status, host in results(text))) for task, text in sections(again.output)]
    assert [(task, sorted(hosts)) for task, hosts in printed if len(hosts) > 1] == [(PREPARE, sorted(endpoints))], \
        again.output
    run_once_hosts = set().union(*[hosts for _task, hosts in printed if len(hosts) == 1])
    assert len(run_once_hosts) == 1, again.output
    for endpoint in set(endpoints) - run_once_hosts:
        assert [task for task, hosts in printed if endpoint in hosts] == [PREPARE], again.output
        assert again.recap[endpoint]["ok"] == 1, again.output

    # And the AWS calls are the region's stack listing, whatever the number of endpoints, and the drift check's one
    # topic policy (4 endpoints leave no budget but the one read every run; LocalStack's environment checks topic
    # policies only): nothing else about any of them.
    assert [c.key for c in calls] == [("cloudformation", "DescribeStacks"), ("sns", "GetTopicAttributes")], \
        [c.key for c in calls]
    assert not calls[0].params.get("StackName")


# -- 2. check mode with --diff ------------------------------------------------------------------------------------

def test_check_diff_prints_the_worded_diff_writes_nothing_and_skips_the_stack_task(localstack, inventory):
    endpoint = inventory.add("fleet", unique("diff"))
    other = inventory.add("fleet", unique("same"))
    assert run_playbook(localstack, inventory).rc == 0
    cfn = localstack.client("cloudformation")
    before, template = describe_stack(cfn, endpoint), template_of(cfn, stack_name(endpoint))

    inventory.host_vars(endpoint, {"endpoint_monitoring_endpoint_metrics": {"ModelLatency": {"threshold": 750}}})
    preview, calls = recorded(localstack, inventory, "--check", "--diff")
    assert preview.rc == 0, preview.output

    # The endpoint's own diff, under the diff task and for that endpoint only: the other one is unchanged.
    diff = section(preview.output, DIFF)
    assert re.search(r"^~ alarm sagemaker-monitoring_%s_AllTraffic_ModelLatency: .*Threshold 1000000 -> 750000$" % endpoint,
                     diff, re.M), \
        preview.output
    assert [host for _status, host in results(diff)] == [endpoint], diff
    assert preview.summary()[endpoint] == ("changed", "%s (would be update, 2 changes)" % stack_name(endpoint))
    assert preview.summary()[other][0] == "unchanged"
    # amazon.aws.cloudformation never ran: in check mode it would create (and delete) a change set.
    assert results(section(preview.output, APPLY)) == [("skipping", endpoint)], preview.output
    assert [c for c in calls if not c.read_only] == [], [c.key for c in calls if not c.read_only]
    assert cfn.list_change_sets(StackName=stack_name(endpoint))["Summaries"] == []

    after = describe_stack(cfn, endpoint)
    assert (after["StackStatus"], after.get("LastUpdatedTime")) == (before["StackStatus"], before.get("LastUpdatedTime"))
    assert template_of(cfn, stack_name(endpoint)) == template
    alarm = cfn.describe_stack_resource(StackName=stack_name(endpoint), LogicalResourceId="AlarmAllTrafficModelLatency")
    assert alarm["StackResourceDetail"]["ResourceStatus"] == "CREATE_COMPLETE"


# -- 3. termination protection, service role, notification topics, stack policy ---------------------------------

def test_termination_protection_alone_is_a_change_then_none(localstack, inventory):
    endpoint = inventory.add("fleet", unique("protect"))
    assert run_playbook(localstack, inventory).rc == 0
    cfn = localstack.client("cloudformation")
    template = template_of(cfn, stack_name(endpoint))
    assert describe_stack(cfn, endpoint)["EnableTerminationProtection"] is False

    inventory.host_vars(endpoint, {"endpoint_monitoring_termination_protection": True})
    preview, calls = recorded(localstack, inventory, "--check", "--diff")
    assert "~ termination protection off -> on" in section(preview.output, DIFF), preview.output
    assert [c for c in calls if not c.read_only] == []

    protected, calls = recorded(localstack, inventory)
    assert protected.rc == 0 and protected.changed(endpoint) > 0, protected.output
    assert protected.summary()[endpoint] == ("changed", "%s (protect, 1 change)" % stack_name(endpoint))
    assert [c.params.get("EnableTerminationProtection") for c in calls
            if c.operation == "UpdateTerminationProtection"] == ["true"], [c.key for c in calls]
    assert describe_stack(cfn, endpoint)["EnableTerminationProtection"] is True
    assert template_of(cfn, stack_name(endpoint)) == template

    again, calls = recorded(localstack, inventory)
    assert again.rc == 0 and again.changed(endpoint) == 0, again.output
    assert again.summary()[endpoint][0] == "unchanged"
    assert [c for c in calls if not c.read_only] == []

    # and off again, so that the stack can go
    inventory.host_vars(endpoint, {"endpoint_monitoring_termination_protection": False})
    unprotected = run_playbook(localstack, inventory)
    assert unprotected.summary()[endpoint] == ("changed", "%s (protect, 1 change)" % stack_name(endpoint))
    assert describe_stack(cfn, endpoint)["EnableTerminationProtection"] is False
    assert run_playbook(localstack, inventory, "teardown.yml").rc == 0


def test_service_role_notification_topics_and_stack_policy_reach_cloudformation(localstack, inventory):
    topic = localstack.client("sns").create_topic(Name=unique("stack-events"))["TopicArn"]
    role = "arn:aws:iam::000000000000:role/%s" % unique("cfn-monitoring")
    policy = {"Statement": [{"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"},
                            {"Effect": "Deny", "Action": "Update:Delete", "Principal": "*",
                             "Resource": "LogicalResourceId/AlarmTopic"}]}
    endpoint = inventory.add("fleet", unique("settings"), endpoint_monitoring_role_arn=role,
                             endpoint_monitoring_notification_arns=[topic],
                             endpoint_monitoring_stack_policy_body=policy)
    created, calls = recorded(localstack, inventory)
    assert created.rc == 0, created.output
    (create,) = [c for c in calls if c.operation == "CreateStack"]
    # LocalStack accepts these and drops them (DescribeStacks answers without RoleARN and with no NotificationARNs;
    # GetStackPolicy is not emulated), so they are checked where the collection's part ends: in the call it makes.
    assert create.params["RoleARN"] == role
    assert create.params["NotificationARNs.member.1"] == topic and "NotificationARNs.member.2" not in create.params
    assert json.loads(create.params["StackPolicyBody"]) == policy
    assert create.params["OnFailure"] == "DELETE"  # endpoint_monitoring_on_create_failure's default
    assert describe_stack(localstack.client("cloudformation"), endpoint)["StackStatus"] == "CREATE_COMPLETE"

    again, calls = recorded(localstack, inventory)
    assert again.changed(endpoint) == 0 and stack_writes(calls) == [], again.output

    # A stack policy alone is outside the template: the fingerprint notices it, and the update carries it.
    policy["Statement"][1]["Resource"] = "LogicalResourceId/Alarm*"
    inventory.host_vars(endpoint, {"endpoint_monitoring_role_arn": role, "endpoint_monitoring_notification_arns": [topic],
                                   "endpoint_monitoring_stack_policy_body": policy})
    updated, calls = recorded(localstack, inventory)
    assert updated.rc == 0 and updated.changed(endpoint) > 0, updated.output
    (update,) = [c for c in calls if c.operation == "UpdateStack"]
    assert json.loads(update.params["StackPolicyBody"]) == policy
    assert (update.params["RoleARN"], update.params["NotificationARNs.member.1"]) == (role, topic)
    assert run_playbook(localstack, inventory).changed(endpoint) == 0


# -- 4. guards -----------------------------------------------------------------------------------------------

class BusyStackNoSageMaker(aws_proxy.AwsProxy):
    """A recording proxy that, on the run's first DescribeStacks, starts another operation on a stack (make_busy)
    and forwards the listing once CloudFormation says that stack is in progress: the run reads it busy, as it would
    while another run or a person is changing it. And it refuses every SageMaker call with AccessDeniedException,
    as AWS does for a runner whose role lacks the SageMaker read rights."""

    def __init__(self, upstream, make_busy):
        aws_proxy.AwsProxy.__init__(self, upstream)
        self.make_busy = make_busy
        self.seen_busy = None
        self._gate = threading.Lock()

    def _forward(self, method, path, headers, body):
        service, _region, operation, protocol, _params = aws_proxy.classify(method, path, headers, body)
        if service == "sagemaker":
            status, answer_headers, data = aws_proxy.error_answer(
                types.SimpleNamespace(service=service, protocol=protocol), headers, 400, "AccessDeniedException",
                "User is not authorized to perform: sagemaker:%s" % operation)
            return status, "Bad Request", list(answer_headers.items()), data
        if operation == "DescribeStacks":
            with self._gate:
                if self.seen_busy is None:
                    self.seen_busy = self.make_busy()
        return aws_proxy.AwsProxy._forward(self, method, path, headers, body)


def test_busy_foreign_and_undescribable_endpoints_fail_alone_and_are_left_as_they_were(localstack, inventory):
    cfn = localstack.client("cloudformation")
    good = inventory.add("fleet", unique("good"))
    busy = inventory.add("fleet", unique("busy"))
    foreign = inventory.add("fleet", unique("foreign"))
    # named only, and the runner may not read SageMaker: its facts cannot be read
    unknown = inventory.add("fleet", unique("unknown"), endpoint_monitoring_variants=[])

    # Someone's stack with the name the collection would use for `foreign`, without the collection's tag.
    theirs = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": foreign}}}}
    cfn.create_stack(StackName=stack_name(foreign), TemplateBody=json.dumps(theirs), Tags=[{"Key": "team", "Value": "x"}])
    assert wait_settled(cfn, stack_name(foreign)) == "CREATE_COMPLETE"
    foreign_before = describe_stack(cfn, foreign)

    # The collection's stack for `busy`, being created (by another run, say) when the run lists the region: many
    # resources, so that its creation lasts seconds after the listing is let through.
    queues = {"Resources": dict(("Queue%d" % i, {"Type": "AWS::SQS::Queue"}) for i in range(200))}

    def make_busy():
        cfn.create_stack(StackName=stack_name(busy), TemplateBody=json.dumps(queues),
                         Tags=TAGS + [{"Key": "sagemaker-endpoint", "Value": busy}])
        return describe_stack(cfn, busy)["StackStatus"]

    with BusyStackNoSageMaker(localstack.url, make_busy) as proxy:
        run = run_playbook(localstack, inventory, env=proxy.env(ansible_env(localstack)))
        calls = proxy.snapshot()
    assert proxy.seen_busy == "CREATE_IN_PROGRESS", proxy.seen_busy
    assert run.rc != 0, run.output
    summary = run.summary()
    assert summary[good][0] == "changed" and run.failed(good) == 0, run.output
    expected = {
        busy: "endpoint %r: stack %s is busy (CREATE_IN_PROGRESS): another run or a person is changing it. Run again "
              "when it is done." % (busy, stack_name(busy)),
        foreign: "endpoint %r: stack %s exists but is not tagged managed-by=mlops.sagemaker_monitoring, so it was not "
                 "made by this collection; it is left alone." % (foreign, stack_name(foreign)),
        unknown: "endpoint %r: could not list the SageMaker endpoints of %s to read what the endpoint is (the "
                 "inventory does not say: endpoint_monitoring_variants): AccessDeniedException" % (unknown, REGION),
    }
    for endpoint, message in expected.items():
        assert run.failed(endpoint) == 1, run.output
        assert summary[endpoint][0] == "FAILED" and summary[endpoint][1].startswith(message), summary[endpoint]
        assert "fatal: [%s]: FAILED!" % endpoint in run.output
    # the run wrote to no stack but the good endpoint's
    assert stack_writes(calls) == stack_writes(calls, good) and stack_writes(calls, good), \
        [(c.operation, c.params.get("StackName")) for c in stack_writes(calls)]

    # Each refused stack is as it was: the busy one ends as its own creation made it, the foreign one untouched.
    assert wait_settled(cfn, stack_name(busy)) == "CREATE_COMPLETE"
    assert set(template_of(cfn, stack_name(busy))["Resources"]) == set(queues["Resources"])
    foreign_after = describe_stack(cfn, foreign)
    assert [foreign_after[k] for k in ("StackStatus", "LastUpdatedTime", "Tags")] == [
        foreign_before[k] for k in ("StackStatus", "LastUpdatedTime", "Tags")]
    assert template_of(cfn, stack_name(foreign)) == theirs
    assert [s for s in cfn.describe_stacks()["Stacks"] if s["StackName"] == stack_name(unknown)] == []

    # Once the other operation is done, the next run takes the busy endpoint's stack over.
    inventory.host_vars(unknown, {"endpoint_monitoring_variants": ["AllTraffic"]})
    later = run_playbook(localstack, inventory, "monitor_endpoints.yml", "--limit", "%s,%s" % (busy, unknown))
    assert later.rc == 0, later.output
    assert later.summary()[busy] == ("changed", "%s (update, 1 change)" % stack_name(busy)), later.output
    assert "AlarmTopic" in template_of(cfn, stack_name(busy))["Resources"]


def test_stack_left_in_rollback_complete_is_created_again(localstack, inventory):
    cfn = localstack.client("cloudformation")
    endpoint = inventory.add("fleet", unique("rolledback"))
    # A creation that failed and rolled back, as CloudFormation leaves it (LocalStack rolls back a failed creation
    # made through a change set): the collection's tags, nothing inside.
    failing = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "not a queue name!"}}}}
    change_set = cfn.create_change_set(StackName=stack_name(endpoint), ChangeSetName="first", ChangeSetType="CREATE",
                                       TemplateBody=json.dumps(failing),
                                       Tags=TAGS + [{"Key": "sagemaker-endpoint", "Value": endpoint}])
    deadline = time.time() + 60
    while cfn.describe_change_set(ChangeSetName=change_set["Id"])["Status"] != "CREATE_COMPLETE":
        assert time.time() < deadline, cfn.describe_change_set(ChangeSetName=change_set["Id"])
        time.sleep(0.3)
    cfn.execute_change_set(ChangeSetName=change_set["Id"])
    assert wait_settled(cfn, stack_name(endpoint)) == "ROLLBACK_COMPLETE"

    preview = run_playbook(localstack, inventory, "monitor_endpoints.yml", "--check", "--diff")
    assert ("! stack %s is ROLLBACK_COMPLETE after a failed creation: it is removed and created again"
            % stack_name(endpoint)) in section(preview.output, DIFF), preview.output
    assert describe_stack(cfn, endpoint)["StackStatus"] == "ROLLBACK_COMPLETE"

    run, calls = recorded(localstack, inventory)
    assert run.rc == 0, run.output
    assert run.summary()[endpoint][1].startswith("%s (recreate, " % stack_name(endpoint)), run.output
    assert [c.operation for c in stack_writes(calls, endpoint)] == ["DeleteStack", "CreateStack"], \
        [c.key for c in calls]
    stack = describe_stack(cfn, endpoint)
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert {"TopicArn", "MonitoringFingerprint"} <= set(o["OutputKey"] for o in stack["Outputs"])
    assert run_playbook(localstack, inventory).changed(endpoint) == 0


# -- 5. progress -------------------------------------------------------------------------------------------------

def test_stack_task_prints_a_result_line_per_endpoint(localstack, inventory):
    endpoints = sorted(inventory.add("fleet", unique("progress%d" % i)) for i in range(3))
    run, calls = recorded(localstack, inventory, "--forks", "5")
    assert run.rc == 0, run.output
    applied = results(section(run.output, APPLY))
    assert sorted(applied) == [("changed", e) for e in endpoints], section(run.output, APPLY)
    for endpoint in endpoints:
        # its own line, not a line for the batch
        assert re.search(r"^changed: \[%s\]$" % re.escape(endpoint), section(run.output, APPLY), re.M)
    # the endpoints' stacks were applied side by side: every creation was asked for before the last one was done
    creates = sorted(c.time for c in calls if c.operation == "CreateStack")
    assert len(creates) == 3
    polls = dict((e, max(c.time for c in calls if c.operation == "DescribeStacks" and c.mentions(stack_name(e))))
                 for e in endpoints)
    assert creates[-1] < min(polls.values()), (creates, polls)
