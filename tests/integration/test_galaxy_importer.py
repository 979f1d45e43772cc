"""galaxy-importer, the check Galaxy and Automation Hub run on an uploaded collection, on the tarball `make build`
makes: no error and no warning with Galaxy's settings and with Automation Hub's (required tags, flake8 on every
plugin, version 1.0.0 or later), in the environment a publisher has: amazon.aws installed beside the importer (the
`ansible` package of requirements-importer.txt), since the plugins' documentation extends its fragments and the
playbooks call amazon.aws.cloudformation. An importer without amazon.aws reports exactly that and nothing else.

The importer lives in its own virtual environment (.venv-importer, `make setup`), pinned in
requirements-importer.txt; it runs ansible-doc, ansible-lint and flake8 from there, offline."""

import glob
import os
import re
import subprocess

import pytest

from conftest import ROOT

pytestmark = pytest.mark.integration

IMPORTER_BIN = os.path.join(ROOT, ".venv-importer", "bin")
# Automation Hub's settings beyond Galaxy's (galaxy-importer's config file, GALAXY_IMPORTER_CONFIG).
AUTOMATION_HUB = """[galaxy-importer]
check_required_tags = True
run_flake8 = True
require_v1_or_greater = True
check_changelog = True
run_ansible_doc = True
run_ansible_lint = True
offline_ansible_lint = True
"""


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    assert os.path.isfile(os.path.join(IMPORTER_BIN, "python")), "no .venv-importer: make setup"
    dist = tmp_path_factory.mktemp("dist")
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "AWS_")))
    subprocess.run([os.path.join(ROOT, ".venv", "bin", "ansible-galaxy"), "collection", "build", "--output-path",
                    str(dist), ROOT], check=True, cwd=str(dist), env=env, stdout=subprocess.PIPE)
    found, = glob.glob(str(dist / "mlops-sagemaker_monitoring-*.tar.gz"))
    return found


def import_collection(tarball, tmp_path, config=None, **extra_env):
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "AWS_", "GALAXY_IMPORTER_")))
    env.update(PATH=IMPORTER_BIN + os.pathsep + env.get("PATH", ""), NO_COLOR="1",
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"))
    if config is not None:
        path = tmp_path / "galaxy-importer.cfg"
        path.write_text(config)
        env["GALAXY_IMPORTER_CONFIG"] = str(path)
    env.update(extra_env)
    result = subprocess.run([os.path.join(IMPORTER_BIN, "python"), "-m", "galaxy_importer.main", tarball],
                            cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, timeout=600)
    complaints = [line for line in result.stdout.splitlines() if re.match(r"^(WARNING|ERROR)\b", line)]
    return result, complaints


@pytest.mark.parametrize("config", [None, AUTOMATION_HUB], ids=["galaxy", "automation-hub"])
def test_importer_accepts_the_tarball_without_a_warning(tarball, tmp_path, config):
    result, complaints = import_collection(tarball, tmp_path, config)
    assert result.returncode == 0, result.stdout
    assert "Importer processing completed successfully" in result.stdout, result.stdout
    assert not complaints, "\n".join(complaints)
    if config:
        assert "via flake8" in result.stdout, result.stdout  # the Automation Hub settings were read
    assert "Linting collection via ansible-lint" in result.stdout, result.stdout


def test_an_importer_without_amazon_aws_reports_only_that(tarball, tmp_path):
    """What the docs (docs/docsite/rst/publishing.rst) say a bare importer reports: ansible-doc cannot load amazon.aws's documentation fragments
    (so the modules and the inventory plugin get no documentation), and ansible-lint cannot resolve
    amazon.aws.cloudformation. Nothing else."""
    result, complaints = import_collection(tarball, tmp_path, ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false")
    assert result.returncode == 0, result.stdout
    assert complaints, result.stdout
    for line in complaints:
        assert "amazon.aws" in line or "ansible_collections.amazon" in line, line
    assert any("Error running ansible-doc" in line for line in complaints), complaints
    assert any("syntax-check[unknown-module]" in line for line in complaints), complaints
