"""Progress and cancellation callbacks passed into long core operations.

Core functions take ``on_step(i, n)`` and ``check_cancel()``; ComfyUI's seam (nodes/comfy/execution.py)
module adapts them to ProgressBar and interrupts, the CLI to tqdm.
"""
from __future__ import annotations

from typing import Callable, Optional

OnStep = Callable[[int, int], None]
CheckCancel = Callable[[], None]


def no_step(i: int, n: int) -> None:
    """Default ``on_step``: report nothing."""


def no_cancel() -> None:
    """Default ``check_cancel``: never cancel."""


def resolve(on_step: Optional[OnStep], check_cancel: Optional[CheckCancel]) -> tuple[OnStep, CheckCancel]:
    """Fill missing callbacks with no-ops."""
    return on_step or no_step, check_cancel or no_cancel
