"""Polaris: a ComfyUI node pack that picks checkpoints and LoRAs for an instruction.

ComfyUI imports this folder as a package and calls `comfy_entrypoint` (V3 API).
"""
from __future__ import annotations

import importlib.util
import logging
import sys
from pathlib import Path

_PACK_DIR = Path(__file__).resolve().parent
# The frontend extension: text shown on Polaris nodes and the Polaris Zoo sidebar (plain JS, no build step).
WEB_DIRECTORY = "./web"


def _load_bundled_core() -> None:
    """Make the bundled `polaris_core` importable by its absolute name without touching sys.path.

    Adding the pack folder to sys.path would let our `nodes/` shadow ComfyUI's `nodes` module.
    """
    if "polaris_core" in sys.modules:
        return
    core_dir = _PACK_DIR / "polaris_core"
    spec = importlib.util.spec_from_file_location(
        "polaris_core", core_dir / "__init__.py", submodule_search_locations=[str(core_dir)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["polaris_core"] = module
    spec.loader.exec_module(module)


_load_bundled_core()

if importlib.util.find_spec("comfy_api") is None:
    # Imported outside ComfyUI (pytest, packaging tools): there are no nodes to register.
    logging.getLogger("polaris").debug("ComfyUI is not importable here; Polaris nodes not registered.")
    __all__: list[str] = []
else:
    try:
        from .nodes import NODE_CLASSES, PolarisExtension, comfy_entrypoint  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            f"Polaris could not load its nodes because this ComfyUI is incomplete or too old ({exc}). "
            "Polaris needs ComfyUI 0.3.75 or newer with the V3 node API (comfy_api.v0_0_2); "
            "update ComfyUI and reinstall its requirements."
        ) from exc
    __all__ = ["comfy_entrypoint", "PolarisExtension", "NODE_CLASSES", "WEB_DIRECTORY"]
