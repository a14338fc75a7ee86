# The two commands a new user needs: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
DEPS_STAMP := $(VENV)/.deps-installed

.PHONY: venv demo test lint typecheck pytest browser bench clean

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

# Headless Chromium for the HTML report's browser test (tests/tui/test_html_report_browser.py), from the system's
# package manager: installed with apt-get when missing and running as root. Never fails the build: without it the
# test skips and says why.
browser:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "browser: installing chromium with apt-get (for the HTML report's browser test)"; \
	  (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium) >/dev/null 2>&1 \
	    || echo "browser: apt-get could not install chromium; the browser test will be skipped"; \
	else echo "browser: no chromium, and not root with apt-get; the browser test will be skipped"; fi

pytest: venv browser
	$(BIN)/pytest

test: lint typecheck pytest

bench: venv
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache
