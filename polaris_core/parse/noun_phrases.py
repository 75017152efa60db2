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
    r"surface|surfaces|exterior|outside|coating|sheen|gloss|"
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
    qualifier: str = ""         # what identifies an existing object after its head ("on the left", "with the red roof")
    possessor: str = ""         # the owner named before it ("girl's" of "the girl's scarf"), part of the phrase

    @property
    def whole(self) -> bool:
        core = [w for w in self.words if w not in _WHOLE_MODIFIERS]
        if self.pronoun in ("it", "this", "that", "everything"):
            return True
        if self.qualifier or self.possessor:
            return False  # "the picture above the bed", "the child's drawing": an object in the picture
        if not core:
            return not self.attribute
        if core[-1] not in lx.WHOLE_IMAGE_NOUNS or core[-1] in ("all", "thing") and len(core) > 1:
            return False
        return all(w in lx.WHOLE_IMAGE_NOUNS or w in lx.DESCRIPTIVE or w in lx.SEASON_TIME_WEATHER
                   or w in lx.ATTRIBUTE_WORDS for w in core[:-1])


def noun_phrase(text: str, places: bool = True) -> NounPhrase:
    """The leading noun phrase of `text`, reduced to the subject convention. `places=False` leaves a place after
    the noun in `rest` ("put the vase on the table": where it goes, not which vase)."""
    text = text.strip(" ,.;:")
    m = _ATTR_OF.match(text)
    if m:  # "the colour of the car": the car, flagged as an attribute
        inner = noun_phrase(m.group("owner"), places)
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
    np_ = _finish_np(np_, words)
    if np_.definite and np_.words and not np_.attribute:
        qualifier, i = _read_qualifier(tokens, i, np_.words, places)
        np_.qualifier = qualifier
    np_.rest = " ".join(tokens[i:])
    return np_


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


_POSE_PARTICLES = frozenset("up out over down around together".split())
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
            if len(words) > 1 and words[-1] == "full" and nxt not in lx.DETERMINERS:
                words.append(t)  # "the wheelbarrow full of leaves": what fills it says which one it is
            elif words and words[-1] in lx.PORTIONS:  # "cup of coffee": a portion keeps its contents
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
        elif not words and t in _OPINION_ADJECTIVES and nxt and nxt not in (",", ";", ":") and nxt not in lx.PREPOSITIONS \
                and nxt not in lx.NP_STOPWORDS:
            i += 1  # "that ugly fire extinguisher": an opinion names no part of the object, only how it is felt
        elif t in _PREPOSITION_INTENSIFIERS and words and (nxt in lx.PREPOSITIONS or nxt in ("next", "close", "left", "right")):
            break  # "a cat right next to the dog": "right" strengthens "next to"
        elif t in ("left", "right") and words and nxt == "of":
            break  # "a lamp left of the sofa"
        elif _adjective_preposition(t, nxt):
            words.append(t)
            i += 1
        elif words and _relative_clause_end(tokens, i) > i:
            break  # "the sneakers the runner is wearing": a relative clause without "that" starts here
        elif _compound_head(t, nxt, words) or _participle_adjective(t, nxt, words):
            words.append(t)  # "the umbrella stand", "the drum set"; "the third parked car"
            i += 1
        elif _ends_phrase(t, words) or _trailing_participle(t, nxt, words) or (
                words and t in _OPINION_VERBS and nxt != "of"):  # "the vase of daisies feels dated"
            break
        elif words and t.endswith("ing") and len(t) > 4 and t not in lx.NOUN_ING:
            if not _modifier_gerund(t, nxt, words):
                if len(words) > 1 and words[-1] in lx.GERUND_COMPOUND_NOUNS and not _is_modifier(words[-2]):
                    words.pop()  # "a person ice skating" -> "person"; but "the red kite flying": "kite" is the head
                break
            words.append(t)  # "dining table"
            i += 1
        elif words and t.endswith("ly") and t not in _NOT_ADVERB_LY:
            break
        elif words and t.endswith("ed") and nxt in _POSE_PARTICLES:
            break  # "a cat curled up on the rug", "a dog stretched out": a participle with its particle
        else:
            words.append(t)
            i += 1
    return words, i


# adjectives that only judge a thing ("that ugly fire extinguisher", "the random guy"): no mark of which one it is
_OPINION_ADJECTIVES = frozenset("ugly awful hideous horrible terrible annoying stupid weird random boring dumb nasty "
                                "gross irritating unsightly ghastly dreadful pointless useless tacky lame".split())
# verbs of an opinion about a thing ("the walls feel cold"); "the feel of the fabric" is a noun
_OPINION_VERBS = frozenset("feel feels felt".split())
# Words that are prepositions but also adjectives before a noun ("a round mirror", "the glass round vase").
_SETTING_WORDS = frozenset("background backgrounds backdrop backdrops setting settings scenery surroundings "
                           "surrounding environment environments".split())
_ADJECTIVE_PREPOSITIONS = frozenset("round inside outside opposite upper".split())
# Words that only strengthen a preposition after them ("right next to", "just behind"): never part of a phrase.
_PREPOSITION_INTENSIFIERS = frozenset("right just directly immediately straight slightly far".split())
ORDINALS = frozenset(
    "first second third fourth fifth sixth seventh eighth ninth tenth last next-to-last second-to-last "
    "leftmost rightmost topmost bottommost front-most frontmost rearmost middle".split()
)
POSITION_WORDS = frozenset(
    "left right top bottom middle center centre front back foreground background corner edge end side "
    "left-hand right-hand far near".split()
)
_POSITION_PREPOSITIONS = frozenset("on at in to towards toward".split())
_POSITION_TAILS = frozenset("side corner edge end hand half part".split())


def _adjective_preposition(t: str, nxt: str) -> bool:
    """ "round" before a noun is an adjective; before a determiner ("round the corner") a preposition."""
    return t in _ADJECTIVE_PREPOSITIONS and bool(nxt) and nxt not in lx.DETERMINERS and \
        nxt not in lx.PREPOSITIONS and nxt not in lx.NP_STOPWORDS and nxt not in lx.PRONOUNS \
        and nxt not in (",", ";", ":", "->") and not nxt.isdigit()


def _read_position(tokens: list[str], i: int) -> int:
    """End index of a position phrase at `i` ("on the far left", "in the top right corner"), else `i`."""
    n = len(tokens)
    if i + 2 >= n + 0 or tokens[i] not in _POSITION_PREPOSITIONS | {"from"} or tokens[i + 1] != "the":
        return i
    j = i + 2
    seen_position = False
    while j < n and (tokens[j] in POSITION_WORDS or (seen_position and tokens[j] in _POSITION_TAILS)):
        seen_position = True
        j += 1
    # ("give the chair in the corner a velvet look": an article after the position starts the next phrase)
    if not seen_position or (j < n and tokens[j] not in lx.PREPOSITIONS and tokens[j] not in (",", ";", ":", "of")
                             and not (tokens[j] in ("a", "an") and j + 1 < n)
                             and tokens[j] not in lx.NP_STOPWORDS and tokens[j] not in lx.CLAUSE_VERBS
                             and tokens[j] not in lx.EXPRESSION_VERBS and not _only_attributes(tokens[j:])):
        return i  # "on the left bank": a noun phrase, not a position ("on the left red" ends in a result)
    if j + 1 < n and tokens[j] == "of":
        k = _skip_determiners(tokens, j + 1)
        if k > j + 1:
            end = _phrase_end(tokens, k)
            if end > k:
                return end
    return j


def _only_attributes(tokens: list[str]) -> bool:
    """ "pastel pink", "dark-green": nothing but colour, material or texture words (a result, never a noun)."""
    return bool(tokens) and all(w in lx.ATTRIBUTE_WORDS or w in lx.COLOURS or
                                all(part in lx.ATTRIBUTE_WORDS for part in w.split("-")) for w in tokens)


def _phrase_end(tokens: list[str], k: int) -> int:
    """Where the phrase from `k` ends; a determiner starts the next phrase ("the sofa a lamp")."""
    _, end = _read_words(tokens, k)
    return next((m for m in range(k + 1, end) if tokens[m] in lx.DETERMINERS), end)


def _read_qualifier(tokens: list[str], i: int, words: list[str], places: bool = True) -> tuple[str, int]:
    """What identifies an existing object after its head: a position ("on the left", "in the top corner"),
    an ordinal's reference ("second lamp from the left"), a "with" phrase ("with the cartoon print") or, with
    `places`, where it is ("on the bookshelf", "sitting on the fence")."""
    n = len(tokens)
    if i >= n:
        return "", i
    t = tokens[i]
    if t == "from" and not any(w in ORDINALS for w in words):
        return "", i  # "remove the cup from the left shelf": where it is taken from
    end = _read_position(tokens, i)
    if end > i:
        return " ".join(tokens[i:end]), end
    end = _relative_clause_end(tokens, i)
    if end > i:
        end = _then_place(tokens, end, places, after_verb=True)
        return " ".join(tokens[i:end]), end
    end = _read_owner_of(tokens, i, words)
    if end > i:
        end = _then_place(tokens, end, places)
        return " ".join(tokens[i:end]), end
    # a place identifies an object ("the sky behind the castle", "the leaves on the tree"), never the one setting
    end = _read_locative(tokens, i) if places and words[-1] not in _SETTING_WORDS else i
    if end > i:
        if tokens[end - 1] not in lx.PREPOSITIONS and tokens[i] not in _LOCATIVES:
            end = _then_place(tokens, end, places)  # "the scarf worn by the woman on the right"
        return " ".join(tokens[i:end]), end
    if t == "with" and i + 1 < n and tokens[i + 1] in ("the", "a", "an", "its", "his", "her", "their"):
        inner, end = _read_words(tokens, i + 2)
        # "with the floral print": a definite with-phrase names what the object already has, so it identifies
        # the object even when it names only an attribute ("paint the mug with a floral print" gives it one)
        has_it = tokens[i + 1] != "a" and tokens[i + 1] != "an" and "same" not in inner and \
            inner[-1:] != [] and inner[-1] not in _WHOLE_PICTURE_ATTRIBUTES
        if inner and (_names_a_part(inner[-1]) or has_it or
                      not all(w in lx.ATTRIBUTE_WORDS or w in lx.ATTRIBUTE_NOUNS for w in inner)):
            return " ".join(tokens[i:end]), end
    return "", i


def _then_place(tokens: list[str], end: int, places: bool, after_verb: bool = False) -> int:
    """ "the dog the girl is holding [on a leash]", "the smallest of the pumpkins [on the porch]", "the scarf worn by the
    woman [on the right]": a position or place after a relative clause, an owner or a participle's agent still says
    which one it is; after a relative clause's own verb an indefinite place belongs to that verb ("on a leash")."""
    if end < len(tokens) and tokens[end - 1] in lx.PREPOSITIONS and tokens[end - 1] not in _PAST_VERBS:
        return end  # the clause ended in its own preposition ("the chair the cat sleeps on")
    pos = _read_position(tokens, end)
    if pos > end:
        return pos
    if not places:
        return end
    loc = _read_locative(tokens, end)
    if loc > end:
        return loc
    if after_verb and end + 2 < len(tokens) and tokens[end] in _LOCATIVES and \
            tokens[end + 1] in _LOCATIVE_DETERMINERS | {"a", "an"}:
        # "... is holding on a leash", "... left on the sand": the verb's own place, a material ground included
        inner, stop = _read_words(tokens, end + 2)
        # ("in a deep blue" is a result; "on the sand" a place, though "sand" names a colour too)
        if inner and not (tokens[end + 1] in ("a", "an") and any(w in lx.COLOURS for w in inner)) and inner[-1] not in lx.WHOLE_IMAGE_NOUNS and \
                inner[-1] not in lx.STYLE_WORDS and inner[-1] not in POSITION_WORDS and \
                not any(w in lx.DETERMINERS for w in inner):
            return stop
    return end


# Prepositions that say where an object already is ("the vase on the shelf"); "from", "off", "out of" say where
# it is taken from and "to", "into", "onto" where it goes, so they never identify it.
_LOCATIVES = frozenset("on in at inside above below under underneath beneath behind near by beside against over around "
                       "along across among atop".split())
_LOCATIVE_PAIRS = {("next", "to"), ("in", "front"), ("on", "top"), ("close", "to")}
# participles of a move or change: "to" after them says where it goes or what it becomes, not where it is
_MOVED_PARTICIPLES = frozenset("moved shifted brought sent added changed turned converted transformed dragged "
                               "relocated taken carried pushed pulled thrown set placed put".split())
_LOCATIVE_DETERMINERS = frozenset("the this that these those his her its their my your our".split())
_ACTED_ON_DETERMINERS = frozenset("the this that these those a an".split())


def _read_locative(tokens: list[str], i: int) -> int:
    """End index of a phrase that says where an existing object is, so which one it is: "on the bookshelf",
    "above the bed", "sitting on the fence", "parked by the curb"; else `i`. The place is a definite object
    ("in watercolour", "in a deep purple", "in the style of X" are results, not places)."""
    n = len(tokens)
    j = i
    acting = False
    if j < n and tokens[j] not in lx.NOUN_ING and (
            (tokens[j].endswith("ing") and len(tokens[j]) > 4) or tokens[j] in lx.PAST_PARTICIPLES
            or _ed_participle(tokens[j])):
        # a participle before the place ("the cat sitting on the fence") or its object ("the horse pulling the
        # cart"); not one that says how the edit is done ("keeping its shape", "leaving the rest")
        acting = tokens[j].endswith("ing") and tokens[j] not in lx.NP_STOPWORDS
        j += 1
    if j + 1 >= n:
        return i
    if j > i:
        end = _read_position(tokens, j)
        if end > j:
            return end  # "the taxi waiting at the corner", "the man standing on the far left"
    if acting and tokens[j] in _ACTED_ON_DETERMINERS:
        pass  # "pulling the cart", "wearing a red hat": what it acts on identifies it like a place
    elif (tokens[j], tokens[j + 1]) in _LOCATIVE_PAIRS:
        j += 2
        if j < n and tokens[j] == "of":
            j += 1
    elif tokens[j] in _LOCATIVES:
        j += 1
    elif j > i and tokens[j] == "to" and tokens[j - 1] not in _MOVED_PARTICIPLES:
        j += 1  # "chained to the lamppost", "taped to the fridge": what it is fixed to says where it is
    else:
        return i
    if j >= n or tokens[j] not in _LOCATIVE_DETERMINERS | _ACTED_ON_DETERMINERS:
        return i
    k = _skip_determiners(tokens, j)
    end = _phrase_end(tokens, k)
    end = next((m for m in range(k, end) if tokens[m] in (",", ";", ":")), end)
    while end - 1 > k:  # "the cushions on the sofa red", "... by the fireplace jet-black": the result follows
        if _only_attributes(tokens[end - 1:end]):
            end -= 1
        elif tokens[end - 1] in lx.ATTRIBUTE_NOUNS and _names_a_thing(tokens[end - 2]):
            end -= 1  # "the lamp on the nightstand glow warmer": the place ends before the verb of the change
        else:
            break
    if end <= k:
        return i
    head = tokens[end - 1]
    if head in lx.WHOLE_IMAGE_NOUNS or head in lx.ATTRIBUTE_NOUNS or head in lx.ATTRIBUTE_WORDS or \
            head in lx.STYLE_WORDS or head in POSITION_WORDS:
        return i  # "in the picture", "in the same colour", "in the style of ...": no place
    return end


_SUBJECT_PRONOUNS = frozenset("i you he she we they".split())
_SOMEONE = frozenset("someone somebody".split())
_RELATIVE_DETERMINERS = frozenset("the this that these those my your his their our".split())
_AUXILIARY_BE = frozenset("is are was were".split())
_AUXILIARY_HAVE = frozenset("has have had".split())
# past forms of the verbs that say whose or which a thing is ("the hat she wore", "the kite he flew")
_PAST_VERBS = frozenset("wore held carried rode drove owned used built made bought brought painted drew flew threw "
                        "kicked pushed pulled read ate picked chose left put placed hung set".split())


def _relative_clause_end(tokens: list[str], i: int) -> int:
    """End index of a relative clause without "that" at `i`, which identifies the noun before it ("the
    sneakers [the runner is wearing]", "the hat [she wore]", "the kite [the boy holds]"), else `i`: its own
    subject (a definite phrase or a pronoun), then a verb (be + participle, have + participle, or a finite verb)."""
    n = len(tokens)
    if i >= n:
        return i
    if tokens[i] in ("that", "which", "whom") and i + 2 < n and (
            tokens[i + 1] in _RELATIVE_DETERMINERS or tokens[i + 1] in _SUBJECT_PRONOUNS | _SOMEONE):
        end = _relative_clause_end(tokens, i + 1)  # "the bucket that the child left", "the towel that someone left"
        return end if end > i + 1 else i
    if tokens[i] in _RELATIVE_PRONOUNS and i + 1 < n and tokens[i + 1] not in lx.DETERMINERS:
        return _subject_relative_end(tokens, i + 1, i)
    if tokens[i] in ("that's", "who's") and i + 1 < n:
        return _subject_relative_end(tokens, i + 1, i, be=True)
    if tokens[i] in _SUBJECT_PRONOUNS | _SOMEONE:
        j, plural = i + 1, tokens[i] not in ("he", "she") and tokens[i] not in _SOMEONE
    elif tokens[i] in _RELATIVE_DETERMINERS:
        k = _skip_determiners(tokens, i)
        inner, j = _read_words(tokens, k)
        if not inner or any(w in lx.DETERMINERS for w in inner):
            return i
        plural = inner[-1].endswith("s") and not inner[-1].endswith("ss")
    else:
        return i
    if j + 1 < n and tokens[j] in _AUXILIARY_BE | _AUXILIARY_HAVE and _participle(tokens[j + 1]):
        return _stranded_preposition(tokens, j + 2)
    if j + 1 < n and tokens[j] in _AUXILIARY_HAVE and tokens[j + 1] == "on":
        return j + 2  # "the scarf the girl has on"
    if j < n and (_finite_verb(tokens[j]) or (plural and tokens[j] in lx.ACTION_VERBS and
                                              not tokens[j].endswith("s"))):
        return _stranded_preposition(tokens, j + 1)  # "the bike they ride"
    return i


def _stranded_preposition(tokens: list[str], end: int) -> int:
    """ "the teapot the girl is pouring from", "the chair the cat sleeps on": a preposition with no object of its
    own ends the relative clause and belongs to it."""
    if end < len(tokens) and tokens[end] in lx.PREPOSITIONS and (
            end + 1 == len(tokens) or tokens[end + 1] in lx.PREPOSITIONS or tokens[end + 1] in (",", ";", ":")
            or _only_attributes(tokens[end + 1:])):
        return end + 1
    return end


_RELATIVE_PRONOUNS = frozenset("who that which".split())


def _subject_relative_end(tokens: list[str], j: int, i: int, be: bool = False) -> int:
    """End index of "who is holding the flag", "that is parked by the gate", "which sits on the saucer", "that is
    on the table" (from after the pronoun at `j`; `be`: the pronoun carried "is", "that's"): a verb, then what it
    acts on or where; else `i`."""
    n = len(tokens)
    if j < n and tokens[j] in _AUXILIARY_BE and not be:
        j, be = j + 1, True
    if be and j < n and tokens[j] in _LOCATIVES | {"next", "in", "close", "on"}:
        end = _read_locative(tokens, j)  # "that is on the table"
        return end if end > j else i
    if j >= n or not (_participle(tokens[j]) or _finite_verb(tokens[j])):
        return i
    end = _read_locative(tokens, j) if _participle(tokens[j]) and tokens[j].endswith("ing") or \
        tokens[j] in lx.PAST_PARTICIPLES else j
    if end == j:
        end = _read_locative(tokens, j + 1)  # "which sits on the saucer", "that is parked by the gate"
    if end == j + 1 and j + 1 < n and tokens[j + 1] in _ACTED_ON_DETERMINERS:
        end = _phrase_end(tokens, _skip_determiners(tokens, j + 1))  # "who holds the flag"
    return max(end, j + 1)


def _participle(word: str) -> bool:
    return (word.endswith("ing") and len(word) > 4 and word not in lx.NOUN_ING) or word in lx.PAST_PARTICIPLES \
        or word in _PAST_VERBS


def _finite_verb(word: str) -> bool:
    """ "wears", "holds", "carries", "wore": an action verb in the present third person or the past."""
    if word in _PAST_VERBS:
        return True
    if not word.endswith("s") or word in lx.NP_STOPWORDS:
        return False
    return word in lx.ACTION_VERBS or word in lx.BARE_VERBS


def _read_owner_of(tokens: list[str], i: int, words: list[str]) -> int:
    """End index of "of the cabin" after a part ("the roof of the cabin"): the owner says which roof, as in "the
    cabin's roof"; else `i`. Not after a position, an attribute or the picture ("the middle of", "the colour of")."""
    n = len(tokens)
    if i + 2 >= n or tokens[i] != "of" or tokens[i + 1] not in _LOCATIVE_DETERMINERS or not _names_a_thing(words[-1]) \
            or words[-1] in POSITION_WORDS or words[-1] in lx.WHOLE_IMAGE_NOUNS or words[-1] in _SETTING_WORDS \
            or words[-1] in lx.PORTIONS or words[-1] in lx.COLLECTIVES:
        return i
    k = _skip_determiners(tokens, i + 1)
    end = _phrase_end(tokens, k)
    while end - 1 > k and _only_attributes(tokens[end - 1:end]):
        end -= 1  # "the roof of the cabin red": the result follows
    if end <= k or not _names_a_thing(tokens[end - 1]) or tokens[end - 1] in lx.WHOLE_IMAGE_NOUNS:
        return i
    return end


def _names_a_thing(word: str) -> bool:
    """A word that can end a noun phrase: none of the adjective, attribute or style words."""
    return not (word in lx.ATTRIBUTE_WORDS or word in lx.DESCRIPTIVE or word in _WHOLE_MODIFIERS or
                word in lx.ATTRIBUTE_NOUNS or word in lx.STYLE_WORDS or word in lx.DETERMINERS)


def _names_a_part(head: str) -> bool:
    """ "stripes", "spots", "tiles": a plural head names visible parts of the object (the attribute lists hold
    these nouns beside the adjectives "striped", "spotted"); "colours", "textures" name attributes."""
    return head.endswith("s") and not head.endswith(("ss", "us", "ous")) and head not in lx.ATTRIBUTE_NOUNS


def skip_leading_place(text: str) -> str:
    """ "on the left of the sofa, a lamp" -> "a lamp": a place phrase in front of a new object is dropped."""
    tokens = _TOKEN.findall(text)
    while tokens and tokens[0] in (",", ";", ":"):
        tokens = tokens[1:]
    if not tokens or (tokens[0] not in lx.PREPOSITIONS and tokens[0] not in ("next", "left", "right")):
        return text
    i = _read_position(tokens, 0)
    if i == 0:
        j = 1
        while j < len(tokens) and tokens[j] in ("to", "of", "hand", "side"):
            j += 1
        k = _skip_determiners(tokens, j)
        if k == j and tokens[0] not in ("left", "right"):
            return text
        i = _phrase_end(tokens, k)
        if i < len(tokens) and tokens[i] == "of":
            i = _phrase_end(tokens, _skip_determiners(tokens, i + 1))
    while i < len(tokens) and tokens[i] in (",", ";", ":"):
        i += 1
    if i < len(tokens) and (tokens[i] in lx.INDEFINITE_STARTS or tokens[i].isdigit()):
        return " ".join(tokens[i:])
    return text


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


def _is_modifier(word: str) -> bool:
    """An adjective-like word (colour, material, size, age): a noun after it is the phrase's head, never the
    first half of an activity ("kite flying")."""
    return word in lx.ATTRIBUTE_WORDS or word in lx.DESCRIPTIVE or word in lx.DETERMINERS or word in ORDINALS


def _modifier_gerund(t: str, nxt: str, words: list[str]) -> bool:
    """ "dining table", "fishing boat": an -ing word that modifies the noun after it. A listed one does; so does
    any -ing word that only adjectives precede ("the green watering can"): with no noun before it, it cannot be a
    participle trailing a noun ("the dog sleeping on the sofa")."""
    if not nxt or nxt in lx.DETERMINERS or nxt in lx.PREPOSITIONS or nxt in (",", ";", "and") \
            or nxt.endswith("ing") or nxt.endswith("ly") or nxt in lx.NP_STOPWORDS:
        return False
    return t in lx.MODIFIER_ING or all(w in lx.ATTRIBUTE_WORDS or w in lx.DESCRIPTIVE for w in _after_possessor(words))


def _after_possessor(words: list[str]) -> list[str]:
    """The words after the last possessor ("grandmother's knitting basket": none): an owner starts a new phrase,
    so a word after it reads as at a phrase's start."""
    k = max((m for m, w in enumerate(words) if w.endswith(("'s", "s'"))), default=-1)
    return words[k + 1:]


# Nouns that are also bare verbs: after a thing they head a compound ("umbrella stand", "ski run", "pool float",
# "energy drinks", "drum set"); after a person or animal they are its verb ("make the dog stand").
_COMPOUND_HEADS = frozenset("stand stands run ride rides walk float floats fly perch drink drinks wear hold set".split())
# what follows a verb, never a compound's head: "stand up", "walk away", "hold still"
_VERB_PARTICLES = frozenset("up down out over away around back still tall upright straight together off".split())
_SET_FOR = frozenset("for up aside apart out down off".split())
# things that come as a set ("a tea set on the tray"): "set" after them is the noun even before a place
_SET_OF = frozenset("tea chess drum train swing tool tv dinner dining paint lego play box golf bedroom patio "
                    "garden cutlery crockery coffee jewelry jewellery".split())
_ANIMATE_CATEGORIES = frozenset("animal person".split())
_ANIMATE_SHAPES = frozenset("person bird small quadruped large quadruped".split())
# compounds whose last word names an animal but which are things ("hot dog stand")
_THING_COMPOUNDS = frozenset({("hot", "dog"), ("hot", "dogs"), ("corn", "dog"), ("corn", "dogs")})


def _animate(word: str) -> bool:
    """A person or an animal (what stands, runs or flies itself)."""
    stem = word[:-1] if word.endswith("s") and not word.endswith("ss") else word
    return any(lx.CATEGORY_OF.get(w) in _ANIMATE_CATEGORIES or lx.SHAPE_OF.get(w) in _ANIMATE_SHAPES or
               w in lx.FIGURES for w in (word, stem))


def _compound_head(t: str, nxt: str, words: list[str]) -> bool:
    """ "the umbrella stand", "a lemonade stand should ...", "the drum set": a noun-verb after a thing (not an
    adjective, an owner or a person or animal) is the compound's head, unless a verb's particle follows."""
    if t not in _COMPOUND_HEADS or not words or nxt in _VERB_PARTICLES:
        return False
    last = words[-1]
    if last.endswith(("'s", "s'")) or last in lx.DETERMINERS or last in ("and", "or", "of"):
        return False
    if t == "set" and (nxt in _SET_FOR or nxt in lx.DETERMINERS or nxt in _LOCATIVES and last not in _SET_OF):
        return False  # "the table set for dinner", "a vase set on the shelf": a participle; "a tea set in the corner"
    if all(_is_modifier(w) for w in words):
        return True  # "the soft drinks", "the tall stand": with no noun before it, nothing can do the verb
    return tuple(words[-2:]) in _THING_COMPOUNDS or not _animate(last)


def _participle_adjective(t: str, nxt: str, words: list[str]) -> bool:
    """ "the third parked car", "the old abandoned truck": a participle after nothing but modifiers and before a
    noun describes that noun (after a noun, "the car parked by the gate", it starts a qualifier)."""
    if not words or not (t in lx.PAST_PARTICIPLES or _ed_participle(t)) or not _names_a_noun_start(nxt):
        return False
    return all(_is_modifier(w) for w in _after_possessor(words))


def _names_a_noun_start(word: str) -> bool:
    return bool(word) and word.isalpha() and word not in lx.PREPOSITIONS and word not in lx.NP_STOPWORDS and \
        word not in lx.DETERMINERS and word not in lx.CLAUSE_VERBS and word not in lx.PRONOUNS and \
        word not in _VERB_PARTICLES and not word.endswith("ly")


# -ed nouns a participle test must not take for verbs
_ED_NOUNS = frozenset("bed beds shed sled sleds red bobsled tweed steed".split())


def _ed_participle(word: str) -> bool:
    """ "chained", "taped", "nailed": a regular past participle the lexicon does not list."""
    return len(word) > 4 and word.endswith("ed") and not word.endswith(("eed", "bed", "shed", "sled")) and \
        word not in _ED_NOUNS and word.isalpha()


def _trailing_participle(t: str, nxt: str, words: list[str]) -> bool:
    """ "the rusty bicycle chained to the lamppost": an unlisted -ed participle after a noun, before a preposition,
    ends the phrase (where it is follows)."""
    return bool(words) and _ed_participle(t) and not _is_modifier(words[-1]) and nxt in lx.PREPOSITIONS


def _finish_np(np_: NounPhrase, words: list[str]) -> NounPhrase:
    original_words = list(words)
    # possessor: the owner of what is named ("the man's clothes"); kept unless it names the picture
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
    elif words and possessor and _names_an_owner(possessor):
        # "the girl's scarf": the owner says which scarf, so the mask needs it
        np_.possessor = " ".join(w for w in possessor if w not in lx.DETERMINERS)
        words = possessor + words
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


_CONTRACTIONS = frozenset("it's that's there's here's what's who's he's she's let's one's".split())


def _names_an_owner(possessor: list[str]) -> bool:
    """ "the old man's", "the kids'": an object or person owns the noun; not the picture ("the photo's
    colours") nor a contraction ("it's")."""
    last = possessor[-1]
    owner = last[:-2] if last.endswith("'s") else last[:-1]
    return last not in _CONTRACTIONS and owner not in lx.WHOLE_IMAGE_NOUNS and owner not in lx.PRONOUNS and \
        owner not in ("everyone", "everybody", "someone", "somebody")


def _subject_of(np_: NounPhrase) -> str:
    if np_.phrase:
        return f"{np_.phrase} {np_.qualifier}" if np_.qualifier else np_.phrase
    return lx.PRONOUNS.get(np_.pronoun, "object")
