"""The chained stages: index build-or-update over the demo zoo, then parse → retrieve → rerank → plan."""
from __future__ import annotations

import pytest

from polaris_core.errors import ConfigError
from polaris_core.pipeline import build_or_update_index, demo_index


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return demo_index(tmp_path_factory.mktemp("demo") / "index", cache_dir=tmp_path_factory.mktemp("cache"))


def test_demo_index_builds_then_updates_in_place(demo):
    assert demo.created and demo.added == len(demo.index) > 40
    again = demo_index(demo.index.folder, cache_dir=demo.index.folder.parent.parent / "cache-2")
    assert not again.created
    assert again.added == again.updated == again.removed == 0
    assert again.unchanged == len(demo.index)


def test_nothing_to_index_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="Nothing to index"):
        build_or_update_index(tmp_path / "empty")


def test_pipeline_ranks_the_demo_zoo_and_plans_only_installed_models(demo):
    from polaris_core.llm import load_llm
    from polaris_core.pipeline import run_pipeline
    from polaris_core.rerank import TreeReranker

    result = run_pipeline("Turn the dog into a corgi", demo.index, TreeReranker(load_llm(), judge_weight=1.0), k_checkpoints=2,
                          k_loras=3, keep=1)
    plan = result.plan
    assert result.intent.instruction_type == 0 and result.intent.subject == "dog"
    # The demo zoo's models are catalog entries with no file: shown and named in the notes, never planned.
    assert plan.checkpoint is None and plan.loras == []
    best = result.ranked.object_loras[0].entry.name
    assert any(best[:80] in note and "not installed" in note for note in plan.notes)
    assert all(c.rerank_score is not None for c in result.ranked.checkpoints)
