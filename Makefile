# Two commands for users: `make demo` and `make test`. Both create .venv
# (if missing) and install the package there with pinned dependencies.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CONSTRAINTS := requirements/constraints.txt
PIP_INSTALL := $(PY) -m pip install --quiet --disable-pip-version-check -c $(CONSTRAINTS)
# 3 also hides a harmless grappler "remapper failed" line printed at every fit.
export TF_CPP_MIN_LOG_LEVEL ?= 3

.PHONY: demo test lint install install-dev install-browser bench dist clean notebooks

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(PY) setup.cfg setup.py pyproject.toml $(CONSTRAINTS)
	$(PIP_INSTALL) -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP_INSTALL) -e ".[dev]"
	touch $@

# Debian's Chromium for the browser test (tests/test_serve.py, driven by
# Playwright from the dev extra). Never `playwright install`: it downloads
# browsers from a CDN that CI cannot reach.
CHROMIUM := /usr/bin/chromium
APT_CHROMIUM := apt-get update && DEBIAN_FRONTEND=noninteractive \
	apt-get install -y --no-install-recommends chromium chromium-driver

$(VENV)/.installed-browser: $(VENV)/.installed-dev
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ]; then sh -c '$(APT_CHROMIUM)'; \
	  elif command -v sudo >/dev/null 2>&1; then sudo sh -c '$(APT_CHROMIUM)'; \
	  else echo "make: $(CHROMIUM) is missing and this user cannot install" \
	    "it: run as root (or with sudo): $(APT_CHROMIUM)" >&2; exit 1; fi; \
	fi
	@test -x $(CHROMIUM) || { echo "make: $(CHROMIUM) still missing" >&2; exit 1; }
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev
install-browser: $(VENV)/.installed-browser

## Train briefly on the bundled CMP facades sample; writes runs/demo/.
demo: $(VENV)/.installed
	$(VENV)/bin/pix2pix demo --output runs/demo

## The whole test suite (unit tests, doctests, notebooks in fast mode).
test: $(VENV)/.installed-dev $(VENV)/.installed-browser lint
	PIX2PIX_FAST=1 $(PY) -m pytest -n 2 --dist loadfile --durations=30 --doctest-modules --nbmake notebooks tests pix2pix_keras

## ruff: lint and format check (settings in pyproject.toml).
lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

## Rewrite notebooks/*.ipynb from tools/make_notebooks.py and run them
## (normal mode: about an hour on a busy 2-core CPU) to refresh the
## committed outputs. `--no-execute` keeps them when only Markdown changed.
notebooks: $(VENV)/.installed-dev
	$(PY) tools/make_notebooks.py

## The sdist and the wheel for PyPI in dist/, checked by twine (the tests
## build them too: tests/test_packaging.py).
dist: $(VENV)/.installed-dev
	rm -rf dist
	$(PY) -m build --no-isolation --outdir dist .
	$(PY) -m twine check --strict dist/*

## Benchmarks (slow; write JSON to benchmarks/results/).
bench: $(VENV)/.installed-dev
	$(PY) benchmarks/fit_vs_loop.py
	$(PY) benchmarks/data_pipeline.py
	$(PY) benchmarks/metrics_speed.py

clean:
	rm -rf $(VENV) runs .pytest_cache build dist *.egg-info
