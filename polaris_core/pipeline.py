"""The stages chained: build or update an index, then parse → retrieve → rerank → plan.

Used by `polaris demo`, the optional whole-pipeline node and the index-build node, so that each
stage's own API stays the primary interface and this module only wires them together.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from polaris_core.candidates import Candidates
from polaris_core.errors import ConfigError, IndexFolderError, VectorServiceError
from polaris_core.intent import Intent
from polaris_core.plan import Plan
from polaris_core.progress import CheckCancel, OnStep, resolve

log = logging.getLogger("polaris")


@dataclass
class IndexBuild:
    index: Any                                   # polaris_core.index.ZooIndex
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    catalog_summary: str = ""
    scan_summary: str = ""
    created: bool = False

    def summary(self) -> str:
        counts = ", ".join(f"{v} {k}" for k, v in self.index.counts().items()) or "empty"
        lines = [f"{len(self.index)} entries ({counts}); added {self.added}, updated {self.updated}, "
                 f"unchanged {self.unchanged}, removed {self.removed}"]
        lines += [s for s in (self.catalog_summary, self.scan_summary) if s]
        return "\n".join(lines)


def build_or_update_index(
    folder: str | os.PathLike,
    *,
    catalogs: Sequence[str | os.PathLike] = (),
    model_roots: Sequence[tuple[str | os.PathLike, str]] = (),
    cache_dir: Optional[str | os.PathLike] = None,
    clip: Any = None,
    prune: bool = True,
    allow_shrink: bool = False,
    how_to_allow_shrink: str = "pass allow_shrink=True",
    label: Optional[str] = None,
    what: str = "a Polaris index build",
    lock_wait: float = 0.0,
    on_step: Optional[OnStep] = None,
    check_cancel: Optional[CheckCancel] = None,
    milvus_uri: str = "",
) -> IndexBuild:
    """Index catalogs and local model folders into `folder`, updating it in place when it exists.

    `milvus_uri` (optional) puts a new index's vectors in Milvus (`polaris_core.vectorstore_milvus`);
    an existing index keeps its backend, and a URI naming another place is refused (ConfigError).

    Only new or changed entries are embedded; with `prune`, entries no longer present are removed.
    Writes are atomic: an interrupted build leaves the previous index usable. Inputs that give no
    entries, or (with `prune`, unless `allow_shrink`) fewer than half of the existing index's, leave
    the index as it was and raise IndexFolderError (`index.check_rebuild`; `how_to_allow_shrink` says
    in the caller's terms how to allow it); so does a `folder` that holds other files than an index's.

    The whole build holds the folder's lock (`index_lock`): a second build of the same folder, from
    any process, is refused with IndexBusyError naming `what` this build is (after waiting up to
    `lock_wait` seconds). `label` names the folder in messages (default: its path).
    """
    from polaris_core.index import refuse_foreign_folder
    from polaris_core.index_lock import index_lock

    if not catalogs and not model_roots:
        raise ConfigError("Nothing to index: give a catalog file and/or model folders to scan.")
    shown = label or str(folder)
    refuse_foreign_folder(Path(folder), label=shown)
    with index_lock(folder, what, label=shown, wait=lock_wait):
        return _build_locked(Path(folder), shown, catalogs=catalogs, model_roots=model_roots, cache_dir=cache_dir,
                             clip=clip, prune=prune, allow_shrink=allow_shrink,
                             how_to_allow_shrink=how_to_allow_shrink, on_step=on_step, check_cancel=check_cancel,
                             milvus_uri=milvus_uri)


def _build_locked(target: Path, shown: str, *, catalogs, model_roots, cache_dir, clip, prune: bool,
                  allow_shrink: bool, how_to_allow_shrink: str, on_step, check_cancel,
                  milvus_uri: str = "") -> IndexBuild:
    from polaris_core.embed.cache import EmbeddingCache, default_cache_dir
    from polaris_core.index import ZooIndex, check_rebuild, is_index_folder, refuse_foreign_folder
    from polaris_core.zoo.civitai import IngestStats, load_catalog
    from polaris_core.zoo.local import scan_models

    on_step, check_cancel = resolve(on_step, check_cancel)
    refuse_foreign_folder(target, label=shown)  # again under the lock: nothing changed it meanwhile
    cache_root = Path(cache_dir) if cache_dir else default_cache_dir()
    entries = []
    stats = IngestStats()
    if catalogs:  # load_catalog also links cross-page evidence across all the files
        entries.extend(load_catalog(catalogs, stats=stats))
        check_cancel()
    scan_summary = ""
    roots = [(Path(p), kind) for p, kind in model_roots if Path(p).is_dir()]
    if roots:
        # Scanning is the first third of the progress bar, embedding the rest.
        result = scan_models(roots, cache_dir=cache_root, on_step=lambda i, n: on_step(i, 3 * max(n, 1)),
                             check_cancel=check_cancel)
        entries.extend(result.entries)
        scan_summary = f"scanned: {result.report.summary()}"
    catalog_summary = f"catalogs: {stats.summary()}" if catalogs else ""
    if prune or not is_index_folder(target):  # the index will hold exactly these entries
        check_rebuild(target, len({e.id for e in entries}), allow_shrink=allow_shrink,
                      inputs="; ".join(s for s in (catalog_summary, scan_summary) if s), label=shown,
                      how_to_allow=how_to_allow_shrink)
    embed_step = lambda i, n: on_step(n + 2 * i, 3 * max(n, 1))  # noqa: E731
    cache = EmbeddingCache(cache_root / "embeddings.sqlite")
    image_encoder = None
    if clip is not None:
        from polaris_core.embed.image import ClipEncoder

        image_encoder = ClipEncoder(clip)
    build = IndexBuild(index=None, catalog_summary=catalog_summary,
                       scan_summary=scan_summary)
    existing = None
    if is_index_folder(target):
        try:
            existing = ZooIndex.load(target, image_encoder=image_encoder)
        except VectorServiceError:  # Milvus is down: never "rebuild" a team's index into a local one
            raise
        except IndexFolderError as exc:
            log.warning("rebuilding %s from scratch: %s", target, exc)
    if existing is not None and milvus_uri and getattr(existing.store, "uri", None) != milvus_uri:
        where = f"Milvus at {existing.store.uri}" if getattr(existing.store, "uri", None) else "its folder"
        raise ConfigError(f"The index {target.name} keeps its vectors in {where}, not {milvus_uri}; nothing was "
                          "changed. Give a new index name to build on that Milvus, or copy this index there with "
                          "`polaris index export`.")
    if existing is None:
        index = ZooIndex.build(entries, target, cache=cache, image_encoder=image_encoder, on_step=embed_step,
                               check_cancel=check_cancel, label=shown, milvus_uri=milvus_uri or None)
        done = index.build_stats
        build.created = True
    else:
        index = existing
        done = index.update(entries, cache=cache, on_step=embed_step, check_cancel=check_cancel)
        if prune:
            wanted = {e.id for e in entries}
            done.entries_removed = index.remove([e.id for e in index.entries if e.id not in wanted])
        index.save(label=shown)
    build.index = index
    build.added, build.updated = done.entries_added, done.entries_updated
    build.unchanged, build.removed = done.entries_unchanged, done.entries_removed
    on_step(1, 1)
    return build


def attach_clip(index: Any, clip: Any) -> list[str]:
    """Attach a loaded CLIP to a loaded index for image queries; returns notes on what the user will get.

    Raises ConfigError when the index's preview vectors come from another CLIP (their scores would be noise).
    """
    from polaris_core.embed.image import ClipEncoder

    index.set_image_encoder(ClipEncoder(clip))
    if not index.has_image_channel:
        return ["this index holds no preview-image vectors (it was built without a CLIP, or its models have no "
                "preview images), so image queries fall back to text; rebuild it with this CLIP connected"]
    return []


def demo_index(folder: Optional[str | os.PathLike] = None, **kwargs: Any) -> IndexBuild:
    """The shipped demo zoo's index, built (or refreshed) in `folder` (default: the Polaris cache)."""
    from polaris_core.demo import demo_catalog_path
    from polaris_core.embed.cache import default_cache_dir

    target = Path(folder) if folder else default_cache_dir() / "demo-index"
    kwargs.setdefault("what", "a refresh of the demo zoo")
    kwargs.setdefault("lock_wait", 120.0)  # a refresh takes seconds: wait for another one rather than fail
    return build_or_update_index(target, catalogs=[demo_catalog_path()], **kwargs)


@dataclass
class PipelineResult:
    intent: Intent
    candidates: Candidates            # as retrieved
    ranked: Candidates                # after the tree rerank (rerank_score set)
    plan: Plan
    timings: dict[str, float] = field(default_factory=dict)


def run_pipeline(
    instruction: str,
    index: Any,
    reranker: Any,
    *,
    image: Any = None,
    parser_backend: str = "rules",
    k_checkpoints: int = 5,
    k_loras: int = 12,
    keep: int = 3,
    on_step: Optional[OnStep] = None,
    check_cancel: Optional[CheckCancel] = None,
) -> PipelineResult:
    """parse → two-level retrieve → tree rerank → compose the plan."""
    import time

    from polaris_core.parse import parse
    from polaris_core.plan import compose_plan
    from polaris_core.retrieve import retrieve

    on_step, check_cancel = resolve(on_step, check_cancel)
    timings = {}
    started = time.perf_counter()
    intent = parse(instruction, image, parser_backend)
    timings["parse"] = time.perf_counter() - started
    on_step(1, 4)
    check_cancel()
    started = time.perf_counter()
    candidates = retrieve(index, intent, image, k_checkpoints=k_checkpoints, k_loras=k_loras,
                          check_cancel=check_cancel)
    timings["retrieve"] = time.perf_counter() - started
    on_step(2, 4)
    started = time.perf_counter()
    ranked = reranker.rerank_all(candidates, keep=keep, check_cancel=check_cancel)
    timings["rerank"] = time.perf_counter() - started
    on_step(3, 4)
    plan = compose_plan(intent, ranked)
    on_step(4, 4)
    return PipelineResult(intent=intent, candidates=candidates, ranked=ranked, plan=plan, timings=timings)
