# The two commands a new user needs: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
DEPS_STAMP := $(VENV)/.deps-installed

.PHONY: venv demo test lint typecheck pytest browser bench clean FORCE

$(DEPS_STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]' --config-settings editable_mode=strict
	touch $@

# The strict editable install maps only the modules that existed when it ran: refresh it every time.
venv: $(DEPS_STAMP)
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -e . --config-settings editable_mode=strict

# `make demo` re-maps the editable install only when the set of modules or pyproject.toml changed (the list of
# files is rewritten only when it differs, so editing a module's code does not trigger a reinstall).
MODULE_SET := $(VENV)/.module-set
INSTALL_STAMP := $(VENV)/.editable-installed

$(MODULE_SET): FORCE
	@mkdir -p $(VENV)
	@find tracer collectors analysis tui demo_apps cli render engines \( -name '*.py' -o -name '*.tcss' -o -name py.typed \) | LC_ALL=C sort > $@.new
	@if cmp -s $@.new $@; then rm -f $@.new; else mv $@.new $@; fi

$(INSTALL_STAMP): $(DEPS_STAMP) $(MODULE_SET) pyproject.toml
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -e . --config-settings editable_mode=strict
	touch $@

FORCE:

demo: $(INSTALL_STAMP)
	$(BIN)/spanscope demo

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy tracer collectors analysis tui demo_apps cli render engines

# Headless Chromium for the HTML report's browser test (tests/render/test_html_report_browser.py), from the system's
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
