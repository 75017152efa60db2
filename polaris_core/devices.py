"""The hook through which a host application manages where helper models sit in memory.

polaris_core never moves a loaded model between devices on its own. A loaded model (`LoadedLLM`,
`LoadedClip`, `LoadedSam`) has a `manager`: None for plain use (the CLI, scripts: the model stays on
the device it was loaded on), or an object the host sets, such as ComfyUI's memory manager through
`nodes/comfy/models.py`. Before its own work, core code calls `load_for_work(model, ...)`; the host then puts
those models on their compute device (together, so one does not evict the other) and may offload them
again once the work is done, e.g. to make room for sampling.
"""
from __future__ import annotations

from typing import Any, Protocol, Sequence


class DeviceManager(Protocol):
    """Set by a host on a loaded model it manages."""

    def load(self, together: Sequence["DeviceManager"]) -> None:
        """Put the models of `together` (this one included) on their compute device now."""


def load_for_work(*models: Any) -> None:
    """Ask the host to put these loaded models on their compute device (no-op for unmanaged ones or None)."""
    managers = [m.manager for m in models if m is not None and getattr(m, "manager", None) is not None]
    if managers:
        managers[0].load(managers)


def module_device(module: Any) -> str:
    """The device a torch module's weights are on now ("cpu" for a module without parameters)."""
    for tensor in module.parameters():
        return str(tensor.device)
    return "cpu"
