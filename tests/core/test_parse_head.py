"""The offline parser's type head: real all-MiniLM-L6-v2, the shipped JSON weights, the project's instruction set."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from polaris_core.errors import ConfigError
from polaris_core.intent import InstructionType, describe_intent
from polaris_core.parse import get_parser, parse
from polaris_core.parse.head import HEAD_FILE, HEAD_FILE_NO_DEV, TypeHead, load_head
from polaris_core.parse.head_training import certain_rules, fit_logreg, group_folds, project_rows
from polaris_core.parse.training_set import DATA_FILE, build_rows, load_rows

DATA = Path(__file__).parent / "data"
T = InstructionType


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# ----------------------------------------------------------------------------- the training set
def test_instruction_set_is_large_labelled_and_grouped():
    rows = load_rows()
    assert len(rows) >= 3000
    counts = np.bincount([r["instruction_type"] for r in rows], minlength=6)
    assert all(counts >= 200), counts
    families: dict[str, set[int]] = {}
    for row in rows:
        assert row["instruction"].strip() and row["subject"].strip() and row["family"] and row["template"]
        families.setdefault(row["family"], set()).add(row["instruction_type"])
    assert all(len(types) == 1 for types in families.values())  # a family is one edit
    assert np.mean([len([r for r in rows if r["family"] == f]) for f in list(families)[:200]]) > 3
    assert len({r["template"] for r in rows}) >= 200
    assert len({r["instruction"].lower() for r in rows}) == len(rows)


def test_shipped_set_is_what_the_generator_writes():
    assert build_rows() == load_rows(DATA_FILE)


def test_dev_split_wording_is_not_in_the_set(shared_data):
    dev = {r["instruction"].lower().strip(" .") for r in _rows(shared_data / "bench" / "instructions-dev.jsonl")}
    ours = {r["instruction"].lower().strip(" .") for r in load_rows()}
    assert not dev & ours


# ----------------------------------------------------------------------------- weights and training
@pytest.mark.parametrize("path", [HEAD_FILE, HEAD_FILE_NO_DEV])
def test_weights_are_small_json_and_load(path):
    assert path.stat().st_size < 700_000
    head = load_head(path)
    inner = head.width if head.hidden_weights is None else head.hidden_weights.shape[0]
    assert head.weights.shape == (6, inner) and 0.1 < head.temperature < 10
    assert head.certain_rules and all(p >= 0.99 for p in head.certain_rules.values())
    assert "dev" in head.meta["trained_on"] if path == HEAD_FILE else head.meta["trained_on"] == "project set"


def test_bad_weights_are_refused(tmp_path):
    broken = tmp_path / "head.json"
    broken.write_text('{"weights": [[1, 2]], "bias": [0]}', encoding="utf-8")
    with pytest.raises(ConfigError, match="train_parse_head"):
        load_head(broken)
    broken.write_text("not json", encoding="utf-8")
    with pytest.raises(ConfigError):
        load_head(broken)
    with pytest.raises(ConfigError):
        load_head(tmp_path / "missing.json")


def test_training_is_deterministic_and_learns():
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(6, 390))
    labels = np.repeat(np.arange(6), 40)
    features = (centres[labels] + 0.8 * rng.normal(size=(240, 390))).astype(np.float32)
    first = fit_logreg(features, labels, iterations=60)
    second = fit_logreg(features, labels, iterations=60)
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    head = TypeHead(*first)
    assert np.mean(head.probabilities(features).argmax(1) == labels) > 0.95
    shuffled = fit_logreg(features, np.roll(labels, 7), iterations=60)
    assert not np.array_equal(shuffled[0], first[0])


def test_folds_keep_a_group_together_and_certain_rules_need_support():
    groups = [f"f{i // 5}" for i in range(100)]
    folds = group_folds(groups, 5)
    for g in set(groups):
        assert len({folds[i] for i in range(100) if groups[i] == g}) == 1
    assert len(set(folds)) == 5
    names = ["remove"] * 30 + ["make-x-y"] * 30 + ["rare"] * 5
    predicted = np.array([5] * 30 + [2] * 30 + [1] * 5)
    labels = np.array([5] * 30 + [2] * 25 + [0] * 5 + [1] * 5)
    assert certain_rules(names, predicted, labels) == {"remove": 1.0}


# ----------------------------------------------------------------------------- behaviour on unseen phrasings
@pytest.mark.parametrize("instruction, itype, subject", [
    ("banish the lamp", T.REMOVE, "lamp"),
    ("purge the cars from the street", T.REMOVE, "cars"),
    ("make sure no birds are left in the sky", T.REMOVE, "birds"),
    ("the photo should be free of people", T.REMOVE, "people"),
    ("the sign has to be erased", T.REMOVE, "sign"),
    ("turn the scene into a rain-soaked neon dystopia", T.GLOBAL_STYLE, "image"),
    ("give the whole shot the feel of an old silent film", T.GLOBAL_STYLE, "image"),
    ("swap the ball for an orange", T.REPLACE, "ball"),
    ("replace the cup with a glass", T.REPLACE, "cup"),
    ("give the mug a rusty look", T.LOCAL_STYLE, "mug"),
    ("cover the bench in moss", T.LOCAL_STYLE, "bench"),
    ("the car should have a red tint", T.LOCAL_STYLE, "car"),
    ("remove the chipped ceramic mug", T.REMOVE, "chipped ceramic mug"),
])
def test_kinds_of_failure_named_in_the_issue(instruction, itype, subject):
    intent = parse(instruction)
    assert (intent.instruction_type, intent.subject) == (itype, subject), intent.notes


def test_conversational_family():
    """A hand-written phrasing family (conversational, narrative) no template of the training set produces.
    Not blind any more: offline.py and compose.py were tuned on it."""
    rows = _rows(DATA / "parse_conversational_tuned.jsonl")
    assert len(rows) >= 60
    parser = get_parser("rules")
    intents = parser.parse_many([r["instruction"] for r in rows])
    types = np.mean([int(i.instruction_type) == r["instruction_type"] for i, r in zip(intents, rows)])
    subjects = np.mean([i.subject == r["subject"] for i, r in zip(intents, rows)])
    rules_only = get_parser("rules", head=False)
    rules_types = np.mean([int(rules_only.parse(r["instruction"]).instruction_type) == r["instruction_type"]
                           for r in rows])
    assert types >= 0.85 and types > rules_types, (types, rules_types)
    assert subjects >= 0.6, subjects


def test_prompts_describe_the_final_appearance():
    assert parse("swap the ball for an orange").generation_prompt == "orange"
    removal = parse("purge the cars from the street")
    assert "car" not in removal.generation_prompt and "background" in removal.generation_prompt
    assert "mug" in parse("give the mug a rusty look").generation_prompt


# ----------------------------------------------------------------------------- confidence, ambiguity, bad input
def test_fast_path_confidence_is_the_rules_measured_precision():
    intent = parse("Remove the lamp")
    assert not any(n.startswith("type head:") for n in intent.notes)
    assert intent.confidence == pytest.approx(load_head().certain_rules["remove"])
    assert intent.ambiguous is False and intent.readings == []


def test_head_path_confidence_is_a_probability():
    intent = parse("the photo should be free of people")
    assert any(n.startswith("type head:") for n in intent.notes)
    assert 0.5 < intent.confidence <= 1.0


def test_no_edit_is_low_confidence_with_a_message_and_two_readings():
    intent = parse("a nice photo")
    assert intent.confidence <= 0.25 and intent.ambiguous
    assert len(intent.readings) == 2 and intent.readings[0]["probability"] >= intent.readings[1]["probability"]
    assert any("no edit found" in n for n in intent.notes)
    text = describe_intent(intent)
    assert "ambiguous" in text and " or " in text and "no edit found" in text


def test_two_edits_give_the_primary_and_name_the_second():
    intent = parse("remove the car and make it night")
    assert (intent.instruction_type, intent.subject) == (T.REMOVE, "car")
    assert intent.second_edit == "make it night"
    assert "second edit not carried out: 'make it night'" in describe_intent(intent)


def test_non_english_is_flagged_as_such():
    intent = parse("Elimina el coche rojo de la foto")
    assert intent.language == "foreign" and intent.confidence < 0.5
    assert "not English" in describe_intent(intent)
    assert "symbols" not in describe_intent(intent)
    assert parse("🎨🎨🎨").language == "symbols"


def test_describe_intent_lines():
    text = describe_intent(parse("Replace the cat with a giraffe"))
    lines = text.splitlines()
    assert lines[0] == "type: 0 replace an object" and "subject: cat" in lines and "prompt: giraffe" in lines
    assert any(line.startswith("mask: a box") for line in lines)  # a giraffe does not fit a cat's outline
    assert any(line.startswith("confidence: ") for line in lines)
    removal = describe_intent(parse("Erase the red trolley from the tracks"))
    assert "background to fill: tracks" in removal


def test_rules_alone_and_batches():
    rules_only = get_parser("rules", head=False)
    assert rules_only.model is None
    assert not any(n.startswith("type head:") for n in rules_only.parse("the photo should be free of people").notes)
    parser = get_parser("rules")
    texts = ["banish the lamp", "", "Remove the lamp", "the photo should be free of people"]
    out = parser.parse_many(texts)
    assert len(out) == 4 and isinstance(out[1], Exception)
    for text, intent in zip(texts, out):
        if text:
            single = parser.parse(text).to_dict()
            batched = intent.to_dict()
            assert batched.pop("confidence") == pytest.approx(single.pop("confidence"), abs=1e-4)
            batched["notes"] = single["notes"] = []  # the head's note prints probabilities
            assert batched == single


def test_missing_head_falls_back_to_rules(tmp_path):
    parser = get_parser("rules", head_path=tmp_path / "none.json")
    intent = parser.parse("Remove the lamp")
    assert (intent.instruction_type, intent.subject) == (T.REMOVE, "lamp")
    assert parser.model.problem and not parser.model.ready


def test_template_groups_join_near_twins_and_shared_deframed_text():
    from polaris_core.parse.head_training import deframed, template_groups

    templates = {"a": "!remove {X} from the {SC}", "b": "!remove {X} from the {SC} now", "c": "!delete {X}",
                 "d": "!erase {X}", "e": "{X} should go"}
    rows = [("Please remove the cup from the kitchen", "a"), ("remove the cup from the kitchen now", "b"),
            ("Could you delete the lamp?", "c"), ("delete the lamp, thanks", "d"), ("the vase should go", "e")]
    groups = template_groups([k for _, k in rows], [t for t, _ in rows], templates)
    assert groups[0] == groups[1]            # token similarity 6/7 >= 0.8: near-twins
    assert groups[2] == groups[3]            # different templates, the same de-framed text
    assert groups[4] not in (groups[0], groups[2])
    assert deframed("Hey, could you delete the lamp? thanks") == deframed("delete the lamp")


def test_no_deframed_instruction_in_two_folds():
    """The leak the review found (a de-framed text verbatim in two folds) cannot happen with template groups."""
    from polaris_core.parse.head_training import deframed, template_groups

    data = project_rows()
    folds = group_folds(template_groups(data.templates, data.texts))
    fold_of: dict[str, set[int]] = {}
    for text, fold in zip(data.texts, folds):
        fold_of.setdefault(deframed(text), set()).add(int(fold))
    assert all(len(f) == 1 for f in fold_of.values())
    assert len(set(folds)) == 5


def test_cross_validation_holds_template_groups_out():
    """The bench's CV on a real-MiniLM sample of the set: each held-out row's template group is unseen, and each
    row goes through the parser's own decision, so type and subject are both scored."""
    from polaris_core.parse.head_training import Features, cross_validate, prepare_features, template_groups

    data = project_rows()
    pick = np.arange(0, len(data.texts), 9)[:600]
    features: Features = prepare_features([data.texts[i] for i in pick])
    labels = data.labels[pick]
    groups = template_groups([data.templates[i] for i in pick], [data.texts[i] for i in pick])
    cv = cross_validate(features, labels, groups, "test", subjects=[data.subjects[i] for i in pick])
    assert cv.predicted.shape == labels.shape and sum(map(sum, cv.confusion())) == len(labels)
    assert 0.75 < cv.accuracy <= 1.0
    assert 0.6 < cv.subject_exact_match <= 1.0
    folds = group_folds(groups)
    assert all(len({folds[i] for i in range(len(groups)) if groups[i] == g}) == 1 for g in set(groups))
    shuffled = cross_validate(features, np.random.default_rng(0).permutation(labels), groups, "shuffled")
    assert shuffled.accuracy < 0.6  # the figure means something: scrambled labels cannot be learned
