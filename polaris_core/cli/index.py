"""`polaris index build|info`: build or update a zoo index folder from catalogs and model folders."""
from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

log = logging.getLogger("polaris")


def register(subparsers) -> None:
    parser = subparsers.add_parser("index", help="build or inspect a model-zoo index")
    sub = parser.add_subparsers(dest="index_command", metavar="ACTION")

    build = sub.add_parser("build", help="index Civitai catalogs and/or local model folders")
    build.add_argument("--catalog", action="append", default=[], metavar="FILE",
                       help="Civitai API JSON (.jsonl, .jsonl.gz or .json); repeatable")
    build.add_argument("--models-dir", action="append", default=[], metavar="DIR",
                       help="a model folder (pair each with --kind), or a ComfyUI models/ folder without --kind")
    build.add_argument("--kind", action="append", default=[], choices=("lora", "checkpoint", "embedding"),
                       help="the kind of the --models-dir at the same position")
    build.add_argument("--follow-links", action="store_true",
                       help="follow folder links that lead outside a --models-dir (by default they are skipped)")
    build.add_argument("--kinds", default="checkpoint,lora,embedding",
                       help="kinds to take from catalogs (comma-separated; default all)")
    build.add_argument("--out", required=True, metavar="INDEX_DIR", help="index folder to write")
    build.add_argument("--update", action="store_true",
                       help="add/replace entries in the existing index at --out instead of rebuilding it")
    build.add_argument("--prune", action="store_true",
                       help="with --update: also remove entries that are in none of the inputs")
    build.add_argument("--allow-shrink", action="store_true",
                       help="let a rebuild (or --update --prune) drop more than half of the existing index's entries")
    build.add_argument("--cache", metavar="DIR", help="embedding cache folder (default $POLARIS_CACHE_DIR "
                       "or ~/.cache/polaris)")
    build.add_argument("--no-cache", action="store_true",
                       help="embed and scan everything afresh; read and write no embedding or scan cache")
    build.add_argument("--clip", metavar="SAFETENSORS", help="open_clip weights for the preview-image channel")
    build.add_argument("--clip-arch", default="auto", help="open_clip architecture of --clip (default: auto)")
    build.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    build.add_argument("--expansion", choices=("default", "on", "off"), default="default",
                       help="write prompt terms predicted from metadata into entries with no example prompts "
                            "(polaris_core.retrieve.expansion; default: as measured on the dev splits; --update keeps the "
                            "index's own setting)")
    build.add_argument("--milvus", metavar="URI",
                       help="keep the vectors in Milvus instead of the index folder: a Milvus Lite file (zoo.db) "
                            "or a server (http://host:19530); needs pip install 'polaris[milvus]'")
    build.set_defaults(run=run_build)

    export = sub.add_parser("export", help="copy an index's vectors to Milvus, without re-embedding")
    export.add_argument("folder", metavar="INDEX_DIR", help="the index to copy (only read, never changed)")
    export.add_argument("--to", required=True, metavar="URI",
                        help="Milvus Lite file (zoo.db) or Milvus server URI (http://host:19530)")
    export.add_argument("--out", required=True, metavar="NEW_INDEX_DIR",
                        help="new index folder that uses the Milvus collection (the entries and term counts "
                             "stay local)")
    export.add_argument("--collection", help="collection name (default: a new polaris_<folder>_<time>_<id>)")
    export.set_defaults(run=run_export)

    info = sub.add_parser("info", help="print an index folder's manifest summary")
    info.add_argument("folder", metavar="INDEX_DIR")
    info.set_defaults(run=run_info)
    parser.set_defaults(run=lambda args: (parser.print_help(sys.stderr), 2)[1])


class _Bar:
    """tqdm progress for one phase at a time (the core reports `on_step(i, n)`)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar = None

    def __call__(self, i: int, n: int) -> None:
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(total=n, desc=self.label, unit="item", file=sys.stderr, dynamic_ncols=True)
        if n != self.bar.total:
            self.bar.total = n
        self.bar.update(max(0, i - self.bar.n))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _local_roots(args) -> list[tuple[Path, str]]:
    from polaris_core.errors import ConfigError
    from polaris_core.zoo.local import comfyui_roots

    if args.kind and len(args.kind) != len(args.models_dir):
        raise ConfigError("Give one --kind per --models-dir (in the same order), or no --kind at all for a "
                          "ComfyUI models/ folder.")
    if args.kind:
        return [(Path(d), k) for d, k in zip(args.models_dir, args.kind)]
    roots: list[tuple[Path, str]] = []
    for folder in args.models_dir:
        found = comfyui_roots(folder)
        if not found:
            raise ConfigError(f"{folder} has no checkpoints/, loras/ or embeddings/ folder; pass --kind for a "
                              "plain model folder.")
        roots.extend(found)
    return roots


def collect_entries(args) -> list:
    """Entries from every --catalog and --models-dir, with a logged summary of skips."""
    from polaris_core.errors import ConfigError
    from polaris_core.zoo.civitai import IngestStats, load_catalog

    if not args.catalog and not args.models_dir:
        raise ConfigError("Nothing to index: pass --catalog FILE and/or --models-dir DIR.")
    kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
    entries = []
    stats = IngestStats()
    if args.catalog:  # load_catalog also links cross-page evidence across all the files
        entries.extend(load_catalog(args.catalog, kinds=kinds, stats=stats))
    roots = _local_roots(args) if args.models_dir else []
    if roots:
        from polaris_core.zoo.local import scan_models

        bar = _Bar("scan")
        try:
            result = scan_models(roots, cache_dir=None if args.no_cache else _cache_dir(args),
                                 follow_links=args.follow_links, on_step=bar)
        finally:
            bar.close()
        entries.extend(result.entries)  # pickles are listed (metadata only), never loaded
    return entries


def _cache_dir(args) -> Path:
    from polaris_core.embed.cache import default_cache_dir

    return Path(args.cache) if args.cache else default_cache_dir()


def _image_encoder(args):
    if not args.clip:
        return None
    from polaris_core.clip_model import load_clip
    from polaris_core.embed.image import ClipEncoder

    return ClipEncoder(load_clip(args.clip, arch=args.clip_arch))


def run_build(args) -> int:
    import time

    from polaris_core.index import refuse_foreign_folder, valid_index_name
    from polaris_core.index_lock import index_lock

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    out = Path(args.out)
    valid_index_name(out.resolve().name)  # the same rule as the nodes and the sidebar ('demo' is theirs)
    refuse_foreign_folder(out)  # before any work (and before the lock file): --out may be someone's folder
    with index_lock(out, "`polaris index build` (command line)"):
        index, stats = _build_locked(args)
    counts = index.counts()
    print(f"index {args.out}: {len(index)} entries ({', '.join(f'{v} {k}' for k, v in counts.items())}), "
          f"{len(index.arrays.chunk_label)} chunks ({len(index.store)} embedded); added {stats.entries_added}, "
          f"updated {stats.entries_updated}, removed {stats.entries_removed}, unchanged {stats.entries_unchanged} "
          f"in {time.perf_counter() - started:.1f}s")
    return 0


def _build_locked(args):
    """(index, stats) of the build `args` asks for; the caller holds the --out folder's lock."""
    from polaris_core.embed.cache import EmbeddingCache
    from polaris_core.index import ZooIndex, check_rebuild, refuse_foreign_folder

    refuse_foreign_folder(Path(args.out))  # again under the lock: nothing changed it meanwhile
    entries = collect_entries(args)
    if not args.update or args.prune:  # the index will hold exactly these entries
        check_rebuild(args.out, len({e.id for e in entries}), allow_shrink=args.allow_shrink,
                      inputs=f"{len(args.catalog)} catalog(s), {len(args.models_dir)} model folder(s)")
    cache = None if args.no_cache else EmbeddingCache(_cache_dir(args) / "embeddings.sqlite")
    image_encoder = _image_encoder(args)
    bar = _Bar("embed")
    try:
        if args.update:
            index = ZooIndex.load(args.out, image_encoder=image_encoder)
            _check_update_backend(index, args.milvus)
            stats = index.update(entries, cache=cache, on_step=bar)
            if args.prune:
                wanted = {e.id for e in entries}
                stats.entries_removed = index.remove([e.id for e in index.entries if e.id not in wanted])
            index.save()
        else:
            from polaris_core.retrieve.expansion import DEFAULT, SHIPPED

            expansion = {"default": DEFAULT, "on": SHIPPED, "off": None}[args.expansion]
            index = ZooIndex.build(entries, args.out, cache=cache, image_encoder=image_encoder, on_step=bar,
                                   expansion=expansion, milvus_uri=args.milvus)
            stats = index.build_stats
    finally:
        bar.close()
    return index, stats


def _check_update_backend(index, milvus_uri) -> None:
    """--update keeps the index's backend; a --milvus that names another place is a mistake, not a move."""
    from polaris_core.errors import ConfigError

    have = getattr(index.store, "uri", None)
    if milvus_uri and milvus_uri != have:
        where = f"Milvus at {have}" if have else "the index folder"
        raise ConfigError(f"The index keeps its vectors in {where}; --update cannot move them to {milvus_uri}. "
                          "Use `polaris index export INDEX_DIR --to URI --out NEW_DIR` to copy it there.")


def run_export(args) -> int:
    import time

    from polaris_core.errors import ConfigError
    from polaris_core.index import ZooIndex, refuse_foreign_folder
    from polaris_core.vectorstore_milvus import copy_to_milvus, new_collection_name

    started = time.perf_counter()
    source, out = Path(args.folder), Path(args.out)
    if out.resolve() == source.resolve():
        raise ConfigError("--out must be a new folder: export never rewrites the index it copies.")
    refuse_foreign_folder(out)
    index = ZooIndex.load(source)  # checked in full; only read from here on
    bar = _Bar("export")
    try:
        store = copy_to_milvus(index.store, args.to, args.collection or new_collection_name(out.name), on_step=bar)
    finally:
        bar.close()
    index.store = store
    try:
        index.save(out)
    except BaseException:
        store.drop()
        raise
    print(f"exported {source} ({len(index)} entries, {len(store)} vectors) to collection {store.collection} at "
          f"{store.uri}; index folder {out} in {time.perf_counter() - started:.1f}s")
    return 0


def run_info(args) -> int:
    from polaris_core.index import ZooIndex

    index = ZooIndex.load(args.folder, verify=False)
    manifest = index.manifest()
    manifest["partitions"] = {key: index.store.count(key) for key in index.store.partitions()}
    print(json.dumps(manifest, indent=1))
    return 0
