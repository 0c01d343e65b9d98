# Everything runs from a project-local virtualenv that is rebuilt when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install test demo lint bench record clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]' --config-settings editable_mode=compat
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q

demo: $(STAMP)
	$(PY) -m llmstream demo

lint: $(STAMP)
	$(VENV)/bin/ruff check llmstream tests examples bench
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) bench/run.py

# Re-record the project's own cassettes against the real APIs (needs real keys in the environment).
record: $(STAMP)
	LLMSTREAM_RECORD=1 $(PY) -m pytest -q tests/test_project_cassettes.py --record-mode=once

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
