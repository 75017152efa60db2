"""Noun phrases: the leading noun phrase of a text, reduced to the subject convention (see rules.py)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from polaris_core.parse import lexicon as lx
from polaris_core.parse.normalise import _TOKEN


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
    if m:  # "the colour of the car": the car, flagged as an attribute
        inner = noun_phrase(m.group("owner"))
        inner.attribute = True
        if inner.whole:
            inner.owner_whole = True
        return inner
    tokens = _TOKEN.findall(text)
    np_ = NounPhrase(phrase="", head="", words=[], rest="")
    i = _read_determiners(tokens, np_)
    pronoun = _pronoun_phrase(tokens, i, np_)
    if pronoun is not None:
        return pronoun
    words, i = _read_words(tokens, i)
    np_.rest = " ".join(tokens[i:])
    return _finish_np(np_, words)


def _read_determiners(tokens: list[str], np_: NounPhrase) -> int:
    """Skip determiners, quantities and collectives ("all of the", "a group of", "two"); the index after them."""
    i, n = 0, len(tokens)
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
        elif t == "of" and i > 0:
            i += 1
        elif t in lx.COLLECTIVES and i + 1 < n and tokens[i + 1] == "of":
            np_.indefinite = np_.indefinite or not np_.definite
            np_.leading = np_.leading or t
            i += 2
        else:
            break
    return i


def _pronoun_phrase(tokens: list[str], i: int, np_: NounPhrase) -> NounPhrase | None:
    """ "it", "them", "everyone": the finished phrase, or None when the phrase starts with a noun."""
    if i >= len(tokens):
        return None
    t = tokens[i]
    if t in lx.PRONOUNS and t not in ("her", "his", "its", "their"):
        np_.pronoun = t
        np_.definite = True
        np_.rest = " ".join(tokens[i + 1:])
        if t in ("it", "this", "that"):
            np_.words = []
            return _finish_np(np_, [])
        np_.words = [lx.PRONOUNS[t]]
        return _finish_np(np_, np_.words)
    if t in ("everything", "everyone", "everybody", "all"):
        np_.pronoun = "everything" if t != "everyone" else ""
        np_.rest = " ".join(tokens[i + 1:])
        return _finish_np(np_, ["people"] if t in ("everyone", "everybody") else [])
    return None


_NOT_ADVERB_LY = frozenset("family lily fly belly jelly holly bully rally ally dolly trolly italy".split())


def _skip_determiners(tokens: list[str], i: int) -> int:
    while i < len(tokens) and tokens[i] in lx.DETERMINERS:
        i += 1
    return i


def _read_words(tokens: list[str], i: int) -> tuple[list[str], int]:
    """The phrase's words from index `i` up to where the phrase ends; (words, index after them)."""
    words: list[str] = []
    n = len(tokens)
    while i < n:
        t = tokens[i]
        nxt = tokens[i + 1] if i + 1 < n else ""
        if t in (",", ";", ":"):
            if not _comma_joins_adjectives(words, nxt):
                break
            i += 1
        elif t == "of":
            if words and words[-1] in lx.PORTIONS:  # "cup of coffee": a portion keeps its contents
                words.append(t)
            elif len(words) == 1 and words[-1] in lx.COLLECTIVES:  # "herd of cows" -> "cows"
                words = []
            else:
                break
            i = _skip_determiners(tokens, i + 1)
        elif t in ("and", "or", "&", "plus"):
            if not words or not nxt or nxt in lx.CLAUSE_VERBS or nxt in lx.PREPOSITIONS or nxt in lx.NP_STOPWORDS \
                    or nxt in (",", "then") or nxt in lx.PRONOUNS:
                break
            words.append("and" if t in ("&", "plus") else t)
            i = _skip_determiners(tokens, i + 1)
        elif _ends_phrase(t, words):
            break
        elif words and t.endswith("ing") and len(t) > 4 and t not in lx.NOUN_ING:
            if not _modifier_gerund(t, nxt):
                if len(words) > 1 and words[-1] in lx.GERUND_COMPOUND_NOUNS:
                    words.pop()  # "a person ice skating" -> "person"
                break
            words.append(t)  # "dining table"
            i += 1
        elif words and t.endswith("ly") and t not in _NOT_ADVERB_LY:
            break
        else:
            words.append(t)
            i += 1
    return words, i


def _comma_joins_adjectives(words: list[str], nxt: str) -> bool:
    """ "the lush, green landscape": a comma between adjectives stays inside the phrase."""
    return bool(words) and words[-1] in lx.DESCRIPTIVE | lx.ATTRIBUTE_WORDS and bool(nxt) \
        and nxt not in lx.NP_STOPWORDS and nxt not in lx.PREPOSITIONS and nxt not in lx.CLAUSE_VERBS \
        and nxt not in lx.DETERMINERS


def _ends_phrase(t: str, words: list[str]) -> bool:
    """A preposition, clause word, participle or verb ends the phrase (at the start, only the first two)."""
    if not words:
        return t in lx.PREPOSITIONS or t in lx.NP_STOPWORDS or t == "->"
    return t in lx.PREPOSITIONS or t in lx.NP_STOPWORDS or t in lx.PAST_PARTICIPLES or t in lx.BARE_VERBS \
        or t in ("i", "you", "we", "he", "she", "they", "->")


def _modifier_gerund(t: str, nxt: str) -> bool:
    """ "dining table", "fishing boat": an -ing word that modifies the noun after it."""
    return t in lx.MODIFIER_ING and bool(nxt) and nxt not in lx.DETERMINERS and nxt not in lx.PREPOSITIONS \
        and nxt not in (",", ";", "and") and not nxt.endswith("ing") and not nxt.endswith("ly") \
        and nxt not in lx.NP_STOPWORDS


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
