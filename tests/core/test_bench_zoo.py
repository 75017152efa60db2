"""`polaris bench zoo`'s synthetic zoo: real material recombined, the catalog's kinds and families kept,
and noisy vectors that are deterministic per text. (Its figures come from the benchmark, not from tests.)"""
from __future__ import annotations

from collections import Counter

import numpy as np

from polaris_core.bench.zoo import _Pools, _SyntheticEncoder, entry_slices, synthetic_entries
from tests.core.retrieval_fixtures import catalog_subset


def test_synthetic_entries_follow_the_catalog_and_reuse_its_words(shared_data, fixture_cache):
    catalog = catalog_subset(shared_data, fixture_cache)
    made = synthetic_entries(_Pools(catalog), 4000, np.random.default_rng(0))
    assert len({e.id for e in made}) == 4000 and len({e.civitai_model_id for e in made}) == 4000
    real_share = Counter(e.kind for e in catalog)
    made_share = Counter(e.kind for e in made)
    for kind, count in real_share.items():
        assert abs(made_share[kind] / 4000 - count / len(catalog)) < 0.03
    real_tags = {t for e in catalog for t in e.tags}
    assert all(set(e.tags) <= real_tags for e in made)
    assert {e.base_family for e in made} <= {e.base_family for e in catalog}
    assert sum(bool(e.example_prompts) for e in made) > 0 and all(e.name.strip() for e in made)


def test_entry_slices_make_the_same_zoo_as_one_call(shared_data, fixture_cache):
    """The benchmark makes its entries slice by slice while building (not all held at once): the same
    entries in the same order, and the same random state after them (the 1,000 added entries)."""
    pools = _Pools(catalog_subset(shared_data, fixture_cache))
    whole_rng, sliced_rng = np.random.default_rng(5), np.random.default_rng(5)
    whole = synthetic_entries(pools, 1234, whole_rng)
    head = synthetic_entries(pools, 30, sliced_rng)
    slices = list(entry_slices(pools, head, 1234, sliced_rng, 500))
    assert [len(s) for s in slices] == [500, 500, 234]
    assert [e for s in slices for e in s] == whole
    assert synthetic_entries(pools, 5, sliced_rng, first_id=1234) == synthetic_entries(pools, 5, whole_rng, first_id=1234)


class _Real:
    encoder_id, dim, max_tokens = "fake-minilm", 8, 128


def test_synthetic_vectors_are_unit_length_and_the_same_for_the_same_text():
    base = np.eye(8, dtype=np.float32)
    encoder = _SyntheticEncoder(_Real(), ["known"], base[:1], seed=0)
    first = encoder.encode(["known", "a new text", "another"])
    again = encoder.encode(["another", "a new text"])
    assert np.allclose(first[0], base[0]) and np.allclose(np.linalg.norm(first, axis=1), 1, atol=1e-5)
    assert encoder.synthetic == 4
    assert np.allclose(first[2], again[0]) and np.allclose(first[1], again[1])


def test_the_load_only_process_reports_its_own_peak_not_its_parents():
    """A process started after a big build must not report the build's peak as its own (Linux's `ru_maxrss`
    keeps the parent's peak through fork and exec: the 1M load-only process reported the 14.6 GB build)."""
    import subprocess
    import sys

    from polaris_core.bench.zoo import own_peak_rss_gb

    held = np.ones(400_000_000 // 8)  # ~0.4 GB touched in this process: its peak is at least that
    assert own_peak_rss_gb() >= 0.39
    child = subprocess.run([sys.executable, "-c", "from polaris_core.bench.zoo import own_peak_rss_gb as p; "
                            "print(p())"], capture_output=True, text=True, check=True)
    del held
    assert float(child.stdout) < 0.3  # the interpreter and numpy: ~0.05 GB
