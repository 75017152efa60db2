"""The offline parser (backend "rules"): word rules, plus a small trained type head where they are unsure.

The rules alone take well under a millisecond. Where the rule that read an instruction is not one the
training set showed to be certain, the type comes from the head over a MiniLM sentence embedding
(`offline.py`, `head.py`); the rules still supply the slots (subject, result) for that type.

The parts, in reading order: `normalise` (text clean-up, framing) → `noun_phrases` (subject spans) →
`results` (what a result phrase is, the type that follows) → `clause_patterns` + `reader` (the clause
frames) → `compose` (fallbacks, language, prompt, contour, the intent) → `offline` (the head's decision).

How the rules read an instruction
1. Normalise (quotes, parentheses, doubled words, emoji named in words), drop politeness and
   framing ("Could you please…", "I'd like to…", "Let's…"), keep the first sentence that edits.
2. Match one clause frame: remove ("get rid of X", "X should go", "no X"), replace ("swap X for Y",
   "Y instead of X", "turn X into Y"), add ("put a Y on X", "give X a Y", "make X wear Y"),
   appearance ("dye X red", "make X look like gold", "change X's colour to Y"), style
   ("Van Gogh-ify", "in the style of…", "convert the photo to a sketch") or a style reference.
3. Decide the type from what the slots hold (word lists in `lexicon`): a colour/material/texture
   result is a local appearance change (2), an art style is global (3) when the target is the whole
   image, a scene/background target or result is a background change (2), an object result is a
   category change (0).

Subject convention (what `subject` holds)
- The noun phrase naming the thing the edit applies to, lower-case, as the user wrote it, with its
  adjectives and compound nouns ("red trolley", "coffee cup", "small wooden cabin") but without
  determiners and quantities ("a group of sheep" -> "sheep", "two ducks" -> "ducks"), and anything after the
  head noun (prepositional, participle and relative clauses: "the dog wearing goggles" -> "dog") unless it
  identifies the object (below). An owner stays ("the man's clothes" -> "man's clothes"); portions stay
  ("cup of coffee", "pair of boots").
- An object already in the picture keeps the qualifier that identifies it: a position ("man on the left",
  "umbrella in the top right corner"), an ordinal's reference ("second lamp from the left"), a with-phrase
  ("mug with the cartoon print"), a parenthesis right after it ("trolley (marked 77)") and where it is, with or
  without a participle ("vase on the bookshelf", "cat sitting on the fence"); not where it is taken from or put
  ("remove the clock from the wall" -> "clock"). A new object (add) keeps only its own with-phrase, which
  describes it, never a place: "add a cat with a bell on the left" -> "cat with a bell".
- Modifiers stay with their noun however many ("glass round vase": "round" before a noun is an adjective);
  an attribute change's prompt drops the words the change replaces ("paint the white fence red": subject
  "white fence", prompt "red fence").
- An attribute word is not the subject: "the animal's fur color" -> "fur", "the color of the bicycle"
  -> "bicycle", "the hat's floral pattern" -> "hat".
- replace (0): the object being replaced; add (1): the object being added; remove (5): the object
  removed; local change (2): the object or region changed — "background" when an object is moved to
  a new setting ("put the cat on a beach"); global style (3) and style reference (4): "image".
"""
from __future__ import annotations

from typing import Any, Sequence

from polaris_core.errors import PolarisError
from polaris_core.intent import Intent
from polaris_core.parse.base import InstructionParser, PreparedInstruction, coerce_image, prepare_instruction
from polaris_core.parse.offline import HeadModel, parse_offline, parse_offline_many
from polaris_core.parse.compose import parse_with_rules
from polaris_core.parse.noun_phrases import NounPhrase, noun_phrase
from polaris_core.parse.normalise import normalise
from polaris_core.parse.results import classify_change, result_kind
from polaris_core.progress import CheckCancel, OnStep

__all__ = ["NounPhrase", "RulesParser", "classify_change", "noun_phrase", "normalise", "parse_with_rules",
           "result_kind"]


class RulesParser(InstructionParser):
    """The default offline backend: the rules, plus the MiniLM type head and span tagger where the rules are unsure.

    `head=False` gives the rules alone (no model is loaded). `head_path`, `encoder_path` and `tagger_path` point
    at another head JSON, sentence-encoder folder or tagger .npz; `tagger=False` keeps the rules' subject.
    Without the encoder installed the rules decide alone, with a warning.
    """

    name = "rules"

    def __init__(self, head: bool = True, head_path: Any = None, encoder_path: Any = None, tagger: bool = True,
                 tagger_path: Any = None) -> None:
        self.model = HeadModel(head_path, encoder_path, tagger_path if tagger else False) if head else None

    def _parse(self, prepared: PreparedInstruction, image: Any, on_step: OnStep, check_cancel: CheckCancel) -> Intent:
        intent = parse_offline(prepared, image, self.model.load() if self.model else None)
        on_step(1, 1)
        return intent

    def parse_many(self, instructions: Sequence[Any], image: Any = None) -> list[Intent | PolarisError]:
        """Parse many instructions, embedding the ones the head decides in shared batches.

        Returns one intent, or the `PolarisError` that instruction raised, per input, in order.
        """
        array = coerce_image(image)
        items: list[tuple[PreparedInstruction, Any] | PolarisError] = []
        for text in instructions:
            try:
                items.append((prepare_instruction(text), array))
            except PolarisError as exc:
                items.append(exc)
        good = [item for item in items if not isinstance(item, PolarisError)]
        parsed = iter(parse_offline_many(good, self.model.load() if self.model else None))
        return [item if isinstance(item, PolarisError) else next(parsed) for item in items]
