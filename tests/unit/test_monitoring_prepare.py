"""The monitoring_prepare action plugin, run as Ansible runs it for one host's task: ansible-core's own Task,
PlayContext, DataLoader, Templar and local connection; the host's variables (the role's defaults under them) loaded
as trusted YAML, as Ansible loads inventory and role files."""

import pytest
import yaml

from ansible.parsing.dataloader import DataLoader
from ansible.playbook.play_context import PlayContext
from ansible.playbook.task import Task
from ansible.plugins.connection.local import Connection
from ansible.template import Templar, trust_as_template

from ansible_collections.mlops.sagemaker_monitoring.plugins.action.monitoring_prepare import (
    PLACEHOLDER_FACTS,
    ActionModule,
    cached_facts,
)

from role_support import DIGEST, ROLE, SERVERLESS, SPECS, TEMPLATE, described

MARK = "2025-06-01T10:00:00+00:00"


def trusted(loader, value):
    """value as Ansible has it after reading it from an inventory or playbook file: templates are trusted."""
    return loader.load(trust_as_template(yaml.safe_dump(value)))


def prepare(host, host_vars=None, args=None, module_defaults=None):
    """Runs the role's first task for inventory host `host` with its variables; returns the task's result."""
    loader = DataLoader()
    task_vars = dict(loader.load_from_file(ROLE + "/defaults/main.yml", trusted_as_template=True))
    task_vars.update(trusted(loader, dict({"inventory_hostname": host}, **(host_vars or {}))))
    task = Task()
    task.action = "mlops.sagemaker_monitoring.monitoring_prepare"
    task.args = dict({"argument_specs": SPECS, "template": TEMPLATE}, **(args or {}))
    if module_defaults is not None:
        task.module_defaults = trusted(loader, module_defaults)
    play_context = PlayContext()
    action = ActionModule(task, Connection(play_context, None), play_context, loader,
                          Templar(loader=loader, variables=task_vars), None)
    return action.run(task_vars=task_vars)


DESCRIBED = {"endpoint_monitoring_variants": ["AllTraffic"], "endpoint_monitoring_instance_type": "ml.m5.xlarge"}


# The AWS profiles the tests name: a profile that is in no AWS config file fails its endpoint.
PROFILES = ("ops", "p1", "p2", "play-profile")


@pytest.fixture(autouse=True)
def no_region_in_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    config = tmp_path / "aws-config"
    config.write_text("".join("[profile %s]\nregion = us-east-1\n" % p for p in PROFILES))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))


# --------------------------------------------------------------------------------------------- an endpoint

def test_an_endpoint_the_inventory_describes_is_computed_in_the_controller():
    result = prepare("churn@us-east-1", dict(DESCRIBED, endpoint_monitoring_tags={"team": "{{ team }}"},
                                              team="fraud"), args={"include_spec": True})
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False
    assert (result["endpoint"], result["region"], result["stack_name"], result["state"]) == (
        "churn", "us-east-1", "sagemaker-monitoring-churn", "present")
    assert result["facts_source"] == "inventory"
    assert result["spec"]["tags"]["team"] == "fraud"  # templated in the host's context
    # the same spec and fingerprint as the plan computes from the same settings
    same = described("churn", "us-east-1", tags={"team": "fraud"})
    assert result["spec"] == same["spec"] and result["fingerprint"] == same["fingerprint"]
    assert result["usage"] == same["usage"] and result["stack"]["code"] == DIGEST
    assert result["plan_entry"] == dict(same["plan_entry"], host="churn@us-east-1")
    assert result["guardrail_alarms"] == {"AllTraffic": same["spec"]["guardrails"]["AllTraffic"]["alarms"]}


def test_the_spec_is_left_out_unless_asked_for():
    # every endpoint's result is kept for the whole run: the spec only where the role needs it
    result = prepare("churn@us-east-1", DESCRIBED)
    assert "spec" not in result
    assert result["guardrail_alarms"]["AllTraffic"]  # small, so kept for every endpoint
    same = described("churn", "us-east-1")
    assert (result["fingerprint"], result["usage"], result["stack"]) == (same["fingerprint"], same["usage"],
                                                                         same["stack"])
    assert result["fleet_entry"] is None
    fleet = prepare("churn@us-east-1", dict(DESCRIBED, endpoint_monitoring_dashboard="fleet"))
    assert "spec" not in fleet and fleet["fleet_entry"]["alarms"] == same["spec"]["alarms"]


def test_a_host_named_name_at_region_is_that_endpoint_in_that_region():
    result = prepare("churn@eu-west-1", DESCRIBED)
    assert (result["endpoint"], result["region"]) == ("churn", "eu-west-1")
    assert result["plan_entry"]["host"] == "churn@eu-west-1" and result["plan_entry"]["region"] == "eu-west-1"


def test_a_wrong_type_fails_the_host_naming_the_endpoint_and_the_variable():
    result = prepare("churn@us-east-1", dict(DESCRIBED, endpoint_monitoring_composite="sometimes"))
    assert result["failed"] is True and result["endpoint"] == "churn"
    assert result["msg"] == "endpoint 'churn': endpoint_monitoring_composite: must be true or false, got 'sometimes'"
    assert "plan_entry" not in result


@pytest.mark.parametrize("variable, value, message", [
    ("endpoint_monitoring_metrics", ["ModelLatency"],
     "endpoint_monitoring_metrics: must be a mapping, got ['ModelLatency']"),
    ("endpoint_monitoring_endpoint_subscribers", [{"protocol": "email", "endpoint": ["oncall"]}],
     "endpoint_monitoring_endpoint_subscribers[0].endpoint: must be an email address for protocol email, got list "
     "['oncall']"),
])
def test_messages_name_plain_types_not_ansibles_tagged_ones(variable, value, message):
    # values read from inventory files come templated as Ansible's tagged subclasses of list, dict, str...
    result = prepare("churn@us-east-1", dict(DESCRIBED, **{variable: value}))
    assert result["msg"] == "endpoint 'churn': " + message
    assert "Tagged" not in result["msg"] and "ansible" not in result["msg"] and "<class" not in result["msg"]


def test_a_misspelt_variable_fails_the_host_with_a_suggestion():
    result = prepare("churn@us-east-1", dict(DESCRIBED, endpoint_monitoring_ok_action=True))
    assert result["failed"] is True
    assert "endpoint_monitoring_ok_action: unknown variable (did you mean 'endpoint_monitoring_ok_actions'?)" \
        in result["msg"]


def test_a_bad_value_fails_the_host_naming_the_field():
    result = prepare("churn@us-east-1", dict(DESCRIBED, endpoint_monitoring_role_arn="cfn-role"))
    assert result["failed"] is True and result["endpoint"] == "churn"
    assert result["msg"] == ("endpoint 'churn': role_arn: 'cfn-role' is not an IAM role ARN "
                             "(arn:aws:iam::ACCOUNT:role/NAME)")


# --------------------------------------------------------------------------------------------- connection settings

def test_the_region_comes_from_the_endpoints_own_variable_first(monkeypatch):
    monkeypatch.setenv("AWS_REGION", "ap-south-1")
    result = prepare("churn", dict(DESCRIBED, endpoint_monitoring_region="eu-central-1"), args={"region": "us-west-2"},
                     module_defaults=[{"group/amazon.aws.aws": {"region": "eu-west-2"}}])
    assert result["region"] == "eu-central-1"


def test_then_from_the_task_args_the_collections_module_defaults_give(monkeypatch):
    monkeypatch.setenv("AWS_REGION", "ap-south-1")
    result = prepare("churn", DESCRIBED, args={"aws_region": "us-west-2", "profile": "ops",
                                               "endpoint_url": "http://127.0.0.1:4566"},
                     module_defaults=[{"group/amazon.aws.aws": {"region": "eu-west-2"}}])
    assert result["region"] == "us-west-2"
    assert (result["plan_entry"]["profile"], result["plan_entry"]["endpoint_url"]) == ("ops", "http://127.0.0.1:4566")


def test_then_from_module_defaults_for_group_aws_the_nearest_layer_winning(monkeypatch):
    monkeypatch.setenv("AWS_REGION", "ap-south-1")
    layers = [{"group/amazon.aws.aws": {"region": "eu-west-2", "profile": "play-profile"}},   # the play's
              {"group/ansible.builtin.aws": {"aws_region": "{{ block_region }}"}},            # a block's
              {"amazon.aws.cloudformation": {"region": "sa-east-1"}}]                        # another module's
    result = prepare("churn", dict(DESCRIBED, block_region="ca-central-1"), module_defaults=layers)
    assert result["region"] == "ca-central-1"
    assert result["plan_entry"]["profile"] == "play-profile"


@pytest.mark.parametrize("options, profile, url", [
    ({"aws_profile": "p1", "aws_endpoint_url": "http://127.0.0.1:1"}, "p1", "http://127.0.0.1:1"),
    ({"profile": "p2", "ec2_url": "http://127.0.0.1:2"}, "p2", "http://127.0.0.1:2"),
    ({"endpoint_url": "http://127.0.0.1:3", "s3_url": "http://127.0.0.1:4"}, "", "http://127.0.0.1:4"),
])
def test_group_aws_module_defaults_are_read_by_any_of_their_names(options, profile, url):
    result = prepare("churn@us-east-1", DESCRIBED, module_defaults=[{"group/amazon.aws.aws": options}])
    assert (result["plan_entry"]["profile"], result["plan_entry"]["endpoint_url"]) == (profile, url)


def test_a_whole_module_defaults_entry_may_be_a_template():
    result = prepare("churn", dict(DESCRIBED, aws_defaults={"ec2_region": "eu-north-1"}),
                     module_defaults=[{"group/amazon.aws.aws": "{{ aws_defaults }}"}])
    assert result["region"] == "eu-north-1"


@pytest.mark.parametrize("environment, region", [({"AWS_REGION": "us-west-1", "AWS_DEFAULT_REGION": "us-west-2"},
                                                  "us-west-1"),
                                                 ({"AWS_DEFAULT_REGION": "us-west-2"}, "us-west-2")])
def test_last_from_the_environment(monkeypatch, environment, region):
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    assert prepare("churn", DESCRIBED)["region"] == region


def test_no_region_anywhere_fails_naming_the_field():
    result = prepare("churn", DESCRIBED)
    assert result["failed"] is True
    assert result["msg"].startswith("endpoint 'churn': region: ")


# --------------------------------------------------------------------------------------------- endpoints named only

def test_an_endpoint_named_only_is_left_to_the_plan_with_its_settings():
    result = prepare("churn@us-east-1")
    assert not result.get("failed"), result.get("msg")
    assert result["facts_source"] == "sagemaker" and "spec" not in result and "fingerprint" not in result
    entry = result["plan_entry"]
    assert entry["discover"] is True and entry["fingerprint"] is None and entry["code"] == DIGEST
    assert entry["settings"]["endpoint_monitoring_endpoint_name"] == "churn" and entry["host"] == "churn@us-east-1"


def test_the_other_settings_of_an_endpoint_named_only_are_checked_before_any_aws_call():
    result = prepare("churn@us-east-1", {"endpoint_monitoring_topic_kms_key": "my key"})
    assert result["failed"] is True
    assert result["msg"].startswith("endpoint 'churn': topic_kms_key: 'my key' is not a KMS key id")
    # a stand-in for what SageMaker will say: an endpoint of one real-time variant
    assert PLACEHOLDER_FACTS["variants"][0]["instance_type"]


def cache(endpoint="churn", region="us-east-1", facts=SERVERLESS, mark=MARK):
    """A host's variables after a former run's set_fact (cacheable) of the facts it read: a fact, and a variable of
    the same name."""
    cached = {"endpoint": endpoint, "region": region, "facts": facts, "last_modified": mark}
    return {"ansible_facts": {"endpoint_monitoring__sagemaker_facts": cached},
            "endpoint_monitoring__sagemaker_facts": cached}


def test_an_endpoint_named_only_is_computed_from_the_facts_a_former_run_cached():
    result = prepare("churn@us-east-1", cache(), args={"include_spec": True})
    assert result["facts_source"] == "cache"
    assert result["spec"]["endpoint_type"] == "serverless"
    entry = result["plan_entry"]
    assert entry["facts_mark"] == MARK and entry["fingerprint"] == result["fingerprint"] and entry["discover"]
    same = described("churn", "us-east-1", facts=SERVERLESS, facts_mark=MARK)
    assert result["fingerprint"] == same["fingerprint"]


@pytest.mark.parametrize("cached", [cache(endpoint="other"), cache(region="eu-west-1"), cache(mark=None),
                                    cache(facts="serverless")],
                         ids=["other-endpoint", "other-region", "no-mark", "not-facts"])
def test_cached_facts_of_another_endpoint_or_region_are_not_used(cached):
    assert prepare("churn@us-east-1", cached)["facts_source"] == "sagemaker"


def test_the_inventory_variants_win_over_cached_facts():
    result = prepare("churn@us-east-1", dict(DESCRIBED, **cache()), args={"include_spec": True})
    assert result["facts_source"] == "inventory" and result["spec"]["endpoint_type"] == "realtime"


def test_cached_facts_are_read_only_when_complete():
    assert cached_facts({}, "churn", "us-east-1") == (None, None)
    assert cached_facts({"ansible_facts": {}}, "churn", "us-east-1") == (None, None)
    assert cached_facts(cache(), "churn", "us-east-1") == (SERVERLESS, MARK)
    assert cached_facts({"endpoint_monitoring__sagemaker_facts": cache()["ansible_facts"][
        "endpoint_monitoring__sagemaker_facts"]}, "churn", "us-east-1") == (None, None)  # a fact, not any variable


# --------------------------------------------------------------------------------------------- removal

def test_an_endpoint_to_remove_needs_no_spec_and_no_facts():
    result = prepare("churn@us-east-1", {"endpoint_monitoring_state": "absent"})
    assert not result.get("failed"), result.get("msg")
    assert result["facts_source"] is None and "spec" not in result
    entry = result["plan_entry"]
    assert (entry["state"], entry["stack_name"], entry["host"]) == ("absent", "sagemaker-monitoring-churn",
                                                                    "churn@us-east-1")
    assert "settings" not in entry


def test_an_endpoint_to_remove_with_a_bad_name_fails_naming_the_field():
    result = prepare("churn_model@us-east-1", {"endpoint_monitoring_state": "absent"})
    assert result["failed"] is True
    assert result["msg"] == "endpoint 'churn_model': endpoint_name: 'churn_model' is not a SageMaker endpoint name"
