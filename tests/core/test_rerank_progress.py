"""Tree rerank reports progress as its packs finish, over every slot and round (the node's bar moves)."""
from __future__ import annotations

import pytest
import torch

from polaris_core.candidates import Candidate, Candidates
from polaris_core.intent import Intent, InstructionType
from polaris_core.llm import load_llm
from polaris_core.rerank import TreeReranker
from polaris_core.zoo.entry import ZooEntry

INTENT = Intent(instruction="turn the dog into a tiger", instruction_type=InstructionType.REPLACE, subject="dog",
                generation_prompt="a bengal tiger lying on the grass")
TEXTS = ["Bengal tigers, orange fur with black stripes.", "Golden retriever dog.", "Watercolor washes on paper.",
         "Detail tweaker for fine detail.", "Tiger costume with ears and tail.", "Snow leopard in the mountains.",
         "Cartoon cats with big eyes.", "Photoreal wildlife portraits."]


def _candidate(i: int, slot: str) -> Candidate:
    kind = "checkpoint" if slot == "checkpoint" else "lora"
    entry = ZooEntry(id=f"p:{slot}:{i}", kind=kind, name=f"Model {i}", role="style" if slot == "style_lora" else
                     "object", base_family="sd15", description=TEXTS[i % len(TEXTS)])
    return Candidate(entry=entry, slot=slot, score=1.0 - i / 20)


@pytest.fixture(scope="module")
def reranker(smollm2_folder) -> TreeReranker:
    torch.set_num_threads(1)
    # Small packs and one pack per forward: several forwards per round, as a large zoo has on real budgets.
    return TreeReranker(load_llm(smollm2_folder), description_tokens=(8, 24), max_branch_tokens=64,
                        pack_tokens=80, packs_per_forward=1, mode="tree")


def test_rerank_all_reports_every_pack_with_increasing_values(reranker):
    candidates = Candidates(intent=INTENT, checkpoints=[_candidate(i, "checkpoint") for i in range(3)],
                            style_loras=[_candidate(i, "style_lora") for i in range(2)],
                            object_loras=[_candidate(i, "object_lora") for i in range(8)])
    steps: list[tuple[int, int]] = []
    forwards = []
    original = reranker._score_round

    def counting_round(*args, **kwargs):
        scores, passes = original(*args, **kwargs)
        forwards.append(passes.forwards)
        return scores, passes

    reranker._score_round = counting_round
    try:
        ranked = reranker.rerank_all(candidates, keep=2, on_step=lambda i, n: steps.append((i, n)))
    finally:
        del reranker._score_round
    assert [len(ranked.checkpoints), len(ranked.style_loras), len(ranked.object_loras)] == [3, 2, 8]
    totals = {n for _, n in steps}
    assert len(totals) == 1
    total = totals.pop()
    # Scorings planned per slot (two rounds unless keep=2 survive already): checkpoints 3 then 2, style 2,
    # objects 8 then ceil(8/3) = 3.
    assert total == (3 + 2) + 2 + (8 + 3)
    values = [i for i, _ in steps]
    assert values[0] == 0 and values[-1] == total and values == sorted(values)
    assert sum(forwards) >= 6  # several packs per round: progress would otherwise sit still
    moves = [b for a, b in zip(values, values[1:]) if b > a]
    assert len(moves) >= sum(forwards) - 1  # the bar moves as each forward (pack group) finishes
