"""Writes whose answer was lost: the call reached AWS and took effect, botocore sent it again, and the retry met
what the first attempt did. Each write of the collection must then report what it did, not fail and not say that
another run did it. Run in-process with botocore's Stubber, which answers each call as AWS would answer the retry.

- CreateStack (amazon.aws.cloudformation): botocore resends the very request, so the retry carries the first
  attempt's ClientRequestToken (shown over the wire in tests/unit/test_aws_proxy.py), and CloudFormation answers a
  repeated token with the first attempt's stack. Without the token (or on an emulator that ignores it) the retry
  meets AlreadyExistsException, and the endpoint would fail as if another run had made the stack.
- DeleteDashboards (fleet_dashboards): no token; the retry meets the pages already deleted (ResourceNotFound).
- Subscribe, Unsubscribe, SetSubscriptionAttributes, PutDashboard, DeleteStack: idempotent in AWS, no test needed.
"""

import datetime
import json

import boto3
import pytest
from botocore.stub import Stubber

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from ansible_collections.amazon.aws.plugins.modules import cloudformation
from ansible_collections.mlops.sagemaker_monitoring.plugins.modules import fleet_dashboards

from module_runner import run_module
from test_fleet_dashboard_merge import deployed

REGION = "us-east-1"
STACK = "sagemaker-monitoring-churn"
STACK_ID = "arn:aws:cloudformation:%s:123456789012:stack/%s/5f3c2a10-0000-4000-8000-000000000001" % (REGION, STACK)
TOKEN = "7d0b6a52-6f0e-4d5e-9a51-0c1f1b5e2c33"
TEMPLATE = json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})
NOW = datetime.datetime(2026, 11, 1, 12, 0, tzinfo=datetime.timezone.utc)


def stubbed(service):
    client = boto3.client(service, region_name=REGION, aws_access_key_id="AK", aws_secret_access_key="SK")
    return client, Stubber(client)


@pytest.fixture
def clients(monkeypatch):
    """{service: (client, Stubber)}, filled by the test: AnsibleAWSModule.client returns the service's stubbed client,
    with the module's retry decorator."""
    made = {}

    def client(self, service, retry_decorator=None, **_kwargs):
        raw = made[service][0]
        return raw if retry_decorator is None else RetryingBotoClientWrapper(raw, retry_decorator)

    monkeypatch.setattr(AnsibleAWSModule, "client", client)
    return made


def stack(status, name=STACK):
    return {"StackId": STACK_ID, "StackName": name, "CreationTime": NOW, "StackStatus": status,
            "Outputs": [{"OutputKey": "TopicArn", "OutputValue": "arn:aws:sns:%s:123456789012:churn" % REGION}]}


def create(capsys, monkeypatch, answer):
    """amazon.aws.cloudformation creating STACK, as the role's apply task does, with the CreateStack answered by
    answer(stubber, expected parameters). Returns (exit code, result)."""
    monkeypatch.setattr(cloudformation.uuid, "uuid4", lambda: TOKEN)
    cfn, stub = stubbed("cloudformation")
    monkeypatch.setattr(AnsibleAWSModule, "client", lambda self, service, retry_decorator=None, **kw:
                        RetryingBotoClientWrapper(cfn, retry_decorator))
    stub.add_client_error("describe_stacks", "ValidationError", "Stack with id %s does not exist" % STACK,
                          expected_params={"StackName": STACK})
    expected = {"StackName": STACK, "TemplateBody": TEMPLATE, "Capabilities": [], "ClientRequestToken": TOKEN,
                "NotificationARNs": [], "Parameters": [], "Tags": [{"Key": "managed-by", "Value": "x"}],
                "OnFailure": "DELETE", "TimeoutInMinutes": 30, "EnableTerminationProtection": False}
    answer(stub, expected)
    with stub:
        code, result = run_module(cloudformation, {
            "stack_name": STACK, "state": "present", "template_body": TEMPLATE, "tags": {"managed-by": "x"},
            "on_create_failure": "DELETE", "create_timeout": 30, "termination_protection": False,
            "capabilities": [], "region": REGION}, capsys)
        if code == 0:
            stub.assert_no_pending_responses()
    return code, result


def test_a_create_whose_answer_was_lost_completes_as_created_by_this_run(capsys, monkeypatch):
    def as_aws_answers_the_retry(stub, expected):
        # The retry repeats the token of the attempt whose answer was lost: CloudFormation answers with that
        # attempt's stack, which is being created for this run.
        stub.add_response("create_stack", {"StackId": STACK_ID}, expected)
        stub.add_response("describe_stacks", {"Stacks": [stack("CREATE_COMPLETE")]}, {"StackName": STACK_ID})
        stub.add_response("describe_stack_events", {"StackEvents": [
            {"StackId": STACK_ID, "EventId": "e%d" % i, "StackName": STACK, "Timestamp": NOW, "LogicalResourceId": rid,
             "ResourceType": kind, "ResourceStatus": "CREATE_COMPLETE", "ClientRequestToken": TOKEN}
            for i, (rid, kind) in enumerate([("Topic", "AWS::SNS::Topic"), (STACK, "AWS::CloudFormation::Stack")])]},
            {"StackName": STACK_ID})
        stub.add_response("describe_stacks", {"Stacks": [stack("CREATE_COMPLETE")]}, {"StackName": STACK})
        stub.add_response("list_stack_resources", {"StackResourceSummaries": [
            {"LogicalResourceId": "Topic", "PhysicalResourceId": "arn:aws:sns:%s:123456789012:churn" % REGION,
             "ResourceType": "AWS::SNS::Topic", "LastUpdatedTimestamp": NOW, "ResourceStatus": "CREATE_COMPLETE"}]},
            {"StackName": STACK})

    code, result = create(capsys, monkeypatch, as_aws_answers_the_retry)
    assert code == 0 and not result.get("failed"), result
    assert result["changed"] is True and result["output"] == "Stack CREATE complete"
    # the events followed are those of this run's request (its token), not of someone else's operation
    assert result["events"] == ["StackEvent AWS::SNS::Topic Topic CREATE_COMPLETE",
                                "StackEvent AWS::CloudFormation::Stack %s CREATE_COMPLETE" % STACK]
    assert result["stack_outputs"] == {"TopicArn": "arn:aws:sns:%s:123456789012:churn" % REGION}


def test_without_the_token_kept_the_retry_meets_its_own_stack_and_the_create_fails(capsys, monkeypatch):
    """What an emulator that ignores ClientRequestToken answers the retry: the failure the role would report like a
    stack made by another run. Why the tests' proxy keeps CloudFormation's promise on tokens."""
    def as_an_emulator_answers_the_retry(stub, expected):
        stub.add_client_error("create_stack", "AlreadyExistsException", "Stack [%s] already exists" % STACK,
                              expected_params=expected)

    code, result = create(capsys, monkeypatch, as_an_emulator_answers_the_retry)
    assert code == 1 and result["failed"]
    assert "already exists" in result["msg"] and STACK in result["msg"], result["msg"]


# ------------------------------------------------------------------------------------------ fleet dashboards

BOARD = "sagemaker-monitoring-fleet-us-east-1"


def teardown_of(capsys, clients, pages, writes):
    """fleet_dashboards for a run that tore down endpoint `gone`, the only one on the deployed `pages`: every page is
    deleted. writes(cloudwatch stub): adds the answers to the calls after the reads."""
    _cloudwatch, cloudwatch_stub = clients.setdefault("cloudwatch", stubbed("cloudwatch"))
    _cfn, cfn_stub = clients.setdefault("cloudformation", stubbed("cloudformation"))
    listing(cloudwatch_stub, pages)
    for page in pages:
        cloudwatch_stub.add_response("get_dashboard", {"DashboardName": page, "DashboardBody": json.dumps(pages[page])},
                                     {"DashboardName": page})
    cfn_stub.add_response("describe_stacks", {"Stacks": []}, {})
    writes(cloudwatch_stub)
    for stub in (cloudwatch_stub, cfn_stub):
        stub.activate()
    code, result = run_module(fleet_dashboards, {"name": BOARD, "region": REGION,
                                                 "endpoints": [{"endpoint": "gone", "state": "absent"}]}, capsys)
    for stub in (cloudwatch_stub, cfn_stub):
        stub.assert_no_pending_responses()
    return code, result


def listing(stub, pages):
    stub.add_response("list_dashboards", {"DashboardEntries": [{"DashboardName": p} for p in pages]},
                      {"DashboardNamePrefix": BOARD})


def not_found(stub, names):
    stub.add_client_error("delete_dashboards", "ResourceNotFound",
                          "The specified dashboard does not exist. [%s]" % ", ".join(names), http_status_code=404,
                          expected_params={"DashboardNames": names})


def test_a_deletion_whose_answer_was_lost_counts_as_done(capsys, clients):
    pages = deployed("gone", base=BOARD)

    def answers(stub):
        not_found(stub, [BOARD])  # the retry: the first attempt deleted the page
        listing(stub, [])

    code, result = teardown_of(capsys, clients, pages, answers)
    assert code == 0 and "error" not in result, result
    assert result["changed"] is True and result["pages"] == []
    assert result["changes"] and BOARD in result["changes"][0]


def test_pages_still_there_after_a_deletion_met_not_found_are_deleted_again(capsys, clients):
    pages = dict(deployed("gone", base=BOARD), **{BOARD + "-1": deployed("gone", base=BOARD)[BOARD]})

    def answers(stub):
        not_found(stub, [BOARD, BOARD + "-1"])
        listing(stub, [BOARD + "-1"])
        stub.add_response("delete_dashboards", {}, {"DashboardNames": [BOARD + "-1"]})

    code, result = teardown_of(capsys, clients, pages, answers)
    assert code == 0 and "error" not in result and result["changed"] is True, result


def test_a_deletion_refused_for_another_reason_is_still_reported(capsys, clients):
    pages = deployed("gone", base=BOARD)

    def refused(stub):
        stub.add_client_error("delete_dashboards", "AccessDenied", "not allowed", http_status_code=403,
                              expected_params={"DashboardNames": [BOARD]})

    code, result = teardown_of(capsys, clients, pages, refused)
    assert code == 0 and "failed to write it" in result["error"] and "AccessDenied" in result["error"], result
