# All set-up on a fresh machine comes from here: `make demo` and `make test` need nothing else.
PYTHON ?= python3.11
LOCALSTACK_PYTHON ?= python3.13
export PYENV_VERSION_LOCALSTACK ?= 3.13.0
VENV := .venv
LS_VENV := .venv-localstack
COLLECTION_LINK := .collections/ansible_collections/mlops/sagemaker_monitoring

.PHONY: setup demo test test-unit lint build clean

setup: $(VENV)/.installed $(LS_VENV)/.installed $(COLLECTION_LINK)

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

# LocalStack needs Python 3.13 and pins of its own, so it lives in its own virtual environment.
$(LS_VENV)/.installed: requirements-localstack.txt
	PYENV_VERSION=$(PYENV_VERSION_LOCALSTACK) $(LOCALSTACK_PYTHON) -m venv $(LS_VENV)
	$(LS_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-localstack.txt
	touch $@

# Ansible finds this checkout as the collection mlops.sagemaker_monitoring through this link.
$(COLLECTION_LINK):
	mkdir -p $(dir $@)
	ln -sfn ../../.. $@

demo: setup
	$(VENV)/bin/python scripts/demo.py

test: setup
	$(VENV)/bin/python -m pytest tests

test-unit: setup
	$(VENV)/bin/python -m pytest tests/unit

lint: setup
	$(VENV)/bin/python -m pytest tests/integration/test_lint.py

build: setup
	$(VENV)/bin/ansible-galaxy collection build --force --output-path dist .

clean:
	rm -rf $(VENV) $(LS_VENV) .collections dist .pytest_cache

# Fleet benchmark against LocalStack (not part of `make test`): the collection and two naive baselines.
# make bench [N=300] -> benchmarks/results/latest.{json,md}; make bench-scale -> benchmarks/results/scale.{json,md,png}
# and latest.{json,md} for its largest N
N ?= 300
SYSTEMS ?= collection,per_stack_baseline,per_alarm_baseline
.PHONY: bench bench-scale

bench: setup
	$(VENV)/bin/python benchmarks/bench.py --endpoints $(N) --systems $(SYSTEMS)

bench-scale: setup
	$(VENV)/bin/python benchmarks/bench.py --scale 10,100,300
