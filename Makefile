# Two commands on a fresh machine:  `make demo` (install + default experiment),
# `make test` (install + test suite). Both are idempotent and fast once installed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.fedsim-installed
export FLWR_TELEMETRY_ENABLED=0
export FLWR_DISABLE_UPDATE_CHECK=1
export RAY_USAGE_STATS_ENABLED=0
export PIP_DISABLE_PIP_VERSION_CHECK=1

.PHONY: setup demo test test-long bench bench-all lint clean

$(STAMP): pyproject.toml scripts/setup_debian.sh
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0   # CPU wheel first: a bare torch pulls a CUDA build
	$(PY) -m pip install -q -e ".[test]"
	bash scripts/setup_debian.sh
	@touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(VENV)/bin/fedsim run

test: setup
	$(PY) -m pytest -q -p no:cacheprovider

test-long: setup
	FEDSIM_LONG=1 $(PY) -m pytest -q -p no:cacheprovider -m long

bench: setup
	$(PY) benchmarks/engine_overhead.py

bench-all: setup
	$(PY) benchmarks/bench.py
	$(PY) benchmarks/guard.py
	$(PY) benchmarks/gpu_check.py

lint: setup
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) runs
