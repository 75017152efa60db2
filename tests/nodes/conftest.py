"""Nodes tier: ComfyUI is imported in-process (CPU) and the pack is loaded as ComfyUI loads it."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from comfy_host import ComfyUIMissing, import_comfyui

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def comfy(tmp_path_factory):
    """Import ComfyUI with its model folders pointed at a throwaway base directory."""
    try:
        import_comfyui()
    except ComfyUIMissing as exc:
        pytest.fail(str(exc))
    import folder_paths

    base = tmp_path_factory.mktemp("comfy-models")
    # Polaris's own folders (indexes, caches) are registered relative to this when the pack is imported.
    folder_paths.models_dir = str(base / "models")
    folder_paths.set_output_directory(str(base / "output"))
    folder_paths.set_temp_directory(str(base / "temp"))
    folder_paths.set_input_directory(str(base / "input"))
    for sub in ("output", "temp", "input"):
        (base / sub).mkdir(exist_ok=True)
    return base


@pytest.fixture(scope="session")
def pack(comfy):
    """The Polaris pack imported as a package, the way ComfyUI's custom-node loader does it."""
    name = "comfyui_polaris"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "__init__.py",
                                                      submodule_search_locations=[str(ROOT)])
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    module = sys.modules[name]
    module.nodes.comfy.folders.register_model_folders()
    return module
