"""Search settings: the channels, the hand-set fusion weights and the pool sizes."""
from __future__ import annotations

from dataclasses import dataclass, field

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
    # The learned ranker orders the fused pool when its model file loads ("auto"); "off" keeps the
    # hand-set fusion order (the fallback, and the benchmark's baseline).
    ranker: str = "auto"
    # The learned query map of the dense channel (retrieve/query_map.py) applies when its file loads
    # and matches the index's encoder ("auto"); "off" searches with the raw query vector.
    query_map: str = "auto"
