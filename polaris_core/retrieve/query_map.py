"""A learned linear map on the query side of the dense channel.

MiniLM was trained on general sentence pairs: to it, two Stable-Diffusion prompts look alike when
they share "masterpiece, best quality, 1girl", which says nothing about the model that made them.
A 384 × 384 map W, applied to the query vector only (the index's chunk vectors stay as they are),
is learned so that an image prompt lands near the other prompts of the model it was made with: a
contrastive loss (softmax over chunk cosines at temperature TAU, every chunk of the target model a
positive, the query's own chunk left out), with W pulled towards the identity.

Training pairs come from the catalog itself (an example prompt → its model's other embedded
chunks) and from dev queries; `polaris bench retrieval --train-ranker` fits one map per
cross-validation fold (so no query is mapped by a W that saw its target model) and the shipped one
on everything. The map is a plain `.npz` of two arrays (never a pickle) and is used only with the
encoder it was trained for; anything else keeps the raw query vector.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Optional

import numpy as np

from polaris_core.errors import ModelFileError
from polaris_core.progress import CheckCancel, OnStep, resolve

log = logging.getLogger("polaris")

MAP_PATH = Path(__file__).with_name("data") / "query-map.npz"
TAU = 0.05            # softmax temperature over cosines
IDENTITY_PULL = 1e-3  # weight of |W - I|² (keeps W near the encoder's own geometry)
EPOCHS = 3
BATCH = 512
NEGATIVES = 4096      # random chunks per batch besides the batch's own targets' chunks
RATE = 2e-3
SEED = 0


@dataclass(frozen=True)
class QueryMap:
    """W (dim × dim, float32) for query vectors of the encoder `encoder_id`."""

    weights: np.ndarray
    encoder_id: str

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        """Unit rows of `vectors @ W` (one vector or a matrix); a row mapped to zero keeps its input."""
        vectors = np.asarray(vectors, dtype=np.float32)
        mapped = vectors @ self.weights
        norms = np.linalg.norm(mapped, axis=-1, keepdims=True)
        return np.where(norms > 1e-12, mapped / np.maximum(norms, 1e-12), vectors).astype(np.float32)

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as fh:
            np.savez(fh, weights=self.weights.astype(np.float32), encoder_id=np.array(self.encoder_id))
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: Path) -> "QueryMap":
        try:
            with np.load(path, allow_pickle=False) as data:
                weights = np.asarray(data["weights"], dtype=np.float32)
                encoder_id = str(data["encoder_id"])
        except (OSError, KeyError, ValueError) as exc:
            raise ModelFileError(f"the query map {path} is unreadable ({exc}); retrain it with "
                                 "`polaris bench retrieval --train-ranker` or delete the file") from exc
        if weights.ndim != 2 or weights.shape[0] != weights.shape[1] or not np.all(np.isfinite(weights)):
            raise ModelFileError(f"the query map {path} is not a finite square matrix; retrain it with "
                                 "`polaris bench retrieval --train-ranker` or delete the file")
        return cls(weights, encoder_id)


@lru_cache(maxsize=1)
def shipped_query_map() -> Optional[QueryMap]:
    if not MAP_PATH.is_file():
        log.info("no query map at %s; the dense channel uses raw query vectors", MAP_PATH)
        return None
    try:
        return QueryMap.load(MAP_PATH)
    except ModelFileError as exc:
        log.warning("%s; the dense channel uses raw query vectors", exc)
        return None


def map_for(encoder_id: str, dim: int, query_map: Optional[QueryMap] = None) -> Optional[QueryMap]:
    """The map to apply for an index's encoder: `query_map` or the shipped one, when it was trained
    for this encoder and dimension (None otherwise: the raw vector is used)."""
    found = query_map or shipped_query_map()
    if found is None or found.encoder_id != encoder_id or found.weights.shape[0] != dim:
        return None
    return found


def fit_query_map(query_vectors: np.ndarray, query_models: np.ndarray, own_chunks: np.ndarray,
                  chunk_vectors: np.ndarray, chunk_models: np.ndarray, encoder_id: str, *,
                  epochs: int = EPOCHS, seed: int = SEED, on_step: Optional[OnStep] = None,
                  check_cancel: Optional[CheckCancel] = None) -> QueryMap:
    """Fit W on (query vector, target model) pairs against the embedded chunks (`chunk_models`
    names each chunk's model; `own_chunks` is the chunk row a query is, or -1). Deterministic for
    fixed inputs, seed and torch thread count."""
    import torch

    on_step, check_cancel = resolve(on_step, check_cancel)
    if not len(query_vectors):
        raise ValueError("no training pairs for the query map")
    dim = chunk_vectors.shape[1]
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    chunks = torch.from_numpy(np.ascontiguousarray(chunk_vectors, dtype=np.float32))
    _, model_codes = np.unique(np.concatenate([chunk_models, query_models]), return_inverse=True)
    chunk_code = torch.from_numpy(model_codes[: len(chunk_models)].astype(np.int64))
    query_code = torch.from_numpy(model_codes[len(chunk_models):].astype(np.int64))
    # Chunk rows of each model (CSR over model codes) to gather a batch's positives.
    order = np.argsort(model_codes[: len(chunk_models)], kind="stable")
    starts = np.searchsorted(model_codes[: len(chunk_models)][order], np.arange(model_codes.max() + 2))
    queries = torch.from_numpy(np.ascontiguousarray(query_vectors, dtype=np.float32))
    own = torch.from_numpy(np.asarray(own_chunks, dtype=np.int64))
    identity = torch.eye(dim)
    weights = torch.nn.Parameter(identity.clone())
    optimiser = torch.optim.Adam([weights], lr=RATE)
    steps = epochs * ((len(queries) + BATCH - 1) // BATCH)
    step = 0
    for _ in range(epochs):
        permutation = torch.randperm(len(queries), generator=generator)
        for begin in range(0, len(queries), BATCH):
            check_cancel()
            batch = permutation[begin:begin + BATCH]
            codes = query_code[batch].numpy()
            positives = np.concatenate([order[starts[c]:starts[c + 1]] for c in np.unique(codes)])
            sampled = torch.randint(len(chunks), (NEGATIVES,), generator=generator).numpy()
            columns = torch.from_numpy(np.unique(np.concatenate([positives, sampled])))
            mapped = torch.nn.functional.normalize(queries[batch] @ weights, dim=1)
            logits = mapped @ chunks[columns].T / TAU
            is_own = columns[None, :] == own[batch][:, None]
            logits = logits.masked_fill(is_own, -1e9)
            positive = (chunk_code[columns][None, :] == query_code[batch][:, None]) & ~is_own
            usable = positive.any(dim=1)
            if usable.any():
                loss = (torch.logsumexp(logits, 1) - torch.logsumexp(logits.masked_fill(~positive, -1e9), 1))[usable]
                loss = loss.mean() + IDENTITY_PULL * ((weights - identity) ** 2).sum()
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
            step += 1
            on_step(step, steps)
    return QueryMap(weights.detach().numpy().astype(np.float32), encoder_id)
