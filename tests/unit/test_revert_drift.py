"""The cloudformation_revert_drift module's requests, proven with botocore's Stubber (no server makes drift-aware
change sets but AWS): the change set it asks for, what it does with the answers CloudFormation gives, and that a
create whose answer was lost is sent again as the same request."""

import datetime

import boto3
import pytest
from botocore.stub import ANY, Stubber

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils import drift
from ansible_collections.mlops.sagemaker_monitoring.plugins.modules import cloudformation_revert_drift

from module_runner import run_module

STACK = "sagemaker-monitoring-churn"
STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/%s/1" % STACK
TEMPLATE = '{"Resources": {}}'
TAGS = {"managed-by": "mlops.sagemaker_monitoring", "sagemaker-monitoring:endpoint": "churn"}
ARGS = {"stack_name": STACK, "template_body": TEMPLATE, "tags": TAGS, "region": "us-east-1",
        "role_arn": "arn:aws:iam::123456789012:role/cfn-monitoring"}
NOW = datetime.datetime(2026, 12, 1, tzinfo=datetime.timezone.utc)


@pytest.fixture
def cfn(monkeypatch):
    """A CloudFormation client whose answers the test gives, handed to the module in place of its own."""
    client = boto3.client("cloudformation", region_name="us-east-1", aws_access_key_id="k",
                          aws_secret_access_key="s")
    stubber = Stubber(client)
    monkeypatch.setattr(AnsibleAWSModule, "client", lambda self, service, **kwargs: client)
    with stubber:
        yield stubber
    stubber.assert_no_pending_responses()


def change_set(status, mode="REVERT_DRIFT", reason=None, changes=()):
    answer = {"ChangeSetName": ANY, "StackName": STACK, "Status": status, "ExecutionStatus": "AVAILABLE",
              "CreationTime": NOW, "Changes": list(changes)}
    if mode:
        answer["DeploymentMode"] = mode
    if reason:
        answer["StatusReason"] = reason
    return answer


def expect_create(stubber):
    stubber.add_response("create_change_set", {"Id": "cs-1", "StackId": STACK_ID}, {
        "StackName": STACK, "ChangeSetName": ANY, "ClientToken": ANY, "ChangeSetType": "UPDATE",
        "DeploymentMode": "REVERT_DRIFT", "TemplateBody": TEMPLATE, "Capabilities": [],
        "Tags": [{"Key": k, "Value": v} for k, v in sorted(TAGS.items())], "Description": ANY,
        "RoleARN": ARGS["role_arn"]})


def expect_described(stubber, answer, times=2):
    """The waiter's read and the module's own."""
    for _ in range(times):
        answer_copy = dict(answer)
        answer_copy["ChangeSetName"] = "cs"
        stubber.add_response("describe_change_set", answer_copy, {"StackName": STACK, "ChangeSetName": ANY})


def expect_execution(stubber, final_status):
    """ExecuteChangeSet, then the stack-update waiter's read, which finds the stack in final_status."""
    stubber.add_response("execute_change_set", {},
                         {"StackName": STACK, "ChangeSetName": ANY, "ClientRequestToken": ANY})
    stubber.add_response("describe_stacks", {"Stacks": [{"StackName": STACK, "CreationTime": NOW,
                                                         "StackStatus": final_status}]}, {"StackName": STACK})


ALARM_CHANGE = {"Type": "Resource", "ResourceChange": {
    "Action": "Modify", "LogicalResourceId": "AlarmAllTrafficModelLatency", "ResourceType": "AWS::CloudWatch::Alarm",
    "ResourceDriftStatus": "MODIFIED"}}
DELETED_CHANGE = {"Type": "Resource", "ResourceChange": {
    "Action": "Add", "LogicalResourceId": "HealthAlarm", "ResourceType": "AWS::CloudWatch::CompositeAlarm",
    "ResourceDriftStatus": "DELETED"}}


def test_a_drifted_stack_is_reverted_by_a_drift_aware_change_set_executed_once(cfn, capsys):
    expect_create(cfn)
    expect_described(cfn, change_set("CREATE_COMPLETE", changes=[ALARM_CHANGE, DELETED_CHANGE]))
    expect_execution(cfn, "UPDATE_COMPLETE")
    code, result = run_module(cloudformation_revert_drift, ARGS, capsys)
    assert code == 0, result
    assert result["changed"] is True and result["stack_status"] == "UPDATE_COMPLETE"
    assert result["changes"] == [
        "~ AWS::CloudWatch::Alarm AlarmAllTrafficModelLatency (Modify; drift MODIFIED)",
        "+ AWS::CloudWatch::CompositeAlarm HealthAlarm (Add; drift DELETED)"]
    assert result["change_set_name"].startswith(drift.CHANGE_SET_PREFIX)


def test_the_change_set_name_is_its_client_token_and_the_executions_request_token(cfn, capsys):
    seen = {}

    def remember(params, **kwargs):
        seen.setdefault(kwargs["event_name"], []).append(params)

    client = AnsibleAWSModule.client(None, "cloudformation")
    client.meta.events.register("provide-client-params.cloudformation.*", remember)
    expect_create(cfn)
    expect_described(cfn, change_set("CREATE_COMPLETE", changes=[ALARM_CHANGE]))
    expect_execution(cfn, "UPDATE_COMPLETE")
    code, result = run_module(cloudformation_revert_drift, ARGS, capsys)
    assert code == 0, result
    [created] = seen["provide-client-params.cloudformation.CreateChangeSet"]
    [executed] = seen["provide-client-params.cloudformation.ExecuteChangeSet"]
    assert created["ClientToken"] == created["ChangeSetName"] == executed["ChangeSetName"] == \
        executed["ClientRequestToken"] == result["change_set_name"]


def test_a_retried_create_is_the_same_request_so_cloudformation_makes_one_change_set():
    """botocore resends a CreateChangeSet whose answer was lost with the same parameters; its ClientToken (the
    change set's name, fixed for the module's run) makes CloudFormation answer the retry with the change set the
    first attempt made. (Over the wire, with a server that keeps CloudFormation's token promise, in
    tests/unit/test_aws_proxy.py.) The request carries no value that changes between attempts."""
    first = drift.revert_drift_request(STACK, "sagemaker-monitoring-revert-drift-abc", TEMPLATE, TAGS)
    assert first["ClientToken"] == first["ChangeSetName"] == "sagemaker-monitoring-revert-drift-abc"
    assert drift.revert_drift_request(STACK, "sagemaker-monitoring-revert-drift-abc", TEMPLATE, TAGS) == first
    assert drift.revert_drift_request(STACK, "sagemaker-monitoring-revert-drift-abd", TEMPLATE, TAGS) != first


def test_a_change_set_with_nothing_to_do_is_deleted_and_nothing_is_changed(cfn, capsys):
    expect_create(cfn)
    expect_described(cfn, change_set("FAILED", reason="The submitted information didn't contain changes. Submit "
                                                      "different information to create a change set."), times=2)
    cfn.add_response("delete_change_set", {}, {"StackName": STACK, "ChangeSetName": ANY})
    code, result = run_module(cloudformation_revert_drift, ARGS, capsys)
    assert code == 0, result
    assert result["changed"] is False and result["changes"] == []


def test_a_server_that_ignores_the_deployment_mode_is_refused_and_nothing_executed(cfn, capsys):
    expect_create(cfn)
    expect_described(cfn, change_set("CREATE_COMPLETE", mode=None, changes=[ALARM_CHANGE]))
    cfn.add_response("delete_change_set", {}, {"StackName": STACK, "ChangeSetName": ANY})
    code, result = run_module(cloudformation_revert_drift, ARGS, capsys)
    assert code == 1
    assert "ordinary change set, not a drift-aware one" in result["msg"] and STACK in result["msg"]


def test_a_change_set_that_fails_for_another_reason_fails_the_module_with_it(cfn, capsys):
    expect_create(cfn)
    expect_described(cfn, change_set("FAILED", reason="Resource is not in the state stackUpdateComplete"))
    cfn.add_response("delete_change_set", {}, {"StackName": STACK, "ChangeSetName": ANY})
    code, result = run_module(cloudformation_revert_drift, ARGS, capsys)
    assert code == 1 and "is FAILED: Resource is not in the state stackUpdateComplete" in result["msg"]


def test_an_update_that_rolls_back_fails_the_module_naming_the_stack_status(cfn, capsys):
    expect_create(cfn)
    expect_described(cfn, change_set("CREATE_COMPLETE", changes=[ALARM_CHANGE]))
    expect_execution(cfn, "UPDATE_ROLLBACK_COMPLETE")
    code, result = run_module(cloudformation_revert_drift, ARGS, capsys)
    assert code == 1 and "the stack is UPDATE_ROLLBACK_COMPLETE" in result["msg"]


def test_check_mode_makes_no_call(cfn, capsys):
    code, result = run_module(cloudformation_revert_drift, dict(ARGS, _ansible_check_mode=True), capsys)
    assert code == 0 and result["changed"] is True
