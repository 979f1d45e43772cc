"""The Dashboard resource where it is real (moto), and the collection installed from its built tarball."""

import glob
import json
import os
import subprocess

import pytest

from conftest import REGION, ROOT, ansible_env, run_playbook, unique

pytestmark = pytest.mark.integration

MOTO_ACCOUNT = "123456789012"


def test_stack_dashboard_is_created_from_the_computed_body(moto, inventory):
    endpoint = inventory.add("fleet", unique("dash"), endpoint_monitoring_variants=["blue", "green"],
                             endpoint_monitoring_endpoint_metrics={"ModelLatency": {"threshold": 250}})
    run = run_playbook(moto, inventory)
    assert run.rc == 0, run.output

    cloudwatch = moto.client("cloudwatch")
    name = "sagemaker-monitoring_%s_%s" % (endpoint, REGION)
    body = json.loads(cloudwatch.get_dashboard(DashboardName=name)["DashboardBody"])
    widgets = body["widgets"]
    assert widgets[0]["type"] == "text" and endpoint in widgets[0]["properties"]["markdown"]
    alarm_widget = [w for w in widgets if w["type"] == "alarm"][0]
    # Fn::Sub filled in the account: every alarm ARN is complete. The health alarm comes first, then one alarm
    # per published metric and variant (a CPU instance: no GPU alarms).
    assert len(alarm_widget["properties"]["alarms"]) == 1 + 2 * 8
    assert alarm_widget["properties"]["alarms"][0].endswith(":alarm:sagemaker-monitoring_%s_health" % endpoint)
    assert all(arn.startswith("arn:aws:cloudwatch:%s:%s:alarm:sagemaker-monitoring_%s_" % (REGION, MOTO_ACCOUNT, endpoint))
               for arn in alarm_widget["properties"]["alarms"])
    graphs = dict((w["properties"]["title"], w) for w in widgets if w["type"] == "metric")
    assert set(graphs) == set("%s: %s" % (v, g) for v in ("blue", "green")
                              for g in ("Traffic", "Errors", "Latency", "CPU", "Memory and disk"))
    latency = graphs["green: Latency"]["properties"]
    assert {"label": "ModelLatency alarm: critical when Average > 250 ms", "value": 250000, "fill": "above"} in \
        latency["annotations"]["horizontal"]
    assert all(line[3] == endpoint and line[5] == "green" for line in latency["metrics"])
    errors = graphs["green: Errors"]["properties"]
    rates = [line[0] for line in errors["metrics"] if isinstance(line[0], dict)]
    assert [r["label"] for r in rates] == ["Invocation4XXErrors rate (%)", "Invocation5XXErrors rate (%)"]
    assert {a["value"] for a in errors["annotations"]["horizontal"]} == {5, 1}

    again = run_playbook(moto, inventory)
    assert again.changed(endpoint) == 0, again.output


def test_built_tarball_installs_and_its_playbook_runs(localstack, inventory, tmp_path):
    dist = tmp_path / "dist"
    galaxy = os.path.join(ROOT, ".venv", "bin", "ansible-galaxy")
    env = ansible_env(None, config=None)
    subprocess.run([galaxy, "collection", "build", "--output-path", str(dist), ROOT], check=True, env=env,
                   cwd=str(tmp_path), stdout=subprocess.PIPE)
    tarballs = glob.glob(str(dist / "mlops-sagemaker_monitoring-*.tar.gz"))
    assert len(tarballs) == 1
    collections = tmp_path / "collections"
    # amazon.aws comes from the ansible package here (no Galaxy access); a user installs it from Galaxy.
    subprocess.run([galaxy, "collection", "install", "--no-deps", "-p", str(collections), tarballs[0]], check=True,
                   env=env, cwd=str(tmp_path), stdout=subprocess.PIPE)
    installed = collections / "ansible_collections" / "mlops" / "sagemaker_monitoring"
    assert (installed / "plugins" / "modules" / "sagemaker_dashboard.py").is_file()
    assert not (installed / ".venv").exists() and not (installed / "tests" / "output").exists()

    endpoint = inventory.add("fleet", unique("installed"))
    env = ansible_env(localstack, config=None)
    env["ANSIBLE_COLLECTIONS_PATH"] = str(collections)
    run = run_playbook(localstack, inventory, str(installed / "playbooks" / "monitor_endpoints.yml"),
                       env=env, cwd=str(tmp_path))
    assert run.rc == 0, run.output
    assert run.changed(endpoint) > 0
    stack = localstack.client("cloudformation").describe_stacks(StackName="sagemaker-monitoring-" + endpoint)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
