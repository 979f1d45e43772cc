"""execution-environment.yml (ansible-builder 3.x) pins what the rest of the repository pins, so they cannot drift:
ansible-core, boto3 and botocore as in requirements.txt, the collections as galaxy.yml declares them (and a
requirements.yml, if there is one), a Python that ansible-core accepts."""

import glob
import importlib.metadata
import json
import os
import re
import sys

import pytest
import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)\s*$")


def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def load(name):
    with open(os.path.join(ROOT, name)) as f:
        return yaml.safe_load(f)


def pins(lines):
    """{canonical name: version} of the name==version lines."""
    found = {}
    for line in lines:
        match = PIN.match(line)
        if match:
            found[canonical(match.group(1))] = match.group(2)
    return found


@pytest.fixture(scope="module")
def ee():
    return load("execution-environment.yml")


@pytest.fixture(scope="module")
def requirements():
    with open(os.path.join(ROOT, "requirements.txt")) as f:
        return pins(f)


def galaxy_specifier(spec):
    """A galaxy version range ('*', '1.2.3', '>=9.0.0,<11') as a packaging SpecifierSet."""
    spec = str(spec).strip()
    if spec in ("", "*"):
        return SpecifierSet("")
    if re.match(r"^\d", spec):
        return SpecifierSet("==" + spec)
    return SpecifierSet(spec)


def ee_collections(ee):
    galaxy = ee["dependencies"]["galaxy"]
    if isinstance(galaxy, str):  # a file beside execution-environment.yml
        galaxy = load(galaxy)
    return dict((c["name"], str(c.get("version", "*"))) for c in galaxy.get("collections", []))


def test_schema_version_3_with_a_base_image(ee):
    assert ee["version"] == 3
    base = ee["images"]["base_image"]["name"]
    assert re.match(r"^[a-z0-9.-]+\.[a-z]+(:\d+)?/[\w./-]+:[\w.-]+$", base), base  # registry/path:tag
    assert set(ee["dependencies"]) >= {"ansible_core", "ansible_runner", "galaxy", "python"}


def test_ansible_core_is_the_one_requirements_txt_pins(ee, requirements):
    assert ee["dependencies"]["ansible_core"]["package_pip"] == "ansible-core==" + requirements["ansible-core"]


def test_ansible_runner_is_pinned(ee):
    assert PIN.match(ee["dependencies"]["ansible_runner"]["package_pip"]), ee["dependencies"]["ansible_runner"]
    assert canonical(PIN.match(ee["dependencies"]["ansible_runner"]["package_pip"]).group(1)) == "ansible-runner"


def test_python_packages_are_pinned_as_in_requirements_txt(ee, requirements):
    entries = ee["dependencies"]["python"]
    listed = pins(entries)
    assert len(listed) == len(entries), "every Python requirement of the EE is pinned with ==: %s" % entries
    assert {"boto3", "botocore"} <= set(listed), entries
    for name, version in listed.items():
        assert name in requirements, "%s is in the EE but not in requirements.txt" % name
        assert version == requirements[name], "%s: EE %s, requirements.txt %s" % (name, version, requirements[name])


def test_collections_are_the_ones_galaxy_yml_declares(ee):
    declared = dict((name, str(spec)) for name, spec in (load("galaxy.yml").get("dependencies") or {}).items())
    assert "amazon.aws" in declared
    assert ee_collections(ee) == declared


def test_collections_agree_with_a_requirements_yml_if_there_is_one(ee):
    collections = ee_collections(ee)
    places = (("requirements.yml",), ("collections", "requirements.yml"), ("meta", "requirements.yml"))
    for path in [p for place in places for p in glob.glob(os.path.join(ROOT, *place))]:
        with open(path) as f:
            wanted = yaml.safe_load(f) or {}
        for entry in wanted.get("collections", []):
            entry = {"name": entry} if isinstance(entry, str) else entry
            if entry["name"] in collections:
                assert str(entry.get("version", "*")) == collections[entry["name"]], (path, entry)


def test_the_amazon_aws_the_tests_run_with_is_in_the_ees_range(ee):
    """The EE's range admits the amazon.aws that the pinned `ansible` package of requirements.txt brings."""
    manifests = [os.path.join(p, "ansible_collections", "amazon", "aws", "MANIFEST.json") for p in sys.path]
    manifests = [m for m in manifests if os.path.isfile(m)]
    assert manifests, "amazon.aws is not installed in this environment (make setup)"
    with open(manifests[0]) as f:
        installed = json.load(f)["collection_info"]["version"]
    assert Version(installed) in galaxy_specifier(ee_collections(ee)["amazon.aws"]), installed


def test_the_python_interpreter_is_one_ansible_core_accepts(ee, requirements):
    interpreter = ee["dependencies"]["python_interpreter"]
    match = re.search(r"python(\d+)\.(\d+)$", interpreter["python_path"])
    assert match, interpreter
    assert interpreter["package_system"] == "python%s.%s" % match.groups(), interpreter
    # Requires-Python of the ansible-core this environment has, which make setup installs from requirements.txt
    assert importlib.metadata.version("ansible-core") == requirements["ansible-core"], "stale environment: make setup"
    requires = SpecifierSet(importlib.metadata.metadata("ansible-core")["Requires-Python"])
    assert Version("%s.%s" % match.groups()) in requires, (interpreter, str(requires))
