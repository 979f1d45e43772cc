"""Options of the fleet run against LocalStack: fleet dashboards kept right by partial runs, the topic's KMS key,
termination protection, and endpoints with bad settings failing alone with their message."""

import json
import os
import sys

import pytest

from conftest import REGION, ansible_env, run_playbook, unique

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "support"))

import aws_proxy  # noqa: E402

pytestmark = pytest.mark.integration


def fleet_sections(cloudwatch, name):
    body = json.loads(cloudwatch.get_dashboard(DashboardName=name)["DashboardBody"])
    return [w["properties"]["markdown"].split("`")[1] for w in sorted(body["widgets"], key=lambda w: w["y"])
            if w["type"] == "text" and w["properties"]["markdown"].startswith("### `")]


def writes(proxy):
    return [c for c in proxy.snapshot() if not c.read_only]


def test_fleet_dashboard_follows_partial_runs_and_teardown(localstack, inventory):
    board = "%s-%s" % (unique("sagemaker-monitoring-fleetcase"), REGION)
    inventory.group_vars("fleet", {"endpoint_monitoring_dashboard": "fleet",
                                   "endpoint_monitoring_fleet_dashboard_name": board[:-len(REGION) - 1]})
    a, b, c = sorted(inventory.add("fleet", unique("fd-%s" % n)) for n in "abc")
    cloudwatch = localstack.client("cloudwatch")
    cfn = localstack.client("cloudformation")

    run = run_playbook(localstack, inventory)
    assert run.rc == 0, run.output
    assert fleet_sections(cloudwatch, board) == [a, b, c]
    # fleet mode: no dashboard of the endpoint's own
    template = cfn.get_template(StackName="sagemaker-monitoring-" + a)["TemplateBody"]
    assert "AWS::CloudWatch::Dashboard" not in json.dumps(template)

    with aws_proxy.AwsProxy(localstack.url) as proxy:
        env = proxy.env(ansible_env(localstack))
        again = run_playbook(localstack, inventory, env=env)
        assert again.rc == 0 and writes(proxy) == [], [c.key for c in writes(proxy)]

        # A run that sees only b (--limit, or one slice of an AWX job) changes b's section and keeps a and c.
        inventory.host_vars(b, {"endpoint_monitoring_endpoint_metrics": {"ModelLatency": {"threshold": 321}}})
        proxy.clear()
        limited = run_playbook(localstack, inventory, "monitor_endpoints.yml", "--limit", b, env=env)
        assert limited.rc == 0, limited.output
        assert fleet_sections(cloudwatch, board) == [a, b, c]
        assert "Average > 321" in cloudwatch.get_dashboard(DashboardName=board)["DashboardBody"]
        assert [w.key for w in writes(proxy)].count(("monitoring", "PutDashboard")) == 1

    # c back to its own dashboard: it leaves the fleet dashboard
    inventory.host_vars(c, {"endpoint_monitoring_dashboard": "endpoint"})
    moved = run_playbook(localstack, inventory, "monitor_endpoints.yml", "--check", "--diff")
    assert "~ fleet dashboard %s: 3 -> 2 endpoints" % board in moved.output, moved.output
    assert fleet_sections(cloudwatch, board) == [a, b, c]  # check mode changed nothing
    assert run_playbook(localstack, inventory).rc == 0
    assert fleet_sections(cloudwatch, board) == [a, b]

    teardown = run_playbook(localstack, inventory, "teardown.yml")
    assert teardown.rc == 0, teardown.output
    names = [d["DashboardName"] for d in cloudwatch.list_dashboards(DashboardNamePrefix=board)["DashboardEntries"]]
    assert names == []


def test_someone_elses_dashboard_with_the_fleet_name_is_refused_not_overwritten(localstack, inventory):
    base = unique("sagemaker-monitoring-theirs")
    board = "%s-%s" % (base, REGION)
    cloudwatch = localstack.client("cloudwatch")
    theirs = {"widgets": [{"type": "text", "x": 0, "y": 0, "width": 6, "height": 2,
                           "properties": {"markdown": "our team's board"}}]}
    cloudwatch.put_dashboard(DashboardName=board, DashboardBody=json.dumps(theirs))
    endpoint = inventory.add("fleet", unique("fd-theirs"), endpoint_monitoring_dashboard="fleet",
                             endpoint_monitoring_fleet_dashboard_name=base)
    other = inventory.add("fleet", unique("fd-other"))
    run = run_playbook(localstack, inventory)
    assert json.loads(cloudwatch.get_dashboard(DashboardName=board)["DashboardBody"]) == theirs
    # The endpoints' own stacks are fine: neither fails for the dashboard (a failed run_once task would fail every
    # host of the play), and the summary says why the dashboard was left alone.
    assert run.rc == 0 and run.failed(endpoint) == 0 and run.failed(other) == 0, run.output
    assert run.summary()[endpoint][0] == run.summary()[other][0] == "changed", run.output
    flat = " ".join(run.output.split())
    assert "FAILED fleet dashboard %s: dashboard %s exists and is not this collection" % (board, board) in flat, \
        run.output


def test_topic_kms_key_and_termination_protection(localstack, inventory):
    endpoint = inventory.add("fleet", unique("kms"), endpoint_monitoring_topic_kms_key="alias/aws/sns",
                             endpoint_monitoring_termination_protection=True)
    run = run_playbook(localstack, inventory)
    assert run.rc == 0, run.output
    # LocalStack ignores EnableTerminationProtection in CreateStack (AWS applies it); the next run sees the stack
    # without it and turns it on with UpdateTerminationProtection, the same way it would after a manual change.
    again = run_playbook(localstack, inventory)
    assert again.rc == 0, again.output
    stack = localstack.client("cloudformation").describe_stacks(StackName="sagemaker-monitoring-" + endpoint)["Stacks"][0]
    assert stack["EnableTerminationProtection"] is True
    assert run_playbook(localstack, inventory).changed(endpoint) == 0
    topic = [o["OutputValue"] for o in stack["Outputs"] if o["OutputKey"] == "TopicArn"][0]
    attributes = localstack.client("sns").get_topic_attributes(TopicArn=topic)["Attributes"]
    assert attributes.get("KmsMasterKeyId") == "alias/aws/sns"
    refused = run_playbook(localstack, inventory, "teardown.yml")
    assert refused.rc != 0 and "has termination protection" in refused.output
    inventory.host_vars(endpoint, {"endpoint_monitoring_topic_kms_key": "not a key"})
    bad = run_playbook(localstack, inventory)
    assert bad.failed(endpoint) == 1
    assert "endpoint '%s': topic_kms_key: 'not a key' is not a KMS key" % endpoint in bad.output, bad.output
