"""Retrieval: from a query (text, image or an Intent) to candidates grouped per model.

Channels, each scored per model (versions collapsed: a model scores as its best version):

- `lexical`: BM25F over example-prompt chunks (own and related) with the entry's title and
  description fields, on words and adjacent word pairs;
- `names`: the query's rare words (trigger words, names) matched against titles alone, so one
  decisive trigger word is not outvoted by a chunk sharing many common tags;
- `dense`: MiniLM cosine of the query with the model's best embedded chunk (its first example
  prompts, or its title when it has none);
- `image`: CLIP cosine of the query image (or, cross-modal, the query text) with the mean
  preview embedding, when the index has preview vectors and a CLIP encoder is attached;
- `popularity`: log downloads, a small tie breaker.

Fusion is a weighted sum of per-query standardised scores over the candidate pool (the union
of each channel's top models), so no channel's raw scale dominates. The `names` channel is sparse
(a few models match a rare word), so its standardised score is capped: a rare match moves a model
up a lot, but cannot by itself outweigh everything else.
`author` is not a channel of its own but a last step: authors keep a prompting style and subject
area across their models, so a model is raised by the best fused score among its author's models,
and the top model's author's other models join the pool (a LoRA with no example prompts of its own
is then still found through its siblings).
Two-level retrieval (`retrieve`) follows the Polaris paper: choose the checkpoint c* first,
then search LoRAs among models of c*'s base family, optionally pulled towards c*'s own
embedding.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import numpy as np

from polaris_core.candidates import Candidate, Candidates
from polaris_core.embed.chunks import dense_prompt_text
from polaris_core.errors import ConfigError, EmptyZooError, ImageError
from polaris_core.index import Selection, ZooIndex
from polaris_core.intent import Intent, InstructionType
from polaris_core.progress import CheckCancel, OnStep, resolve
from polaris_core.zoo.entry import ZooEntry

log = logging.getLogger("polaris")

CHANNELS = ("lexical", "dense", "names", "image", "popularity", "author")
STYLE_ROLES = ("style",)
OBJECT_ROLES = ("object", "character")


@dataclass
class FusionWeights:
    """Weights of the standardised channel scores. Chosen on one half of the dev split and
    checked on the other (see `polaris bench retrieval`)."""

    lexical: float = 1.0
    dense: float = 0.5       # chosen on dev half A (0.4–0.7 are within ±0.5 pt on half B)
    names: float = 1.5       # chosen on dev half A with names_cap: LoRA +6 pt R@10, checkpoint +1,
                             # no-trigger R@10 ±0 (R@1 −2: a rare word shared by chance)
    names_cap: float = 3.0   # cap of the names channel's standardised score
    image: float = 1.0
    popularity: float = 0.0  # measured: no gain on any split, so only a benchmark floor by default
    author: float = 1.5      # weight of the standardised best fused score among a model's author's
                             # models; chosen on dev half A (1.0–2.0 within 0.5 pt on half B)
    affinity: float = 0.15   # pull towards the chosen checkpoint (two-level LoRA search)


@dataclass
class SearchOptions:
    weights: FusionWeights = field(default_factory=FusionWeights)
    channels: tuple[str, ...] = CHANNELS      # channels to use (benchmarks measure each alone)
    pool_per_channel: int = 100               # models each channel puts in the candidate pool
    dense_chunks: int = 400                   # chunks fetched from the vector store per query
    # Added to a title chunk's cosine before the max over an entry's chunks: a title (name, triggers,
    # tags) scores systematically lower against a prompt-like query than a prompt does, so without it
    # the title rarely counts. Chosen on dev half A (0.05–0.15 all help; +0.2–0.6 pt R@10 on half B).
    dense_title_bonus: float = 0.1
    unknown_family_ok: bool = True            # a family filter also admits models of unknown family


@dataclass
class _Pool:
    """Channel scores of the candidate models of one query (row = candidate)."""

    members: np.ndarray                              # positions in Selection.groups
    groups: np.ndarray                               # group numbers
    best_entry: np.ndarray                           # entry row representing each group
    scores: dict[str, np.ndarray] = field(default_factory=dict)


_SPARSE_CHANNELS = ("lexical", "names")  # only models with a positive score join the pool


def _slot_of(kind: str, role: str) -> str:
    if kind == "checkpoint":
        return "checkpoint"
    return "style_lora" if role in STYLE_ROLES else "object_lora"


def _standardise(values: np.ndarray, reference: Optional[np.ndarray] = None) -> np.ndarray:
    """`values` standardised with the mean and spread of `values[reference]` (default: all of them)."""
    basis = values if reference is None else values[reference]
    spread = float(basis.std()) if len(basis) else 0.0
    if not np.isfinite(spread) or spread < 1e-9:
        return np.zeros_like(values)
    return (values - float(basis.mean())) / spread


def _query_vector(index: ZooIndex, text: str) -> np.ndarray:
    return index.text_encoder.encode([dense_prompt_text(text) or text])[0]


def _image_query_vector(index: ZooIndex, image: Any) -> Optional[np.ndarray]:
    if not index.has_image_channel:
        return None
    try:
        return index.image_encoder.encode_images([image])[0]
    except ImageError as exc:
        log.warning("query image not usable (%s); searching by text only", exc)
        return None


def _clip_text_vector(index: ZooIndex, text: str) -> Optional[np.ndarray]:
    return index.image_encoder.encode_texts([text])[0] if index.has_image_channel else None


def _pool(selection: Selection, entry_scores: dict[str, np.ndarray], options: SearchOptions,
          extra_members: Optional[np.ndarray] = None) -> _Pool:
    """Collapse entry scores to groups (max over versions) and keep each channel's top groups
    (plus `extra_members`, positions in `selection.groups`)."""
    position = selection.group_of_row
    n_groups = len(selection.groups)
    chosen: list[np.ndarray] = []
    per_group: dict[str, np.ndarray] = {}
    combined = np.zeros(len(selection.rows), dtype=np.float32)
    for name, values in entry_scores.items():
        best = selection.group_max(values.astype(np.float32, copy=False))
        per_group[name] = best
        if name == "popularity":
            continue
        finite = np.isfinite(values)
        combined += np.where(finite, _standardise(np.where(finite, values, 0.0)), 0.0)
        usable = np.flatnonzero(np.isfinite(best) & ((best > 0) if name in _SPARSE_CHANNELS else True))
        if len(usable) > options.pool_per_channel:
            usable = usable[np.argpartition(-best[usable], options.pool_per_channel - 1)[: options.pool_per_channel]]
        chosen.append(usable)
    if extra_members is not None:
        chosen.append(np.asarray(extra_members, dtype=np.int64))
    members = np.unique(np.concatenate(chosen)) if chosen else np.empty(0, np.int64)
    if not len(members):
        members = np.arange(min(n_groups, options.pool_per_channel))
    # The entry shown for a group: the best-scoring local file if any, else the best version.
    in_pool = np.zeros(n_groups, dtype=bool)
    in_pool[members] = True
    pooled = np.flatnonzero(in_pool[position])
    order = pooled[np.lexsort((combined[pooled], selection.is_local[pooled], position[pooled]))]
    last = order[np.append(position[order][1:] != position[order][:-1], True)]
    representative = np.empty(n_groups, dtype=np.int64)
    representative[position[last]] = selection.rows[last]
    pool = _Pool(members, selection.groups[members], representative[members])
    for name, values in per_group.items():
        pool.scores[name] = values[members]
    return pool


def _entry_channel_scores(index: ZooIndex, selection: Selection, kind: str, query_text: Optional[str],
                          query_image: Any, options: SearchOptions,
                          families: Optional[Sequence[str]], roles: Optional[Sequence[str]]
                          ) -> tuple[dict[str, np.ndarray], Optional[np.ndarray]]:
    """Per-entry scores of each channel for the selected rows (-inf where a channel has nothing),
    and the dense query vector (None without the dense channel)."""
    channels = set(options.channels)
    rows = selection.rows
    scores: dict[str, np.ndarray] = {}
    position = np.full(len(index.entries), -1, dtype=np.int64)
    position[rows] = np.arange(len(rows))
    text = (query_text or "").strip()
    vector = None
    if text and channels & {"lexical", "names"}:
        kind_rows, hits = index.lexical_search(kind, text, rare_title="names" in channels)
        where = position[kind_rows]
        ok = where >= 0
        for name, found in (("lexical", hits.scores), ("names", hits.rare_title)):
            if name in channels:
                values = np.zeros(len(rows), dtype=np.float32)
                values[where[ok]] = found[ok]
                scores[name] = values
    if text and "dense" in channels:
        vector = _query_vector(index, text)
        partitions = index.partitions_for(kind, families, roles)
        hits = index.dense_search(vector, partitions, options.dense_chunks, options.dense_title_bonus)
        values = np.full(len(rows), -np.inf, dtype=np.float32)
        where = position[hits.rows]
        ok = where >= 0
        values[where[ok]] = hits.scores[ok]
        # Entries the approximate search did not reach but another channel ranks high get exact scores.
        if "lexical" in scores:
            top = np.argsort(-scores["lexical"])[: options.pool_per_channel]
            missing = top[~np.isfinite(values[top])]
            if len(missing):
                exact = index.dense_scores_for(vector, rows[missing], options.dense_title_bonus)
                values[position[exact.rows]] = exact.scores
        scores["dense"] = values
    if "image" in channels and index.has_image_channel:
        image_vector = _image_query_vector(index, query_image) if query_image is not None else (
            _clip_text_vector(index, text) if text else None)
        if image_vector is not None:
            values = np.full(len(rows), -np.inf, dtype=np.float32)
            has = index.arrays.has_image[rows]
            values[has] = index.arrays.image_vectors[rows[has]] @ image_vector
            scores["image"] = values
    if "popularity" in channels and scores:
        scores["popularity"] = np.log1p(selection.downloads)
    return scores, vector


def _fuse(pool: _Pool, weights: FusionWeights, reference: Optional[np.ndarray] = None) -> np.ndarray:
    """Weighted sum of standardised channel scores. `reference` (bool per pool row) marks the rows
    whose statistics standardise every row: models added to a pool afterwards must not shift it."""
    reference = np.ones(len(pool.groups), dtype=bool) if reference is None else reference
    fused = np.zeros(len(pool.groups), dtype=np.float32)
    for name, values in pool.scores.items():
        weight = getattr(weights, name, 0.0)
        if weight == 0.0 or name == "author":
            continue
        finite = np.isfinite(values)
        low = values[finite & reference].min() if (finite & reference).any() else (
            values[finite].min() if finite.any() else 0.0)
        filled = np.where(finite, values, low)
        standard = _standardise(filled, reference)
        if name == "names":
            standard = np.minimum(standard, weights.names_cap)
        fused += weight * standard
    return fused


def _add_affinity(index: ZooIndex, pool: _Pool, affinity_to: Optional[np.ndarray], weight: float) -> None:
    if affinity_to is None or not weight:
        return
    exact = index.dense_scores_for(affinity_to, pool.best_entry)
    affinity = np.full(len(pool.groups), -np.inf, dtype=np.float32)
    lookup = {int(r): float(s) for r, s in zip(exact.rows, exact.scores)}
    for i, row in enumerate(pool.best_entry.tolist()):
        if row in lookup:
            affinity[i] = lookup[row]
    pool.scores["affinity"] = affinity


def _author_step(index: ZooIndex, selection: Selection, entry_scores: dict[str, np.ndarray],
                 query_vector: Optional[np.ndarray], pool: _Pool, fused: np.ndarray, options: SearchOptions,
                 affinity_to: Optional[np.ndarray]) -> tuple[_Pool, np.ndarray]:
    """Add the top model's author's other models to the pool, then raise every model by the best
    fused score among its author's models (a model with no known author is its own author).
    Measured on the dev splits (half A chose the weight): R@10 +0.8 / +2.0 / +1.4 pt on LoRA / LoRA
    without trigger words / checkpoint."""
    reference = np.ones(len(pool.groups), dtype=bool)
    top_author = int(selection.group_author[pool.members[int(np.argmax(fused))]])
    if top_author >= 0:
        siblings = np.setdiff1d(np.flatnonzero(selection.group_author == top_author), pool.members)
        if len(siblings):
            if query_vector is not None and "dense" in entry_scores:
                # The approximate search reached only some of their chunks: score them exactly.
                dense = entry_scores["dense"]
                unscored = np.flatnonzero(np.isin(selection.group_of_row, siblings) & ~np.isfinite(dense))
                if len(unscored):
                    exact = index.dense_scores_for(query_vector, selection.rows[unscored], options.dense_title_bonus)
                    where = np.searchsorted(selection.rows, exact.rows)
                    dense = dense.copy()
                    dense[where] = exact.scores
                    entry_scores = {**entry_scores, "dense": dense}
            before = pool.members
            # Earlier members stay even if a sibling's exact score displaces one from a channel's top.
            pool = _pool(selection, entry_scores, options, extra_members=np.concatenate([before, siblings]))
            _add_affinity(index, pool, affinity_to, options.weights.affinity)
            reference = np.isin(pool.members, before)
            fused = _fuse(pool, options.weights, reference)
    authors = selection.group_author[pool.members]
    own = np.where(authors >= 0, authors, -1 - np.arange(len(authors)))
    keys, key_of = np.unique(own, return_inverse=True)
    best = np.full(len(keys), -np.inf, dtype=np.float32)
    np.maximum.at(best, key_of[reference], fused[reference])
    author_best = np.where(np.isfinite(best[key_of]), best[key_of], fused)
    pool.scores["author"] = author_best
    return pool, fused + options.weights.author * _standardise(author_best)


def search(
    index: ZooIndex,
    query_text: Optional[str] = None,
    query_image: Any = None,
    kind: str = "lora",
    k: int = 10,
    base_family: Optional[str | Sequence[str]] = None,
    role: Optional[str | Sequence[str]] = None,
    *,
    options: Optional[SearchOptions] = None,
    affinity_to: Optional[np.ndarray] = None,
) -> list[Candidate]:
    """Top-k models of `kind` for a text and/or image query, one Candidate per model.

    `base_family` / `role` filter (a name or a list). `affinity_to` is a unit vector (e.g. the
    chosen checkpoint's centroid) that candidates are pulled towards with weight
    `options.weights.affinity`. Raises EmptyZooError when the index has no entries of `kind`.
    """
    options = options or SearchOptions()
    families = [base_family] if isinstance(base_family, str) else (list(base_family) if base_family else None)
    if families is not None and options.unknown_family_ok and "unknown" not in families:
        families.append("unknown")
    roles = [role] if isinstance(role, str) else (list(role) if role else None)
    index.require_kind(kind)
    selection = index.select(kind, families, roles)
    if not len(selection.rows) or (not (query_text or "").strip() and query_image is None):
        return []
    entry_scores, query_vector = _entry_channel_scores(index, selection, kind, query_text, query_image, options,
                                                       families, roles)
    if not entry_scores:
        return []
    pool = _pool(selection, entry_scores, options)
    _add_affinity(index, pool, affinity_to, options.weights.affinity)
    fused = _fuse(pool, options.weights)
    if "author" in options.channels and options.weights.author and len(fused) \
            and (selection.group_author >= 0).any():
        pool, fused = _author_step(index, selection, entry_scores, query_vector, pool, fused, options, affinity_to)
    order = np.argsort(-fused, kind="stable")[: max(int(k), 0)]
    out = []
    for i in order.tolist():
        entry = index.entries[int(pool.best_entry[i])]
        channel_scores = {name: float(values[i]) for name, values in pool.scores.items() if np.isfinite(values[i])}
        out.append(Candidate(entry=entry, slot=_slot_of(kind, entry.role), score=float(fused[i]),
                             channel_scores=channel_scores))
    return out


def _centroid(index: ZooIndex, entry_row: int) -> Optional[np.ndarray]:
    vectors = index.chunk_vectors(entry_row)
    if not len(vectors):
        return None
    mean = vectors.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm > 0 else None


def _query_for(index: ZooIndex, modality: str, text: str, image: Any,
               notes: Optional[list[str]] = None) -> tuple[Optional[str], Any]:
    """(text, image) for one retrieval step: the image only when the intent asks for it, one is
    given and the index has preview vectors to compare it with; otherwise the text (and a note says why)."""
    if modality == "image" and image is not None and index.has_image_channel:
        return None, image
    if modality == "image":
        if image is None:
            why = "no image was given"
        elif index.image_encoder is None:
            why = "no CLIP model is attached to the index"
        else:
            why = "the index holds no preview-image vectors"
        note = f"the instruction asks for an image query, but {why}; searched by text instead"
        log.info(note)
        if notes is not None and note not in notes:
            notes.append(note)
    return text, None


def retrieve(
    index: ZooIndex,
    intent: Intent,
    image: Any = None,
    k_checkpoints: int = 5,
    k_loras: int = 10,
    *,
    options: Optional[SearchOptions] = None,
    chosen_checkpoint: Optional[ZooEntry] = None,
    on_step: OnStep | None = None,
    check_cancel: CheckCancel | None = None,
) -> Candidates:
    """Two-level retrieval for an intent: checkpoints first, then LoRAs near the chosen one.

    `chosen_checkpoint` skips level one and searches LoRAs near that checkpoint; `k_loras=0` skips level two.

    Style LoRAs are searched for style-changing instructions (local style, global style, style
    reference), object LoRAs for replace/add (query: the subject and the generation prompt).
    Raises EmptyZooError when the index has no checkpoints and no LoRAs at all.
    """
    on_step, check_cancel = resolve(on_step, check_cancel)
    options = options or SearchOptions()
    counts = index.counts()
    if not counts.get("checkpoint") and not counts.get("lora"):
        raise EmptyZooError(
            f"The index {index.folder or ''} has no checkpoints or LoRAs. Build it from your model folders: "
            "Build Zoo Index (Polaris) in ComfyUI, or `polaris index build` on the command line."
        )
    result = Candidates(intent=intent)
    kind_type = InstructionType(int(intent.instruction_type))
    prompt = intent.generation_prompt or intent.instruction
    steps = 3
    check_cancel()
    chosen = chosen_checkpoint
    if chosen is None and counts.get("checkpoint"):
        text, img = _query_for(index, intent.style_checkpoint_query, prompt, image, result.notes)
        result.checkpoints = search(index, text, img, kind="checkpoint", k=k_checkpoints, options=options)
        for candidate in result.checkpoints:
            candidate.slot = "checkpoint"
        chosen = result.checkpoints[0].entry if result.checkpoints else None
    elif chosen is None:
        log.warning("the index has no checkpoints; LoRAs are searched across all base families")
    on_step(1, steps)
    if k_loras <= 0:
        on_step(steps, steps)
        return result
    if not counts.get("lora"):
        log.warning("the index has no LoRAs; only checkpoints are returned")
        on_step(steps, steps)
        return result
    family = chosen.base_family if chosen is not None and chosen.base_family != "unknown" else None
    affinity = None
    if chosen is not None and options.weights.affinity:
        row = index.entry_row(chosen.id)
        affinity = _centroid(index, row) if row is not None else None
    check_cancel()
    if kind_type in (InstructionType.LOCAL_STYLE, InstructionType.GLOBAL_STYLE, InstructionType.STYLE_REFERENCE):
        text, img = _query_for(index, intent.style_lora_query, prompt, image, result.notes)
        result.style_loras = _lora_slot(index, text, img, k_loras, family, STYLE_ROLES, options, affinity,
                                        "style_lora")
    on_step(2, steps)
    check_cancel()
    if kind_type in (InstructionType.REPLACE, InstructionType.ADD):
        subject = intent.subject.strip()
        object_text = f"{subject}, {prompt}" if subject and subject.lower() not in prompt.lower() else prompt
        text, img = _query_for(index, intent.object_lora_query, object_text, image, result.notes)
        result.object_loras = _lora_slot(index, text, img, k_loras, family, OBJECT_ROLES, options, affinity,
                                         "object_lora")
    on_step(steps, steps)
    return result


def _lora_slot(index: ZooIndex, text: Optional[str], image: Any, k: int, family: Optional[str],
               roles: Sequence[str], options: SearchOptions, affinity: Optional[np.ndarray],
               slot: str) -> list[Candidate]:
    """LoRAs of the wanted roles; when too few carry those role labels, any role fills the rest."""
    found = search(index, text, image, kind="lora", k=k, base_family=family, role=list(roles), options=options,
                   affinity_to=affinity)
    if len(found) < k:
        seen = {c.entry.id for c in found}
        more = search(index, text, image, kind="lora", k=k, base_family=family, options=options,
                      affinity_to=affinity)
        found.extend(c for c in more if c.entry.id not in seen)
        found = found[:k]
    for candidate in found:
        candidate.slot = slot
    return found


def retrieve_checkpoints(index: ZooIndex, intent: Intent, image: Any = None, k: int = 5, *,
                         options: Optional[SearchOptions] = None) -> Candidates:
    """Level one on its own (the ComfyUI checkpoint node): the top-k checkpoints for the intent."""
    result = retrieve(index, intent, image, k_checkpoints=k, k_loras=0, options=options)
    result.style_loras, result.object_loras = [], []
    return result


def retrieve_loras(index: ZooIndex, candidates: Candidates, image: Any = None, k: int = 10, *,
                   options: Optional[SearchOptions] = None) -> Candidates:
    """Level two on its own (the ComfyUI LoRA node): LoRAs near the best of `candidates.checkpoints`."""
    if candidates.intent is None:
        raise ConfigError("These candidates carry no intent; connect Retrieve Checkpoint's output.")
    chosen = candidates.checkpoints[0].entry if candidates.checkpoints else None
    found = retrieve(index, candidates.intent, image, k_checkpoints=1, k_loras=k, options=options,
                     chosen_checkpoint=chosen)
    notes = list(candidates.notes) + [n for n in found.notes if n not in candidates.notes]
    return Candidates(intent=candidates.intent, checkpoints=list(candidates.checkpoints),
                      style_loras=found.style_loras, object_loras=found.object_loras, notes=notes)
