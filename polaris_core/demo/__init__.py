"""The demo zoo shipped with Polaris: invented models described in the Civitai API shape.

`zoo.jsonl` holds one `/api/v1/models` object per line (checkpoints, LoRAs and a few
textual-inversion embeddings), so the zoo ingest reads it exactly like the real catalog.
Its example images point at small generated previews as `demo://previews/<versionId>.png`;
`resolve_demo_url` turns such a URL into the file. The previews are drawn by
`scripts/make_demo_previews.py`. `DEMO_INSTRUCTIONS` are the edits `polaris demo` runs.

Every name, description and prompt in the demo zoo is invented. Like any catalog text it is
untrusted: one model card even talks to "AI assistants" on purpose, to keep the reranker honest.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from polaris_core.errors import UnsafePathError, ZooError
from polaris_core.intent import InstructionType

DEMO_DIR = Path(__file__).resolve().parent
DEMO_URL_PREFIX = "demo://"
_PREVIEW_URL = re.compile(r"demo://previews/(\d{1,12})\.png")


def demo_catalog_path() -> Path:
    """The demo zoo: a `.jsonl` of Civitai `/api/v1/models` objects."""
    return DEMO_DIR / "zoo.jsonl"


def demo_preview_path(version_id: int | str) -> Path:
    """Where the preview of a demo model version lives (the file exists for every demo version)."""
    text = str(version_id).strip()
    if not text.isdigit():
        raise ZooError(f"Demo preview ids are model-version ids (digits only), not {version_id!r}.")
    return DEMO_DIR / "previews" / f"{int(text)}.png"


def resolve_demo_url(url: str) -> Optional[Path]:
    """`demo://previews/<versionId>.png` → its local file; None for any other scheme (http, file...)."""
    if not isinstance(url, str) or not url.startswith(DEMO_URL_PREFIX):
        return None
    match = _PREVIEW_URL.fullmatch(url)
    if match is None:
        raise UnsafePathError(
            f"{url[:120]!r} is not a demo preview URL; the demo zoo only uses demo://previews/<versionId>.png."
        )
    return demo_preview_path(match.group(1))


def load_demo_models() -> list[dict]:
    """The demo zoo's model objects, in file order (the catalog is small; read it whole)."""
    path = demo_catalog_path()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ZooError(f"The demo zoo {path} cannot be read ({exc}); reinstall Polaris.") from exc
    models = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            models.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise ZooError(f"{path.name} line {number} is not valid JSON ({exc.msg}); reinstall Polaris.") from exc
    return models


@dataclass(frozen=True)
class DemoInstruction:
    """One edit the demo runs, with what a fitting model looks like in the demo zoo.

    `fitting_tags`/`fitting_kind` only describe the zoo's coverage (tests, and the demo's
    "found a fitting model" line); retrieval and reranking never read them.
    """

    text: str
    instruction_type: InstructionType
    subject: str          # what in the picture the edit acts on
    target: str           # what it becomes, what is added, or the look asked for ("" to remove)
    fitting_kind: str     # "lora" or "checkpoint"
    fitting_tags: tuple[str, ...]


DEMO_INSTRUCTIONS: tuple[DemoInstruction, ...] = (
    DemoInstruction("Replace the dog with a fluffy ginger cat", InstructionType.REPLACE,
                    "dog", "fluffy ginger cat", "lora", ("cat",)),
    DemoInstruction("Turn the bicycle into a vintage cafe racer motorcycle", InstructionType.REPLACE,
                    "bicycle", "vintage cafe racer motorcycle", "lora", ("motorcycle",)),
    DemoInstruction("Add a small red dragon perched on the castle tower", InstructionType.ADD,
                    "castle tower", "small red dragon", "lora", ("dragon",)),
    DemoInstruction("Put a wide straw hat on the woman", InstructionType.ADD,
                    "woman", "wide straw hat", "lora", ("hat",)),
    DemoInstruction("Make the window look like stained glass", InstructionType.LOCAL_STYLE,
                    "window", "stained glass", "lora", ("stained glass",)),
    DemoInstruction("Cover the background in fresh winter snow", InstructionType.LOCAL_STYLE,
                    "background", "fresh winter snow", "lora", ("snow", "winter")),
    DemoInstruction("Make the whole picture look like a ukiyo-e woodblock print", InstructionType.GLOBAL_STYLE,
                    "whole image", "ukiyo-e woodblock print", "lora", ("ukiyo-e", "woodblock print")),
    DemoInstruction("Repaint the scene as a loose watercolor painting", InstructionType.GLOBAL_STYLE,
                    "whole image", "loose watercolor painting", "lora", ("watercolor",)),
    DemoInstruction("Remove the parked car from the street", InstructionType.REMOVE,
                    "parked car", "", "checkpoint", ("inpainting",)),
)
