"""What of a ZooEntry gets embedded and indexed: its chunks.

An entry is scored by its best chunk, not by one vector: the example prompts carry most of the
signal (a query prompt looks like the prompts on the same model page), and one averaged vector
blurs them. Chunks per entry:

- `title`: name, version name, trigger words and tags (short and precise);
- `description`: the card text (HTML already stripped by ingest);
- `prompt`: each example prompt (a local LoRA's `ss_tag_frequency` tags arrive as prompts too);
- `related`: prompts of images posted on other pages that record this model in their metadata
  (`ZooEntry.related_prompts`, mined at ingest); BM25 weighs them a little below own prompts;
- `expanded`: prompt terms predicted from the metadata of an entry with no example prompts
  (`polaris_core.retrieve.expansion`, learned from the models that have some).

BM25 reads every chunk; the sentence encoder reads only the first `MAX_DENSE_PROMPTS_PER_ENTRY`
prompts, or the title when an entry has no prompt (`Chunk.dense`). Measured on the dev splits: the
description chunk holds 37% of all tokens yet adds nothing once fused with BM25, prompts past the
third add nothing either, and neither does the title of an entry that has prompts (BM25 and the
names channel read it); embedding 100 instead of 291 tokens per entry gives the same fused R@10.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from polaris_core.embed.lexical import normalize_prompt
from polaris_core.zoo.entry import ZooEntry

CHUNK_KINDS = ("title", "description", "prompt", "related", "expanded")  # append only: stored as codes
PROMPT_KINDS = ("prompt", "related", "expanded")
MAX_PROMPTS_PER_ENTRY = 64
MAX_RELATED_PROMPTS_PER_ENTRY = 16  # 16 and 64 measured alike; fewer keep popular models' chunk counts down
MAX_DENSE_PROMPTS_PER_ENTRY = 3  # 2, 3, 4 and all fuse alike on dev; 3 keeps the dense channel alone whole
MAX_LEXICAL_DESCRIPTION_CHARS = 4000
EMBED_EXPANSION = True  # the sentence encoder also reads an `expanded` chunk

_BRACKETS = re.compile(r"[()\[\]{}<>]")
_SEPARATORS = re.compile(r"\s*(?:,\s*)+")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Chunk:
    kind: str          # one of CHUNK_KINDS
    dense_text: str    # what the sentence encoder reads
    lexical_text: str  # what BM25 reads (longer, raw words kept)
    dense: bool = True  # whether the sentence encoder embeds it (else BM25 only)


def dense_prompt_text(prompt: str) -> str:
    """A prompt as plain words for a sentence encoder: no weights, brackets or empty list items."""
    text = _BRACKETS.sub(" ", normalize_prompt(prompt))
    text = _SEPARATORS.sub(", ", text)
    return _SPACES.sub(" ", text).strip(" ,")


def title_text(entry: ZooEntry) -> str:
    parts = [entry.name]
    if entry.version_name and entry.version_name.lower() not in entry.name.lower():
        parts.append(entry.version_name)
    text = " ".join(parts)
    if entry.trigger_words:
        text += ". " + ", ".join(entry.trigger_words)
    if entry.tags:
        text += ". " + ", ".join(entry.tags)
    return _SPACES.sub(" ", text).strip()


def entry_chunks(entry: ZooEntry, expansion: str = "") -> list[Chunk]:
    """The chunks of one entry, title first. Empty texts and repeated prompts are dropped; the title
    is embedded only when no prompt is. `expansion` (predicted prompt terms, see
    `polaris_core.retrieve.expansion`) becomes an `expanded` chunk, embedded too."""
    chunks: list[Chunk] = []
    description = _SPACES.sub(" ", entry.description or "").strip()
    if description:
        text = description[:MAX_LEXICAL_DESCRIPTION_CHARS]
        chunks.append(Chunk("description", text, text, dense=False))
    seen: set[str] = set()
    dense_prompts = 0
    for kind, prompts, limit in (("prompt", entry.example_prompts, MAX_PROMPTS_PER_ENTRY),
                                 ("related", entry.related_prompts, MAX_RELATED_PROMPTS_PER_ENTRY)):
        added = 0
        for prompt in prompts:
            if added >= limit:
                break
            dense = dense_prompt_text(prompt)
            if not dense or dense.lower() in seen:
                continue
            seen.add(dense.lower())
            chunks.append(Chunk(kind, dense, prompt, dense=dense_prompts < MAX_DENSE_PROMPTS_PER_ENTRY))
            dense_prompts += 1
            added += 1
    expansion = _SPACES.sub(" ", expansion or "").strip()
    if expansion:
        chunks.append(Chunk("expanded", expansion, expansion, dense=EMBED_EXPANSION))
    title = title_text(entry)
    return [Chunk("title", title, title, dense=dense_prompts == 0), *chunks]
