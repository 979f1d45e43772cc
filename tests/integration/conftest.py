"""Fixtures for tests that run the real playbooks against AWS-compatible servers on 127.0.0.1."""

import atexit
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

import local_aws  # noqa: E402

REGION = "us-east-1"
PLAYBOOKS = os.path.join(ROOT, "playbooks")
# A line of the closing summary about one endpoint (not the totals, not a fleet dashboard).
SUMMARY_LINE = re.compile(r"^(changed|unchanged|FAILED|NOT RUN) +([^\s:]+): (.*)$")
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


@pytest.fixture(scope="session")
def localstack(tmp_path_factory):
    server = local_aws.start_localstack(log_dir=str(tmp_path_factory.mktemp("localstack")))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def moto(tmp_path_factory):
    server = local_aws.start_moto(log_dir=str(tmp_path_factory.mktemp("moto")))
    yield server
    server.stop()


def unique(prefix):
    """Endpoint names unique to one test, so tests sharing a server never see each other's stacks."""
    return "%s-%s" % (prefix, uuid.uuid4().hex[:6])


def template_of(cfn, stack_name):
    """A deployed stack's template as a mapping: GetTemplate gives a dict (JSON bodies, parsed by botocore) or the
    text applied, which is YAML since the role renders the template to YAML."""
    body = cfn.get_template(StackName=stack_name)["TemplateBody"]
    return body if isinstance(body, dict) else yaml.safe_load(body)


class Inventory:
    """A static inventory in a temporary directory: hosts in groups, group_vars and host_vars files."""

    def __init__(self, path):
        self.path = path
        self.groups = {}
        os.makedirs(os.path.join(path, "group_vars"), exist_ok=True)
        os.makedirs(os.path.join(path, "host_vars"), exist_ok=True)
        # Endpoints described by the inventory itself (one variant, an instance type: CPU thresholds are per vCPU);
        # tests may override it, or list endpoints by name only to have them completed from SageMaker.
        self.group_vars("all", {})

    def add(self, group, host, **host_vars):
        self.groups.setdefault(group, [])
        if host not in self.groups[group]:
            self.groups[group].append(host)
        if host_vars:
            self.host_vars(host, host_vars)
        self._write_hosts()
        return host

    def group_vars(self, group, values):
        if group == "all":
            values = dict({"endpoint_monitoring_instance_type": "ml.m5.xlarge",
                           "endpoint_monitoring_variants": ["AllTraffic"]}, **values)
        self._dump(os.path.join(self.path, "group_vars", group + ".yml"), values)

    def host_vars(self, host, values):
        self._dump(os.path.join(self.path, "host_vars", host + ".yml"), values)

    def _write_hosts(self):
        data = {"all": {"vars": {"ansible_connection": "local"},
                        "children": dict((g, {"hosts": dict((h, None) for h in hosts)})
                                         for g, hosts in self.groups.items())}}
        self._dump(os.path.join(self.path, "hosts.yml"), data)

    @staticmethod
    def _dump(path, data):
        with open(path, "w") as f:
            yaml.safe_dump(data, f, sort_keys=False)


@pytest.fixture
def inventory(tmp_path):
    return Inventory(str(tmp_path / "inventory"))


class Run:
    def __init__(self, completed):
        self.rc = completed.returncode
        self.output = completed.stdout
        self.recap = dict((m.group(1), {"ok": int(m.group(2)), "changed": int(m.group(3)),
                                        "unreachable": int(m.group(4)), "failed": int(m.group(5))})
                          for m in RECAP.finditer(self.output))

    # Every endpoint has a recap line (its prepare task); a host without one never ran: nothing changed or failed.
    def changed(self, host):
        return self.recap.get(host, {"changed": 0})["changed"]

    def failed(self, host):
        return self.recap.get(host, {"failed": 0})["failed"]

    def summary(self):
        """{host: (status, text)} from the closing summary of monitor_endpoints.yml or teardown.yml (the lines
        "changed    ep: stack (create, 1 change)", "FAILED     ep: message"...), in either result format."""
        part = self.output.split("TASK [Summarise the run]", 1)
        if len(part) < 2 or " => " not in part[1]:
            return {}
        block = part[1].split(" => ", 1)[1].split("\n\n", 1)[0]
        try:
            lines = json.loads(block)["msg"]
        except ValueError:
            lines = yaml.safe_load(block)["msg"]
        return dict((m.group(2), (m.group(1), m.group(3))) for m in map(SUMMARY_LINE.match, lines) if m)


def ansible_env(server, region=REGION, config=os.path.join(ROOT, "ansible.cfg"), sagemaker=None, fact_cache=None):
    """The environment of an ansible-playbook run against `server` (LocalStack), with SageMaker calls sent to
    `sagemaker` (moto) when given, and Ansible's fact cache in `fact_cache` (a test's own directory; by default a
    new temporary one, so tests never share cached endpoint facts)."""
    env = dict(os.environ)
    for key in list(env):
        if key.startswith("AWS_"):
            env.pop(key)
    if server is not None:
        env.update(local_aws.split_env(server, sagemaker, region) if sagemaker else server.env(region))
    if fact_cache is None:
        fact_cache = tempfile.mkdtemp(prefix="fact-cache-")
        atexit.register(shutil.rmtree, fact_cache, True)
    env["ANSIBLE_CACHE_PLUGIN_CONNECTION"] = fact_cache
    env.update({
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_STDOUT_CALLBACK": "default",
        "PATH": os.path.join(ROOT, ".venv", "bin") + os.pathsep + env.get("PATH", ""),
    })
    if config:
        env["ANSIBLE_CONFIG"] = config
    return env


def run_playbook(server, inventory, playbook="monitor_endpoints.yml", *args, **kwargs):
    command = [os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), "-i", inventory.path,
               playbook if os.path.isabs(playbook) else os.path.join(PLAYBOOKS, playbook)] + list(args)
    completed = subprocess.run(command, cwd=kwargs.pop("cwd", ROOT), env=kwargs.pop("env", None) or ansible_env(server),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                               timeout=kwargs.pop("timeout", 600))
    return Run(completed)
