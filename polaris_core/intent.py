"""The structured intent every later stage reads (the Polaris paper's schema plus `remove`).

The dataclass lives here; the JSON schema and the strict validator (which every
parser backend's output goes through) are owned by the parser work.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import IntEnum


class InstructionType(IntEnum):
    REPLACE = 0          # the object becomes a different kind of object
    ADD = 1              # add a new object
    LOCAL_STYLE = 2      # colour, material, texture, background of one object/region
    GLOBAL_STYLE = 3     # style of the whole image
    STYLE_REFERENCE = 4  # style transfer from a reference image
    REMOVE = 5           # remove an object (Polaris extension)


class Modality(str):
    TEXT = "text"
    IMAGE = "image"


@dataclass
class Intent:
    instruction: str
    instruction_type: InstructionType
    subject: str
    generation_prompt: str
    style_transformation: int = 0
    contour_compatibility: int = 1
    foreground_elements: list[str] = field(default_factory=list)
    # Query modality per retrieval step: "text" or "image".
    style_checkpoint_query: str = "text"
    style_lora_query: str = "text"
    object_lora_query: str = "text"
    confidence: float = 1.0
    backend: str = "rules"
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["instruction_type"] = int(self.instruction_type)
        return d
