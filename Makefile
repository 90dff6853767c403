# Officine Mezzogiorno evaluation — one entry point.  `make help` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON_BOOT ?= $(shell command -v python3.11 || command -v python3)
VENV        := .venv
PY          := $(VENV)/bin/python
STAMP       := $(VENV)/.installed
PYTEST_ARGS ?=
RUN_ARGS    ?=
BENCH_ARGS  ?=
BEFORE      ?=

## help: list the targets
help:
	@echo "Officine Mezzogiorno evaluation — targets:"
	@grep -E '^## ' $(MAKEFILE_LIST) | sed -e 's/^## /  make /' -e 's/: /\t/' | column -t -s $$'\t'

$(STAMP): requirements.lock pyproject.toml
	@echo ">> creating $(VENV) with $(PYTHON_BOOT) and installing requirements.lock"
	$(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	@$(MAKE) --no-print-directory pdf-libs
	@touch $(STAMP)

# WeasyPrint (the PDFs) needs the Pango text-layout library from the system; install it with
# the system's package manager when it is missing (Debian/Ubuntu, as root), else say what to do.
pdf-libs:
	@if ! ldconfig -p 2>/dev/null | grep -q 'libpango-1.0.so'; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	    echo ">> installing Pango for the PDFs (apt-get install libpango-1.0-0 libpangoft2-1.0-0)"; \
	    apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0 >/dev/null \
	      || (apt-get update -qq && apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0 >/dev/null); \
	  else \
	    echo ">> the PDFs need Pango: install libpango-1.0-0 and libpangoft2-1.0-0 (or brew install pango)"; \
	  fi; \
	fi

## env: create .venv and install the locked environment (done automatically by other targets)
env: $(STAMP)

## report: build every report in config/plan.yaml (run + publish, one process) into reports/ (publishes even if a run failed, then exits non-zero; nothing changed: no work beyond hashing)
report: $(STAMP)
	@$(PY) -m analysis report $(RUN_ARGS)

## report-quick: the whole plan with shrunk simulation/bootstrap sizes (as CI does)
report-quick: $(STAMP)
	@$(PY) -m analysis report --quick $(RUN_ARGS)

## report-dask: the plan on a Dask LocalCluster (2 workers, 1 thread each), as on a cluster (extra 'dask')
report-dask: $(STAMP)
	@$(PY) -m analysis report --local-cluster 2 $(RUN_ARGS)

## data: build the tidy panels in data/processed/ from data/raw/
data: $(STAMP)
	$(PY) -m analysis build-data

## intake: read the schools' files declared in config/intake.yaml into the pseudonymised panel (needs ANALYSIS_PSEUDONYM_KEY_FILE)
intake: $(STAMP)
	$(PY) -m analysis intake --config config/intake.yaml

## data-request: write the XLSX templates (Italian headers, drop-downs, data dictionary) for schools and the implementer
data-request: $(STAMP)
	$(PY) -m analysis data-request --out data/request

## test: lint (ruff, import layers) + the full test suite (slow Monte Carlo tests excluded; see test-slow)
test: $(STAMP)
	$(PY) -m ruff check src tests benchmarks
	$(PY) -m ruff format --check src tests benchmarks
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

## test-slow: the large Monte Carlo settings (local runs, not CI; see also fuzz-local)
test-slow: $(STAMP)
	$(PY) -m pytest -m slow $(PYTEST_ARGS)

## fuzz-local: the property-based loader fuzzing at the local size (10x the CI examples, ~6 min)
fuzz-local: $(STAMP)
	FUZZ_PROFILE=local $(PY) -m pytest tests/test_fuzz_territorial.py tests/test_fuzz_programme.py tests/test_fuzz_siinc.py tests/test_fuzz_plan.py tests/test_fuzz_intake.py $(PYTEST_ARGS)

## verify: rerun every report into a temporary folder and compare its numbers with reports/results
verify: $(STAMP)
	$(PY) -m analysis verify

## bench: the plan at 1 and 2 workers, the no-op rerun, replications, registers, wrappers -> benchmarks/RESULTS.md (~15 min; a quiet machine; BEFORE=<commit> adds the previous implementation)
bench: $(STAMP)
	$(PY) benchmarks/run_bench.py $(if $(BEFORE),--before $(BEFORE)) $(BENCH_ARGS)

## bench-quick: the same benchmark at small sizes (checks the benchmark itself, ~1 min)
bench-quick: $(STAMP)
	$(PY) benchmarks/run_bench.py --quick --out benchmarks/RESULTS-quick.md $(if $(BEFORE),--before $(BEFORE)) $(BENCH_ARGS)

## bench-micro: micro-benchmarks of functions (pytest-benchmark), not part of make test
bench-micro: $(STAMP)
	$(PY) -m pytest benchmarks --benchmark-only -p no:cacheprovider

## lint: ruff (check + format) and the import-linter layer contracts
lint: $(STAMP)
	$(PY) -m ruff check src tests benchmarks
	$(PY) -m ruff format --check src tests benchmarks
	$(VENV)/bin/lint-imports --no-cache

## lab: JupyterLab on notebooks/ with the project's kernel
lab: $(STAMP)
	$(PY) -m jupyter lab --notebook-dir=notebooks

## lock: regenerate requirements.lock from pyproject.toml (needs network access to PyPI)
lock: $(STAMP)
	$(PY) -m pip install --quiet uv
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --extra dask --universal --python-version 3.11 --no-emit-index-url -o requirements.lock

## clean: remove generated reports and processed data (keeps .venv)
clean:
	rm -rf reports/executed reports/results reports/*.html reports/.cache data/processed/*.parquet
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

## distclean: clean and remove .venv
distclean: clean
	rm -rf $(VENV)


.PHONY: pdf-libs
.PHONY: help env intake data-request report report-quick report-dask data test test-slow fuzz-local verify bench bench-quick bench-micro lint lab lock clean distclean
