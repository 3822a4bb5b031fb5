# The two commands of the README: `make run` and `make test`.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501

.PHONY: run test test-fast bench lint clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

# reinstall only when the pinned requirements change
$(VENV)/.stamp-req: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

$(VENV)/.stamp-dev: requirements-dev.txt $(VENV)/.stamp-req
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $@

run: $(VENV)/.stamp-req
	$(BIN)/python -m streamlit run app.py --server.port $(PORT) --server.headless true

test: $(VENV)/.stamp-dev
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

test-fast: $(VENV)/.stamp-dev
	$(BIN)/python -m pytest -m "not slow and not e2e"

BENCHMARKS := fairness_metrics startup_training attribution lrp digits_quality counterfactuals mitigation uploads report worker isolation concurrency byom lessons vision

# dice-ml (the counterfactual comparator) installs without its dependencies: they pull xgboost and a CUDA package
$(VENV)/.stamp-bench: requirements-bench.txt $(VENV)/.stamp-dev
	$(BIN)/python -m pip install --disable-pip-version-check -q --no-deps -r requirements-bench.txt
	touch $@

bench: $(VENV)/.stamp-bench
	@for b in $(BENCHMARKS); do echo "# $$b" >&2; $(BIN)/python benchmarks/$$b.py || exit 1; done

lint: $(VENV)/.stamp-dev
	$(BIN)/python -m ruff check dlxai ui pages tests benchmarks scripts app.py
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
