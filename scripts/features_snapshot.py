"""The learned ranker's feature matrices (and the fused pools they read) for dev and catalog queries over an
index, saved as .npz: run it with two versions of the code and compare, to check that a change leaves the
features bit-identical (the shipped model was trained on them).

    python scripts/features_snapshot.py --index .cache/bench-retrieval/index-expcv --out before.npz
    (change the code) ... --out after.npz --compare before.npz

Queries: the first --per-split rows of each dev split (LoRA, LoRA without trigger words, checkpoint), some
catalog prompts with their own chunks left out (as training builds them), and some LoRA queries filtered by
base family (the family feature is only known then). Query vectors are cached in --vectors.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    from polaris_core.index import ZooIndex
    from polaris_core.retrieve import search_pool
    from polaris_core.retrieve.channels import query_vector
    from polaris_core.retrieve.ranker import features
    from polaris_core.retrieve.train import _chunks_by_text, _key, catalog_queries, dev_queries

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", required=True)
    parser.add_argument("--out", required=True, help=".npz file to write")
    parser.add_argument("--compare", help="an earlier .npz: report whether every matrix is identical")
    parser.add_argument("--per-split", type=int, default=150)
    parser.add_argument("--catalog", type=int, default=150, help="catalog prompt queries")
    parser.add_argument("--vectors", default="", help=".npz cache of the query vectors")
    parser.add_argument("--data", default=os.environ.get("POLARIS_SHARED_DATA", "../shared/data"))
    args = parser.parse_args()
    index = ZooIndex.load(args.index, verify=False)
    queries = [q for q in dev_queries(Path(args.data), args.per_split)]
    catalog = catalog_queries(index, 40, 20)[: args.catalog]
    queries += catalog
    families = sorted({e.base_family for e in index.entries if e.kind == "lora"})
    family_queries = [(q, families[i % len(families)]) for i, q in enumerate(queries[: args.per_split // 3])]
    masks = _chunks_by_text(index, ("lora", "checkpoint")) if catalog else {}
    texts = [q.text for q in queries]
    cache = Path(args.vectors) if args.vectors else None
    vectors = None
    if cache is not None and cache.is_file():
        with np.load(cache, allow_pickle=False) as data:
            if data["texts"].tolist() == texts:
                vectors = data["vectors"]
    if vectors is None:
        vectors = np.stack([query_vector(index, t) for t in texts])
        if cache is not None:
            np.savez(cache, texts=np.array(texts), vectors=vectors)
    runs = [(q, v, None) for q, v in zip(queries, vectors)]
    runs += [(q, vectors[i], family) for i, (q, family) in enumerate(family_queries)]
    out: dict[str, np.ndarray] = {}
    for n, (q, vector, family) in enumerate(runs):
        exclude = masks.get(_key(q.exclude_text)) if q.exclude_text else None
        found = search_pool(index, q.text, kind=q.kind, vector=vector, exclude_chunks=exclude, base_family=family)
        if found is None:
            continue
        out[f"X{n}"] = features(found)
        out[f"fused{n}"] = found.fused
        out[f"entries{n}"] = found.pool.best_entry
    np.savez(args.out, **out)
    print(f"{len(runs)} queries ({len(catalog)} catalog, {len(family_queries)} with a family) → {args.out}")
    if args.compare:
        with np.load(args.compare, allow_pickle=False) as before:
            keys = sorted(set(before.files) | set(out))
            differ = [k for k in keys if k not in out or k not in before.files
                      or out[k].dtype != before[k].dtype or out[k].shape != before[k].shape
                      or not np.array_equal(out[k], before[k], equal_nan=True)]
        n_x = sum(k.startswith("X") for k in keys)
        print(f"compared {n_x} feature matrices with {args.compare}: "
              + ("all identical" if not differ else f"{len(differ)} differ: {differ[:10]}"))
        return 1 if differ else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
