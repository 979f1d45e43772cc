"""The monitoring_plan module, run in-process against a moto server on 127.0.0.1: stacks made from the role's own
template, SNS subscriptions and SageMaker endpoints made with boto3. (moto skips the alarm resources of a template
but keeps the stacks, their outputs and tags: all that the plan reads.)"""

import copy
import json

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_settings import plan_entry
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.plan import outputs_of
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.sagemaker_facts import iso_time
from ansible_collections.mlops.sagemaker_monitoring.plugins.modules import monitoring_plan

from module_runner import run_aws_module
from moto_support import closed_port_url, instance_variant
from role_support import DIGEST, SERVERLESS, bare, described as role_described

OURS = {"managed-by": "mlops.sagemaker_monitoring"}
STALE = "2020-01-01T00:00:00+00:00"
# What a region's drift check reads where stacks exist: its alarms and dashboards, and (fewer than 5 endpoints:
# the budget leaves none but the one read every run) one topic policy.
VERIFIED = {"describe_alarms": 1, "list_dashboards": 1, "get_topic_attributes": 1}


def with_verification(regions=1, **calls):
    return dict(calls, **dict((k, v * regions) for k, v in VERIFIED.items()))


def described(endpoint="churn", *args, **values):
    """role_support.described, without the composite health alarm unless asked for: moto implements no composite
    alarm (PutCompositeAlarm), so a stack made on it would read as drifted. The LocalStack tests check composites."""
    values.setdefault("composite", False)
    return role_described(endpoint, *args, **values)


def plan(capsys, moto, entries):
    """One run of the module, as the role's run_once task makes it (every AWS call tried once)."""
    code, result = run_aws_module(monitoring_plan, {"endpoints": entries}, capsys, moto)
    assert code == 0, result
    assert result["changed"] is False
    return result


def bare_entry(endpoint="churn", region="us-east-1", host=None, **values):
    """What monitoring_prepare gives the plan for an endpoint the inventory names only, with no cached facts."""
    values.setdefault("composite", False)  # as described() below
    return dict(plan_entry(bare(endpoint, region, **values), code_digest=DIGEST), host=host or endpoint)


def sagemaker_endpoint(moto, name="churn", instance_type="ml.m5.xlarge", count=2, region="us-east-1", variants=None):
    model = moto.model(name + "-model", region)
    return moto.endpoint(name, variants or [instance_variant("AllTraffic", model, instance_type, count)], region)


# --------------------------------------------------------------------------------------------- endpoints described

def test_a_new_endpoint_is_created_and_the_applied_stack_confirmed_unchanged(moto, capsys):
    prepared = described()
    result = plan(capsys, moto, [prepared["plan_entry"]])
    churn = result["endpoints"]["churn"]
    assert (churn["status"], churn["action"], churn["changes"]) == ("changed", "create",
                                                                    ["+ stack sagemaker-monitoring-churn"])
    assert result["changed_hosts"] == ["churn"] and result["failed_hosts"] == [] and result["facts"] == {}
    # a stack to create: its names are looked up once (alarms and dashboards by the collection's name prefix)
    assert result["calls"] == {"describe_stacks": 1, "describe_alarms": 1, "list_topics": 1, "list_dashboards": 1}
    # small enough to be registered on every host of a large batch: no spec (the role computes it per host)
    assert "spec" not in churn and "entry" not in churn

    moto.monitoring_stack(prepared)
    again = plan(capsys, moto, [prepared["plan_entry"]])  # the role's confirmation after the apply
    assert again["endpoints"]["churn"]["status"] == "unchanged" and again["changed_hosts"] == []
    assert again["endpoints"]["churn"]["outputs"]["TopicArn"].endswith(":sagemaker-monitoring_churn")
    assert again["calls"] == with_verification(describe_stacks=1)


def test_a_run_where_nothing_changed_makes_one_listing_per_region(moto, capsys):
    fleet = [described("ep%d" % i) for i in range(3)] + [described("ep0", region="eu-west-1")]
    for prepared in fleet:
        moto.monitoring_stack(prepared)
    result = plan(capsys, moto, [dict(p["plan_entry"], host="%s@%s" % (p["spec"]["endpoint"], p["spec"]["region"]))
                                 for p in fleet])
    assert set(r["status"] for r in result["endpoints"].values()) == {"unchanged"}
    assert len(result["endpoints"]) == 4
    # one listing a region and its drift check; no subscriber: no ListSubscriptions
    assert result["calls"] == with_verification(regions=2, describe_stacks=2)


def test_subscribers_are_compared_with_one_listing_of_subscriptions(moto, capsys):
    prepared = described(subscribers=[{"protocol": "email", "endpoint": "a@example.com"},
                                      {"protocol": "email", "endpoint": "b@example.com"}])
    topic = outputs_of(moto.monitoring_stack(prepared))["TopicArn"]
    moto.subscribe(topic, "email", "a@example.com")
    moto.subscribe(topic, "email", "old@example.com")
    result = plan(capsys, moto, [prepared["plan_entry"]])
    churn = result["endpoints"]["churn"]
    assert (churn["status"], churn["action"], churn["changes"]) == ("changed", "none",
                                                                    ["+ subscription email b@example.com"])
    assert churn["subscriptions_change"] is True and churn["protection_change"] is False
    assert result["calls"] == with_verification(describe_stacks=1, list_subscriptions=1)

    purge = dict(prepared["plan_entry"], purge_subscriptions=True)
    assert plan(capsys, moto, [purge])["endpoints"]["churn"]["changes"] == [
        "+ subscription email b@example.com", "- subscription email old@example.com"]
    moto.subscribe(topic, "email", "b@example.com")
    assert plan(capsys, moto, [prepared["plan_entry"]])["endpoints"]["churn"]["status"] == "unchanged"


def test_subscriptions_waiting_for_confirmation_are_counted_against_the_quota_with_a_warning(moto, capsys,
                                                                                             monkeypatch):
    prepared = described(subscribers=[{"protocol": "email", "endpoint": "a@example.com"},
                                      {"protocol": "email", "endpoint": "b@example.com"},
                                      {"protocol": "sqs", "endpoint": "arn:aws:sqs:us-east-1:123456789012:q"}])
    topic = outputs_of(moto.monitoring_stack(prepared))["TopicArn"]
    moto.subscribe(topic, "email", "a@example.com")
    other = moto.client("sns").create_topic(Name="someone-elses")["TopicArn"]
    for i in range(3):
        moto.subscribe(other, "email", "user%d@example.com" % i)
    # moto confirms every subscription at once; on AWS, email ones wait for their subscriber until confirmed
    listed = monitoring_plan.Region.subscriptions

    def as_aws_lists_them(self):
        grouped = listed(self)
        for subscriptions in grouped.values():
            for sub in subscriptions:
                if sub["Protocol"] == "email":
                    sub["SubscriptionArn"] = "PendingConfirmation"
        return grouped

    monkeypatch.setattr(monitoring_plan.Region, "subscriptions", as_aws_lists_them)
    code, result = run_aws_module(monitoring_plan, {"endpoints": [prepared["plan_entry"]],
                                                    "pending_subscriptions_quota": 5}, capsys, moto)
    assert code == 0, result
    churn = result["endpoints"]["churn"]
    assert churn["pending_confirmation"] == [{"protocol": "email", "endpoint": "a@example.com"}]
    assert churn["confirmations_asked"] == 1  # b@example.com; the queue needs no confirmation
    assert result["pending_subscriptions"] == {"us-east-1": {"pending": 4, "asked": 1, "quota": 5}}
    assert not result.get("warnings")  # 4 + 1: exactly the quota

    code, result = run_aws_module(monitoring_plan, {"endpoints": [prepared["plan_entry"]],
                                                    "pending_subscriptions_quota": 4}, capsys, moto)
    assert [w for w in result["warnings"] if w.startswith(
        "us-east-1: 4 subscriptions of the account already wait for confirmation and this run asks for 1 more, "
        "past SNS's quota of 4")], result["warnings"]


def test_a_settings_change_is_an_update_and_protection_alone_a_protect(moto, capsys):
    moto.monitoring_stack(described())
    stricter = described(endpoint_metrics={"ModelLatency": {"threshold": 100}})
    result = plan(capsys, moto, [stricter["plan_entry"]])
    churn = result["endpoints"]["churn"]
    assert (churn["status"], churn["action"]) == ("changed", "update")
    assert result["calls"] == {"describe_stacks": 1}  # names are looked up only for a stack to create
    protected = described(termination_protection=True)
    churn = plan(capsys, moto, [protected["plan_entry"]])["endpoints"]["churn"]
    assert (churn["action"], churn["changes"], churn["protection_change"]) == (
        "protect", ["~ termination protection off -> on"], True)


def test_stacks_it_must_not_touch_fail_only_their_endpoint(moto, capsys):
    moto.small_stack("sagemaker-monitoring-theirs", {"owner": "data-platform"})
    moto.monitoring_stack(described("protected", termination_protection=True))
    moto.monitoring_stack(described("gone"))
    entries = [described("theirs")["plan_entry"], described("fine")["plan_entry"],
               dict(plan_entry(bare("protected", state="absent")), host="protected"),
               dict(plan_entry(bare("gone", state="absent")), host="gone"),
               dict(plan_entry(bare("never", state="absent")), host="never")]
    result = plan(capsys, moto, entries)
    endpoints = result["endpoints"]
    assert result["failed_hosts"] == ["theirs", "protected"]
    assert endpoints["theirs"]["error"].startswith("endpoint 'theirs': stack sagemaker-monitoring-theirs exists but "
                                                   "is not tagged managed-by=mlops.sagemaker_monitoring")
    assert endpoints["protected"]["error"].startswith("endpoint 'protected': stack sagemaker-monitoring-protected has "
                                                      "termination protection on")
    assert (endpoints["gone"]["status"], endpoints["gone"]["action"]) == ("changed", "delete")
    assert (endpoints["never"]["status"], endpoints["never"]["action"]) == ("unchanged", "none")
    assert endpoints["fine"]["action"] == "create" and result["changed_hosts"] == ["fine", "gone"]


def test_two_hosts_with_one_stack_in_a_region_both_fail_naming_each_other(moto, capsys):
    first = dict(described()["plan_entry"], host="churn@us-east-1")
    second = dict(described()["plan_entry"], host="churn")
    elsewhere = dict(described(region="eu-west-1")["plan_entry"], host="churn@eu-west-1")
    result = plan(capsys, moto, [first, second, elsewhere])
    assert result["failed_hosts"] == ["churn@us-east-1", "churn"]
    assert result["endpoints"]["churn"]["error"] == (
        "endpoint 'churn': stack sagemaker-monitoring-churn in us-east-1 would also be the stack of endpoint 'churn' "
        "(host 'churn@us-east-1'): two hosts of a run may not share a stack or a name of what it holds, so none of "
        "them is applied (check endpoint_monitoring_endpoint_name and endpoint_monitoring_stack_prefix)")
    assert result["endpoints"]["churn@us-east-1"]["error"].startswith(
        "endpoint 'churn': stack sagemaker-monitoring-churn in us-east-1 would also be the stack of endpoint 'churn' "
        "(host 'churn'): ")
    assert result["endpoints"]["churn@eu-west-1"]["action"] == "create"  # the same endpoint name in another region


def test_stack_prefixes_that_make_one_stack_name_fail_both_endpoints_before_any_call(moto, capsys):
    # prefix a-b- + endpoint cola and prefix a- + endpoint b-cola: one stack, a-b-cola
    cola = dict(described("cola", stack_prefix="a-b-")["plan_entry"])
    b_cola = dict(described("b-cola", stack_prefix="a-")["plan_entry"])
    fine = described("fine")["plan_entry"]
    result = plan(capsys, moto, [cola, b_cola, fine])
    assert result["failed_hosts"] == ["cola", "b-cola"] and result["changed_hosts"] == ["fine"]
    assert result["endpoints"]["cola"]["error"].startswith(
        "endpoint 'cola': stack a-b-cola in us-east-1 would also be the stack of endpoint 'b-cola' (host 'b-cola'): ")
    assert result["endpoints"]["b-cola"]["error"].startswith(
        "endpoint 'b-cola': stack a-b-cola in us-east-1 would also be the stack of endpoint 'cola' (host 'cola'): ")
    # refused from the entries alone: only the endpoint that is planned is read for
    alone = plan(capsys, moto, [cola, b_cola])
    assert alone["failed_hosts"] == ["cola", "b-cola"] and alone["calls"] == {}


def test_one_endpoint_under_two_stack_prefixes_fails_on_its_topic(moto, capsys):
    team_a = dict(described("cola", stack_prefix="team-a-")["plan_entry"], host="cola@a")
    team_b = dict(described("cola", stack_prefix="team-b-")["plan_entry"], host="cola@b")
    result = plan(capsys, moto, [team_a, team_b])
    assert result["failed_hosts"] == ["cola@a", "cola@b"]
    assert result["endpoints"]["cola@a"]["error"].startswith(
        "endpoint 'cola': topic sagemaker-monitoring_cola in us-east-1 would also be the topic of endpoint 'cola' "
        "(host 'cola@b'): ")


def test_endpoints_whose_old_names_collided_are_both_planned(moto, capsys):
    # cola + variant b-AllTraffic and cola-b + AllTraffic both had alarm cola-b-AllTraffic-ModelLatency
    cola = described("cola", variants=["b-AllTraffic"])["plan_entry"]
    cola_b = described("cola-b", variants=["AllTraffic"])["plan_entry"]
    result = plan(capsys, moto, [cola, cola_b])
    assert result["failed_hosts"] == [] and result["changed_hosts"] == ["cola", "cola-b"]


def test_a_stack_that_is_another_endpoints_is_refused(moto, capsys):
    # a former run made a-b-cola for endpoint cola; b-cola under prefix a- would update it, or tear it down
    moto.monitoring_stack(described("cola", stack_prefix="a-b-"))
    for entry in (described("b-cola", stack_prefix="a-")["plan_entry"],
                  dict(plan_entry(bare("b-cola", state="absent", stack_prefix="a-")), host="b-cola")):
        result = plan(capsys, moto, [entry])
        assert result["failed_hosts"] == ["b-cola"]
        assert result["endpoints"]["b-cola"]["error"] == (
            "endpoint 'b-cola': stack a-b-cola is the stack of endpoint 'cola' (tag sagemaker-endpoint), not of this "
            "endpoint: with their stack prefixes the two endpoints' stacks have one name. It is left alone; change "
            "endpoint_monitoring_stack_prefix for one of them.")
    assert plan(capsys, moto, [described("cola", stack_prefix="a-b-")["plan_entry"]])["failed_hosts"] == []


def test_a_name_held_already_refuses_the_endpoint_whose_stack_would_take_it(moto, capsys):
    cloudwatch, sns = moto.client("cloudwatch"), moto.client("sns")
    # someone else's alarm and topic that happen to have the names cola's stack would take
    cloudwatch.put_metric_alarm(AlarmName="sagemaker-monitoring_cola_AllTraffic_ModelLatency", Namespace="AWS/SageMaker",
                                MetricName="ModelLatency", Statistic="Average", Period=60, EvaluationPeriods=1,
                                Threshold=1, ComparisonOperator="GreaterThanThreshold")
    sns.create_topic(Name="sagemaker-monitoring_cola")
    cloudwatch.put_dashboard(DashboardName="sagemaker-monitoring_theirs_us-east-1", DashboardBody='{"widgets": []}')
    entries = [described("cola")["plan_entry"], described("theirs")["plan_entry"],
               described("fleet-only", dashboard="fleet")["plan_entry"], described("fine")["plan_entry"]]
    cloudwatch.put_dashboard(DashboardName="sagemaker-monitoring_fleet-only_us-east-1", DashboardBody='{"widgets": []}')
    result = plan(capsys, moto, entries)
    assert result["failed_hosts"] == ["cola", "theirs"]
    assert result["changed_hosts"] == ["fleet-only", "fine"]  # no dashboard of its own: that name is not its to take
    assert result["endpoints"]["cola"]["error"] == (
        "endpoint 'cola': alarm sagemaker-monitoring_cola_AllTraffic_ModelLatency, topic sagemaker-monitoring_cola "
        "already exist in us-east-1 and are not this endpoint's (they are not in its stack sagemaker-monitoring-cola): "
        "the stack would take them over, so it is not created and they are left alone. Remove or rename them first")
    assert result["endpoints"]["theirs"]["error"].startswith(
        "endpoint 'theirs': dashboard sagemaker-monitoring_theirs_us-east-1 already exists in us-east-1 and is not "
        "this endpoint's (it is not in its stack sagemaker-monitoring-theirs)")
    # one listing of each for the region, whatever the number of stacks to create (and, for each refused, a look
    # at whether its stack appeared meanwhile)
    assert result["calls"] == {"describe_stacks": 3, "describe_alarms": 1, "list_topics": 1, "list_dashboards": 1}
    assert cloudwatch.describe_alarms()["MetricAlarms"][0]["Threshold"] == 1  # untouched


def test_names_held_by_a_stack_created_while_the_plan_read_are_said_to_be_another_runs(moto, capsys, monkeypatch):
    prepared = described("cola")
    moto.monitoring_stack(prepared)  # another run's, after this one listed the stacks (none, as if then)
    monkeypatch.setattr(monitoring_plan.Region, "stacks", lambda self: {})
    result = plan(capsys, moto, [prepared["plan_entry"]])
    assert result["endpoints"]["cola"]["error"] == (
        "endpoint 'cola': stack sagemaker-monitoring-cola appeared while this run read what is deployed in us-east-1: "
        "another run or a person is creating it. Run again when it is done.")


def test_names_held_by_the_endpoints_stack_under_a_former_prefix_say_so(moto, capsys):
    moto.monitoring_stack(described("cola", stack_prefix="old-"))  # its alarms, topic and dashboard
    result = plan(capsys, moto, [described("cola")["plan_entry"]])
    error = result["endpoints"]["cola"]["error"]
    assert error.startswith("endpoint 'cola': alarm sagemaker-monitoring_cola_AllTraffic_"), error
    assert " and 9 more already exist in us-east-1 and are not this endpoint's (they are not in its stack "
    "sagemaker-monitoring-cola)" in error, error
    assert error.endswith("; stack old-cola of this collection monitors the same endpoint (was "
                          "endpoint_monitoring_stack_prefix changed? remove that stack with the former prefix)")


def test_a_region_whose_listing_fails_fails_only_its_endpoints(moto, capsys):
    unreachable = closed_port_url()
    entries = [described("ep1")["plan_entry"],
               dict(described("ep2", region="eu-west-1")["plan_entry"], endpoint_url=unreachable),
               dict(described("ep3", region="eu-west-1")["plan_entry"], endpoint_url=unreachable),
               described("ep4", region="eu-west-1")["plan_entry"]]  # the same region on the server that answers
    result = plan(capsys, moto, entries)
    assert result["failed_hosts"] == ["ep2", "ep3"]
    for host in ("ep2", "ep3"):
        error = result["endpoints"][host]["error"]
        assert error.startswith("endpoint %r: could not read what is deployed in eu-west-1: " % host)
        assert unreachable in error
    assert result["changed_hosts"] == ["ep1", "ep4"]


def test_webhook_urls_never_appear_in_the_result(moto, capsys):
    secret = "https://hooks.example.com/services/T000/B000/s3cr3t-t0ken"
    prepared = described(subscribers=[{"protocol": "https", "endpoint": secret}])
    result = plan(capsys, moto, [prepared["plan_entry"]])
    assert "s3cr3t-t0ken" not in json.dumps(result)
    assert "+ subscription https https://hooks.example.com/..." in result["endpoints"]["churn"]["changes"]


def test_an_entry_without_its_keys_fails_the_module(moto, capsys):
    entry = described()["plan_entry"]
    del entry["host"]
    code, result = run_aws_module(monitoring_plan, {"endpoints": [entry]}, capsys, moto)
    assert code == 1 and result["msg"] == "endpoints[0] lacks host, endpoint, region or stack_name"


# --------------------------------------------------------------------------------------------- endpoints named only

def test_an_endpoint_named_only_is_described_once_and_its_facts_returned(moto, capsys):
    listed = sagemaker_endpoint(moto)
    result = plan(capsys, moto, [bare_entry()])
    churn = result["endpoints"]["churn"]
    assert (churn["status"], churn["action"]) == ("changed", "create")
    assert result["calls"] == {"list_endpoints": 1, "list_inference_components": 1, "describe_endpoint": 1,
                               "describe_stacks": 1, "describe_alarms": 1, "list_topics": 1, "list_dashboards": 1}
    mark = iso_time(listed["LastModifiedTime"])
    facts = result["facts"]["churn"]
    assert (facts["endpoint"], facts["region"], facts["last_modified"]) == ("churn", "us-east-1", mark)
    assert facts["facts"]["variants"] == [{"name": "AllTraffic", "instance_type": "ml.m5.xlarge", "instance_count": 2,
                                           "vcpus": 4, "gpus": 0, "serverless": None}]
    # what the summary prices; not the spec, which the role computes again from the facts it keeps, by the same code
    assert churn["usage"]["dashboards"] == 1 and "spec" not in churn and "entry" not in churn
    same = described(facts=facts["facts"], facts_mark=mark)
    assert same["spec"]["variants"][0]["vcpus"] == 4
    assert churn["fingerprint"] == same["fingerprint"] and churn["stack"] == same["stack"]
    # moto has no ListInferenceComponents: said once, and taken as none
    assert [w for w in result.get("warnings", []) if "inference components" in w]

    moto.monitoring_stack(same)  # the role applies what it computed from those facts
    again = plan(capsys, moto, [same["plan_entry"]])  # and confirms it
    assert again["endpoints"]["churn"]["status"] == "unchanged"
    assert again["calls"] == with_verification(list_endpoints=1, describe_stacks=1) and again["facts"] == {}


def test_an_endpoint_named_only_whose_cached_facts_are_current_is_not_described(moto, capsys):
    listed = sagemaker_endpoint(moto)
    cached = described(facts=SERVERLESS, facts_mark=iso_time(listed["LastModifiedTime"]),
                       subscribers=[{"protocol": "email", "endpoint": "a@example.com"}])
    topic = outputs_of(moto.monitoring_stack(cached))["TopicArn"]
    moto.subscribe(topic, "email", "a@example.com")
    result = plan(capsys, moto, [cached["plan_entry"]])
    assert result["endpoints"]["churn"]["status"] == "unchanged"
    # what the cache says is believed (serverless here), SageMaker is only listed
    assert result["calls"] == with_verification(list_endpoints=1, describe_stacks=1, list_subscriptions=1)
    assert result["facts"] == {}


def test_an_endpoint_named_only_that_changed_is_described_again(moto, capsys):
    listed = sagemaker_endpoint(moto, count=2)
    first = plan(capsys, moto, [bare_entry()])["facts"]["churn"]["facts"]
    moto.monitoring_stack(described(facts=first, facts_mark=STALE))
    # autoscaling since: ListEndpoints says the endpoint changed, so it is read again; the count is no change
    moto.client("sagemaker").update_endpoint_weights_and_capacities(EndpointName="churn", DesiredWeightsAndCapacities=[
        {"VariantName": "AllTraffic", "DesiredInstanceCount": 5}])
    result = plan(capsys, moto, [described(facts=first, facts_mark=STALE)["plan_entry"]])
    assert result["calls"]["describe_endpoint"] == 1
    assert result["endpoints"]["churn"]["status"] == "unchanged"
    assert result["facts"]["churn"]["last_modified"] == iso_time(listed["LastModifiedTime"])
    assert result["facts"]["churn"]["facts"]["variants"][0]["instance_count"] == 5


def test_an_endpoint_missing_from_sagemaker_fails_alone_naming_it(moto, capsys):
    sagemaker_endpoint(moto)
    result = plan(capsys, moto, [bare_entry("ghost"), bare_entry()])
    assert result["failed_hosts"] == ["ghost"] and result["changed_hosts"] == ["churn"]
    assert result["endpoints"]["ghost"]["error"] == (
        "endpoint 'ghost': SageMaker has no endpoint 'ghost' in us-east-1, and the inventory does not say what it is "
        "(endpoint_monitoring_variants)")
    assert list(result["facts"]) == ["churn"]


def test_an_endpoint_whose_facts_make_a_bad_spec_fails_alone_naming_the_field(moto, capsys):
    model = moto.model("model")
    sagemaker_endpoint(moto, "big", variants=[instance_variant("v%d" % i, model, "ml.m5.large") for i in range(13)])
    sagemaker_endpoint(moto)
    result = plan(capsys, moto, [bare_entry("big", composite=True), bare_entry()])
    assert result["failed_hosts"] == ["big"]
    assert result["endpoints"]["big"]["error"].startswith("endpoint 'big': composite: ")
    assert result["endpoints"]["churn"]["status"] == "changed"


def test_an_endpoint_named_only_to_remove_is_not_looked_up(moto, capsys):
    moto.monitoring_stack(described())
    result = plan(capsys, moto, [bare_entry(state="absent")])
    assert result["endpoints"]["churn"]["action"] == "delete"
    assert result["calls"] == {"describe_stacks": 1}


def test_the_same_entries_give_the_same_plan(moto, capsys):
    entries = [described("ep%d" % i)["plan_entry"] for i in range(3)]
    first = plan(capsys, moto, copy.deepcopy(entries))
    assert plan(capsys, moto, entries)["endpoints"] == first["endpoints"]
    assert list(first["endpoints"]) == ["ep0", "ep1", "ep2"]


# --------------------------------------------------------------------------------------------- drift

def test_an_alarm_and_a_dashboard_changed_outside_ansible_are_drift_worded_per_difference(moto, capsys):
    prepared = described()
    moto.monitoring_stack(prepared)
    cloudwatch = moto.client("cloudwatch")
    latency = [a for a in prepared["spec"]["alarms"] if a["metric"] == "ModelLatency"][0]
    [alarm] = cloudwatch.describe_alarms(AlarmNames=[latency["name"]])["MetricAlarms"]
    cloudwatch.put_metric_alarm(**dict(
        (k, alarm[k]) for k in ("AlarmName", "AlarmDescription", "AlarmActions", "MetricName", "Namespace",
                                "Statistic", "Dimensions", "Period", "EvaluationPeriods", "DatapointsToAlarm",
                                "ComparisonOperator", "TreatMissingData")), Threshold=999999.0)
    cloudwatch.put_dashboard(DashboardName=prepared["spec"]["dashboard_name"], DashboardBody='{"widgets":[]}')
    result = plan(capsys, moto, [prepared["plan_entry"]])
    churn = result["endpoints"]["churn"]
    assert (churn["status"], churn["action"]) == ("changed", "revert_drift")
    size = prepared["plan_entry"]["expected"]["dashboard"]["size"]
    assert churn["drift"] == churn["changes"] == [
        "~ alarm %s: Threshold %d -> 999999 (changed outside Ansible)" % (latency["name"], latency["threshold"]),
        "~ dashboard %s: its body is 14 bytes, %d were applied (edited outside Ansible)"
        % (prepared["spec"]["dashboard_name"], size)]
    assert result["drifted_hosts"] == ["churn"]

    # what the endpoint lets people change by hand is not checked, nor read
    trusting = described(drift_checks=["topic_policy"])
    result = plan(capsys, moto, [trusting["plan_entry"]])
    assert result["endpoints"]["churn"]["status"] == "unchanged"
    assert "describe_alarms" not in result["calls"] and "list_dashboards" not in result["calls"]


def test_the_topic_policies_read_stay_within_the_budget_of_a_no_change_run(moto, capsys):
    fleet = [described("ep%02d" % i) for i in range(30)]
    for prepared in fleet:
        moto.monitoring_stack(prepared)
    entries = [p["plan_entry"] for p in fleet]
    result = plan(capsys, moto, entries)
    assert set(r["status"] for r in result["endpoints"].values()) == {"unchanged"}
    # 30 stacks of 10 alarms: DescribeStacks 1 page, DescribeAlarms 3, ListDashboards 1 as AWS pages them; the
    # budget, 0.2 x 30 = 6 calls, leaves one topic policy to read
    assert result["topic_policy_checks"] == {"us-east-1": {"read": 1, "stacks": 30}}
    assert result["aws_pages"] <= 0.2 * len(entries)
    code, every = run_aws_module(monitoring_plan, {"endpoints": entries, "topic_policy_reads": 100}, capsys, moto)
    assert every["topic_policy_checks"] == {"us-east-1": {"read": 30, "stacks": 30}}
    assert every["calls"]["get_topic_attributes"] == 30
    code, refused = run_aws_module(monitoring_plan, {"endpoints": entries, "topic_policy_reads": "some"}, capsys, moto)
    assert code == 1 and "topic_policy_reads (endpoint_monitoring_topic_policy_reads) must be auto or a whole" in \
        refused["msg"]


# --------------------------------------------------------------------------------------------- topic mode existing

def _user_topic(moto, name, cloudwatch_may_publish=True):
    """A topic of the user's whose policy lets CloudWatch publish, or only one role of the account. (SNS's default
    policy, any principal of the owner's account, lets the account's alarms publish.)"""
    sns = moto.client("sns")
    arn = sns.create_topic(Name=name)["TopicArn"]
    principal = ({"Service": "cloudwatch.amazonaws.com"} if cloudwatch_may_publish
                 else {"AWS": "arn:aws:iam::%s:role/publisher" % arn.split(":")[4]})
    sns.set_topic_attributes(TopicArn=arn, AttributeName="Policy", AttributeValue=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": principal, "Action": "sns:Publish", "Resource": arn}]}))
    return arn


def test_existing_topics_are_read_before_a_write_and_a_missing_or_closed_one_fails_its_endpoint_alone(moto, capsys):
    pager, chat = _user_topic(moto, "pager"), _user_topic(moto, "chat")
    closed = _user_topic(moto, "closed", cloudwatch_may_publish=False)
    missing = pager.replace(":pager", ":no-such-topic")
    good = described("good", topic_mode="existing", topic_arns={"critical": pager, "warning": chat})
    shut = described("shut", topic_mode="existing", topic_arns={"critical": pager, "warning": closed})
    gone = described("gone", topic_mode="existing", topic_arns={"critical": missing, "warning": chat})
    result = plan(capsys, moto, [p["plan_entry"] for p in (good, shut, gone)])
    endpoints = result["endpoints"]
    assert (endpoints["good"]["status"], endpoints["good"]["action"]) == ("changed", "create")
    assert result["failed_hosts"] == ["shut", "gone"]
    assert endpoints["shut"]["error"] == (
        "endpoint 'shut': endpoint_monitoring_topic_arns.warning: the policy of topic %s does not let CloudWatch "
        "publish to it: add an Allow statement for sns:Publish with Principal {\"Service\": "
        "\"cloudwatch.amazonaws.com\"} (the collection never changes the topics you give); nothing of this endpoint "
        "was written" % closed)
    assert endpoints["gone"]["error"].startswith(
        "endpoint 'gone': endpoint_monitoring_topic_arns.critical: topic %s does not exist in us-east-1: create it"
        % missing)
    # each distinct topic read once (pager and chat are given by two endpoints each)
    assert result["calls"]["get_topic_attributes"] == 4


def test_an_unchanged_endpoint_on_existing_topics_reads_none_of_them(moto, capsys):
    pager, chat = _user_topic(moto, "pager2"), _user_topic(moto, "chat2")
    prepared = described("calm", topic_mode="existing", topic_arns={"critical": pager, "warning": chat})
    moto.monitoring_stack(prepared)
    result = plan(capsys, moto, [prepared["plan_entry"]])
    calm = result["endpoints"]["calm"]
    assert (calm["status"], calm["action"], calm["retired_topic"]) == ("unchanged", "none", "")
    assert "TopicArn" not in calm["outputs"]
    assert result["calls"] == {"describe_stacks": 1, "describe_alarms": 1, "list_dashboards": 1}


def test_the_confirmation_checks_drift_only_where_it_was_repaired(moto, capsys):
    prepared = described()
    moto.monitoring_stack(prepared)
    moto.client("cloudwatch").delete_alarms(AlarmNames=[prepared["spec"]["alarms"][0]["name"]])
    code, confirmed = run_aws_module(monitoring_plan, {"endpoints": [prepared["plan_entry"]], "drift_hosts": []},
                                     capsys, moto)
    assert code == 0 and confirmed["endpoints"]["churn"]["status"] == "unchanged"
    assert "describe_alarms" not in confirmed["calls"]
    code, repaired = run_aws_module(monitoring_plan, {"endpoints": [prepared["plan_entry"]],
                                                      "drift_hosts": ["churn"]}, capsys, moto)
    assert repaired["endpoints"]["churn"]["drift"] == [
        "+ alarm %s (deleted outside Ansible)" % prepared["spec"]["alarms"][0]["name"]]


def test_alarms_that_cannot_be_read_leave_the_endpoints_as_found_with_a_warning(moto, capsys, monkeypatch):
    prepared = described()
    moto.monitoring_stack(prepared)

    def refused(self):
        raise monitoring_plan.ClientError({"Error": {"Code": "AccessDenied", "Message": "not allowed"}},
                                          "DescribeAlarms")

    monkeypatch.setattr(monitoring_plan.Region, "alarms", refused)
    result = plan(capsys, moto, [prepared["plan_entry"]])
    assert result["endpoints"]["churn"]["status"] == "unchanged" and result["failed_hosts"] == []
    assert [w for w in result["warnings"] if "to check 1 stacks for drift" in w and "not allowed" in w]
