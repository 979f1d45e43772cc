"""ansible-test sanity on the collection as users get it: the tarball that `ansible-galaxy collection build` makes,
installed into a temporary collections tree beside amazon.aws (which the modules import and whose documentation
fragments they extend), on each Python from 3.11 to 3.13 (the controller Pythons of ansible-core 2.19; the modules
run on the controller, see tests/config.yml).

Offline: ansible-test builds its virtual environments without pip and bootstraps pip with a get-pip script that it
downloads from a host these machines cannot reach; `make test` (through `make sanity-setup`) puts a stand-in in its
cache, tests/support/ansible_test_get_pip.py. The test requirements come from the package index. `--venv` keeps
them out of the development environment (ansible-test manages those environments, so it installs every test's
requirements without `--requirements`); they are cached in ~/.ansible/test/venv between runs. Not `--local`: that
would run the tests on the bare pyenv interpreters of 3.12 and 3.13, which have none of ansible-core's requirements.

Every test that applies must pass; ignore entries, if ever needed, go to tests/sanity/ignore-2.19.txt, each with
its reason (the file ships in the tarball, where ansible-test and certification read it)."""

import glob
import os
import shutil
import subprocess

import pytest

from conftest import ROOT

pytestmark = pytest.mark.integration

PYTHONS = ("3.11", "3.12", "3.13")
VENV_BIN = os.path.join(ROOT, ".venv", "bin")
AMAZON_AWS = glob.glob(os.path.join(ROOT, ".venv", "lib", "python*", "site-packages", "ansible_collections",
                                    "amazon", "aws"))


def clean_env(**extra):
    """No AWS settings, no Ansible configuration of this checkout: only what a user's machine would have."""
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith(("AWS_", "ANSIBLE_", "PYENV_VERSION")))
    env.update(PATH=VENV_BIN + os.pathsep + env.get("PATH", ""), NO_COLOR="1")
    env.update(extra)
    return env


def get_pip_cached():
    from ansible_test._internal.python_requirements import get_venv_packages

    class Python:  # get_venv_packages reads only the version, for per-version overrides
        version = PYTHONS[0]

    pip = get_venv_packages(Python)["pip"]
    return os.path.expanduser("~/.ansible/test/cache/get_pip_%s.py" % pip.replace(".", "_"))


def interpreter_dir(version):
    """The directory of a `pythonX.Y` that runs (pyenv's shims need PYENV_VERSION for versions not global)."""
    env = clean_env()
    pyenv = shutil.which("pyenv")
    if pyenv:
        names = subprocess.run([pyenv, "versions", "--bare"], stdout=subprocess.PIPE, universal_newlines=True,
                               env=env).stdout.split()
        matching = [name for name in names if name == version or name.startswith(version + ".")]
        if matching:
            env["PYENV_VERSION"] = matching[-1]
    command = shutil.which("python" + version, path=env["PATH"])
    assert command, "python%s is not installed" % version
    found = subprocess.run([command, "-c", "import sys; print(sys.executable)"], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True)
    assert found.returncode == 0, found.stdout
    return os.path.dirname(found.stdout.strip())


@pytest.fixture(scope="module")
def installed_collection(tmp_path_factory):
    """ansible_collections/mlops/sagemaker_monitoring from the built tarball, amazon.aws beside it."""
    assert os.path.isfile(get_pip_cached()), "ansible-test's get-pip stand-in is missing: run make sanity-setup"
    assert AMAZON_AWS, "amazon.aws is not installed in .venv (make setup)"
    work = tmp_path_factory.mktemp("sanity")
    galaxy = os.path.join(VENV_BIN, "ansible-galaxy")
    subprocess.run([galaxy, "collection", "build", "--output-path", str(work / "dist"), ROOT], check=True,
                   env=clean_env(), cwd=str(work), stdout=subprocess.PIPE)
    tarball, = glob.glob(str(work / "dist" / "mlops-sagemaker_monitoring-*.tar.gz"))
    subprocess.run([galaxy, "collection", "install", "--no-deps", "-p", str(work / "collections"), tarball],
                   check=True, env=clean_env(), cwd=str(work), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    root = work / "collections" / "ansible_collections"
    (root / "amazon").mkdir()
    (root / "amazon" / "aws").symlink_to(AMAZON_AWS[0], target_is_directory=True)
    return root / "mlops" / "sagemaker_monitoring"


@pytest.mark.parametrize("python", PYTHONS)
def test_ansible_test_sanity(installed_collection, python):
    env = clean_env()
    env["PATH"] = os.pathsep.join([VENV_BIN, interpreter_dir(python), env["PATH"]])
    result = subprocess.run([os.path.join(VENV_BIN, "ansible-test"), "sanity", "--venv", "--python", python,
                             "--color", "no"],
                            cwd=str(installed_collection), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, timeout=1500)
    output = result.stdout
    # What went wrong, without the package installations that lead to it.
    shown = "\n".join(line for line in output.splitlines() if not line.startswith(("  ", "Collecting", "Downloading")))
    assert result.returncode == 0, shown[-20000:]
    assert "ERROR" not in output, shown[-20000:]
    assert "Running sanity test \"validate-modules\"" in output and "Running sanity test \"pylint\"" in output, shown


def test_ignore_entries_each_give_their_reason():
    """None are needed today; one added later names its file, test and error code, and says why after a #."""
    for path in glob.glob(os.path.join(ROOT, "tests", "sanity", "ignore-*.txt")):
        with open(path) as f:
            entries = [line.strip() for line in f if line.strip() and not line.lstrip().startswith("#")]
        for entry in entries:
            assert " # " in entry and entry.split(" # ", 1)[1].strip(), "%s: no reason given: %s" % (path, entry)
