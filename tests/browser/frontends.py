"""The frontends and node renderers the browser tier runs on (see conftest.py)."""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PINNED_FRONTEND = "1.32.9"   # what ComfyUI 0.3.75's requirements.txt installs
NEWEST_FRONTEND = "1.58.1"   # the newest comfyui-frontend-package; version and sha256 pinned in scripts/setup_env.sh
FRONTENDS = (PINNED_FRONTEND, NEWEST_FRONTEND)
RENDERERS = ("classic", "vue")  # litegraph's canvas, and the Vue node renderer ("Nodes 2.0")
COMBINATIONS = [(f, r) for f in FRONTENDS for r in RENDERERS]
NEWEST_FRONTEND_ROOT = Path(os.environ.get("POLARIS_CACHE", ROOT / ".cache")) / f"comfyui-frontend-{NEWEST_FRONTEND}"
