"""What a result phrase is (style, season, attribute, scene, object) and the type that follows from
"X becomes Y" (`classify_change`)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from polaris_core.intent import InstructionType
from polaris_core.parse import lexicon as lx
from polaris_core.parse.normalise import _TOKEN, _alternation
from polaris_core.parse.noun_phrases import NounPhrase, noun_phrase

T = InstructionType


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
        core = tokens[:-1] if tokens[-1] == "instead" else tokens  # "a lime instead": still one word
        if np_.leading in ("a", "an") and len(core) == 2 and core[1] in lx.COLOURS and \
                core[1] not in lx.TEXTURES and core[1] not in lx.MATERIALS:
            return False  # "an orange", "a rose", "a salmon": one colour word with an article is the fruit, flower, fish
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
    weather = [w in lx.SEASON_TIME_WEATHER or w[:-1] in lx.SEASON_TIME_WEATHER for w in np_.words[:-1]]  # "snowy"
    if np_.head == "scene" and any(weather) and all(
            is_weather or w in lx.DESCRIPTIVE or w in lx.ATTRIBUTE_WORDS for w, is_weather in zip(np_.words, weather)):
        return "season"  # "a night-time scene", "a snowy winter scene": the time or weather, not a new place
    if np_.head in lx.SCENE_HEADS:
        return "scene"
    if np_.head in lx.ENV_NOUNS:
        return "env"
    return "object"


_TEXT_NOUNS = frozenset("text words writing lettering caption title letters label slogan inscription number "
                        "numbers sign-text".split())


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
