# hetquad — two commands for a newcomer: `make figures` and `make test` (both set up .venv first).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
JOBS   ?= 2

.PHONY: setup test fuzz figures figures-full gallery bench notebooks check clean

setup: $(STAMP)

# Re-runs only when pyproject.toml changes: a second `make setup` is a no-op.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

test: setup
	$(BIN)/python -m pytest -n $(JOBS) --dist loadgroup --durations=30
	$(BIN)/hetquad check --quick

# Fresh random hypothesis examples (the suite is derandomized by default: tests/conftest.py).
fuzz: setup
	HYPOTHESIS_PROFILE=explore $(BIN)/python -m pytest -n $(JOBS) $$(grep -rl '@given' tests)

figures: setup
	$(BIN)/hetquad figures

figures-full: setup
	$(BIN)/hetquad figures --full

gallery: setup  # default-fidelity PNGs into docs/figures and the README table from their data
	$(BIN)/hetquad figures --gallery docs/figures --readme README.md

bench: setup
	$(BIN)/python benchmarks/bench_engines.py
	$(BIN)/python benchmarks/bench_sweep.py
	$(BIN)/python benchmarks/bench_zoo.py

notebooks: setup
	$(BIN)/python -m pytest --nbmake notebooks/*.ipynb

check: setup
	$(BIN)/hetquad check

clean:
	rm -rf $(VENV) build *.egg-info figures/out .pytest_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
