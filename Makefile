# The two commands a new user needs: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
DEPS_STAMP := $(VENV)/.deps-installed

.PHONY: venv demo test lint typecheck pytest bench clean

$(DEPS_STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]' --config-settings editable_mode=strict
	touch $@

# The strict editable install maps only the modules that existed when it ran: refresh it every time.
venv: $(DEPS_STAMP)
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -e . --config-settings editable_mode=strict

demo: venv
	$(BIN)/spanscope demo

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy tracer collectors analysis tui demo_apps

pytest: venv
	$(BIN)/pytest

test: lint typecheck pytest

bench: venv
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache
