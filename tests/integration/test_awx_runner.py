"""A job as AWX / Automation Platform runs it: ansible-runner on a private data directory laid out as AWX lays it
out, playbooks/monitor_endpoints.yml against LocalStack, and the per-host events AWX shows.

    <private data dir>/
      project/                   a clone of this repository (its ansible.cfg applies, as in AWX)
      requirements_collections/  what the project sync installs from project/collections/requirements.yml
      inventory/                 the job's inventory (hosts.yml, group_vars, host_vars)
      env/envvars                the job's environment: the AWS credential's variables, the collections path
      env/extravars              the job template's extra variables
      env/settings               ansible-runner settings
      artifacts/<ident>/         written by ansible-runner: job_events/*.json, status, rc

The project sync's `ansible-galaxy collection install -r collections/requirements.yml` runs from the project's
root, so `source: ./` installs this checkout; amazon.aws comes from Galaxy there, and here from the `ansible`
package of requirements.txt, copied in before the sync (which then finds it installed: --offline)."""

import glob
import json
import os
import shutil
import subprocess

import pytest
import yaml

from conftest import REGION, ROOT, ansible_env, unique

pytestmark = pytest.mark.integration

VENV_BIN = os.path.join(ROOT, ".venv", "bin")
PLAYBOOK = "playbooks/monitor_endpoints.yml"


def clone_project(project):
    """The files a clone of this repository has: tracked and new files, not what .gitignore leaves out."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            check=True, stdout=subprocess.PIPE).stdout.decode().split("\0")
    for path in filter(None, listed):
        source = os.path.join(ROOT, path)
        if os.path.isfile(source) and not os.path.islink(source):  # (a file deleted but not yet committed: gone)
            os.makedirs(os.path.join(project, os.path.dirname(path)), exist_ok=True)
            shutil.copy2(source, os.path.join(project, path))


def project_sync(private, env):
    """AWX's project update: collections/requirements.yml, installed from the project's root."""
    collections = os.path.join(private, "requirements_collections")
    amazon_aws = glob.glob(os.path.join(ROOT, ".venv", "lib", "python*", "site-packages", "ansible_collections",
                                        "amazon", "aws"))[0]
    shutil.copytree(amazon_aws, os.path.join(collections, "ansible_collections", "amazon", "aws"))
    result = subprocess.run([os.path.join(VENV_BIN, "ansible-galaxy"), "collection", "install", "-r",
                             "collections/requirements.yml", "--collections-path", collections, "--offline"],
                            cwd=os.path.join(private, "project"), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True, timeout=300)
    assert result.returncode == 0, result.stdout
    installed = os.path.join(collections, "ansible_collections", "mlops", "sagemaker_monitoring")
    assert os.path.isfile(os.path.join(installed, "roles", "endpoint_monitoring", "tasks", "main.yml")), result.stdout
    assert not os.path.exists(os.path.join(installed, "tests", "unit")), "build_ignore applies to the dir install"
    return collections


def write_env(private, name, data):
    with open(os.path.join(private, "env", name), "w") as f:
        yaml.safe_dump(data, f)


def job_events(artifacts):
    for path in sorted(glob.glob(os.path.join(artifacts, "job_events", "*.json"))):
        with open(path) as f:
            yield json.load(f)


def events_by_host(artifacts):
    """{host: [event name, ...]} and {host: number of changed results} from ansible-runner's job events."""
    events, changed = {}, {}
    for event in job_events(artifacts):
        host = event.get("event_data", {}).get("host")
        if host and event["event"].startswith("runner_on_"):
            events.setdefault(host, []).append(event["event"])
            if event["event_data"].get("res", {}).get("changed"):
                changed[host] = changed.get(host, 0) + 1
    return events, changed


def run_job(private, ident, env):
    result = subprocess.run([os.path.join(VENV_BIN, "ansible-runner"), "run", private, "-p", PLAYBOOK,
                             "--ident", ident], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, timeout=900)
    artifacts = os.path.join(private, "artifacts", ident)
    with open(os.path.join(artifacts, "status")) as f:
        status = f.read().strip()
    stdout = os.path.join(artifacts, "stdout")  # the job's output, which AWX shows
    if os.path.exists(stdout):
        with open(stdout) as f:
            return result.returncode, status, artifacts, f.read()
    return result.returncode, status, artifacts, result.stdout


def test_awx_job_has_events_for_every_endpoint_on_both_runs(localstack, inventory, tmp_path):
    private = str(tmp_path)  # the inventory fixture writes to <tmp_path>/inventory, where AWX puts it
    endpoints = [inventory.add("fleet", unique("awx")) for _ in range(2)]
    endpoints.append(inventory.add("gpu", unique("awx-gpu"),
                                   endpoint_monitoring_variants=[{"name": "AllTraffic",
                                                                  "instance_type": "ml.g4dn.xlarge"}]))
    os.makedirs(os.path.join(private, "project"))
    os.makedirs(os.path.join(private, "env"))
    clone_project(os.path.join(private, "project"))

    # The process environment has no AWS settings and no Ansible configuration: those come from env/ as in AWX.
    env = ansible_env(None, config=None)
    collections = project_sync(private, env)
    job_env = localstack.env(REGION)  # what an AWS credential of the job template injects
    job_env.update({"ANSIBLE_COLLECTIONS_PATH": collections, "ANSIBLE_NOCOLOR": "1",
                    "ANSIBLE_CACHE_PLUGIN_CONNECTION": env["ANSIBLE_CACHE_PLUGIN_CONNECTION"]})
    write_env(private, "envvars", job_env)
    write_env(private, "extravars", {})
    write_env(private, "settings", {"suppress_ansible_output": True, "job_timeout": 900})

    for ident, expect_changes in (("first", True), ("second", False)):
        rc, status, artifacts, stdout = run_job(private, ident, env)
        assert rc == 0 and status == "successful", stdout
        events, changed = events_by_host(artifacts)
        for endpoint in endpoints:
            # Every endpoint has its own results in the job's host events, unchanged ones included.
            assert "runner_on_ok" in events.get(endpoint, []), (ident, endpoint, sorted(events))
            assert "runner_on_failed" not in events[endpoint], (ident, endpoint, stdout)
            if expect_changes:
                assert changed.get(endpoint), (ident, endpoint, stdout)
            else:
                assert not changed.get(endpoint), (ident, endpoint, stdout)
        # AWX's host summary (playbook_on_stats) lists every endpoint.
        stats = [e for e in job_events(artifacts) if e["event"] == "playbook_on_stats"]
        assert len(stats) == 1
        assert set(endpoints) <= set(stats[0]["event_data"]["ok"]), stats[0]["event_data"]
        assert not stats[0]["event_data"]["failures"], stats[0]["event_data"]

    cloudformation = localstack.client("cloudformation")
    for endpoint in endpoints:
        stack = cloudformation.describe_stacks(StackName="sagemaker-monitoring-" + endpoint)["Stacks"][0]
        assert stack["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE"), stack["StackStatus"]
