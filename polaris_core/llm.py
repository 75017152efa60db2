"""Load a local transformers causal LM (a folder or a GGUF file), offline.

Shared by the transformers parser backend and the tree reranker. A host that manages device memory
(ComfyUI, through nodes/comfy/models.py) loads with `cache=False` on its offload device and sets `manager`
(see polaris_core.devices); plain callers get a small per-process cache.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from polaris_core.devices import DeviceManager, module_device
from polaris_core.errors import ConfigError, ModelFileError
from polaris_core.weights import default_llm_path

log = logging.getLogger("polaris")


@dataclass
class LoadedLLM:
    model: Any       # transformers PreTrainedModel, eval mode
    tokenizer: Any   # transformers PreTrainedTokenizer
    path: str
    dtype: str
    manager: DeviceManager | None = None  # set by a host that moves the model for its work

    @property
    def device(self) -> str:
        """Where the weights are now (a managed model moves between its offload and compute device)."""
        return module_device(self.model)


def load_llm(path: str | os.PathLike | None = None, dtype: str = "float32", device: str = "cpu", *,
             cache: bool = True) -> LoadedLLM:
    """Load a causal LM from a transformers folder or a .gguf file (dequantised by transformers).

    `cache=True` reuses the last two loads of this process; a host that keeps its own loaded objects
    (ComfyUI's node cache) passes False so nothing else holds the weights.
    """
    resolved = str(Path(path) if path else default_llm_path())
    return (_load_cached if cache else _load)(resolved, dtype, device)


def _load(path: str, dtype: str, device: str) -> LoadedLLM:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never phone home
    torch_dtype = getattr(torch, dtype, None)
    if not isinstance(torch_dtype, torch.dtype):
        raise ConfigError(f"Unknown dtype {dtype!r}; use float32, float16 or bfloat16.")
    p = Path(path)
    if not p.exists():
        raise ModelFileError(f"LLM not found at {p}; give a transformers model folder or a .gguf file.")
    try:
        if p.is_file():
            if p.suffix.lower() != ".gguf":
                raise ModelFileError(f"{p.name}: give a .gguf file or a transformers model folder.")
            kwargs = dict(gguf_file=p.name, local_files_only=True)
            tokenizer = AutoTokenizer.from_pretrained(str(p.parent), **kwargs)
            model = AutoModelForCausalLM.from_pretrained(str(p.parent), torch_dtype=torch_dtype, **kwargs)
        else:
            tokenizer = AutoTokenizer.from_pretrained(str(p), local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(
                str(p), torch_dtype=torch_dtype, local_files_only=True, use_safetensors=True
            )
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"Could not load the LLM from {p}: {exc}") from exc
    model.to(device).eval()
    log.info("loaded LLM %s (%s, %s)", p.name, dtype, device)
    return LoadedLLM(model=model, tokenizer=tokenizer, path=path, dtype=dtype)


_load_cached = lru_cache(maxsize=2)(_load)
