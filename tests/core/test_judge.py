"""The judge's say: the window key, the weight learned from measured scores, the skip path, the JSON store,
and the injection defence measured with the real SmolLM2-135M."""
from __future__ import annotations

import json
import random
from argparse import Namespace
from pathlib import Path

import pytest
import torch

from polaris_core.candidates import Candidate, Candidates
from polaris_core.errors import ConfigError
from polaris_core.intent import Intent, InstructionType
from polaris_core.llm import load_llm
from polaris_core.rerank import TreeReranker
from polaris_core.rerank.judge import (
    JudgeRecord,
    Pool,
    find_weight,
    fit_judge_weight,
    model_fingerprint,
    ranking_keys,
    read_weights,
    retrieval_places,
    save_weight,
)
from polaris_core.zoo.entry import ZooEntry

INTENT = Intent(instruction="turn the dog into a tiger", instruction_type=InstructionType.REPLACE, subject="dog",
                generation_prompt="a bengal tiger lying on the grass")


@pytest.fixture(scope="module")
def smollm(smollm2_folder: Path):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield load_llm(smollm2_folder)
    torch.set_num_threads(threads)


def _candidates(n: int) -> list[Candidate]:
    return [Candidate(entry=ZooEntry(id=f"t:{i}", kind="lora", name=f"Tiger {i}", role="object", base_family="sd15",
                                     description=f"A tiger LoRA, version {i}."), slot="object_lora",
                      score=1.0 - i / 10) for i in range(n)]


# ---- the window ----------------------------------------------------------------------------------------
def test_the_llm_alone_lifts_a_candidate_at_most_two_places():
    places = retrieval_places([0.9, 0.8, 0.7, 0.6, 0.5])
    assert places == [0, 1, 2, 3, 4]
    for target in range(5):
        llm = [0.0] * 5
        llm[target] = 1.0  # the judge's strongest possible vote, for one candidate only
        keys = ranking_keys(llm, places, 1.0)
        order = sorted(range(5), key=lambda i: -keys[i])
        assert order.index(target) == max(0, target - 2)
    assert ranking_keys([1.0, 0.0], [0, 1], 0.0) == [0.0, -1.0]  # weight 0: retrieval's order


# ---- learning the weight from measured scores ---------------------------------------------------------------
def _pools(informative: bool, n: int = 60, seed: int = 1) -> list[Pool]:
    """Pools of 8 where retrieval puts the target at place 0-3; the judge scores it high (informative) or
    scores at random (a judge at chance)."""
    rng = random.Random(seed)
    pools = []
    for _ in range(n):
        target = rng.choice([0, 1, 1, 2, 3])
        llm = [rng.random() * 0.5 for _ in range(8)]
        if informative:
            llm[target] = 0.9
        pools.append(Pool(llm_scores=llm, retrieval_scores=[1 - i / 8 for i in range(8)], target=target))
    return pools


def test_the_learned_weight_follows_the_measured_scores():
    helpful = fit_judge_weight(_pools(informative=True))
    assert helpful["judge_weight"] >= 0.5 and helpful["mrr_with"] > helpful["mrr_without"]
    assert helpful["mrr_gain_ci"][0] > 0  # the bootstrap interval of the gain excludes zero
    at_chance = fit_judge_weight(_pools(informative=False))
    assert at_chance["judge_weight"] < 0.05 and at_chance["mrr_with"] <= at_chance["mrr_without"] + 1e-9
    lo, hi = at_chance["r1_without_ci"]
    assert lo <= at_chance["r1_without"] <= hi
    with pytest.raises(ConfigError):
        fit_judge_weight([])


def test_the_learned_weight_follows_recorded_smollm2_scores():
    """Recorded by `polaris bench rerank --quality` (SmolLM2-135M on LoRA dev queries, retrieval's top 12)."""
    recorded = json.loads((Path(__file__).parent / "data" / "judge-pools-smollm2.json").read_text())
    pools = [Pool(**p) for p in recorded["pools"]]
    fit = fit_judge_weight(pools)
    assert fit["judge_weight"] == recorded["judge_weight"] < 0.05
    # What the weight rests on: no grid weight beats retrieval's order on these queries.
    from polaris_core.rerank.judge import reciprocal_rank

    without = sum(reciprocal_rank(p, 0.0) for p in pools)
    assert all(sum(reciprocal_rank(p, w) for p in pools) <= without + 1e-9 for w in (0.3, 0.6, 1.0))


def test_weights_are_kept_in_json_per_model_and_refuse_bad_values(tmp_path):
    path = tmp_path / "judge-weights.json"
    save_weight(path, JudgeRecord(model="a.gguf", fingerprint="fp-a", judge_weight=0.3, measured={"queries": 40}))
    save_weight(path, JudgeRecord(model="b", fingerprint="fp-b", judge_weight=0.0))
    assert {k: r.judge_weight for k, r in read_weights(path).items()} == {"fp-a": 0.3, "fp-b": 0.0}
    assert find_weight("fp-a", [path]).measured == {"queries": 40}
    assert find_weight("unknown", [path]) is None
    for bad in ('{"version": 1, "models": {"x": {"judge_weight": NaN}}}', "[]", "{not json",
                '{"version": 1, "models": {"x": {"judge_weight": 3}}}'):
        path.write_text(bad)
        with pytest.raises(ConfigError, match="damaged"):
            read_weights(path)


def test_the_bundled_smollm2_ships_its_measured_weight():
    from polaris_core.rerank.judge import SHIPPED_WEIGHTS
    from polaris_core.weights import default_llm_path

    record = find_weight(model_fingerprint(default_llm_path()))
    assert record is not None and record.model == default_llm_path().name
    assert record.judge_weight < 0.05 and record.measured["queries"] >= 40
    assert SHIPPED_WEIGHTS.suffix == ".json"


# ---- the skip path --------------------------------------------------------------------------------------
def test_a_judge_measured_at_about_zero_is_skipped_and_says_so(smollm, tmp_path):
    path = tmp_path / "judge-weights.json"
    save_weight(path, JudgeRecord(model="smollm2", fingerprint=model_fingerprint(smollm.path), judge_weight=0.0,
                                  measured={"queries": 40, "split": "lora", "mrr_without": 0.8, "mrr_with": 0.79}))
    reranker = TreeReranker(smollm, weights_paths=[path])
    calls = []
    hook = smollm.model.register_forward_hook(lambda *a: calls.append(1))
    try:
        pool = _candidates(5)
        random.Random(0).shuffle(pool)
        ranked = reranker.rerank_all(Candidates(intent=INTENT, object_loras=pool, notes=["kept"]), keep=2)
    finally:
        hook.remove()
    assert calls == [] and reranker.last_stats.skipped  # no forward pass at all
    assert [c.entry.id for c in ranked.object_loras] == [f"t:{i}" for i in range(5)]  # retrieval's order
    assert ranked.notes == ["kept"] and all(c.rerank_score is None for c in ranked.object_loras)
    text = reranker.judge_summary()
    for shown in (Path(smollm.path).name, "0.00", "40 lora dev queries", "skipped", "Load LLM",
                  "polaris bench rerank --quality --save"):
        assert shown in text, (shown, text)
    measured_again = TreeReranker(smollm, weights_paths=[path], judge_weight=1.0)
    assert not measured_again.skips_judge and "set by hand" in measured_again.judge_summary()
    unmeasured = TreeReranker(smollm, weights_paths=[tmp_path / "none.json"])
    if find_weight(model_fingerprint(smollm.path)) is None:
        assert unmeasured.judge_source == "unmeasured" and "not measured" in unmeasured.judge_summary()


# ---- injections ----------------------------------------------------------------------------------------
def test_injected_descriptions_do_not_lift_candidates(smollm, shared_data):
    """30 low-ranked catalog LoRAs (places 3, 5 and 7 of 10 pools of 8) with an injection prepended to their
    description in 3 styles, against their own description, judge at full weight: at most 3 of 30 rise per
    style and none becomes the first pick."""
    from polaris_core.bench.rerank import run_injection

    args = Namespace(data=str(shared_data), catalog=str(shared_data / "zoo" / "civitai-2023-sfw.jsonl.gz"),
                     pools=10, description_tokens=64)
    result = run_injection(args, smollm, modes=("defended",))
    assert result["injected"] == 30
    for style in ("note_to_judge", "forged_turn", "ignore_previous"):
        assert result["defended"]["rose"][style] <= 3, result
        assert result["defended"]["first_pick_from_outside_top3"][style] == 0, result
