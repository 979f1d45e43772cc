"""`molecule test` of extensions/molecule/default against LocalStack, started here on a free loopback port.

The scenario monitors two endpoints, converges twice (molecule's idempotence step fails on any change),
checks the real alarms and stack outputs, and tears everything down with the collection's teardown playbook.
"""

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.join(ROOT, ".venv", "bin")
REGION = "us-east-1"
STACK_PREFIX = "sagemaker-monitoring-molecule-"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]|\x1b\]8;;[^\x1b]*\x1b\\")

if os.path.join(ROOT, "scripts") not in sys.path:
    sys.path.insert(0, os.path.join(ROOT, "scripts"))

import local_aws  # noqa: E402


@pytest.fixture(scope="module")
def molecule_localstack(tmp_path_factory):
    server = local_aws.start_localstack(log_dir=str(tmp_path_factory.mktemp("localstack-molecule")))
    try:
        yield server
    finally:
        server.stop()


def molecule_env(server, scratch):
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith("AWS_") and not k.startswith("MOLECULE_"))
    env.update(server.env(REGION))
    env.update({
        "PATH": VENV_BIN + os.pathsep + env.get("PATH", ""),
        # Molecule writes an ansible.cfg of its own (see molecule.yml); this one serves its own ansible calls.
        "ANSIBLE_CONFIG": os.path.join(ROOT, "ansible.cfg"),
        "NO_COLOR": "1",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        # Molecule keeps its scenario state under ~/.ansible/tmp, one directory per checkout, and never removes it.
        "MOLECULE_EPHEMERAL_DIRECTORY": scratch,
    })
    return env


def live_stacks(server):
    client = server.client("cloudformation", REGION)
    stacks = client.list_stacks()["StackSummaries"]
    return sorted(s["StackName"] for s in stacks
                  if s["StackName"].startswith(STACK_PREFIX) and s["StackStatus"] != "DELETE_COMPLETE")


@pytest.mark.integration
def test_molecule_default_scenario(molecule_localstack, tmp_path):
    env = molecule_env(molecule_localstack, str(tmp_path / "molecule"))
    completed = subprocess.run([os.path.join(VENV_BIN, "molecule"), "test", "--scenario-name", "default"],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, universal_newlines=True, timeout=600)
    output = ANSI.sub("", completed.stdout)
    assert completed.returncode == 0, output[-20000:]

    # Every step of the sequence ran and passed; idempotence means the second converge changed nothing.
    for step in ("create", "converge", "idempotence", "verify", "destroy"):
        assert re.search(r"default\s+\S+\s+%s: Executed: Successful" % step, output), (step, output[-20000:])
    assert not re.search(r"Executed: (Failed|Missing playbook)", output), output[-20000:]
    assert "Idempotence test failed" not in output

    # And nothing is left on the server.
    assert live_stacks(molecule_localstack) == []
