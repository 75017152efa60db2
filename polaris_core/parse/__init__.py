"""Instruction parsing: a user's instruction (+ optional image) -> a validated `Intent`.

Backends, one class each, behind `InstructionParser.parse(instruction, image=None)`:
- "rules" (default): offline and deterministic: word rules, plus a MiniLM type head where the rules are
  unsure (`rules.RulesParser`; `head=False` for the rules alone);
- "transformers": a local causal LM with constrained decoding (`transformers_backend.TransformersParser`);
- "openai": an OpenAI-compatible HTTP endpoint the user points at (`openai_backend.OpenAIParser`).
Every backend's output goes through `polaris_core.intent.validate_intent`.
"""
from __future__ import annotations

import importlib
from functools import lru_cache
from typing import Any

from polaris_core.errors import ConfigError
from polaris_core.intent import Intent
from polaris_core.parse.base import InstructionParser
from polaris_core.progress import CheckCancel, OnStep

BACKENDS = {
    "rules": ("polaris_core.parse.rules", "RulesParser"),
    "transformers": ("polaris_core.parse.transformers_backend", "TransformersParser"),
    "openai": ("polaris_core.parse.openai_backend", "OpenAIParser"),
}

__all__ = ["BACKENDS", "InstructionParser", "get_parser", "parse"]


def get_parser(backend: str = "rules", **options: Any) -> InstructionParser:
    """A parser instance for `backend` ("rules", "transformers" or "openai").

    Options: rules -> head (default True), head_path, encoder_path; transformers -> model_path, dtype, device, max_prompt_tokens; openai -> base_url (required),
    model, api_key, timeout, send_image. Parsers without options are shared (cached).
    """
    if backend not in BACKENDS:
        raise ConfigError(f"Unknown parser backend {backend!r}; use one of: {', '.join(BACKENDS)}.")
    if not options:
        return _default_parser(backend)
    return _make_parser(backend, options)


@lru_cache(maxsize=None)
def _default_parser(backend: str) -> InstructionParser:
    return _make_parser(backend, {})


def _make_parser(backend: str, options: dict[str, Any]) -> InstructionParser:
    module_name, class_name = BACKENDS[backend]
    cls = getattr(importlib.import_module(module_name), class_name)
    try:
        return cls(**options)
    except TypeError as exc:
        raise ConfigError(f"Bad option for the {backend} parser: {exc}.") from exc


def parse(instruction: str, image: Any = None, backend: str = "rules", *, on_step: OnStep | None = None,
          check_cancel: CheckCancel | None = None, **options: Any) -> Intent:
    """Parse one instruction into a validated `Intent` (see `get_parser` for options)."""
    return get_parser(backend, **options).parse(instruction, image, on_step=on_step, check_cancel=check_cancel)
