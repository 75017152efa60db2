"""The clause reader: tries the clause frames in order of specificity and returns the first match."""
from __future__ import annotations

import re
from typing import Callable

from polaris_core.intent import InstructionType
from polaris_core.parse import lexicon as lx
from polaris_core.parse.normalise import _strip_framing
from polaris_core.parse.noun_phrases import (
    _WHOLE_MODIFIERS, ORDINALS, _compound_head, NounPhrase, noun_phrase, skip_leading_place,
)
from polaris_core.parse.results import (
    Frame, _IFY_NOT_STYLE, _STYLE_ALT, _clean_result, _has_style, classify_change, is_attribute_word, result_kind,
)
from polaris_core.parse.clause_patterns import (
    _ADJUST_RESULTS, _ATTRIBUTE_REMOVALS, _COLOR_VERB, _DISAPPEAR, _LEAD_ADD, _REMOVE_VERB, _REPLACE_CONNECTORS,
    _RE_ADD, _RE_ADJUST, _RE_APPLY, _RE_COMPOUND_REPLACE, _RE_DESIRE, _RE_EDIT_CUE, _RE_FILL, _RE_GEOMETRY, _RE_GIVE,
    _RE_GONE_AND_THERE,
    _RE_REMOVE_AND_CHOOSE,
    _RE_IFY, _RE_INSTEAD, _RE_INSTEAD_FIRST, _RE_LET_THERE, _RE_LOOK, _RE_MAKE, _RE_NEG_DESIRE, _RE_NO,
    _RE_NOT_CONTAIN, _RE_NOT_THERE, _RE_PHOTO_ADJUST, _RE_REFERENCE, _RE_REMOVE, _RE_REPLACE, _RE_SEE,
    _RE_SPLIT_REMOVE, _RE_STYLE_CUE, _RE_STYLE_IN, _RE_SUBJECT_ADDED, _RE_SUBJECT_BECOME, _RE_SUBJECT_REMOVE, _RE_SUBJECT_REPLACED,
    _RE_BETTER_WITHOUT, _RE_FREE_OF, _RE_NEVER_THERE, _RE_SHOULD_BE_FREE_OF, _RE_SWITCH_FOR, _RE_TAKE_PLACE, _RE_THERE, _RE_THIS_STYLE, _RE_TRANSFORM, _RE_TRANSFORM_FROM, _RE_WHAT_IF, _RE_WHERE, _RE_WRITE,
    _RE_OUTCOME, _RE_OUTCOME_STATE, _RE_WOULD_BE_NICE,
    _RE_FILLED_PLACE, _RE_INTO_PICTURE, _RE_INTO_PLACE, _RE_IN_SPOT_OF, _RE_NOT_BUT, _RE_OUT_IN, _RE_SUBJECT_BECOMES,
    _SWAP_CONNECTORS, _TRANSFORM_VERB,
)

T = InstructionType


def _indefinite(np_: NounPhrase) -> bool:
    """A new thing ("a hat", "some birds", "glasses") rather than one already in the image ("the hat")."""
    if np_.definite:
        return False
    if np_.indefinite:
        return True
    return bool(np_.words) and not np_.pronoun


def _placement(target: str, location: str) -> Frame | None:
    """An object already in the picture put somewhere: a new setting (2) or a new object to hold it (1)."""
    location = re.sub(r"^(?:from\s+.+?\s+)?(?:to|into|onto|in|on|at|inside)\s+", "", location.strip())
    if not location:
        return None
    kind = result_kind(_clean_result(location)[0])
    location = re.sub(r"^(?:against|in front of|before)\s+", "", location)
    place = noun_phrase(location)
    if kind == "attribute" and place.attribute and (place.head in lx.ENV_NOUNS or place.head in lx.PLACE_NOUNS or
                                                    re.match(r"^(?:the\s+)?surface\s+of\s", location)):
        kind = "env"  # "the floor of a cave", "the surface of the moon": somewhere to stand, not an attribute
    elif kind == "object" and place.head in lx.PLACE_NOUNS:
        kind = "env"  # "move the bench to a train station": a place as the destination of a move
    if kind in ("scene", "env", "season"):
        return Frame(T.LOCAL_STYLE, target=target, result=location, subject="background", rule="move-to-setting")
    where = noun_phrase(location)
    if where.indefinite and where.phrase:
        return Frame(T.ADD, target=location, result=location, rule="put-x-in-new-y", confidence=0.7)
    return None


def _free_of(holder: str, things: str) -> Frame | None:
    """ "the photo should be free of X", "keep the table clear of X": X is removed (from the holder, when it is a
    part of the picture rather than the whole)."""
    x, held = noun_phrase(holder), noun_phrase(things)
    if not held.phrase or not (x.phrase or x.whole or x.pronoun):
        return None
    return Frame(T.REMOVE, target=things, location="" if x.whole else holder, location_from=not x.whole,
                 rule="free-of")


def _split_two_objects(text: str) -> tuple[str, str] | None:
    """ "the man a pair of sunglasses" -> ("the man", "a pair of sunglasses") for give/make."""
    named = noun_phrase(text)
    if named.qualifier and re.match(r"^(?:a|an|some|two|three|several|another|more)\s", named.rest):
        return text[: len(text) - len(named.rest)].strip(), named.rest  # "the woman on the bench a red umbrella"
    tokens = text.split()
    for k in range(1, len(tokens)):
        if tokens[k] in ("a", "an", "some", "the", "more", "another", "two", "three", "several", "his", "her",
                         "their", "its", "matching") and k >= 1:
            first = " ".join(tokens[:k])
            if tokens[0] in lx.PRONOUNS or k >= 2:
                return first, " ".join(tokens[k:])
    if tokens and tokens[0] in lx.PRONOUNS and len(tokens) > 1:
        return tokens[0], " ".join(tokens[1:])
    if len(tokens) > 2 and tokens[0] in ("the", "this", "that", "my", "your", "his", "her", "their"):
        return " ".join(tokens[:2]), " ".join(tokens[2:])
    return None


_SETTING_NOUNS = frozenset("background backdrop setting scenery surroundings".split())
# verbs that say "from the picture" without taking the thing out of it ("copy the cat from the photo")
# ("I want the bartender gone from the scene": a wish whose verb is no taking out; its own reader reads it)
_NOT_TAKING_OUT = frozenset("add insert put place bring move copy clone keep leave use pick choose show see "
                            "crop zoom isolate extract want need like love wish prefer have make let".split())


def _split_make(rest: str) -> tuple[str, str] | None:
    """ "the little boy an old man" / "the sky purple" -> (target, result)."""
    tokens = rest.split()
    if not tokens:
        return None
    start = 0
    possessive_pronoun = tokens[0] in ("her", "his", "its", "their") and len(tokens) > 2 and \
        tokens[1] not in ("a", "an", "look", "looks", "into") and tokens[1] not in lx.ATTRIBUTE_WORDS
    if (tokens[0] in lx.PRONOUNS and not possessive_pronoun) or tokens[0] in ("everything", "everyone", "all"):
        return tokens[0], " ".join(tokens[1:])
    while start < len(tokens) and tokens[start] in lx.DETERMINERS:
        start += 1
    if start > 0 and start + 1 < len(tokens) and tokens[start] in _SETTING_NOUNS:
        return " ".join(tokens[:start + 1]), " ".join(tokens[start + 1:])  # "the background outer space"
    qualified = noun_phrase(rest)
    result = re.sub(r"^(?:in|to|into)\s+", "", qualified.rest)
    if qualified.qualifier and result and rest.endswith(qualified.rest) and \
            all(is_attribute_word(w) or all(is_attribute_word(p) for p in w.split("-")) for w in result.split()):
        # "the third mailbox from the right red", "the train at the front jet-black", "the van parked by the gate
        # in coral": the result follows the qualifier that identifies the object
        return rest[: len(rest) - len(qualified.rest)].strip(), result
    for k in range(start + 1, len(tokens)):
        t = tokens[k]
        prev = tokens[k - 1]
        if t in ("a", "an", "into", "like", "more", "less", "look", "looks", "appear", "seem", "become", "be"):
            return " ".join(tokens[:k]), " ".join(tokens[k:])
        attr_like = is_attribute_word(t) or t in lx.STYLE_WORDS or t in lx.SEASON_TIME_WEATHER or \
            _STYLE_ALT.match(" ".join(tokens[k:])) is not None or t.endswith("-colored") or t.endswith("-coloured")
        prev_attr = prev in lx.ATTRIBUTE_WORDS or prev in lx.DESCRIPTIVE or prev in lx.DETERMINERS or \
            prev.endswith("'s") or prev.endswith("s'")
        if attr_like and not prev_attr:
            if k - 1 > start and prev in lx.EXPRESSION_VERBS and prev not in lx.ATTRIBUTE_NOUNS and \
                    not _compound_head(prev, t, tokens[start:k - 1]):  # "paint the cake stand silver": a noun
                # "have the lighthouse beam shine red": the verb is neither the object's name nor the result
                return " ".join(tokens[:k - 1]), " ".join(tokens[k:])
            return " ".join(tokens[:k]), " ".join(tokens[k:])
        if attr_like and k == len(tokens) - 1 and k > start:
            return " ".join(tokens[:k]), " ".join(tokens[k:])
    if start > 0 and len(tokens) - start >= 2 and tokens[-1] not in lx.PREPOSITIONS and \
            not any(t in lx.PREPOSITIONS or t in lx.NP_STOPWORDS for t in tokens[start:]):
        return " ".join(tokens[:-1]), tokens[-1]  # "the flowers sunflowers"
    return None


# "standing in the field", "perched on the fence", "in the corner": where a thing is, maybe with its pose
_RE_BE_SOMEWHERE = re.compile(
    r"^(?:[a-z]+ing\s+(?:up\s+|out\s+|down\s+)?|(?:perched|parked|placed|seated|lying|hanging|floating|sitting|"
    r"standing)\s+|"
    # any other participle of putting, not of changing: "hung on the porch", "draped over the rail", "curled up on"
    r"(?!(?:painted|colou?red|dyed|turned|changed|rendered|tinted|recolou?red|replaced|swapped|removed|moved|"
    r"covered|coated|wrapped|made|done)\b)(?:[a-z]+ed|hung|set|laid|put|stuck|strung|hidden|spread|built|drawn|"
    r"sat|stood|tucked|slung)\s+(?:up\s+|out\s+|down\s+)?)?"
    r"(?:in|on|onto|at|by|near|beside|behind|under|underneath|beneath|below|above|over|against|next to|in front of|"
    r"among|inside|atop|along|across|on top of|in the middle of)\s+"
    r"(?:the|a|an|this|that|some|its|his|her|their)\s")


_RE_BETTER_THAN = re.compile(
    # ("should": a wish frame's verb, "i think a fox would be ..." -> "a fox should be ...")
    r"^(?P<y>.+?)\s+(?:would|will|could|might|should)\s+(?:be|look|work|fit)\s+(?:way\s+|much\s+|so\s+|a lot\s+|far\s+)?"
    r"(?:better|cooler|nicer|prettier|cuter|funnier|more fun|more fitting|more interesting)\s+(?:there\s+)?than\s+"
    r"(?P<x>.+)$"
)
# "the man on the bench should be given a newspaper", "the dog gets handed a bone": what is given is added
_RE_SUBJECT_GIVEN = re.compile(
    r"^(?P<x>.+?)\s+(?:(?:should|must|shall|will|would|could|can|needs? to|has to|have to|ought to|is to|are to)\s+)?"
    r"(?:be|get|gets|is|are|being)\s+(?:given|handed|offered|lent|gifted|presented\s+with)\s+(?P<y>(?:a|an|some|two|"
    r"three|several|another|more)\s.+)$"
)
# "what this porch needs is a swing", "all the shelf is missing is a plant", "the one thing the yard lacks is a tree"
_RE_WHAT_X_NEEDS = re.compile(
    r"^(?:what|all|the\s+(?:one\s+|only\s+)?thing)\s+(?P<x>.+?)\s+(?:really\s+|still\s+|truly\s+|definitely\s+)?"
    r"(?:needs|is missing|lacks|could use|wants|is crying out for|is begging for)\s+is\s+(?:just\s+)?(?P<y>.+)$"
)
_RE_NEW_SCENE = re.compile(r"^(?:an?\s+|the\s+)?new\s+(?P<scene>background|backdrop|setting|scenery|surroundings)"
                           r"(?:\s*[:,-]\s*|\s+(?:of|with|showing)\s+)(?P<result>\S.*)$")


def _expression_verb(text: str) -> bool:
    """ "smiling", "frowning", "waving": the -ing form of an expression or pose verb ("frown" + "ing", "smil" + "e",
    "grinn" less its doubled consonant)."""
    if not re.fullmatch(r"[a-z]+ing", text):
        return False
    stem = text[:-3]
    return any(form in lx.EXPRESSION_VERBS for form in (stem, stem + "e", stem[:-1] if len(stem) > 2 and
                                                         stem[-1] == stem[-2] else stem))


def _first_frame(clause: str, steps: tuple[Callable[[str], Frame | None], ...]) -> Frame | None:
    """The first frame any of `steps` reads in `clause` (steps are tried in order of specificity)."""
    for step in steps:
        frame = step(clause)
        if frame is not None:
            return frame
    return None


def _brought_in(m: re.Match | None, where_group: str, rule: str) -> Frame | None:
    """An addition from a match of a verb, a new object (`y`) and where it goes (`where_group`); None when the
    verb removes, transforms or colours, or the object is not a new thing."""
    if not m or re.match(rf"^(?:{_REMOVE_VERB}|{_TRANSFORM_VERB}|{_COLOR_VERB})$", m.group("verb")):
        return None
    y = noun_phrase(m.group("y"))
    if not y.phrase or not _indefinite(y) or result_kind(m.group("y"), "replace") not in ("object", "env"):
        return None
    result = f"{m.group('y')} {m.group(where_group).strip()}".strip()
    return Frame(T.ADD, target=result, result=result, rule=rule)


_ANIMATE_SHAPES = frozenset(("person", "small quadruped", "large quadruped", "bird"))


def _new_look_of_part(owner: str, thing: str) -> bool:
    """ "give the building a glass facade", "make the tree have autumn leaves": a thing that wears or holds
    nothing (no person, animal or figure) given a part described only by colour, material, texture or season
    gets a new look of that part; a person or animal given "a red scarf" gets a new object to wear."""
    owner_np, thing_np = noun_phrase(owner), noun_phrase(thing)
    if not owner_np.phrase or owner_np.pronoun or owner_np.whole or len(thing_np.words) < 2 or thing_np.rest or \
            thing_np.head in lx.ATTRIBUTE_NOUNS or thing_np.head in lx.EFFECT_NOUNS:
        return False  # "give the image a warm glow": a look or effect, read by the other frames
    if lx.SHAPE_OF.get(owner_np.head) in _ANIMATE_SHAPES or owner_np.head in lx.FIGURES:
        return False
    return all(is_attribute_word(w) or w in lx.SEASON_TIME_WEATHER for w in thing_np.words[:-1])


def _modifies_next(word: str, right_after_article: bool) -> bool:
    """An adjective-like word ("full", "big", "old"): the word after it is the noun it modifies. A colour or
    material word right after the article may be the thing itself ("a plum land on the desk")."""
    return (word in lx.ATTRIBUTE_WORDS and not right_after_article) or word in lx.DESCRIPTIVE or \
        word in _WHOLE_MODIFIERS or word in lx.SEASON_TIME_WEATHER or word in ORDINALS


class _Reader:
    """Match frames against one normalised clause."""

    def __init__(self, clause: str, image_given: bool, raw_clause: str = "") -> None:
        self.clause = clause
        self.raw_clause = raw_clause or clause
        self.image_given = image_given
        self._collected: list[Frame] | None = None  # read_all(): every frame that matches, in order

    def _first(self, clause: str, steps: tuple[Callable[[str], Frame | None], ...]) -> Frame | None:
        if self._collected is None:
            return _first_frame(clause, steps)
        first = None
        for step in steps:  # collecting: try every step, keep each match, return the first
            frame = step(clause)
            if frame is not None:
                self._collected.append(frame)
                first = first or frame
        return first

    def read_all(self) -> list[Frame]:
        """Every frame any step reads in the clause, most specific first (the first is what `read` returns).

        The type head uses the others when it disagrees with the first: a later frame of the head's type
        carries the right slots ("swap the ball for an orange": a replacement, not a colour change).
        """
        self._collected = []
        try:
            first = self.read()  # a style-reference frame returns early, without being collected
            frames, seen = [], set()
            for frame in ([first] if first is not None else []) + self._collected:
                key = (frame.itype, frame.target, frame.result, frame.subject)
                if key not in seen:
                    seen.add(key)
                    frames.append(frame)
            return frames
        finally:
            self._collected = None

    # -- entry point
    def read(self) -> Frame | None:
        c = self.clause
        frame = self._reference(self.raw_clause)
        if frame is not None:
            return frame
        return self._first(c, (self._new_scene, self._what_needs, self._compound_replace, self._instead,
                                self._verb_first, self._desire, self._subject_first, self._style_only))

    # -- "what this beach needs is a lifeguard tower": the clause is "the beach needs a lifeguard tower"
    def _what_needs(self, c: str) -> Frame | None:
        m = _RE_WHAT_X_NEEDS.match(c)
        if not m or not noun_phrase(m.group("y")).phrase:
            return None
        x, y = m.group("x"), m.group("y")
        frame = self._subject_first(f"{x} needs {y}")
        if frame is not None and frame.rule in ("x-needs-a-look", "picture-needs-y"):
            return frame
        if _indefinite(noun_phrase(y)) and result_kind(y, "replace") == "object":
            return Frame(T.ADD, target=y, result=y, location=x, rule="what-x-needs-is-y")
        return None

    # -- "new background: a snowy forest" (a heading, no verb)
    def _new_scene(self, c: str) -> Frame | None:
        m = _RE_NEW_SCENE.match(c)
        if not m:
            return None
        return Frame(T.LOCAL_STYLE, target=f"the {m.group('scene')}", result=m.group("result"), subject="background",
                     rule="new-background")

    # -- type 4
    def _reference(self, c: str) -> Frame | None:
        ref = _RE_REFERENCE.search(c)
        this_style = _RE_THIS_STYLE.search(c)
        if not ref and not this_style:
            return None
        if ref and not _RE_STYLE_CUE.search(c):
            return None
        if re.match(rf"^(?:{_REMOVE_VERB}|add|insert|put|place)\b", c) and not this_style and \
                not re.search(r"\b(?:style|aesthetic|palette|look)\b", c):
            return None
        frame = Frame(T.STYLE_REFERENCE, subject="image", style=1, rule="style-reference",
                      confidence=0.9 if (ref or self.image_given) else 0.6)
        if not self.image_given:
            frame.notes.append("the instruction refers to a reference style; pass the reference image")
        return frame

    # -- "remove X and put Y there"
    def _compound_replace(self, c: str) -> Frame | None:
        m = _RE_COMPOUND_REPLACE.match(c) or _RE_REMOVE_AND_CHOOSE.match(c)
        if m:
            return Frame(T.REPLACE, target=m.group("x"), result=m.group("y"), rule="remove-then-add")
        m = _RE_GONE_AND_THERE.match(c)
        y_text = m and (m.group("y") or m.group("y2"))
        if m and y_text and noun_phrase(m.group("x")).phrase and noun_phrase(y_text).phrase:
            return classify_change("replace", m.group("x"), y_text, rule="x-gone-y-there")
        m = _RE_TAKE_PLACE.match(c)
        if m:
            x_text = m.group("x") or m.group("x2") or m.group("x3")
            y_text = m.group("y") or m.group("y2") or m.group("y3")
            if noun_phrase(x_text).phrase and noun_phrase(y_text).phrase:
                return classify_change("replace", x_text, y_text, rule="y-takes-the-place-of-x")
        m = _RE_OUT_IN.match(c) or _RE_NOT_BUT.match(c)
        if m:
            groups = m.groupdict()
            x_text, y_text = groups.get("x") or groups.get("x2") or "", groups.get("y") or groups.get("y2") or ""
            x, y = noun_phrase(x_text), noun_phrase(y_text)
            if x.phrase and y.phrase and not x.rest and (y.indefinite or (m.re is _RE_OUT_IN and x.definite)):
                return classify_change("replace", x_text, y_text,
                                       rule="x-out-y-in" if m.re is _RE_OUT_IN else "not-x-but-y")
        m = _RE_IN_SPOT_OF.match(c)
        if m:
            x_text = m.group("x") or m.group("x2")
            y_text = _LEAD_ADD.sub("", _strip_framing(m.group("pre") or m.group("pre2"))).strip()
            y_text = re.sub(r"^(?:give|show|get|bring|find)\s+(?:me|us)\s+", "", y_text)
            x, y = noun_phrase(x_text), noun_phrase(y_text)
            described = re.match(r"^(?:in|with|wearing|holding)\s", y.rest)  # "a knight in armor"
            if x.phrase and not x.indefinite and y.phrase and y.indefinite and (not y.rest or described):
                return classify_change("replace", x_text, y_text, rule="y-in-the-spot-of-x")
        return None

    # -- "Y instead of X", "instead of X, Y", "Y where X is"
    def _instead(self, c: str) -> Frame | None:
        m = _RE_INSTEAD_FIRST.match(c) or _RE_INSTEAD.match(c) or _RE_WHERE.match(c)
        if not m:
            return None
        groups = m.groupdict()
        x_text, y_text = groups.get("x") or groups.get("x2") or "", groups.get("y") or groups.get("y2") or ""
        if groups.get("y2") and m.re is _RE_INSTEAD:
            y_text = "have " + y_text  # "rather have a motorcycle than the scooter"
        y_framed = _strip_framing(y_text)
        y_core = _LEAD_ADD.sub("", y_framed).strip()
        if y_core == y_framed and not re.match(r"^(?:a|an|some)\s", y_core):
            return None  # "remove the animal, ensuring ... where it was": not a replacement
        if re.match(rf"^(?:{_TRANSFORM_VERB}|{_COLOR_VERB})\b", y_core) or not y_core:
            return None  # "make the roses blue instead of red": an appearance change
        x = noun_phrase(x_text)
        x_kind = result_kind(x_text)
        y = noun_phrase(y_core)
        if not y.phrase or result_kind(y_core) in ("attribute", "style"):
            return None
        # "blue instead of red"; but "the painting" is a thing in the picture, not a style, and "the rose", "the
        # traffic light" are things when a new thing takes their place
        if not x.phrase or (x_kind in ("attribute", "season", "style") and not (x.definite and not x.pronoun)) or \
                (x_kind == "season" and x.words and x.words[-1] in lx.SEASON_TIME_WEATHER):
            return None
        return classify_change("replace", x_text, y_core, rule="instead-of")

    # -- imperative verb first
    def _verb_first(self, c: str) -> Frame | None:
        return self._first(c, (self._remove, self._replace, self._give, self._dress, self._photo_adjust, self._switch,
                                self._write, self._fill, self._make, self._style_in, self._transform, self._color,
                                self._adjust, self._ify, self._apply, self._add, self._into_picture,
                                self._out_of_picture, self._see, self._into_place))

    def _photo_adjust(self, c: str) -> Frame | None:
        """ "increase the contrast", "zoom in on the cat": whole-picture adjustments."""
        m = _RE_PHOTO_ADJUST.match(c)
        if m:
            owner = m.group("x") or ""
            if owner and not noun_phrase(owner).whole:
                return Frame(T.LOCAL_STYLE, target=owner, result=f"{m.group('how')} {m.group('attr')}",
                             rule="photo-adjust")
            return Frame(T.GLOBAL_STYLE, subject="image", result=f"{m.group('how')} {m.group('attr')}", style=1,
                         rule="photo-adjust", confidence=0.7)
        m = _RE_GEOMETRY.match(c)
        if m:
            return Frame(T.GLOBAL_STYLE, subject="image", result=c, style=0, rule="geometry", confidence=0.35,
                         notes=["crop/zoom/rotate is not an inpainting edit; treated as a whole-image change"])
        return None

    def _switch(self, c: str) -> Frame | None:
        """ "turn the lights on": a lighting change of that object."""
        m = re.match(r"^(?:turn|switch|flip)\s+(?:(?P<p1>on|off)\s+(?P<x1>.+)|(?P<x2>.+?)\s+(?P<p2>on|off)"
                     r"(?:\s+(?:in|at|inside|of)\s+(?:the|this|that|my|our|your)\s.+)?)$", c)  # "... on in the house"
        if not m:
            return None
        target = m.group("x1") or m.group("x2")
        if not noun_phrase(target).phrase:
            return None
        return Frame(T.LOCAL_STYLE, target=target, result=f"{target} switched {m.group('p1') or m.group('p2')}",
                     rule="switch-on-off", confidence=0.7)

    def _write(self, c: str) -> Frame | None:
        """ "write 'sale' on the sign": text added to the picture."""
        m = _RE_WRITE.match(c)
        if not m:
            return None
        return Frame(T.ADD, target="text", subject="text", result=f"text {m.group('y')}".strip(), rule="write")

    def _fill(self, c: str) -> Frame | None:
        """ "fill the sky with stars" adds stars; "cover the ground with snow" changes the ground."""
        m = _RE_FILL.match(c)
        if not m:
            return None
        y_text = m.group("y")
        if result_kind(re.split(r"\s*,\s*|\s+and\s+", y_text)[0]) == "nothing":
            # "fill (in) the spot where the chair is with whatever is behind it": the occupant goes
            place = _RE_FILLED_PLACE.match(re.sub(r"^in\s+", "", m.group("x")))
            x_text = place.group("x") if place else re.sub(r"^in\s+", "", m.group("x"))
            if noun_phrase(x_text).phrase:
                return Frame(T.REMOVE, target=x_text, rule="fill-with-background")
        thing = noun_phrase(y_text)
        if not thing.phrase:
            return None
        if thing.head in lx.ADDED_SCENE_NOUNS or thing.head in lx.SEASON_TIME_WEATHER or thing.attribute \
                or result_kind(y_text) in ("attribute", "style"):
            return classify_change("change", m.group("x"), y_text, rule="cover-with")
        return Frame(T.ADD, target=y_text, result=y_text, rule="fill-with")

    def _remove(self, c: str) -> Frame | None:
        m = re.match(r"^rid\s+(?P<loc>(?:the|this|that|my|our|your)\s.+?)\s+of\s+(?P<x>.+)$", c)
        if m and noun_phrase(m.group("x")).phrase:  # "rid the street of the tractor": the tractor goes
            return Frame(T.REMOVE, target=m.group("x"), location=m.group("loc"), location_from=True, rule="rid-y-of-x")
        m = re.match(r"^hide\s+(?P<x>.+?)\s+(?:(?:completely|entirely|fully|totally)\b|so\s+(?:that\s+)?only\s+"
                     r"the\s+(?:background|scene|rest)\b)", c)
        if m and noun_phrase(m.group("x")).phrase:  # "hide the crate completely": hidden from the whole picture
            return Frame(T.REMOVE, target=m.group("x"), rule="hide-completely")
        m = _RE_SPLIT_REMOVE.match(c)
        if m and noun_phrase(m.group("x")).phrase and not re.match(rf"^(?:{_REMOVE_VERB})\b", c):
            x_text, loc = m.group("x"), m.group("loc")
        else:
            m = _RE_REMOVE.match(c)
            if not m:
                return None
            verb, x_text = m.group("verb"), m.group("rest")
            np_ = noun_phrase(x_text)
            if verb in ("drop", "lose", "clear", "wipe", "scrub", "clean up") and _indefinite(np_) \
                    and np_.leading in ("a", "an", "some", "few", "two", "three", "several"):
                return None  # "drop a few pumpkins on the porch" adds
            if verb.startswith("get") and " out" in x_text and verb != "get out":
                x_text = x_text.split(" out", 1)[0]
            loc = np_.rest or re.sub(r"^\S+(?:ing|ed)\s+(?=\S)", "", np_.qualifier)  # "sitting on the X" -> "on the X"
        np_ = noun_phrase(x_text)
        if not np_.phrase and not np_.pronoun:
            return None
        if np_.head in _ATTRIBUTE_REMOVALS or np_.attribute_word in _ATTRIBUTE_REMOVALS:
            owner = re.sub(r"^(?:from|on|in|of|off)\s+", "", np_.rest)
            if not owner or noun_phrase(owner).whole:
                return Frame(T.GLOBAL_STYLE, subject="image", result="natural colours", style=1,
                             rule="remove-attribute")
            return Frame(T.LOCAL_STYLE, target=owner, result="clean", rule="remove-attribute")
        location_from = bool(re.match(r"^(?:from|off|out of|of)\s", loc))
        location = re.sub(r"^(?:from|off|out of|on|in|at|inside|under|over|above|near|within|of)\s+", "", loc)
        return Frame(T.REMOVE, target=x_text, location=location, location_from=location_from, rule="remove")

    def _replace(self, c: str) -> Frame | None:
        m = _RE_REPLACE.match(c) or _RE_SWITCH_FOR.match(c)
        if not m:
            return None
        verb, rest = m.group("verb"), m.group("rest")
        x_text, y_text = rest, ""
        connectors = _REPLACE_CONNECTORS.get(verb, _SWAP_CONNECTORS)
        old = noun_phrase(rest)
        after = re.match(rf"^(?:out\s+)?(?:{'|'.join(connectors)})\s+(?P<y>.+)$", old.rest) \
            if old.qualifier and old.head not in _SETTING_NOUNS else None  # the one background needs no qualifier
        if after and rest.endswith(old.rest):
            # "replace the scarf with the orange spots with a tie": the qualifier identifies the old object
            x_text, y_text = rest[: len(rest) - len(old.rest)].strip(), after.group("y")
        else:
            for connector in connectors:
                parts = re.split(rf"\s+(?:out\s+)?{connector}\s+", " " + rest, maxsplit=1)
                if len(parts) == 2 and parts[0].strip() and parts[1].strip():
                    x_text, y_text = parts[0].strip(), parts[1].strip()
                    break
        x_text = re.sub(r"\s+out$", "", x_text)
        reverse = (verb == "substitute" and " for " in c and " with " not in c) or m.group("in")
        if reverse and y_text:
            x_text, y_text = y_text, x_text  # "substitute Y for X", "swap in Y for X"
        if not noun_phrase(x_text).phrase and not noun_phrase(x_text).pronoun:
            return None
        return classify_change("replace", x_text, y_text, rule="replace", confidence=0.95 if y_text else 0.7)

    def _give(self, c: str) -> Frame | None:
        m = _RE_GIVE.match(c)
        if not m:
            return None
        wanted = re.match(r"^(?:give|bring|get|find|hand)\s+(?:me|us)\s+(?P<y>(?:a|an|some|two|three|several|another)\s.+)$", c)
        if wanted and noun_phrase(wanted.group("y")).phrase and result_kind(wanted.group("y"), "replace") == "object":
            # "give me a cat with a bow tie on the sofa": the user asks for a new thing ("me" receives nothing)
            return Frame(T.ADD, target=wanted.group("y"), result=wanted.group("y"), rule="give-me-y")
        split = _split_two_objects(m.group("rest"))
        if not split:
            return None
        receiver, thing = split
        thing_np = noun_phrase(thing)
        if not noun_phrase(receiver).phrase or not (thing_np.phrase or thing_np.attribute) or not (
                thing_np.indefinite or c.startswith(("give", "hand", "lend", "grant", "offer"))):
            return None
        looks = thing.split()[-1] in lx.ATTRIBUTE_NOUNS  # "a rusty look": "look" read as a verb ends the phrase
        pattern = not re.match(r"^(?:a|an|one)\s", thing) and is_attribute_word(thing_np.head) and \
            thing_np.head.endswith("s") and not thing_np.rest
        if pattern or _new_look_of_part(receiver, thing):
            # "give the zebra polka dots", "give the cat tiger stripes": a pattern is worn by no one, even an animal
            frame = classify_change("change", receiver, thing, rule="give-part-a-look")
            frame.itype = T.LOCAL_STYLE
            return frame
        if thing_np.head in lx.EFFECT_NOUNS or thing_np.attribute or looks or _has_style(thing, strict=False):
            frame = classify_change("change", receiver, thing, rule="give-look")
            if looks and frame.itype == T.REPLACE:
                frame.itype = T.LOCAL_STYLE  # "a matte stone look": a look, never a new stone
            return frame
        return Frame(T.ADD, target=thing, result=thing, rule="give")

    def _dress(self, c: str) -> Frame | None:
        """ "dress the snowman in a scarf" adds the scarf; "dress the boy in red" changes how he looks."""
        m = re.match(r"^(?:dress|clothe|outfit|kit out|deck out|deck)\s+(?P<x>.+?)\s+(?:up\s+)?(?:in|with)\s+(?P<y>.+)$", c)
        if not m or not noun_phrase(m.group("x")).phrase:
            return None
        if result_kind(m.group("y"), "replace") == "object" and noun_phrase(m.group("y")).phrase:
            return Frame(T.ADD, target=m.group("y"), result=m.group("y"), rule="dress-in")
        return classify_change("change", m.group("x"), m.group("y"), rule="dress-in")

    def _make(self, c: str) -> Frame | None:
        m = _RE_MAKE.match(c)
        if not m:
            return None
        verb, rest = m.group("verb"), m.group("rest")
        if verb not in ("make", "let", "have", "get", "keep", "leave", "set", "turn", "render") and \
                noun_phrase(rest).leading in ("a", "an", "some"):
            return None  # "paint a mural of a dragon": adds
        m_there = re.match(r"^there\s+be\s+(?P<rest>.+)$", rest)
        if verb == "let" and m_there:
            return Frame(T.ADD, target=m_there.group("rest"), result=m_there.group("rest"), rule="let-there-be")
        gone = re.match(rf"^(?P<x>.+?)\s+(?:{_DISAPPEAR}|be removed|go bye-bye)\b(?P<rest>.*)$", rest)
        if gone and verb in ("make", "let", "have", "get") and noun_phrase(gone.group("x")).phrase:
            return Frame(T.REMOVE, target=gone.group("x"), rule="make-disappear")
        free = _RE_FREE_OF.match(rest)
        if free and verb in ("make", "keep", "leave", "get", "have", "let", "set", "render"):
            frame = _free_of(free.group("x"), free.group("y"))
            if frame is not None:
                return frame
        if verb in ("have", "get") and _RE_SUBJECT_REPLACED.match(rest):
            return self._subject_first(rest)
        if verb in ("make", "let", "have", "get"):
            words = rest.split()
            acting = self._new_thing_acting(words)
            if acting is not None:
                return acting
            named = noun_phrase(rest)  # "make the kite the boy holds yellow": a relative clause's verb is no action
            first_verb = len(words) - len(named.rest.split()) if named.qualifier else 1
            for k in range(max(first_verb, 1), len(words) - 1):
                if words[k] in lx.ACTION_VERBS:
                    thing = " ".join(words[k + 1:])
                    owner = " ".join(words[:k])
                    if all(is_attribute_word(w) or all(is_attribute_word(p) for p in w.split("-"))
                           for w in words[k + 1:]):
                        break  # "make the ski lift coral": a colour is no thing to lift, so "lift" is a noun
                    if words[k] in ("have", "has") and _new_look_of_part(owner, thing):
                        # "make the tree on the left have autumn leaves": the tree's own parts change
                        frame = classify_change("change", owner, thing, rule="make-x-have-part")
                        frame.itype = T.LOCAL_STYLE
                        return frame
                    if noun_phrase(owner).phrase and noun_phrase(thing).phrase:
                        return Frame(T.ADD, target=thing, result=thing, rule="make-do")
                    break
            pose = re.match(r"^(?P<x>.+?)\s+(?:sit|sits|stand|stands|lie|lies|rest|rests|float|floats|be|stay|"
                            r"appear)\s+(?:in|on|at|inside|by|near|under|atop|among)\s+(?P<loc>.+)$", rest)
            if pose and noun_phrase(pose.group("x")).phrase and not _indefinite(noun_phrase(pose.group("x"))):
                # "make a statue appear in the sky" adds the statue; only an object already there is moved
                frame = _placement(pose.group("x"), pose.group("loc"))
                if frame is not None:
                    return frame
            expression = words[:-1] if len(words) > 2 and words[-1].endswith("ly") else words  # "smile broadly"
            before = noun_phrase(" ".join(expression[:-1]))
            if len(expression) >= 2 and expression[-1] in lx.EXPRESSION_VERBS and before.phrase and not before.rest:
                return Frame(T.LOCAL_STYLE, target=" ".join(expression[:-1]), result=" ".join(words[len(expression) - 1:]),
                             rule="make-smile")
        done = re.match(r"^(?P<x>.+?)\s+(?:redone|done|made|turned|converted|transformed|rendered|painted|redrawn|"
                        r"drawn|restyled|changed|recolou?red|colou?red|dyed|reimagined|recreated)\s+"
                        r"(?:(?:as|into|in|to|like)\s+)?(?P<y>.+)$", rest)
        if done and verb in ("have", "get") and noun_phrase(done.group("x")).phrase + noun_phrase(done.group("x")).pronoun:
            return classify_change("change", done.group("x"), done.group("y"), rule="have-x-done")
        feature = re.match(r"^(?:the\s+)?(?:picture|image|photo|scene|shot|frame|it)\s+(?:feature|include|show|contain)s?"
                           r"\s+(?P<y>.+)$", rest)
        if feature and verb in ("make", "let", "have") and _indefinite(noun_phrase(feature.group("y"))):
            return Frame(T.ADD, target=feature.group("y"), result=feature.group("y"), rule="make-feature")
        appear = re.match(r"^(?P<x>.+?)\s+(?:appear|appears|show up|materiali[sz]e|pop up|emerge|exist|be there|"
                          r"be visible|come into view)\b", rest)
        if appear and verb in ("make", "let", "have", "get") and _indefinite(noun_phrase(appear.group("x"))):
            return Frame(T.ADD, target=appear.group("x"), result=appear.group("x"), rule="make-appear")
        if verb in ("make", "let", "have", "get", "turn", "render", "set", "keep", "leave"):
            look = _RE_LOOK.match(rest)
            if look and noun_phrase(look.group("x")).phrase or (look and look.group("x") in lx.PRONOUNS):
                return classify_change("look", look.group("x"), look.group("y"), rule="make-look")
            if verb == "have" and _indefinite(noun_phrase(rest)):
                return Frame(T.ADD, target=rest, result=rest, rule="have")
        if re.search(r"\s(?:into|in to)\s", rest):
            return None  # "make X into Y": the transform frame
        backdrop = re.match(r"^(?P<x>.+?)\s+(?:against|in front of|before)\s+(?P<loc>.+)$", rest)
        if backdrop and verb == "set" and noun_phrase(backdrop.group("x")).phrase:
            # "set the lamp against a misty lake": a new setting (or, for an object, a new thing behind it)
            return _placement(backdrop.group("x"), backdrop.group("loc"))
        split = _split_make(rest)
        if split is None:
            return None
        target, result = split
        kind = "change" if verb in ("make", "turn", "render", "set", "keep", "leave", "let", "have", "get") else "color"
        frame = classify_change(kind, target, result, rule=f"{verb}-x-y")
        if kind == "color" and frame.itype == T.REPLACE:
            frame.itype = T.LOCAL_STYLE
        return frame

    @staticmethod
    def _new_thing_acting(words: list[str]) -> Frame | None:
        """ "make a frog jump onto the rock", "have some birds fly over the lake": a thing not yet in the picture
        (indefinite) made to do something there is added."""
        if not words or words[0] not in ("a", "an", "some"):
            return None
        for k in range(2, len(words)):
            verb, after = words[k], words[k + 1] if k + 1 < len(words) else ""
            if verb in lx.PREPOSITIONS or verb in lx.DETERMINERS or is_attribute_word(verb):
                return None  # "make a cat on the sofa purple", "make a cat red": no verb after the thing
            listed = verb in lx.BARE_VERBS or verb in lx.EXPRESSION_VERBS or verb in lx.ACTION_VERBS
            if not listed and _modifies_next(words[k - 1], right_after_article=k == 2):
                continue  # "a full moon in the sky": after an adjective comes the thing's noun, not its verb
            placed = after in lx.PREPOSITIONS or after in ("next", "onto")  # "rest next to the stairs"
            if listed or placed:
                thing = " ".join(words[:k])
                if noun_phrase(thing).phrase and (placed or not after or after in lx.DETERMINERS):
                    return Frame(T.ADD, target=thing, result=" ".join(words), rule="make-new-thing-act")
                return None
        return None

    def _style_in(self, c: str) -> Frame | None:
        m = _RE_STYLE_IN.match(c)
        if not m or not _has_style(m.group("y"), strict=False):
            return None
        if m.group("verb") in ("put", "show", "depict") and not re.search(r"\bstyle\b", m.group("y")):
            return None
        x = noun_phrase(m.group("x"))
        if _indefinite(x) and x.leading in ("a", "an", "some"):
            return None  # "paint a cat in watercolour": an added object
        return classify_change("change", m.group("x"), m.group("y"), rule="render-in-style")

    def _transform(self, c: str) -> Frame | None:
        m = _RE_TRANSFORM_FROM.match(c)
        if m and noun_phrase(f"{m.group('x')} from {m.group('z')}").qualifier.startswith("from "):
            m = None  # "turn the second cup from the right into a hat": an ordinal's reference, not a source
        if m:
            return classify_change("change", m.group("x"), m.group("y"), m.group("z"), rule="change-from-to")
        m = _RE_TRANSFORM.match(c)
        if not m:
            m_bare = re.match(rf"^(?P<verb>{_TRANSFORM_VERB})\s+(?P<x>.+)$", c)
            if m_bare and m_bare.group("verb") in ("change", "alter", "modify", "adjust", "update", "edit",
                                                   "restyle", "stylize", "stylise", "redesign"):
                x = noun_phrase(m_bare.group("x"))
                if x.whole:
                    return Frame(T.GLOBAL_STYLE, subject="image", style=1, rule="bare-change", confidence=0.5)
                return Frame(T.LOCAL_STYLE, target=m_bare.group("x"), rule="bare-change", confidence=0.6)
            return None
        verb, x_text, y_text = m.group("verb"), m.group("x"), m.group("y")
        kind = "replace" if verb in ("switch", "exchange") else "change"
        return classify_change(kind, x_text, y_text, rule="transform")

    def _color(self, c: str) -> Frame | None:
        m = re.match(rf"^(?P<verb>{_COLOR_VERB})\s+(?P<rest>.+)$", c)
        if not m:
            return None
        rest = m.group("rest")
        np_ = noun_phrase(rest)
        if np_.leading in ("a", "an", "some"):
            return None  # "paint a rainbow in the sky", "wrap a scarf around her": adds
        m_prep = re.match(r"^(?P<x>.+?)\s+(?:in|with|using|to|into|as)\s+(?P<y>.+)$", rest)
        if m_prep and noun_phrase(m_prep.group("x")).phrase:
            frame = classify_change("color", m_prep.group("x"), m_prep.group("y"), rule="color-verb")
        else:
            split = _split_make(rest)
            if split:
                frame = classify_change("color", split[0], split[1], rule="color-verb")
            else:
                frame = Frame(T.LOCAL_STYLE, target=rest, rule="color-verb", confidence=0.8)
        if frame.itype == T.REPLACE:
            frame.itype = T.LOCAL_STYLE
        return frame

    def _adjust(self, c: str) -> Frame | None:
        m = _RE_ADJUST.match(c)
        if not m:
            return None
        verb, x_text = m.group("verb"), m.group("x")
        np_ = noun_phrase(x_text)
        style = "pixel art" if verb in ("pixelate", "pixelize") else ""
        result = style or _ADJUST_RESULTS.get(verb, verb)
        if np_.whole:
            return Frame(T.GLOBAL_STYLE, subject="image", result=result, style=1, rule="adjust-image")
        return Frame(T.LOCAL_STYLE, target=x_text, result=result, style=1 if style else 0, rule="adjust")

    def _ify(self, c: str) -> Frame | None:
        m = _RE_IFY.match(c)
        if not m:
            return None
        style = (m.group("style") or m.group("style2") or "").strip(" -'")
        if not style or style.split()[-1] in _IFY_NOT_STYLE or style in _IFY_NOT_STYLE:
            return None
        if re.search(r"(?:^|\s)(?:a|an|the|some|this|that|my|our|your)\s", style):
            # "a fluffy cat on the rug ...", "add a fluffy cat": an adjective ending in -fy inside a noun phrase
            return None
        if not (_has_style(style, strict=False) or "-" in c.split()[0] or _STYLE_ALT.search(style)
                or len(style.split()) > 1):
            return None
        x_text = m.group("x") or ""
        if noun_phrase(x_text).whole:
            return Frame(T.GLOBAL_STYLE, subject="image", result=f"{style} style", style=1, rule="ify")
        return Frame(T.LOCAL_STYLE, target=x_text, result=f"{style} style", style=1, rule="ify")

    def _apply(self, c: str) -> Frame | None:
        m = _RE_APPLY.match(c)
        if not m:
            return None
        y = noun_phrase(m.group("y"))
        if not (y.head in lx.EFFECT_NOUNS or y.attribute or _has_style(m.group("y"), strict=True)):
            return None
        x_text = m.group("x") or ""
        if not x_text or noun_phrase(x_text).whole:
            return Frame(T.GLOBAL_STYLE, subject="image", result=m.group("y"), style=1, rule="apply-effect")
        frame = classify_change("change", x_text, m.group("y"), rule="apply-effect")
        if frame.itype == T.REPLACE:
            frame.itype = T.LOCAL_STYLE  # "add some sparkle to the train": an effect on it, never a new object
        return frame

    def _add(self, c: str) -> Frame | None:
        m = _RE_ADD.match(c)
        if not m:
            return None
        verb, rest = m.group("verb"), m.group("rest")
        rest = skip_leading_place(rest)
        rest = re.sub(r"^(?:in|on|back)\s+(?=(?:a|an|some|the)\b)", "", rest)
        np_ = noun_phrase(rest, places=False)  # "put the vase on the table": where it goes
        if not np_.phrase:
            return None
        placement = verb.split()[0] in lx.PLACEMENT_VERBS
        loc = re.sub(r"^(?:on|in|into|onto|at|inside|under|near|next to|beside|against|by|over|above|to|"
                     r"within|across|along|around|behind|among|amid|atop|on top of|in front of)\s+", "", np_.rest)
        if loc == np_.rest:
            loc = ""  # "a garden surrounding the shed and ...": no location phrase
        if placement and not _indefinite(np_):
            frame = _placement(rest, loc)
            if frame is not None or not loc:
                return frame
        behind = re.match(r"^(?P<own>(?:(?:with|at|in|of|under|full of)\s+\S.*?\s+)?)behind\s", np_.rest)
        if verb.split()[0] in ("show", "put", "place", "set", "have", "paint", "draw") and behind and \
                (result_kind(_clean_result(np_.phrase)[0]) in ("scene", "env") or np_.head in lx.PLACE_NOUNS) and \
                not _has_style(np_.phrase, strict=True):
            # "show a lavender field (with bees) behind the kettle": a new setting for the object, not an added
            # thing; the scene's own qualifier ("a desert with dunes", "a beach at sunset") stays in the result
            scene = rest[: len(rest) - len(np_.rest)].strip()
            return Frame(T.LOCAL_STYLE, target=rest, result=f"{scene} {behind.group('own')}".strip(),
                         subject="background", rule="scene-behind")
        if np_.head in lx.EFFECT_NOUNS or np_.attribute:
            target = loc if loc else ""
            if not target or noun_phrase(target).whole:
                return Frame(T.GLOBAL_STYLE, subject="image", result=rest, style=1, rule="add-effect")
            return Frame(T.LOCAL_STYLE, target=target, result=np_.phrase, rule="add-effect")
        if _has_style(np_.phrase, strict=True):
            return Frame(T.GLOBAL_STYLE, subject="image", result=np_.phrase, style=1, rule="add-style")
        if np_.head in lx.ADDED_SCENE_NOUNS or np_.head in lx.SEASON_TIME_WEATHER and np_.head not in ("rainbow",):
            where = noun_phrase(loc) if loc else None
            subject = where.phrase if where and where.phrase and not where.whole and \
                where.head not in ("background", "foreground", "distance") else "background"
            return Frame(T.LOCAL_STYLE, target=rest, result=np_.phrase if subject != "background" else rest,
                         subject=subject, rule="add-scenery")
        return Frame(T.ADD, target=rest, result=rest, rule="add", confidence=0.95)

    def _out_of_picture(self, c: str) -> Frame | None:
        """ "strip the bin from the scene", "yank the pram out of the picture": whatever the verb, an object taken
        from the picture itself is removed (the mirror of `_into_picture`)."""
        # normalising drops "from the scene" from the clause read here; the raw clause still has it
        m = re.match(r"^(?P<verb>[a-z]+)\s+(?P<x>.+?)\s+(?:from|out of|off)\s+(?:the|this|my|our|your)\s+"
                     r"(?:picture|scene|image|photo|photograph|shot|frame|pic)$", self.raw_clause)
        if not m or not c.startswith(m.group("verb") + " ") or m.group("verb") in _NOT_TAKING_OUT or \
                re.match(rf"^(?:{_TRANSFORM_VERB}|{_COLOR_VERB})$", m.group("verb")):
            return None
        x = noun_phrase(m.group("x"))
        if not x.phrase or not x.definite or x.whole or x.rest:
            return None
        return Frame(T.REMOVE, target=m.group("x"), rule="out-of-the-picture")

    def _into_picture(self, c: str) -> Frame | None:
        """ "sneak a fox into the picture on the left": whatever the verb, a new object brought into the picture
        is added (a remove verb takes things out of it, never into it)."""
        return _brought_in(_RE_INTO_PICTURE.match(c), "rest", "into-the-picture")

    def _into_place(self, c: str) -> Frame | None:
        """ "slip a little mouse under the table": whatever the verb (when no other verb rule read it), a new object
        brought to a place by something already in the picture is added."""
        return _brought_in(_RE_INTO_PLACE.match(c), "where", "into-a-place")

    def _see(self, c: str) -> Frame | None:
        m = _RE_SEE.match(c)
        if m and _indefinite(noun_phrase(m.group("rest"))):
            return Frame(T.ADD, target=m.group("rest"), result=m.group("rest"), rule="see")
        return None

    # -- subject first ("the ladder should be removed")
    def _subject_first(self, c: str) -> Frame | None:
        c = re.sub(r"^(?:can|could|would|will|may|might|shall|should)\s+there\s+be\s+", "there should be ", c)
        # "it should look like a winter tale" (what "could it look like ..." becomes): the whole picture's look
        c = re.sub(r"^(?:(?:could|can|would|might|should|will)\s+(?:it|this|everything|the whole thing)|(?:it|this|"
                   r"everything|the whole thing)\s+(?:should|could|can|would|might))\s+(?:look|feel)\s+like\s+",
                   "make it look like ", c)
        if c.startswith("make it look like "):
            return self._verb_first(c)
        m = _RE_NOT_CONTAIN.match(c)
        if m and noun_phrase(m.group("x")).phrase:
            return Frame(T.REMOVE, target=m.group("x"), rule="should-not-contain")
        m = _RE_NOT_THERE.match(c)
        if m and noun_phrase(m.group("x")).phrase:
            return Frame(T.REMOVE, target=m.group("x"), rule="should-not-be-there")
        m = _RE_BETTER_WITHOUT.match(c)
        if m:
            frame = _free_of(m.group("x"), m.group("y"))
            if frame is not None:
                frame.rule = "better-without"
                return frame
        m = _RE_SHOULD_BE_FREE_OF.match(c)
        if m:
            frame = _free_of(m.group("x"), m.group("y"))
            if frame is not None:
                return frame
        m = re.match(r"^(?:can|could|would|will|may|might|shall|should)\s+(?P<x>.+?)\s+(?P<rest>(?:be|become|look|"
                     r"get|turn|appear|have|wear|hold|disappear|vanish|go|leave|fade)\b.*)$", c)
        if m and noun_phrase(m.group("x")).phrase and m.group("x") not in ("you", "we", "i", "u"):
            c = f"{m.group('x')} should {m.group('rest')}"
        m = _RE_OUTCOME.match(c)
        if m:
            rest = m.group("rest")
            state = _RE_OUTCOME_STATE.match(rest)
            if state and noun_phrase(state.group("x")).phrase:
                return self._subject_first(f"{state.group('x')} should be {state.group('y')}")
            # "in the final image, a kite stands where the lamp was": any frame a bare clause could have
            frame = self._first(rest, (self._compound_replace, self._instead, self._subject_first, self._verb_first))
            if frame is not None:
                return frame
        m = re.match(r"^(?:the\s+)?(?:same|this|my|that)\s+(?:(?:picture|image|photo|shot|scene|one)\s+)?(?:but\s+)?"
                     r"(?:minus|without|sans|except for|less)\s+(?P<x>.+)$", c)
        if m and noun_phrase(m.group("x")).phrase:
            return Frame(T.REMOVE, target=m.group("x"), rule="same-minus-x")  # "the same picture minus the van"
        m = _RE_NEVER_THERE.match(c)
        if m and noun_phrase(m.group("x")).phrase and m.group("x") != "there":
            return Frame(T.REMOVE, target=m.group("x"), rule="wish-not-there")
        m = re.match(r"^(?:(?:i|we)(?: really| just)? wish(?: that)?|if only)\s+(?P<x>.+?)\s+(?:wasn't|weren't|was not|"
                     r"were not|didn't exist|did not exist)\b", c)
        if m and noun_phrase(m.group("x")).phrase and m.group("x") != "there":
            return Frame(T.REMOVE, target=m.group("x"), rule="wish-not-there")
        m = re.match(r"^(?:(?:i|we)(?: really| just)? wish(?: that)?|if only)\s+there\s+(?:was|were|could be|would be|"
                     r"had been)\s+(?P<y>.+)$", c)
        if m and noun_phrase(m.group("y")).phrase:
            return Frame(T.ADD, target=m.group("y"), result=m.group("y"), rule="wish-there-were")
        m = _RE_WHAT_IF.match(c)
        if m:
            if m.group("verb") in ("had", "wore", "held", "would have"):
                return Frame(T.ADD, target=m.group("y"), result=m.group("y"), rule="wish-had")
            return classify_change("change", m.group("x"), m.group("y"), rule="what-if")
        m = re.match(r"^(?:imagine|picture|envision|envisage|visuali[sz]e)\s+(?P<x>(?:the|this|that|my|our|your|his|her|"
                     r"their)\s.+?)\s+as\s+(?P<y>.+)$", c)
        if m and noun_phrase(m.group("x")).phrase and not noun_phrase(m.group("x")).whole:
            # "imagine the barn as a castle": a wish for the object to be something else (the whole picture
            # imagined as a mood is left to the other readers and the head)
            return classify_change("change", m.group("x"), m.group("y"), rule="imagine-x-as-y")
        m = _RE_BETTER_THAN.match(c)
        if m and _indefinite(noun_phrase(m.group("y"))) and noun_phrase(m.group("x")).phrase and \
                noun_phrase(m.group("x")).definite:
            # "a fox would be cooler than the dog": the new thing is wanted where the old one is
            return classify_change("replace", m.group("x"), m.group("y"), rule="y-better-than-x")
        m = _RE_WOULD_BE_NICE.match(c)
        if m and _indefinite(noun_phrase(m.group("x"))) and noun_phrase(m.group("x")).leading:
            return Frame(T.ADD, target=m.group("x"), result=m.group("x"), rule="would-be-nice")
        m = _RE_NEG_DESIRE.match(c)
        if m:
            return Frame(T.REMOVE, target=m.group("x"), rule="dont-want")
        m = _RE_LET_THERE.match(c)
        if m:
            return Frame(T.ADD, target=m.group("rest"), result=m.group("rest"), rule="let-there-be")
        m = _RE_THERE.match(c)
        if m:
            if m.group("no"):
                return Frame(T.REMOVE, target=m.group("rest"), rule="there-should-be-no")
            return Frame(T.ADD, target=m.group("rest"), result=m.group("rest"), rule="there-should-be")
        m = _RE_NO.match(c)
        if m and noun_phrase(m.group("x")).phrase:
            return Frame(T.REMOVE, target=m.group("x"), rule="no-x", confidence=0.8)
        m = _RE_SUBJECT_ADDED.match(c)
        if m and _indefinite(noun_phrase(m.group("x"))) and noun_phrase(m.group("x")).phrase:
            return Frame(T.ADD, target=m.group("x"), result=m.group("x"), rule="x-should-be-added")
        m = _RE_SUBJECT_REMOVE.match(c)
        if m and noun_phrase(m.group("x")).phrase and not _RE_EDIT_CUE.match(c):
            return Frame(T.REMOVE, target=m.group("x"), location=m.group("rest"), rule="x-should-go")
        m = _RE_SUBJECT_REPLACED.match(c)
        if m and noun_phrase(m.group("x")).phrase:
            kind = "replace" if m.group("verb") in ("replaced", "swapped", "substituted", "exchanged",
                                                    "switched", "traded") else "change"
            return classify_change(kind, m.group("x"), m.group("y"), rule="x-replaced-by")
        m = _RE_SUBJECT_GIVEN.match(c)
        if m and noun_phrase(m.group("x")).phrase:
            # "the man on the bench should be given a newspaper": the passive of "give the man a newspaper"
            frame = self._give(f"give {m.group('x')} {m.group('y')}")
            if frame is not None:
                return frame
        m = _RE_SUBJECT_BECOME.match(c)
        if m and noun_phrase(m.group("x")).phrase:
            verb, y_text = m.group("verb"), m.group("y")
            y_head = noun_phrase(y_text).head
            if verb in ("have", "get") and (_new_look_of_part(m.group("x"), y_text) or (
                    (y_head in lx.EFFECT_NOUNS | lx.ATTRIBUTE_NOUNS or y_head in lx.TEXTURES or
                     # "a persian pattern": the phrase reads "persian" as its head, the pattern is still a look
                     y_text.split()[-1] in lx.ATTRIBUTE_NOUNS) and
                    not noun_phrase(m.group("x")).whole)):  # "a crimson tint", "stripes", "polka dots"
                # "the wagon should have a crimson tint", "the barn should have a tin roof": a new look for it
                frame = classify_change("change", m.group("x"), y_text, rule="x-should-have-a-look")
                frame.itype = T.LOCAL_STYLE
                return frame
            if verb in ("have", "wear", "hold", "carry", "get"):
                return Frame(T.ADD, target=y_text, result=y_text, rule="x-should-have")
            action = re.match(r"^(?P<v>[a-z]+)\s+(?P<y>.+)$", y_text)
            x_np = noun_phrase(m.group("x"))
            if verb in ("appear", "turn", "come") and x_np.leading in ("a", "an", "some") and \
                    re.match(r"^(?:up\s+)?(?:in|on|at|over|above|under|below|beside|behind|near|next to|across|"
                             r"along|around|among|between|by)\s", y_text):
                # "a rainbow should appear over the hills": a new thing shows up somewhere
                return Frame(T.ADD, target=m.group("x"), result=f"{m.group('x')} {y_text}", rule="new-x-should-appear")
            if verb == "be" and x_np.leading in ("a", "an", "some") and _RE_BE_SOMEWHERE.match(y_text):
                # "a deer should be standing in the field": a new thing described where it is
                return Frame(T.ADD, target=m.group("x"), result=f"{m.group('x')} {y_text}", rule="new-x-should-be-at")
            if verb == "be" and action and action.group("v") in lx.ACTION_VERBS:
                return Frame(T.ADD, target=action.group("y"), result=action.group("y"), rule="x-should-be-doing")
            y_text = re.sub(r"^(?:painted|colou?red|dyed|turned|changed|rendered|done|tinted|recolou?red)\s+"
                            r"(?:in(?:to)?\s+|to\s+|as\s+)?", "", y_text)
            if verb == "be" and _expression_verb(y_text):
                # "the old man should be frowning": a new expression or pose of the same object
                return Frame(T.LOCAL_STYLE, target=m.group("x"), result=y_text, rule="x-should-be-expression")
            # "look better in red", "would look amazing in bright yellow": the praise is no part of the new look
            y_text = re.sub(r"^(?:(?:so|way|much|really|even|super|absolutely|just)\s+)?(?:better|nicer|best|good|great|"
                            r"lovely|amazing|awesome|fantastic|stunning|gorgeous|perfect|cool|cute|nice|beautiful|"
                            r"fabulous|incredible|sharp|sick|fire|dope)\s+(?:in|as|with)\s+", "", y_text)
            if verb == "feel" and y_text.split()[0] in lx.PREPOSITIONS:
                return None  # "the cat should feel at home": no look named
            kind = "look" if verb.startswith(("look", "feel")) or verb in ("appear", "seem", "resemble") else "change"
            return classify_change(kind, m.group("x"), y_text, rule="x-should-be")
        m = re.match(r"^(?P<x>.+?)\s+(?:->|to|into|becomes?|becoming|turns? into|=)\s+(?P<y>.+)$", c)
        if m and noun_phrase(m.group("x")).phrase and " -> " in c:
            return classify_change("change", m.group("x"), m.group("y"), rule="arrow", confidence=0.8)
        m = re.match(r"^(?P<x>.+?)\s+(?:(?:really|still|definitely|just|kind of|kinda|totally)\s+)?(?:needs|could use|"
                     r"deserves|should get|should have|gets|could do with|would benefit from|"
                     # "this counter is crying out for a fruit basket": a lack said as a longing
                     r"(?:is|are)\s+(?:crying|screaming|calling|begging|asking|dying|aching|longing|yearning)\s+(?:out\s+)?for|"
                     r"cries out for|screams for|begs for|longs for|yearns for)\s+(?P<y>(?:a|an|some)\s.+)$", c)
        if m and noun_phrase(m.group("x")).phrase and not noun_phrase(m.group("x")).whole and \
                m.group("y").split()[-1] in lx.ATTRIBUTE_NOUNS | {"job", "makeover"}:
            # "the rug needs a teal paint job": a new look for it ("the scene could use a tree" adds: no look noun)
            frame = classify_change("change", m.group("x"), m.group("y"), rule="x-needs-a-look")
            if frame.itype == T.REPLACE:
                frame.itype = T.LOCAL_STYLE  # "a jet black paint job": a look, never a new object
            return frame
        if m and (m.group("x") in ("it", "this", "this one") or noun_phrase(m.group("x")).whole) and \
                result_kind(m.group("y"), "replace") == "object" and noun_phrase(m.group("y")).phrase and \
                noun_phrase(m.group("y")).head not in lx.EFFECT_NOUNS and not _has_style(m.group("y"), strict=False) \
                and m.group("y").split()[-1] not in lx.ATTRIBUTE_NOUNS | {"job", "makeover", "filter", "effect"}:
            # "it needs a balloon in the corner", "the scene could use a sunflower": the picture lacks a new thing
            return Frame(T.ADD, target=m.group("y"), result=m.group("y"), rule="picture-needs-y")
        if m and noun_phrase(m.group("x")).phrase and noun_phrase(m.group("x")).definite and \
                _indefinite(noun_phrase(m.group("y"))) and result_kind(m.group("y"), "replace") == "object" and \
                noun_phrase(m.group("y")).head not in lx.EFFECT_NOUNS and not _has_style(m.group("y"), strict=False) \
                and m.group("y").split()[-1] not in lx.ATTRIBUTE_NOUNS | {"job", "makeover", "filter", "effect"}:
            # "the yard really needs a swing": a place or thing lacks a new thing, which goes there
            return Frame(T.ADD, target=m.group("y"), result=m.group("y"), location=m.group("x"), rule="x-needs-y",
                         confidence=0.8)
        m = _RE_SUBJECT_BECOMES.match(c)
        if m and noun_phrase(m.group("x")).phrase and not noun_phrase(m.group("x")).rest:
            return classify_change("change", m.group("x"), m.group("y"), rule="x-becomes-y")
        return self._described(c)

    def _described(self, c: str) -> Frame | None:
        """A noun phrase with no verb that describes the result: "the cat with a cape" (a new thing for an
        object already there: added), "the mug in red" (a new look: a local change). A with-phrase that only
        identifies the object ("the mug with the chipped handle") is definite and names no edit: not read."""
        x = noun_phrase(c)
        if not x.phrase or not x.definite or x.attribute or x.whole:
            return None
        m = re.match(r"^with\s+(?P<y>.+)$", x.qualifier + (" " + x.rest if x.rest else "") if x.qualifier else x.rest)
        if m:
            y = noun_phrase(m.group("y"))
            if y.phrase and _indefinite(y) and not y.definite and result_kind(m.group("y"), "replace") == "object":
                head_end = c.find(" with ")
                return Frame(T.ADD, target=m.group("y"), result=m.group("y"), location=c[:head_end],
                             rule="x-with-new-y", confidence=0.8)
        m = re.match(r"^,?\s*but\s+(?P<y>.+)$", x.rest)
        if m and (result_kind(m.group("y")) == "attribute" or all(
                w in lx.COLOURS or is_attribute_word(w) for w in _clean_result(m.group("y"))[0].split())):
            # "the brass fence, but red": the object as named, then its new look
            frame = classify_change("change", c[: len(c) - len(x.rest)].strip(" ,"), m.group("y"), rule="x-but-y",
                                    confidence=0.8)
            if frame.itype == T.LOCAL_STYLE:
                return frame
        m = re.match(r"^(?:in|as)\s+(?P<y>.+)$", x.rest)
        if m and not x.qualifier and result_kind(m.group("y")) in ("attribute", "style"):
            return classify_change("change", c[: len(c) - len(x.rest)].strip(), m.group("y"), rule="x-in-y",
                                   confidence=0.8)
        return None

    # -- "I want ..." / "I'd like ..."
    def _desire(self, c: str) -> Frame | None:
        m = _RE_DESIRE.match(c)
        if not m:
            m = re.match(r"^(?:give me|show me|i'd love|i would love|we need|i need)\s+(?P<rest>.+)$", c)
            if not m:
                return None
        rest = m.group("rest")
        m_see = re.match(r"^to\s+(?:see|have|get|add)\s+(?P<rest>.+)$", rest)
        if m_see:
            rest = m_see.group("rest")
            if _indefinite(noun_phrase(rest)):
                return Frame(T.ADD, target=rest, result=rest, rule="want-to-see")
        # "I'd really prefer a sunflower instead of the rose": a wish for a new thing in the old one's place
        frame = self._first(rest, (self._instead, self._subject_first, self._verb_first))
        if frame is not None:
            return frame
        m_state = re.match(rf"^(?P<x>.+?)\s+(?:{_DISAPPEAR}|out(?: of (?:here|there|the way|it))?|deleted|erased|"
                           r"taken out|eliminated|no more|away)\s*$", rest)
        if m_state and noun_phrase(m_state.group("x")).phrase:
            return Frame(T.REMOVE, target=m_state.group("x"), rule="want-gone")
        m_rep = re.match(r"^(?P<x>.+?)\s+(?:replaced|swapped|substituted|exchanged|switched|traded|changed|"
                         r"turned|transformed|converted)\s+(?:out\s+)?(?:with|by|for|to|into)\s+(?P<y>.+)$", rest)
        if m_rep:
            return classify_change("replace", m_rep.group("x"), m_rep.group("y"), rule="want-replaced")
        m_to = re.match(r"^(?P<x>.+?)\s+to\s+(?:be|become|look|look like|turn|turn into|appear|resemble|have|"
                        r"wear|hold|get)\s+(?P<y>.+)$", rest)
        m_do = re.match(r"^(?P<x>.+?)\s+to\s+(?P<v>[a-z]+)$", rest)
        if m_do and m_do.group("v") in lx.EXPRESSION_VERBS and noun_phrase(m_do.group("x")).phrase:
            # "I want the girl to laugh": her expression changes, as "make the girl laugh"
            return Frame(T.LOCAL_STYLE, target=m_do.group("x"), result=m_do.group("v"), rule="want-x-to-smile")
        if m_to:
            owner = noun_phrase(m_to.group("x"))
            look = re.match(r"^(?:look|looks)\s+(?:like\s+)?(?P<y>.+)$", rest[len(m_to.group("x")) + 4:])
            if look and (owner.whole or owner.pronoun in ("it", "this", "that", "everything")):
                # "I want this to look like a rainy evening": the whole picture's look
                return classify_change("look", "the image", look.group("y"), rule="want-it-to-look")
            return self._subject_first(f"{m_to.group('x')} should {rest[len(m_to.group('x')) + 4:]}")
        m_in = re.match(r"^(?P<x>.+?)\s+(?:in|as|with)\s+(?P<y>.+)$", rest)
        np_ = noun_phrase(rest)
        if _indefinite(np_) and not (m_in and result_kind(m_in.group("y")) in ("attribute", "style")):
            return Frame(T.ADD, target=rest, result=rest, rule="want-a", confidence=0.85)
        if m_in and (np_.phrase or np_.whole):
            return classify_change("change", m_in.group("x"), m_in.group("y"), rule="want-x-in-y")
        return None

    # -- "in the style of Monet", "watercolour style, please"
    def _style_only(self, c: str) -> Frame | None:
        if _has_style(c, strict=False) and (_STYLE_ALT.search(c) or re.search(r"\bstyle\b", c) or
                                            len(c.split()) <= 4):
            return Frame(T.GLOBAL_STYLE, subject="image", result=c, style=1, rule="style-words", confidence=0.75)
        return None
