"""meta/runtime.yml's action group: every AWS module of the collection is in it, so that module_defaults for
group/mlops.sagemaker_monitoring.aws reach them all, and through its extend_group amazon.aws's modules too
(amazon.aws.cloudformation, which the role applies the stacks with).

An AWS module is one that calls AWS through AnsibleAWSModule, documents amazon.aws's connection options (its
documentation fragments), or takes AWS connection options of its own (monitoring_prepare, an action plugin that makes
no call but resolves the connection the role's other tasks use). A module that takes a region only as a label of
what it computes (sagemaker_dashboard) is not one.

ansible-core's extend_group works one way: it adds amazon.aws's modules to this collection's group, never this
collection's modules to amazon.aws.aws (or to group/aws, which is ansible.builtin's group extending amazon.aws.aws and
community.aws.aws). The role honours module_defaults for those two groups itself: monitoring_prepare reads them
(tests/unit/test_monitoring_prepare.py) and the role passes what it resolved on to its other AWS tasks
(tests/integration/test_bare_names.py runs that end to end)."""

import ast
import glob
import os

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTION = "mlops.sagemaker_monitoring"
GROUP = "aws"
CONNECTION_OPTIONS = ("profile", "aws_profile", "endpoint_url", "aws_endpoint_url", "access_key", "aws_access_key_id")


def runtime():
    with open(os.path.join(ROOT, "meta", "runtime.yml")) as f:
        return yaml.safe_load(f)


def documentation(path):
    """The module's DOCUMENTATION, parsed, read from its source without importing it."""
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "DOCUMENTATION" for t in node.targets):
            return yaml.safe_load(node.value.value)
    raise AssertionError("%s has no DOCUMENTATION" % path)


def modules():
    """{module name: source path} of the collection's modules."""
    return dict((os.path.splitext(os.path.basename(p))[0], p)
                for p in glob.glob(os.path.join(ROOT, "plugins", "modules", "*.py"))
                if not os.path.basename(p).startswith("_"))


def why_aws(name, path):
    """Why a module is an AWS module (empty: it is not)."""
    with open(path) as f:
        source = f.read()
    doc = documentation(path)
    reasons = []
    if "AnsibleAWSModule" in source:
        reasons.append("uses AnsibleAWSModule")
    fragments = doc.get("extends_documentation_fragment") or []
    if any(str(fragment).startswith("amazon.aws.") for fragment in fragments):
        reasons.append("documents amazon.aws's connection options")
    options = doc.get("options") or {}
    names = set(options)
    for option in options.values():
        names.update((option or {}).get("aliases") or [])
    if names.intersection(CONNECTION_OPTIONS):
        reasons.append("takes AWS connection options")
    return reasons


def group_members():
    entries = runtime()["action_groups"][GROUP]
    return [e for e in entries if isinstance(e, str)], [e for e in entries if isinstance(e, dict)]


def test_every_aws_module_of_the_collection_is_in_the_action_group():
    members, _metadata = group_members()
    aws = dict((name, why_aws(name, path)) for name, path in modules().items())
    missing = sorted("%s (%s)" % (name, ", ".join(reasons)) for name, reasons in aws.items()
                     if reasons and name not in members and "%s.%s" % (COLLECTION, name) not in members)
    assert missing == [], "AWS modules missing from action_groups.%s in meta/runtime.yml: %s" % (GROUP, missing)
    # the detection finds them at all (a module renamed or its documentation rewritten would hide them)
    assert sorted(name for name, reasons in aws.items() if reasons) == sorted(
        ["alarm_backtest", "cloudformation_revert_drift", "dashboard_preview", "fleet_dashboards", "monitoring_plan", "monitoring_prepare",
         "monitoring_prune", "monitoring_stack_diff", "sns_subscriptions"])


def test_the_action_group_names_only_modules_that_exist_and_are_aws_modules():
    members, _metadata = group_members()
    names = [m.split(".")[-1] for m in members]
    assert len(names) == len(set(names)), names
    found = modules()
    assert sorted(set(names) - set(found)) == []
    assert [n for n in names if not why_aws(n, found[n])] == []  # sagemaker_dashboard (a region label) stays out


def test_the_action_group_extends_amazon_aws():
    _members, metadata = group_members()
    assert len(metadata) == 1
    assert "amazon.aws.aws" in metadata[0]["metadata"]["extend_group"]


RESOLVE = """
import json, sys
from ansible.plugins.loader import init_plugin_loader
init_plugin_loader([sys.argv[1]])
from ansible.parsing.dataloader import DataLoader
from ansible.playbook.play import Play
groups = sys.argv[2:]
play = Play.load({"name": "groups", "hosts": "localhost", "gather_facts": False, "tasks": [],
                  "module_defaults": dict(("group/" + g, {"region": "eu-west-1"}) for g in groups)},
                 loader=DataLoader())
print(json.dumps(play._group_actions))
"""


def test_ansible_resolves_the_group_to_every_aws_module_and_amazon_aws_cloudformation():
    """ansible-core's own resolution of module_defaults groups (Play._resolve_group), as a play does it (in a process
    of its own: Ansible's collection loader takes over the import of ansible_collections)."""
    import json
    import subprocess
    import sys

    pytest.importorskip("ansible_collections.amazon.aws")
    ours = "%s.%s" % (COLLECTION, GROUP)
    completed = subprocess.run([sys.executable, "-c", RESOLVE, os.path.join(ROOT, ".collections"), ours, "aws",
                                "amazon.aws.aws"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               universal_newlines=True, timeout=120,
                               env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg")))
    assert completed.returncode == 0, completed.stderr
    resolved = json.loads(completed.stdout)
    aws = sorted("%s.%s" % (COLLECTION, name) for name, path in modules().items() if why_aws(name, path))
    assert sorted(set(aws) - set(resolved[ours])) == []
    assert "amazon.aws.cloudformation" in resolved[ours]
    # and only through the collection's own group: Ansible gives group/aws and group/amazon.aws.aws amazon.aws's
    # modules (which is why monitoring_prepare reads those two groups itself)
    for group in ("ansible.builtin.aws", "amazon.aws.aws"):
        assert "amazon.aws.cloudformation" in resolved[group]
        assert not [a for a in resolved[group] if a.startswith(COLLECTION + ".")]
