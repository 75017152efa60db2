"""`polaris bench retrieval` (the issue's benchmark harness) on a small real-catalog index."""
from __future__ import annotations

import re

from polaris_core.bench.retrieval import SPLITS, band_scores, evaluate, load_split, model_prompt_counts, prompt_band, score
from polaris_core.cli import main
from polaris_core.index import ZooIndex
from polaris_core.zoo.civitai import iter_catalog
from tests.core.retrieval_fixtures import CATALOG, catalog_subset, embedding_cache

QUERIES = 3


def _first_targets(shared_data) -> set[int]:
    targets: set[int] = set()
    for split in SPLITS:
        targets.update(load_split(shared_data, split, QUERIES)[1])
    return targets


def test_bench_prints_each_channel_sets_metrics_and_the_speed_figures(shared_data, fixture_cache, tmp_path, capsys):
    targets = _first_targets(shared_data)
    target_entries = [e for e in iter_catalog(shared_data / CATALOG, kinds=("checkpoint", "lora"))
                      if e.civitai_model_id in targets]
    entries = target_entries + catalog_subset(shared_data, fixture_cache)
    built = ZooIndex.build(entries, tmp_path / "index", cache=embedding_cache(fixture_cache))
    built_counts, built_vectors = built.counts(), len(built.store)

    channel_sets = ("popularity", "lexical", "lexical,dense,names,author")
    args = ["bench", "retrieval", "--index", str(tmp_path / "index"), "--data", str(shared_data), "--limit",
            str(QUERIES), "--cache", str(fixture_cache), "--speed", "--threads", "0"]  # 0: leave torch threads
    for channels in channel_sets:
        args += ["--channels", channels]
    assert main(args) == 0
    out = capsys.readouterr().out

    index = ZooIndex.load(tmp_path / "index")
    for split in SPLITS:
        section = out.split(f"## {split}:")[1].split("##")[0]
        queries, answers, kind = load_split(shared_data, split, QUERIES)
        assert f"{QUERIES} queries, kind {kind}" in section
        for channels in channel_sets:
            label = channels.replace(",", "+")
            row = re.search(rf"^{re.escape(label)}\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", section, re.M)
            assert row, f"no {label} row for {split}"
            expected = score(evaluate(index, queries, kind, tuple(channels.split(","))), answers)
            assert [float(x) for x in row.groups()] == [round(v, 3) for v in
                                                         (expected.r1, expected.r5, expected.r10, expected.mrr10)]
    speed = out.split("## speed")[1]
    throughput = re.search(r"(\d+) chunk texts/s, (\d+) entries/s", speed)
    assert throughput and int(throughput.group(1)) > 0
    assert re.search(r"query encode: p50 [\d.]+ ms", speed) and re.search(r"search .*p50 [\d.]+ ms", speed)
    added = re.search(r"incremental add: (\d+) entries .* in ([\d.]+)s with warm embeddings, ([\d.]+)s cold", speed)
    assert added and int(added.group(1)) == sum(e.kind == "lora" for e in index.entries)
    # The benchmark's removals and re-adds stay in memory: the index folder still holds what was built.
    assert (index.counts(), len(index.store)) == (built_counts, built_vectors)


def test_score_counts_ranks_within_the_top_ten_only():
    ranked = [[5, 1, 2], [4, 3], [9], list(range(100, 110)) + [7]]
    metrics = score(ranked, [1, 4, 7, 7])
    assert (metrics.n, metrics.r1, metrics.r5, metrics.r10) == (4, 0.25, 0.5, 0.5)
    assert abs(metrics.mrr10 - (1 / 2 + 1) / 4) < 1e-12
    assert score([], []).r10 == 0.0


def test_bands_group_queries_by_their_target_model_example_prompts():
    from polaris_core.zoo.entry import ZooEntry

    assert [prompt_band(n) for n in (0, 1, 3, 4, 10, 11, 500)] == ["0", "1-3", "1-3", "4-10", "4-10", ">10", ">10"]
    entries = [ZooEntry(id="a1", kind="lora", name="a", civitai_model_id=1, example_prompts=["x"] * 2),
               ZooEntry(id="a2", kind="lora", name="a", civitai_model_id=1, example_prompts=["y"] * 3),
               ZooEntry(id="b", kind="lora", name="b", civitai_model_id=2)]
    counts = model_prompt_counts(entries)
    assert counts == {1: 5, 2: 0}  # summed over a model's versions
    bands = band_scores([[1], [3, 2], [1]], [1, 2, 2], counts)
    assert set(bands) == {"4-10", "0"}
    assert (bands["4-10"].n, bands["4-10"].r1) == (1, 1.0)
    assert (bands["0"].n, bands["0"].r1, bands["0"].r10, bands["0"].mrr10) == (2, 0.0, 0.5, 0.25)


def test_bench_expansion_cv_prints_before_and_after_by_band(shared_data, fixture_cache, tmp_path, capsys):
    entries = catalog_subset(shared_data, fixture_cache)
    ZooIndex.build(entries, tmp_path / "index", cache=embedding_cache(fixture_cache), expansion=None)
    args = ["bench", "retrieval", "--index", str(tmp_path / "index"), "--data", str(shared_data), "--limit", "5",
            "--cache", str(fixture_cache), "--threads", "0", "--channels", "lexical,dense", "--split", "lora",
            "--expansion", "cv", "--folds", "3"]
    assert main(args) == 0
    out = capsys.readouterr().out
    sparse_count = sum(not e.example_prompts for e in entries)
    assert f"{sparse_count} entries with <= 0 example prompts" in out
    assert "# before expansion" in out and "# after expansion" in out
    summary = out.split("# before -> after")[1]
    assert re.search(r"all n=5 +[\d.]+ -> [\d.]+", summary)
