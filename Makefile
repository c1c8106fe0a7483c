# gan-trader: every target sets itself up (virtualenv + dependencies) on a fresh machine.
PYTHON ?= python3.11
VENV ?= .venv
# CPU build by default; a GPU machine overrides it, e.g. make setup TORCH_REQ="torch==2.5.1"
TORCH_REQ ?= torch==2.13.0
EXTRAS ?= dev
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(EXTRAS)
CONFIG ?= experiments/default.yaml
PYTEST_ARGS ?=

.PHONY: setup experiment results sentiment compare study information test test-cluster test-all lint format bench clean chromium

setup: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	@test -x $(PY) || $(shell command -v $(PYTHON) || echo python3) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q "$(TORCH_REQ)"
	$(PY) -m pip install -q -e ".[$(EXTRAS)]" "$(TORCH_REQ)"
	@touch $@

experiment: setup
	$(VENV)/bin/gan-trader run $(CONFIG)

# README's result tables from the newest logged run of the default experiment (run `make experiment` first).
results: setup
	$(PY) scripts/readme_results.py

# README's sentiment agreement: the default scorer on the labelled headlines gan-trader ships.
sentiment: setup
	$(PY) scripts/readme_sentiment.py

# Tuning strategies at an equal budget of GAN epochs over three seeds (experiments/tuning_compare.yaml states
# the budget); writes the table, figure and facts to COMPARE_OUT and puts them into README.
COMPARE_OUT ?= docs/compare
compare: setup
	$(VENV)/bin/gan-trader tune experiments/tuning_compare.yaml --compare rl,bo,random,optuna,pbt,pb2,fixed \
		--out $(COMPARE_OUT)
	$(PY) scripts/readme_compare.py $(COMPARE_OUT)

# The shipped study (experiments/feature_study.yaml: 4 targets x the feature groups x the GAN and its
# same-information models x 3 seeds), then README's study section and docs/study/ from the logged study.
# STUDY_ARGS="--quick" for a first look; STUDY_ARGS="--resume ID" continues a killed study.
STUDY ?= experiments/feature_study.yaml
STUDY_ARGS ?=
study: setup
	$(VENV)/bin/gan-trader study $(STUDY) $(STUDY_ARGS)
	$(PY) scripts/readme_study.py --experiment $(basename $(notdir $(STUDY))) \
		--command "gan-trader study $(STUDY) $(STUDY_ARGS)"

# The MSFT study of the information the GAN can use (experiments/information.yaml), then README's
# information section and docs/information_study/ from the logged study.
information: setup
	$(VENV)/bin/gan-trader study experiments/information.yaml $(STUDY_ARGS)
	$(PY) scripts/readme_study.py --experiment information --section information \
		--out docs/information_study --command "gan-trader study experiments/information.yaml $(STUDY_ARGS)"

chromium:
	@bash scripts/ensure_chromium.sh

test: setup chromium
	$(PY) -m pytest -q -m "not slow" $(PYTEST_ARGS)

# Scale-out from real parts: MLflow server, Ray head, a worker node without the driver's folder (slow).
test-cluster: setup
	$(PY) -m pytest -q -s -m cluster tests/cluster $(PYTEST_ARGS)

test-all: setup chromium
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check gan_trader tests experiments scripts
	$(VENV)/bin/ruff format --check gan_trader tests experiments scripts
	$(VENV)/bin/mypy gan_trader

format: setup
	$(VENV)/bin/ruff format gan_trader tests experiments scripts
	$(VENV)/bin/ruff check --fix gan_trader tests experiments scripts

bench: setup
	$(VENV)/bin/gan-trader bench --json runs/bench.json

clean:
	rm -rf runs mlruns .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info
