"""Forward passes that turn (prefix, branches) into score-token logits.

`tree_logits` is the tree pass: the prefix is encoded once into a KV cache, extended by the tokens
every branch opens with (the trunk of the branch trie, run once); the rest of each branch is packed
(first-fit decreasing) into sequences of at most `pack_tokens` tokens, each pack a row of one forward;
every branch token sees the prefix and the earlier tokens of its own branch only, through either a
4D additive mask or the tree attention kernel (kernel.py), and every branch's position ids continue
from the end of the prefix. The logits are read at the last token of each branch. The other functions
are the per-candidate methods: the fallback for models that can take neither, and the benchmark's
baselines.

How transformers 5.x Llama-family models take the mask (checked in the installed source):
`create_causal_mask` returns a 4D tensor mask unchanged (`_preprocess_mask_arguments`), so it must
already span cache + new tokens, shape (batch, 1, q_len, past + q_len). The eager kernel ADDS it to the
scores (a bool mask would add 0/1, silently wrong), SDPA accepts bool or additive float. So the mask is
additive float in the model's dtype (0 = visible, dtype min = hidden), correct for both. Position ids are
passed explicitly, so the packed-sequence detection (which needs a 2D mask) never runs.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

import torch

from polaris_core.errors import RerankError
from polaris_core.rerank.kernel import tree_attention

log = logging.getLogger("polaris")

# Pack sizes measured on CPU (SmolLM2-135M, N=32, 424-token prefix, ~170-token branches; see
# bench/rerank.py). Dense mask, 1 thread: 256/512/768/1024/2048/one pack took 46.7/45.5/46.1/49.0/56.4/102 s,
# as every query attends over the whole pack. Kernel: nothing is wasted on attention, but activations of
# big packs spill out of the CPU caches: 512/1024/2048/4096 tokens took 14.7/12.5/12.5/13.8 s (2 threads).
MASK_PACK_TOKENS = 512
KERNEL_PACK_TOKENS = 1024
DEFAULT_PACK_TOKENS = MASK_PACK_TOKENS
DEFAULT_PACKS_PER_FORWARD = 1


@dataclass
class PrefixState:
    """The shared prefix and its per-layer key/value tensors (batch 1), reused by every forward."""

    ids: tuple[int, ...]
    key_values: list[tuple[torch.Tensor, ...]]

    @property
    def length(self) -> int:
        return len(self.ids)


@dataclass
class PassStats:
    """What one scoring call cost: forwards run and tokens pushed through the model (padding included)."""

    forwards: int = 0
    tokens: int = 0
    padded_tokens: int = 0
    oom_splits: int = 0
    pack_sizes: list[int] = field(default_factory=list)

    def add(self, other: "PassStats") -> None:
        self.forwards += other.forwards
        self.tokens += other.tokens
        self.padded_tokens += other.padded_tokens
        self.oom_splits += other.oom_splits
        self.pack_sizes += other.pack_sizes


def is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, getattr(torch, "OutOfMemoryError", ())):
        return True
    text = str(exc).lower()
    return isinstance(exc, (RuntimeError, MemoryError)) and (
        "out of memory" in text or "can't allocate memory" in text or "not enough memory" in text
        or isinstance(exc, MemoryError)
    )


def _device(model: Any) -> torch.device:
    return next(model.parameters()).device


def _dtype(model: Any) -> torch.dtype:
    return next(model.parameters()).dtype


def sliding_window(model: Any) -> Optional[int]:
    """The attention window of a model whose (some) layers only see the last N tokens, else None.

    Past the window a shared prefix cache and packed branches no longer reproduce the model's own
    attention (its cache drops or masks what a plain pass would see differently)."""
    config = getattr(model, "config", None)
    window = getattr(config, "sliding_window", None)
    if isinstance(window, bool) or not isinstance(window, int) or window <= 0:
        return None
    if getattr(config, "use_sliding_window", True) is False:
        return None
    layer_types = getattr(config, "layer_types", None)
    if layer_types and "sliding_attention" not in layer_types:
        return None
    return window


def context_limit(model: Any) -> Optional[int]:
    """The longest prompt a model can attend over fully: its position limit, or its sliding window if shorter."""
    config = getattr(model, "config", None)
    limit = getattr(config, "max_position_embeddings", None)
    limits = [v for v in (limit, sliding_window(model)) if isinstance(v, int) and not isinstance(v, bool) and v > 0]
    return min(limits) if limits else None


def encode_prefix(model: Any, ids: Sequence[int]) -> PrefixState:
    """Run the prefix once and keep its KV cache."""
    if not ids:
        raise RerankError("The reranker prefix is empty; give an instruction.")
    input_ids = torch.tensor([list(ids)], dtype=torch.long, device=_device(model))
    with torch.inference_mode():
        out = model(input_ids=input_ids, use_cache=True, logits_to_keep=1)
    cache = out.past_key_values
    if cache is None:
        raise RerankError(f"{type(model).__name__} returned no KV cache; the reranker needs a causal LM with one.")
    key_values = [tuple(t for t in layer if t is not None) for layer in cache]
    return PrefixState(ids=tuple(ids), key_values=key_values)


def extend_prefix(model: Any, prefix: PrefixState, ids: Sequence[int]) -> PrefixState:
    """The prefix followed by `ids`, run once on top of the prefix's cache (its tensors stay untouched)."""
    if not ids:
        return prefix
    device = _device(model)
    input_ids = torch.tensor([list(ids)], dtype=torch.long, device=device)
    positions = torch.arange(prefix.length, prefix.length + len(ids), device=device)[None]
    with torch.inference_mode():
        out = model(input_ids=input_ids, position_ids=positions, past_key_values=_cache_for(prefix, 1),
                    use_cache=True, logits_to_keep=1)
    key_values = [tuple(t for t in layer if t is not None)[:2] for layer in out.past_key_values]
    return PrefixState(ids=prefix.ids + tuple(int(i) for i in ids), key_values=key_values)


def shared_head_length(branches: Sequence[Sequence[int]]) -> int:
    """Tokens that every branch starts with (the root of the branch trie), leaving each branch ≥ 1 token."""
    if len(branches) < 2:
        return 0
    first, limit = branches[0], min(len(b) for b in branches) - 1
    n = 0
    while n < limit and all(b[n] == first[n] for b in branches):
        n += 1
    return n


def _cache_for(prefix: PrefixState, batch: int) -> Any:
    """A fresh DynamicCache holding the prefix for `batch` rows (the prefix tensors are not modified)."""
    from transformers import DynamicCache

    return DynamicCache([tuple(t.expand(batch, *t.shape[1:]) for t in layer[:2]) for layer in prefix.key_values])


def _score_logits(model: Any, input_ids: torch.Tensor, rows_cols: list[tuple[int, int]], score_ids: torch.Tensor,
                  **forward_kwargs: Any) -> torch.Tensor:
    """Forward, computing LM-head logits only at the needed columns; returns (n, len(score_ids))."""
    cols = sorted({c for _, c in rows_cols})
    col_index = {c: i for i, c in enumerate(cols)}
    keep = torch.tensor(cols, dtype=torch.long, device=input_ids.device)
    with torch.inference_mode():
        out = model(input_ids=input_ids, logits_to_keep=keep, **forward_kwargs)
    logits = out.logits[:, :, score_ids]
    rows = torch.tensor([r for r, _ in rows_cols], device=logits.device)
    picks = torch.tensor([col_index[c] for _, c in rows_cols], device=logits.device)
    return logits[rows, picks].float()


# ---- tree packing ---------------------------------------------------------------------------------------
def plan_packs(lengths: Sequence[int], pack_tokens: int) -> list[list[int]]:
    """First-fit decreasing: branch indices grouped into packs of at most `pack_tokens` tokens.

    A branch longer than `pack_tokens` gets a pack of its own. Within a pack branches keep input order.
    """
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    packs: list[list[int]] = []
    room: list[int] = []
    for i in order:
        for p, free in enumerate(room):
            if lengths[i] <= free:
                packs[p].append(i)
                room[p] -= lengths[i]
                break
        else:
            packs.append([i])
            room.append(pack_tokens - lengths[i])
    return [sorted(p) for p in packs]


def tree_inputs(prefix_len: int, rows: Sequence[Sequence[Sequence[int]]], pad_id: int, dtype: torch.dtype,
                device: torch.device, with_mask: bool = True
                ) -> tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor], list[tuple[int, int]]]:
    """Input ids, position ids, 4D additive mask and (row, last column) of every branch, for packed rows.

    `rows[b]` is the list of branches (token id lists) packed into row b. Rows are right-padded; pad
    queries see only the prefix (so no softmax row is empty) and nobody sees a pad key. The mask is
    None when `with_mask` is False (the tree kernel needs only the branch lengths).
    """
    width = max(sum(len(br) for br in row) for row in rows)
    batch = len(rows)
    ids = torch.full((batch, width), pad_id, dtype=torch.long)
    positions = torch.full((batch, width), prefix_len, dtype=torch.long)
    segment = torch.full((batch, width), -1, dtype=torch.long)
    ends: list[tuple[int, int]] = []
    for b, row in enumerate(rows):
        start = 0
        for s, branch in enumerate(row):
            n = len(branch)
            ids[b, start:start + n] = torch.tensor(branch, dtype=torch.long)
            positions[b, start:start + n] = torch.arange(prefix_len, prefix_len + n)
            segment[b, start:start + n] = s
            start += n
            ends.append((b, start - 1))
    if not with_mask:
        return ids.to(device), positions.to(device), None, ends
    col = torch.arange(width)
    same_branch = (segment[:, :, None] == segment[:, None, :]) & (segment[:, None, :] >= 0)
    visible = same_branch & (col[None, None, :] <= col[None, :, None])
    allowed = torch.cat([torch.ones(batch, width, prefix_len, dtype=torch.bool), visible], dim=2)
    mask = torch.zeros(allowed.shape, dtype=dtype).masked_fill_(~allowed, torch.finfo(dtype).min)
    return ids.to(device), positions.to(device), mask[:, None].to(device), ends


def tree_logits(model: Any, prefix: PrefixState, branches: Sequence[Sequence[int]], score_ids: Sequence[int], *,
                pack_tokens: int = DEFAULT_PACK_TOKENS, packs_per_forward: int = DEFAULT_PACKS_PER_FORWARD,
                pad_id: int = 0, kernel: bool = False, check_cancel: Optional[Callable[[], None]] = None,
                on_forward: Optional[Callable[[int], None]] = None) -> tuple[torch.Tensor, PassStats]:
    """Score-token logits (n_branches, n_labels) from packed tree forwards sharing the prefix cache.

    `kernel=False`: the 4D additive mask (any eager/SDPA model). `kernel=True`: the tree attention
    kernel (kernel.py), same result without the dense mask's waste.
    A forward that runs out of memory is split (first its rows, then a row's branches) and retried.
    """
    if not branches:
        return torch.empty(0, len(score_ids)), PassStats()
    device, dtype = _device(model), _dtype(model)
    score_index = torch.tensor(list(score_ids), dtype=torch.long, device=device)
    # The tokens all branches open with (candidate tag, slot line, "name:") are the trunk of the tree:
    # run once on the prefix cache instead of once per branch. Same tokens, same positions, same scores.
    head = shared_head_length(branches)
    if head:
        prefix = extend_prefix(model, prefix, branches[0][:head])
        branches = [b[head:] for b in branches]
    packs = plan_packs([len(b) for b in branches], max(1, int(pack_tokens)))
    # Similar-length packs share a forward, so row padding stays small.
    packs.sort(key=lambda p: -sum(len(branches[i]) for i in p))
    groups = [packs[i:i + max(1, packs_per_forward)] for i in range(0, len(packs), max(1, packs_per_forward))]
    out = torch.empty(len(branches), len(score_ids))
    stats = PassStats()
    stats.tokens += head

    def run(group: list[list[int]]) -> None:
        if check_cancel:
            check_cancel()
        rows = [[branches[i] for i in pack] for pack in group]
        try:  # building the mask can run out of memory too
            ids, positions, mask, ends = tree_inputs(prefix.length, rows, pad_id, dtype, device, with_mask=not kernel)
            cache = _cache_for(prefix, len(rows))
            if kernel:
                with tree_attention(model, prefix.length, [[len(b) for b in row] for row in rows]):
                    logits = _score_logits(model, ids, ends, score_index, position_ids=positions,
                                           past_key_values=cache, use_cache=True)
            else:
                logits = _score_logits(model, ids, ends, score_index, attention_mask=mask, position_ids=positions,
                                       past_key_values=cache, use_cache=True)
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            ids = positions = mask = cache = None  # free what was built before retrying smaller
            stats.oom_splits += 1
            if len(group) > 1:
                halves = [group[: len(group) // 2], group[len(group) // 2:]]
            elif len(group[0]) > 1:
                pack = group[0]
                halves = [[pack[: len(pack) // 2]], [pack[len(pack) // 2:]]]
            else:
                raise RerankError(
                    f"Out of memory scoring a single {len(branches[group[0][0]])}-token candidate; "
                    "lower description_tokens / max_branch_tokens or use a smaller model."
                ) from exc
            log.warning("reranker pack of %d tokens ran out of memory; splitting it in two and retrying",
                        int(sum(len(branches[i]) for p in group for i in p)))
            for half in halves:
                run(half)
            return
        flat = [i for pack in group for i in pack]
        out[flat] = logits.cpu()
        stats.forwards += 1
        stats.tokens += sum(len(branches[i]) for i in flat)
        stats.padded_tokens += ids.numel()
        stats.pack_sizes += [len(p) for p in group]
        if on_forward:
            on_forward(len(flat))

    for group in groups:
        run(group)
    return out, stats


# ---- per-candidate methods (fallback and benchmark baselines) --------------------------------------------
def _right_padded(seqs: Sequence[Sequence[int]], pad_id: int, device: torch.device) -> torch.Tensor:
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    for r, s in enumerate(seqs):
        ids[r, : len(s)] = torch.tensor(list(s), dtype=torch.long)
    return ids.to(device)


def batched_logits(model: Any, branches: Sequence[Sequence[int]], score_ids: Sequence[int], *,
                   prefix: Optional[PrefixState] = None, prefix_ids: Sequence[int] = (), batch_size: int = 8,
                   pad_id: int = 0, check_cancel: Optional[Callable[[], None]] = None,
                   on_forward: Optional[Callable[[int], None]] = None) -> tuple[torch.Tensor, PassStats]:
    """Per-candidate scoring, `batch_size` candidates per forward, right-padded, no custom mask.

    With `prefix` the branches run on top of its KV cache; without it every row is prefix_ids + branch.
    Right padding plus plain causal attention means no real token ever sees a pad, so any attention
    kernel works (this is the fallback for models whose attention ignores 4D masks). Branches are sorted
    by length so that a batch holds similar lengths. batch_size=1 is the sequential method.
    """
    if not branches:
        return torch.empty(0, len(score_ids)), PassStats()
    device = _device(model)
    score_index = torch.tensor(list(score_ids), dtype=torch.long, device=device)
    order = sorted(range(len(branches)), key=lambda i: -len(branches[i]))
    out = torch.empty(len(branches), len(score_ids))
    stats = PassStats()
    batch_size = max(1, int(batch_size))
    head = [] if prefix is not None else list(prefix_ids)
    for start in range(0, len(order), batch_size):
        if check_cancel:
            check_cancel()
        chunk = order[start:start + batch_size]
        seqs = [head + list(branches[i]) for i in chunk]
        ids = _right_padded(seqs, pad_id, device)
        kwargs: dict[str, Any] = {"use_cache": prefix is not None}
        if prefix is not None:
            kwargs["past_key_values"] = _cache_for(prefix, len(chunk))
        logits = _score_logits(model, ids, [(r, len(s) - 1) for r, s in enumerate(seqs)], score_index, **kwargs)
        out[chunk] = logits.cpu()
        stats.forwards += 1
        stats.tokens += sum(len(s) for s in seqs)
        stats.padded_tokens += ids.numel()
        if on_forward:
            on_forward(len(chunk))
    return out, stats


def sequence_logits(model: Any, ids: Sequence[int], score_ids: Sequence[int]) -> torch.Tensor:
    """Score-token logits at the last position of one plain sequence (reference and listwise pass)."""
    device = _device(model)
    input_ids = torch.tensor([list(ids)], dtype=torch.long, device=device)
    score_index = torch.tensor(list(score_ids), dtype=torch.long, device=device)
    return _score_logits(model, input_ids, [(0, len(ids) - 1)], score_index, use_cache=False)[0].cpu()


def logits_to_scores(logits: torch.Tensor, values: Sequence[float]) -> list[float]:
    """Softmax over the score labels only, then the expected label value (P(Yes) for yes/no)."""
    if logits.numel() == 0:
        return []
    probs = torch.softmax(logits.double(), dim=-1)
    weights = torch.tensor(list(values), dtype=torch.float64)
    return [float(v) for v in probs @ weights]
