"""monitoring_fleet's decisions per stack state, with fake CloudFormation and SNS clients (no server)."""

import json

import pytest

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

    def paginate(self, **_kwargs):
        return self.pages()


class FakeCloudFormation:
    def __init__(self, stacks):
        self.stacks = dict((s["StackName"], s) for s in stacks)
        self.calls = []

    def _call(self, name, kwargs):
        kwargs.pop("aws_retry", None)
        self.calls.append((name, kwargs))

    def get_paginator(self, _name):
        return Paginator(lambda: [{"Stacks": [dict(s) for s in self.stacks.values()]}])

    def get_template(self, **kwargs):
        self._call("get_template", kwargs)
        return {"TemplateBody": json.dumps(self.stacks[kwargs["StackName"]]["_template"])}

    def describe_stack_events(self, **kwargs):
        self._call("describe_stack_events", kwargs)
        return {"StackEvents": []}

    def create_stack(self, **kwargs):
        self._call("create_stack", kwargs)
        template = json.loads(kwargs["TemplateBody"])
        self.stacks[kwargs["StackName"]] = {
            "StackName": kwargs["StackName"], "StackId": "id-" + kwargs["StackName"], "StackStatus": "CREATE_COMPLETE",
            "Tags": kwargs["Tags"], "EnableTerminationProtection": kwargs.get("EnableTerminationProtection", False),
            "Outputs": [{"OutputKey": FINGERPRINT_OUTPUT,
                         "OutputValue": template["Outputs"][FINGERPRINT_OUTPUT]["Value"]}],
            "_template": template}
        return {"StackId": "id-" + kwargs["StackName"]}

    def update_stack(self, **kwargs):
        self._call("update_stack", kwargs)
        stack = self.stacks[kwargs["StackName"]]
        stack["StackStatus"] = "UPDATE_COMPLETE"
        return {"StackId": stack["StackId"]}

    def delete_stack(self, **kwargs):
        self._call("delete_stack", kwargs)
        self.stacks.pop(kwargs["StackName"])

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
        return Paginator(lambda: [{"Subscriptions": []}])

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

    def setup(stacks=(), dashboards=None):
        clients["cloudformation"] = FakeCloudFormation(stacks)
        clients["sns"] = FakeSns()
        clients["cloudwatch"] = FakeCloudWatch(dashboards)
        return clients

    return setup


def run(capsys, entries, check_mode=False, fleet_dashboards=()):
    args = {"endpoints": entries, "poll_interval": 0.01, "wait_timeout": 5, "region": "us-east-1",
            "_ansible_check_mode": check_mode, "fleet_dashboards": list(fleet_dashboards)}
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
    assert clients["cloudformation"].calls == []


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
    assert clients["cloudformation"].calls == []  # not even GetTemplate


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
