# All set-up on a fresh machine comes from here: `make demo` and `make test` need nothing else.
PYTHON ?= python3.11
LOCALSTACK_PYTHON ?= python3.13
export PYENV_VERSION_LOCALSTACK ?= 3.13.0
VENV := .venv
LS_VENV := .venv-localstack
IMPORTER_VENV := .venv-importer
COLLECTION_LINK := .collections/ansible_collections/mlops/sagemaker_monitoring

.PHONY: setup sanity-setup sanity demo test test-unit lint build clean

setup: $(VENV)/.installed $(LS_VENV)/.installed $(IMPORTER_VENV)/.installed $(COLLECTION_LINK)

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

# LocalStack needs Python 3.13 and pins of its own, so it lives in its own virtual environment.
$(LS_VENV)/.installed: requirements-localstack.txt
	PYENV_VERSION=$(PYENV_VERSION_LOCALSTACK) $(LOCALSTACK_PYTHON) -m venv $(LS_VENV)
	$(LS_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-localstack.txt
	touch $@

# galaxy-importer (Galaxy's and Automation Hub's check of an uploaded tarball) has pins of its own, so it lives in its
# own virtual environment; tests/integration/test_galaxy_importer.py runs it on the built tarball.
$(IMPORTER_VENV)/.installed: requirements-importer.txt
	$(PYTHON) -m venv $(IMPORTER_VENV)
	$(IMPORTER_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-importer.txt
	touch $@

# ansible-test sanity (tests/integration/test_sanity.py) creates each test's virtual environment without pip and
# bootstraps pip there with a get-pip script that it downloads from a host these machines cannot reach (only the
# package index is reachable), unless its cache, ~/.ansible/test/cache/get_pip_<version>.py, has it already. This
# puts a stand-in there: tests/support/ansible_test_get_pip.py bootstraps pip from the interpreter's own ensurepip,
# then installs the pip version ansible-test asks for from the package index. A real script already cached is kept.
sanity-setup: $(VENV)/.installed
	$(VENV)/bin/python tests/support/ansible_test_get_pip.py --seed

# Ansible finds this checkout as the collection mlops.sagemaker_monitoring through this link.
$(COLLECTION_LINK):
	mkdir -p $(dir $@)
	ln -sfn ../../.. $@

demo: setup
	$(VENV)/bin/python scripts/demo.py

# Test files run in TEST_WORKERS processes (pytest-xdist, a file to a process, each with its own local servers): most
# of an integration test's time is spent waiting on stack operations (amazon.aws.cloudformation polls every 5 s), not
# on the 2 CPUs.
TEST_WORKERS ?= 3
test: setup sanity-setup
	$(VENV)/bin/python -m pytest -n $(TEST_WORKERS) --dist loadfile tests

test-unit: setup
	$(VENV)/bin/python -m pytest tests/unit

lint: setup
	$(VENV)/bin/python -m pytest tests/integration/test_lint.py

# What Galaxy, Automation Hub and certification check (also part of `make test`): ansible-test sanity on Python 3.11,
# 3.12 and 3.13, and galaxy-importer, both on the built tarball.
sanity: setup sanity-setup
	$(VENV)/bin/python -m pytest tests/integration/test_sanity.py tests/integration/test_galaxy_importer.py

build: setup
	$(VENV)/bin/ansible-galaxy collection build --force --output-path dist .

clean:
	rm -rf $(VENV) $(LS_VENV) $(IMPORTER_VENV) .collections dist .pytest_cache

# Fleet benchmark against LocalStack (not part of `make test`), results in benchmarks/results/:
#   make bench [N=300]      the collection and the per-stack baseline, three phases -> latest.{json,md}
#   make bench-1000         N = 1000, the collection: first rollout, then the no-change run -> n1000.{json,md}
#   make bench-real-clock   N = 30 on AWS's clock (stacks >= 30 s, alarms 3/s) -> real-clock.{json,md}
#   make bench-model        the model of a rollout on real AWS (benchmarks/aws_model.py)
#   make bench-scale        N = 10, 100, 300 -> scale.{json,md,png}, and latest.* for N = 300
# Each run also rewrites benchmarks/results/README-section.md from the results there, and the docs page it goes into,
# docs/docsite/rst/benchmark.rst (make bench-readme: only those two).
N ?= 300
SYSTEMS ?= collection,per_stack_baseline
FORKS ?= 5
REAL_CLOCK_N ?= 30
.PHONY: bench bench-1000 bench-real-clock bench-model bench-readme bench-scale

bench: setup
	$(VENV)/bin/python benchmarks/bench.py --endpoints $(N) --systems $(SYSTEMS) --forks $(FORKS)

bench-1000: setup
	$(VENV)/bin/python benchmarks/bench.py --endpoints 1000 --systems collection --phases first_rollout,noop \
		--forks $(FORKS) --results-name n1000

bench-real-clock: setup
	$(VENV)/bin/python benchmarks/bench.py --real-clock --endpoints $(REAL_CLOCK_N)

bench-model: setup
	$(VENV)/bin/python benchmarks/aws_model.py

bench-readme: setup
	$(VENV)/bin/python benchmarks/bench.py --readme-section

bench-scale: setup
	$(VENV)/bin/python benchmarks/bench.py --scale 10,100,300 --systems $(SYSTEMS) --forks $(FORKS)
