#!/usr/bin/env bash
# Set up the environment if needed (idempotent), then run `polaris demo` on the shipped demo zoo.
# Extra arguments go to `polaris demo`, e.g. `bash scripts/demo.sh --instruction "make it look like ukiyo-e"`.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$ROOT/scripts/setup_env.sh"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec "${POLARIS_VENV:-$ROOT/.venv}/bin/polaris" demo "$@"
