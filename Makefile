# The two commands of the README. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

# Build every release and grade the bundled sample submissions.
demo: $(VENV)/.installed
	$(PY) -m autograder demo

# The kit's own tests (CI runs exactly this).
test: $(VENV)/.installed
	$(PY) -m pytest
