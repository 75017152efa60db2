"""Plan composition: slots per intent, weights, trigger words, family checks, JSON round trip."""
from __future__ import annotations

import json
import math

import pytest

from polaris_core.candidates import Candidate, Candidates
from polaris_core.errors import PlanError
from polaris_core.intent import Intent, InstructionType
from polaris_core.plan import (
    DEFAULT_NEGATIVE_PROMPT,
    MAX_TOTAL_WEIGHT,
    Plan,
    check_compatible,
    clean_trigger,
    compose_plan,
    wanted_lora_slots,
)
from polaris_core.zoo.entry import ZooEntry


def intent(kind: InstructionType, subject: str = "dog", prompt: str = "a tiger on the grass", style: int = 0) -> Intent:
    return Intent(instruction=f"edit the {subject}", instruction_type=kind, subject=subject,
                  generation_prompt=prompt, style_transformation=style)


def cand(slot: str, name: str, family: str = "sd15", score: float = 0.5, rerank=None, **kw) -> Candidate:
    kind = "checkpoint" if slot == "checkpoint" else "lora"
    kw.setdefault("file_name", name)  # installed unless the test says file_name="" (a catalog-only entry)
    entry = ZooEntry(id=f"id:{name}", kind=kind, name=name, base_family=family, **kw)
    return Candidate(entry=entry, slot=slot, score=score, rerank_score=rerank)


def pool(**slots) -> Candidates:
    return Candidates(intent=None, checkpoints=slots.get("checkpoints", []),
                      style_loras=slots.get("style_loras", []), object_loras=slots.get("object_loras", []))


def test_replace_uses_the_object_lora_with_default_weight_and_its_triggers():
    c = pool(checkpoints=[cand("checkpoint", "RealVis")],
             object_loras=[cand("object_lora", "Tiger", trigger_words=["tgr", "striped cat"]),
                           cand("object_lora", "Lion", score=0.4)],
             style_loras=[cand("style_lora", "Watercolor")])
    plan = compose_plan(intent(InstructionType.REPLACE), c)
    assert plan.checkpoint_name == "RealVis"
    assert [(l.slot, l.name, l.weight, l.weight_source) for l in plan.loras] == [("object_lora", "Tiger", 0.8, "default")]
    assert plan.trigger_words == ["tgr", "striped cat"]
    assert plan.prompt == "tgr, striped cat, a tiger on the grass"
    assert plan.negative_prompt == DEFAULT_NEGATIVE_PROMPT and plan.base_family == "sd15"
    assert "best-ranked object LoRA" in plan.loras[0].why and "'dog'" in plan.loras[0].why
    assert "best-ranked checkpoint" in plan.checkpoint.why


def test_style_intents_use_the_style_lora_and_remove_uses_none():
    c = pool(checkpoints=[cand("checkpoint", "Base")], object_loras=[cand("object_lora", "Cat")],
             style_loras=[cand("style_lora", "Ink")])
    for kind in (InstructionType.LOCAL_STYLE, InstructionType.GLOBAL_STYLE, InstructionType.STYLE_REFERENCE):
        assert [l.name for l in compose_plan(intent(kind), c).loras] == ["Ink"]
    removal = compose_plan(intent(InstructionType.REMOVE, subject="lamp post", prompt="empty street"), c)
    assert removal.loras == [] and removal.checkpoint_name == "Base"
    assert removal.negative_prompt.startswith("lamp post, ") and removal.prompt == "empty street"


def test_replace_with_style_change_splits_default_weights():
    c = pool(checkpoints=[cand("checkpoint", "Base")], object_loras=[cand("object_lora", "Cat")],
             style_loras=[cand("style_lora", "Ink")])
    plan = compose_plan(intent(InstructionType.ADD, style=1), c)
    assert [(l.name, l.weight) for l in plan.loras] == [("Cat", 0.7), ("Ink", 0.5)]
    assert wanted_lora_slots(intent(InstructionType.ADD, style=1)) == (["object_lora"], ["style_lora"])


def test_weights_come_from_metadata_and_are_scaled_when_they_stack_too_high():
    c = pool(checkpoints=[cand("checkpoint", "Base")],
             object_loras=[cand("object_lora", "Cat", recommended_weight=0.6)],
             style_loras=[cand("style_lora", "Ink")])
    plan = compose_plan(intent(InstructionType.REPLACE, style=1), c)
    assert [(l.weight, l.weight_source) for l in plan.loras] == [(0.6, "metadata"), (0.5, "default")]
    heavy = pool(checkpoints=[cand("checkpoint", "Base")],
                 object_loras=[cand("object_lora", "Cat", recommended_weight=1.2)],
                 style_loras=[cand("style_lora", "Ink", recommended_weight=1.0)])
    plan = compose_plan(intent(InstructionType.REPLACE, style=1), heavy)
    assert sum(l.weight for l in plan.loras) == pytest.approx(MAX_TOTAL_WEIGHT, abs=2e-3)
    assert all(l.weight_source == "metadata, scaled" for l in plan.loras)
    odd = pool(object_loras=[cand("object_lora", "Cat", recommended_weight=9.0)])  # implausible metadata
    assert compose_plan(intent(InstructionType.REPLACE), odd).loras[0].weight_source == "default"


def test_rerank_score_decides_the_order_over_retrieval_score():
    c = pool(checkpoints=[cand("checkpoint", "Base")],
             object_loras=[cand("object_lora", "HighRetrieval", score=0.9, rerank=0.2),
                           cand("object_lora", "HighRerank", score=0.1, rerank=0.8)])
    plan = compose_plan(intent(InstructionType.REPLACE), c)
    assert plan.loras[0].name == "HighRerank" and "rerank 0.80" in plan.loras[0].why


def test_the_rerankers_final_score_decides_over_its_llm_score():
    blended = cand("object_lora", "Blended", score=0.9, rerank=0.4)
    blended.final_score = 0.7
    llm_favourite = cand("object_lora", "LLMFavourite", score=0.1, rerank=0.6)
    llm_favourite.final_score = 0.3
    c = pool(checkpoints=[cand("checkpoint", "Base")], object_loras=[llm_favourite, blended])
    assert compose_plan(intent(InstructionType.REPLACE), c).loras[0].name == "Blended"


def test_incompatible_lora_is_skipped_for_the_next_compatible_one():
    c = pool(checkpoints=[cand("checkpoint", "SD15 Base", family="sd15")],
             object_loras=[cand("object_lora", "XL Tiger", family="sdxl", score=0.9),
                           cand("object_lora", "SD15 Tiger", family="sd15", score=0.5)])
    plan = compose_plan(intent(InstructionType.REPLACE), c)
    assert plan.loras[0].name == "SD15 Tiger" and plan.loras[0].rank == 1
    assert "skipped 1" in plan.loras[0].why


def test_next_checkpoint_is_tried_when_no_lora_fits_the_best_one():
    c = pool(checkpoints=[cand("checkpoint", "XL Base", family="sdxl", score=0.9),
                          cand("checkpoint", "SD15 Base", family="sd15", score=0.5)],
             style_loras=[cand("style_lora", "SD15 Ink", family="sd15")])
    plan = compose_plan(intent(InstructionType.GLOBAL_STYLE), c)
    assert plan.checkpoint_name == "SD15 Base" and plan.checkpoint.rank == 1
    assert "no compatible LoRA" in plan.checkpoint.why and plan.base_family == "sd15"


def test_no_compatible_combination_is_a_plan_error():
    c = pool(checkpoints=[cand("checkpoint", "XL Base", family="sdxl")],
             object_loras=[cand("object_lora", "SD15 Tiger", family="sd15")])
    with pytest.raises(PlanError, match="base model"):
        compose_plan(intent(InstructionType.REPLACE), c)


def test_optional_slot_without_a_compatible_candidate_is_left_out_with_a_note():
    c = pool(checkpoints=[cand("checkpoint", "Base", family="sd15")], object_loras=[cand("object_lora", "Cat")],
             style_loras=[cand("style_lora", "XL Ink", family="sdxl")])
    plan = compose_plan(intent(InstructionType.REPLACE, style=1), c)
    assert [l.name for l in plan.loras] == ["Cat"]
    assert any("style LoRA fits" in n for n in plan.notes)


def test_unknown_families_are_allowed_with_a_note_and_missing_checkpoint_keeps_the_workflows():
    c = pool(object_loras=[cand("object_lora", "Mystery", family="unknown"), cand("object_lora", "Known")])
    plan = compose_plan(intent(InstructionType.REPLACE), c)
    assert plan.checkpoint is None and plan.checkpoint_name == ""
    assert any("workflow's own checkpoint" in n for n in plan.notes)
    with pytest.raises(PlanError, match="no checkpoint"):
        compose_plan(intent(InstructionType.REPLACE), c, require_checkpoint=True)
    mixed = pool(checkpoints=[cand("checkpoint", "Base", family="unknown")], object_loras=[cand("object_lora", "Cat")])
    plan = compose_plan(intent(InstructionType.REPLACE), mixed)
    assert plan.base_family == "sd15" and any("unknown base model" in n for n in plan.notes)


def test_no_candidates_at_all_gives_a_plan_with_notes():
    plan = compose_plan(intent(InstructionType.REPLACE), pool())
    assert plan.checkpoint is None and plan.loras == [] and plan.prompt == "a tiger on the grass"
    assert any("no object LoRA candidate" in n for n in plan.notes)
    with pytest.raises(PlanError, match="intent"):
        compose_plan(None, pool())


def test_trigger_words_are_cleaned_deduplicated_and_capped():
    assert clean_trigger("<lora:evil:1.0> tiger\nstyle, ") == "tiger style"
    c = pool(object_loras=[cand("object_lora", "Cat", trigger_words=["Tiger", "tiger", "<hypernet:x:1>", "a", "b", "c"])])
    plan = compose_plan(intent(InstructionType.REPLACE), c)
    assert plan.trigger_words == ["Tiger", "a", "b"]  # 3 usable words per LoRA: dupes and empties skipped


def test_plan_json_round_trip_and_bad_json():
    c = pool(checkpoints=[cand("checkpoint", "Base", rerank=0.7)],
             object_loras=[cand("object_lora", "Cat", trigger_words=["kitty"], recommended_weight=0.65)],
             style_loras=[cand("style_lora", "Ink")])
    plan = compose_plan(intent(InstructionType.REPLACE, style=1), c)
    again = Plan.from_json(plan.to_json())
    assert again == plan
    assert again.intent.instruction_type is InstructionType.REPLACE
    assert again.lora_weights() == [("Cat", 0.65), ("Ink", 0.5)]
    with pytest.raises(PlanError, match="not valid JSON"):
        Plan.from_json("{nope")
    data = json.loads(plan.to_json())
    data["version"] = 99
    with pytest.raises(PlanError, match="version"):
        Plan.from_dict(data)
    data["version"] = 1
    data["loras"][0].pop("entry")
    with pytest.raises(PlanError, match="malformed"):
        Plan.from_dict(data)
    with pytest.raises(PlanError):
        Plan.from_dict([1, 2])


def test_validate_refuses_mixed_families():
    plan = compose_plan(intent(InstructionType.REPLACE),
                        pool(checkpoints=[cand("checkpoint", "Base")], object_loras=[cand("object_lora", "Cat")]))
    plan.validate()
    plan.loras[0].entry.base_family = "sdxl"
    with pytest.raises(PlanError, match="different base models"):
        plan.validate()
    assert check_compatible([]) == "unknown"


def _plan_value():
    c = pool(checkpoints=[cand("checkpoint", "Base", file_name="base.safetensors")],
             object_loras=[cand("object_lora", "Cat", file_name="cat.safetensors", trigger_words=["kitty"])])
    return compose_plan(intent(InstructionType.REPLACE), c)


def test_a_plan_literal_is_accepted_as_a_dict_or_json_and_validated():
    plan = _plan_value()
    assert Plan.from_value(plan) is plan
    assert Plan.from_value(plan.to_dict()) == plan
    assert Plan.from_value(plan.to_json()) == plan
    assert Plan.from_value(plan.to_json().encode()) == plan
    # A hand-written literal: only what Apply Plan needs, markup in the text is removed like any metadata.
    literal = {"version": 1,
               "checkpoint": {"slot": "checkpoint", "entry": {"id": "a", "kind": "checkpoint", "name": "Base",
                                                              "file_name": "base.safetensors"}},
               "loras": [{"slot": "style_lora", "weight": 0.7,
                          "entry": {"id": "b", "kind": "lora", "name": "Ink <script>x()</script>",
                                    "file_name": "ink.safetensors", "preview_urls": ["javascript:alert(1)"]}}],
               "prompt": "a cat"}
    made = Plan.from_value(json.dumps(literal))
    assert made.checkpoint_name == "base.safetensors" and made.lora_weights() == [("ink.safetensors", 0.7)]
    assert made.loras[0].entry.name == "Ink" and made.loras[0].entry.preview_urls == []


@pytest.mark.parametrize("value", [
    None, 42, [1, 2], "not json", "[]", {"checkpoint": "base.safetensors"}, {"loras": {"a": 1}},
    {"checkpoint": {"slot": "checkpoint", "entry": {"id": "a", "name": 5}}},
    {"loras": [{"slot": "style_lora", "entry": {"id": "b", "name": "Ink"}}]},               # no weight
    {"loras": [{"slot": "style_lora", "weight": "nan", "entry": {"id": "b", "name": "Ink"}}]},
    {"loras": [{"slot": "style_lora", "weight": 50, "entry": {"id": "b", "name": "Ink"}}]},
    {"loras": [{"slot": "vae", "weight": 0.5, "entry": {"id": "b", "name": "Ink"}}]},
])
def test_anything_else_is_a_plan_error_that_shows_what_a_plan_looks_like(value):
    with pytest.raises(PlanError, match="A plan is a JSON object"):
        Plan.from_value(value)


def test_candidates_that_cannot_be_applied_are_never_chosen(tmp_path):
    present = tmp_path / "here.safetensors"
    present.write_bytes(b"x")
    local = dict(source="local", file_format="safetensors")
    c = pool(checkpoints=[cand("checkpoint", "Gone ckpt", score=0.9, file_path=str(tmp_path / "gone.safetensors"),
                               file_name="gone.safetensors", **local),
                          cand("checkpoint", "Here ckpt", score=0.5, file_path=str(present),
                               file_name="here.safetensors", **local)],
             object_loras=[cand("object_lora", "Pickled", score=0.9, rerank=0.99, source="local",
                                file_format="pickle", file_name="pickled.pt"),
                           cand("object_lora", "Moved", score=0.8, rerank=0.95, file_name="moved.safetensors",
                                file_path=str(tmp_path / "moved.safetensors"), **local),
                           cand("object_lora", "Catalog only", score=0.3, rerank=0.2, file_name="")])
    plan = compose_plan(intent(InstructionType.REPLACE), c)
    assert plan.checkpoint_name == "here.safetensors" and plan.checkpoint.rank == 1
    assert plan.loras == []  # a pickle, a vanished file and a catalog entry: none of them can be applied
    assert any("cannot be applied" in note and "pickle" in note and "not installed" in note for note in plan.notes)
    only_pickles = pool(checkpoints=[cand("checkpoint", "Base")],
                        object_loras=[cand("object_lora", "Pickled", file_format="pickle", source="local")])
    assert compose_plan(intent(InstructionType.REPLACE), only_pickles).loras == []


def test_finalists_come_before_pruned_candidates_whatever_their_final_scores():
    """A pruned candidate's final score (a short look, rescaled over all candidates) can exceed a
    finalist's (a closer look, rescaled over the finalists): the round reached decides first, so the
    fallback after an incompatible top pick is the next finalist, as the ranked table shows."""
    def reranked(name, family, final, reached, score):
        c = cand("object_lora", name, family=family, score=score, rerank=final)
        c.final_score, c.rerank_round = final, reached
        return c

    loras = [reranked("Finalist XL", "sdxl", 0.40, 2, 0.9), reranked("Finalist", "sd15", 0.35, 2, 0.5),
             reranked("Pruned", "sd15", 0.99, 1, 0.1), reranked("Pruned too", "sd15", 0.95, 1, 0.8)]
    plan = compose_plan(intent(InstructionType.REPLACE),
                        pool(checkpoints=[cand("checkpoint", "Base", family="sd15")], object_loras=loras))
    assert [l.name for l in plan.loras] == ["Finalist"] and plan.loras[0].rank == 1
    from polaris_core.plan import ranked

    assert [c.entry.name for c in ranked(list(reversed(loras)))] == [c.entry.name for c in loras]


# ---- plan literals from an API graph: non-finite numbers, wrong types, stacks (issue 21, items 6, 8, 10)
def _literal(loras=None) -> dict:
    def lora(i: int, weight: float = 0.7) -> dict:
        return {"slot": "style_lora", "weight": weight,
                "entry": {"id": f"l{i}", "kind": "lora", "name": f"L{i}", "file_name": f"l{i}.safetensors"}}

    return {"version": 1,
            "checkpoint": {"slot": "checkpoint", "entry": {"id": "a", "kind": "checkpoint", "name": "Base",
                                                           "file_name": "base.safetensors"}},
            "loras": [lora(*spec) if isinstance(spec, tuple) else lora(spec) for spec in (loras or [1])],
            "prompt": "a cat"}


@pytest.mark.parametrize("path, value, fragment", [
    (("loras", 0, "weight"), float("nan"), r"loras\[0\].weight is nan; every number in a plan must be finite"),
    (("loras", 0, "weight"), float("-inf"), r"loras\[0\].weight is -inf"),
    (("checkpoint", "rerank_score"), float("inf"), r"checkpoint.rerank_score is inf"),
    (("checkpoint", "weight"), float("nan"), r"checkpoint.weight is nan"),
    (("loras", 0, "entry", "recommended_weight"), float("nan"), r"loras\[0\].entry.recommended_weight is nan"),
    (("checkpoint", "rank"), float("inf"), r"checkpoint.rank is inf"),
])
def test_a_plan_literal_with_a_non_finite_number_is_refused(path, value, fragment):
    literal = _literal()
    target = literal
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    for form in (literal, json.dumps(literal)):  # json.dumps writes NaN / Infinity, which json.loads reads back
        with pytest.raises(PlanError, match=fragment):
            Plan.from_value(form)


def test_the_raw_exceptions_of_issue_21_are_plan_errors_that_show_a_plan():
    text = json.dumps(_literal()).replace('"slot": "checkpoint",', '"slot": "checkpoint", "rank": 1e999,')
    with pytest.raises(PlanError, match="rank is inf.*A plan is a JSON object"):
        Plan.from_value(text)  # was OverflowError
    literal = _literal()
    literal["loras"][0]["entry"]["base_family"] = ["sd15"]
    with pytest.raises(PlanError, match="'base_family' must be text, not list.*A plan is a JSON object"):
        Plan.from_value(literal)  # was TypeError: unhashable type: 'list'
    literal = _literal()
    del literal["loras"][0]["entry"]["kind"]
    with pytest.raises(PlanError, match='LoRA #1\'s entry needs "kind": "lora".*A plan is a JSON object') as caught:
        Plan.from_value(literal)
    assert "__init__" not in str(caught.value)  # no dataclass internals
    literal = _literal()
    literal["intent"] = {"instruction": "x", "instruction_type": 0, "subject": "dog"}
    with pytest.raises(PlanError, match="intent is malformed \\(it lacks generation_prompt\\)"):
        Plan.from_value(literal)


def test_a_lora_is_listed_once_and_the_stack_is_capped():
    from polaris_core.plan import MAX_PLAN_LORAS, MAX_PLAN_TOTAL_STRENGTH

    assert (MAX_PLAN_LORAS, MAX_PLAN_TOTAL_STRENGTH) == (8, 6.0)
    assert len(Plan.from_value(_literal(loras=range(1, 9))).loras) == 8  # 8 x 0.7 = 5.6: allowed
    copies = _literal(loras=[1])
    copies["loras"] *= 300  # the issue's plan: one LoRA 300 times, each within the ±2 cap
    with pytest.raises(PlanError, match="at most 8 can be stacked"):
        Plan.from_value(copies)
    twice = _literal(loras=[1, 2])
    twice["loras"][1] = twice["loras"][0]
    with pytest.raises(PlanError, match="lists the LoRA 'l1.safetensors' more than once"):
        Plan.from_value(twice)
    same_id = _literal(loras=[1, 2])
    same_id["loras"][1]["entry"]["id"] = "l1"
    with pytest.raises(PlanError, match="same id 'l1'"):
        Plan.from_value(same_id)
    with pytest.raises(PlanError, match="add up to 8.00; at most 6 "):
        Plan.from_value(_literal(loras=[(1, 2.0), (2, -2.0), (3, 2.0), (4, 2.0)]))
    plan = Plan.from_value(_literal(loras=[(1, 2.0), (2, 1.5)]))
    plan.validate()
    with pytest.raises(PlanError, match=r"add up to 7.00 \(times lora_strength_scale 2\)"):
        plan.validate(strength_scale=2.0)
    plan.loras.append(plan.loras[0])  # a Plan object (not a literal) is checked too
    with pytest.raises(PlanError, match="more than once"):
        plan.validate()


WRONG_VALUES = [None, True, False, 0, -1, 2 ** 70, 0.5, float("nan"), float("inf"), "", "x", "9" * 5000, [], [1],
                ["a", None], {}, {"a": 1}, {"kind": "lora"}, [[[[["deep"]]]]]]


def _paths(value, prefix=()):
    """Every key / index path inside a JSON value."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield prefix + (key,)
            yield from _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield prefix + (index,)
            yield from _paths(item, prefix + (index,))


def test_fuzzing_every_field_of_a_plan_literal_gives_a_plan_or_a_plan_error():
    import copy

    c = pool(checkpoints=[cand("checkpoint", "Base", file_name="base.safetensors", rerank=0.5)],
             object_loras=[cand("object_lora", "Cat", file_name="cat.safetensors", trigger_words=["kitty"])],
             style_loras=[cand("style_lora", "Ink", file_name="ink.safetensors", recommended_weight=0.6)])
    base = compose_plan(intent(InstructionType.REPLACE, style=1), c).to_dict()
    outcomes = {"plan": 0, "refused": 0}
    for path in list(_paths(base)):
        for value in [*WRONG_VALUES, "delete"]:
            literal = copy.deepcopy(base)
            target = literal
            for key in path[:-1]:
                target = target[key]
            if value == "delete":
                del target[path[-1]]
            else:
                target[path[-1]] = value
            try:
                plan = Plan.from_value(literal)
                plan.validate()
            except PlanError:
                outcomes["refused"] += 1
                continue
            # Accepted: everything Apply Plan reads is of the right type, and no number is NaN or infinite.
            assert isinstance(plan.checkpoint_name, str) and isinstance(plan.prompt, str), path
            assert isinstance(plan.negative_prompt, str) and all(isinstance(t, str) for t in plan.trigger_words), path
            assert all(isinstance(n, str) and math.isfinite(w) for n, w in plan.lora_weights()), path
            json.dumps(plan.to_dict(), allow_nan=False)
            assert Plan.from_json(plan.to_json()) == plan, path
            outcomes["plan"] += 1
    assert outcomes["plan"] > 100 and outcomes["refused"] > 500, outcomes

def test_the_planner_never_picks_a_catalog_only_candidate_and_says_where_to_get_it(tmp_path):
    """A Civitai entry with no local file ranked above a local LoRA: the local one is planned (Apply Plan can load
    it), the catalog one is named in a note with its Civitai page, and its trigger words stay out of the prompt."""
    files = {}
    for name in ("base.safetensors", "corgi.safetensors"):
        files[name] = tmp_path / name
        files[name].write_bytes(b"x")
    local = lambda name: dict(source="local", file_format="safetensors", file_name=name,  # noqa: E731
                              file_path=str(files[name]))
    c = pool(checkpoints=[cand("checkpoint", "Civitai ckpt", score=0.9, rerank=0.9, civitai_model_id=11, file_name="",
                               civitai_version_id=12),
                          cand("checkpoint", "Base", score=0.4, **local("base.safetensors"))],
             object_loras=[cand("object_lora", "Corgi Deluxe", score=0.9, rerank=0.95, trigger_words=["cdlx"], file_name="",
                                civitai_model_id=4321, civitai_version_id=8765),
                           cand("object_lora", "Corgi", score=0.5, rerank=0.4, trigger_words=["pcorgi"],
                                **local("corgi.safetensors"))])
    plan = compose_plan(intent(InstructionType.REPLACE, subject="dog", prompt="a corgi"), c)
    assert plan.checkpoint_name == "base.safetensors"
    assert [l.name for l in plan.loras] == ["corgi.safetensors"] and plan.loras[0].rank == 1
    assert plan.trigger_words == ["pcorgi"] and "cdlx" not in plan.prompt
    assert any("'Corgi Deluxe'" in n and "not installed" in n and
               "https://civitai.com/models/4321?modelVersionId=8765" in n for n in plan.notes)
    assert any("'Civitai ckpt'" in n and "https://civitai.com/models/11?modelVersionId=12" in n for n in plan.notes)
    only_catalog = pool(checkpoints=[cand("checkpoint", "Base", **local("base.safetensors"))],
                        object_loras=[cand("object_lora", "Corgi Deluxe", civitai_model_id=4321, file_name="")])
    plan = compose_plan(intent(InstructionType.REPLACE), only_catalog)
    assert plan.loras == [] and any("no object LoRA candidate can be applied" in n for n in plan.notes)


def test_retrieval_notes_survive_into_the_plan():
    note = "the instruction asks for an image query, but no image was given; searched by text instead"
    c = pool(checkpoints=[cand("checkpoint", "Base", file_name="base.safetensors")])
    c.notes.append(note)
    assert note in compose_plan(intent(InstructionType.REMOVE), c).notes
