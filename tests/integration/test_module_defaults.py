"""module_defaults for group/amazon.aws.aws (amazon.aws's group, which Ansible applies to amazon.aws's modules only)
set the region, the profile and the endpoint URL of a monitoring run, with no AWS_* variable and no default profile
at all: the role reads them in its first task and every AWS call of the run follows them (LocalStack behind a
recording proxy). test_bare_names.py covers the region alone, set for group/aws or the collection's group."""

import os

import pytest

from conftest import Inventory, ansible_env, local_aws, run_playbook, unique
from test_bare_names import aws_proxy, stack, writes

pytestmark = pytest.mark.integration

WEST = "eu-west-1"
PROFILE = "local-test"

PLAYBOOK = """
- name: Monitor the endpoints where module_defaults say
  hosts: all
  connection: local
  gather_facts: false
  module_defaults:
    group/amazon.aws.aws:
      region: %(region)s
      profile: %(profile)s
      endpoint_url: %(url)s
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: Monitor the endpoints
      ansible.builtin.import_role:
        name: mlops.sagemaker_monitoring.endpoint_monitoring
        rolespec_validate: false
"""


def home_with_profile(path):
    """A HOME whose ~/.aws knows only the profile PROFILE (LocalStack's test credentials), no default one and no
    region."""
    os.makedirs(os.path.join(path, ".aws"))
    with open(os.path.join(path, ".aws", "credentials"), "w") as f:
        f.write("[%s]\naws_access_key_id = test\naws_secret_access_key = test\n" % PROFILE)
    with open(os.path.join(path, ".aws", "config"), "w") as f:
        f.write("[profile %s]\n" % PROFILE)
    return path


def test_region_profile_and_endpoint_url_of_amazon_aws_module_defaults_reach_every_call(localstack, tmp_path):
    inventory = Inventory(str(tmp_path / "inventory"))
    # Both dashboards: the endpoint's in its stack and the region's fleet dashboard (fleet_dashboards module).
    inventory.group_vars("all", {"endpoint_monitoring_dashboard": "both",
                                 "endpoint_monitoring_fleet_dashboard_name": unique("fleet")})
    queue = unique("md-queue")
    localstack.client("sqs", WEST).create_queue(QueueName=queue)
    endpoint = inventory.add("fleet", unique("md"), endpoint_monitoring_endpoint_subscribers=[
        {"protocol": "sqs", "endpoint": "arn:aws:sqs:%s:000000000000:%s" % (WEST, queue)}])

    with aws_proxy.AwsProxy(localstack.url) as proxy:
        playbook = tmp_path / "monitor.yml"
        playbook.write_text(PLAYBOOK % {"region": WEST, "profile": PROFILE, "url": proxy.url})
        env = ansible_env(None, fact_cache=str(tmp_path / "facts"))  # every AWS_* variable removed
        env["HOME"] = home_with_profile(str(tmp_path / "home"))
        # what LocalStack's CloudFormation really makes, as its own environment says (no AWS_* variable in it)
        env["SAGEMAKER_MONITORING_DRIFT_CHECKS"] = local_aws.DRIFT_CHECKS["localstack"]
        assert not [k for k in env if k.startswith("AWS_")]
        first = run_playbook(None, inventory, str(playbook), env=env)
        calls = proxy.snapshot()
        assert first.rc == 0, first.output
        assert calls and set(c.region for c in calls) == {WEST}, [(c.key, c.region) for c in calls]
        operations = set(c.operation for c in calls)
        # the plan's listing, the stack (amazon.aws.cloudformation), the subscriber (sns_subscriptions) and the
        # fleet dashboard (fleet_dashboards): each of the role's AWS tasks went to the endpoint URL
        assert {"DescribeStacks", "CreateStack", "Subscribe", "PutDashboard"} <= operations, (sorted(operations),
                                                                                            first.output)
        assert [op for op, _region, _name in writes(proxy) if op == "CreateStack"] == ["CreateStack"]
        assert first.changed(endpoint) >= 1 and first.failed(endpoint) == 0, first.output

        proxy.clear()
        again = run_playbook(None, inventory, str(playbook), env=env)
        assert again.rc == 0 and again.changed(endpoint) == 0, again.output
        assert proxy.writes() == [] and set(c.region for c in proxy.snapshot()) == {WEST}
    assert stack(localstack, endpoint, WEST)["StackStatus"] == "CREATE_COMPLETE"
    assert stack(localstack, endpoint, "us-east-1") is None
