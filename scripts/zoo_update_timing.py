"""Wall and CPU seconds of removing and adding 1,000 entries on a saved zoo (`polaris bench zoo --work`'s folder),
in the states a running Polaris meets them, without building or encoding anything (the bench's synthetic
vectors from random base vectors, as scripts/zoo_build_stages.py; their making is subtracted):

1. after a first search (the term counts released): remove 1,000 random entries, then the next search's
   lexical models (built again by code that drops them on a change);
2. add 1,000 new synthetic entries (prompt expansion included), the next search's lexical models (built
   again by code that makes the counts again to add), then remove those 1,000.

Nothing is saved: the folder is only read. Prints one JSON line with the load average at the start and end,
and after each step the process's RSS and peak RSS so far (`ru_maxrss` KiB / 10⁶, as `polaris bench zoo`).

    python scripts/zoo_update_timing.py /tmp/scale-work/100k-s11/zoo-100000
"""
import json
import os
import random
import resource
import sys
import time
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from polaris_core.bench import zoo  # noqa: E402 (after the path)
from polaris_core.index import ZooIndex  # noqa: E402
from polaris_core.zoo.civitai import load_catalog  # noqa: E402


class _Real:
    """The index's own encoder identity (its vectors are not needed: the synthetic ones stand in)."""

    def __init__(self, index: ZooIndex) -> None:
        self.encoder_id, self.dim, self.max_tokens = index.text_encoder_id, index.text_dim, index.max_tokens


def _timed(out: dict, name: str, step, subtract=lambda: 0.0) -> None:
    before = subtract()
    wall, cpu = time.perf_counter(), time.process_time()
    step()
    spent = subtract() - before
    out[name + "_s"] = round(time.perf_counter() - wall - spent, 3)
    out[name + "_cpu_s"] = round(time.process_time() - cpu - spent, 3)
    out[name + "_rss_gb"] = round(psutil.Process().memory_info().rss / 1e9, 3)
    out[name + "_peak_gb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 3)


class _Clock:
    """CPU seconds spent in one method of the index (wrapped on the instance)."""

    def __init__(self, index: ZooIndex, name: str) -> None:
        self.cpu, method = 0.0, getattr(index, name)

        def timed(*args, **kwargs):
            started = time.process_time()
            try:
                return method(*args, **kwargs)
            finally:
                self.cpu += time.process_time() - started
        setattr(index, name, timed)


def main() -> None:
    folder = Path(sys.argv[1])
    out = {"load_average_start": os.getloadavg()[0]}
    catalog = load_catalog([Path(os.environ.get("POLARIS_SHARED_DATA", "../shared/data")) / zoo.CATALOG_NAME])
    extra = zoo.synthetic_entries(zoo._Pools(catalog), 1000, np.random.default_rng(1), first_id=10 ** 9)
    base = np.random.default_rng(0).normal(size=(971, 384)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    index = ZooIndex.load(folder, verify=False)
    encoder = zoo._SyntheticEncoder(_Real(index), [], base, 0)
    index.set_text_encoder(encoder)
    kinds = [k for k in ("checkpoint", "lora", "embedding") if len(index.kind_rows(k))]
    _timed(out, "first_search_models", lambda: [index.lexical(k) for k in kinds])
    assert index.arrays.title is None, "the first search did not release the term counts"
    gone = random.Random(1).sample(list(index.entries.ids), 1000)
    _timed(out, "remove_1000_released", lambda: index.remove(gone))
    _timed(out, "next_search_models", lambda: [index.lexical(k) for k in kinds])
    lexical = _Clock(index, "_models_with" if hasattr(index, "_models_with") else "_restore_counts")
    _timed(out, "add_1000", lambda: index.update(extra), lambda: encoder.seconds)
    out["add_1000_lexical_cpu_s"] = round(lexical.cpu, 3)  # of which: the models gain rows / the counts made again
    out["counts_released_after_add"] = index.arrays.title is None
    _timed(out, "search_models_after_add", lambda: [index.lexical(k) for k in kinds])
    _timed(out, "remove_those_1000", lambda: index.remove([e.id for e in extra]))
    out["load_average_end"] = os.getloadavg()[0]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
