"""Composition: fallback cues, language check, subject, prompt and contour, assembled into an intent."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from polaris_core.intent import InstructionType, Intent, normalize_subject
from polaris_core.parse import lexicon as lx
from polaris_core.parse.base import LOW_CONFIDENCE, PreparedInstruction, finish_intent
from polaris_core.parse.normalise import _IN_IMAGE, _SENTENCE_SPLIT, _TOKEN, _strip_framing, normalise
from polaris_core.parse.noun_phrases import _subject_of, noun_phrase
from polaris_core.parse.results import Frame, _RESULT_CUT, _clean_result, _has_style, is_attribute_word, result_kind
from polaris_core.parse.clause_patterns import _REMOVE_VERB, _REPLACE_VERB, _RE_EDIT_CUE, _RE_REFERENCE
from polaris_core.parse.reader import _Reader, _indefinite

T = InstructionType


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
    # "redo the white ball in teal": the colour at the end is the result, the phrase before it the object
    end = re.search(r"^(?:\S+\s+)?(?P<x>(?:the|this|that|my|your|his|her|their|its)\s.+?)\s+(?:in|to|into)\s+"
                    r"(?P<y>[a-z-]+(?:\s+[a-z-]+)?)$", clause)
    if end and all(w in lx.COLOURS or w in lx.MATERIALS or is_attribute_word(w) for w in end.group("y").split()):
        return Frame(T.LOCAL_STYLE, target=end.group("x"), result=end.group("y"), rule="cue-colour",
                     confidence=LOW_CONFIDENCE)
    if np_.phrase and np_.definite and re.match(r"^(?:should|must|shall|will|would|could|can|ought|needs?|has|have|"
                                                r"is|are|was|were|looks?|feels?|seems?)\b", np_.rest):
        # "the wicker ladder should feel more frosted": a subject then its verb; the colour or material words
        # before the verb identify the object (the cue-colour guess below would cut them off as the change)
        return Frame(T.LOCAL_STYLE, target=clause[: len(clause) - len(np_.rest)].strip(), result=clause,
                     rule="cue-subject-verb", confidence=LOW_CONFIDENCE)
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


# a colour result also replaces what makes a thing colourless ("the glass vase" painted blue is a blue vase)
_COLOURLESS = frozenset("glass crystal clear transparent translucent".split())


def _without_replaced_attributes(subject: str, result_words: list[str]) -> str:
    """The subject without the words the result replaces, so the prompt never contradicts itself:
    "paint the white fence red" -> "fence" (-> "red fence"), "the ceramic mug to glass" -> "mug"."""
    classes = [(lx.COLOURS, lx.COLOURS | _COLOURLESS), (lx.MATERIALS, lx.MATERIALS)]
    dropped: set[str] = set()
    for marks, drops in classes:
        if any(w in marks and not (w in lx.COLOURS and w in lx.MATERIALS and marks is lx.MATERIALS)
               for w in result_words):
            dropped |= drops
    head, _, qualifier = subject.partition(" with ") if " with " in subject else (subject, "", "")
    words = head.split()
    kept = [w for w in words[:-1] if w not in dropped] + words[-1:]
    text = " ".join(kept) if kept else head
    return f"{text} with {qualifier}" if qualifier else text


_POSSESSIVE = re.compile(r"\w(?:'s|’s|s'|s’)$")


def _split_owner(subject: str) -> tuple[str, str]:
    """("woman's ", "hair") for "woman's hair": a new attribute goes after the owner ("woman's curly hair",
    never "curly woman's hair"). Only an owner before the first preposition counts ("cup on the boy's desk")."""
    words = subject.split()
    owner_end = 0
    for i, word in enumerate(words[:-1]):
        if word in lx.PREPOSITIONS:
            break
        if _POSSESSIVE.search(word):
            owner_end = i + 1
    if not owner_end:
        return "", subject
    return " ".join(words[:owner_end]) + " ", " ".join(words[owner_end:])


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
        owner, thing = _split_owner(_without_replaced_attributes(subject, words))
        return f"{owner}{result} {thing}"
    if result.startswith(("in ", "with ")):
        return f"{subject} {result}"
    if noun_phrase(result).head in ("shade", "tone", "hue", "color", "colour", "colors", "colours"):
        return f"{subject} in {result}"
    return f"{subject} with {result}"


def _contour(frame: Frame, subject: str, result: str) -> int:
    """1 when the edited region keeps its outline; for a replacement, when old and new share an outline group."""
    if frame.itype in (T.LOCAL_STYLE, T.GLOBAL_STYLE, T.STYLE_REFERENCE):
        return 1
    if frame.itype == T.REPLACE:
        old_word = noun_phrase(subject).head if subject else ""  # "vase" of "vase on the shelf", "girl's vase"
        new_np = noun_phrase(_clean_result(result)[0]) if result else None
        new_word = new_np.head if new_np else ""
        known = [w for w in (old_word, new_word) if w in lx.SHAPE_OF or w in lx.CATEGORY_OF]
        if len(known) < 2:
            return 1  # an object we cannot place (a corgi, a gramophone): keep the segment, the safe default
        old, new = lx.SHAPE_OF.get(old_word), lx.SHAPE_OF.get(new_word)
        return int(old is not None and old == new)
    return 0


_RE_CONTEXT_NP = re.compile(
    r"^(?:there(?:'s| is| are)\s+|i see\s+|we have\s+|you see\s+|see\s+|(?:i|we)\s+(?:really\s+)?(?:can't stand|"
    r"cannot stand|can not stand|hate|dislike|don't like|do not like|am not a fan of|'m not a fan of)\s+|"
    r"(?:there's\s+|there is\s+)?no need for\s+|(?:i'm|i am|we're|we are)?\s*not (?:a fan of|keen on|sold on|loving|crazy about|into|big on)\s+)?"
    r"(?P<np>(?:a|an|the|this|that|these|those|some|two|three)\s+.+?)(?:\s+(?:is|are|was|were|which|that|"
    # a complaint's verb ends the object it complains about ("the cone ruins it, can it go?")
    r"ruin(?:s|ed)?|spoil(?:s|ed|t)?|wreck(?:s|ed)?|kill(?:s|ed)?|clutter(?:s|ed)?|distract(?:s|ed)?|bug(?:s|ged)?|"
    r"bother(?:s|ed)?|annoy(?:s|ed)?|block(?:s|ed)?|sticks? out|stuck out|stands? out|stood out|"
    # ... in the past too, or by what it does to the picture ("the bags on the floor make the room look messy")
    r"makes?|made|mess(?:es|ed)? up|photobomb(?:s|ed)?|clash(?:es|ed)?|cheapens?|cheapened|throws? off|threw off|"
    r"drags? down|dragged down|takes? away|took away|gets? in the way|got in the way|"
    r"looks?|looked|seems?|seemed|feels?|felt|doesn't|does not|don't|do not|didn't|did not|really|just|totally|"
    r"kind of|kinda|has|have|had)\b.*)?$"
)
# "..., can it go?": a question whether the thing named before may leave is a removal of it
_RE_MAY_IT_GO = re.compile(
    r"^(?:can|could|should|will|would|may|might|shall)\s+(?P<who>it|they|that|this|he|she)\s+(?:please\s+|just\s+|"
    r"maybe\s+|perhaps\s+)?(?:go|leave|disappear|vanish|get lost|be\s+(?:removed|deleted|erased|gone|taken out|"
    r"cut|cropped out|edited out))\b"
)
_OBJECT_PRONOUN = {"it": "it", "that": "it", "this": "it", "they": "them", "he": "him", "she": "her"}


# A complaint about a thing already there ("the vase of daisies feels dated", "the desk looks bare") ...
_RE_COMPLAINT = re.compile(
    r"^(?P<x>(?:the|this|that|these|those|my|our)\s.+?)\s+(?:feels?|looks?|seems?|is|are)\s+(?:(?:a bit|a little|kind of|"
    r"kinda|sort of|so|too|way too|really|very|pretty|rather|quite|super|honestly|just)\s+)*(?P<adj>[a-z-]+(?:\s+[a-z-]+){0,2})"
    r"(?:,?\s+(?:honestly|really|tbh|imo|though|to me|if you ask me))?$"
)
# ... then a new thing offered in its stead ("a bonsai tree would look way better there", "maybe a warm terracotta
# colour instead?", "a potted orchid would help")
_RE_SUGGESTION = re.compile(
    r"^(?P<y>(?:a|an|some)\s.+?)(?:\s+(?:would|could|might|will)\s+(?:(?:look|be|work|fit|go|suit it)\s+)?(?:way\s+|much\s+|"
    r"so\s+|a lot\s+|far\s+)?(?:better|nicer|great|good|perfect|help|do the trick|fix (?:it|that))"
    r"(?:\s+(?:there|here|instead|in its place))?|\s+instead)$|"
    r"^(?P<bare>(?:a|an|some|a few|a couple of)\s.+)$"  # "maybe some fresh flowers on the table?"
)
# what a complaint says a place lacks: the thing offered is added to it, not put in its place
_LACKING = frozenset("bare empty plain lonely sparse barren naked unfinished incomplete lifeless".split())


def _complaint_then_suggestion(complaint: str, suggestion: str) -> str:
    """ "the vase feels dated; a bonsai would look better there" -> "a bonsai instead of the vase"; "the walls feel
    cold, maybe a terracotta colour instead" -> "make the walls a terracotta colour"; "the desk looks bare; a potted
    orchid would help" -> "add a potted orchid to the desk"; else ""."""
    m, s = _RE_COMPLAINT.match(complaint), _RE_SUGGESTION.match(suggestion)
    if m and re.match(rf"^(?:{lx.ADD_VERBS})\s+(?:a|an|some|one|two|three|a couple of|a few)\s", suggestion):
        return suggestion  # "the sky feels empty, maybe throw in a couple of kites": the offer is the edit
    if not m or not s or not noun_phrase(m.group("x")).phrase or not noun_phrase(s.group("y") or s.group("bare")).phrase:
        return ""
    x, y = m.group("x"), s.group("y") or s.group("bare")
    if any(w in _LACKING for w in m.group("adj").split()):
        return f"add {y} to {x}"
    if result_kind(y) in ("attribute", "style", "season"):
        return f"{x} should be {y}"  # "the note pinned to the door should be a warm gold": its qualifier stays
    if s.group("bare"):
        return f"add {y}"  # an offer with no "instead": a new thing for the place complained about
    return f"{y} instead of {x}"


_IMPERATIVE = re.compile(r"^(?:please\s+)?(?:make|turn|change|remove|replace|swap|paint|put|add|give|let|get|take|delete|"
                         r"erase|lose|ditch|drop|place|insert|move|transform|convert)\b")


def _main_clause(text: str) -> tuple[str, str]:
    """(the clause that edits, the text before it) — e.g. "there is a dog on the left. remove it"."""
    sentences = [s.strip(" .!?;") for s in _SENTENCE_SPLIT.split(text) if s.strip(" .!?;")]
    if not sentences:
        return text, ""
    clauses: list[str] = []
    topic_edit: int | None = None
    kept_before = False
    for position, sentence in enumerate(sentences):
        if re.match(r"^(?:where|instead of|in place of|rather than|in lieu of)\s", _strip_framing(sentence)):
            clauses.append(sentence)  # "where the sign is, put a sunflower": one replacement, not two clauses
            continue
        # "the walls feel cold, maybe a terracotta colour instead?": a hedged offer is a clause of its own (marked
        # before the framing strip drops its "maybe")
        sentence = re.sub(r",\s+(?=(?:maybe|perhaps)\s)", " ;; ", sentence)
        sentence = _strip_framing(sentence) or sentence  # "hey, get the kite out": "hey" is no clause of its own
        if _RE_REFERENCE.search(sentence):
            clauses.append(sentence)  # "i've attached a postcard, can you give my photo its style?": one request
            continue
        if kept_before:  # "the bed can stay as it is; but the pillows should be red"
            sentence = re.sub(r"^(?:but|however|yet|though)[\s,]+", "", sentence)
        # the last sentence is never skipped as kept (by position: framing may have made it a new string)
        kept_before = position < len(sentences) - 1 and _is_kept(sentence)
        if kept_before:
            continue
        sentence = _after_contrast(_fronted_source(sentence))
        topic = _split_topic(sentence)
        if topic is not None:
            clauses.append(topic[0])
            sentence = topic[1]
            topic_edit = len(clauses)  # the clause after the topic is the edit; the topic only names its object
        parts = [p.strip(" ;") for p in re.split(r"\s+;;\s+|"
                                           r",\s+(?:so\s+|and\s+|then\s+|but\s+|please\s+)*(?=(?:please\s+)?"
                                           r"(?:make|turn|change|remove|replace|paint|put|add|give|let|get|take|"
                                           r"delete|erase|lose|ditch|drop|(?:can|could|would|will|should|may)\s+"
                                           r"(?:it|they|we|you|u)\b)\b)"
                                           # "the car looks dull, maybe make it chrome", "..., perhaps swap them for
                                           # boots": a hedged imperative after a complaint is a clause of its own
                                           # (the hedge itself is gone by now: framing drops "maybe" mid-clause)
                                           r"|,\s+(?:(?:maybe|perhaps|possibly|just)\s+)?(?=(?:swap|switch|trade|"
                                           r"restyle|recolou?r)\b)",
                                           sentence) if p.strip(" ;")]
        clauses.extend(parts)
    stripped = [_restate(_strip_framing(s)) for s in clauses]
    if topic_edit is not None and topic_edit < len(stripped):
        return stripped[topic_edit], " ".join(clauses[:topic_edit])
    for k in range(1, len(stripped)):
        suggested = _complaint_then_suggestion(stripped[k - 1], stripped[k])
        if suggested:
            return suggested, " ".join(clauses[:k])  # the complaint names what "its place" refers to
    for k, s in enumerate(stripped[1:], start=1):
        if re.search(r"\b(?:it|them|him|her)\b(?!'s)", s) and _COMPLAINT_LEAD.match(_INTERJECTION.sub("", stripped[k - 1])):
            # "not a fan of the carpet, can you make it oak?": the complaint only names what the edit's pronoun means
            return s, " ".join(clauses[:k])
        if _ANAPHORIC_REQUEST.match(s) and stripped[k - 1] and _Reader(stripped[k - 1], False).read() is not None:
            # "a lighthouse would look better than the church, can you swap it?", "my kid wants the goldfish to be
            # a shark, can you do that": the request only points back; the clause before it says the edit
            return stripped[k - 1], " ".join(clauses[:k - 1])
    for k, s in enumerate(stripped):
        m = _RE_MAY_IT_GO.match(s)
        if m and k:
            stripped[k] = "remove " + _OBJECT_PRONOUN[m.group("who")]
    for k, s in enumerate(stripped[1:], start=1):
        if re.match(r"^(?:remove (?:it|them|him|her)$|(?:can|could|would|will|should|may|might)\s+(?:it|they)\s|"
                    r"(?:get rid of|remove|delete|erase|lose|ditch) (?:it|them|him|her)$|"
                    r"(?:take|get|cut) (?:it|them|him|her) (?:out|away)$)", s) or (
                re.search(r"\b(?:in|into) (?:its|their) (?:place|spot|stead)$", s) and not _IMPERATIVE.match(stripped[k - 1])):
            # "not a fan of the lamp, can we have a candle in its place?" (not after "replace the sign with a flag")
            # "the painting looks dull, could it be coral?": the question about "it" is the edit, the clause
            # before it only names the thing (its words, "painting", are no edit cue)
            return s, " ".join(clauses[:k])
    for k, s in enumerate(stripped):
        if _RE_EDIT_CUE.search(s) or _RE_REFERENCE.search(s):
            return s, " ".join(clauses[:k])
    for k, s in enumerate(stripped[1:], start=1):
        if re.match(r"^(?:get|take|lose|ditch|drop|delete|erase|remove|cut)\b.*\b(?:it|them|him|her)\b", s):
            return s, " ".join(clauses[:k])  # "I can't stand the bin, get it out": the edit names it by a pronoun
    for k, s in enumerate(stripped[1:], start=1):
        if re.match(r"^(?!(?:the|a|an|this|that|these|those|it|they|there|i|we|you)\b)[a-z]+\s.*\b(?:it|them)\b(?!'s)", s) \
                and _RE_CONTEXT_NP.match(_INTERJECTION.sub("", stripped[k - 1])) \
                and _Reader(_resolve_pronoun(s, clauses[k - 1]), False).read() is not None:
            # "the wall is too bare... could you hang a painting on it?": a request about the thing named before it
            return s, " ".join(clauses[:k])
    return stripped[0], ""


_GERUNDS = {"removing": "remove", "deleting": "delete", "erasing": "erase", "adding": "add", "replacing": "replace",
            "swapping": "swap", "putting": "put", "placing": "place", "inserting": "insert", "painting": "paint",
            "making": "make", "turning": "turn", "changing": "change", "getting rid of": "get rid of",
            "taking out": "take out", "taking away": "take away"}
# "clean up the shot by removing the bin": the edit is the means, the picture is not its object
_BY_MEANS = re.compile(r"^.*?\b(?:the|this|my|our|your)\s+(?:shot|photo|photograph|picture|pic|image|scene|frame|"
                       r"composition)\s+by\s+(?P<gerund>" + "|".join(sorted(_GERUNDS, key=len, reverse=True)) +
                       r")\b")
# "swap things around so a puppy sits where the bike was": the filler before the edit says nothing
_THINGS_AROUND = re.compile(r"^(?:swap|switch|shuffle|mix|move|change)\s+(?:things|stuff)\s+(?:around|about|up)"
                            r"\s+(?:so\s+(?:that\s+)?)?")


def _edit_by_means(clause: str) -> str:
    """ "clean up the shot by removing the bin" -> "remove the bin"; "swap things around so X ..." -> "X ..."."""
    m = _BY_MEANS.match(clause)
    if m:
        clause = _GERUNDS[m.group("gerund")] + clause[m.end():]
    return _THINGS_AROUND.sub("", clause)


def _resolve_pronoun(clause: str, context: str) -> str:
    """ "There is a dog on the left. Remove it." -> "remove the dog"."""
    if not context or not re.search(r"\b(?:it|them|him|her|its|their)\b", clause):
        return clause
    subject = _context_subject(context.split(". ")[-1])
    if not subject:
        return clause
    named = "the " + subject
    # "not a fan of the lamp, can we have a candle in its place?": a new thing in its place replaces it
    swapped = re.sub(r"\b(?:in|into|to take)\s+(?:its|their|his|her)\s+(?:place|spot|stead)\b", "in place of " + named,
                     clause, count=1)
    if swapped != clause:
        return swapped
    if not re.search(r"\b(?:it|them|him|her)\b", clause):
        return clause
    return re.sub(r"\b(?:it|them|him|her)\b(?!'s)", named, clause, count=1)


# a topic marker before the object the rest of the sentence is about ("as for the vase, paint it red")
_TOPIC_MARKER = re.compile(r"^(?:as\s+for|as\s+to|regarding|concerning|about|re|speaking\s+of|when\s+it\s+comes\s+to|"
                           r"with\s+(?:regard|regards|respect)\s+to|in\s+terms\s+of|now\s+for|and\s+for|as\s+regards|for)"
                           r"\s+(?=\S)")
_AS_FAR_AS = re.compile(r"^as\s+far\s+as\s+(?P<np>.+?)\s+(?:goes|go|is\s+concerned|are\s+concerned)(?=\s*[,;:])")
# someone's opinion before the object it is about ("my mom thinks the sofa is ugly, can you swap it ...")
_OPINION_LEAD = re.compile(r"^(?:my|our|his|her|their)\s+[a-z]+(?:\s+[a-z]+)?\s+(?:thinks|feels|says|said|reckons|believes|"
                           r"finds|felt|thought)\s+(?:that\s+|like\s+)?")
# a complaint before the object it complains about ("not loving the floor", "i really don't like the lamp")
_COMPLAINT_LEAD = re.compile(
    r"^(?:(?:i'm|i\s+am|we're|we\s+are|honestly|really|just|still|so|ugh|meh)[\s,]+)*(?:not\s+(?:really\s+|totally\s+|"
    r"too\s+|that\s+|so\s+)?(?:loving|liking|digging|into|keen\s+on|crazy\s+about|sold\s+on|happy\s+with|thrilled\s+with|"
    r"(?:a|the\s+biggest|a\s+big|a\s+huge)\s+fan\s+of|big\s+on|feeling)|(?:i|we)\s+(?:really\s+|just\s+)?(?:don't|do\s+not)"
    r"\s+(?:really\s+|much\s+)?(?:love|like|dig|care\s+for)|(?:i|we)\s+(?:kinda\s+|kind\s+of\s+|really\s+)?(?:hate|dislike|"
    r"can't\s+stand|cannot\s+stand))\s+(?=(?:the|this|that|these|those|my|our|your)\s)"
)
_INTERJECTION = re.compile(r"^(?:ugh+|meh|eh|argh+|oof|yikes|welp|sigh|geez|jeez|gosh|hmm+|hm|ooh|aww+|omg)\b[\s,.!]*")


def _context_subject(context: str) -> str:
    """The object a pronoun after `context` points at, as the subject convention names it ("" when none): the
    topic ("as for the teddy bear on the bed" -> "teddy bear on the bed") or the thing complained about ("the crane
    in the skyline is an eyesore" -> "crane in the skyline"), with the qualifier that identifies it."""
    text = _INTERJECTION.sub("", _strip_framing(context)).strip(" ,")
    marked = _TOPIC_MARKER.match(text) is not None
    text = _COMPLAINT_LEAD.sub("", _TOPIC_MARKER.sub("", _OPINION_LEAD.sub("", text)))
    topic = noun_phrase(text)
    if marked and topic.phrase and topic.definite and not topic.rest and not topic.whole and not topic.pronoun:
        return _subject_of(topic)  # a topic, nothing after it: "as for the jacket the boy is wearing"
    m = _RE_CONTEXT_NP.match(text)
    if not m:
        return ""
    np_ = noun_phrase(m.group("np"))
    if not np_.phrase or np_.whole:
        return ""
    after = text[m.end("np"):].split()
    # the same object with what identifies it ("on the hill"), up to a complaint's verb ("... in the back ruined my
    # shot"), but through a relative clause ("the bags that are by the curb")
    full = noun_phrase(text[m.start("np"):] if not after or after[0] in ("that", "which") else m.group("np"))
    if full.phrase == np_.phrase and full.qualifier and not full.whole:
        return _subject_of(full)
    # an object already there keeps where it is ("the trash bags by the curb are an eyesore, take them out")
    return _subject_of(np_)


def _split_topic(sentence: str) -> tuple[str, str] | None:
    """ "as for the vase on the shelf, paint it red", "the hydrant by the curb, swap it for a mailbox": (the topic,
    the edit) when a sentence opens with an object already in the picture, then a comma and a clause whose pronoun
    points back at it; else None."""
    body = _TOPIC_MARKER.sub("", _AS_FAR_AS.sub(r"\g<np>", sentence))
    np_ = noun_phrase(body)
    m = re.match(r"^[,;:]\s*(?P<edit>.+)$", np_.rest)
    if not m or not np_.phrase or not np_.definite or np_.whole or np_.pronoun or \
            any(w in lx.DETERMINERS for w in np_.words):
        return None  # "that bin ruins the view, nuke it": a clause ran into the phrase, no bare topic
    topic = body[: len(body) - len(np_.rest)].strip(" ,;:")
    cut = _RE_CONTEXT_NP.match(topic)
    in_qualifier = bool(np_.qualifier) and len(cut.group("np") if cut else "") >= len(topic) - len(np_.qualifier) - 1
    if cut and cut.group("np") != topic and not in_qualifier and topic[len(cut.group("np")):].split()[0] not in (
            "on", "in", "at", "near", "by", "next", "which", "that"):
        return None  # "the ladder ruins it, can it go?": a complaint, read as one (its verb is no part of a topic)
    edit = m.group("edit")
    if not re.search(r"\b(?:it|them|him|her)\b(?!'s)", edit) or re.match(r"^(?:and|or|but|the|a|an|then)\b", edit):
        return None
    return "as for " + topic, edit  # marked: the context is a topic


# "X is fine, but ...", "leave the rug alone, but ...": the clause before "but" keeps something, naming no edit
_KEPT_CLAUSE = re.compile(
    r"^(?:(?:(?:the|this|that|these|those|my|our|your|his|her|their)\s+.+?|it|they|everything\s+else|the\s+rest)\s+"
    r"(?:is|are|'s|'re|looks?|seems?|seem|feels?|can|could|may|might|should|will|would|gets?\s+to)\s+(?:\S+\s+){0,3}?"
    r"(?:fine|ok|okay|good|great|perfect|alright|all\s+right|nice|lovely|gorgeous|beautiful|stay|stays|remain|remains|"
    r"be\s+left|untouched|unchanged|as\s+(?:it|they)\s+(?:is|are))\b.*|"
    r"(?:leave|keep|don't\s+touch|do\s+not\s+touch)\s+(?:the|this|that|these|those|my|our|your)\s+.+|"
    r"(?:i|we)\s+(?:really\s+)?(?:like|love|adore)\s+(?:the|this|that|these|those|my|our)\s+.+)$"
)
_CONTRAST = re.compile(r"\s*(?:[,;]\s*|\s)(?:but|however|yet|though)[\s,]+(?P<edit>\S.*)$")
# "keep the runners as they are and add a banner", "don't touch the sofa, just paint the walls": a kept clause joined by
# "and" or a bare comma; only an imperative after it is the edit ("keep the dog and the cat, ..." joins two objects)
_KEPT_THEN = re.compile(r"\s*(?:[,;]\s*(?:and\s+)?|\s+and\s+)(?:(?:then|just|only|please|simply)\s+)*"
                        r"(?P<edit>(?:make|turn|change|remove|replace|swap|switch|paint|put|add|give|get|take|delete|"
                        r"erase|lose|ditch|drop|place|insert|transform|convert|recolou?r|restyle|hang|set|colou?r|"
                        r"dye|stick|throw|fill)\b.*)$")
# "without changing the stalls, add an awning", "without moving anything, make it a film noir": a fronted clause that
# only keeps something; the edit follows its comma
_WITHOUT_KEEPING = re.compile(r"^without\s+(?:(?:really|actually)\s+)?(?:[a-z]+ing|any\s+changes?\s+to)\s+[^,;]+[,;]\s*"
                              r"(?:(?:then|just|please|simply)\s+)*(?P<edit>\S.*)$")


def _is_kept(clause: str) -> bool:
    """ "the rug is fine", "the rug can stay as it is", "leave the dog alone": a clause that only keeps something."""
    if not _KEPT_CLAUSE.match(clause):
        return False
    return not _RE_EDIT_CUE.search(re.sub(r"^(?:i|we)\s+(?:really\s+)?(?:like|love|adore)\b|\b(?:should|can|may|will)\s+"
                                          r"(?:stay|remain|be\s+left)\b", "", clause))


def _after_contrast(sentence: str) -> str:
    """ "the rug can stay as it is, but the recliner should go" -> "the recliner should go": what is kept names no
    edit and its object is no subject; the edit is the clause after "but"."""
    m = _WITHOUT_KEEPING.match(sentence)
    if m:
        return m.group("edit")
    for m in [*_CONTRAST.finditer(sentence), *_KEPT_THEN.finditer(sentence)]:
        kept = sentence[: m.start()].strip(" ,;")
        if _is_kept(kept):
            # "the cat is fine, but make it bigger", "keep the dog, but make it smaller": "it" is the kept thing
            named = _context_subject(re.sub(r"^(?:leave|keep|don't\s+touch|do\s+not\s+touch|(?:i|we)\s+(?:really\s+)?"
                                            r"(?:like|love|adore))\s+", "", kept))
            return re.sub(r"\b(?:it|them)\b(?!'s)", "the " + named, m.group("edit"), count=1) if named else m.group("edit")
    return sentence


def _fronted_source(sentence: str) -> str:
    """ "from the top shelf, the trophy should be removed" -> "the trophy should be removed from the top shelf": a
    place something is taken from, fronted, is where it goes from, never the object."""
    m = re.match(r"^(?P<prep>from|off|off\s+of|out\s+of)\s+(?P<place>(?:the|this|that|my|our|your|his|her|their)\s+"
                 r"[^,;]+?)\s*[,;]\s*(?P<rest>\S.+)$", sentence)
    if not m or noun_phrase(m.group("place")).rest:
        return sentence
    return f"{m.group('rest')} {m.group('prep')} {m.group('place')}"


# a request that only points back at the clause before it ("can you do that", "swap it", "restyle it that way")
_ANAPHORIC_REQUEST = re.compile(
    r"^(?:(?:please|just|maybe|perhaps|then)\s+)*(?:do|try|make|swap|switch|change|restyle|re-style|redo|style|fix|"
    r"edit|apply|manage|pull\s+off|go\s+for|make\s+(?:that|it|this)\s+happen)"
    r"(?:\s+(?:it|that|this|them|so))?(?:\s+(?:that\s+way|this\s+way|like\s+that|for\s+me|happen|too|out|then|"
    r"please|real\s+quick|somehow))*$"
)
# "what i want is for the photo to be a sketch", "would love this photo as a sketch": restated plainly
_PSEUDO_CLEFT = re.compile(r"^what\s+(?:i|we)(?:'d|\s+would)?\s+(?:really\s+)?(?:want|like|need|love|wish\s+for|am\s+after|"
                           r"'m\s+after|have\s+in\s+mind|am\s+looking\s+for|'m\s+looking\s+for)\s+is\s+(?:for\s+)?")
# "my boss wants the logo gone": someone else's wish is the user's request
_THEIR_WISH = re.compile(r"^(?:my|our|his|her|their)\s+[a-z]+(?:\s+[a-z]+)?\s+(?:really\s+|just\s+)?(?:wants|would\s+like|"
                         r"'d\s+like|would\s+love|'d\s+love)\s+(?=(?:the|this|that|these|those|his|her|their|my|our)\s)")
_LOVE_AS = re.compile(
    r"^(?:(?:(?:i|we)\s*(?:'d|would)|would|(?:my|our|his|her|their|the)\s+[a-z]+(?:\s+[a-z]+)?\s*(?:'d|would)|"
    r"[a-z]+\s+would)\s+(?:really\s+|just\s+|so\s+|absolutely\s+|totally\s+)?(?:love|like|adore|enjoy|prefer)|"
    # "my teacher wants it in a cubist style": someone's wish for the whole picture
    r"(?:my|our|his|her|their)\s+[a-z]+(?:\s+[a-z]+)?\s+(?:really\s+|just\s+)?(?:wants|needs|asked\s+for))\s+"
    r"(?P<x>this|it|that|(?:this|the|my|our|that)\s+(?:photo|picture|image|pic|shot|photograph|one))\s+"
    r"(?P<how>as|in)\s+(?P<y>\S.*)$"
)


# "just curious what this would look like as a stained glass window", "what would it look like as a mosaic": a
# question about the whole picture as something else is a restyle of it
_LOOK_AS = re.compile(
    r"^(?:(?:just|so|i|we|i'm|i\s+am|i\s+was|we're|we\s+are|really|kinda|kind\s+of)\s+)*(?:(?:curious|wondering|wonder)\s+)?"
    r"(?:what|how)\s+(?:(?P<x>this|it|the\s+(?:photo|picture|image|pic|shot|scene))\s+(?:would|might|could|will)|"
    r"(?:would|might|could|will|does|did)\s+(?P<x2>this|it|the\s+(?:photo|picture|image|pic|shot|scene)))"
    r"\s+look(?:\s+like)?\s+(?:as\s+(?P<y>\S.*)|if\s+(?P<obj>(?:the|this|that|my|our|his|her|their)\s+.+?)\s+"
    r"(?:were|was|became|turned\s+into)\s+(?P<z>(?:a|an|the|some)\s+.+))$")
# "what the photo needs is to be transformed into a low-poly render": the cleft said plainly
_NEEDS_CLEFT = re.compile(
    r"^what\s+(?P<x>(?:the|this|my|our)\s+(?:photo|picture|image|pic|shot|scene|photograph)|it)\s+(?:really\s+)?"
    r"(?:needs|wants|deserves)\s+is\s+(?:to\s+be|for\s+it\s+to\s+be|being)\s+(?P<p>transformed|turned|made|converted|"
    r"changed|restyled|rendered|redone|reimagined|re-imagined)\s+(?P<rest>\S.*)$")
# "a lamp with a green glass shade is what i want added on the piano": the cleft of "add a lamp ... on the piano"
_WANT_ADDED = re.compile(
    r"^(?P<x>(?:a|an|some|one|two|three)\s+.+?)\s+is\s+what\s+(?:i|we)(?:'d|\s+would)?\s+(?:really\s+)?(?:want|like|need)"
    r"(?:\s+to\s+(?:be|have|see))?\s+(?P<how>added|put|placed|inserted|included)(?P<rest>(?:\s+\S.*)?)$")
_PARTICIPLE_BASE = {"transformed": "transform", "turned": "turn", "made": "make", "converted": "convert",
                    "changed": "change", "restyled": "restyle", "rendered": "render", "redone": "redo",
                    "reimagined": "reimagine", "re-imagined": "reimagine"}


def _restate(clause: str) -> str:
    """A chatty clause said plainly: "what i want is for X to be Y" -> "i want X to be Y"; "(my grandma) would love
    this as a cross-stitch pattern" -> "turn this into a cross-stitch pattern" (the whole picture, restyled)."""
    clause = _THEIR_WISH.sub("i want ", _PSEUDO_CLEFT.sub("i want ", clause))
    gerund = re.match(r"^(?:(?:how|what)\s+about\s+|(?:i'm|i\s+am|we're|we\s+are)\s+thinking\s+(?:of|about)\s+)?(?P<g>"
                      + "|".join(sorted(_GERUNDS, key=len, reverse=True)) + r")\s+(?=(?:the|a|an|this|that|these|"
                      r"those|my|our|your|his|her|their|some|it|them)\b)", clause)  # "painting on the wall": a noun
    if gerund:  # "(i feel like) adding a cat to the sofa", "how about removing the bin": the gerund's imperative
        clause = _GERUNDS[gerund.group("g")] + " " + clause[gerund.end():]
    m = _WANT_ADDED.match(clause)
    if m:
        verb = "add" if m.group("how") in ("added", "included") else {"put": "put", "placed": "place",
                                                                     "inserted": "insert"}[m.group("how")]
        return f"{verb} {m.group('x')}{m.group('rest')}"
    m = _NEEDS_CLEFT.match(clause)
    if m:
        return f"{_PARTICIPLE_BASE[m.group('p')]} {m.group('x')} {m.group('rest')}"
    m = _LOOK_AS.match(clause)
    if m:
        if m.group("obj"):  # "what would it look like if the sailboat were a pirate ship": the sailboat becomes one
            return f"turn {m.group('obj')} into {m.group('z')}"
        return f"turn {m.group('x') or m.group('x2')} into {m.group('y')}"
    m = _LOVE_AS.match(clause)
    if m:
        verb = "turn" if m.group("how") == "as" else "render"
        return f"{verb} {m.group('x')} {'into' if m.group('how') == 'as' else 'in'} {m.group('y')}"
    return clause


@dataclass
class Reading:
    """What the rules read in an instruction, before a type is settled."""

    frames: list[Frame]            # every matching frame, most specific first; frames[0] is the rules' pick
    clause: str = ""               # the clause that edits (framing and "in the image" removed)
    notes: list[str] = field(default_factory=list)
    confidence_cap: float = 1.0
    language: str = "english"      # english | foreign | symbols
    no_edit: bool = False          # no edit verb or pattern was recognised (the fallback guessed)
    second_edit: str = ""          # a second edit named after the first ("..., and make it night")
    image_given: bool = False      # an image came with the instruction (evidence for a style reference)
    out_of_scope: str = ""         # what the edit is when it is none of the six types ("a camera move")

    @property
    def frame(self) -> Frame:
        return self.frames[0]


def read_instruction(prepared: PreparedInstruction, image: Any = None, all_frames: bool = False) -> Reading:
    """The rules' reading of a prepared instruction; `all_frames` also keeps the frames after the first."""
    text = normalise(prepared.text)
    reading = Reading(frames=[], image_given=image is not None)
    english = _english_ratio(text) if text else 0.0
    frame: Frame | None = None
    if text and not any(c.isalpha() for c in prepared.text):
        reading.confidence_cap = 0.4
        reading.language = "symbols"
        reading.notes.append(f"the instruction has no words, only symbols; read as {text!r}")
    elif text and english < 0.5:
        reading.confidence_cap = 0.4
        reading.language = "foreign"
        reading.notes.append("the instruction does not look like English; parsed best-effort")
        frame = _foreign_frame(prepared.text)
    frames: list[Frame] = []
    if frame is None:
        if not text or not re.search(r"[a-z]", text):
            reading.language = "symbols"
            reading.notes.append("no words found in the instruction (emoji or symbols only); parsed best-effort")
            reading.confidence_cap = min(reading.confidence_cap, 0.3)
            frame = Frame(T.GLOBAL_STYLE if image is not None else T.LOCAL_STYLE, subject="image"
                          if image is not None else "object", result=prepared.text, rule="no-words",
                          confidence=0.2)
        else:
            raw_clause, context = _main_clause(text)
            raw_clause = _edit_by_means(_resolve_pronoun(raw_clause, context))
            reading.clause = _IN_IMAGE.sub("", raw_clause)
            reading.second_edit = second_edit(reading.clause)
            reader = _Reader(reading.clause, image is not None, raw_clause)
            frames = reader.read_all() if all_frames else [f for f in [reader.read()] if f is not None]
            frame = frames[0] if frames else _fallback(reading.clause)
            reading.no_edit = not frames and not _RE_EDIT_CUE.search(reading.clause)
    # a reference image given with a whole-image restyle that names no style: style from the reference
    if image is not None and frame.itype == T.GLOBAL_STYLE and not _has_style(frame.result or "", strict=False):
        frame = Frame(T.STYLE_REFERENCE, subject="image", style=1, rule=frame.rule + "+image", confidence=0.8)
    if frame.itype == T.STYLE_REFERENCE and image is not None:
        frame.confidence = max(frame.confidence, 0.9)
    reading.frames = [frame] + frames[1:]
    if reading.language == "english":
        reading.out_of_scope = out_of_scope(reading.clause, frame)
    return reading


# Edits that are none of the six types: camera and framing, lights switched, resolution, motion, undo.
_OUT_OF_SCOPE = (
    (re.compile(r"^(?:zoom|pan|crop|rotate|flip|mirror|tilt|resize|upscale|downscale|straighten|reframe|outpaint|"
                r"uncrop)\b|\bcamera (?:angle|position|view|height|movement|move)s?\b|\b(?:move|lower|raise|tilt|pan) "
                r"the camera\b|\b(?:viewpoint|point of view|vantage point|angle of view|field of view|focal length|"
                r"aspect ratio)\b|\b(?:change|shift|alter) the (?:perspective|angle)\b|"
                r"^(?:show|view|see|shoot|photograph)\s+(?:it|this|the\s+\w+)\s+from\s+(?:above|below|behind|the (?:side|back|front|top))|^(?:widen|extend|expand)\s+(?:the\s+)?"
                r"(?:shot|frame|view|picture|image|canvas|borders?)\b"), "a camera or framing change"),
    (re.compile(r"^(?:turn|switch|flip)\s+(?:(?:on|off)\s+)?(?:the\s+|all\s+the\s+)?(?:\w+\s+)?"
                r"(?:lights?|lamps?|lamp|lighting|tv|television|screen|headlights|candles?)\b(?:\s+(?:on|off))?"
                r"(?:\s+(?:in|at|inside|of|on)\s+(?:the|this|that|my|our|your)\s.+)?$|"
                r"^(?:dim|kill|cut)\s+the\s+lights\b"), "switching a light or device on or off"),
    (re.compile(r"\b(?:higher|more|increase the|boost the|better)\s+resolution\b|\b(?:4k|8k|hd|high-res|hi-res)\b"),
     "a resolution change"),
    (re.compile(r"^(?:animate|undo|revert|go back|restore the original)\b|\b(?:into|as) an? (?:video|gif|animation)\b"),
     "motion or undo"),
)


def out_of_scope(clause: str, frame: Frame) -> str:
    """What the edit is when it is none of the six types (a camera move, a light switched), else ""."""
    if frame.rule in ("geometry", "switch-on-off"):
        return dict(geometry="a camera or framing change").get(frame.rule, "switching a light or device on or off")
    for pattern, what in _OUT_OF_SCOPE:
        if pattern.search(clause):
            return what
    return ""


_SECOND_CLAUSE = re.compile(
    r"(?:,\s*|\s+)(?:and|then|and then|also|plus|,)\s+(?P<edit>(?:also\s+)?(?:make|turn|change|remove|delete|erase|"
    r"replace|swap|add|put|place|paint|colou?r|dye|give|insert|get rid of)\b.+)$"
)
_SECOND_SENTENCE = re.compile(r"(?<=[.!?;])\s+(?P<edit>(?:then\s+|also\s+)?(?:make|turn|change|remove|delete|erase|"
                              r"replace|swap|add|put|place|paint|give|insert)\b.+)$", re.IGNORECASE)


def second_edit(clause: str) -> str:
    """The second edit an instruction names after its first ("remove the car and make it night"), or ""."""
    m = _SECOND_CLAUSE.search(clause)
    if not m:
        return ""
    edit = m.group("edit").strip(" .,;")
    verb_only = re.match(r"^(?:make|turn|change)\s+(?:it|them|sure|everything)\s+(?:blend|look natural|seamless|"
                         r"fit|match)", edit)
    if verb_only or re.match(r"^(?:make|keep)\s+sure\b", edit):
        return ""  # "... and make it blend in": part of the first edit
    return edit


# "trade out the fork", "can the cables go": a particle or auxiliary left in front of the object's phrase
_LEADING_NON_NOUN = re.compile(
    r"^(?:(?:out|off|up|away|down|can|could|would|will|should|shall|may|might|must|do|does|did|please|just|"
    r"honestly|really|maybe|also|now|then|so)\s+)+(?=(?:the|a|an|this|that|these|those|my|your|his|her|their|our|"
    r"its|some|every|each|all|any|no)\b)"
)


def subject_source(text: str) -> str:
    """A frame's target or result text, without framing or a particle/auxiliary before its noun phrase."""
    return _LEADING_NON_NOUN.sub("", _strip_framing(text))


def _with_parenthesis(subject: str, text: str) -> str:
    """ "remove the trolley (the one marked 77)": a parenthesis right after the object names which one."""
    if not subject or subject in ("object", "objects"):
        return subject
    m = re.search(rf"\b{re.escape(subject)}\s*\(([^()]{{1,80}})\)", text.lower().translate(_PAREN_QUOTES))
    if not m:
        return subject
    inner = re.sub(r"[\"']", "", " ".join(m.group(1).split())).strip(" ,.;:")
    return f"{subject} ({inner})" if inner else subject


def _with_own_phrase(subject: str, text: str) -> str:
    """ "add a lamp with a green shade to the desk" -> "lamp with a green shade": a new object's own with-phrase
    describes it, so it stays in the subject (a place after it, "to the desk", still does not)."""
    np_ = noun_phrase(text, places=False)
    m = re.match(r"^with\s+(?P<what>\S.*)$", np_.rest)
    if not m or np_.definite or not np_.phrase or subject != np_.phrase:
        return subject
    inner = noun_phrase(m.group("what"), places=False)
    if not (inner.phrase or inner.attribute) or inner.definite or inner.pronoun or \
            re.match(r"^[a-z]+ing\s+(?:it|them|him|her)\b", inner.rest):
        return subject  # "a canoe with a person paddling it": a clause of its own, not a part of the canoe
    own = m.group("what")[: len(m.group("what")) - len(inner.rest)].strip(" ,;:")
    return f"{subject} with {own}" if own else subject


_PAREN_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2019": "'", "\u2018": "'"})


def compose_intent(reading: Reading, frame: Frame, prepared: PreparedInstruction, *, backend: str = "rules",
                   confidence: float | None = None, notes: list[str] | None = None,
                   extra: dict | None = None) -> Intent:
    """The intent for one frame of a reading (subject, prompt, contour), validated."""
    source = ""
    if frame.subject:
        subject = frame.subject
    else:
        source = frame.target or frame.result
        subject = _subject_of(noun_phrase(subject_source(source))) if source else "object"
    if frame.itype in (T.GLOBAL_STYLE, T.STYLE_REFERENCE):
        subject = "image"
    elif frame.itype == T.ADD and not frame.subject and source:
        subject = _with_own_phrase(subject, subject_source(source))
    elif frame.itype != T.ADD and not frame.subject:
        subject = _with_parenthesis(subject, prepared.text)
    all_notes = list(reading.notes)
    if not normalize_subject(subject):
        subject = "object"
        all_notes.append("no object could be read from the instruction; name the object to edit")
    prompt = _prompt_for(frame, subject)
    data = {
        "instruction_type": int(frame.itype),
        "style_transformation": 1 if frame.itype in (T.GLOBAL_STYLE, T.STYLE_REFERENCE) else frame.style,
        "subject": subject,
        "generation_prompt": prompt,
        "contour_compatibility": _contour(frame, subject, frame.result),
        "confidence": min(frame.confidence if confidence is None else confidence, reading.confidence_cap),
        "notes": all_notes + frame.notes + list(notes or []) + [f"rule: {frame.rule}"],
        "language": reading.language,
    }
    if reading.second_edit:
        data["second_edit"] = reading.second_edit
    data.update(extra or {})
    return finish_intent(data, prepared, backend=backend)


def parse_with_rules(prepared: PreparedInstruction, image: Any = None) -> Intent:
    """The rules backend's work on a prepared instruction, without the type head."""
    reading = read_instruction(prepared, image)
    return compose_intent(reading, reading.frame, prepared)
