"""The offline parser: the rules read the instruction, the type head decides the type where the rules are unsure.

1. The rules read every frame that matches (`compose.read_instruction`).
2. Fast path: when the rule that read the instruction is one the training set showed to be certain
   (`TypeHead.certain_rules`), its type stands and its measured precision is the confidence; no model runs.
3. Otherwise the instruction is embedded with all-MiniLM-L6-v2 (one forward pass; batches in one pass) and
   the head gives calibrated type probabilities. The type is the head's top reading; the slots (subject,
   result) come from the first rules frame of that type, or are re-read for that type (`retype_frame`).
4. Below the head's threshold the intent is marked ambiguous with the top two readings; an instruction
   with no edit in it gets a low confidence and a message; non-English input keeps the rules' best effort.
"""
from __future__ import annotations

import logging
import re
import threading
from dataclasses import replace
from typing import Any, Sequence

import numpy as np

from polaris_core.errors import ConfigError, ModelFileError, PolarisError
from polaris_core.intent import InstructionType, Intent
from polaris_core.parse import lexicon as lx
from polaris_core.parse.base import PreparedInstruction
from polaris_core.parse.compose import Reading, _with_parenthesis, compose_intent, read_instruction, subject_source
from polaris_core.parse.head import TypeHead, frame_confidences, load_head, pool_states
from polaris_core.parse.noun_phrases import NounPhrase, _subject_of, noun_phrase
from polaris_core.parse.normalise import normalise
from polaris_core.parse.results import Frame, is_attribute_word
from polaris_core.parse.span_tagger import SpanPolicy, SpanReading, SpanTagger, load_tagger, rule_hints, token_states

log = logging.getLogger("polaris")
T = InstructionType

NO_EDIT_CONFIDENCE = 0.25
OUT_OF_SCOPE_CONFIDENCE = 0.3
NO_REFERENCE_CONFIDENCE = 0.8  # a style reference without its image: the reading is clear, the edit cannot run yet
_WHOLE_TYPES = (T.GLOBAL_STYLE, T.STYLE_REFERENCE)
_STARTS = lx.DETERMINERS | frozenset({"no", "of", "without"})
_VERBS = lx.CLAUSE_VERBS | lx.PLACEMENT_VERBS | frozenset(
    w for group in (lx.REMOVE_VERBS, lx.REPLACE_VERBS, lx.TRANSFORM_VERBS, lx.COLOR_VERBS, lx.ADJUST_VERBS, lx.ADD_VERBS)
    for w in group.split("|") if " " not in w) | frozenset(
    "sure get let make fill cover surround decorate adorn line dot populate blanket coat border crown top stuff load "
    "pack litter drape wrap give hand lend grant offer banish purge nuke zap lose ditch hide slip toss throw stick "
    "pop sneak".split())
_NOT_OBJECTS = lx.WHOLE_IMAGE_NOUNS | frozenset("photo photograph picture pic scene shot view frame image edit".split())


class HeadModel:
    """The encoder, the type head and the span tagger, loaded once on first use (thread-safe); None parts mean
    rules only (`tagger_path=False`: no tagger)."""

    def __init__(self, head_path: Any = None, encoder_path: Any = None, tagger_path: Any = None) -> None:
        self.head_path, self.encoder_path, self.tagger_path = head_path, encoder_path, tagger_path
        self._lock = threading.Lock()
        self._loaded = False
        self.head: TypeHead | None = None
        self.encoder = None
        self.tagger: SpanTagger | None = None
        self.problem = ""

    def load(self) -> "HeadModel":
        with self._lock:
            if not self._loaded:
                self._loaded = True
                try:
                    from polaris_core.embed.text import load_text_encoder

                    self.head = load_head(self.head_path)
                    self.encoder = load_text_encoder(self.encoder_path)
                except (ConfigError, ModelFileError, OSError) as exc:
                    self.head, self.encoder = None, None
                    self.problem = str(exc)
                    log.warning("type head unavailable, the rules alone decide the type: %s", exc)
                if self.encoder is not None and self.tagger_path is not False:
                    try:
                        self.tagger = load_tagger(self.tagger_path)
                    except ConfigError as exc:
                        self.problem = str(exc)
                        log.warning("span tagger unavailable, the rules alone read the subject: %s", exc)
        return self

    @property
    def ready(self) -> bool:
        return self.head is not None and self.encoder is not None

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.encoder.encode(list(texts))


def needs_tagger(reading: Reading, policy: SpanPolicy | None, head_needed: bool) -> bool:
    """True when the tagger must read the subject: the type may be an object edit and the rule that read the
    instruction is not one whose subject was exact on the training set."""
    if policy is None or reading.language != "english" or reading.out_of_scope:
        return False
    if policy.new_object_confidence is not None and reading.frame.itype == T.REPLACE:
        return True  # the tagger may read the new object where the rules' subject is exact
    return head_needed or (reading.frame.itype not in _WHOLE_TYPES and not policy.rules_exact(reading.frame.rule))


def reading_hints(reading: Reading, text: str) -> list:
    """The rules' subject and result as character spans of `text`: the tagger's rule hints."""
    return rule_hints(text, _frame_subject(reading.frame), reading.frame.result or "")


_NUMBERS = frozenset("one two three four five six seven eight nine ten both several few many".split())
# words an object's name never ends on: a span ending on one ran over the clause's verb
_AUXILIARIES = frozenset("is are was were be been being am isn't aren't wasn't needs need needed should shouldn't "
                         "must has have had can could will would may might does do did gets got looks seems".split())
_PARTICLES = frozenset("out up down off away over around aside back".split())
_PARTICIPLES = frozenset("clad dressed wearing holding covered sitting standing lying".split())
_NEXT_WORD = re.compile(r"[\s-]+([a-z]+)")


def span_is_plausible(subject: str, end: int, frame: Frame, text: str = "") -> bool:
    """False when the rules' subject should stand over the tagger's span: the span ends on an attribute or a
    function word ("old" cut from "old barn", "boat in the"), is a possessor ("horse" of "the horse's mane"), or
    adds only a number to the rules' subject ("two dogs"). (A span inside the rules' subject, "bouquet" of
    "bouquet of roses", is kept: that check lowered the held-out subject match.)"""
    words = subject.split()
    last = words[-1].strip("()")
    qualified = any(w in lx.PREPOSITIONS for w in words[:-1])  # "mug with the cartoon print" ends on a noun
    if (is_attribute_word(last) and not qualified) or last in lx.DETERMINERS or last in lx.PREPOSITIONS:
        return False
    around = text[max(end - 1, 0):end + 2].replace("\u2019", "'")
    if around[1:3] in ("'s", "s'") or around[:2] == "'s" or subject.endswith(("'", "\u2019")):
        return False  # a possessor, with or without its apostrophe: "old man" or "old man'" of "old man's shirt"
    rules_subject = _frame_subject(frame)
    rules_words = rules_subject.split()
    if last in _AUXILIARIES or (last in _VERBS | _PARTICLES | _PARTICIPLES and last not in rules_words):
        return False  # the span ran over the clause's verb: "mirror needs", "man out", "wheelbarrow clad"
    if words[0] in _VERBS and words[0] not in rules_words:
        return False  # the span began at the clause's verb: "make the dog"
    if any(w in _AUXILIARIES for w in words[1:]) and rules_words and words[0] != rules_words[0]:
        return False  # a relative clause without the noun it qualifies: "old man is wearing" of "the sweater the
        # old man is wearing"
    following = _NEXT_WORD.match(text[end:].lower())
    if following and f"{last}-{following.group(1)}" in lx.COLOURS:
        return False  # the span ran into a two-word colour: "train jet" of "the train jet black"
    if subject == rules_subject:
        return True
    padded, rules_padded = f" {subject} ", f" {rules_subject} "
    if rules_padded in padded and all(w in _NUMBERS or w in lx.DETERMINERS
                                      for w in padded.replace(rules_padded, " ").split()):
        return False
    return True


def tagged_subject(frame: Frame, spans: SpanReading | None, policy: SpanPolicy | None) -> Frame:
    """The frame with the tagger's subject where the policy trusts it more than the rules."""
    if spans is None or policy is None or spans.subject is None or frame.itype in _WHOLE_TYPES:
        return frame
    if frame.subject in ("image", "background") or policy.rules_exact(frame.rule):
        return frame
    if spans.subject.confidence < policy.min_confidence:
        return frame
    subject = " ".join(spans.subject.text.lower().split())
    if not subject or noun_phrase(subject).whole:
        return frame
    if policy.span_checks and not span_is_plausible(subject, spans.subject.end, frame, spans.text):
        return frame
    if frame.itype != T.ADD and "(" not in subject:
        subject = _with_parenthesis(subject, spans.text)  # "the person (a man in a black coat)": exact rule
    return replace(frame, subject=subject, notes=list(frame.notes) + [
        f"subject read by the span tagger ({spans.subject.confidence:.2f})"])


def tagged_new_object(frame: Frame, spans: SpanReading | None, policy: SpanPolicy | None) -> Frame:
    """A replacement's frame with the tagger's new object as its result where the rules read another one and the
    tagger is at least `policy.new_object_confidence` sure ("I wish the green watering can were a pumpkin": the
    rules' result "can were a pumpkin", the tagger's "pumpkin")."""
    if frame.itype != T.REPLACE or spans is None or policy is None or policy.new_object_confidence is None \
            or spans.new_object is None or spans.new_object.confidence < policy.new_object_confidence:
        return frame
    new = _cut_after_object(" ".join(spans.new_object.text.lower().split()))
    np_ = noun_phrase(new)
    if not new or not _is_object(np_) or new == _cut_after_object(frame.result or "").lower():
        return frame
    if spans.subject is not None and spans.new_object.start < spans.subject.end and \
            spans.subject.start < spans.new_object.end:
        return frame  # the new object overlaps the old one: one of the two spans is wrong
    return replace(frame, result=new, notes=list(frame.notes) + [
        f"new object read by the span tagger ({spans.new_object.confidence:.2f}; the rules read "
        f"{frame.result!r})"])


def _tagged(frame: Frame, spans: SpanReading | None, policy: SpanPolicy | None) -> Frame:
    """The frame with the tagger's subject and new object where the policy trusts them."""
    return tagged_new_object(tagged_subject(frame, spans, policy), spans, policy)


def needs_head(reading: Reading, head: TypeHead | None) -> bool:
    """True when the head must decide (no certain rule read an English instruction)."""
    if head is None or reading.language != "english" or reading.out_of_scope:
        return False
    return head.rule_precision(reading.frame.rule) is None


def decide(reading: Reading, prepared: PreparedInstruction, head: TypeHead | None,
           embedding: np.ndarray | None, spans: SpanReading | None = None, policy: SpanPolicy | None = None) -> Intent:
    """The intent for a reading: the rules' frame on the fast path, else the head's type with matching slots;
    the subject from the tagger's `spans` where `policy` trusts them. `embedding` is the text's token states
    pooled as the head reads them (`head.pool_states(hidden, head.pooling)`)."""
    frame = reading.frame
    if reading.out_of_scope:
        return _out_of_scope(reading, prepared)
    if head is None:
        return _finish(reading, _tagged(frame, spans, policy), prepared)
    if not needs_head(reading, head) or embedding is None:
        precision = head.rule_precision(frame.rule) if reading.language == "english" else None
        confidence = precision if precision is not None else frame.confidence
        if frame.itype == T.STYLE_REFERENCE and not reading.image_given:
            confidence = min(confidence, NO_REFERENCE_CONFIDENCE)
        return _finish(reading, _tagged(frame, spans, policy), prepared,
                       confidence=confidence)
    features = head.features(embedding[None, :], np.array([int(frame.itype)]),
                             np.array([min(frame.confidence, reading.confidence_cap)]),
                             frame_confidences(reading.frames)[None, :])
    probabilities = head.probabilities(features)[0]
    order = np.argsort(-probabilities, kind="stable")
    top, second = T(int(order[0])), T(int(order[1]))
    confidence = float(probabilities[top])
    notes = [f"type head: {top.name.lower()} {confidence:.2f}, then {second.name.lower()} "
             f"{float(probabilities[second]):.2f}"]
    rule_score = head.rule_scores.get(frame.rule)
    if top != frame.itype and rule_score is not None and float(probabilities[top]) < rule_score:
        # the head is less sure than this rule has been right: the rules' reading stands, marked ambiguous
        top, second = frame.itype, top
        confidence = max(float(probabilities[top]), 0.5)
        notes.append(f"the rules' reading ({frame.rule}, right on {rule_score:.0%} of training rows) outweighs the head")
    if top == T.GLOBAL_STYLE and names_local_object(frame):
        top, second = T.LOCAL_STYLE, T.GLOBAL_STYLE
        confidence = max(float(probabilities[T.LOCAL_STYLE]), head.ambiguous_below)
        notes.append("a change to a named object stays local, however it is phrased")
    chosen = _tagged(frame_for_type(reading, top), spans, policy)
    if top != frame.itype:
        notes.append(f"the rules read {frame.itype.name.lower()} ({frame.rule}); the head decided")
    extra: dict[str, Any] = {}
    if top == T.STYLE_REFERENCE and reading.image_given:
        confidence = max(confidence, 0.9)  # the reference image itself is evidence the text head does not see
    elif top == T.STYLE_REFERENCE:
        confidence = min(confidence, NO_REFERENCE_CONFIDENCE)
        if not any("reference image" in n for n in chosen.notes):
            notes.append("the instruction refers to a reference style; pass the reference image")
    if reading.no_edit:
        confidence = min(confidence, NO_EDIT_CONFIDENCE)
        notes.append("no edit found in the instruction; say what to change, e.g. 'make the sky stormy'")
    if confidence < head.ambiguous_below or reading.no_edit:
        extra["ambiguous"] = True
        extra["readings"] = [
            {"instruction_type": int(t), "subject": _frame_subject(frame_for_type(reading, t)),
             "probability": float(probabilities[t])} for t in (top, second)]
    return _finish(reading, chosen, prepared, confidence=confidence, notes=notes, extra=extra)


def _out_of_scope(reading: Reading, prepared: PreparedInstruction) -> Intent:
    """An edit none of the six types covers: the rules' closest reading, low confidence, marked ambiguous."""
    frame = reading.frame
    second = next((f for f in reading.frames[1:] if f.itype != frame.itype), None)
    readings = [{"instruction_type": int(f.itype), "subject": _frame_subject(f), "probability": OUT_OF_SCOPE_CONFIDENCE}
                for f in ([frame] + ([second] if second is not None else []))]
    note = (f"this looks like {reading.out_of_scope}, which is none of the six edit types; read as the closest "
            f"type ({frame.itype.name.lower()}), check the result or rephrase as an edit of the picture's content")
    return _finish(reading, frame, prepared, confidence=min(frame.confidence, OUT_OF_SCOPE_CONFIDENCE), notes=[note],
                   extra={"ambiguous": True, "readings": readings})


def names_local_object(frame: Frame) -> bool:
    """True when the rules read a local change of a named object ("give the kettle a brushed-copper look")."""
    if frame.itype != T.LOCAL_STYLE or frame.subject in ("image", "background") or not frame.target:
        return False
    np_ = noun_phrase(subject_source(frame.target))
    return _is_object(np_, allow_env=True) and not np_.whole and np_.head not in _NOT_OBJECTS


_PLACEHOLDERS = frozenset({"object", "objects", "person", ""})


def _resolve_placeholder(frame: Frame, reading: Reading, prepared: PreparedInstruction) -> Frame:
    """ "the tourist in the red cap, lose him": a pronoun subject becomes the object named earlier in the text."""
    if frame.itype in _WHOLE_TYPES or frame.subject not in ("", "object") or \
            _frame_subject(frame) not in _PLACEHOLDERS:
        return frame
    named = noun_phrase(subject_source(frame.target)) if frame.target else None
    if named is not None and named.phrase and not named.pronoun:
        return frame  # "stand in for the person": the word is the object the user named, no pronoun to resolve
    phrases = [(text, np_) for text, np_ in object_phrases(normalise(prepared.text)) if _is_object(np_)]
    if frame.itype == T.ADD:
        phrases = [p for p in phrases if p[1].indefinite] or phrases
    elif frame.itype in (T.REPLACE, T.REMOVE, T.LOCAL_STYLE):
        phrases = [p for p in phrases if not p[1].indefinite] or phrases
    if not phrases:
        return frame
    return replace(frame, target=phrases[0][0], subject="")


# a local change whose object is one of these words changes the background ("the backdrop should be a brick wall")
_BACKGROUND_WORDS = frozenset("background backgrounds backdrop backdrops setting settings scenery surroundings".split())


def _background_subject(frame: Frame) -> Frame:
    if frame.itype == T.LOCAL_STYLE and _frame_subject(frame) in _BACKGROUND_WORDS:
        return replace(frame, subject="background")
    return frame


def _finish(reading: Reading, frame: Frame, prepared: PreparedInstruction, confidence: float | None = None,
            notes: list[str] | None = None, extra: dict | None = None) -> Intent:
    frame = _background_subject(_resolve_placeholder(frame, reading, prepared))
    notes = list(notes or [])
    extra = dict(extra or {})
    if reading.no_edit and "ambiguous" not in extra:
        confidence = min(confidence if confidence is not None else frame.confidence, NO_EDIT_CONFIDENCE)
        notes.append("no edit found in the instruction; say what to change, e.g. 'make the sky stormy'")
        extra["ambiguous"] = True
    if reading.second_edit:
        notes.append(f"the instruction names a second edit ({reading.second_edit!r}); only the first is parsed")
    return compose_intent(reading, frame, prepared, confidence=confidence, notes=notes, extra=extra)


def frame_for_type(reading: Reading, itype: InstructionType) -> Frame:
    """The first rules frame of type `itype`, else the rules' first frame re-read as that type."""
    for frame in reading.frames:
        if frame.itype == itype:
            return frame
    return retype_frame(reading.frame, itype, reading.clause)


def _frame_subject(frame: Frame) -> str:
    if frame.itype in _WHOLE_TYPES:
        return "image"
    if frame.subject:
        return frame.subject
    source = frame.target or frame.result
    return _subject_of(noun_phrase(subject_source(source))) if source else "object"


_ARTICLES = frozenset("a an the this that these those some".split())


def _is_attribute_phrase(np_: NounPhrase) -> bool:
    """ "rusty" in "a rusty look", "red" in "make it red"; but "an orange" and "a glass" are objects."""
    if not is_attribute_word(np_.head):
        return False
    next_word = np_.rest.split(" ", 1)[0] if np_.rest else ""
    return np_.leading not in ("a", "an") or next_word in lx.ATTRIBUTE_NOUNS or next_word in lx.EFFECT_NOUNS


def _is_object(np_: NounPhrase, allow_env: bool = False) -> bool:
    return bool(np_.phrase) and not np_.whole and not np_.pronoun and not np_.attribute \
        and not _is_attribute_phrase(np_) and np_.head not in _NOT_OBJECTS \
        and (allow_env or np_.head not in lx.ENV_NOUNS) and not np_.owner_whole


def object_phrases(clause: str) -> list[tuple[str, NounPhrase]]:
    """(text from the phrase on, phrase) for every noun phrase that names an object, in order.

    Phrases opened by a determiner or preposition come first; a bare phrase at the very start of the text
    ("photobomber at the back, delete") only after them, since a first word is often a verb or an adverb.
    """
    tokens = clause.split()
    found: list[tuple[str, NounPhrase]] = []
    bare: list[tuple[str, NounPhrase]] = []
    seen: set[str] = set()
    for i, token in enumerate(tokens):
        previous = tokens[i - 1] if i else ""
        opens = token in _STARTS or previous in _STARTS or previous in lx.PREPOSITIONS
        at_start = False
        if not opens and i == 0:
            opens = at_start = token not in _VERBS  # "lamp, delete" starts with its object; "make sure" does not
        elif not opens and i == 1:
            opens = previous in _VERBS and token not in _VERBS  # "banish lamps"
        if not opens:
            continue
        end = next((j for j in range(i + 1, len(tokens)) if tokens[j] in _ARTICLES), len(tokens))
        text = " ".join(tokens[i:end])  # "the mug a rusty look": an article starts the next phrase
        np_ = noun_phrase(text)
        if np_.phrase and np_.phrase not in seen and not any(np_.phrase in s.split(" ", 1)[-1] for s in seen):
            seen.add(np_.phrase)
            (bare if at_start else found).append((text, np_))
    return found + bare


def retype_frame(frame: Frame, itype: InstructionType, clause: str) -> Frame:
    """The rules' frame read again as type `itype` (the head's decision), keeping the slots that still fit."""
    base = replace(frame, itype=itype, rule=f"head:{frame.rule}", subject="", notes=list(frame.notes))
    if itype in _WHOLE_TYPES:
        return replace(base, subject="image", style=1, result=frame.result or clause)
    candidates = object_phrases(clause)
    target_np = noun_phrase(frame.target) if frame.target else None
    target_ok = target_np is not None and _is_object(target_np, allow_env=itype == T.LOCAL_STYLE)
    if frame.itype == T.ADD and itype != T.ADD:
        # an add frame's target is the new thing ("cover the bench in moss": moss); the edited object is another
        added = noun_phrase(frame.result or frame.target).phrase
        target_ok = False
        candidates = [(text, np_) for text, np_ in candidates if np_.phrase != added] or candidates
    objects = [(text, np_) for text, np_ in candidates if _is_object(np_)]
    if itype == T.ADD:
        result_np = noun_phrase(frame.result) if frame.result else None
        if result_np is not None and _is_object(result_np) and result_np.leading in lx.INDEFINITE_STARTS:
            return replace(base, target=frame.result, style=0)
        # a new object comes with an article ("a lamp ... would be nice"); a bare word is weaker evidence
        introduced = next((text for text, np_ in objects if np_.leading in lx.INDEFINITE_STARTS), None)
        if introduced is not None:
            return replace(base, target=introduced, result=introduced, style=0)
        if result_np is not None and _is_object(result_np) and not result_np.definite:
            return replace(base, target=frame.result, style=0)
        new = next((text for text, np_ in objects if np_.indefinite), None) or \
            next((text for text, _ in objects), None)
        return replace(base, target=new or frame.target, result=new or frame.result, style=0)
    if itype == T.REMOVE:
        if target_ok and target_np.head not in lx.ENV_NOUNS:
            return replace(base, result="", style=0)
        gone = next((text for text, _ in objects), None)
        return replace(base, target=gone or frame.target, result="", style=0)
    if itype == T.REPLACE:
        old = frame.target if target_ok else next((text for text, np_ in objects if not np_.indefinite), None)
        if old is None and objects:
            old = objects[0][0]
        new = frame.result
        if not new or not _is_object(noun_phrase(new)):
            old_phrase = noun_phrase(old).phrase if old else ""
            new = next((text for text, np_ in objects if np_.phrase != old_phrase), frame.result)
        return replace(base, target=old or frame.target, result=_cut_after_object(new), style=0)
    # local change
    if target_ok:
        return base
    region = next((text for text, np_ in candidates if _is_object(np_, allow_env=True)), None)
    return replace(base, target=region or frame.target)


def _cut_after_object(text: str) -> str:
    np_ = noun_phrase(text or "")
    return re.sub(r"^(?:the|a|an|some)\s+", "", text[: len(text) - len(np_.rest)].strip()) if np_.phrase else text


def parse_offline(prepared: PreparedInstruction, image: Any, model: HeadModel | None) -> Intent:
    """One instruction through the rules and, where they are unsure, one encoder pass for the head and the tagger."""
    reading = read_instruction(prepared, image, all_frames=True)
    head = model.head if model is not None and model.ready else None
    policy = model.tagger.policy if head is not None and model.tagger is not None else None
    head_needed = needs_head(reading, head)
    embedding, spans = None, None
    if head_needed or needs_tagger(reading, policy, head_needed):
        states = token_states(model.encoder, [prepared.text])[0]  # one pass: sentence embedding and token states
        embedding = pool_states(states.hidden, head.pooling) if head_needed else None
        spans = model.tagger.read(states, reading_hints(reading, prepared.text)) if policy is not None else None
    return decide(reading, prepared, head, embedding, spans, policy)


def parse_offline_many(items: Sequence[tuple[PreparedInstruction, Any]], model: HeadModel | None,
                       batch_size: int = 64) -> list[Intent | PolarisError]:
    """Many instructions; the ones the head must decide are embedded together, `batch_size` per pass."""
    readings: list[Reading | PolarisError] = []
    for prepared, image in items:
        try:
            readings.append(read_instruction(prepared, image, all_frames=True))
        except PolarisError as exc:
            readings.append(exc)
    head = model.head if model is not None and model.ready else None
    policy = model.tagger.policy if head is not None and model.tagger is not None else None
    head_rows = {i for i, r in enumerate(readings) if isinstance(r, Reading) and needs_head(r, head)}
    pending = [i for i, r in enumerate(readings) if isinstance(r, Reading) and
               (i in head_rows or needs_tagger(r, policy, False))]
    embeddings: dict[int, np.ndarray] = {}
    spans: dict[int, SpanReading] = {}
    for start in range(0, len(pending), batch_size):
        chunk = pending[start:start + batch_size]
        for i, states in zip(chunk, token_states(model.encoder, [items[i][0].text for i in chunk])):
            if i in head_rows:
                embeddings[i] = pool_states(states.hidden, head.pooling)
            if policy is not None:
                spans[i] = model.tagger.read(states, reading_hints(readings[i], items[i][0].text))
    out: list[Intent | PolarisError] = []
    for i, reading in enumerate(readings):
        if isinstance(reading, PolarisError):
            out.append(reading)
            continue
        try:
            out.append(decide(reading, items[i][0], head, embeddings.get(i), spans.get(i), policy))
        except PolarisError as exc:
            out.append(exc)
    return out
