"""The deterministic offline parser: no model, pure Python, well under a millisecond per instruction.

How it reads an instruction
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
  determiners, quantities ("a group of sheep" -> "sheep", "two ducks" -> "ducks"), possessors
  ("the man's clothes" -> "clothes"), parentheses, and anything after the head noun (prepositional,
  participle and relative clauses: "the dog wearing goggles in the car" -> "dog"). Portions stay
  ("cup of coffee", "slices of cake").
- An attribute word is not the subject: "the animal's fur color" -> "fur", "the color of the bicycle"
  -> "bicycle", "the hat's floral pattern" -> "hat".
- replace (0): the object being replaced; add (1): the object being added; remove (5): the object
  removed; local change (2): the object or region changed — "background" when an object is moved to
  a new setting ("put the cat on a beach"); global style (3) and style reference (4): "image".
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Callable

from polaris_core.intent import InstructionType, Intent, normalize_subject
from polaris_core.progress import CheckCancel, OnStep
from polaris_core.parse import lexicon as lx
from polaris_core.parse.base import (
    LOW_CONFIDENCE,
    InstructionParser,
    PreparedInstruction,
    finish_intent,
)

T = InstructionType


def _alternation(words: str) -> str:
    """Regex alternation, longest phrase first, spaces matching any whitespace."""
    parts = sorted(set(words.split("|")), key=len, reverse=True)
    return "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in parts)


# ----------------------------------------------------------------------------- normalisation
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-",
                         "\u2014": " - ", "\u00b4": "'", "`": "'"})
_PARENS = re.compile(r"\([^()]*\)|\[[^\[\]]*\]|\{[^{}]*\}")
_DROP_CHARS = re.compile(r"[\"*_#<|~^]|(?<!-)>")
_SPACES = re.compile(r"\s+")
# 'the text "STOP"' -> 'the text': the quoted words are content, not the object
_QUOTED_TEXT = re.compile(r"\b(text|word|words|caption|title|label|slogan|letters|lettering|writing)\s+(?:\"[^\"]{1,80}\"|'[^']{1,80}')")
_TOKEN = re.compile(r"[a-z0-9\u00c0-\u024f][a-z0-9\u00c0-\u024f'&/+-]*|[,;:]")
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?;])\s+|\s*\n+\s*")
_ARROW = re.compile(r"\s*(?:->|=>|→|⇒|➡|⟶|-->)\s*")
_TYPOS = {"teh": "the", "hte": "the", "th": "the", "adn": "and", "remvoe": "remove", "reomve": "remove",
          "remoev": "remove", "replcae": "replace", "repalce": "replace", "chnage": "change", "cahnge": "change",
          "colour": "colour", "ad": "add", "pls": "please", "plz": "please", "u": "you", "ur": "your"}
_EMOJI_WORDS = {
    "HEAVY PLUS SIGN": " add ", "PLUS SIGN": " add ", "CROSS MARK": " remove ", "NO ENTRY SIGN": " remove ",
    "WASTEBASKET": " remove ", "HEAVY MULTIPLICATION X": " remove ", "ARTIST PALETTE": " style ",
    "PAINTBRUSH": " paint ", "LOWER LEFT PAINTBRUSH": " paint ",
}
_EMOJI_SKIP = ("VARIATION SELECTOR", "MODIFIER", "ZERO WIDTH")  # invisible helpers: no meaning of their own
_EMOJI_NOISE = frozenset({"face"})  # "DOG FACE" -> "dog"

# Leading politeness and framing, removed repeatedly ("Hey, could you please just ...").
_FRAMING = re.compile(
    r"^(?:hey|hi|hello|ok|okay|so|now|then|and|also|just|simply|please|pls|plz|kindly|quickly|carefully|"
    r"gently|first|next|finally|lastly|alright|right|well|oh|um|hmm|go ahead and|"
    r"would you mind(?: to)?|would you be able to|are you able to|is it possible to|"
    r"(?:could|can|would|will|might) (?:you|u|we|i)(?: please| kindly| maybe| just)?|may i ask you to|"
    r"(?:i|we)(?:'d|'ll| would| will| really| just| also| kinda| do)* (?:want|need|like|love|wish|prefer)s? "
    r"(?:for )?(?:you|u) to|try to|try and|help me|let's|let us|lets|"
    r"(?:we|you|i) (?:should|need to|must|can|could|have to|gotta)|"
    r"(?:i|we)(?:'d|'ll| would| will| really| just| also| kinda| kind of| do)* (?:want|need|like|love|wish|"
    r"prefer|plan|intend|hope|try|am going|'m going|are going|'re going)s? to|i wanna|"
    r"maybe|perhaps|ideally|basically|actually|"
    r"it (?:would|'d|will|might) be (?:nice|great|good|cool|awesome|better|lovely|fun|ideal) (?:to|if you could|if we could|if it could)|"
    r"i think (?:you should|we should|it would be nice to)|"
    r"i(?:'d| would) appreciate it if you could|if you could|if possible,?|for me,?|"
    r"edit (?:this|the) (?:image|photo|picture) (?:to|so that|so)|in this (?:image|photo|picture),?|"
    r"(?:edit|task|instruction|request)\s*:)[\s,:]+"
)
_TRAILING = re.compile(
    r"[\s,]+(?:please|thanks|thank you|for me|if possible|if you can|if you could|pls|plz|thx|"
    r"now|quickly|asap|too|as well|again|here|in this one)$"
)
_IN_IMAGE = re.compile(
    r"\s+(?:in|of|from|within|inside|on|across|throughout|to) (?:the|this|my|our|your|that) "
    r"(?:entire |whole |original |given |current |input )?(?:image|picture|photo|photograph|pic|shot|"
    r"frame|scene|painting)(?!'s| style)\b"
)


def _emoji_to_words(text: str) -> str:
    """Emoji and symbols by their Unicode names ("🐶➡️🐱" -> "dog -> cat"), so they can be read best-effort."""
    out = []
    for ch in text:
        if ord(ch) < 0x2000 or unicodedata.category(ch)[0] in "LNZP":
            out.append(ch)
            continue
        name = unicodedata.name(ch, "")
        if name in _EMOJI_WORDS:
            out.append(_EMOJI_WORDS[name])
        elif "ARROW" in name:
            out.append(" -> ")
        elif name and not any(part in name for part in _EMOJI_SKIP):
            words = [w for w in name.lower().split() if w not in _EMOJI_NOISE]
            out.append(" " + " ".join(words) + " ")
    return "".join(out)


def _dedupe(tokens: list[str]) -> list[str]:
    """Drop accidentally doubled words or phrases ("the the", "a wooden a wooden")."""
    changed = True
    while changed:
        changed = False
        for n in (3, 2, 1):
            for i in range(len(tokens) - 2 * n + 1):
                if tokens[i:i + n] == tokens[i + n:i + 2 * n] and tokens[i] not in (",", "very", "bye"):
                    del tokens[i + n:i + 2 * n]
                    changed = True
                    break
            if changed:
                break
    return tokens


def normalise(text: str) -> str:
    """Lower-case working text of an instruction (see module docstring, step 1)."""
    t = text.translate(_QUOTES)
    if any(ord(c) >= 0x2000 for c in t):
        t = _emoji_to_words(t)
    t = t.lower()
    without_parens = _PARENS.sub(" ", t)
    t = without_parens if without_parens.strip() else t
    t = _QUOTED_TEXT.sub(r"\1", t)
    t = _ARROW.sub(" -> ", t)
    t = _DROP_CHARS.sub(" ", t)
    t = _SPACES.sub(" ", t).strip()
    tokens = _dedupe([_TYPOS.get(w, w) for w in t.split(" ")])
    return " ".join(tokens)


def _strip_framing(clause: str) -> str:
    previous = None
    clause = clause.strip(" ,.:;!?-")
    while previous != clause:
        previous = clause
        clause = _FRAMING.sub("", clause).strip(" ,.:;!?-")
        clause = _TRAILING.sub("", clause).strip(" ,.:;!?-")
    return clause


# ----------------------------------------------------------------------------- noun phrases
_WHOLE_MODIFIERS = frozenset("whole entire full overall complete total original current given input same".split())
_GENERIC_ATTR_MODIFIERS = frozenset(
    "art artistic visual overall general main base surface exterior outside outer body paint facial".split()
)
_ATTR_OF = re.compile(
    r"^(?:(?:the|its|their|his|her|my|your|our|a|an)\s+)?(?:(?:main|overall|general|base|surface|exterior|"
    r"outside|art|artistic|visual|current|entire|whole|original)\s+)*"
    r"(?:colou?rs?|colou?ring|texture|textures|patterns?|material|finish|shade|tone|hue|appearance|look|"
    r"style|paint(?:work| job)?|season|weather|lighting|sheen|palette|time of day|shape|design|expression|"
    r"facial expression|pose|posture|size|age|length|height|mood|emotion)\s+of\s+(?P<owner>.+)$"
)
# attribute nouns that, with no owner, mean the whole picture ("make the colours more vibrant")
_WHOLE_PICTURE_ATTRIBUTES = frozenset(
    "color colour colors colours coloring colouring lighting style look tone tones hue palette aesthetic vibe "
    "mood atmosphere weather season saturation shade shading feel time".split()
)
# attribute nouns only when owned ("the car's paint"), concrete otherwise ("face paint")
_OWNED_ONLY_ATTRIBUTES = frozenset("paint paintwork".split())
_TRAILING_ADVERBS = frozenset(
    "a little bit slightly more less completely totally entirely somewhat too instead again now please "
    "too much very well also as".split()
)


@dataclass
class NounPhrase:
    phrase: str                 # subject form (see module docstring)
    head: str                   # last word of the phrase
    words: list[str]
    rest: str                   # text after the phrase
    definite: bool = False
    indefinite: bool = False
    pronoun: str = ""
    attribute: bool = False     # an attribute noun was stripped ("fur colour" -> "fur")
    attribute_word: str = ""    # the first attribute noun stripped
    owner_whole: bool = False   # "the style of the image": attribute of the whole image
    leading: str = ""           # the determiner it started with

    @property
    def whole(self) -> bool:
        core = [w for w in self.words if w not in _WHOLE_MODIFIERS]
        if self.pronoun in ("it", "this", "that", "everything"):
            return True
        if not core:
            return not self.attribute
        if core[-1] not in lx.WHOLE_IMAGE_NOUNS or core[-1] in ("all", "thing") and len(core) > 1:
            return False
        return all(w in lx.WHOLE_IMAGE_NOUNS or w in lx.DESCRIPTIVE or w in lx.SEASON_TIME_WEATHER
                   or w in lx.ATTRIBUTE_WORDS for w in core[:-1])


def noun_phrase(text: str) -> NounPhrase:
    """The leading noun phrase of `text`, reduced to the subject convention."""
    text = text.strip(" ,.;:")
    m = _ATTR_OF.match(text)
    if m:
        inner = noun_phrase(m.group("owner"))
        inner.attribute = True
        if inner.whole:
            inner.owner_whole = True
        return inner
    tokens = _TOKEN.findall(text)
    n = len(tokens)
    i = 0
    np_ = NounPhrase(phrase="", head="", words=[], rest="")
    # determiners, quantities, collectives ("all of the", "a group of", "two")
    while i < n:
        t = tokens[i]
        if t in lx.DETERMINERS or t.isdigit():
            if not np_.leading:
                np_.leading = t
            if t in lx.DEFINITE_STARTS:
                np_.definite = np_.definite or not np_.indefinite
            elif t in lx.INDEFINITE_STARTS or t.isdigit():
                np_.indefinite = np_.indefinite or not np_.definite
            i += 1
            continue
        if t == "of" and i > 0:
            i += 1
            continue
        if t in lx.COLLECTIVES and i + 1 < n and tokens[i + 1] == "of":
            np_.indefinite = np_.indefinite or not np_.definite
            np_.leading = np_.leading or t
            i += 2
            continue
        break
    if i < n and tokens[i] in lx.PRONOUNS and tokens[i] not in ("her", "his", "its", "their"):
        np_.pronoun = tokens[i]
        np_.definite = True
        np_.rest = " ".join(tokens[i + 1:])
        if tokens[i] in ("it", "this", "that"):
            np_.words = []
            return _finish_np(np_, [])
        np_.words = [lx.PRONOUNS[tokens[i]]]
        return _finish_np(np_, np_.words)
    if i < n and tokens[i] in ("everything", "everyone", "everybody", "all"):
        np_.pronoun = "everything" if tokens[i] != "everyone" else ""
        np_.rest = " ".join(tokens[i + 1:])
        if tokens[i] in ("everyone", "everybody"):
            return _finish_np(np_, ["people"])
        return _finish_np(np_, [])
    words: list[str] = []
    while i < n:
        t = tokens[i]
        nxt = tokens[i + 1] if i + 1 < n else ""
        pos = len(words)
        if t in (",", ";", ":"):
            if words and words[-1] in lx.DESCRIPTIVE | lx.ATTRIBUTE_WORDS and nxt and nxt not in lx.NP_STOPWORDS \
                    and nxt not in lx.PREPOSITIONS and nxt not in lx.CLAUSE_VERBS and nxt not in lx.DETERMINERS:
                i += 1
                continue
            break
        if t == "of":
            if words and words[-1] in lx.PORTIONS:
                words.append(t)
                i += 1
                while i < n and tokens[i] in lx.DETERMINERS:
                    i += 1
                continue
            if words and len(words) == 1 and words[-1] in lx.COLLECTIVES:
                words = []
                i += 1
                while i < n and tokens[i] in lx.DETERMINERS:
                    i += 1
                continue
            break
        if t in ("and", "or", "&", "plus"):
            if pos == 0 or not nxt or nxt in lx.CLAUSE_VERBS or nxt in lx.PREPOSITIONS or nxt in lx.NP_STOPWORDS \
                    or nxt in (",", "then") or nxt in lx.PRONOUNS:
                break
            words.append("and" if t in ("&", "plus") else t)
            i += 1
            while i < n and tokens[i] in lx.DETERMINERS:
                i += 1
            continue
        if pos > 0 and (t in lx.PREPOSITIONS or t in lx.NP_STOPWORDS or t in lx.PAST_PARTICIPLES
                        or t in lx.BARE_VERBS or t in ("i", "you", "we", "he", "she", "they", "->")):
            break
        if pos == 0 and (t in lx.PREPOSITIONS or t in lx.NP_STOPWORDS or t == "->"):
            break
        if pos > 0 and t.endswith("ing") and len(t) > 4 and t not in lx.NOUN_ING:
            if t in lx.MODIFIER_ING and nxt and nxt not in lx.DETERMINERS and nxt not in lx.PREPOSITIONS \
                    and nxt not in (",", ";", "and") and not nxt.endswith("ing") and not nxt.endswith("ly") \
                    and nxt not in lx.NP_STOPWORDS:
                words.append(t)
                i += 1
                continue
            if len(words) > 1 and words[-1] in lx.GERUND_COMPOUND_NOUNS:
                words.pop()
            break
        if pos > 0 and t.endswith("ly") and t not in ("family", "lily", "fly", "belly", "jelly", "holly",
                                                      "bully", "rally", "ally", "dolly", "trolly", "italy"):
            break
        words.append(t)
        i += 1
    np_.rest = " ".join(tokens[i:])
    return _finish_np(np_, words)


def _finish_np(np_: NounPhrase, words: list[str]) -> NounPhrase:
    original_words = list(words)
    # possessor: keep what is owned ("the man's clothes" -> "clothes")
    possessor: list[str] = []
    for k in range(len(words) - 2, -1, -1):
        if words[k].endswith("'s") or words[k].endswith("s'"):
            possessor = words[:k + 1]
            words = words[k + 1:]
            break
    while words and words[-1] in _TRAILING_ADVERBS:
        words = words[:-1]
    # attribute nouns at the end are not the object ("fur colour" -> "fur")
    while words and words[-1] in lx.ATTRIBUTE_NOUNS and not (
        len(words) == 1 and words[-1] in lx.CONCRETE_ATTRIBUTE_NOUNS
    ) and not (words[-1] in _OWNED_ONLY_ATTRIBUTES and (len(words) > 1 or not possessor)):
        np_.attribute_word = np_.attribute_word or words[-1]
        words = words[:-1]
        np_.attribute = True
        while words and (words[-1] in lx.COLOURS or words[-1] in lx.TEXTURES or words[-1] in _GENERIC_ATTR_MODIFIERS):
            words = words[:-1]
    if np_.attribute and not words and possessor:
        last = possessor[-1]
        words = possessor[:-1] + [last[:-2] if last.endswith("'s") else last[:-1]]
    elif np_.attribute and not words and np_.attribute_word not in _WHOLE_PICTURE_ATTRIBUTES:
        words = original_words  # "the floral surface": a region, not an attribute of the picture
        np_.attribute = False
        np_.attribute_word = ""
    while words and words[0] in lx.DETERMINERS and len(words) > 1:
        words = words[1:]
    np_.words = words
    np_.phrase = " ".join(words)
    np_.head = words[-1] if words else ""
    if np_.attribute and (np_.whole or (not words and not possessor)):
        np_.owner_whole = True  # "the colours", "the lighting": of the whole picture
    return np_


def _subject_of(np_: NounPhrase) -> str:
    if np_.phrase:
        return np_.phrase
    return lx.PRONOUNS.get(np_.pronoun, "object")


# ----------------------------------------------------------------------------- what a result phrase is
_STYLE_ALT = re.compile(r"\b(?:" + _alternation(lx.ARTISTS) + r")(?:'s)?\b")
_IFY = re.compile(r"(?:^|\s)([a-z][a-z' -]*?)-?i?fy(?:ing)?\b")
# stems of ordinary -ify verbs (modify, identify, simplify, ...): not "Van Gogh-ify" style requests
_IFY_NOT_STYLE = frozenset(
    "mod ident spec ver just clar simpl intens ampl beaut magn pur un class not satis glor electr terr "
    "petr solid liqu pretty ugl rect grat stup test sign qual exempl mag divers di horr edi fort ter "
    "gent person obj rat pac".split()
)
_MADE_OF = re.compile(r"\b(?:made|built|crafted|carved|formed|constructed)\s+(?:out\s+)?(?:of|from)\s+")
_RESULT_PREFIX = re.compile(
    r"^(?:(?:it|they|he|she|this|that|everything)(?:'s|'re| is| are| was| were| has been| had been)?\s+)?"
    r"(?:(?:be|being|become|becoming|look|looks|looking|appear|seem)\s+)?(?:like\s+)?"
    r"(?:(?:set|placed|located|situated|taken|shot|photographed|painted|drawn|rendered|made|done|"
    r"created|captured|seen|depicted|standing|sitting|lying)\s+)?"
    r"(?:(?:in|at|on|during|into|to|as|from|by|within|inside|under)\s+)?"
)
_RESULT_CUT = re.compile(
    r",?\s+(?:while|whilst|keeping|maintaining|ensuring|making sure|so that|so it|in order to|blending|"
    r"preserving|leaving|but keep|but leave|without changing|and (?:blend|make|keep|ensure|maintain|"
    r"replace|adjust|leave|restore|fill|change|add|remove|turn|give|put|place|then)|"
    r"to (?:create|give|make|emphasi[sz]e|add|match|blend|keep|ensure|enhance|complete|provide|fit|"
    r"reflect|suggest|show|evoke|highlight|convey)|instead of|rather than)\b.*$"
)


# "a bed and the lamp to a plant": a second edit after the first result
_SECOND_EDIT = re.compile(r"\s+and\s+(?:the|its|their|his|her|this|that)\s+[^,]*?\s+(?:to|into|with)\s+.*$")


def _has_style(text: str, strict: bool) -> bool:
    """True if `text` names an art style (strict: the style must be explicit, e.g. for "replace ... with")."""
    if _STYLE_ALT.search(text):
        return True
    tokens = _TOKEN.findall(text)
    if not tokens:
        return False
    joined = {a + "-" + b for a, b in zip(tokens, tokens[1:])}
    if strict:
        return bool({"style", "styles", "stylized", "stylised", "aesthetic"} & set(tokens)) or \
            tokens[-1].endswith("-style") or any(t.endswith("-esque") for t in tokens)
    head = noun_phrase(text).head or tokens[-1]
    if head in lx.STYLE_WORDS or head.endswith("-style") or head.endswith("-esque"):
        return True
    return bool((set(tokens) | joined) & lx.STRONG_STYLE_WORDS)


def _clean_result(text: str) -> tuple[str, bool]:
    """Strip 'it is made of', 'be set in', purpose clauses. Returns (text, made_of)."""
    text = text.strip(" ,.;:")
    text = _RESULT_CUT.sub("", text)
    text = _SECOND_EDIT.sub("", text)
    made_of = bool(_MADE_OF.search(text))
    if made_of:
        text = text[_MADE_OF.search(text).end():]
    for _ in range(3):
        shorter = _RESULT_PREFIX.sub("", text, count=1).strip()
        if shorter == text:
            break
        text = shorter
    if text.startswith("the style of ") or text.startswith("style of "):
        text = text.split("style of ", 1)[1] + " style"
    return text, made_of


_ATTR_SUFFIXES = ("-colored", "-coloured", "-toned", "-tinted", "-haired", "-looking", "-skinned", "-furred",
                  "-painted", "ish")


_ED_NOUNS = frozenset("bed beds shed sheds sled sleds seed seeds reed reeds weed weeds steed flatbed seabed "
                      "riverbed hotbed sickbed deed creed speed breed".split())


def is_attribute_word(word: str) -> bool:
    """Colour, material, texture or intensity word, comparatives ("greener") and participles ("braided")."""
    if word in lx.ATTRIBUTE_WORDS:
        return True
    if word.endswith("ed") and len(word) > 5 and word not in _ED_NOUNS:
        return True
    if word.endswith(_ATTR_SUFFIXES) and len(word) > 5:
        return True
    for suffix in ("er", "est"):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            stem = word[: -len(suffix)]
            candidates = (stem, stem + "e", stem[:-1] if len(stem) > 2 and stem[-1] == stem[-2] else stem,
                          stem[:-1] + "y" if stem.endswith("i") else stem)
            if any(c in lx.ATTRIBUTE_WORDS or c in lx.DESCRIPTIVE for c in candidates):
                return True
    return False


def _is_attribute(text: str, np_: NounPhrase, article_means_object: bool) -> bool:
    tokens = [t for t in _TOKEN.findall(text) if t not in (",", ";", ":")]
    if not tokens:
        return False
    if np_.attribute and not article_means_object:
        return True
    if all(is_attribute_word(t) or t in lx.ATTRIBUTE_FILLERS or t in lx.DESCRIPTIVE for t in tokens) and \
            any(is_attribute_word(t) or t in lx.ATTRIBUTE_NOUNS for t in tokens):
        if article_means_object and np_.leading in ("a", "an"):
            return False
        return not (np_.leading in ("a", "an") and np_.head in lx.COUNTABLE_MATERIALS)
    head = np_.head or tokens[-1]
    if np_.attribute and not article_means_object:
        return True
    if is_attribute_word(head) or head in lx.ATTRIBUTE_NOUNS or head in ("one", "ones"):
        if article_means_object and np_.leading in ("a", "an", "some"):
            return False
        if np_.leading in ("a", "an") and head in lx.COUNTABLE_MATERIALS:
            return False
        return True
    return False


def result_kind(text: str, verb_kind: str = "change", made_of: bool = False) -> str:
    """style | season | attribute | scene | env | nothing | object | empty."""
    text = text.strip()
    if not text:
        return "empty"
    if re.fullmatch(r"(?:nothing|empty(?: space| area)?|the (?:surrounding )?background|background|"
                    r"the surroundings|whatever is behind it|what is behind it)", text):
        return "nothing"
    np_ = noun_phrase(text)
    strict = verb_kind == "replace"
    if _has_style(text, strict):
        return "style"
    tokens = _TOKEN.findall(text)
    tokens = tokens + [a + "-" + b for a, b in zip(tokens, tokens[1:]) if a + "-" + b in lx.SEASON_TIME_WEATHER]
    if np_.head in lx.SEASON_TIME_WEATHER or (tokens and all(
            t in lx.SEASON_TIME_WEATHER or t in lx.DETERMINERS or t in lx.ATTRIBUTE_WORDS or t in ("time", "hour")
            for t in tokens) and any(t in lx.SEASON_TIME_WEATHER for t in tokens)):
        return "season"
    if made_of or _is_attribute(text, np_, article_means_object=strict):
        return "attribute"
    if np_.head in lx.SCENE_HEADS:
        return "scene"
    if np_.head in lx.ENV_NOUNS:
        return "env"
    return "object"


# ----------------------------------------------------------------------------- frames
@dataclass
class Frame:
    itype: InstructionType
    target: str = ""          # raw phrase for the edited thing (subject source unless `subject` set)
    result: str = ""          # raw phrase: what it becomes / what is added / the style
    subject: str = ""         # explicit subject ("background", "image")
    style: int = 0
    location: str = ""        # remove: what remains visible
    location_from: bool = False  # the location came from "from/off/out of" (where the object is taken from)
    rule: str = ""
    confidence: float = 0.9
    made_of: bool = False
    notes: list[str] = field(default_factory=list)


def classify_change(verb_kind: str, target: str, result: str, source: str = "", rule: str = "",
                    confidence: float = 0.9) -> Frame:
    """Type of "X becomes Y" (optionally "from Z"): 0, 2, 3 or 5, decided by what X and Y are."""
    x = noun_phrase(target)
    y_text, made_of = _clean_result(result)
    if x.attribute and not x.phrase:
        owner = re.search(r"\s(?:in|of|on|for)\s+(?P<o>(?:the|this|that|my|his|her|their|its)\s.+)$", y_text)
        if owner and noun_phrase(owner.group("o")).phrase:
            target, y_text = owner.group("o"), y_text[: owner.start()]
            x = noun_phrase(target)
            x.attribute = True
    yk = result_kind(y_text, verb_kind, made_of)
    zk = result_kind(_clean_result(source)[0], "change") if source else "empty"
    x_whole = x.whole or x.owner_whole or (bool(x.words) and x.head in lx.SEASON_TIME_WEATHER and
                                           x.head not in lx.ENV_NOUNS and all(
        w in lx.SEASON_TIME_WEATHER or w in lx.DESCRIPTIVE for w in x.words))  # "turn day into night"
    x_env = x.head in lx.ENV_NOUNS
    style_attr = x.attribute and (x.owner_whole or not x.phrase) and "style" in target

    def frame(itype: InstructionType, subject: str = "", style: int = 0, certainty: float = confidence) -> Frame:
        return Frame(itype, target=target, result=y_text, subject=subject, style=style, rule=rule,
                     confidence=certainty, made_of=made_of)

    if yk == "nothing":
        return frame(T.REMOVE)
    if yk == "style" or style_attr:
        if x_whole or style_attr:
            return frame(T.GLOBAL_STYLE, "image", 1)
        return frame(T.LOCAL_STYLE, style=1)
    if yk == "season" or zk == "season":
        if x_whole:
            return frame(T.GLOBAL_STYLE, "image", 1)
        return frame(T.LOCAL_STYLE)
    if yk == "attribute":
        if x_whole:
            return frame(T.GLOBAL_STYLE, "image", 1)
        return frame(T.LOCAL_STYLE)
    if yk in ("scene", "env") or zk in ("scene", "env"):
        if x_whole:
            return frame(T.LOCAL_STYLE, "background")
        if x_env:
            return frame(T.LOCAL_STYLE)
        if yk == "scene" or zk in ("scene", "env"):
            return frame(T.LOCAL_STYLE, "background")
    if x_whole and yk != "empty":
        return frame(T.GLOBAL_STYLE, "image", 1)
    if x_env or x.attribute or x.head in _TEXT_NOUNS:
        return frame(T.LOCAL_STYLE)
    if yk == "empty":
        return frame(T.REPLACE if verb_kind == "replace" else T.LOCAL_STYLE, certainty=0.6)
    return frame(T.REPLACE)


_TEXT_NOUNS = frozenset("text words writing lettering caption title letters label slogan inscription number "
                        "numbers sign-text".split())
_REMOVE_VERB = _alternation(lx.REMOVE_VERBS)
_REPLACE_VERB = _alternation(lx.REPLACE_VERBS)
_TRANSFORM_VERB = _alternation(lx.TRANSFORM_VERBS)
_COLOR_VERB = _alternation(lx.COLOR_VERBS)
_ADJUST_VERB = _alternation(lx.ADJUST_VERBS)
_ADD_VERB = _alternation(lx.ADD_VERBS)
_DISAPPEAR = _alternation(lx.DISAPPEAR_WORDS)
_MODAL = r"(?:should|must|shall|will|would|could|can|needs? to|has to|have to|ought to|got to|gotta|to|is to|are to)"

_RE_REMOVE = re.compile(rf"^(?P<verb>{_REMOVE_VERB})\b\s*(?P<rest>.*)$")
_RE_SPLIT_REMOVE = re.compile(
    r"^(?:take|get|pull|cut|move|carry|clear|wipe|rub|scrub|edit|airbrush|photoshop|paint|crop|strip|knock|"
    r"throw|kick|chase|send|lift|brush|sweep|clean|wash)\s+(?P<x>.+?)\s+(?:out|away|off|down)\b"
    r"(?:\s+(?:of|from)\b)?\s*(?P<loc>.*)$"
)
_ADJUST_RESULTS = {
    "darken": "darker", "lighten": "lighter", "brighten": "brighter", "dim": "dimmer", "blur": "blurred",
    "sharpen": "sharp", "soften": "softer", "age": "aged", "weather": "weathered", "rust": "rusty",
    "polish": "polished", "gild": "gilded", "frost": "frosted", "freeze": "frozen", "melt": "melting",
    "whiten": "whiter", "blacken": "blackened", "redden": "redder", "enlarge": "larger", "shrink": "smaller",
    "dirty": "dirty", "muddy": "muddy", "clean": "clean", "saturate": "saturated", "desaturate": "desaturated",
    "crack": "cracked", "illuminate": "illuminated", "light up": "lit up", "petrify": "stone", "fade": "faded",
}
# removing these changes a look, not an object ("remove the colour" desaturates); dirt, stains and
# scratches are things on a surface and stay removals
_ATTRIBUTE_REMOVALS = frozenset(
    "color colour colors colours saturation tint filter filters effect effects blur noise grain haze glare "
    "vignette style red-eye discoloration sepia cast".split()
)
_RE_COMPOUND_REPLACE = re.compile(
    rf"^(?:{_REMOVE_VERB})\s+(?P<x>.+?)\s*(?:,|\band\b|\bthen\b|\s)+\s*(?:then\s+)?(?:put|add|place|insert|draw|"
    r"show|have|use|paint|replace (?:it|them) with|fill (?:it|them|the (?:space|gap|area|spot|hole)) with|"
    r"swap in|bring in)\s+(?P<y>.+?)\s+(?:there|in (?:its|their|the same) (?:place|spot|position|stead)|"
    r"in place|instead|where (?:it|they) (?:was|were|used to be|stood))\b"
)
_RE_TAKE_PLACE = re.compile(
    r"^(?:(?:let|have|make|get)\s+)?(?P<y>.+?)\s+(?:take|takes|taking)\s+(?:the\s+)?(?:place|spot|position)\s+of\s+"
    r"(?P<x>.+)$|^(?:let|have|make|get)\s+(?P<y2>(?:a|an|some)\s.+?)\s+(?:replace|substitute for|stand in for)\s+"
    r"(?P<x2>.+)$"
)
_RE_INSTEAD = re.compile(
    r"^(?P<y>.+?)\s+(?:instead of|in place of|rather than|in lieu of)\s+(?P<x>.+)$|"
    r"^(?:(?:i|we)(?:'d| would)\s+)?rather\s+(?:have|see|use|get|show)\s+(?P<y2>.+?)\s+than\s+(?P<x2>.+)$"
)
_RE_INSTEAD_FIRST = re.compile(
    r"^(?:instead of|rather than|in place of|in lieu of)\s+(?P<x>.+?)\s*,\s*(?P<y>.+)$|"
    r"^where\s+(?P<x2>.+?)\s+(?:is|was|are|were|used to be|stands|stood|sits|sat|lies|lay)\b[^,]*,\s*(?P<y2>.+)$"
)
_RE_WHERE = re.compile(
    r"^(?P<y>.+?)\s+where\s+(?P<x>.+?)\s+(?:is|was|are|were|used to be|stands|stood|sits|sat|lies|lay|"
    r"currently is|is standing|was standing|is sitting|was sitting|is now|now is)\b.*$"
)
_LEAD_ADD = re.compile(
    rf"^(?:(?:{_ADD_VERB}|use|have|there should be|there's|there is|there must be|let there be|"
    r"we need|i want|i'd like|i need|i would like|i'd love|i would love|give me|show me|see|pop)\s+)+"
)
_RE_REPLACE = re.compile(rf"^(?P<verb>{_REPLACE_VERB})\b\s*(?P<in>in\s+)?(?P<rest>.*)$")
# which word separates "X" from "Y", most telling first ("swap X parked by the curb for Y")
_REPLACE_CONNECTORS = {
    "replace": ("with", "by", "using", "for", "into", "to"),
    "substitute": ("with", "by", "for", "into", "to"),
}
_SWAP_CONNECTORS = ("for", "with", "in favour of", "in favor of", "into", "to", "by")
_RE_TRANSFORM_FROM = re.compile(
    rf"^(?P<verb>{_TRANSFORM_VERB})\s+(?P<x>.*?)\s*\bfrom\s+(?P<z>.+?)\s+(?:to|into|in to)\s+(?P<y>.+)$"
)
_RE_TRANSFORM = re.compile(
    rf"^(?P<verb>{_TRANSFORM_VERB}|make)\s+(?P<x>.*?)\s*(?:(?<!next)(?<!close)(?<!due)(?<!according)"
    r"(?:^|\s)(?:into|in to|to be|to look like|to resemble|to|as|so (?:it|they) (?:looks?|resembles?)(?: like)?|"
    r"like|until it looks like)\s+)(?P<y>.+)$"
)
_RE_STYLE_IN = re.compile(
    r"^(?P<verb>render|redraw|re-draw|repaint|re-paint|paint|draw|sketch|recreate|reimagine|re-imagine|"
    r"restyle|re-style|stylize|stylise|redo|remake|rework|reinterpret|depict|show|illustrate|present|"
    r"interpret|convert|transform|turn|make|do|shoot|put)\s+(?P<x>.*?)\s*\bin\s+(?P<y>.+)$"
)
_RE_MAKE = re.compile(r"^(?P<verb>make|let|have|get|keep|leave|render|set|turn|paint|color|colour|dye|"
                      r"tint|recolor|recolour|spray|spray-paint|stain|bleach)\s+(?P<rest>.+)$")
_RE_LOOK = re.compile(
    r"^(?P<x>.*?)\s+(?:look|looks|appear|appears|seem|seems|resemble|resembles|become|becomes|be|turn into|"
    r"feel|feels)\s+(?P<y>.+)$"
)
_RE_PHOTO_ADJUST = re.compile(
    r"^(?P<how>increase|decrease|boost|reduce|raise|lower|adjust|enhance|improve|correct|balance|tweak|"
    r"bump up|turn up|turn down|crank up|tone down|add more|add|more|less|fix|up|pump up)\s+(?:the\s+)?"
    r"(?P<attr>contrast|brightness|saturation|exposure|sharpness|warmth|temperature|vibrance|vibrancy|"
    r"colou?rs?|colou?r balance|white balance|lighting|shadows|highlights|clarity|gamma|hue|detail|details|"
    r"definition|glow|light|light levels|tones|dynamic range)\b(?:\s+(?:of|on|in|for)\s+(?P<x>.+))?$"
)
_RE_GEOMETRY = re.compile(
    r"^(?:zoom(?: in| out)?|crop|rotate|flip|mirror|resize|upscale|downscale|straighten|tilt|expand|outpaint|"
    r"extend|widen|stretch|reframe)\b"
)
_RE_WRITE = re.compile(
    r"^(?:write|type|print|spell out|spell|inscribe|engrave|paint the (?:text|words?)|add the (?:text|words?)|"
    r"add (?:a |the )?(?:caption|title|label|text|words?|slogan|sign saying))\s*(?P<y>.*?)"
    r"(?:\s+(?:on|onto|across|over|in|at|to)\s+(?P<x>.+))?$"
)
_RE_FILL = re.compile(
    r"^(?:fill|cover|surround|decorate|adorn|line|dot|populate|carpet|blanket|coat|frame|border|crown|top|"
    r"stuff|load|pack|litter|drape|wrap)\s+(?P<x>.+?)\s+(?:with|in)\s+(?P<y>.+)$"
)
_RE_GIVE = re.compile(r"^(?:give|lend|grant|offer|hand|get|bring|fetch|buy|find)\s+(?P<rest>.+)$")
_RE_ADJUST = re.compile(rf"^(?P<verb>{_ADJUST_VERB})\s+(?P<x>.*)$")
_RE_IFY = re.compile(r"^(?P<style>[a-z][a-z' -]*?)-?i?fy\s+(?P<x>.*)$|^(?P<style2>[a-z]+)ify$")
_RE_APPLY = re.compile(
    r"^(?:apply|use|add|put|give|throw on|slap on|overlay|layer on)\s+(?P<y>.+?)(?:\s+(?:to|on|onto|over|for)\s+"
    r"(?P<x>.+))?$"
)
_RE_ADD = re.compile(rf"^(?P<verb>{_ADD_VERB})\b\s*(?P<rest>.+)$")
_RE_SUBJECT_REMOVE = re.compile(
    rf"^(?P<x>.+?)\s+(?:{_MODAL}\s+)?(?:(?:be|get|just)\s+)?(?:{_DISAPPEAR}|be\s+(?:removed|gone|deleted|"
    r"erased|eliminated|taken out|cut out|wiped out))\b(?P<rest>.*)$"
)
_RE_SUBJECT_REPLACED = re.compile(
    rf"^(?P<x>.+?)\s+(?:{_MODAL}\s+)?(?:be\s+|get\s+|being\s+)?(?P<verb>replaced|swapped|substituted|exchanged|"
    r"switched|traded|changed|turned|transformed|converted|morphed|made)\s+(?:out\s+)?(?:with|by|for|to|into|"
    r"in to)\s+(?P<y>.+)$"
)
_RE_SUBJECT_BECOME = re.compile(
    rf"^(?P<x>.+?)\s+(?:{_MODAL}\s+)(?P<verb>be|become|turn into|turn|look like|look|appear|seem|resemble|"
    r"get|have|wear|hold|carry)\s+(?P<y>.+)$"
)
_RE_NOT_CONTAIN = re.compile(
    r"^(?:.+?)\s+(?:should|must|may|can|shall|will|does|do)(?:\s+not|n't)\s+(?:contain|have|show|include|feature|"
    r"display|depict)\s+(?P<x>.+)$"
)
_RE_NOT_THERE = re.compile(
    r"^(?P<x>.+?)\s+(?:should|must|needs? to|has to|shall|may|can)(?:\s+not|n't|\s+no\s+longer)\s+(?:be\s+)?"
    r"(?:there|here|visible|present|seen|shown|in\b.*|exist)$"
)
_RE_WHAT_IF = re.compile(
    r"^(?:what if|imagine(?: if)?|suppose|pretend)\s+(?P<x>.+?)\s+(?:was|were|is|became|turned into|"
    r"had been|looked like)\s+(?P<y>.+)$"
)
_RE_DESIRE = re.compile(
    r"^(?:i|we)(?:'d| would| really| just| also| do)*\s+(?:want|need|wish for|like|love|prefer|require|"
    r"desire|fancy|expect)s?\s+(?P<rest>.+)$"
)
_RE_NEG_DESIRE = re.compile(
    r"^(?:i|we)\s+(?:don't|do not|dont|no longer|never|really don't|really do not)\s+(?:want|need|like|"
    r"wish)\s+(?:to see\s+)?(?P<x>.+)$"
)
_RE_NO = re.compile(r"^(?:no|no more|without|minus|get out|away with|bye bye|bye|goodbye|nix|lose)\s+(?P<x>.+)$")
_RE_THERE = re.compile(
    r"^(?:there|here)\s+(?:should|must|needs? to|has to|could|would|will|shall|ought to)?\s*(?:be|is|are|"
    r"'s)\s+(?P<no>no\s+(?:more\s+)?|nothing\s+)?(?P<rest>.+)$"
)
_RE_LET_THERE = re.compile(r"^let\s+there\s+be\s+(?P<rest>.+)$")
_RE_SEE = re.compile(r"^(?:to\s+)?(?:see|have|get|show|include|feature)\s+(?P<rest>.+)$")
_RE_REFERENCE = re.compile(
    r"\b(?:reference|ref)\b|\bstyle\s+guide\b|"
    r"\b(?:attached|uploaded|provided|given|supplied|sample|example|second|other|included|linked|"
    r"accompanying|style|target|exemplar)\s+(?:image|picture|photo|photograph|painting|artwork|pic|illustration|"
    r"drawing|example|art)\b|"
    r"\b(?:image|picture|photo|painting|artwork|example|one)\s+(?:that\s+)?(?:i|we)(?:'ve| have)?\s+"
    r"(?:provided|gave|given|sent|uploaded|attached|shared|showed|supplied|included|linked)\b"
)
_RE_THIS_STYLE = re.compile(
    r"\b(?:this|that|these|the given|the image's|the picture's|the photo's|this image's|this picture's|"
    r"this photo's|this painting's)\s+(?:style|look|aesthetic|palette|colou?r palette|vibe|feel|art style|"
    r"painting style|technique|colou?rs)\b(?!\s+(?:like|as|more|less))|\blike this(?: one| image| picture| photo| painting)?\b|"
    r"\bin this (?:style|manner|way)\b|\b(?:style|look|aesthetic) of this (?:image|picture|photo|painting|"
    r"artwork)\b"
)
_RE_STYLE_CUE = re.compile(
    r"\b(?:\w*styl\w*|look|looks|aesthetic|palette|brush\w*|colou?rs?|feel|vibe|"
    r"mood|match\w*|same|like|copy|transfer\w*|borrow|resembl\w*|mimic\w*|imitat\w*|emulat\w*|inspired|"
    r"tone|technique|manner|texture|paint\w*|render\w*|recreate)\b"
)
_RE_EDIT_CUE = re.compile(
    rf"\b(?:{_REMOVE_VERB}|{_REPLACE_VERB}|{_TRANSFORM_VERB}|{_COLOR_VERB}|{_ADJUST_VERB}|add|insert|put|"
    r"place|make|give|instead|style|without|should|want|like|need|let)\b"
)


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
    if kind in ("scene", "env", "season"):
        return Frame(T.LOCAL_STYLE, target=target, result=location, subject="background", rule="move-to-setting")
    where = noun_phrase(location)
    if where.indefinite and where.phrase:
        return Frame(T.ADD, target=location, result=location, rule="put-x-in-new-y", confidence=0.7)
    return None


def _split_two_objects(text: str) -> tuple[str, str] | None:
    """ "the man a pair of sunglasses" -> ("the man", "a pair of sunglasses") for give/make."""
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
            return " ".join(tokens[:k]), " ".join(tokens[k:])
        if attr_like and k == len(tokens) - 1 and k > start:
            return " ".join(tokens[:k]), " ".join(tokens[k:])
    if start > 0 and len(tokens) - start >= 2 and tokens[-1] not in lx.PREPOSITIONS and \
            not any(t in lx.PREPOSITIONS or t in lx.NP_STOPWORDS for t in tokens[start:]):
        return " ".join(tokens[:-1]), tokens[-1]  # "the flowers sunflowers"
    return None


def _first_frame(clause: str, steps: tuple[Callable[[str], Frame | None], ...]) -> Frame | None:
    """The first frame any of `steps` reads in `clause` (steps are tried in order of specificity)."""
    for step in steps:
        frame = step(clause)
        if frame is not None:
            return frame
    return None


class _Reader:
    """Match frames against one normalised clause."""

    def __init__(self, clause: str, image_given: bool, raw_clause: str = "") -> None:
        self.clause = clause
        self.raw_clause = raw_clause or clause
        self.image_given = image_given

    # -- entry point
    def read(self) -> Frame | None:
        c = self.clause
        frame = self._reference(self.raw_clause)
        if frame is not None:
            return frame
        return _first_frame(c, (self._compound_replace, self._instead, self._verb_first, self._desire,
                                self._subject_first, self._style_only))

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
        m = _RE_COMPOUND_REPLACE.match(c)
        if m:
            return Frame(T.REPLACE, target=m.group("x"), result=m.group("y"), rule="remove-then-add")
        m = _RE_TAKE_PLACE.match(c)
        if m:
            x_text, y_text = m.group("x") or m.group("x2"), m.group("y") or m.group("y2")
            if noun_phrase(x_text).phrase and noun_phrase(y_text).phrase:
                return classify_change("replace", x_text, y_text, rule="y-takes-the-place-of-x")
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
        if not x.phrase or result_kind(x_text) in ("attribute", "season", "style"):
            return None
        y = noun_phrase(y_core)
        if not y.phrase or result_kind(y_core) in ("attribute", "style"):
            return None
        return classify_change("replace", x_text, y_core, rule="instead-of")

    # -- imperative verb first
    def _verb_first(self, c: str) -> Frame | None:
        return _first_frame(c, (self._remove, self._replace, self._give, self._photo_adjust, self._switch,
                                self._write, self._fill, self._make, self._style_in, self._transform, self._color,
                                self._adjust, self._ify, self._apply, self._add, self._see))

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
        m = re.match(r"^(?:turn|switch|flip)\s+(?:(?P<p1>on|off)\s+(?P<x1>.+)|(?P<x2>.+?)\s+(?P<p2>on|off))$", c)
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
        thing = noun_phrase(y_text)
        if not thing.phrase:
            return None
        if thing.head in lx.ADDED_SCENE_NOUNS or thing.head in lx.SEASON_TIME_WEATHER or thing.attribute \
                or result_kind(y_text) in ("attribute", "style"):
            return classify_change("change", m.group("x"), y_text, rule="cover-with")
        return Frame(T.ADD, target=y_text, result=y_text, rule="fill-with")

    def _remove(self, c: str) -> Frame | None:
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
            loc = np_.rest
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
        m = _RE_REPLACE.match(c)
        if not m:
            return None
        verb, rest = m.group("verb"), m.group("rest")
        x_text, y_text = rest, ""
        for connector in _REPLACE_CONNECTORS.get(verb, _SWAP_CONNECTORS):
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
        split = _split_two_objects(m.group("rest"))
        if not split:
            return None
        receiver, thing = split
        thing_np = noun_phrase(thing)
        if not noun_phrase(receiver).phrase or not (thing_np.phrase or thing_np.attribute) or not (
                thing_np.indefinite or c.startswith(("give", "hand", "lend", "grant", "offer"))):
            return None
        if thing_np.head in lx.EFFECT_NOUNS or thing_np.attribute or _has_style(thing, strict=False):
            return classify_change("change", receiver, thing, rule="give-look")
        return Frame(T.ADD, target=thing, result=thing, rule="give")

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
        if verb in ("have", "get") and _RE_SUBJECT_REPLACED.match(rest):
            return self._subject_first(rest)
        if verb in ("make", "let", "have", "get"):
            words = rest.split()
            for k in range(1, len(words) - 1):
                if words[k] in lx.ACTION_VERBS:
                    thing = " ".join(words[k + 1:])
                    if noun_phrase(" ".join(words[:k])).phrase and noun_phrase(thing).phrase:
                        return Frame(T.ADD, target=thing, result=thing, rule="make-do")
                    break
            pose = re.match(r"^(?P<x>.+?)\s+(?:sit|sits|stand|stands|lie|lies|rest|rests|float|floats|be|stay|"
                            r"appear)\s+(?:in|on|at|inside|by|near|under|atop|among)\s+(?P<loc>.+)$", rest)
            if pose and noun_phrase(pose.group("x")).phrase:
                frame = _placement(pose.group("x"), pose.group("loc"))
                if frame is not None:
                    return frame
            before = noun_phrase(" ".join(words[:-1]))
            if len(words) >= 2 and words[-1] in lx.EXPRESSION_VERBS and before.phrase and not before.rest:
                return Frame(T.LOCAL_STYLE, target=" ".join(words[:-1]), result=words[-1], rule="make-smile")
        done = re.match(r"^(?P<x>.+?)\s+(?:redone|done|made|turned|converted|transformed|rendered|painted|redrawn|"
                        r"drawn|restyled|changed|recolou?red|colou?red|dyed|reimagined|recreated)\s+"
                        r"(?:(?:as|into|in|to|like)\s+)?(?P<y>.+)$", rest)
        if done and verb in ("have", "get") and noun_phrase(done.group("x")).phrase + noun_phrase(done.group("x")).pronoun:
            return classify_change("change", done.group("x"), done.group("y"), rule="have-x-done")
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
        split = _split_make(rest)
        if split is None:
            return None
        target, result = split
        kind = "change" if verb in ("make", "turn", "render", "set", "keep", "leave", "let", "have", "get") else "color"
        frame = classify_change(kind, target, result, rule=f"{verb}-x-y")
        if kind == "color" and frame.itype == T.REPLACE:
            frame.itype = T.LOCAL_STYLE
        return frame

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
        return classify_change("change", x_text, m.group("y"), rule="apply-effect")

    def _add(self, c: str) -> Frame | None:
        m = _RE_ADD.match(c)
        if not m:
            return None
        verb, rest = m.group("verb"), m.group("rest")
        rest = re.sub(r"^(?:in|on|back)\s+(?=(?:a|an|some|the)\b)", "", rest)
        np_ = noun_phrase(rest)
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

    def _see(self, c: str) -> Frame | None:
        m = _RE_SEE.match(c)
        if m and _indefinite(noun_phrase(m.group("rest"))):
            return Frame(T.ADD, target=m.group("rest"), result=m.group("rest"), rule="see")
        return None

    # -- subject first ("the ladder should be removed")
    def _subject_first(self, c: str) -> Frame | None:
        c = re.sub(r"^(?:can|could|would|will|may|might|shall|should)\s+there\s+be\s+", "there should be ", c)
        m = _RE_NOT_CONTAIN.match(c)
        if m and noun_phrase(m.group("x")).phrase:
            return Frame(T.REMOVE, target=m.group("x"), rule="should-not-contain")
        m = _RE_NOT_THERE.match(c)
        if m and noun_phrase(m.group("x")).phrase:
            return Frame(T.REMOVE, target=m.group("x"), rule="should-not-be-there")
        m = re.match(r"^(?:can|could|would|will|may|might|shall|should)\s+(?P<x>.+?)\s+(?P<rest>(?:be|become|look|"
                     r"get|turn|appear|have|wear|hold)\b.+)$", c)
        if m and noun_phrase(m.group("x")).phrase and m.group("x") not in ("you", "we", "i", "u"):
            c = f"{m.group('x')} should {m.group('rest')}"
        m = _RE_WHAT_IF.match(c)
        if m:
            return classify_change("change", m.group("x"), m.group("y"), rule="what-if")
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
        m = _RE_SUBJECT_REMOVE.match(c)
        if m and noun_phrase(m.group("x")).phrase and not _RE_EDIT_CUE.match(c):
            return Frame(T.REMOVE, target=m.group("x"), location=m.group("rest"), rule="x-should-go")
        m = _RE_SUBJECT_REPLACED.match(c)
        if m and noun_phrase(m.group("x")).phrase:
            kind = "replace" if m.group("verb") in ("replaced", "swapped", "substituted", "exchanged",
                                                    "switched", "traded") else "change"
            return classify_change(kind, m.group("x"), m.group("y"), rule="x-replaced-by")
        m = _RE_SUBJECT_BECOME.match(c)
        if m and noun_phrase(m.group("x")).phrase:
            verb, y_text = m.group("verb"), m.group("y")
            if verb in ("have", "wear", "hold", "carry", "get"):
                return Frame(T.ADD, target=y_text, result=y_text, rule="x-should-have")
            action = re.match(r"^(?P<v>[a-z]+)\s+(?P<y>.+)$", y_text)
            if verb == "be" and action and action.group("v") in lx.ACTION_VERBS:
                return Frame(T.ADD, target=action.group("y"), result=action.group("y"), rule="x-should-be-doing")
            y_text = re.sub(r"^(?:painted|colou?red|dyed|turned|changed|rendered|done|tinted|recolou?red)\s+"
                            r"(?:in(?:to)?\s+|to\s+|as\s+)?", "", y_text)
            kind = "look" if verb.startswith("look") or verb in ("appear", "seem", "resemble") else "change"
            return classify_change(kind, m.group("x"), y_text, rule="x-should-be")
        m = re.match(r"^(?P<x>.+?)\s+(?:->|to|into|becomes?|becoming|turns? into|=)\s+(?P<y>.+)$", c)
        if m and noun_phrase(m.group("x")).phrase and " -> " in c:
            return classify_change("change", m.group("x"), m.group("y"), rule="arrow", confidence=0.8)
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
        frame = _first_frame(rest, (self._subject_first, self._verb_first))
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
        if m_to:
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


# ----------------------------------------------------------------------------- fallback & language
_ENGLISH_HINTS = lx.DETERMINERS | lx.PREPOSITIONS | lx.CLAUSE_VERBS | lx.COLOURS | frozenset(
    "it is and to of with into make add remove replace change turn put change color style image photo picture "
    "please can could would you i me we my".split()
)


def _english_ratio(text: str) -> float:
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    ascii_share = sum(c.isascii() for c in letters) / len(letters)
    words = re.findall(r"[a-z']+", text.lower())
    if not words:
        return 0.0
    known = sum(w in _ENGLISH_HINTS or w in lx.ATTRIBUTE_WORDS or w in lx.ENV_NOUNS or w in lx.CATEGORY_OF
                for w in words) / len(words)
    return min(ascii_share, 0.3 + known) if len(words) > 2 else ascii_share * min(1.0, 0.5 + known)


def _fallback(clause: str) -> Frame:
    """No frame matched: guess from cue words (confidence stays low)."""
    cues = (
        (T.REMOVE, rf"\b(?:{_REMOVE_VERB}|gone|without|disappear\w*|vanish\w*)\b\s*(?P<rest>.*)"),
        (T.REPLACE, rf"\b(?:{_REPLACE_VERB}|instead)\b\s*(?P<rest>.*)"),
        (T.ADD, r"\b(?:add|insert|include|put|place)\b\s*(?P<rest>.*)"),
    )
    for itype, pattern in cues:
        m = re.search(pattern, clause)
        if m and noun_phrase(m.group("rest")).phrase:
            return Frame(itype, target=m.group("rest"), result=m.group("rest"), rule="cue-word",
                         confidence=LOW_CONFIDENCE)
        if m:
            return Frame(itype, subject="object", rule="cue-word-no-object", confidence=0.3,
                         notes=["the instruction names no object; say what to edit"])
    tokens = _TOKEN.findall(clause)
    if tokens and all(t in lx.SEASON_TIME_WEATHER or t in lx.DETERMINERS or is_attribute_word(t) for t in tokens):
        return Frame(T.GLOBAL_STYLE, subject="image", result=clause, style=1, rule="bare-season",
                     confidence=0.6)
    if _has_style(clause, strict=False):
        return Frame(T.GLOBAL_STYLE, subject="image", result=clause, style=1, rule="cue-style",
                     confidence=LOW_CONFIDENCE)
    np_ = noun_phrase(clause)
    if np_.phrase and _indefinite(np_) and np_.leading in ("a", "an", "some"):
        return Frame(T.ADD, target=clause, result=clause, rule="bare-object", confidence=LOW_CONFIDENCE)
    for k, word in enumerate(clause.split()):
        if word in lx.COLOURS or word in lx.MATERIALS:
            return Frame(T.LOCAL_STYLE, target=" ".join(clause.split()[k + 1:]) or clause, result=word,
                         rule="cue-colour", confidence=LOW_CONFIDENCE)
    first = clause.split()[0] if clause.split() else ""
    target = clause if first in lx.DETERMINERS else ""
    return Frame(T.LOCAL_STYLE, target=target, subject="" if target else "object", result=clause, rule="default",
                 confidence=0.3, notes=["no edit pattern recognised; rephrase as e.g. 'make the X red'"])


def _foreign_frame(text: str) -> Frame | None:
    for pattern, itype in lx.FOREIGN_TYPE_CUES:
        if re.search(pattern, text, flags=re.IGNORECASE):
            subject = "image" if itype == T.GLOBAL_STYLE else "object"
            return Frame(T(itype), subject=subject, result=text, rule="foreign-cue", confidence=0.3,
                         style=1 if itype == T.GLOBAL_STYLE else 0)
    return None


# ----------------------------------------------------------------------------- assembling the intent
_PLACE_WORDS = frozenset(
    "image picture photo foreground background center centre middle left right corner side front back distance "
    "top bottom frame scene view area edge part spot position place".split()
)


def _describe(text: str) -> str:
    """A clean prompt from a result phrase: no determiners, no purpose or keep-clauses."""
    text, _ = _clean_result(text)
    text = re.split(r"(?<=[.!?;])\s", text)[0]
    text = _RESULT_CUT.sub("", text).strip(" ,.;:")
    text = re.sub(r"^(?:(?:the|a|an|some|one|this|that|these|those)\s+)+", "", text)
    text = re.sub(r"^(?:couple|pair|group|set|bunch|family|herd|flock|crowd|few)\s+of\s+(?:the\s+)?", "", text)
    text = re.sub(r"\s+(?:there|here|instead|in (?:its|their) place|in place)$", "", text)
    return text[:300].strip()


def _prompt_for(frame: Frame, subject: str) -> str:
    if frame.itype == T.STYLE_REFERENCE:
        return "in the style of the reference image"
    if frame.itype == T.REMOVE:
        where = noun_phrase(frame.location) if frame.location else None
        if where and where.phrase and where.head not in _PLACE_WORDS and where.phrase != subject and \
                (frame.location_from or where.head in lx.ENV_NOUNS):
            return f"{where.phrase}, seamless natural background"
        return "seamless natural background"
    result = _describe(frame.result) if frame.result else ""
    if frame.itype == T.GLOBAL_STYLE:
        return result or "restyled image"
    if frame.itype == T.ADD:
        return result or subject
    if frame.itype == T.REPLACE:
        return result or subject
    # local change
    if not result:
        return subject
    if frame.rule == "replace":
        return result  # "replace the grass with sand": the result is what shows
    if frame.made_of:
        return f"{subject} made of {result}"
    kind = result_kind(result)
    if subject == "background" or kind in ("scene", "env", "object"):
        return result
    if kind == "season":
        return f"{subject} in {result}"
    if frame.style and "style" not in result:
        return f"{subject} in {result} style"
    words = result.split()
    if len(words) <= 3 and all(is_attribute_word(w) or w in lx.DESCRIPTIVE for w in words):
        return f"{result} {subject}"
    if result.startswith(("in ", "with ")):
        return f"{subject} {result}"
    if noun_phrase(result).head in ("shade", "tone", "hue", "color", "colour", "colors", "colours"):
        return f"{subject} in {result}"
    return f"{subject} with {result}"


def _contour(frame: Frame, subject: str, result: str) -> int:
    if frame.itype in (T.LOCAL_STYLE, T.GLOBAL_STYLE, T.STYLE_REFERENCE):
        return 1
    if frame.itype == T.REPLACE:
        old = lx.CATEGORY_OF.get(subject.split()[-1] if subject else "")
        new_np = noun_phrase(result) if result else None
        new = lx.CATEGORY_OF.get(new_np.head) if new_np else None
        return int(old is not None and old == new)
    return 0


_KEEP = re.compile(r"\b(?:keep(?:ing)?|maintain(?:ing)?|leav(?:e|ing)(?!\s+out)|preserv(?:e|ing))\s+(?P<x>[^,.;]+)")


def _foreground(frame: Frame, subject: str, clause: str) -> list[str]:
    if frame.itype in (T.GLOBAL_STYLE, T.STYLE_REFERENCE):
        return ["image"]
    elements: list[str] = []
    if frame.itype == T.REPLACE and frame.result:
        new = noun_phrase(_clean_result(frame.result)[0]).phrase
        if new:
            elements.append(new)
    if subject and subject not in elements:
        elements.append(subject)
    for m in _KEEP.finditer(clause):
        kept = noun_phrase(m.group("x"))
        if kept.phrase and kept.head not in lx.ENV_NOUNS and kept.head not in _PLACE_WORDS \
                and kept.phrase not in elements and not kept.whole:
            elements.append(kept.phrase)
    return elements[:8]


_RE_CONTEXT_NP = re.compile(
    r"^(?:there(?:'s| is| are)\s+|i see\s+|we have\s+|you see\s+|see\s+)?(?P<np>(?:a|an|the|this|that|some|two|"
    r"three)\s+.+?)(?:\s+(?:is|are|was|were|on|in|at|near|by|next|which|that)\b.*)?$"
)


def _main_clause(text: str) -> tuple[str, str]:
    """(the clause that edits, the text before it) — e.g. "there is a dog on the left. remove it"."""
    sentences = [s.strip(" .!?;") for s in _SENTENCE_SPLIT.split(text) if s.strip(" .!?;")]
    if not sentences:
        return text, ""
    clauses: list[str] = []
    for sentence in sentences:
        parts = [p.strip() for p in re.split(r",\s+(?:so\s+|and\s+|then\s+|but\s+|please\s+)*(?=(?:please\s+)?"
                                           r"(?:make|turn|change|remove|replace|paint|put|add|give|let)\b)",
                                           sentence) if p.strip()]
        clauses.extend(parts)
    stripped = [_strip_framing(s) for s in clauses]
    for k, s in enumerate(stripped):
        if _RE_EDIT_CUE.search(s) or _RE_REFERENCE.search(s):
            return s, " ".join(clauses[:k])
    return stripped[0], ""


def _resolve_pronoun(clause: str, context: str) -> str:
    """ "There is a dog on the left. Remove it." -> "remove the dog"."""
    if not context or not re.search(r"\b(?:it|them|him|her)\b", clause):
        return clause
    m = _RE_CONTEXT_NP.match(_strip_framing(context.split(". ")[-1]))
    if not m:
        return clause
    np_ = noun_phrase(m.group("np"))
    if not np_.phrase or np_.whole:
        return clause
    return re.sub(r"\b(?:it|them|him|her)\b(?!'s)", "the " + np_.phrase, clause, count=1)


def parse_with_rules(prepared: PreparedInstruction, image: Any = None) -> Intent:
    """The rules backend's work on a prepared instruction (see `RulesParser`)."""
    text = normalise(prepared.text)
    notes: list[str] = []
    confidence_cap = 1.0
    english = _english_ratio(text) if text else 0.0
    frame: Frame | None = None
    clause = ""
    if text and not any(c.isalpha() for c in prepared.text):
        confidence_cap = 0.4
        notes.append(f"the instruction has no words, only symbols; read as {text!r}")
    elif text and english < 0.5:
        confidence_cap = 0.4
        notes.append("the instruction does not look like English; parsed best-effort")
        frame = _foreign_frame(prepared.text)
    if frame is None:
        if not text or not re.search(r"[a-z]", text):
            notes.append("no words found in the instruction (emoji or symbols only); parsed best-effort")
            confidence_cap = min(confidence_cap, 0.3)
            frame = Frame(T.GLOBAL_STYLE if image is not None else T.LOCAL_STYLE, subject="image"
                          if image is not None else "object", result=prepared.text, rule="no-words",
                          confidence=0.2)
        else:
            raw_clause, context = _main_clause(text)
            raw_clause = _resolve_pronoun(raw_clause, context)
            clause = _IN_IMAGE.sub("", raw_clause)
            frame = _Reader(clause, image is not None, raw_clause).read() or _fallback(clause)
    # a reference image given with a whole-image restyle that names no style: style from the reference
    if image is not None and frame.itype == T.GLOBAL_STYLE and not _has_style(frame.result or "", strict=False):
        frame = Frame(T.STYLE_REFERENCE, subject="image", style=1, rule=frame.rule + "+image", confidence=0.8)
    if frame.itype == T.STYLE_REFERENCE and image is not None:
        frame.confidence = max(frame.confidence, 0.9)

    if frame.subject:
        subject = frame.subject
    else:
        source = frame.target or frame.result
        subject = _subject_of(noun_phrase(_strip_framing(source))) if source else "object"
    if frame.itype in (T.GLOBAL_STYLE, T.STYLE_REFERENCE):
        subject = "image"
    if not normalize_subject(subject):
        subject = "object"
        notes.append("no object could be read from the instruction; name the object to edit")
    prompt = _prompt_for(frame, subject)
    data = {
        "instruction_type": int(frame.itype),
        "style_transformation": 1 if frame.itype in (T.GLOBAL_STYLE, T.STYLE_REFERENCE) else frame.style,
        "subject": subject,
        "generation_prompt": prompt,
        "contour_compatibility": _contour(frame, subject, frame.result),
        "foreground_elements": _foreground(frame, subject, clause),
        "confidence": min(frame.confidence, confidence_cap),
        "notes": notes + frame.notes + [f"rule: {frame.rule}"],
    }
    return finish_intent(data, prepared, backend="rules")


class RulesParser(InstructionParser):
    """Deterministic, model-free parser (the default backend)."""

    name = "rules"

    def _parse(self, prepared: PreparedInstruction, image: Any, on_step: OnStep, check_cancel: CheckCancel) -> Intent:
        intent = parse_with_rules(prepared, image)
        on_step(1, 1)
        return intent
