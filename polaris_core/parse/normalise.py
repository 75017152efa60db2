"""Normalisation: lower-case working text, politeness and framing stripped, emoji read as words."""
from __future__ import annotations

import re
import unicodedata

from polaris_core.parse import lexicon as lx


def _alternation(words: str) -> str:
    """Regex alternation, longest phrase first, spaces matching any whitespace."""
    parts = sorted(set(words.split("|")), key=len, reverse=True)
    return "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in parts)


# ----------------------------------------------------------------------------- normalisation
# Terminal escape sequences: CSI ("ESC [ 31 m", or the 8-bit U+009B), string sequences (OSC "ESC ] ... BEL",
# DCS, SOS, PM, APC, up to their terminator) and two-character escapes. Their parameters ("31m") would
# otherwise stay behind as words of the subject, and so of the mask query.
_ESCAPE_SEQUENCES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -~]?"
)


def strip_controls(text: str) -> str:
    """An instruction without terminal escape sequences, control characters (C0 and C1; tabs and newlines
    stay) or invisible format characters (bidi overrides and isolates such as U+202E, zero-width characters,
    tag characters): none of them is a word, and the emoji reader would read a bidi override as the words
    "right-to-left override". Controls become spaces; format characters vanish (they sit inside words)."""
    if text.isprintable():
        return text
    text = _ESCAPE_SEQUENCES.sub(" ", text)
    out = []
    for ch in text:
        category = unicodedata.category(ch)
        if category == "Cc" and ch not in "\t\n\r":
            out.append(" ")
        elif category != "Cf":
            out.append(ch)
    return "".join(out)


_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-",
                         "\u2014": " - ", "\u00b4": "'", "`": "'"})
_PARENS = re.compile(r"\([^()]*\)|\[[^\[\]]*\]|\{[^{}]*\}")
_DROP_CHARS = re.compile(r"[\"*_#<|~^]|(?<!-)>")
_SPACES = re.compile(r"\s+")
_SUPPLIED_ASIDE = re.compile(r"\s*\((?:see\s+)?(?:attached|uploaded|linked|enclosed|included)(?:\s+(?:below|above|here))?\)")
_WITH_SLASH = re.compile(r"(?<![a-z0-9])w/\s*(?=[a-z0-9])")
# 'the text "STOP"' -> 'the text': the quoted words are content, not the object
_QUOTED_TEXT = re.compile(r"\b(text|word|words|caption|title|label|slogan|letters|lettering|writing)\s+(?:\"[^\"]{1,80}\"|'[^']{1,80}')")
_TOKEN = re.compile(r"[a-z0-9\u00c0-\u024f][a-z0-9\u00c0-\u024f'&/+-]*|[,;:]")
# a dash between spaces before an imperative ("there's a bag by the door — get rid of it") parts two clauses like a
# full stop; a heading's dash ("new setting - a night market") does not
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?;])\s+|\s*\n+\s*|\s+(?:\u2014|\u2013|--?)\s+(?=(?:please\s+|just\s+)?(?:make|turn|"
                             r"change|remove|replace|paint|put|add|give|let|get|take|delete|erase|lose|ditch|drop|swap)\b)")
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
    r"^(?:hey|hi|hello|ok|okay|so|now|then|and|also|plus|just|simply|please|pls|plz|kindly|quickly|carefully|"
    r"gently|first|next|finally|lastly|alright|right|well|oh|um|hmm|ugh|meh|argh|oof|yikes|welp|sigh|geez|jeez|"
    r"gosh|go ahead and|"
    r"would you mind(?: to)?|would you be able to|are you able to|is it possible to|"
    r"(?:could|can|would|will|might) (?:you|u|we|i)(?: please| kindly| maybe| just)?|may i ask you to|"
    r"(?:i|we)(?:'d|'ll| would| will| really| just| also| kinda| do)* (?:want|need|like|love|wish|prefer)s? "
    r"(?:for )?(?:you|u) to|try to|try and|help me|let's|let us|lets|"
    r"(?:we|you|i) (?:should|need to|must|can|could|have to|gotta)|"
    r"(?:i|we)(?:'d|'ll| would| will| really| just| also| kinda| kind of| do)* (?:want|need|like|love|wish|"
    r"prefer|plan|intend|hope|try|am going|'m going|are going|'re going)s? to|i wanna|"
    r"maybe|perhaps|ideally|basically|actually|make sure(?: that)?|ensure(?: that)?|see to it that|"
    r"it (?:would|'d|will|might) be (?:nice|great|good|cool|awesome|better|lovely|fun|ideal) (?:to|if you could|if we could|if it could)|"
    r"i think (?:you should|we should|it would be nice to)|"
    r"i(?:'d| would) appreciate it if you could|if you could|if possible,?|for me,?|"
    r"edit (?:this|the) (?:image|photo|picture) (?:to|so that|so)|in this (?:image|photo|picture),?|"
    r"(?:(?:quick|small|simple|minor|little|one|tiny|easy)\s+)?(?:style\s+|look\s+)?(?:edit|task|instruction|request|"
    r"change|fix|update|swap)\s*:)"
    r"[\s,:]+"
)
_TRAILING = re.compile(
    r"[\s,]+(?:please|thanks|thank you|for me|if possible|if you can|if you could|pls|plz|thx|"
    r"now|quickly|asap|too|as well|again|here|in this one|"
    # a chatty tail: "..., no rush", "... if that's not too much trouble", "..., that would be great"
    r"no rush|no pressure|if that's (?:ok|okay|alright|fine|possible|doable|feasible)|if (?:it's|it is) doable|if that's not too much (?:trouble|to ask)|"
    r"if it's not too much (?:trouble|to ask)|(?:that|it)(?:'d| would) be (?:great|amazing|awesome|perfect|lovely)|"
    r"thanks so much|thank you so much|thanks a lot|cheers|haha|lol|ty)$"
)
# A closing clause that says what must NOT change ("..., keeping its shape", "but leave everything else as it is",
# "nothing else should change"): it names no edit, and its nouns ("shape", "rest") are never the subject.
_INVARIANT = re.compile(
    r"(?:\s*,\s*|\s+)(?:(?:but|and|while|yet)\s+)?(?:"
    r"(?:keep(?:ing)?|leav(?:e|ing)|preserv(?:e|ing)|maintain(?:ing)?|retain(?:ing)?)\s+(?:everything|all|the rest|"
    r"anything|its|his|her|their|the\s+(?:same|original|rest|composition|pose|lighting|framing|shape|size|"
    r"position|background|colou?rs?|proportions?))\b[^,]*|"
    r"(?:with\s+)?nothing\s+else\s+(?:should|must|may|will|is\s+to|needs\s+to|has\s+to)\s+(?:change|move|"
    r"be\s+(?:changed|touched|altered))|"
    r"(?:and\s+)?(?:don't|do\s+not)\s+(?:change|touch|alter)\s+(?:anything|the\s+rest|everything)\s+else|"
    r"same\s+size\s+and\s+position|"
    # a closing clause that says how or why, naming no edit: "without leaving a trace", "to make it stand out",
    # "so it blends in", "so the view is clean" ("paint the sign red to make it stand out" is no "paint ... out")
    r"without\s+leaving\s+(?:a|any)\s+(?:trace|traces|mark|marks)|leaving\s+no\s+(?:trace|traces|mark|marks)|"
    r"to\s+make\s+(?:it|them|this|the\s+(?:picture|scene|image|photo|shot|view))\s+(?:stand\s+out|pop|more\s+[a-z]+|"
    r"less\s+[a-z]+)|"
    r"so\s+(?:that\s+)?(?:it|they)\s+(?:fits?\s+(?:in|the\s+scene)|blends?\s+in)(?:\s+with\s+the\s+(?:rest|scene))?|"
    r"so\s+(?:that\s+)?the\s+(?:view|picture|scene|shot|image|photo)\s+(?:is|looks|stays)\s+(?:clean|cleaner|clear|"
    r"clearer|tidy|tidier|uncluttered))$"
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
    t = strip_controls(text).translate(_QUOTES)
    if any(ord(c) >= 0x2000 for c in t):
        t = _emoji_to_words(t)
    t = t.lower()
    t = _SUPPLIED_ASIDE.sub(" i attached", t)  # "this drawing (attached)": the user supplied it, as a reference
    t = _WITH_SLASH.sub("with ", t)  # "the bear w/ a dinosaur"
    without_parens = _PARENS.sub(" ", t)
    t = without_parens if without_parens.strip() else t
    t = _QUOTED_TEXT.sub(r"\1", t)
    t = _ARROW.sub(" -> ", t)
    t = _DROP_CHARS.sub(" ", t)
    t = _SPACES.sub(" ", t).strip()
    tokens = _dedupe([_TYPOS.get(w, w) for w in t.split(" ")])
    return _WHOLE_ASIDE.sub(r"\g<whole> ", " ".join(_join_colours(tokens)))


# An aside after the whole picture that only says how whole it is ("the whole scene, from the mountains to the tiny
# hikers, ...", "the whole image, not just the sky, ...", "everything, people included, ..."): its nouns are no object.
_WHOLE_ASIDE = re.compile(
    r"\b(?P<whole>(?:the\s+|this\s+)?(?:whole|entire|complete|full)\s+(?:scene|image|picture|photo|photograph|shot|"
    r"frame|thing|view)|everything|it all|all of it)\s*,\s*(?:from\s+[^,]+?\s+to\s+[^,]+?|(?:and\s+)?not\s+(?:just|only|"
    r"merely)\s+[^,]+?|including\s+[^,]+?|(?:right\s+|all\s+the\s+way\s+)?down\s+to\s+[^,]+?|even\s+[^,]+?|"
    r"[^,]+?\s+included|[^,]+?\s+and\s+all)\s*,\s*"
)


def _join_colours(tokens: list[str]) -> list[str]:
    """ "the train jet black" -> "the train jet-black": a two-word colour after a noun is one colour, not the
    noun's last word ("make the sky blue" stays: "sky" follows a determiner, so it is the object). Punctuation
    after the colour ("jet black!", "sky blue, keeping its shape") stays after the joined colour."""
    out: list[str] = []
    for word in tokens:
        bare = word.rstrip(",.!?;:")
        if out and len(out) > 1 and f"{out[-1]}-{bare}" in lx.COLOURS and out[-2].isalpha() \
                and out[-2] not in lx.DETERMINERS:
            out[-1] = f"{out[-1]}-{word}"
        else:
            out.append(word)
    return out


# A conversational frame around the edit: a wish, a hedged question or an aside before it. Two kinds:
# - the frame takes a clause whose verb is a wish's ("I'd love for the gate to be red", "it'd be nice if the gate
#   looked old", "any chance the lamp could be a candle"): the frame goes and the verb becomes "should", so the
#   clause reads as the plain "the gate should be red" (the object stays the clause's subject, never the frame);
# - the frame takes an imperative ("is it possible to make the gate red", "would it be too much to remove X"):
#   it goes, as "could you" does.
_WISH_OPENER = re.compile(
    r"^(?:(?:honestly|frankly|truthfully|tbh|to be honest|seriously|personally|ngl|imo)\b[\s,]*)*"
    r"(?:(?:i|we)(?:'d| would)(?: really| so| just| actually)? (?:love|like|prefer|adore|enjoy|appreciate)(?: it)? (?:for|if)|"
    # someone else's wish: "my kid wants the goldfish to be a shark", "my mom would love the walls to be green"
    r"(?:my|our|his|her|their) [a-z]+(?: [a-z]+)? (?:really |just |kinda |so )?(?:wants|would love|would like|'d love|"
    r"'d like|wishes|hopes|is hoping)(?: it if| that| for)?|"
    r"(?:i|we)(?: really| just| kinda| kind of| sort of)? (?:wish|hope)(?: that)?|"
    r"(?:i'm|i am|we're|we are|i was|we were)? ?(?:kind of |kinda |sort of |really |just )?(?:hoping|wishing)"
    r"(?: that)?|"
    r"(?:it|that)(?:'d| would| will|'ll| might)? (?:be|look) (?:so |really |very |super |pretty |quite )?"
    r"(?:nice|great|good|cool|awesome|better|lovely|fun|ideal|neat|sweet|amazing|perfect|wonderful|brilliant)"
    r"(?: if| for)|"
    r"(?:any|is there (?:any|a)|what are the) chances?(?: that)?|"
    r"(?:is|would) it (?:be )?(?:possible|ok|okay|alright|doable|feasible) (?:for|if|that)|"
    r"(?:would|will|could) it be (?:too much|a problem|possible|ok|okay) to ask (?:for|that)|"
    r"(?:do|don't) you think(?: that)?|(?:i|we) (?:think|feel|guess|suppose|reckon)(?: that| like)?|"
    r"how about if|what about if|maybe|perhaps)\s+(?P<rest>.+)$"
)
_WISH_VERB = re.compile(
    r"\s(?:to|could|would|might|can|will|may|'d|should|must|ought to|needs to|has to)\s+(?:maybe\s+|perhaps\s+|possibly\s+|just\s+|somehow\s+)?"
    r"(?=(?:be|become|look|turn|get|have|wear|hold|carry|appear|go|disappear|vanish|sit|stand|feel|glow|end up)\b)"
    r"|\s(?P<past>had been|were|was|looked|became|had|wore|held|got|went|disappeared|vanished|turned|felt|appeared)\b"
    r"(?!n't| not| never| no\b)"
)
_PAST_TO_BASE = {"had been": "be", "were": "be", "was": "be", "looked": "look", "became": "become", "had": "have", "wore": "wear",
                 "held": "hold", "got": "get", "went": "go", "disappeared": "disappear", "vanished": "vanish",
                 "turned": "turn", "felt": "feel", "appeared": "appear"}
_HEDGED_IMPERATIVE = re.compile(
    r"^(?:(?:honestly|frankly|tbh|to be honest|seriously)\b[\s,]*)*"
    r"(?:(?:is|would) it (?:be )?(?:possible|ok|okay|alright|doable|feasible) to|"
    r"(?:would|will|could) it be (?:too much|a problem|possible|ok|okay) to(?! ask (?:for|that))(?: ask(?: you)? to)?|"
    r"(?:any|is there (?:any|a)) chance (?:you|u|we) (?:could|can|might|would)(?: maybe| perhaps| possibly| just)?|"
    r"(?:i|we)(?:'d| would)(?: really| so| just)? (?:love|like|appreciate)(?: it)? if (?:you|u) (?:could|can|would)"
    r"(?: maybe| please| just)?|"
    r"(?:it|that)(?:'d| would) be (?:so |really |very )?(?:nice|great|good|cool|awesome|lovely|amazing|perfect) if "
    r"(?:you|u) (?:could|can|would)(?: maybe| please| just)?|"
    r"(?:i was|i'm|we were|we're) hoping (?:that )?(?:we|you|u) (?:could|can|might|would)(?: maybe| just)?|"
    # "is there a way to make the boy happier?", "how could we get rid of X": a question about the means
    r"(?:is there|would there be|there's|do you know|do you have|got)\s+(?:a|an|any|some)\s+(?:easy\s+|simple\s+|quick\s+)?"
    r"way\s+(?:to|(?:you|u|we|i)\s+(?:could|can|might|would)(?: maybe| just)?)|"
    r"how (?:can|could|would|do|might) (?:i|we|you|u)(?: maybe| just)?(?= (?:make|get|turn|remove|add|change|give|"
    r"replace|swap|put|paint|erase|delete|take|have|let)\b)|"
    r"(?:honestly|frankly|tbh|to be honest|seriously|random thought|quick one|hmm))[\s,:]+"
)
_OBJECT_LEADS = re.compile(r"^(?:(?:the|a|an|this|that|these|those|my|our|your|his|her|their|some|one|two|three) |"
                           r"there\b)")
# an opener that only says it is an opinion: it goes even when no wish's verb follows
_ASIDE = re.compile(r"^(?:(?:honestly|frankly|truthfully|tbh|to be honest|seriously|personally|ngl|imo)\b[\s,]*)*"
                    r"(?:(?:i|we) (?:think|feel|guess|suppose|reckon)|(?:do|don't) you think|maybe|perhaps)\b")
_HEDGE_WORDS = re.compile(r"\s+(?:maybe|perhaps|possibly|somehow)(?=\s)")


def _unwrap_wish(clause: str) -> str:
    """ "i'd love for the gate to be red" -> "the gate should be red"; "is it possible to make X red" -> "make X
    red". A clause whose frame takes no object and verb ("i wish it were winter") is left to the readers."""
    clause = _HEDGED_IMPERATIVE.sub("", clause)
    m = _WISH_OPENER.match(clause)
    if not m:
        return clause
    rest = m.group("rest")
    if clause[:m.start("rest")].endswith(" that ") and not _OBJECT_LEADS.match(rest):
        rest = "that " + rest  # "hoping that bucket could ...": "that" was the object's determiner
    if not _OBJECT_LEADS.match(rest):
        if _ASIDE.match(clause):
            return rest  # "i think the yard needs a swing": the aside goes, whatever follows
        return clause  # "i'd love it if you could ...", "it'd be nice if it were winter": no object leads
    verb = _WISH_VERB.search(rest)
    if not verb or verb.start() == 0:
        return rest if _ASIDE.match(clause) else clause
    if verb.group("past"):
        replacement = " should " + _PAST_TO_BASE[verb.group("past")]
    else:
        replacement = " should "
    rest = rest[:verb.start()] + replacement + rest[verb.end():]
    return _HEDGE_WORDS.sub("", re.sub(r"\s+", " ", rest)).strip()


def _strip_framing(clause: str) -> str:
    previous = None
    clause = clause.strip(" ,.:;!?-")
    while previous != clause:
        previous = clause
        clause = _HEDGE_WORDS.sub("", _unwrap_wish(clause)).strip(" ,.:;!?-")
        clause = _FRAMING.sub("", clause).strip(" ,.:;!?-")
        clause = _TRAILING.sub("", clause).strip(" ,.:;!?-")
        clause = _INVARIANT.sub("", clause).strip(" ,.:;!?-")
    return clause
