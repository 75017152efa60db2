"""The clause patterns (regular expressions) the reader matches, built from the lexicon's word lists."""
from __future__ import annotations

import re

from polaris_core.parse import lexicon as lx
from polaris_core.parse.normalise import _alternation


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
# "ditch the lamp and go with a candle": removal then a choice of the new object
_RE_REMOVE_AND_CHOOSE = re.compile(
    rf"^(?:{_REMOVE_VERB})\s+(?P<x>.+?)\s*(?:,|\band\b|\bthen\b|\s)+\s*(?:then\s+)?(?:go with|go for|opt for|use|"
    r"(?:give|get|bring|show|find) (?:me|us)|get|pick|choose|take|swap in|bring in)\s+(?P<y>(?:a|an|some|one)\s.+)$"
)
_TAKE_PLACE_VERB = r"(?:take|takes|taking|took|occupy|occupies|fill|fills|assume|assumes)"
_RE_TAKE_PLACE = re.compile(
    r"^(?:(?:let|have|make|get)\s+)?(?P<y>.+?)\s+(?:" + _TAKE_PLACE_VERB + r"\s+"
    r"(?:the\s+)?(?:place|spot|position)\s+of|(?:take|takes|taking)\s+over\s+from)\s+"
    r"(?P<x>.+)$|^(?:let|have|make|get)\s+(?P<y2>(?:a|an|some)\s.+?)\s+(?:replace|substitute for|stand in for)\s+"
    r"(?P<x2>.+)$|"
    # the owner's form: "have a giraffe take the zebra's place", "a giraffe should take the zebra's spot"
    r"^(?:(?:let|have|make|get)\s+)?(?P<y3>.+?)\s+(?:(?:should|must|will|would|could|can|to)\s+)?"
    + _TAKE_PLACE_VERB + r"\s+(?P<x3>.+?)(?:'s|s')\s+(?:place|spot|position)\b.*$"
)
# "the kettle is gone and a teapot is there now": one object out, another in its place
# the second clause names what is there now, however it is ordered: "a teapot is there (now)", "there is a
# teapot now", "in its place is a teapot", "now a teapot sits there"
_IN_ITS_PLACE = r"(?:there|in (?:its|their) place|in (?:its|their) spot|instead|where (?:it|they) (?:was|were|stood))"
_RE_GONE_AND_THERE = re.compile(
    r"^(?P<x>.+?)\s+(?:is|are|has|have)\s+(?:gone|vanished|disappeared|no longer there)\s*[,;]?\s*"
    r"(?:(?:and|but)\s+)?(?:now\s*,?\s+)?"
    r"(?:(?P<y>(?:a|an|some)\s.+?)\s+(?:is|are|sits|stands|appears|rests|lies)\s+(?:now\s+)?" + _IN_ITS_PLACE
    + r"\b.*|(?:there\s+(?:is|are)|" + r"in (?:its|their) (?:place|spot),?(?:\s+there)?\s+(?:is|are|sits|stands))"
    r"\s+(?P<y2>(?:a|an|some)\s.+?)(?:\s+(?:now|" + _IN_ITS_PLACE + r"))*)$"
)
_RE_INSTEAD = re.compile(
    r"^(?P<y>.+?)\s+(?:instead of|in place of|rather than|in lieu of)\s+(?P<x>.+)$|"
    r"^(?:(?:i|we)(?:'d| would)\s+)?rather\s+(?:have|see|use|get|show)\s+(?P<y2>.+?)\s+than\s+(?P<x2>.+)$"
)
_RE_INSTEAD_FIRST = re.compile(
    r"^(?:instead of|rather than|in place of|in lieu of)\s+(?P<x>.+?)\s*,\s*(?P<y>.+)$|"
    r"^where\s+(?P<x2>.+?)\s+(?:is|was|are|were|used to be|stands|stood|sits|sat|lies|lay)\b[^,]*,\s*(?P<y2>.+)$"
)
_RE_WHERE = re.compile(  # "a kite sits where the lamp was": the pose verb is not part of the new object
    r"^(?P<y>.+?)(?:\s+(?:sits|stands|lies|rests|goes|appears|is))?\s+where\s+(?P<x>.+?)\s+(?:is|was|are|were|used to be|stands|stood|sits|sat|lies|lay|"
    r"currently is|is standing|was standing|is sitting|was sitting|is now|now is)\b.*$"
)
_LEAD_ADD = re.compile(
    rf"^(?:(?:{_ADD_VERB}|use|have|there should be|there's|there is|there must be|let there be|"
    r"we need|i want|i'd like|i need|i would like|i'd love|i would love|give me|show me|see|pop|get|find|bring|"
    r"how about|what about|"
    # a preference names the new object too: "i'd rather have a parrot where the pigeon is"
    r"(?:i|we)(?:'d| would)?\s+(?:rather|prefer(?:\s+to)?|sooner))\s+)+"
)
_RE_REPLACE = re.compile(rf"^(?P<verb>{_REPLACE_VERB})\b\s*(?P<in>in\s+)?(?P<rest>.*)$")
# "switch the book (out) for a robot": "switch" replaces only with a for/with/in-favour-of object ("switch X to Y"
# is the transform frame's, "switch the lamp off" the on/off frame's)
_RE_SWITCH_FOR = re.compile(
    r"^(?P<verb>switch)\s+(?P<in>)(?P<rest>.+?\s+(?:out\s+)?(?:for|with|in favou?r of)\s+.+)$"
)
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
_RE_MAKE = re.compile(r"^(?P<verb>make|let|have|get|keep|leave|render|set|turn|paint|repaint|re-paint|color|colour|"
                      r"dye|tint|recolor|recolour|spray|spray-paint|stain|bleach)\s+(?P<rest>.+)$")
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
    r"erased|eliminated|taken out|cut out|wiped out|taken away|taken off|cleared away|cleared off|carried away|"
    r"thrown away|thrown out)|"
    # "the bin needs erasing": a removal said with the gerund
    r"(?:needs?|wants?)\s+(?:erasing|removing|deleting|eliminating|taking out|cutting out|wiping out|"
    r"airbrushing out|editing out))\b(?P<rest>.*)$"
)
# "a kettle should be added on the sill", "a puppy is to be placed left of the chair": a new object, passive
_RE_SUBJECT_ADDED = re.compile(
    rf"^(?P<x>.+?)\s+(?:{_MODAL}|is to|are to|is|are)\s+(?:be\s+|get\s+|being\s+)?(?:added|placed|put|"
    r"inserted|included|introduced|drawn|painted in|positioned|dropped in|brought in|slipped in)\b(?P<rest>.*)$"
)
_RE_SUBJECT_REPLACED = re.compile(
    rf"^(?P<x>.+?)\s+(?:{_MODAL}\s+)?(?:be\s+|get\s+|being\s+)?(?P<verb>replaced|swapped|substituted|exchanged|"
    r"switched|traded|changed|turned|transformed|converted|morphed|made)\s+(?:out\s+)?(?:with|by|for|to|into|"
    r"in to)\s+(?P<y>.+)$"
)
_RE_SUBJECT_BECOME = re.compile(
    rf"^(?P<x>.+?)\s+(?:{_MODAL}\s+)(?P<verb>be|become|turn into|end up(?: as| being| looking)?|come out|turn out|"
    r"turn|look like|look|appear|seem|resemble|feel like|feel|"
    r"get|have|wear|hold|carry)\s+(?P<y>.+)$"
)
_RE_NOT_CONTAIN = re.compile(
    r"^(?:.+?)\s+(?:(?:should|must|may|can|shall|will|does|do)(?:\s+not|n't)\s+(?:contain|have|show|include|"
    r"feature|display|depict)|(?:should|must|shall|will|to|ought to|needs? to|has to)\s+(?:contain|have|show|include|"
    r"feature|display|depict)\s+no(?:\s+more)?)\s+(?P<x>.+)$"
)
# "the picture would look better without the van": what it is better without goes
_RE_BETTER_WITHOUT = re.compile(
    r"^(?P<x>.+?)\s+(?:(?:would|will|could|might|should|does|do)\s+)?(?:look|looks|be|is|are|seem|seems|feel|"
    r"feels)\s+(?:so\s+|much\s+|a lot\s+|far\s+|way\s+)?(?:better|nicer|cleaner|best|good|great|fine|perfect)\s+"
    r"(?:without|with no(?:\s+more)?)\s+(?P<y>.+?)(?:\s+in\s+(?:it|there|the (?:picture|photo|image|shot|frame)))?$"
)
# "pretend the kettle was never there": a wish that it never existed
_RE_NEVER_THERE = re.compile(
    r"^(?:(?:i|we)(?: really| just)? wish(?: that)?|if only|pretend(?: that)?|imagine(?: that| if)?|suppose)\s+"
    r"(?P<x>.+?)\s+(?:(?:was|were|had)\s+never\s+(?:been\s+)?(?:there|here|in the (?:picture|photo|image|shot))|"
    r"never existed)\b"
)
# "the photo should be free of pigeons", "keep the table clear of crumbs": the things named after "free of" go
_FREE_OF = r"(?:(?:completely|entirely|totally|fully|all)\s+)?(?:free|clear|devoid|rid|empty|clean)\s+of"
_RE_SHOULD_BE_FREE_OF = re.compile(
    rf"^(?P<x>.+?)\s+(?:{_MODAL}\s+)?(?:be|is|are|stay|stays|remain|remains|become|becomes|end up|look|looks)\s+"
    rf"{_FREE_OF}\s+(?P<y>.+)$"
)
_RE_FREE_OF = re.compile(rf"^(?P<x>.+?)\s+{_FREE_OF}\s+(?P<y>.+)$")
_RE_NOT_THERE = re.compile(
    r"^(?P<x>.+?)\s+(?:should|must|needs? to|has to|shall|may|can)(?:\s+not|n't|\s+no\s+longer)\s+(?:be\s+)?"
    r"(?:there|here|visible|present|seen|shown|in\b.*|exist|(?:appear|show up)(?:\s+(?:in|on|at)\b.*)?)$"
)
_RE_WHAT_IF = re.compile(
    r"^(?:what if|imagine(?: if)?|suppose|pretend|(?:i|we)(?: really| just)? wish(?: that)?|if only|"
    r"(?:i|we)(?:'d| would) (?:love|like) it if|it(?:'d| would) be (?:nice|great|cool|lovely|good) if|"
    r"wouldn't it be (?:nice|great|cool|lovely|good) if)\s+(?P<x>.+?)\s+(?P<verb>was|were|is|became|turned into|"
    r"had been|looked like|would be|could be|would look|could look|would become|had|wore|held|would have)"
    r"\s+(?P<y>.+)$"
)
# "in the final image the vase is blue", "end result: a blue vase": the outcome, described
_RE_OUTCOME = re.compile(
    r"^(?:in the (?:final|finished|edited|new|end) (?:image|picture|photo|version|result)|in the end|"
    r"(?:the )?(?:end |final )?result(?: should be| is| will be)?|afterwards|after the edit|when you're done|"
    r"when done|by the end)[\s,:-]+(?P<rest>.+)$"
)
_RE_OUTCOME_STATE = re.compile(r"^(?P<x>.+?)\s+(?:is|are|has become|have become)\s+(?:now\s+)?(?P<y>.+)$")
# "a lamp by the door would be nice": a wished-for new object
_RE_WOULD_BE_NICE = re.compile(
    r"^(?P<x>.+?)\s+(?:would|will|could|might)\s+(?:be|look)\s+(?:really\s+|so\s+|very\s+|pretty\s+|super\s+|"
    r"quite\s+|just\s+|absolutely\s+)?(?:nice|great|good|cool|lovely|perfect|fun|awesome|welcome|a nice touch|"
    r"a good idea|"
    # any word of praise that ends the clause: "a robin on the gate would be sweet", "... would be adorable"
    r"(?:an?\s+(?:[a-z]+\s+)?(?:touch|idea|addition|detail|bonus))|[a-z]+(?=\s*$))\b.*$"
)
_RE_DESIRE = re.compile(
    r"^(?:i|we)(?:'d| would| really| just| also| do| much| honestly| actually| definitely| personally| truly"
    r"| kind of| kinda| sort of| sorta| totally)*"
    r"\s+(?:want|need|wish for|like|love|prefer|require|desire|fancy|expect|rather have|rather see|sooner have)s?"
    r"\s+(?P<rest>.+)$"
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
    # ("a ghibli-style illustration" is a style named, no reference)
    r"\b(?<!-)(?:attached|uploaded|provided|given|supplied|sample|example|second|other|included|linked|"
    r"accompanying|style|target|exemplar)\s+(?:image|picture|photo|photograph|painting|artwork|pic|illustration|"
    r"drawing|example|art)\b|"
    r"\b(?:image|picture|photo|painting|artwork|example|one)\s+(?:that\s+)?(?:i|we)(?:'ve| have)?\s+"
    r"(?:provided|gave|given|sent|uploaded|attached|shared|showed|supplied|included|linked)\b|"
    # any picture the user says they supplied, by whatever name: "the attached sketch", "the uploaded
    # watercolor", "the drawing i just shared", "the print we sent over"
    r"\b(?:the|my|this|that|our)\s+(?:attached|uploaded|provided|supplied|shared|accompanying|enclosed|linked|"
    r"included)\s+(?:[a-z-]+\s+)?[a-z-]+\b|"
    r"\b(?:the|my|this|that|our)\s+(?:[a-z-]+\s+)?[a-z-]+\s+(?:that\s+)?(?:i|we)(?:'ve| have|'d| had)?\s+"
    r"(?:just\s+|also\s+|already\s+|recently\s+)?(?:provided|gave\s+you|sent|uploaded|attached|shared|showed\s+you|"
    r"supplied|included|linked|dropped|posted|pasted)\b|"
    # "i uploaded a poster from the 60s, can my picture get that same style?": a picture the user says they gave,
    # whose style a later phrase points back at
    r"\b(?:i|we)(?:'ve|\s+have)?\s+(?:just\s+|also\s+|already\s+)?(?:uploaded|attached|shared|sent|provided|posted|"
    r"included|dropped|pasted|added)\s+(?:over\s+|along\s+|in\s+|you\s+)?(?:a|an|the|this|that|my|our|one)\b(?=.*\b(?:same|that|its|their|"
    r"similar|matching)\s+(?:[a-z-]+\s+)?(?:style|look|aesthetic|vibe|feel|palette|colou?rs)\b|"
    # "i've uploaded a van gogh print, can you make my photo look like that one?"
    r".*\blook(?:s|ing)?\s+(?:just\s+|more\s+|exactly\s+)?like\s+(?:that|it|this)(?:\s+one|\s+image|\s+picture|\s+print)?"
    r"(?:\s*[?.!]|\s+(?:please|too)|$))"
)
_RE_THIS_STYLE = re.compile(
    r"\b(?:this|that|these|the given|the image's|the picture's|the photo's|this image's|this picture's|"
    r"this photo's|this painting's)\s+(?:style|look|aesthetic|palette|colou?r palette|vibe|feel|art style|"
    r"painting style|technique|colou?rs)\b(?!\s+(?:like|as|more|less))|(?<!'d )(?<!would )\blike this(?: one| image| picture| photo| painting)?\b|"
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
    r"(?<!out of )place|make|give|instead|style|without|should|want|like|need|let)\b"
)
# "the lamp out, a candle in", "out with the lamp, in with a candle", "out goes the lamp, in comes a candle": one
# object leaves and another enters the same clause
_RE_OUT_IN = re.compile(
    r"^(?:out\s+(?:with|goes|go)\s+(?P<x2>.+?)|(?P<x>.+?)\s+(?:goes\s+|go\s+)?out)\s*[,;:-]?\s*(?:and\s+|then\s+)?"
    r"(?:in\s+(?:with|comes|come)\s+(?P<y2>.+)|(?P<y>.+?)\s+(?:comes\s+|come\s+|goes\s+)?in)$"
)
# "not the lamp but a candle", "not the lamp, rather a candle": the object denied, then its replacement
_RE_NOT_BUT = re.compile(r"^not\s+(?P<x>.+?)\s*,?\s+(?:but|rather|instead)\s+(?:rather\s+|instead\s+)?(?P<y>.+)$")
# "give me a fox in the spot the bus occupies", "put a fox in the place where the bus is": Y into X's place
_RE_IN_SPOT_OF = re.compile(
    r"^(?P<pre>.+?)\s+(?:in|into|at|on)\s+the\s+(?:spot|place|position|space|location)\s+(?:where\s+|that\s+|which\s+)?"
    r"(?P<x>.+?)\s+(?:occupies|occupied|is|was|are|were|stands|stood|sits|sat|used to be|is in|was in)\b.*$|"
    # the owner's form: "put a fox in the bus's spot", "a giraffe in the zebra's place"
    r"^(?P<pre2>.+?)\s+(?:in|into|at|on)\s+(?P<x2>(?:the|this|that)\s.+?)(?:'s|s')\s+"
    r"(?:spot|place|position|space|location)\b.*$"
)
# "fill (in) the spot where the chair is with whatever is behind it": what occupied the filled place goes
_RE_FILLED_PLACE = re.compile(
    r"^(?:the\s+)?(?:spot|place|space|gap|area|region|hole|patch)\s+(?:where|that|which)\s+(?P<x>.+?)\s+"
    r"(?:is|was|are|were|stands|stood|sits|sat|occupies|occupied|used to be)$"
)
# "the bus becomes a spoon", "the bus turns into a spoon": present tense, no modal
_RE_SUBJECT_BECOMES = re.compile(
    r"^(?P<x>.+?)\s+(?:becomes|turns into|changes into|transforms into|morphs into|is turned into|is now)\s+(?P<y>.+)$"
)
# a verb, then a new (indefinite) object: what `_RE_INTO_PLACE` and `_RE_INTO_PICTURE` open with
_BRING_NEW = r"^(?P<verb>[a-z]+)\s+(?P<y>(?:a|an|some|two|three|four|a few|a couple of|several|another)\s.+?)\s+"
# "slip a little mouse under the table", "tuck a kitten behind the sofa": any verb that brings a new (indefinite)
# object to a place by a definite thing already there adds it
_RE_INTO_PLACE = re.compile(
    _BRING_NEW + r"(?P<where>(?:under|underneath|beneath|below|on|onto|on top of|over|above|beside|next to|behind|in front of|"
    r"near|by|into|inside|in|between|among|against|across|along|around|at)\s+"
    r"(?:the|this|that|my|our|your|his|her|its|their)\s.+)$"
)
# "sneak a fox into the picture", "slip two ducks into the scene on the left": any verb that moves a new object
# into the picture adds it
_RE_INTO_PICTURE = re.compile(
    _BRING_NEW + r"(?:into|in|onto|to)\s+(?:the|this|my|our|your)\s+(?:picture|scene|image|photo|photograph|shot|frame|pic)\b"
    r"\s*(?P<rest>.*)$"
)
