"""A node's run inside ComfyUI: the progress bar, the interrupt, and inputs ComfyUI's own checks let through."""
from __future__ import annotations

import math
from typing import Callable

import comfy.model_management
import comfy.model_patcher
import comfy.utils

from polaris_core.errors import ConfigError

def refuse_non_finite(node: str, **values: float) -> None:
    """ConfigError for a FLOAT input that is NaN or infinite. ComfyUI's min/max check lets NaN through (both
    comparisons are false), and a linked value is never range-checked; every Polaris node calls this first
    in `execute` with all its FLOAT inputs."""
    for name, value in values.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{node}: {name} must be a number, not {str(value)[:40]!r}.") from None
        if not math.isfinite(number):
            raise ConfigError(f"{node}: {name} is {number!r}; give it a finite number within the range the widget "
                              "shows.")


def callbacks(node_id: str | None = None) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """(on_step, check_cancel) for core calls: a ComfyUI progress bar and the UI's interrupt."""
    bar: list[comfy.utils.ProgressBar] = []

    def on_step(i: int, n: int) -> None:
        if not bar:
            bar.append(comfy.utils.ProgressBar(max(n, 1), node_id=node_id))
        bar[0].update_absolute(i, max(n, 1))

    return on_step, comfy.model_management.throw_exception_if_processing_interrupted
