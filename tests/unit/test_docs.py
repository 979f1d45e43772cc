"""The collection's docs: README.md, the newcomer's page, and the reference pages in docs/docsite/rst/, the extra docs
layout antsibull-docs renders (pages listed in docs/docsite/extra-docs.yml, labels that start with the collection's
prefix).

- the index and the pages agree, and each page is what antsibull-docs lint-collection-docs accepts (rstcheck, labels);
- every relative link of the README and of the pages leads to a file (shipped in the tarball) and anchor that exist,
  and every page is reachable from the README;
- the examples still run: YAML blocks parse, inventories and variables pass the role's own checks (its argument
  spec, then the spec every endpoint's stack is built from, as monitoring_prepare does), the prices are the cost
  report's, the inventory plugin's options are documented ones; and the names the docs use exist: role variables,
  playbook variables, plugins, roles and playbooks by FQCN, make targets, repository paths.

The checks are functions of a Docs object (a checkout's README and pages), so the last tests prove on small made-up
docs that each of them does find what it is there to find.
"""

import ast
import collections
import fnmatch
import glob
import importlib
import os
import pathlib
import re

import docutils.core
import docutils.nodes
import pytest
import yaml
from rstcheck_core.checker import check_source
from rstcheck_core.config import ReportLevel

from ansible_collections.mlops.sagemaker_monitoring.plugins.action.monitoring_prepare import PLACEHOLDER_FACTS
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils import cost
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_settings import (
    needs_facts,
    spec_from_settings,
)
from ansible_collections.mlops.sagemaker_monitoring.plugins.plugin_utils.endpoint_render import (
    read_settings,
    role_options,
    unknown_variables,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTION = "mlops.sagemaker_monitoring"
LABEL_PREFIX = "ansible_collections.%s.docsite." % COLLECTION
OPTIONS = role_options(os.path.join(ROOT, "roles", "endpoint_monitoring", "meta", "argument_specs.yml"))
# Directories of the repository whose paths the docs name (output directories such as preview/ are not among them).
REPO_DIRS = ("benchmarks", "changelogs", "collections", "docs", "examples", "extensions", "iam", "meta", "playbooks",
             "plugins", "roles", "scripts", "tests")
PATH = re.compile(r"(?<![\w./-])((?:%s)/[A-Za-z0-9_./-]*)" % "|".join(REPO_DIRS))
FQCN = re.compile(r"(?<![\w.])%s\.([a-z_][a-z0-9_]*)" % re.escape(COLLECTION))
ROLE_VARIABLE = re.compile(r"(?<![\w.])endpoint_monitoring_[a-z0-9_]+")
PLAY_VARIABLE = re.compile(r"(?<![\w.])sagemaker_monitoring_[a-z0-9_]+")
MAKE = re.compile(r"(?<![\w./-])make ([a-z][a-z0-9-]*)")
EXTRA_VAR = re.compile(r"(?:^|\s)-e\s+([A-Za-z_]\w*)=")
# An example's defaults: what an inventory sets for every host before the settings the example shows.
EXAMPLE_HOST = {"endpoint_monitoring_region": "eu-west-1", "endpoint_monitoring_variants": ["AllTraffic"],
                "endpoint_monitoring_instance_type": "ml.m5.xlarge"}

Block = collections.namedtuple("Block", "source language text")


def github_slug(title):
    """The anchor GitHub gives a markdown heading."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


class Page:
    """One document: its code blocks, inline literals, links (target as written) and anchors."""

    def __init__(self, root, relpath):
        self.root, self.relpath = root, relpath
        with open(os.path.join(root, relpath), encoding="utf-8") as f:
            self.text = f.read()
        if relpath.endswith(".rst"):
            self._read_rst()
        else:
            self._read_markdown()

    def _read_rst(self):
        self.doctree = docutils.core.publish_doctree(self.text, source_path=self.relpath, settings_overrides={
            "report_level": 5, "halt_level": 5, "file_insertion_enabled": False, "raw_enabled": False})
        self.blocks = [Block(self.relpath, ([c for c in node.get("classes", []) if c != "code"] or ["text"])[0],
                             node.astext()) for node in self.doctree.findall(docutils.nodes.literal_block)]
        self.literals = [node.astext() for node in self.doctree.findall(docutils.nodes.literal)]
        self.links = [node["refuri"] for node in self.doctree.findall(docutils.nodes.reference) if "refuri" in node]
        self.links += [node["uri"] for node in self.doctree.findall(docutils.nodes.image)]
        self.anchors = set()
        for node in self.doctree.findall(docutils.nodes.Element):
            self.anchors.update(node.get("ids", []))
        self.labels = re.findall(r"^\.\. _([^:]+):", self.text, re.M)

    def _read_markdown(self):
        fences = re.compile(r"^```(\w*)\n(.*?)^```\s*$", re.M | re.S)
        self.blocks = [Block(self.relpath, m.group(1) or "text", m.group(2)) for m in fences.finditer(self.text)]
        prose = fences.sub("", self.text)
        self.literals = re.findall(r"`([^`]+)`", prose)
        self.links = [m.group(1) for m in re.finditer(r"\]\(([^)\s]+)\)", re.sub(r"`[^`]+`", "", prose))]
        self.anchors = set(github_slug(m.group(1)) for m in re.finditer(r"^#+ (.+)$", prose, re.M))
        self.labels = []


class Docs:
    """A checkout's README.md and docs/docsite (the index and its pages)."""

    def __init__(self, root=ROOT):
        self.root = root
        self.index_path = os.path.join(root, "docs", "docsite", "extra-docs.yml")
        with open(self.index_path) as f:
            self.index = yaml.safe_load(f)
        rst_dir = os.path.join(root, "docs", "docsite", "rst")
        self.page_names = sorted(os.path.relpath(p, rst_dir)[:-len(".rst")]
                                 for p in glob.glob(os.path.join(rst_dir, "**", "*.rst"), recursive=True))
        self.readme = Page(root, "README.md")
        self.pages = dict((name, Page(root, os.path.join("docs", "docsite", "rst", name + ".rst")))
                          for name in self.page_names)

    def documents(self):
        return [self.readme] + [self.pages[name] for name in self.page_names]

    def listed(self):
        """The pages the index lists, in its order (a toctree entry is a name or a mapping with ref)."""
        return [entry["ref"] if isinstance(entry, dict) else entry
                for section in self.index.get("sections") or [] for entry in section.get("toctree") or []]


def index_problems(docs):
    problems = []
    for i, section in enumerate(docs.index.get("sections") or []):
        if not isinstance(section, dict) or not section.get("title") or not section.get("toctree"):
            problems.append("extra-docs.yml: section #%d needs a title and a toctree" % i)
    listed = docs.listed()
    problems += ["extra-docs.yml lists %r, which is not a page of docs/docsite/rst" % n
                 for n in listed if n not in docs.page_names]
    problems += ["docs/docsite/rst/%s.rst is not listed in extra-docs.yml" % n
                 for n in docs.page_names if n not in listed]
    problems += ["extra-docs.yml lists %r twice" % n for n, count in collections.Counter(listed).items() if count > 1]
    return problems


def rst_problems(docs):
    """What antsibull-docs lint-collection-docs reports on extra docs: rstcheck's findings and labels without the
    collection's prefix; and a label on top of each page, so that other docs can refer to it."""
    problems = []
    for page in docs.pages.values():
        for error in check_source(page.text, source_file=pathlib.Path(os.path.join(docs.root, page.relpath)),
                                  report_level=ReportLevel.WARNING):
            problems.append("%s:%s: %s" % (page.relpath, error["line_number"], error["message"]))
        problems += ["%s: label %r does not start with %r" % (page.relpath, label, LABEL_PREFIX)
                     for label in page.labels if not label.startswith(LABEL_PREFIX)]
        if not re.match(r"\A\.\. _%s[^:]+:\n\n\S" % re.escape(LABEL_PREFIX), page.text):
            problems.append("%s: does not start with a label of the collection (.. _%sNAME:) above its title"
                            % (page.relpath, LABEL_PREFIX))
    return problems


def shipped(root, path):
    """Whether `ansible-galaxy collection build` puts a file of the repository in the tarball (galaxy.yml's
    build_ignore, which matches paths and their parent directories)."""
    with open(os.path.join(root, "galaxy.yml")) as f:
        patterns = yaml.safe_load(f).get("build_ignore") or []
    parts = path.split("/")
    return not any(fnmatch.fnmatch("/".join(parts[:i]), p) for p in patterns for i in range(1, len(parts) + 1))


def resolve(docs, page, link):
    """(relative path of the target document, anchor) of a relative link; None for an absolute URL."""
    if re.match(r"^[a-z][a-z0-9+.-]*:", link):
        return None
    target, _, anchor = link.partition("#")
    if not target:
        return page.relpath, anchor
    path = os.path.normpath(os.path.join(os.path.dirname(page.relpath), target))
    return path, anchor


def link_problems(docs):
    problems = []
    by_path = dict((page.relpath, page) for page in docs.documents())
    for page in docs.documents():
        for link in page.links:
            resolved = resolve(docs, page, link)
            if resolved is None:
                continue
            path, anchor = resolved
            where = "%s: link %r" % (page.relpath, link)
            if path.startswith(".."):
                problems.append("%s leads out of the repository" % where)
            elif not os.path.exists(os.path.join(docs.root, path)):
                problems.append("%s: %s does not exist" % (where, path))
            elif not shipped(docs.root, path):
                problems.append("%s: %s is left out of the tarball (galaxy.yml build_ignore)" % (where, path))
            elif anchor:
                target = by_path.get(path)
                if target is None and path.endswith((".md", ".rst")):
                    target = Page(docs.root, path)
                if target is None:
                    problems.append("%s: an anchor in a file that has none" % where)
                elif anchor not in target.anchors:
                    problems.append("%s: %s has no anchor %r (it has %s)" % (where, path, anchor,
                                                                             ", ".join(sorted(target.anchors))))
    return problems


def unreachable(docs):
    """Pages no chain of links from the README reaches."""
    seen, todo = set(), [docs.readme]
    by_path = dict((page.relpath, name) for name, page in docs.pages.items())
    while todo:
        page = todo.pop()
        for link in page.links:
            resolved = resolve(docs, page, link)
            name = by_path.get(resolved[0]) if resolved else None
            if name and name not in seen:
                seen.add(name)
                todo.append(docs.pages[name])
    return sorted(set(docs.page_names) - seen)


# --- the examples ---------------------------------------------------------------------------------------------

def check_endpoint(host, variables):
    """An endpoint's variables through the role's own checks, as monitoring_prepare runs them: the argument spec
    (types, choices, defaults), misspelled endpoint_monitoring_* names, then the spec its stack is built from (with
    SageMaker's facts stood in for when the inventory names the endpoint only). Raises what the role would."""
    values = dict(variables, inventory_hostname=host)
    name, _, region = host.partition("@")
    settings = read_settings(lambda value: value, values, OPTIONS, default_endpoint=name)
    settings["endpoint_monitoring_endpoint_name"] = settings.get("endpoint_monitoring_endpoint_name") or name
    settings["endpoint_monitoring_region"] = settings.get("endpoint_monitoring_region") or region or "eu-west-1"
    unknown = unknown_variables(values, OPTIONS)
    if unknown:
        raise ValueError("endpoint %r: unknown variables %s" % (host, ", ".join(unknown)))
    spec_from_settings(settings, PLACEHOLDER_FACTS if needs_facts(settings) else None, unknown)


def inventory_hosts(group, inherited=None):
    """(host, variables) of a YAML inventory group and its children, with the variables of the groups above."""
    group = group or {}
    variables = dict(inherited or {}, **(group.get("vars") or {}))
    for host, host_vars in (group.get("hosts") or {}).items():
        yield host, dict(variables, **(host_vars or {}))
    for child in (group.get("children") or {}).values():
        for found in inventory_hosts(child, variables):
            yield found


def _plugin_doc(path):
    """The documentation of a plugin (parsed from its file, nothing imported)."""
    with open(path) as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "DOCUMENTATION" for t in node.targets):
            return yaml.safe_load(node.value.value)
    raise LookupError("%s has no DOCUMENTATION" % path)


def _fragment_options(name):
    """The options of a doc fragment, ansible-core's (``constructed``) or a collection's
    (``amazon.aws.common.plugins``: the PLUGINS part of amazon.aws's ``common``), as ansible-doc reads them."""
    parts = name.split(".")
    if len(parts) == 1:
        module, attribute = "ansible.plugins.doc_fragments." + name, "DOCUMENTATION"
    else:
        module = "ansible_collections.%s.%s.plugins.doc_fragments.%s" % tuple(parts[:3])
        attribute = parts[3].upper() if len(parts) > 3 else "DOCUMENTATION"
    fragment = importlib.import_module(module).ModuleDocFragment()
    return set((yaml.safe_load(getattr(fragment, attribute)) or {}).get("options") or {})


def inventory_plugin_options(name):
    doc = _plugin_doc(os.path.join(ROOT, "plugins", "inventory", name + ".py"))
    options = set(doc.get("options") or {})
    for fragment in doc.get("extends_documentation_fragment") or []:
        options.update(_fragment_options(fragment))
    return options


def check_yaml_example(block):
    """One YAML block: it parses, and what it is (an inventory, an inventory plugin's configuration, an endpoint's
    variables, the prices, a playbook) passes the check of that kind. Returns the problems."""
    where = "%s: %s example" % (block.source, block.language)
    try:
        data = yaml.safe_load(block.text)
    except yaml.YAMLError as e:
        return ["%s does not parse: %s" % (where, e)]
    problems = []
    try:
        if isinstance(data, list):  # a playbook: its names are checked with every other name of the docs
            if not all(isinstance(play, dict) and "hosts" in play for play in data):
                problems.append("%s: a list that is not a playbook" % where)
        elif isinstance(data, dict) and "plugin" in data:
            plugin = data["plugin"]
            if not plugin.startswith(COLLECTION + "."):
                return ["%s: plugin %r is not this collection's" % (where, plugin)]
            name = plugin[len(COLLECTION) + 1:]
            if not os.path.exists(os.path.join(ROOT, "plugins", "inventory", name + ".py")):
                return ["%s: no inventory plugin %r" % (where, plugin)]
            undocumented = sorted(set(data) - inventory_plugin_options(name) - {"plugin"})
            if undocumented:
                problems.append("%s: options %s are not options of %s" % (where, undocumented, plugin))
        elif isinstance(data, dict) and "all" in data:
            hosts = list(inventory_hosts(data["all"]))
            if not hosts:
                problems.append("%s: an inventory without hosts" % where)
            for host, variables in hosts:
                check_endpoint(host, variables)
        elif isinstance(data, dict) and "sagemaker_monitoring_prices" in data:
            cost.merge_prices(data["sagemaker_monitoring_prices"])
        elif isinstance(data, dict) and data and all(k.startswith("endpoint_monitoring_") for k in data):
            check_endpoint("example", dict(EXAMPLE_HOST, **data))
        else:
            problems.append("%s: not an example this test knows how to check (inventory, inventory plugin "
                            "configuration, endpoint_monitoring_* variables, sagemaker_monitoring_prices, playbook)"
                            % where)
    except Exception as e:  # the role's own errors (RenderError, SpecError, ValueError) say what is wrong
        problems.append("%s fails the role's checks: %s" % (where, e))
    return problems


def makefile_targets(root):
    with open(os.path.join(root, "Makefile")) as f:
        return set(re.findall(r"^([a-z][a-z0-9-]*):", f.read(), re.M))


def playbook_text(root):
    text = ""
    for path in sorted(glob.glob(os.path.join(root, "playbooks", "*.yml"))):
        with open(path) as f:
            text += f.read()
    return text


def collection_names(root):
    """What `mlops.sagemaker_monitoring.NAME` may name: roles, playbooks, modules, plugins, filters, action groups."""
    names = set(os.listdir(os.path.join(root, "roles")))
    for kind in ("modules", "inventory", "action", "filter", "playbooks"):
        base = os.path.join(root, "plugins", kind) if kind != "playbooks" else os.path.join(root, "playbooks")
        names.update(os.path.splitext(f)[0] for f in os.listdir(base) if f.endswith((".py", ".yml")))
    for path in glob.glob(os.path.join(root, "plugins", "filter", "*.py")):
        with open(path) as f:
            names.update(re.findall(r"[\"']([a-z_]+)[\"']\s*:", f.read()))
    with open(os.path.join(root, "meta", "runtime.yml")) as f:
        names.update((yaml.safe_load(f).get("action_groups") or {}).keys())
    return names


def name_problems(docs):
    """The names the docs use, in code blocks and inline code, that the checkout does not have."""
    problems = []
    # The docs' own files (Makefile, paths) are the checkout's; the names of the code are this repository's.
    targets, playbooks, known = makefile_targets(docs.root), playbook_text(ROOT), collection_names(ROOT)
    internal = ""
    for path in glob.glob(os.path.join(ROOT, "roles", "**", "*.yml"), recursive=True) + \
            glob.glob(os.path.join(ROOT, "plugins", "**", "*.py"), recursive=True):
        with open(path) as f:
            internal += f.read()
    for page in docs.documents():
        code = [block.text for block in page.blocks] + page.literals
        for text in code:
            for target in MAKE.findall(text):
                if target not in targets:
                    problems.append("%s: make %s: no such target in the Makefile" % (page.relpath, target))
            for path in PATH.findall(text):
                path = path.rstrip(".,;:")
                if not os.path.exists(os.path.join(docs.root, path)):
                    problems.append("%s: %s does not exist" % (page.relpath, path))
            for name in FQCN.findall(text):
                if name not in known and name != "docsite":
                    problems.append("%s: %s.%s is no role, playbook, plugin or action group of the collection"
                                    % (page.relpath, COLLECTION, name))
            for variable in ROLE_VARIABLE.findall(text):
                if variable not in OPTIONS and not (variable.startswith("endpoint_monitoring__") and
                                                    re.search(r"\b%s\b" % variable, internal)):
                    problems.append("%s: %s is not a variable of the role" % (page.relpath, variable))
            for variable in PLAY_VARIABLE.findall(text):
                if not re.search(r"\b%s\b" % variable, playbooks):
                    problems.append("%s: %s is used by no playbook" % (page.relpath, variable))
        for block in page.blocks:
            if block.language in ("sh", "shell", "bash", "console"):
                for line in block.text.splitlines():
                    for variable in EXTRA_VAR.findall(line):
                        if not re.search(r"\b%s\b" % variable, playbooks):
                            problems.append("%s: -e %s=...: no playbook reads %s" % (page.relpath, variable, variable))
    return problems


def example_problems(docs):
    problems = []
    for page in docs.documents():
        for block in page.blocks:
            if block.language in ("yaml", "yml"):
                problems += check_yaml_example(block)
    return problems


# --- the docs of this checkout ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def docs():
    return Docs(ROOT)


def test_the_index_lists_every_page_and_only_pages(docs):
    assert docs.page_names, "no page in docs/docsite/rst"
    assert not index_problems(docs), "\n".join(index_problems(docs))


def test_each_page_is_valid_rst_with_labels_of_the_collection(docs):
    problems = rst_problems(docs)
    assert not problems, "\n".join(problems)


def test_every_relative_link_leads_to_a_file_and_anchor_that_exist(docs):
    problems = link_problems(docs)
    assert not problems, "\n".join(problems)


def test_every_page_is_reachable_from_the_readme(docs):
    assert not unreachable(docs), "pages no link from README.md leads to: %s" % unreachable(docs)


def test_the_examples_pass_the_roles_own_checks(docs):
    blocks = [block for page in docs.documents() for block in page.blocks if block.language in ("yaml", "yml")]
    assert len(blocks) >= 10, blocks  # the examples are found at all
    problems = example_problems(docs)
    assert not problems, "\n".join(problems)


def test_the_names_the_docs_use_exist(docs):
    problems = name_problems(docs)
    assert not problems, "\n".join(problems)


def test_every_variable_of_the_role_is_in_the_variables_page(docs):
    page = docs.pages["variables"].text
    missing = sorted(name for name in OPTIONS if "``%s``" % name not in page
                     and "``..._%s``" % name[len("endpoint_monitoring_"):] not in page)
    assert not missing, "docs/docsite/rst/variables.rst does not describe %s" % missing


def test_the_docs_are_in_the_tarball(docs):
    for path in ["README.md", "docs/docsite/extra-docs.yml"] + [page.relpath for page in docs.pages.values()]:
        assert shipped(ROOT, path), path


def test_the_benchmark_page_holds_the_benchmark_section_bench_wrote():
    import sys
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    try:
        import docs_page
    finally:
        sys.path.remove(os.path.join(ROOT, "benchmarks"))
    with open(docs_page.SECTION) as f:
        section = f.read()
    with open(docs_page.BENCHMARK_PAGE) as f:
        page = f.read()
    assert docs_page.generated(page) == docs_page.to_rst(docs_page.body(section)), (
        "docs/docsite/rst/benchmark.rst is not benchmarks/results/README-section.md: run make bench-readme")


# --- the checks find what they are there to find ---------------------------------------------------------------

def made_up_docs(tmp_path, readme, pages, index=None):
    """A checkout with this README, these pages (name: text) and the real galaxy.yml and Makefile."""
    rst = tmp_path / "docs" / "docsite" / "rst"
    rst.mkdir(parents=True)
    (tmp_path / "README.md").write_text(readme)
    for name, text in pages.items():
        (rst / (name + ".rst")).write_text(text)
    (tmp_path / "docs" / "docsite" / "extra-docs.yml").write_text(yaml.safe_dump(
        index if index is not None else {"sections": [{"title": "All", "toctree": sorted(pages)}]}))
    for name in ("galaxy.yml", "Makefile"):
        (tmp_path / name).write_text(pathlib.Path(ROOT, name).read_text())
    return Docs(str(tmp_path))


def page(name, body):
    return ".. _%s%s:\n\n%s\n%s\n\n%s\n" % (LABEL_PREFIX, name, name.title(), "=" * len(name), body)


def test_a_broken_link_an_unknown_anchor_and_an_unreachable_page_are_found(tmp_path):
    docs = made_up_docs(tmp_path, "# Top\n\n[a](docs/docsite/rst/a.rst#nowhere), [x](docs/docsite/rst/gone.rst)\n", {
        "a": page("a", "Section\n-------\n\nSee `b <b.rst#section>`__ and `the top <../../../README.md#top>`__."),
        "b": page("b", "Nothing links here but a, which links to an anchor b has not."),
        "c": page("c", "No link leads here."),
    })
    problems = link_problems(docs)
    assert any("'docs/docsite/rst/gone.rst'" in p and "does not exist" in p for p in problems), problems
    assert any("has no anchor 'nowhere'" in p for p in problems), problems
    assert any("b.rst#section" in p and "has no anchor 'section'" in p for p in problems), problems
    assert not any("README.md#top" in p for p in problems), problems
    assert unreachable(docs) == ["c"]


def test_an_unlisted_page_a_listed_missing_one_and_a_foreign_label_are_found(tmp_path):
    docs = made_up_docs(tmp_path, "# Top\n", {"a": page("a", "Text."), "b": ".. _b:\n\nB\n=\n\nText.\n"},
                        index={"sections": [{"title": "S", "toctree": ["a", "gone"]}]})
    assert sorted(index_problems(docs)) == [
        "docs/docsite/rst/b.rst is not listed in extra-docs.yml",
        "extra-docs.yml lists 'gone', which is not a page of docs/docsite/rst"]
    problems = rst_problems(docs)
    assert any("label 'b' does not start with" in p for p in problems), problems


@pytest.mark.parametrize("example, text", [
    ("endpoint_monitoring_metrics:\n  ModelLatency: {threshhold: 5}\n", "threshhold"),
    ("endpoint_monitoring_metric:\n  ModelLatency: {threshold: 5}\n", "endpoint_monitoring_metric"),
    ("endpoint_monitoring_endpoint_metrics:\n  ModelLatency: {period: 45}\n", "period"),
    ("all:\n  hosts:\n    e1:\n      endpoint_monitoring_notify: everyone\n", "endpoint_monitoring_notify"),
    ("sagemaker_monitoring_prices: {dashbord: 1}\n", "dashbord"),
    ("plugin: mlops.sagemaker_monitoring.sagemaker_endpoints\nregion_names: [eu-west-1]\n", "region_names"),
    ("key: [unclosed\n", "does not parse"),
    ("something: else\n", "not an example this test knows"),
])
def test_an_example_the_role_would_refuse_is_found(example, text):
    problems = check_yaml_example(Block("page.rst", "yaml", example))
    assert len(problems) == 1 and text in problems[0], problems


def test_names_the_checkout_does_not_have_are_found(tmp_path):
    readme = "# Top\n\n```sh\nmake demos\nansible-playbook playbooks/monitor.yml -e preview_sauce=x\n```\n"
    text = ("``endpoint_monitoring_regoin``, ``mlops.sagemaker_monitoring.monitor_endpoint``, "
            "``sagemaker_monitoring_prunes`` and ``endpoint_monitoring__sagemaker_facts``.")
    docs = made_up_docs(tmp_path, readme, {"a": page("a", text)})
    problems = name_problems(docs)
    assert sorted(problems) == sorted([
        "README.md: make demos: no such target in the Makefile",
        "README.md: playbooks/monitor.yml does not exist",
        "README.md: -e preview_sauce=...: no playbook reads preview_sauce",
        "docs/docsite/rst/a.rst: endpoint_monitoring_regoin is not a variable of the role",
        "docs/docsite/rst/a.rst: mlops.sagemaker_monitoring.monitor_endpoint is no role, playbook, plugin or action "
        "group of the collection",
        "docs/docsite/rst/a.rst: sagemaker_monitoring_prunes is used by no playbook",
    ]), problems
