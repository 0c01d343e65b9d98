# Everything runs from a project-local virtualenv that is rebuilt when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install test demo lint bench record clean js browser
# The serve tests' real clients: the ai npm package (pinned in tests/js/package-lock.json) and
# Debian's Chromium. Each step is skipped when its tool is missing; the tests then say why they skip.
NPM_CACHE ?= $(HOME)/.cache/llmstream-npm
JS_STAMP := tests/js/node_modules/.installed

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]' --config-settings editable_mode=compat
	touch $(STAMP)

$(JS_STAMP): tests/js/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		cd tests/js && npm ci --no-audit --no-fund --cache "$(NPM_CACHE)" --prefer-offline && touch node_modules/.installed; \
	else echo "make: npm not found: the ai npm package tests will skip"; fi

js: $(JS_STAMP)

# Debian's chromium for the browser test (root, or skip with a note); playwright drives it.
browser:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "make: no chromium and cannot apt-get it: the browser test will skip"; fi

test: $(STAMP) js browser
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
