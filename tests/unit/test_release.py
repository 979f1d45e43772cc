"""The version and the ansible-core it needs say the same everywhere: galaxy.yml, the released changelog
(changelogs/changelog.yaml and CHANGELOG.rst, written by `antsibull-changelog release`), meta/runtime.yml, the
role's meta/main.yml and the README."""

import os
import re

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load(*path):
    with open(os.path.join(ROOT, *path)) as f:
        return yaml.safe_load(f)


def read(*path):
    with open(os.path.join(ROOT, *path)) as f:
        return f.read()


def version():
    return str(load("galaxy.yml")["version"])


def minimum_ansible():
    """'2.18' of requires_ansible '>=2.18.0'."""
    match = re.match(r"^>=\s*(\d+)\.(\d+)(\.0)?$", load("meta", "runtime.yml")["requires_ansible"].split(",")[0].strip())
    assert match, load("meta", "runtime.yml")["requires_ansible"]
    return "%s.%s" % match.group(1, 2)


def test_the_galaxy_version_is_released_in_the_changelog():
    releases = load("changelogs", "changelog.yaml")["releases"]
    assert version() in releases, sorted(releases)
    assert releases[version()].get("release_date"), releases[version()]
    assert re.search(r"^v%s\n=+$" % re.escape(version()), read("CHANGELOG.rst"), re.M)
    # Fragments written after the release are not in it: `antsibull-changelog release` again (the same version)
    # takes them into it, while it is not published; after that, they belong to the next version of galaxy.yml.
    left = sorted(set(os.listdir(os.path.join(ROOT, "changelogs", "fragments"))) - {".keep"})
    assert not left, "fragments not in the %s release: %s (run antsibull-changelog release)" % (version(), left)


def test_role_and_runtime_need_the_same_ansible_core():
    role = load("roles", "endpoint_monitoring", "meta", "main.yml")["galaxy_info"]
    assert str(role["min_ansible_version"]) == minimum_ansible()


def test_readme_names_the_version_and_the_ansible_core_it_needs():
    readme = read("README.md")
    assert "Collection %s" % version() in readme
    assert "ansible-core %s or newer" % minimum_ansible() in readme
