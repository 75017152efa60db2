"""CPU seconds of indexing N synthetic entries (`polaris bench zoo`'s) into an empty index, and of its stages
timed on their own: prompt expansion, chunking, tokenizing. Random unit base vectors stand in for MiniLM's
(the bench's noisy copies; their making is subtracted), so no encoder is loaded.

    python scripts/zoo_build_stages.py 10000
"""
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from polaris_core.bench import zoo  # noqa: E402 (after the path)
from polaris_core.embed.chunks import entry_chunks
from polaris_core.embed.lexical import lexical_terms
from polaris_core.index import ZooIndex
from polaris_core.retrieve.expansion import resolve_expander
from polaris_core.zoo.civitai import load_catalog
n = int(sys.argv[1])
catalog = load_catalog([Path(os.environ.get('POLARIS_SHARED_DATA', '../shared/data')) / zoo.CATALOG_NAME])
entries = zoo.synthetic_entries(zoo._Pools(catalog), n, np.random.default_rng(0))


class Real:
    encoder_id, dim, max_tokens = "sentence-transformers/all-MiniLM-L6-v2", 384, 256


base = np.random.default_rng(0).normal(size=(971, 384)).astype(np.float32)
base /= np.linalg.norm(base, axis=1, keepdims=True)
enc = zoo._SyntheticEncoder(Real(), [], base, 0)
ex = resolve_expander("shipped")
_ = ex.model_id  # hashed once per process: not a per-entry cost
cpu = time.process_time
t = cpu()
texts = [ex.expansion(e) for e in entries]
t_exp = cpu() - t
t = cpu()
chunks = [entry_chunks(e, x) for e, x in zip(entries, texts)]
t_chunks = cpu() - t
t = cpu()
terms = sum(len(lexical_terms(c.lexical_text)) for cs in chunks for c in cs)
t_terms = cpu() - t
index = ZooIndex.build([], text_encoder=enc)
t, w = cpu(), time.perf_counter()
index.update(entries)
t_update = cpu() - t - enc.seconds
w_update = time.perf_counter() - w - enc.seconds
print(f"{n} entries, {sum(bool(x) for x in texts)} expanded: expansion {t_exp:.1f} s, chunking {t_chunks:.1f} s, "
      f"tokenizing {t_terms:.1f} s; whole update {t_update:.1f} s cpu ({w_update:.1f} s wall, vectors excluded); load {open('/proc/loadavg').read().split()[:3]}")
