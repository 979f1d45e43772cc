"""monitoring_fleet's decisions per stack state, with fake CloudFormation and SNS clients (no server)."""

import json

import pytest
from botocore.exceptions import ClientError

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.fleet import (
    FINGERPRINT_OUTPUT,
    with_fingerprint,
)
from ansible_collections.mlops.sagemaker_monitoring.plugins.modules import monitoring_fleet
from module_runner import run_module

OURS = {"managed-by": "mlops.sagemaker_monitoring", "sagemaker-endpoint": "ep"}
TEMPLATE = {"Resources": {"AlarmTopic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "t"}},
                          "ModelLatency": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"Threshold": 1}}},
            "Outputs": {"TopicArn": {"Value": {"Ref": "AlarmTopic"}}}}
WRITES = ("create_stack", "update_stack", "delete_stack", "update_termination_protection", "subscribe",
          "unsubscribe", "set_subscription_attributes", "put_dashboard", "delete_dashboards")


class Paginator:
    def __init__(self, pages):
        self.pages = pages

    def paginate(self, **kwargs):
        return self.pages(**kwargs)


FINAL = {"CREATE_IN_PROGRESS": "CREATE_COMPLETE", "UPDATE_IN_PROGRESS": "UPDATE_COMPLETE",
         "DELETE_IN_PROGRESS": None, "ROLLBACK_IN_PROGRESS": None}


class FakeCloudFormation:
    """Stacks by name. An operation stays in progress for `polls` ListStacks calls (0: it is done at once), and a
    new stack is missing from ListStacks for its first `unlisted` answers, as a lagging real listing can be.
    A creation named in `failing` ends rolled back and deleted (OnFailure=DELETE)."""

    def __init__(self, stacks, polls=0, unlisted=0, failing=()):
        self.stacks = dict((s["StackName"], s) for s in stacks)
        self.calls = []
        self.polls, self.unlisted, self.failing = polls, unlisted, set(failing)
        self.most_in_progress = 0

    def _call(self, name, kwargs):
        kwargs.pop("aws_retry", None)
        self.calls.append((name, kwargs))

    def _begin(self, stack, status):
        stack["StackStatus"] = status
        stack["_left"] = self.polls
        if not self.polls:
            self._finish(stack)
        self.most_in_progress = max(self.most_in_progress, sum(
            1 for s in self.stacks.values() if s["StackStatus"].endswith("_IN_PROGRESS")))

    def _finish(self, stack):
        status = stack["StackStatus"]
        if status == "CREATE_IN_PROGRESS" and stack["StackName"] in self.failing:
            status = "ROLLBACK_IN_PROGRESS"
        final = FINAL.get(status, status)
        if final is None:
            self.stacks.pop(stack["StackName"])
        else:
            stack["StackStatus"] = final

    def _advance(self):
        for stack in list(self.stacks.values()):
            if stack.get("_left"):
                stack["_left"] -= 1
                if not stack["_left"]:
                    self._finish(stack)

    def _summaries(self, filters):
        self._call("list_stacks", {"StackStatusFilter": filters})
        self._advance()
        answer = [{"StackName": s["StackName"], "StackStatus": s["StackStatus"]} for s in self.stacks.values()
                  if s["StackStatus"] in filters and s.get("_hidden", 0) <= 0]
        for stack in self.stacks.values():
            stack["_hidden"] = stack.get("_hidden", 0) - 1
        return [{"StackSummaries": answer}]

    def get_paginator(self, name):
        if name == "list_stacks":
            return Paginator(lambda **kwargs: self._summaries(kwargs["StackStatusFilter"]))
        assert name == "describe_stacks"
        return Paginator(lambda **_kwargs: self._call("describe_stacks", {}) or [
            {"Stacks": [dict(s) for s in self.stacks.values()]}])

    def describe_stacks(self, **kwargs):
        self._call("describe_stacks", kwargs)
        if kwargs["StackName"] not in self.stacks:
            raise ClientError({"Error": {"Code": "ValidationError",
                                         "Message": "Stack with id %s does not exist" % kwargs["StackName"]}},
                              "DescribeStacks")
        return {"Stacks": [dict(self.stacks[kwargs["StackName"]])]}

    def get_template(self, **kwargs):
        self._call("get_template", kwargs)
        return {"TemplateBody": json.dumps(self.stacks[kwargs["StackName"]]["_template"])}

    def describe_stack_events(self, **kwargs):
        self._call("describe_stack_events", kwargs)
        if kwargs["StackName"].replace("id-", "", 1) in self.failing:
            return {"StackEvents": [{"ResourceStatus": "CREATE_FAILED",
                                     "ResourceStatusReason": "Alarm limit exceeded"}]}
        return {"StackEvents": []}

    def create_stack(self, **kwargs):
        self._call("create_stack", kwargs)
        template = json.loads(kwargs["TemplateBody"])
        stack = self.stacks[kwargs["StackName"]] = {
            "StackName": kwargs["StackName"], "StackId": "id-" + kwargs["StackName"],
            "Tags": kwargs["Tags"], "EnableTerminationProtection": kwargs.get("EnableTerminationProtection", False),
            "Outputs": [{"OutputKey": FINGERPRINT_OUTPUT,
                         "OutputValue": template["Outputs"][FINGERPRINT_OUTPUT]["Value"]}],
            "_template": template, "_hidden": self.unlisted}
        self._begin(stack, "CREATE_IN_PROGRESS")
        return {"StackId": "id-" + kwargs["StackName"]}

    def update_stack(self, **kwargs):
        self._call("update_stack", kwargs)
        stack = self.stacks[kwargs["StackName"]]
        self._begin(stack, "UPDATE_IN_PROGRESS")
        return {"StackId": stack["StackId"]}

    def delete_stack(self, **kwargs):
        self._call("delete_stack", kwargs)
        self._begin(self.stacks[kwargs["StackName"]], "DELETE_IN_PROGRESS")

    def update_termination_protection(self, **kwargs):
        self._call("update_termination_protection", kwargs)
        self.stacks[kwargs["StackName"]]["EnableTerminationProtection"] = kwargs["EnableTerminationProtection"]


class FakeCloudWatch:
    def __init__(self, dashboards=None):
        self.dashboards = dict(dashboards or {})
        self.calls = []

    def get_paginator(self, _name):
        def pages(DashboardNamePrefix=""):
            return [{"DashboardEntries": [{"DashboardName": n} for n in sorted(self.dashboards)
                                          if n.startswith(DashboardNamePrefix)]}]

        class Pages:
            def paginate(self, **kwargs):
                return pages(**kwargs)
        return Pages()

    def get_dashboard(self, **kwargs):
        kwargs.pop("aws_retry", None)
        return {"DashboardBody": self.dashboards[kwargs["DashboardName"]]}

    def put_dashboard(self, **kwargs):
        kwargs.pop("aws_retry", None)
        self.calls.append(("put_dashboard", kwargs))
        self.dashboards[kwargs["DashboardName"]] = kwargs["DashboardBody"]
        return {"DashboardValidationMessages": []}

    def delete_dashboards(self, **kwargs):
        kwargs.pop("aws_retry", None)
        self.calls.append(("delete_dashboards", kwargs))
        for name in kwargs["DashboardNames"]:
            self.dashboards.pop(name)


class FakeSns:
    def __init__(self):
        self.calls = []

    def get_paginator(self, _name):
        return Paginator(lambda **_kwargs: [{"Subscriptions": []}])

    def subscribe(self, **kwargs):
        kwargs.pop("aws_retry", None)
        self.calls.append(("subscribe", kwargs))
        return {"SubscriptionArn": "pending confirmation"}


def stack(name="sagemaker-monitoring-ep", status="CREATE_COMPLETE", tags=OURS, protected=False, template=TEMPLATE,
          fingerprinted=True):
    applied = with_fingerprint(template, dict(OURS))
    outputs = [{"OutputKey": "TopicArn", "OutputValue": "arn:aws:sns:us-east-1:123456789012:t"}]
    if fingerprinted:
        outputs.append({"OutputKey": FINGERPRINT_OUTPUT,
                        "OutputValue": applied["Outputs"][FINGERPRINT_OUTPUT]["Value"]})
    return {"StackName": name, "StackId": "id-" + name, "StackStatus": status, "EnableTerminationProtection": protected,
            "Tags": [{"Key": k, "Value": v} for k, v in tags.items()], "Outputs": outputs, "_template": applied}


def entry(**values):
    base = {"endpoint": "ep", "region": "us-east-1", "stack_name": "sagemaker-monitoring-ep", "template": TEMPLATE,
            "tags": dict(OURS)}
    base.update(values)
    return base


@pytest.fixture
def aws(monkeypatch):
    clients = {}

    def fake_client(module, service, retry_decorator=None, region=None):
        return clients[service]

    monkeypatch.setattr(AnsibleAWSModule, "client", fake_client)

    def setup(stacks=(), dashboards=None, **progress):
        clients["cloudformation"] = FakeCloudFormation(stacks, **progress)
        clients["sns"] = FakeSns()
        clients["cloudwatch"] = FakeCloudWatch(dashboards)
        return clients

    return setup


def run(capsys, entries, check_mode=False, fleet_dashboards=(), **options):
    args = {"endpoints": entries, "poll_interval": 0.01, "wait_timeout": 5, "region": "us-east-1",
            "_ansible_check_mode": check_mode, "fleet_dashboards": list(fleet_dashboards)}
    args.update(options)
    code, result = run_module(monitoring_fleet, args, capsys)
    return code, result


def writes(clients):
    return [c for client in clients.values() for c in client.calls if c[0] in WRITES]


def test_absent_deletes_a_stack_of_ours_and_waits_for_it(aws, capsys):
    clients = aws([stack()])
    code, result = run(capsys, [entry(state="absent")])
    assert code == 0
    ep = result["endpoints"]["ep"]
    assert (ep["status"], ep["action"]) == ("changed", "delete")
    assert ep["changes"][0].startswith("- stack sagemaker-monitoring-ep and everything in it: topic")
    assert [c[0] for c in writes(clients)] == ["delete_stack"]
    assert "sagemaker-monitoring-ep" not in clients["cloudformation"].stacks


def test_absent_in_check_mode_says_what_would_go_and_writes_nothing(aws, capsys):
    clients = aws([stack()])
    _code, result = run(capsys, [entry(state="absent")], check_mode=True)
    assert result["endpoints"]["ep"]["action"] == "delete"
    assert writes(clients) == []


@pytest.mark.parametrize("existing, message", [
    (stack(tags={"owner": "someone"}), "is not tagged managed-by=mlops.sagemaker_monitoring"),
    (stack(status="UPDATE_IN_PROGRESS"), "is busy (UPDATE_IN_PROGRESS)"),
    (stack(protected=True), "has termination protection"),
    (stack(status="DELETE_FAILED"), "delete-stack --stack-name sagemaker-monitoring-ep"),
])
def test_absent_leaves_stacks_it_must_not_delete_with_a_message(aws, capsys, existing, message):
    clients = aws([existing])
    _code, result = run(capsys, [entry(state="absent")])
    ep = result["endpoints"]["ep"]
    assert ep["status"] == "failed" and message in ep["error"], ep
    assert ep["error"].startswith("endpoint 'ep': ")
    assert writes(clients) == []


def test_absent_without_a_stack_is_unchanged(aws, capsys):
    clients = aws([])
    _code, result = run(capsys, [entry(state="absent")])
    assert result["endpoints"]["ep"]["status"] == "unchanged"
    assert writes(clients) == []


def test_termination_protection_is_set_on_creation(aws, capsys):
    clients = aws([])
    run(capsys, [entry(termination_protection=True)])
    [(name, kwargs)] = writes(clients)
    assert name == "create_stack" and kwargs["EnableTerminationProtection"] is True


@pytest.mark.parametrize("protected, wanted, line", [(False, True, "~ termination protection off -> on"),
                                                      (True, False, "~ termination protection on -> off")])
def test_termination_protection_follows_the_setting_without_a_stack_update(aws, capsys, protected, wanted, line):
    clients = aws([stack(protected=protected)])
    _code, result = run(capsys, [entry(termination_protection=wanted)])
    assert result["endpoints"]["ep"]["changes"] == [line]
    assert writes(clients) == [("update_termination_protection", {"StackName": "sagemaker-monitoring-ep",
                                                                   "EnableTerminationProtection": wanted})]
    _code, again = run(capsys, [entry(termination_protection=wanted)])
    assert again["endpoints"]["ep"]["status"] == "unchanged"


def test_unchanged_stack_makes_no_call_past_the_listing(aws, capsys):
    clients = aws([stack()])
    _code, result = run(capsys, [entry()])
    assert result["endpoints"]["ep"]["status"] == "unchanged" and not result["changed"]
    assert clients["cloudformation"].calls == [("describe_stacks", {})]  # the region's listing


def test_update_rollback_failed_is_left_alone_with_what_to_do(aws, capsys):
    clients = aws([stack(status="UPDATE_ROLLBACK_FAILED", fingerprinted=False)])
    _code, result = run(capsys, [entry()])
    ep = result["endpoints"]["ep"]
    assert ep["status"] == "failed"
    assert "continue-update-rollback --stack-name sagemaker-monitoring-ep" in ep["error"]
    assert writes(clients) == []


def test_rollback_complete_is_deleted_and_created_again(aws, capsys):
    clients = aws([stack(status="ROLLBACK_COMPLETE", fingerprinted=False)])
    _code, result = run(capsys, [entry()])
    ep = result["endpoints"]["ep"]
    assert (ep["status"], ep["action"]) == ("changed", "recreate"), ep
    assert [c[0] for c in writes(clients)] == ["delete_stack", "create_stack"]


def test_webhook_urls_never_appear_in_the_output(aws, capsys):
    secret = "https://hooks.example.com/services/T000/B000/s3cr3t-t0ken"
    clients = aws([stack()])
    with_hook = entry(subscribers=[{"protocol": "https", "endpoint": secret}])
    args = {"endpoints": [with_hook], "poll_interval": 0.01, "wait_timeout": 5, "region": "us-east-1"}
    from ansible.module_utils.testing import patch_module_args
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            monitoring_fleet.main()
    out = capsys.readouterr().out
    assert "s3cr3t-t0ken" not in out
    assert [c[1]["Endpoint"] for c in clients["sns"].calls] == [secret]  # subscribed with the real URL
    assert "https://hooks.example.com/..." in out


def board(*names, drop=()):
    from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.dashboard import fleet_sections
    entries = [{"endpoint": n, "region": "us-east-1", "variants": [{"name": "AllTraffic", "metrics": ["ModelLatency"]}],
                "alarms": []} for n in names]
    return {"region": "us-east-1", "name": "sagemaker-monitoring-fleet-us-east-1",
            "sections": [list(s) for s in fleet_sections(entries)], "drop": list(drop)}


def test_fleet_dashboard_is_created_then_left_alone_and_removed_with_its_last_endpoint(aws, capsys):
    clients = aws([stack()])
    _code, result = run(capsys, [entry()], fleet_dashboards=[board("ep")])
    assert result["fleet_dashboards"]["sagemaker-monitoring-fleet-us-east-1"]["changes"] == [
        "+ fleet dashboard sagemaker-monitoring-fleet-us-east-1: 1 endpoints, 3 widgets"]
    assert result["changed"] and "+ fleet dashboard" in result["diff"]["prepared"]
    assert [c[0] for c in writes(clients)] == ["put_dashboard"]
    clients["cloudwatch"].calls.clear()
    _code, again = run(capsys, [entry()], fleet_dashboards=[board("ep")])
    assert not again["changed"] and writes(clients) == []
    _code, gone = run(capsys, [entry(state="absent")], fleet_dashboards=[board(drop=["ep"])], check_mode=True)
    assert gone["fleet_dashboards"]["sagemaker-monitoring-fleet-us-east-1"]["changes"] == [
        "- fleet dashboard sagemaker-monitoring-fleet-us-east-1 (no endpoint left on it)"]
    assert writes(clients) == []


def test_someone_elses_dashboard_with_the_fleet_name_is_not_overwritten(aws, capsys):
    clients = aws([stack()], dashboards={"sagemaker-monitoring-fleet-us-east-1": json.dumps({"widgets": []})})
    _code, result = run(capsys, [entry()], fleet_dashboards=[board("ep")])
    fleet = result["fleet_dashboards"]["sagemaker-monitoring-fleet-us-east-1"]
    assert fleet["status"] == "failed" and "is not this collection's" in fleet["error"]
    assert writes(clients) == []


def test_a_stack_another_run_is_creating_is_left_alone_without_reading_it(aws, capsys):
    clients = aws([stack(status="CREATE_IN_PROGRESS", fingerprinted=False)])
    _code, result = run(capsys, [entry()])
    ep = result["endpoints"]["ep"]
    assert ep["status"] == "failed" and "is busy (CREATE_IN_PROGRESS)" in ep["error"], ep
    assert clients["cloudformation"].calls == [("describe_stacks", {})]  # the listing, not even GetTemplate


def test_sns_subscriptions_never_prints_a_webhook_url(monkeypatch, capsys):
    from ansible_collections.mlops.sagemaker_monitoring.plugins.modules import sns_subscriptions

    class Pages:
        def build_full_result(self):
            return {"Subscriptions": []}

    class Sns(FakeSns):
        def get_paginator(self, _name):
            return type("Paginator", (), {"paginate": lambda self, **_kwargs: Pages()})()

    sns = Sns()
    monkeypatch.setattr(AnsibleAWSModule, "client", lambda module, service, retry_decorator=None, region=None: sns)
    secret = "https://hooks.example.com/services/T1/B1/t0ken-s3cret"
    code, _result = run_module(sns_subscriptions, {
        "topic_arn": "arn:aws:sns:us-east-1:123456789012:sagemaker-monitoring-ep", "region": "us-east-1",
        "subscribers": [{"protocol": "https", "endpoint": secret}]}, capsys)
    assert code == 0
    assert [c[1]["Endpoint"] for c in sns.calls] == [secret]
    assert "t0ken-s3cret" not in json.dumps(_result)


# -- the wait loop: one ListStacks of the stacks in progress per poll, a DescribeStacks per stack once it is done --

def fleet_of(count):
    return [entry(endpoint="ep%d" % i, stack_name="sagemaker-monitoring-ep%d" % i,
                  tags={"managed-by": "mlops.sagemaker_monitoring", "sagemaker-endpoint": "ep%d" % i})
            for i in range(count)]


def call_names(client):
    return [c[0] for c in client.calls]


def region_listings(cfn):
    return sum(1 for c in cfn.calls if c == ("describe_stacks", {}))


def described_by_name(cfn):
    return [c[1]["StackName"] for c in cfn.calls if c[0] == "describe_stacks" and c[1]]


def test_creates_are_waited_for_with_one_listing_per_poll_and_a_description_per_finished_stack(aws, capsys):
    clients = aws([], polls=3)
    _code, result = run(capsys, fleet_of(3), concurrency=1)
    cfn = clients["cloudformation"]
    assert all(r["status"] == "changed" for r in result["endpoints"].values()), result
    assert sorted(cfn.stacks) == ["sagemaker-monitoring-ep%d" % i for i in range(3)]
    assert all(s["StackStatus"] == "CREATE_COMPLETE" for s in cfn.stacks.values())
    assert cfn.most_in_progress == 1  # the concurrency setting
    names = call_names(cfn)
    assert names.count("create_stack") == 3 and names.count("list_stacks") == 9  # three waves of 3 polls
    # a stack is described once, when it has left the in-progress listing; the region is listed only at the start
    assert sorted(described_by_name(cfn)) == sorted(cfn.stacks) and region_listings(cfn) == 1
    filters = set(tuple(c[1]["StackStatusFilter"]) for c in cfn.calls if c[0] == "list_stacks")
    assert len(filters) == 1 and all(s.endswith("_IN_PROGRESS") for s in filters.pop())


def test_stacks_finishing_together_are_read_from_one_region_listing_when_that_is_fewer_calls(aws, capsys):
    clients = aws([], polls=2)
    _code, result = run(capsys, fleet_of(4), concurrency=2)
    cfn = clients["cloudformation"]
    assert all(r["status"] == "changed" for r in result["endpoints"].values()), result
    assert cfn.most_in_progress == 2
    # two finish in each of two waves: a one-page listing each time beats two DescribeStacks
    assert described_by_name(cfn) == [] and region_listings(cfn) == 1 + 2


def test_outputs_of_a_created_stack_come_from_its_own_description(aws, capsys):
    aws([], polls=1)
    _code, result = run(capsys, fleet_of(1))
    ep = result["endpoints"]["ep0"]
    assert ep["status"] == "changed" and FINGERPRINT_OUTPUT in ep.get("outputs", {}), ep


def test_a_stack_missing_from_a_lagging_listing_is_described_and_still_waited_for(aws, capsys):
    clients = aws([], polls=3, unlisted=2)
    _code, result = run(capsys, fleet_of(1))
    cfn = clients["cloudformation"]
    assert result["endpoints"]["ep0"]["status"] == "changed", result
    assert cfn.stacks["sagemaker-monitoring-ep0"]["StackStatus"] == "CREATE_COMPLETE"
    # unlisted for two polls: described each time, found in progress, kept; then listed; then done
    assert len(described_by_name(cfn)) == 3


def test_a_creation_that_fails_and_rolls_back_is_reported_with_its_reason(aws, capsys):
    clients = aws([], polls=2, failing=["sagemaker-monitoring-ep1"])
    _code, result = run(capsys, fleet_of(2))
    ok, bad = result["endpoints"]["ep0"], result["endpoints"]["ep1"]
    assert ok["status"] == "changed"
    assert bad["status"] == "failed" and "rolled back: Alarm limit exceeded" in bad["error"], bad
    assert "sagemaker-monitoring-ep1" not in clients["cloudformation"].stacks


def test_a_delete_is_waited_for_until_the_stack_is_gone(aws, capsys):
    clients = aws([stack()], polls=2)
    _code, result = run(capsys, [entry(state="absent")])
    assert result["endpoints"]["ep"]["status"] == "changed"
    assert clients["cloudformation"].stacks == {}
    assert call_names(clients["cloudformation"]).count("list_stacks") == 2


class Clock:
    def __init__(self):
        self.now, self.slept = 1000.0, []

    def time(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def test_the_wait_backs_off_until_an_operation_finishes_then_polls_at_a_share_of_its_duration(
        aws, capsys, monkeypatch):
    clock = Clock()
    monkeypatch.setattr(monitoring_fleet, "time", clock)
    clients = aws([], polls=4)
    _code, result = run(capsys, fleet_of(3), concurrency=1, poll_interval=3.0, wait_timeout=100)
    assert all(r["status"] == "changed" for r in result["endpoints"].values()), result
    assert call_names(clients["cloudformation"]).count("list_stacks") == 12  # each create is in progress 4 polls
    # first: 0.5 doubling up to 3; it took 6.5 s, so an eighth of that; the second took 3.25 s: the median is
    # 4.875 s, an eighth of which is the delay for the third
    assert clock.slept == [0.5, 1.0, 2.0, 3.0] + [6.5 / 8] * 4 + [4.875 / 8] * 4


def test_the_wait_does_not_sleep_past_the_wait_timeout(aws, capsys, monkeypatch):
    clock = Clock()
    monkeypatch.setattr(monitoring_fleet, "time", clock)
    aws([], polls=10 ** 6)
    _code, result = run(capsys, fleet_of(1), wait_timeout=3, poll_interval=5.0)
    assert result["endpoints"]["ep0"]["status"] == "failed"
    assert clock.slept == [0.5, 1.0, 1.5]  # the third delay (2 s) is cut at the deadline, then it gives up


def test_stacks_still_in_progress_at_the_wait_timeout_fail_by_name(aws, capsys):
    aws([], polls=10 ** 6)
    _code, result = run(capsys, fleet_of(1), wait_timeout=1, poll_interval=0.2)
    ep = result["endpoints"]["ep0"]
    assert ep["status"] == "failed" and "sagemaker-monitoring-ep0 did not finish within wait_timeout" in ep["error"]
