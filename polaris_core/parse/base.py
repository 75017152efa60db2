"""What every parser backend shares: input checks, image coercion and the interface class."""
from __future__ import annotations

import logging
import re
import unicodedata
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from polaris_core.errors import ImageError, ParseError
from polaris_core.intent import Intent, validate_intent
from polaris_core.parse.normalise import strip_controls
from polaris_core.progress import CheckCancel, OnStep, resolve

log = logging.getLogger("polaris")

MAX_INSTRUCTION_CHARS = 10_000
TRUNCATED_CONFIDENCE = 0.4
LOW_CONFIDENCE = 0.45
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\ufeff]")
_SPACES = re.compile(r"\s+")


@dataclass
class PreparedInstruction:
    """An instruction after the checks every backend needs."""

    original: str
    text: str                      # control characters dropped, spaces collapsed, at most 10k chars
    truncated: bool = False
    confidence_cap: float = 1.0    # the backend's confidence is clipped to this
    notes: list[str] = field(default_factory=list)


def prepare_instruction(instruction: Any) -> PreparedInstruction:
    """Reject empty input; truncate over-long input (flagged low-confidence)."""
    if not isinstance(instruction, str):
        raise ParseError(f"The instruction must be text, got {type(instruction).__name__}; pass a string.")
    text = _SPACES.sub(" ", _CONTROL.sub(" ", strip_controls(unicodedata.normalize("NFC", instruction)))).strip()
    if not text:
        raise ParseError("The instruction is empty; write what to change, e.g. 'replace the dog with a cat'.")
    prepared = PreparedInstruction(original=instruction, text=text)
    if len(text) > MAX_INSTRUCTION_CHARS:
        cut = text[:MAX_INSTRUCTION_CHARS]
        prepared.text = cut.rsplit(" ", 1)[0] if " " in cut[-200:] else cut
        prepared.truncated = True
        prepared.confidence_cap = TRUNCATED_CONFIDENCE
        prepared.notes.append(
            f"instruction truncated from {len(text)} to {len(prepared.text)} characters; shorten it"
        )
        log.warning("instruction of %d characters truncated to %d", len(text), len(prepared.text))
    return prepared


def coerce_image(image: Any) -> Any:
    """None, a PIL image, or an HxWx3 uint8 numpy array -> HxWx3 uint8 array (or None)."""
    if image is None:
        return None
    import numpy as np

    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - PIL ships with every supported environment
        Image = None
    if Image is not None and isinstance(image, Image.Image):
        try:
            array = np.asarray(image.convert("RGB"))
        except (OSError, ValueError) as exc:
            raise ImageError(f"The image could not be read ({exc}); give a valid RGB image.") from exc
    elif isinstance(image, np.ndarray):
        array = image
    else:
        raise ImageError(
            f"Unsupported image type {type(image).__name__}; give a PIL image or an HxWx3 uint8 numpy array."
        )
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        raise ImageError(
            f"The image must be HxWx3 uint8 (RGB), got shape {tuple(array.shape)} dtype {array.dtype}; "
            "convert it with PIL's .convert('RGB')."
        )
    if array.shape[0] < 1 or array.shape[1] < 1:
        raise ImageError("The image is empty (zero height or width); give a real image.")
    return array


def finish_intent(data: dict, prepared: PreparedInstruction, backend: str) -> Intent:
    """Apply the input's notes and confidence cap, then run the shared validator."""
    data = dict(data)
    data["backend"] = backend
    data["notes"] = list(prepared.notes) + list(data.get("notes") or [])
    confidence = data.get("confidence", 1.0)
    if isinstance(confidence, (int, float)) and not isinstance(confidence, bool):
        data["confidence"] = min(float(confidence), prepared.confidence_cap)
    return validate_intent(data, prepared.original if not prepared.truncated else prepared.text)


class InstructionParser(ABC):
    """One backend: instruction (+ optional image) -> validated `Intent`."""

    name: str = "base"

    def parse(self, instruction: str, image: Any = None, *, on_step: OnStep | None = None,
              check_cancel: CheckCancel | None = None) -> Intent:
        """Validated intent for `instruction`; `image` is None, a PIL image or an HxWx3 uint8 array."""
        prepared = prepare_instruction(instruction)
        array = coerce_image(image)
        step, cancel = resolve(on_step, check_cancel)
        cancel()
        return self._parse(prepared, array, step, cancel)

    @abstractmethod
    def _parse(self, prepared: PreparedInstruction, image: Any, on_step: OnStep, check_cancel: CheckCancel) -> Intent:
        """Backend-specific work; must return `finish_intent(...)`'s result."""
