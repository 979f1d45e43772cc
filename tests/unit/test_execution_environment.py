"""execution-environment.yml (ansible-builder 3.x) pins what the rest of the repository pins, so they cannot drift:
ansible-core, ansible-runner, boto3, botocore and matplotlib as in requirements.txt, amazon.aws as galaxy.yml
declares it (and collections/requirements.yml, for AWX projects), this collection from the tarball `make build`
makes, a Python that ansible-core accepts, a base image that does not float. meta/execution-environment.yml gives
other execution environments this collection's runtime Python dependencies, and nothing else. `ansible-builder
create` makes a build context with all of that in it (building the image needs a container engine: not here)."""

import fnmatch
import glob
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile

import pytest
import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.join(ROOT, ".venv", "bin")
COLLECTION = "mlops.sagemaker_monitoring"
RUNTIME_PYTHON = {"boto3", "botocore", "matplotlib"}
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


def galaxy_version():
    return str(load("galaxy.yml")["version"])


def tarball_name():
    return "mlops-sagemaker_monitoring-%s.tar.gz" % galaxy_version()


def ee_galaxy(ee):
    galaxy = ee["dependencies"]["galaxy"]
    if isinstance(galaxy, str):  # a file beside execution-environment.yml
        galaxy = load(galaxy)
    return galaxy.get("collections", [])


def ee_collections(ee):
    """{name: version range} of the collections the EE installs from Galaxy (not from files)."""
    return dict((c["name"], str(c.get("version", "*"))) for c in ee_galaxy(ee) if c.get("type", "galaxy") == "galaxy")


def test_schema_version_3_with_a_pinned_base_image(ee):
    assert ee["version"] == 3
    base = ee["images"]["base_image"]["name"]
    match = re.match(r"^[a-z0-9.-]+\.[a-z]+(:\d+)?/[\w./-]+:([\w.-]+)(@sha256:[0-9a-f]{64})?$", base)
    assert match, base  # registry/path:tag[@sha256:digest]
    tag, digest = match.group(2), match.group(3)
    # Not a tag that moves to new builds: a digest, or a build's own tag (UBI's are VERSION-BUILD).
    assert tag != "latest", base
    assert digest or re.match(r"^\d+(\.\d+)+-\d+$", tag), base
    assert set(ee["dependencies"]) >= {"ansible_core", "ansible_runner", "galaxy", "python"}


def test_ansible_core_is_the_one_requirements_txt_pins(ee, requirements):
    assert ee["dependencies"]["ansible_core"]["package_pip"] == "ansible-core==" + requirements["ansible-core"]


def test_ansible_runner_is_the_one_requirements_txt_pins(ee, requirements):
    assert PIN.match(ee["dependencies"]["ansible_runner"]["package_pip"]), ee["dependencies"]["ansible_runner"]
    assert canonical(PIN.match(ee["dependencies"]["ansible_runner"]["package_pip"]).group(1)) == "ansible-runner"
    assert ee["dependencies"]["ansible_runner"]["package_pip"] == "ansible-runner==" + requirements["ansible-runner"]


def test_the_dev_tools_for_the_ee_are_pinned(requirements):
    """ansible-builder (the build context below) and ansible-runner (the AWX-style run in the integration tests)."""
    for name in ("ansible-builder", "ansible-runner"):
        assert name in requirements, name
        assert importlib.metadata.version(name) == requirements[name], "stale environment: make setup"


def test_python_packages_are_pinned_as_in_requirements_txt(ee, requirements):
    entries = ee["dependencies"]["python"]
    listed = pins(entries)
    assert len(listed) == len(entries), "every Python requirement of the EE is pinned with ==: %s" % entries
    assert set(listed) == RUNTIME_PYTHON, "only the runtime dependencies, none of the development tools: %s" % entries
    for name, version in listed.items():
        assert name in requirements, "%s is in the EE but not in requirements.txt" % name
        assert version == requirements[name], "%s: EE %s, requirements.txt %s" % (name, version, requirements[name])


def test_collections_are_the_ones_galaxy_yml_declares(ee):
    declared = dict((name, str(spec)) for name, spec in (load("galaxy.yml").get("dependencies") or {}).items())
    assert "amazon.aws" in declared
    assert ee_collections(ee) == declared


def test_this_collection_comes_from_the_built_tarball(ee):
    """`make build` writes dist/<tarball>; additional_build_files copies it into the build context's _build/, where
    ansible-galaxy installs the requirements from (its WORKDIR /build)."""
    files = [c for c in ee_galaxy(ee) if c.get("type") == "file"]
    assert files == [{"name": "collections/" + tarball_name(), "type": "file"}], files
    assert {"src": "dist/" + tarball_name(), "dest": "collections"} in ee["additional_build_files"]


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


# --- what other execution environments get from the collection ----------------------------------------------

def read_requirements(path):
    """The requirement lines of a pip requirements file, without comments."""
    from packaging.requirements import Requirement

    with open(path) as f:
        lines = [line.split("#", 1)[0].strip() for line in f]
    return [Requirement(line) for line in lines if line]


def test_meta_execution_environment_names_the_runtime_python_dependencies(requirements):
    meta = load(os.path.join("meta", "execution-environment.yml"))
    assert meta["version"] == 1
    assert set(meta["dependencies"]) == {"python"}, meta  # no system packages
    python = meta["dependencies"]["python"]
    assert not os.path.isabs(python), python  # relative to the collection's root, as ansible-builder requires
    wanted = read_requirements(os.path.join(ROOT, python))
    assert set(canonical(r.name) for r in wanted) == RUNTIME_PYTHON, wanted
    for requirement in wanted:
        # ranges that admit what the tests run with, not pins that would clash with other collections'
        assert not any(s.operator in ("==", "===") for s in requirement.specifier), requirement
        assert requirement.specifier.contains(requirements[canonical(requirement.name)]), requirement


def shipped(path):
    """Whether `ansible-galaxy collection build` puts a file of the repository in the tarball (galaxy.yml's
    build_ignore, which matches paths and their parent directories)."""
    patterns = load("galaxy.yml")["build_ignore"]
    parts = path.split("/")
    return not any(fnmatch.fnmatch("/".join(parts[:i]), p) for p in patterns for i in range(1, len(parts) + 1))


def test_build_ignore_ships_the_runtime_files_and_keeps_the_tooling_out():
    for path in ("meta/execution-environment.yml", "meta/ee-requirements.txt", "meta/runtime.yml",
                 "plugins/modules/monitoring_plan.py", "roles/endpoint_monitoring/README.md", "playbooks/teardown.yml",
                 "CHANGELOG.rst", "changelogs/changelog.yaml", "README.md", "iam/sagemaker-monitoring-policy.json",
                 "examples/inventory/hosts.yml", "tests/config.yml"):
        assert shipped(path), path
    for path in ("requirements.txt", "requirements-localstack.txt", "Makefile", "execution-environment.yml",
                 "collections/requirements.yml", "benchmarks/bench.py", "scripts/demo.py", "tests/unit/test_plan.py",
                 "tests/integration/conftest.py", "tests/support/aws_proxy.py", "tests/conftest.py", ".ci/run",
                 "extensions/molecule/default/molecule.yml", "dist/" + tarball_name(), "pytest.ini", "ansible.cfg"):
        assert not shipped(path), path


def test_awx_project_requirements_install_amazon_aws_and_this_checkout():
    """AWX's project sync runs ansible-galaxy from the project's root: `source: ./` of type dir is this checkout."""
    wanted = load(os.path.join("collections", "requirements.yml"))["collections"]
    declared = dict((name, str(spec)) for name, spec in load("galaxy.yml")["dependencies"].items())
    galaxy = dict((c["name"], str(c.get("version", "*"))) for c in wanted if c.get("type", "galaxy") == "galaxy")
    assert galaxy == declared
    assert [c for c in wanted if c.get("type") == "dir"] == [{"name": COLLECTION, "source": "./", "type": "dir"}]


# --- the build context -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def build_context(tmp_path_factory):
    """`ansible-builder create` for execution-environment.yml, beside the tarball `make build` would make (built
    into a temporary copy of the layout: dist/ and the definition, so the checkout's dist/ is left alone)."""
    work = tmp_path_factory.mktemp("ee")
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "AWS_")))
    subprocess.run([os.path.join(VENV_BIN, "ansible-galaxy"), "collection", "build", "--output-path",
                    str(work / "dist"), ROOT], check=True, cwd=str(work), env=env, stdout=subprocess.PIPE)
    shutil.copy(os.path.join(ROOT, "execution-environment.yml"), str(work))
    result = subprocess.run([os.path.join(VENV_BIN, "ansible-builder"), "create", "-f", "execution-environment.yml",
                             "-c", "context", "--output-filename", "Containerfile"],
                            cwd=str(work), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True)
    assert result.returncode == 0, result.stdout
    return work / "context"


def test_build_context_installs_the_collection_tarball_and_amazon_aws(ee, build_context):
    build = build_context / "_build"
    with open(str(build / "requirements.yml")) as f:
        galaxy = yaml.safe_load(f)
    assert galaxy["collections"] == ee_galaxy(ee)
    tarball = build / "collections" / tarball_name()
    assert tarball.is_file()
    with tarfile.open(str(tarball)) as tar:
        names = set(tar.getnames())
    assert {"MANIFEST.json", "meta/execution-environment.yml", "meta/ee-requirements.txt",
            "roles/endpoint_monitoring/tasks/main.yml", "playbooks/monitor_endpoints.yml"} <= names
    assert not [n for n in names if n.split("/")[0] in ("tests", "benchmarks", "scripts", "extensions")
                and n != "tests" and n != "tests/config.yml"], sorted(names)
    assert "requirements.txt" not in names and "execution-environment.yml" not in names
    containerfile = (build_context / "Containerfile").read_text()
    assert 'ARG EE_BASE_IMAGE="%s"' % ee["images"]["base_image"]["name"] in containerfile
    assert "ansible-galaxy collection install" in containerfile and "-r requirements.yml" in containerfile


def test_build_context_python_requirements_are_the_runtime_ones_only(ee, build_context, tmp_path):
    """What the image's builder stage installs: ansible-builder's introspection of the installed collections
    (each one's meta/execution-environment.yml) plus the EE's own pins; run here on the same collections."""
    build = build_context / "_build"
    assert pins((build / "requirements.txt").read_text().splitlines()) == pins(ee["dependencies"]["python"])
    collections = tmp_path / "collections"
    subprocess.run([os.path.join(VENV_BIN, "ansible-galaxy"), "collection", "install", "--no-deps", "-p",
                    str(collections), str(build / "collections" / tarball_name())],
                   check=True, cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                   env=dict((k, v) for k, v in os.environ.items() if not k.startswith("ANSIBLE_")))
    amazon_aws = [os.path.join(p, "ansible_collections", "amazon", "aws") for p in sys.path]
    amazon_aws = [p for p in amazon_aws if os.path.isdir(p)][0]
    shutil.copytree(amazon_aws, str(collections / "ansible_collections" / "amazon" / "aws"))
    written = tmp_path / "pip.txt"
    subprocess.run([sys.executable, str(build / "scripts" / "introspect.py"), "introspect", str(collections),
                    "--user-pip", str(build / "requirements.txt"), "--write-pip", str(written)],
                   check=True, stdout=subprocess.PIPE)
    lines = [line for line in written.read_text().splitlines() if line.strip()]
    sources = dict()
    for line in lines:
        requirement, source = line.split("# from collection ")
        name = re.split(r"[<>=!~ ]", requirement.strip(), 1)[0]
        sources.setdefault(canonical(name), set()).add(source.strip())
    assert set(sources) == RUNTIME_PYTHON, lines
    assert sources["matplotlib"] == {COLLECTION, "user"}, lines
    assert COLLECTION in sources["boto3"] and "amazon.aws" in sources["boto3"], lines
