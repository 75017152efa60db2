"""Should the lexical channel move to Milvus's BM25 full-text search? Measure it against Polaris's own.

Indexes every entry of a zoo index once more in a Milvus collection with a BM25 function over one text
field (the entry's title, description, tags and prompts: the same chunks Polaris's BM25F reads), then
runs the dev retrieval queries through both and prints R@10 / MRR@10 per split and the time per query.
Nothing is tuned here; the dev splits are the ones `polaris bench retrieval` reports.

    .venv/bin/python scripts/bench_milvus_lexical.py --index .cache/bench-retrieval/index \
        --data ../shared/data --milvus /tmp/lexical.db

Without --index it indexes the catalog (--data zoo/civitai-2023-sfw.jsonl.gz) with placeholder vectors: the
lexical channel never reads them, and nothing needs embedding.
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from polaris_core.bench.retrieval import SPLITS, evaluate, load_split, score  # noqa: E402
from polaris_core.embed.chunks import entry_chunks  # noqa: E402
from polaris_core.index import ZooIndex  # noqa: E402

_MAX_TEXT = 60000  # Milvus VARCHAR holds 65,535 bytes; a few catalog descriptions are longer


def entry_text(entry) -> str:
    text = " ".join(chunk.lexical_text for chunk in entry_chunks(entry))
    return text.encode("utf-8")[:_MAX_TEXT].decode("utf-8", "ignore")


def build_collection(index: ZooIndex, uri: str, reuse: bool = False):
    from pymilvus import DataType, Function, FunctionType, MilvusClient

    client = MilvusClient(uri, timeout=600)
    name = "polaris_lexical_bench"
    if reuse and client.has_collection(name) and client.get_collection_stats(name)["row_count"] == len(index):
        client.load_collection(name)
        return client, name
    if client.has_collection(name):
        client.drop_collection(name)
    schema = client.create_schema(auto_id=False)
    schema.add_field("row", DataType.INT64, is_primary=True)
    schema.add_field("kind", DataType.VARCHAR, max_length=20)
    schema.add_field("text", DataType.VARCHAR, max_length=65535, enable_analyzer=True)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["text"],
                                 output_field_names=["sparse"]))
    params = client.prepare_index_params()
    params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    client.create_collection(name, schema=schema, index_params=params)
    rows = [{"row": i, "kind": e.kind, "text": entry_text(e)} for i, e in enumerate(index.entries)]
    for start in range(0, len(rows), 1000):
        client.insert(name, rows[start:start + 1000])
    client.flush(name)
    return client, name


def milvus_ranking(client, name: str, index: ZooIndex, queries: list[str], kind: str) -> list[list[int]]:
    ranked = []
    for query in queries:
        hits = client.search(name, data=[query], anns_field="sparse", limit=100, filter=f'kind == "{kind}"',
                             output_fields=[])[0]
        models: list[int] = []
        for hit in hits:
            model = index.entries[int(hit["row"] if "row" in hit else hit["id"])].civitai_model_id
            if model is not None and model not in models:
                models.append(model)
        ranked.append(models[:10])
    return ranked


class _PlaceholderEncoder:
    """Unit vectors from a hash of the text: enough for an index whose dense channel is not measured."""

    encoder_id, dim, max_tokens = "placeholder-vectors-for-a-lexical-benchmark", 8, 256

    def encode(self, texts, **_) -> np.ndarray:
        seeds = [int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "little") for t in texts]
        out = np.stack([np.random.default_rng(s).normal(size=self.dim) for s in seeds]) if texts else \
            np.empty((0, self.dim))
        return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32) if len(out) else \
            out.astype(np.float32)


def catalog_index(data: Path) -> ZooIndex:
    from polaris_core.zoo.civitai import load_catalog

    entries = load_catalog([data / "zoo" / "civitai-2023-sfw.jsonl.gz"], kinds=("checkpoint", "lora"))
    return ZooIndex.build(entries, text_encoder=_PlaceholderEncoder())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", help="a zoo index folder (default: the catalog, placeholder vectors)")
    parser.add_argument("--data", default="../shared/data", help="the shared data folder (bench/ splits)")
    parser.add_argument("--milvus", default="/tmp/polaris-lexical-bench.db", help="Milvus URI for the BM25 copy")
    parser.add_argument("--limit", type=int, default=0, help="only the first N queries of each split")
    parser.add_argument("--reuse", action="store_true", help="keep a BM25 collection left by an earlier run")
    args = parser.parse_args()
    index = ZooIndex.load(args.index, verify=False) if args.index else catalog_index(Path(args.data))
    started = time.perf_counter()
    client, name = build_collection(index, args.milvus, args.reuse)
    print(f"Milvus BM25 collection: {len(index)} entries in {time.perf_counter() - started:.1f}s ({args.milvus})")
    print(f"{'split':<16} {'lexical channel':<24} {'R@10':>5}  {'MRR10':>5}  ms/query")
    for split in SPLITS:
        queries, targets, kind = load_split(Path(args.data), split, args.limit)
        for label in ("Polaris BM25F", "Milvus BM25 (one field)"):
            started = time.perf_counter()
            if label.startswith("Polaris"):
                ranked = evaluate(index, queries, kind, ("lexical",))
            else:
                ranked = milvus_ranking(client, name, index, queries, kind)
            ms = 1000 * (time.perf_counter() - started) / max(len(queries), 1)
            m = score(ranked, targets)
            print(f"{split:<16} {label:<24} {m.r10:.3f}  {m.mrr10:.3f}  {ms:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
