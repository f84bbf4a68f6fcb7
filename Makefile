PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench soak lint clean

$(STAMP): pyproject.toml setup.py $(wildcard streams/ingest/_*.c streams/ingest/_*.h)
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/sluice demo

# The unit tests are CPU-bound and independent: one per core. The integration and fault
# tests each start a whole stack of processes and time their waits: one at a time, alone.
test: $(STAMP)
	$(PY) -m pytest -q -n auto --durations=5 tests/unit
	$(PY) -m pytest -q --durations=15 tests/integration tests/faults

bench: $(STAMP)
	$(PY) -m benchmarks.run

soak: $(STAMP)
	$(PY) -m benchmarks.run --soak

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) var .pytest_cache
