# The two commands of the README: `make demo` and `make test`. Everything else is set up here.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The first Python 3.11+ on PATH (python3 may be older on some machines).
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& { echo $$p; break; }; done)
LINTED := pipeline flows tests benchmarks media_samples configs

.PHONY: setup browser demo test test-fast lint samples bench clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is needed on PATH"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/versioner demo --out out

# The QC report and asset page tests open pages in headless Chromium: installed here from the OS
# packages when missing and possible (root with apt-get), never by a test; else they are skipped.
CHROMIUM := $(shell command -v chromium chromium-browser google-chrome google-chrome-stable 2>/dev/null | head -1)
browser:
ifeq ($(CHROMIUM),)
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core \
		>/dev/null || echo "chromium could not be installed: the browser tests will be skipped"; \
	else echo "headless Chromium not found (install chromium): the browser tests will be skipped"; fi
endif

# Everything, spread over the cores (pytest-xdist, a test file per worker at a time, at most 4),
# slowest 15 tests listed at the end. One process: `.venv/bin/python -m pytest`.
test: setup browser
	$(BIN)/python -m pytest -ra --durations=15 -n auto --maxprocesses 4 --dist loadfile

# The pure tier: no ffmpeg, no Prefect server, no browser, no wheel build.
test-fast: setup
	$(BIN)/python -m pytest -ra -m "not ffmpeg and not prefect_server and not browser and not packaging"

lint: setup
	$(BIN)/ruff check $(LINTED)
	$(BIN)/mypy
	$(BIN)/lint-imports

samples: setup
	$(BIN)/python media_samples/make_samples.py

bench: setup
	$(BIN)/python benchmarks/bench_render.py
	# Three profiles at the pipeline's default preset: `versioner render` against the one hand-written pass
	$(BIN)/python benchmarks/bench_render.py --duration 9 --preset medium --long-factor 0 \
		--variants floor-3p,pipeline-3p,pipeline-core-3p
	$(BIN)/python benchmarks/bench_render.py --duration 30 --preset medium --long-factor 0 \
		--variants floor-3p,pipeline-3p,pipeline-core-3p
	$(BIN)/python benchmarks/bench_me_memory.py
	$(BIN)/python benchmarks/bench_shots.py
	$(BIN)/python benchmarks/bench_work_cost.py
	$(BIN)/python benchmarks/bench_uhd_memory.py
	$(BIN)/python benchmarks/bench_rate_conversion.py

clean:
	rm -rf out .pytest_cache build
