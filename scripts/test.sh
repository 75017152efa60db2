#!/usr/bin/env bash
# Install everything the tests need (idempotent) and run the whole suite: core, nodes, integration, browser.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh tests/core -k parse`.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$ROOT/scripts/setup_env.sh" || exit 1
VENV=${POLARIS_VENV:-$ROOT/.venv}
cd "$ROOT"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1
if [ $# -eq 0 ]; then  # the whole suite starts with the lint (pyflakes + bugbear, pyproject.toml)
    "$VENV/bin/python" -m ruff check --quiet polaris_core nodes scripts || { echo "ruff found problems (above)" >&2; exit 1; }
fi
# The browser tier runs last: playwright's sync driver keeps an event loop running until the session ends,
# which would break the tests that call asyncio.run after it.
if [ $# -eq 0 ]; then set -- tests/core tests/nodes tests/integration tests/browser; fi
"$VENV/bin/python" -m pytest -q -rs "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
    echo "pytest collected no tests: that is a failure for Polaris" >&2
    exit 1
fi
exit "$rc"
