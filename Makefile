# The two commands of the README. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test

# torch's CPU build comes from PyTorch's CPU wheel index (a plain `pip install torch` pulls a
# multi-GB CUDA build): installed first, at the version pyproject.toml pins, so that the next line
# keeps it. pip's own configured indexes and wheel folders still apply where that index is out of reach.
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
TORCH_PIN := $(shell sed -n 's/^ *"\(torch==[^"]*\)".*/\1/p' pyproject.toml)

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --retries 1 --index-url $(TORCH_INDEX) "$(TORCH_PIN)"
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

# Build every release and grade the bundled sample submissions.
demo: $(VENV)/.installed
	$(PY) -m autograder demo

# The kit's own tests (CI runs exactly this), on every core: pytest-xdist, one worker per core.
# --dist loadfile keeps each test module on one worker, so a module-scoped fixture (a graded class,
# the reference pipeline's smoke run) is computed once, not once per worker.
TEST_WORKERS ?= auto
test: $(VENV)/.installed
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=15
