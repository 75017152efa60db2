"""Tree attention kernel: exact prefix + own-branch attention for packed branches, without a dense mask.

A dense 4D mask makes every token of a pack attend over prefix + the WHOLE pack and masks most of it
away; on CPU, where attention runs well below GEMM speed, that waste grows with the pack and eats the
savings of packing. This kernel keeps the packed linear layers (one big GEMM per projection, no
padding) but runs attention per branch over [prefix keys; that branch's keys] with a causal mask
aligned to the end: the same arithmetic as a separate prefix + branch pass, nothing wasted.

It plugs into transformers' `AttentionInterface` under the name "polaris_tree" and is switched on only
for the duration of a tree forward (`tree_attention(model, layout)`), so the model stays as it was for
everyone else. Any call without a matching layout falls back to SDPA with the mask it was given.
"""
from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterator, Optional, Sequence

import torch

TREE_ATTENTION = "polaris_tree"


@dataclass(frozen=True)
class TreeLayout:
    """Branch lengths per row of the packed forward; every row is right-padded to the same width."""

    prefix_len: int
    rows: tuple[tuple[int, ...], ...]


_LAYOUT: contextvars.ContextVar[Optional[TreeLayout]] = contextvars.ContextVar("polaris_tree_layout", default=None)


@lru_cache(maxsize=64)
def _end_aligned_causal(q_len: int, kv_len: int, device: str) -> torch.Tensor:
    """Bool mask: query i sees keys up to (kv_len - q_len) + i (the prefix and its own past)."""
    return torch.ones(q_len, kv_len, dtype=torch.bool, device=device).tril(kv_len - q_len)


def _attend(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, mask: torch.Tensor,
            scaling: Optional[float]) -> torch.Tensor:
    sdpa = torch.nn.functional.scaled_dot_product_attention
    if query.shape[1] == key.shape[1]:
        return sdpa(query, key, value, attn_mask=mask, scale=scaling)
    try:  # grouped-query attention without copying the key/value heads
        return sdpa(query, key, value, attn_mask=mask, scale=scaling, enable_gqa=True)
    except (TypeError, RuntimeError):  # older torch, or a backend without GQA support
        groups = query.shape[1] // key.shape[1]
        return sdpa(query, key.repeat_interleave(groups, dim=1), value.repeat_interleave(groups, dim=1),
                    attn_mask=mask, scale=scaling)


def tree_attention_forward(module: Any, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                           attention_mask: Optional[torch.Tensor], scaling: Optional[float] = None,
                           dropout: float = 0.0, **kwargs: Any) -> tuple[torch.Tensor, None]:
    """AttentionInterface function: query (B, H, T, D), key/value (B, Hkv, P + T, D) → (B, T, H, D)."""
    layout = _LAYOUT.get()
    batch, _, q_len, _ = query.shape
    if layout is None or len(layout.rows) != batch or key.shape[2] != layout.prefix_len + q_len:
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout,
                                      scaling=scaling, **kwargs)
    prefix = layout.prefix_len
    out = torch.zeros_like(query)
    for b, lengths in enumerate(layout.rows):
        start = 0
        for length in lengths:
            stop = start + length
            keys = torch.cat([key[b:b + 1, :, :prefix], key[b:b + 1, :, prefix + start:prefix + stop]], dim=2)
            values = torch.cat([value[b:b + 1, :, :prefix], value[b:b + 1, :, prefix + start:prefix + stop]], dim=2)
            mask = _end_aligned_causal(length, prefix + length, str(query.device))
            out[b:b + 1, :, start:stop] = _attend(query[b:b + 1, :, start:stop], keys, values, mask, scaling)
            start = stop
    return out.transpose(1, 2).contiguous(), None


def register() -> None:
    from transformers import AttentionInterface

    if TREE_ATTENTION not in AttentionInterface._global_mapping:
        AttentionInterface.register(TREE_ATTENTION, tree_attention_forward)


def supports_kernel(model: Any) -> bool:
    """Models whose attention layers dispatch through transformers' AttentionInterface."""
    can = getattr(model, "_can_set_attn_implementation", None)
    try:
        return bool(can()) if callable(can) else False
    except Exception:  # noqa: BLE001 - a model that cannot answer cannot use the kernel
        return False


@contextlib.contextmanager
def tree_attention(model: Any, prefix_len: int, rows: Sequence[Sequence[int]]) -> Iterator[None]:
    """Route `model`'s attention through the tree kernel for the forwards inside this block."""
    register()
    config = model.config
    # The internal field, not the property: the property would also rewrite sub-configs.
    previous = config._attn_implementation_internal
    token = _LAYOUT.set(TreeLayout(prefix_len, tuple(tuple(r) for r in rows)))
    config._attn_implementation_internal = TREE_ATTENTION
    try:
        yield
    finally:
        config._attn_implementation_internal = previous
        _LAYOUT.reset(token)
