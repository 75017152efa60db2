"""A replacement's new object from the span tagger: used in the generation prompt where the rules read another
new object and the tagger is sure enough (the threshold is chosen by template-grouped CV and ships in the tagger's
file). Cases written for this file."""
from __future__ import annotations

import numpy as np
import pytest

from polaris_core.intent import InstructionType
from polaris_core.parse import get_parser
from polaris_core.parse.offline import tagged_new_object
from polaris_core.parse.results import Frame
from polaris_core.parse.span_tagger import TAGGER_FILE, Span, SpanPolicy, SpanReading, load_tagger

T = InstructionType
TEXT = "I would rather the old rocking chair were a hammock"


def _spans(new: str, confidence: float, subject: str = "old rocking chair") -> SpanReading:
    at, sub_at = TEXT.index(new), TEXT.index(subject)
    return SpanReading(Span(subject, sub_at, sub_at + len(subject), 0.9),
                       Span(new, at, at + len(new), confidence), TEXT)


FRAME = Frame(T.REPLACE, target="the old rocking chair", result="i", rule="what-if")


def test_a_sure_tagger_new_object_replaces_the_rules_one():
    policy = SpanPolicy(0.0, {}, True, 0.8)
    frame = tagged_new_object(FRAME, _spans("hammock", 0.93), policy)
    assert frame.result == "hammock" and "new object read by the span tagger" in frame.notes[-1]


@pytest.mark.parametrize("spans, policy", [
    (_spans("hammock", 0.6), SpanPolicy(0.0, {}, True, 0.8)),         # not sure enough
    (_spans("hammock", 0.99), SpanPolicy(0.0, {}, True, None)),       # the policy keeps the rules' new object
    (_spans("old rocking chair", 0.99), SpanPolicy(0.0, {}, True, 0.5)),   # overlaps the old object
    (SpanReading(text=TEXT), SpanPolicy(0.0, {}, True, 0.5)),         # no span
    (None, SpanPolicy(0.0, {}, True, 0.5)),
])
def test_the_rules_new_object_stands_otherwise(spans, policy):
    assert tagged_new_object(FRAME, spans, policy) == FRAME


def test_only_replacements_take_a_new_object():
    local = Frame(T.LOCAL_STYLE, target="the old rocking chair", result="red", rule="paint")
    assert tagged_new_object(local, _spans("hammock", 0.99), SpanPolicy(0.0, {}, True, 0.5)) == local


def test_shipped_threshold_is_a_probability_or_none(tmp_path):
    tagger = load_tagger()
    assert tagger.new_object_confidence is None or 0.0 <= tagger.new_object_confidence <= 1.0
    assert "replacement_prompt_em_rules" in tagger.meta
    tagger.new_object_confidence = 1.5
    broken = tmp_path / "tagger.npz"
    tagger.save(broken)
    from polaris_core.errors import ConfigError

    with pytest.raises(ConfigError, match="train_span_tagger"):
        load_tagger(broken)
    assert TAGGER_FILE.stat().st_size < 100_000
    assert np.isfinite(tagger.weights).all()


@pytest.mark.parametrize("instruction, subject, prompt", [
    ("out goes the plastic bucket, in comes a copper pot", "plastic bucket", "copper pot"),
    ("toss the dusty fan and give me a potted fern", "dusty fan", "potted fern"),
])
def test_whole_parser_prompts_the_new_object(instruction, subject, prompt):
    """Both once needed the tagger's new object; the rules now read them (session 12), and the shipped policy
    follows the template-grouped CV: where it chose the rules' new object, the tagger has no say."""
    intent = get_parser("rules").parse(instruction)
    assert (intent.instruction_type, intent.subject, intent.generation_prompt) == (T.REPLACE, subject, prompt), \
        intent.notes
    tagged = any("new object read by the span tagger" in note for note in intent.notes)
    assert tagged == (load_tagger().new_object_confidence is not None and
                      get_parser("rules", tagger=False).parse(instruction).generation_prompt != prompt)
