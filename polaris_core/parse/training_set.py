"""The labelled instruction set the type head is trained on, written by the project (not taken from any benchmark).

`build_rows()` renders edit *families* (one edit, e.g. "remove the chipped ceramic mug") through
phrasing *templates* (how users say it: verbs, passive voice, absence, stories, colour-word objects,
polite or blunt, long or short) and wraps some in framing. Every row carries:

- `instruction`, `instruction_type` (0-5), `subject` (the subject convention of `rules.py`);
- `new_object`: for a replacement, the new object as the subject convention names it ("" otherwise);
- `family`: all paraphrases of one edit share it (cross-validation keeps a family in one fold);
- `template`: the phrasing pattern (a second cross-validation holds whole templates out).

Deterministic: the same seed gives the same rows. `python -m polaris_core.parse.training_set` writes
`polaris_core/parse/data/instructions.jsonl`, which `scripts/train_parse_head.py` reads.
"""
from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

DATA_FILE = Path(__file__).parent / "data" / "instructions.jsonl"
SEED = 20261205

# ----------------------------------------------------------------------------- vocabulary
# objects: (noun, plural); the generator adds adjectives and materials
_OBJECTS = [
    ("mug", "mugs"), ("lamp", "lamps"), ("car", "cars"), ("bicycle", "bicycles"), ("dog", "dogs"), ("cat", "cats"),
    ("chair", "chairs"), ("bench", "benches"), ("vase", "vases"), ("umbrella", "umbrellas"), ("boat", "boats"),
    ("sign", "signs"), ("tree", "trees"), ("bird", "birds"), ("horse", "horses"), ("teapot", "teapots"),
    ("suitcase", "suitcases"), ("guitar", "guitars"), ("clock", "clocks"), ("backpack", "backpacks"),
    ("bottle", "bottles"), ("sofa", "sofas"), ("table", "tables"), ("hat", "hats"), ("jacket", "jackets"),
    ("dress", "dresses"), ("shoe", "shoes"), ("scooter", "scooters"), ("truck", "trucks"), ("bus", "buses"),
    ("trash can", "trash cans"), ("street lamp", "street lamps"), ("fire hydrant", "fire hydrants"),
    ("mailbox", "mailboxes"), ("kite", "kites"), ("balloon", "balloons"), ("candle", "candles"),
    ("book", "books"), ("laptop", "laptops"), ("phone", "phones"), ("plant pot", "plant pots"),
    ("fence", "fences"), ("door", "doors"), ("window", "windows"), ("statue", "statues"), ("fountain", "fountains"),
    ("tent", "tents"), ("cabin", "cabins"), ("barn", "barns"), ("bridge", "bridges"), ("sheep", "sheep"),
    ("cow", "cows"), ("duck", "ducks"), ("squirrel", "squirrels"), ("rabbit", "rabbits"), ("pigeon", "pigeons"),
    ("man", "men"), ("woman", "women"), ("child", "children"), ("person", "people"), ("teddy bear", "teddy bears"),
    ("basket", "baskets"), ("cup", "cups"), ("plate", "plates"), ("bowl", "bowls"), ("pillow", "pillows"),
    ("rug", "rugs"), ("helmet", "helmets"), ("scarf", "scarves"), ("tie", "ties"), ("watch", "watches"),
    ("motorcycle", "motorcycles"), ("tractor", "tractors"), ("van", "vans"), ("train", "trains"),
    ("skateboard", "skateboards"), ("surfboard", "surfboards"), ("kettle", "kettles"), ("sandwich", "sandwiches"),
    ("cake", "cakes"), ("pumpkin", "pumpkins"), ("apple", "apples"), ("ball", "balls"), ("box", "boxes"),
    ("crate", "crates"), ("ladder", "ladders"), ("bucket", "buckets"), ("shovel", "shovels"), ("bell", "bells"),
    ("lantern", "lanterns"), ("mirror", "mirrors"), ("painting", "paintings"), ("poster", "posters"),
    ("cushion", "cushions"), ("stool", "stools"), ("desk", "desks"), ("shelf", "shelves"), ("wagon", "wagons"),
    ("sailboat", "sailboats"), ("canoe", "canoes"), ("owl", "owls"), ("fox", "foxes"), ("deer", "deer"),
    ("goat", "goats"), ("parrot", "parrots"), ("frog", "frogs"), ("turtle", "turtles"), ("puppy", "puppies"),
    ("kitten", "kittens"), ("rooster", "roosters"), ("swan", "swans"), ("jar", "jars"), ("pitcher", "pitchers"),
    ("wheelbarrow", "wheelbarrows"), ("bookshelf", "bookshelves"), ("armchair", "armchairs"), ("car tire", "car tires"),
    ("traffic cone", "traffic cones"), ("power line", "power lines"), ("street sign", "street signs"),
    ("water bottle", "water bottles"), ("coffee cup", "coffee cups"), ("picnic table", "picnic tables"),
]
_ADJECTIVES = [
    "red", "blue", "old", "small", "large", "chipped", "rusty", "wooden", "ceramic", "plastic", "metal", "striped",
    "yellow", "green", "white", "black", "tiny", "vintage", "broken", "shiny", "dusty", "leather", "glass", "brown",
    "orange", "purple", "tall", "little", "antique", "faded", "brass", "silver", "wicker", "woolen", "pink", "grey",
]
_SHAPES = ["round", "square", "oval", "tall", "narrow", "flat"]
_DETERMINERS = ["the", "the", "the", "the", "this", "that", "the", "the"]
# new objects, including ones whose name is a colour or material word ("an orange", "a glass")
_NEW_OBJECTS = [
    "a cat", "a dog", "a fox", "a giraffe", "a horse", "an owl", "a parrot", "a penguin", "a lion", "a rabbit",
    "a teapot", "a lamp", "a bicycle", "a motorcycle", "a sailboat", "a canoe", "a hot air balloon", "a robot",
    "a snowman", "a scarecrow", "a statue", "a fountain", "a palm tree", "a cactus", "a sunflower", "a bonsai tree",
    "a treehouse", "a lighthouse", "a windmill", "a castle", "a tent", "a food truck", "a vintage car", "a tractor",
    "an orange", "a lemon", "a glass", "a gold coin", "a silver spoon", "a chocolate bar", "a rose", "a diamond",
    "a brick", "a marble statue", "a peach", "a lime", "a cherry", "a plum", "an olive", "a pearl necklace",
    "a copper kettle", "a stone", "a crystal ball", "a cream puff", "a coral reef", "a salmon", "a violet",
    "a jade figurine", "a bronze bell", "a straw hat", "a wooden crate", "a leather bag", "a velvet armchair",
    "a pumpkin", "a watermelon", "a pineapple", "a birthday cake", "a stack of books", "a pile of leaves",
    "a red umbrella", "a blue vase", "a yellow taxi", "a green backpack", "a white horse", "a black cat",
    "a pink flamingo", "a purple balloon", "a golden retriever", "a small puppy", "an old typewriter",
    "a wooden rocking chair", "a potted fern", "a bowl of fruit", "a laptop", "a guitar", "a skateboard",
    "an elephant", "a dinosaur", "a dragon", "a unicorn", "an astronaut", "a knight in armor", "a ballerina",
    "a street musician", "an old fisherman", "a giant sunflower", "a tiny house", "a red phone booth",
]
_LOCATIONS = [
    "on the table", "on the grass", "in the sky", "next to the door", "on the windowsill", "in the corner",
    "on the left", "on the right side", "in the foreground", "in the background", "on the beach", "by the lake",
    "on the shelf", "under the tree", "on the sofa", "near the fence", "on the road", "in the garden",
    "on top of the car", "beside the bench", "on the bed", "in the water", "on the snow", "on the rooftop",
    "at the edge of the frame", "in the middle of the field", "on the kitchen counter", "on the sidewalk",
    "above the fireplace", "on the wall", "in the doorway", "next to the woman", "near the horizon",
]
_SCENES = ["street", "beach", "sky", "field", "room", "garden", "park", "lake", "road", "yard", "kitchen", "forest"]
_COLOURS = [
    "red", "blue", "bright yellow", "emerald green", "pastel pink", "deep purple", "jet black", "snow white",
    "navy blue", "burnt orange", "teal", "gold", "silver", "turquoise", "crimson", "lavender", "mint green",
    "charcoal grey", "sky blue", "coral", "maroon", "beige", "olive green", "neon green", "light blue",
]
_MATERIALS = [
    "gold", "marble", "wood", "glass", "chrome", "copper", "velvet", "leather", "denim", "ice", "stone", "brass",
    "porcelain", "bronze", "rusty metal", "polished steel", "crystal", "bamboo", "wicker", "knitted wool",
    "chocolate", "moss", "lego bricks", "cardboard", "clay",
]
_TEXTURES = [
    "rusty", "weathered", "glossy", "matte", "shiny", "cracked", "frosted", "mossy", "polka-dotted", "striped",
    "plaid", "sparkly", "fluffy", "dusty", "muddy", "tie-dyed", "worn", "polished", "glowing", "iridescent",
]
_PATTERNS = ["floral", "checkered", "zebra", "leopard", "tartan", "camouflage", "paisley", "polka dot", "striped"]
_BACKGROUNDS = [
    "a snowy mountain range", "a sandy beach at sunset", "a dense pine forest", "a busy city street",
    "a lavender field", "outer space", "a quiet library", "a tropical jungle", "a desert with dunes",
    "an underwater reef", "a rainy Tokyo alley", "a cozy living room", "a misty lake", "a wheat field",
    "a medieval town square", "a neon-lit arcade", "the surface of the moon", "a bamboo grove",
    "a frozen tundra", "a cherry blossom park", "a rooftop at night", "a sunflower field", "a train station",
]
_STYLES = [
    "watercolor painting", "oil painting", "pencil sketch", "charcoal drawing", "anime", "pixel art",
    "comic book", "pop art", "ukiyo-e print", "low-poly 3D render", "claymation", "stained glass", "mosaic",
    "impressionist painting", "cubist painting", "art nouveau poster", "vaporwave", "cyberpunk", "steampunk",
    "film noir", "sepia photograph", "polaroid", "line art", "vector illustration", "pastel drawing",
    "graffiti mural", "origami", "papercut", "woodcut print", "embroidery", "chalk drawing on a sidewalk",
    "Pixar animation", "Studio Ghibli", "8-bit video game", "blueprint", "retro 70s photograph",
]
_ARTISTS = ["Van Gogh", "Monet", "Picasso", "Hokusai", "Klimt", "Dali", "Rembrandt", "Warhol", "Edward Hopper",
            "Mucha", "Kandinsky", "Frida Kahlo", "Matisse", "Seurat", "Magritte"]
_MOODS = [
    "a rain-soaked neon dystopia", "an old silent film", "a dreamy fairy tale", "a post-apocalyptic wasteland",
    "a haunted Victorian ghost story", "a sun-bleached 70s postcard", "a cozy Christmas card",
    "a noir detective movie", "an underwater dream", "an 80s synthwave album cover", "a faded childhood memory",
    "an epic fantasy book cover", "a spooky Halloween night", "a lazy summer afternoon", "a cold war spy thriller",
    "a children's picture book", "a war-time newsreel", "a psychedelic fever dream", "a gloomy gothic novel",
    "a cheerful cartoon morning", "a Wes Anderson film", "a vintage travel poster", "a lost alien planet",
    "a melancholy autumn evening", "a foggy London morning", "a golden-hour music video", "a frozen winter tale",
]
_MOOD_ADJECTIVES = ["moody", "dreamy", "gloomy", "cheerful", "eerie", "nostalgic", "cinematic", "melancholic",
                    "whimsical", "dramatic", "romantic", "ominous", "serene", "gritty", "ethereal", "warm and cozy"]
_TIMES = ["night", "winter", "autumn", "a foggy morning", "sunset", "a thunderstorm", "a snowy day", "dusk",
          "midnight", "a rainy evening", "spring", "golden hour"]
_PEOPLE = ["the man", "the woman", "the boy", "the girl", "the old man", "the child", "the chef", "the cyclist",
           "the dog", "the cat", "the snowman", "the statue", "the bear", "the teddy bear", "the runner"]
_WEARABLES = ["a hat", "sunglasses", "a red scarf", "a crown", "a bow tie", "a backpack", "a necklace",
              "a party hat", "a raincoat", "headphones", "a pair of boots", "a wristwatch", "a cape", "a top hat",
              "a flower crown", "a helmet", "a monocle", "a wool beanie", "a pair of gloves", "an apron"]
_HOLDABLES = ["an umbrella", "a balloon", "a cup of coffee", "a bouquet of flowers", "a book", "a lantern",
              "a guitar", "a sword", "an ice cream cone", "a fishing rod", "a camera", "a newspaper", "a torch"]

_IRREGULAR_PLURAL = {"man": "men", "woman": "women", "child": "children", "person": "people", "sheep": "sheep",
                     "deer": "deer", "mouse": "mice", "goose": "geese", "fish": "fish", "leaf": "leaves",
                     "knife": "knives", "shelf": "shelves", "scarf": "scarves", "wolf": "wolves", "foot": "feet"}


def plural(noun: str) -> str:
    words = noun.split()
    last = words[-1]
    if last in _IRREGULAR_PLURAL:
        last = _IRREGULAR_PLURAL[last]
    elif last.endswith(("s", "x", "ch", "sh")):
        last += "es"
    elif last.endswith("y") and last[-2:-1] not in "aeiou":
        last = last[:-1] + "ies"
    else:
        last += "s"
    return " ".join(words[:-1] + [last])


def _article(phrase: str) -> str:
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def _bare(phrase: str) -> str:
    """ "a red umbrella" -> "red umbrella", "sunglasses" -> "sunglasses"."""
    for lead in ("an ", "a ", "some "):
        if phrase.startswith(lead):
            return phrase[len(lead):]  # "a pair of boots" -> "pair of boots": a portion keeps its contents
    return phrase


def _subject_of_new(phrase: str) -> str:
    """Subject convention for an added or new object: portions keep their contents, collectives drop theirs (a
    stack, pile or bunch is a portion: "stack of books")."""
    bare = _bare(phrase)
    for collective in ("group of ",):
        if bare.startswith(collective):
            return bare[len(collective):]
    if " in " in bare:
        return bare.split(" in ")[0]
    return bare


# ----------------------------------------------------------------------------- templates
# Slots: {X} the object as written ("the chipped mug"), {Xs} its plural bare form, {Y} a new object with its
# article, {C} colour, {M} material, {T} texture, {P} pattern, {B} background, {S} style, {A} artist,
# {MOOD} story or mood phrase, {ADJ} mood adjective, {TIME} time/season/weather, {L} location,
# {SC} a scene noun, {WHO} a person or animal, {W} a wearable, {H} a holdable.
# A leading "!" marks an imperative template (framing like "could you" may be put in front).
REMOVE = {
    "rm-q-remove": "!remove {XQ}", "rm-q-erase": "!erase {XQ} from the picture", "rm-q-has-to-go": "{XQ} has to go",
    "rm-q-rid": "!get rid of {XQ}", "rm-q-passive": "{XQ} should be removed", "rm-wish-gone": "I wish {X} wasn't there",
    "rm-outcome": "in the final image {X} is gone", "rm-if-only": "if only {X} weren't in the shot",
    "rm-vanish-passive": "{X} is to be deleted", "rm-rid": "!rid the {SC} of {X}", "rm-away-with": "away with {X}",
    "rm-no-more": "no more {Xs}", "rm-minus": "the same picture minus {X}", "rm-clean-out": "!clean {X} out of the photo",
    "rm-exclude": "!exclude {X}", "rm-not-appear": "{X} should not appear in the final image",
    "rm-needs-erasing": "{X} needs erasing", "rm-take-off": "!take {X} off the {SC}",
    "rm-remove": "!remove {X}", "rm-delete": "!delete {X}", "rm-erase-from": "!erase {X} from the {SC}",
    "rm-get-rid": "!get rid of {X}", "rm-take-out": "!take {X} out", "rm-banish": "!banish {X}",
    "rm-purge": "!purge the {Xs} from the {SC}", "rm-none-left": "make sure no {Xs} are left in the {SC}",
    "rm-free-of": "the photo should be free of {Xs}", "rm-passive": "{X} has to be erased",
    "rm-should-go": "{X} should go", "rm-dont-want": "I don't want {X} in the picture",
    "rm-no-please": "no {Xs} please", "rm-ditch": "!ditch {X}", "rm-lose": "!lose {X}",
    "rm-clear-away": "!clear {X} away", "rm-wipe-out": "!wipe {X} out of the shot", "rm-cut-out": "!cut {X} out",
    "rm-better-without": "the picture would look better without {X}",
    "rm-every-trace": "!eliminate every trace of {X}", "rm-vanish": "!make {X} vanish",
    "rm-disappear": "!make {X} disappear", "rm-needs-go": "{X} needs to go",
    "rm-scrub": "!scrub {X} from the image", "rm-edit-out": "!edit out {X}",
    "rm-get-out": "!get {X} out of here", "rm-strip": "!strip {X} from the scene",
    "rm-without": "I'd like the scene without {X}", "rm-leave-out": "!leave out {X}",
    "rm-shouldnt-be": "{X} shouldn't be there", "rm-contain-no": "the {SC} must contain no {Xs}",
    "rm-drop": "!drop {X} from the picture", "rm-gone": "{X}: gone", "rm-take-away": "!take away {X}",
    "rm-hide": "!hide {X} completely so only the background shows", "rm-cleanup": "!clean up the shot by removing {X}",
    "rm-no-longer": "{X} should no longer be visible", "rm-passive-removed": "{X} must be removed",
    "rm-fill-behind": "!fill in the spot where {X} is with whatever is behind it",
    "rm-pretend": "!pretend {X} was never there", "rm-empty": "!leave the {SC} empty, without {X}",
    "rm-zap": "!zap {X}", "rm-blot": "!blot out {X}", "rm-airbrush": "!airbrush {X} out",
    "rm-cant-stand": "I can't stand {X}, get it out", "rm-unwanted": "{X} is unwanted, delete it",
    "rm-nothing-where": "there should be nothing where {X} is", "rm-do-away": "!do away with {X}",
    "rm-get-ridof-all": "!get rid of all the {Xs}", "rm-wipe-away": "!wipe away {X}",
    "rm-extract": "!pull {X} out of the picture", "rm-omit": "!omit {X} from the photo",
}
REPLACE = {
    "rp-q-replace": "!replace {XQ} with {Y}", "rp-q-passive": "{XQ} should be swapped for {Y}",
    "rp-wish": "I wish {X} were {Y}", "rp-passive-to-be": "{X} is to be swapped for {Y}",
    "rp-outcome": "in the final image, {Y} stands where {X} was", "rp-q-turn": "!turn {XQ} into {Y}",
    "rp-ditch-for": "!ditch {X} and go with {Y}", "rp-rather-see": "I'd rather see {Y} there than {X}",
    "rp-to-be-turned": "{X} is to be turned into {Y}", "rp-instead-end": "{X} should be {Y} instead",
    "rp-sits-where": "!swap things around so {Y} sits where {X} was", "rp-spot": "!give me {Y} in the spot {X} occupies",
    "rp-not-but": "not {X} but {Y}", "rp-upgrade": "!upgrade {X} to {Y}", "rp-have-replaced": "!have {X} replaced by {Y}",
    "rp-make-into": "!make {X} into {Y}",
    "rp-replace": "!replace {X} with {Y}", "rp-swap": "!swap {X} for {Y}", "rp-substitute": "!substitute {Y} for {X}",
    "rp-switch-out": "!switch {X} out for {Y}", "rp-turn-into": "!turn {X} into {Y}",
    "rp-should-become": "{X} should become {Y}", "rp-put-where": "!put {Y} where {X} is",
    "rp-instead": "I want {Y} instead of {X}", "rp-bare-instead": "{Y} instead of {X}",
    "rp-change-to": "!change {X} to {Y}", "rp-exchange": "!exchange {X} with {Y}", "rp-trade": "!trade {X} for {Y}",
    "rp-becomes": "{X} becomes {Y}", "rp-take-place": "!have {Y} take the place of {X}",
    "rp-stand-in": "!let {Y} stand in for {X}", "rp-arrow": "{X} -> {Y}", "rp-what-if": "what if {X} were {Y}",
    "rp-transform": "!transform {X} into {Y}", "rp-convert": "!convert {X} into {Y}",
    "rp-passive": "{X} gets replaced by {Y}", "rp-needs-swap": "{X} needs to be swapped out for {Y}",
    "rp-remove-put": "!remove {X} and put {Y} in its place", "rp-take-add": "!take out {X} and add {Y} there",
    "rp-instead-first": "instead of {X}, show {Y}", "rp-rather": "can you give me {Y} rather than {X}",
    "rp-morph": "!morph {X} into {Y}", "rp-reimagine": "!reimagine {X} as {Y}",
    "rp-should-replaced": "{X} should be replaced with {Y}", "rp-swap-in": "!swap in {Y} for {X}",
    "rp-make-a": "!make {X} {Y}", "rp-change-into": "!change {X} into {Y}",
    "rp-in-place": "{Y} in place of {X}", "rp-rather-have": "I'd rather have {Y} than {X}",
    "rp-no-longer": "{X} is gone and {Y} is there now", "rp-switch": "!switch {X} with {Y}",
    "rp-occupy": "!let {Y} occupy the spot of {X}", "rp-out-in": "{X} out, {Y} in",
    "rp-delete-draw": "!delete {X} and draw {Y} in the same spot",
    "rp-where-is": "where {X} is, put {Y}", "rp-swap-out": "!swap out {X} for {Y}",
}
ADD = {
    "ad-left-of": "!add {Y} on the left of {X}", "ad-right-of": "!put {Y} to the right of {X}",
    "ad-place-first": "on the {SIDE} side of {X}, add {Y}", "ad-add-place-obj": "!add on the {SIDE} of {X} {Y}",
    "ad-behind": "!add {Y} behind {X}", "ad-right-next": "!add {Y} right next to {X}",
    "ad-just-side": "!put {Y} just {SIDE} of {X}", "ad-nice": "{Y} next to {X} would be nice",
    "ad-wish-were": "I wish there were {Y} {L}", "ad-passive-placed": "{Y} is to be placed to the {SIDE} of {X}",
    "ad-outcome": "in the final image there is {Y} {L}", "ad-wish-had": "I wish {WHO} had {W}",
    "ad-between": "!place {Y} between {X} and the wall", "ad-in-front": "!add {Y} in front of {X}",
    "ad-passive": "{Y} should be added {L}", "ad-want-see": "I want to see {Y} {L}",
    "ad-included": "{Y} needs to be included {L}", "ad-populate": "!populate the {SC} with some {Ys}",
    "ad-fill-with": "!fill the {SC} with {Ys}",
    "ad-add": "!add {Y} {L}", "ad-put": "!put {Y} {L}", "ad-insert": "!insert {Y} {L}", "ad-place": "!place {Y} {L}",
    "ad-include": "!include {Y} {L}", "ad-there-should": "there should be {Y} {L}", "ad-want": "I want {Y} {L}",
    "ad-let-there": "!let there be {Y} {L}", "ad-draw": "!draw {Y} {L}", "ad-pop": "!pop {Y} {L}",
    "ad-throw-in": "!throw in {Y} {L}", "ad-needs": "it needs {Y} {L}", "ad-how-about": "how about {Y} {L}?",
    "ad-would-be-nice": "{Y} {L} would be nice", "ad-bring-in": "!bring in {Y} {L}", "ad-show": "!show {Y} {L}",
    "ad-have-sitting": "!have {Y} sitting {L}", "ad-spawn": "!spawn {Y} {L}", "ad-we-need": "we need {Y} {L}",
    "ad-stick": "!stick {Y} {L}", "ad-could-there": "could there be {Y} {L}?", "ad-bare": "{Y} {L}",
    "ad-introduce": "!introduce {Y} into the scene", "ad-missing": "{Y} is missing {L}, add one",
    "ad-sneak": "!sneak {Y} into the picture {L}", "ad-i-see": "I'd love to see {Y} {L}",
    "ad-also": "also, {Y} {L}", "ad-plus": "plus {Y} {L}", "ad-paint-in": "!paint {Y} {L}",
    "ad-feature": "!make the picture feature {Y} {L}", "ad-give": "!give {WHO} {W}", "ad-wear": "!make {WHO} wear {W}",
    "ad-holding": "{WHO} should be holding {H}", "ad-hold": "!let {WHO} hold {H}", "ad-put-on": "!put {W} on {WHO}",
    "ad-with": "{WHO} with {W}", "ad-dress": "!dress {WHO} in {W}", "ad-hand": "!hand {WHO} {H}",
    "ad-carry": "!have {WHO} carry {H}", "ad-next-to": "!add {Y} next to {X}", "ad-beside": "!put {Y} beside {X}",
    "ad-scatter": "!scatter some {Ys} {L}", "ad-few": "!add a few {Ys} {L}", "ad-more": "the scene could use {Y} {L}",
    "ad-drop-in": "!drop {Y} into the scene {L}", "ad-appear": "!make {Y} appear {L}",
}
LOCAL = {
    "lc-q-paint": "!paint {XQ} {C}", "lc-q-colour-of": "!change the colour of {XQ} to {C}",
    "lc-q-look": "!make {XQ} look {T}", "lc-wish": "I wish {X} were {C}", "lc-if-only": "if only {X} was {T}",
    "lc-outcome": "in the final image {X} is {C}", "lc-end-up": "{X} should end up {C}",
    "lc-passive-recolour": "{X} is to be recoloured {C}", "lc-result": "end result: {X} in {C}",
    "lc-material-of": "!change the material of {X} to {M}", "lc-redo-look": "!redo {X} so it looks {T}",
    "lc-named-look": "!give {X} a {T} {M} look", "lc-named-style": "!restyle {X} with a {T} finish",
    "lc-to-be-painted": "{X} is to be painted {C}", "lc-want-to-be": "I want {X} to be {C}",
    "lc-give-colour": "!give {X} a {C} colour", "lc-look-better": "{X} would look better in {C}",
    "lc-surface-of": "!make the surface of {X} {T}", "lc-finish-to": "!change {X_poss} finish to {M}",
    "lc-bg-transport": "!transport {X} into {B}", "lc-bg-new": "new background: {B}",
    "lc-bg-setting": "!change the setting to {B}", "lc-clad": "{X} clad in {M}", "lc-spray": "!spray-paint {X} {C}",
    "lc-polish": "!polish {X} until it looks {T}",
    "lc-make-colour": "!make {X} {C}", "lc-paint": "!paint {X} {C}", "lc-colour-of": "!change the colour of {X} to {C}",
    "lc-color-of": "!change the color of {X} to {C}", "lc-turn-colour": "!turn {X} {C}", "lc-should-be": "{X} should be {C}",
    "lc-dye": "!dye {X} {C}", "lc-recolour": "!recolor {X} in {C}", "lc-look": "!give {X} a {T} look",
    "lc-finish": "!give {X} a {M} finish", "lc-cover": "!cover {X} in {M}", "lc-tint": "{X} should have a {C} tint",
    "lc-made-of": "!make {X} look like it is made of {M}", "lc-change-material": "!change {X} to {M}",
    "lc-but": "{X}, but {C}", "lc-id-like": "I'd like {X} in {C}", "lc-tint-verb": "!tint {X} {C}",
    "lc-coat": "!coat {X} in {M}", "lc-texture": "!make {X} {T}", "lc-paint-job": "{X} needs a {C} paint job",
    "lc-glow": "!let {X} glow {C}", "lc-in-please": "{X} in {C} please", "lc-can-be": "can {X} be {C}?",
    "lc-out-of": "!make {X} out of {M}", "lc-pattern": "!give {X} a {P} pattern",
    "lc-turn-material": "!turn {X} into {M}", "lc-shade": "!change {X} to a darker shade of {C}",
    "lc-whats-colour": "the colour of {X} should be {C}", "lc-owner-colour": "!change {X_poss} colour to {C}",
    "lc-redo": "!redo {X} in {C}", "lc-wrap": "!wrap {X} in {M}", "lc-surface": "{X} should look {T}",
    "lc-age": "!age {X} so it looks {T}", "lc-bg-change": "!change the background to {B}",
    "lc-bg-replace": "!replace the background with {B}", "lc-bg-make": "!make the background {B}",
    "lc-bg-should": "the backdrop should be {B}", "lc-bg-swap": "!swap the background for {B}",
    "lc-bg-put": "!put {X} in {B}", "lc-bg-move": "!move {X} to {B}", "lc-bg-set": "!set {X} against {B}",
    "lc-bg-behind": "!show {B} behind {X}", "lc-smile": "!make {WHO} smile", "lc-sky": "!make the sky {SKY}",
    "lc-sky-turn": "!turn the sky {SKY}", "lc-hair": "!dye {WHO_poss} hair {C}", "lc-shirt": "!make {WHO_poss} shirt {C}",
    "lc-sparkle": "!add some sparkle to {X}", "lc-more-colour": "!make {X} more {C}",
    "lc-feel": "{X} should feel more {T}", "lc-material-swap": "!swap {X_poss} material for {M}",
    # a new expression or pose of a person or animal already there, in three structures (not only "make X smile")
    "lc-expr-have": "!have {WHO} {EXPR}", "lc-expr-should": "{WHO} should be {EXPR_ING}",
    "lc-expr-want": "I want {WHO} to {EXPR}",
}
GLOBAL = {
    "gl-aesthetic": "!go for a {S} aesthetic", "gl-to-be-rendered": "the photo is to be rendered as a {S}",
    "gl-vibes": "{ADJ} vibes, like {MOOD}", "gl-filter-over": "!put a {ADJ} filter over everything",
    "gl-look-like": "!make it look like a {S}", "gl-turn-photo": "!turn the photo into a {S}",
    "gl-convert-style": "!convert the image to {S} style", "gl-style-of": "in the style of {A}",
    "gl-ify": "!{A}-ify this", "gl-render-as": "!render the whole scene as a {S}",
    "gl-feel-of": "!give the whole shot the feel of {MOOD}", "gl-story": "!turn the scene into {MOOD}",
    "gl-everything-feel": "!make everything feel {ADJ}", "gl-filter": "!apply a {S} filter",
    "gl-restyle": "!restyle the picture as a {S}", "gl-want-look": "I want this to look like {MOOD}",
    "gl-make-time": "!make it {TIME}", "gl-transform-whole": "!transform the whole picture into a {S}",
    "gl-vibe": "!give the image a {ADJ} vibe", "gl-style-please": "{S} style, please",
    "gl-reimagine": "!reimagine this as {MOOD}", "gl-painted-by": "as if painted by {A}",
    "gl-like-frame": "like a frame from {MOOD}", "gl-season": "!change the season to {TIME}",
    "gl-drench": "!drench the whole scene in {ADJ} light", "gl-whole-thing": "the whole thing should look {ADJ}",
    "gl-redraw": "!redraw everything as a {S}", "gl-paint-as": "!paint the photo like {A} would",
    "gl-could-be": "could this be a {S}?", "gl-shift-mood": "!shift the mood of the picture to {ADJ}",
    "gl-as-if": "make it as if it were {MOOD}", "gl-recreate": "!recreate the image in {A}'s style",
    "gl-mood-only": "{ADJ}, like {MOOD}", "gl-turn-time": "!turn the scene into {TIME}",
    "gl-it-should": "the picture should feel like {MOOD}", "gl-cover-style": "!make the photo a {S}",
    "gl-entire-style": "!change the entire image to a {S} look", "gl-give-look": "!give the picture a {S} look",
    "gl-set-during": "!set the whole scene during {TIME}", "gl-imagine": "imagine this photo as {MOOD}",
    "gl-edit-look": "!edit the photo so it looks {ADJ} and {ADJ2}", "gl-from-era": "!make it look like {MOOD}",
}
REFERENCE = {
    "rf-use-style": "!use the style of the reference image", "rf-uploaded": "!make it look like the picture I uploaded",
    "rf-match": "!match the style of the attached image", "rf-copy": "!copy the look of the second photo",
    "rf-palette": "!apply the reference's colour palette and brushwork", "rf-borrow": "!borrow the aesthetic of the example",
    "rf-sample": "!paint this the way the sample painting is painted", "rf-transfer": "!transfer the style from the provided artwork",
    "rf-same": "same style as the reference please", "rf-restyle": "!restyle this to match my reference",
    "rf-mimic": "!mimic the other image's look", "rf-vibe": "!give this the vibe of the image I gave you",
    "rf-like-this": "!make my photo look like this one", "rf-take-style": "!take the style from the reference and apply it",
    "rf-in-this-style": "!redo the picture in this style", "rf-as-example": "!render it like the example image",
    "rf-colours": "!use the colours and textures of the reference picture", "rf-emulate": "!emulate the style of the painting I attached",
    "rf-guide": "!follow the style guide image", "rf-want": "I want it in the same style as the image I sent",
}

_FRAMES_FRONT = ["", "", "", "", "please ", "could you ", "can you please ", "I'd like you to ", "hey, ",
                 "would you ", "let's ", "I need you to ", "quick edit: ", "ok so ", "just "]
_FRAMES_BACK = ["", "", "", "", ".", ".", "!", " please", " thanks", ", thank you!", " for me", " if you can"]
EXTRA_CLAUSES = {
    5: [", keeping everything else the same", " and fill the gap with the background", ", it distracts from the subject",
        " so the view is clean", " without leaving a trace"],
    0: [", keeping the same pose and lighting", " so it fits the scene", ", same size and position",
        " and keep the rest untouched"],
    1: [", looking natural", " so it blends in", ", in proportion with the rest", " to make it more lively"],
    2: [", keeping its shape", " but leave everything else as it is", ", nothing else should change",
        " to make it stand out"],
    3: [", with strong contrast", ", keeping the composition", " for a poster", ", very atmospheric"],
    4: [", keep my composition", " but keep the people recognisable"],
}


@dataclass
class _Edit:
    """One edit (a family): the slot values shared by all its paraphrases."""

    slots: dict
    subject: str


def _object(rng: random.Random) -> tuple[str, str, str]:
    """(written with determiner, subject form, bare plural) for an existing object."""
    noun, noun_plural = rng.choice(_OBJECTS)
    adjectives: list[str] = []
    roll = rng.random()
    if roll < 0.35:
        adjectives = [rng.choice(_ADJECTIVES)]
    elif roll < 0.5:
        first, second = rng.sample(_ADJECTIVES, 2)
        adjectives = [first, second]
    elif roll < 0.6:  # stacked modifiers, a shape word among them ("the glass round vase")
        first, second = rng.sample(_ADJECTIVES, 2)
        adjectives = [first, rng.choice(_SHAPES), second][: rng.choice((2, 3))]
        adjectives = list(dict.fromkeys(adjectives))  # "tall" is a shape and an adjective: never "tall tall"
    subject = " ".join(adjectives + [noun])
    determiner = rng.choice(_DETERMINERS)
    if rng.random() < 0.06:
        determiner = rng.choice(["my", "our", "your"])
    written = f"{determiner} {subject}"
    return written, subject, " ".join(adjectives + [noun_plural])


_POSITIONS = ["on the left", "on the right", "in the foreground", "in the background", "in the top left corner",
              "on the far right", "at the back", "in the middle", "on the right side", "at the front"]
_ORDINALS = ["first", "second", "third", "last"]
_SIDES = ["left", "right"]
_WITH_PARTS = ["with the cartoon print", "with the chipped handle", "with the red stripes", "with the broken leg",
               "with a floral pattern", "with the gold trim", "with the torn label", "with the tall back",
               "with the dents", "with a missing wheel"]
_PARENTHESES = ["(the one by the window)", "(the small one)", "(on the left)", "(the one in front)",
                "(the older one)"]


def _qualified(rng: random.Random, subject: str) -> tuple[str, str]:
    """(written, subject) for an existing object named with what identifies it: a position, an ordinal from a
    side, a with-phrase or a parenthesis; the subject keeps the qualifier."""
    roll = rng.random()
    if roll < 0.3:
        where = rng.choice(_POSITIONS)
        return f"the {subject} {where}", f"{subject} {where}"
    if roll < 0.55:
        ordinal, side = rng.choice(_ORDINALS), rng.choice(_SIDES)
        return f"the {ordinal} {subject} from the {side}", f"{ordinal} {subject} from the {side}"
    if roll < 0.85:
        part = rng.choice(_WITH_PARTS)
        return f"the {subject} {part}", f"{subject} {part}"
    paren = rng.choice(_PARENTHESES)
    return f"the {subject} {paren}", f"{subject} {paren}"


def _common_slots(rng: random.Random) -> dict:
    adj, adj2 = rng.sample(_MOOD_ADJECTIVES, 2)
    who = rng.choice(_PEOPLE)
    return {
        "C": rng.choice(_COLOURS), "M": rng.choice(_MATERIALS), "T": rng.choice(_TEXTURES), "P": rng.choice(_PATTERNS),
        "B": rng.choice(_BACKGROUNDS), "S": rng.choice(_STYLES), "A": rng.choice(_ARTISTS), "MOOD": rng.choice(_MOODS),
        "ADJ": adj, "ADJ2": adj2, "TIME": rng.choice(_TIMES), "L": rng.choice(_LOCATIONS), "SC": rng.choice(_SCENES),
        "WHO": who, "WHO_poss": who + "'s", "W": rng.choice(_WEARABLES), "H": rng.choice(_HOLDABLES),
        "SKY": rng.choice(["stormy", "pink", "orange", "dark purple", "cloudy", "starry", "overcast", "bright blue"]),
        **_expression(rng),
    }


_EXPRESSIONS = [("smile", "smiling"), ("frown", "frowning"), ("laugh", "laughing"), ("grin", "grinning"),
                ("wink", "winking"), ("yawn", "yawning"), ("pout", "pouting"), ("wave", "waving")]


def _expression(rng: random.Random) -> dict:
    verb, ing = rng.choice(_EXPRESSIONS)
    return {"EXPR": verb, "EXPR_ING": ing}


def _edit_for(itype: int, template_key: str, rng: random.Random) -> _Edit:
    slots = _common_slots(rng)
    written, subject, plural_bare = _object(rng)
    slots.update(X=written, X_bare=subject, Xs=plural_bare, X_poss=written + "'s")
    slots["XQ"], slots["XQ_subject"] = _qualified(rng, subject)
    slots["SIDE"] = rng.choice(_SIDES)
    new = rng.choice(_NEW_OBJECTS)
    bare_new = _bare(new)
    countable = not any(w in bare_new.split() for w in ("of", "in", "sunglasses", "boots", "gloves"))
    slots.update(Y=new, Ys=plural(bare_new) if countable else "small birds")
    if itype in (3, 4):
        return _Edit(slots, "image")
    if itype == 5:
        return _Edit(slots, subject)
    if itype == 0:
        return _Edit(slots, subject)
    if itype == 1:
        return _Edit(slots, subject)  # resolved per template below (the added thing)
    return _Edit(slots, subject)


def _subject_for(itype: int, key: str, template: str, slots: dict, default: str) -> str:
    """The labelled subject for one rendered template (differs from the family default for some templates)."""
    if itype in (3, 4):
        return "image"
    if "{XQ}" in template:
        return slots["XQ_subject"]
    if itype == 1:
        if "{W}" in template:
            return _subject_of_new(slots["W"])
        if "{H}" in template:
            return _subject_of_new(slots["H"])
        if "{Ys}" in template:
            return slots["Ys"]
        return _subject_of_new(slots["Y"])
    if itype == 5 and "{Xs}" in template and "{X}" not in template:
        return slots["Xs"]
    if itype == 2:
        if key.startswith("lc-bg") or "{B}" in template:
            return "background"
        if "{SKY}" in template:
            return "sky"
        if key == "lc-hair":  # the owner says whose hair: it stays in the subject
            return slots["WHO"].split(" ", 1)[1] + "'s hair"
        if key == "lc-shirt":
            return slots["WHO"].split(" ", 1)[1] + "'s shirt"
        if "{WHO}" in template:
            return slots["WHO"].split(" ", 1)[1]
    return default


def _render(template: str, slots: dict) -> str:
    text = template.lstrip("!")
    for key in sorted(slots, key=len, reverse=True):
        text = text.replace("{" + key + "}", slots[key])
    return re.sub(r"\b([Aa]) (?=[aeiouAEIOU])", r"\1n ", text)


def _frame(text: str, imperative: bool, itype: int, rng: random.Random) -> str:
    if imperative and rng.random() < 0.45:
        text = rng.choice(_FRAMES_FRONT) + text
    if rng.random() < 0.15:
        text += rng.choice(EXTRA_CLAUSES[itype])
    text += rng.choice(_FRAMES_BACK)
    if rng.random() < 0.7:
        text = text[0].upper() + text[1:]
    return text


# ----------------------------------------------------------------------------- objects named by owner or place
# {XN}: an existing object named with what picks it out: its owner ("the girl's scarf"), where it is ("the vase on
# the bookshelf") or a participle and where ("the cat sitting on the fence"); the subject keeps all of it. A place
# it is taken from ("from the wall", "off the boy") or put ("add a lamp on the desk") is never part of it.
NAMED_REMOVE = {
    "rm-n-remove": "!remove {XN}", "rm-n-erase": "!erase {XN}", "rm-n-passive": "{XN} should be removed",
    "rm-n-rid": "!get rid of {XN}", "rm-n-delete-from": "!delete {XN} from the picture",
    "rm-n-wish": "I wish {XN} wasn't there", "rm-n-take-out": "!take out {XN}",
}
NAMED_REPLACE = {
    "rp-n-replace": "!replace {XN} with {Y}", "rp-n-swap": "!swap {XN} for {Y}", "rp-n-turn": "!turn {XN} into {Y}",
    "rp-n-passive": "{XN} should be replaced by {Y}", "rp-n-instead": "I want {Y} instead of {XN}",
}
NAMED_LOCAL = {
    "lc-n-make": "!make {XN} {C}", "lc-n-paint": "!paint {XN} {C}", "lc-n-colour-of": "!change the colour of {XN} to {C}",
    "lc-n-look": "!make {XN} look {T}", "lc-n-should": "{XN} should be {M}", "lc-n-recolour": "!recolour {XN} in {C}",
}
# new objects: the place is where they go, a verb or a place makes them appear, "with no X" removes X
NEW_PLACED = {
    "ad-n-on-the": "!add {Y} {PLACE}", "ad-n-put": "!put {Y} {PLACE}", "ad-n-act": "!make {Y} {ACT} {PLACE}",
    "ad-n-should-be-at": "{Y} should be {POSE} {PLACE}", "ad-n-let-act": "!let {Y} {ACT} {PLACE}",
}
NO_X_REMOVE = {
    "rm-n-nicer-with-no": "the photo would look nicer with no {Xs} in it",
    "rm-n-better-with-no": "the picture would be better with no {Xs}",
    "rm-n-from-source": "!remove {X} from the {HOLDER}", "rm-n-off": "!take {X} off the {HOLDER}",
}
_OWNERS = ["girl", "boy", "old man", "woman", "man", "child", "dog", "cat", "chef", "runner", "baby", "farmer",
           "little girl", "old woman", "cyclist", "teacher", "horse", "doll"]
_OWNED = ["scarf", "cane", "collar", "hat", "backpack", "jacket", "umbrella", "bicycle", "leash", "glasses", "shoes",
          "kite", "toy car", "coffee cup", "sweater", "gloves", "boots", "balloon", "saddle", "watch", "handbag"]
_PLACES = ["the bookshelf", "the bed", "the sofa", "the desk", "the fence", "the windowsill", "the table", "the wall",
           "the counter", "the fireplace", "the door", "the car", "the whiteboard", "the shelf", "the roof", "the bench",
           "the piano", "the stairs", "the porch", "the trees", "the curb", "the rock", "the rug", "the pier"]
_PLACE_PREPOSITIONS = ["on", "above", "under", "by", "next to", "behind", "in front of", "near", "against", "beside",
                       "below", "over"]
_PARTICIPLES = ["sitting", "standing", "lying", "parked", "hanging", "leaning", "resting", "perched", "flying",
                "sleeping", "floating", "stacked"]
_ACTS = ["jump", "sit", "sleep", "stand", "land", "dance", "perch", "rest"]
_ACT_PREPOSITIONS = ["onto", "on", "by", "near", "next to", "under", "in front of", "beside"]
_POSES = ["standing", "sitting", "lying", "sleeping", "perched", "resting", "waiting", "grazing", "playing", "floating"]


def _named(rng: random.Random, subject: str) -> tuple[str, str]:
    """(written, subject) for an existing object named by its owner, its place, or a participle and its place."""
    roll = rng.random()
    if roll < 0.34:
        owned = rng.choice(_OWNED)
        owner = rng.choice(_OWNERS)
        adjective = rng.choice(["", "", "", rng.choice(_ADJECTIVES) + " "])
        return f"the {owner}'s {adjective}{owned}", f"{owner}'s {adjective}{owned}"
    place = f"{rng.choice(_PLACE_PREPOSITIONS)} {rng.choice(_PLACES)}"
    if roll < 0.67:
        return f"the {subject} {place}", f"{subject} {place}"
    participle = rng.choice(_PARTICIPLES)
    return f"the {subject} {participle} {place}", f"{subject} {participle} {place}"


def _named_rows(seed: int, seen: set[str]) -> list[dict]:
    """Families whose existing object is named by owner or place, new objects put or made to appear somewhere, and
    removals said as "with no X" or "from Y" (their own random stream: the rows before them do not change)."""
    rng = random.Random(seed + 1)
    rows: list[dict] = []
    sets = ((5, NAMED_REMOVE, 60), (0, NAMED_REPLACE, 60), (2, NAMED_LOCAL, 70), (1, NEW_PLACED, 50),
            (5, NO_X_REMOVE, 40))
    for s, (itype, templates, families) in enumerate(sets):
        keys = sorted(templates)
        for f in range(families):
            family = f"{itype}-n{s}-{f:04d}"
            edit = _edit_for(itype, "", rng)
            slots = edit.slots
            slots["XN"], named_subject = _named(rng, slots["X_bare"])
            slots["PLACE"] = f"{rng.choice(_PLACE_PREPOSITIONS)} {rng.choice(_PLACES)}"
            slots["ACT"], slots["POSE"] = rng.choice(_ACTS), rng.choice(_POSES)
            slots["HOLDER"] = rng.choice(_PLACES).split(" ", 1)[1]
            act_place = f"{rng.choice(_ACT_PREPOSITIONS)} {rng.choice(_PLACES)}"
            for key in rng.sample(keys, min(PARAPHRASES_PER_FAMILY, len(keys))):
                template = templates[key]
                if key in ("ad-n-act", "ad-n-let-act"):
                    template = template.replace("{PLACE}", act_place)
                text = _frame(_render(template, slots), template.startswith("!"), itype, rng)
                if text.lower() in seen:
                    continue
                seen.add(text.lower())
                if "{XN}" in template:
                    subject = named_subject
                elif itype == 1:
                    subject = _subject_of_new(slots["Y"])
                elif "{Xs}" in template:
                    subject = slots["Xs"]
                else:
                    subject = edit.subject
                rows.append({"instruction": text, "instruction_type": itype, "subject": subject,
                             "new_object": _subject_of_new(slots["Y"]) if itype == 0 else "",
                             "family": family, "template": key})
    return rows


# ----------------------------------------------------------------------------- conversational frames
# The same six edits said the way people talk: wishes whose object and verb sit inside the frame ("I'd love for X to
# be ...", "it'd be nice if X looked ..."), hedged questions ("any chance X could ...", "is it possible to ..."),
# complaints that name the object before asking ("honestly X ruins it, can it go?"), outcomes that name a new thing
# first ("what this porch needs is a swing", "a wreath should be hung on the door", "a robin perched on the gate
# would be sweet"), and a supplied style picture named only in words ("the painting I just shared", "the attached
# sketch"). {RN}: what the user calls the picture they supplied; {PUT}: how a new thing is put somewhere.
CHAT_REMOVE = {
    "rm-c-ruins": "honestly {X} ruins it, can it go?", "rm-c-out-of-place": "{X} looks out of place, could it go?",
    "rm-c-eyesore": "{X} is such an eyesore, can we lose it?", "rm-c-chance-go": "any chance {X} could go?",
    "rm-c-love-gone": "I'd love for {X} to be gone", "rm-c-nice-if": "it'd be nice if {X} disappeared",
    "rm-c-possible": "is it possible to remove {X}?", "rm-c-too-much": "would it be too much to erase {X}?",
    "rm-c-bugs": "{X} really bugs me, can you get rid of it?", "rm-c-belong": "{X} doesn't belong here. Can it go?",
    "rm-c-think": "I think {X} has to go", "rm-c-hoping": "I was hoping we could take out {X}",
    "rm-c-distracting": "{X} is kind of distracting, could it be removed?",
}
CHAT_REPLACE = {
    "rp-c-love-for": "I'd love for {X} to be {Y}", "rp-c-nice-if": "it'd be nice if {X} were {Y}",
    "rp-c-chance": "any chance {X} could be {Y}?", "rp-c-possible-for": "is it possible for {X} to become {Y}?",
    "rp-c-too-much": "would it be too much to ask for {X} to be {Y}?",
    "rp-c-hoping": "kind of hoping {X} could turn into {Y}", "rp-c-think": "do you think {X} could be swapped for {Y}?",
    "rp-c-out-of-place": "{X} looks out of place, could we swap it for {Y}?",
    "rp-c-possible-swap": "is it possible to swap {X} for {Y}?", "rp-c-wish-had": "I wish {X} had been {Y}",
    "rp-c-cooler": "honestly {Y} would be cooler than {X}",
}
CHAT_ADD = {
    "ad-c-what-needs": "what this {SC} needs is {Y}", "ad-c-all-missing": "all the {SC} is missing is {Y}",
    "ad-c-should-be-put": "{Y} should be {PUT} {L}", "ad-c-perched-sweet": "{Y} perched {L} would be sweet",
    "ad-c-curled": "{Y} curled up {L} would be adorable", "ad-c-love-there": "I'd love for there to be {Y} {L}",
    "ad-c-nice-there": "it'd be nice if there were {Y} {L}", "ad-c-chance-there": "any chance there could be {Y} {L}?",
    "ad-c-possible-add": "is it possible to add {Y} {L}?", "ad-c-hoping": "I was hoping we could add {Y} {L}",
    "ad-c-think-needs": "I think the {SC} really needs {Y}", "ad-c-put-would-be": "{Y} {PUT} {L} would look great",
    "ad-c-missing-thing": "the one thing the {SC} lacks is {Y}",
}
CHAT_LOCAL = {
    "lc-c-love-for": "I'd love for {X} to be {C}", "lc-c-nice-looked": "it'd be nice if {X} looked {T}",
    "lc-c-chance": "any chance {X} could be {C}?", "lc-c-possible-for": "is it possible for {X} to look {T}?",
    "lc-c-too-much": "would it be too much to make {X} {C}?", "lc-c-dull": "honestly {X} looks dull, could it be {C}?",
    "lc-c-think-better": "I think {X} would look better in {C}", "lc-c-hoping": "kind of hoping {X} could be {M}",
    "lc-c-wish-was": "I wish {X} was a bit more {C}", "lc-c-possible-paint": "is it possible to paint {X} {C}?",
    "lc-c-think-could": "do you think {X} could look {T}?",
}
CHAT_GLOBAL = {
    "gl-c-love-if": "I'd love it if the whole thing looked like {MOOD}", "gl-c-nice-if": "it'd be nice if the picture felt more {ADJ}",
    "gl-c-chance": "any chance this could look like a {S}?", "gl-c-possible": "is it possible to make it look like a {S}?",
    "gl-c-flat": "honestly the photo feels flat, could it look like {MOOD}?",
    "gl-c-too-much": "would it be too much to turn the whole picture into a {S}?",
    "gl-c-hoping": "kind of hoping the image could feel {ADJ}",
}
CHAT_REFERENCE = {
    "rf-c-shared": "!make it look like the {RN} I just shared", "rf-c-attached-as": "!use the attached {RN} as the style",
    "rf-c-source": "!take the uploaded {RN} as the style source", "rf-c-after": "!style it after the {RN} I sent",
    "rf-c-match-look": "!match the look of the {RN} I uploaded", "rf-c-love-like": "I'd love for it to look like the {RN} I attached",
    "rf-c-chance": "any chance you could copy the style of the attached {RN}?",
    "rf-c-colours-of": "!give it the colours of the {RN} I shared", "rf-c-vibe": "the {RN} I uploaded is the vibe I'm after, can you match it?",
    "rf-c-possible": "is it possible to paint this like the {RN} I posted?", "rf-c-brushwork": "!borrow the brushwork of the uploaded {RN}",
    "rf-c-feel": "!give this the feel of the {RN} I dropped in",
}
_REFERENCE_NAMES = ["painting", "sketch", "watercolor", "photo", "drawing", "print", "collage", "poster", "illustration",
                    "linocut", "snapshot", "artwork", "picture", "pastel", "etching", "screenshot", "render", "mural"]
_PUTS = ["hung", "placed", "set", "draped", "propped", "tucked", "mounted", "perched", "nestled", "resting"]
_CHAT_FRONT = ["", "", "", "honestly, ", "ok so ", "hmm, ", "so ", "quick one: ", "random thought, "]
_CHAT_BACK = ["", "", "", "?", ".", " if that's not too much trouble", ", that would be great", ", no rush", " haha",
              " if that's ok", ", thanks so much"]


def _chat_rows(seed: int, seen: set[str]) -> list[dict]:
    """Families said in conversational frames (their own random stream: the rows before them do not change)."""
    rng = random.Random(seed + 2)
    rows: list[dict] = []
    sets = ((5, CHAT_REMOVE, 40), (0, CHAT_REPLACE, 40), (1, CHAT_ADD, 44), (2, CHAT_LOCAL, 40), (3, CHAT_GLOBAL, 20),
            (4, CHAT_REFERENCE, 30))
    for s, (itype, templates, families) in enumerate(sets):
        keys = sorted(templates)
        for f in range(families):
            family = f"{itype}-c{s}-{f:04d}"
            edit = _edit_for(itype, "", rng)
            slots = edit.slots
            slots["RN"], slots["PUT"] = rng.choice(_REFERENCE_NAMES), rng.choice(_PUTS)
            for key in rng.sample(keys, min(PARAPHRASES_PER_FAMILY, len(keys))):
                template = templates[key]
                text = _render(template, slots)
                if rng.random() < 0.35 and not text.lower().startswith(("honestly", "i ", "i'", "it'")):
                    text = rng.choice(_CHAT_FRONT) + text
                if rng.random() < 0.35 and text[-1] not in "?.":
                    text += rng.choice(_CHAT_BACK)
                if rng.random() < 0.7:
                    text = text[0].upper() + text[1:]
                if text.lower() in seen:
                    continue
                seen.add(text.lower())
                rows.append({"instruction": text, "instruction_type": itype,
                             "subject": _subject_for(itype, key, template, slots, edit.subject),
                             "new_object": _subject_of_new(slots["Y"]) if itype == 0 else "",
                             "family": family, "template": key})
    return rows


# ----------------------------------------------------------------------------- the seventh round (session 16)
# Compound nouns and qualified compounds as the edited object ("the umbrella stand", "the third parked car from the
# left", "the grandmother's knitting basket", "the bicycle chained to the railing"), complaints followed by an offer
# ("X feels dated; a Y would look better there"), preferences ("I'd really prefer a Y instead of X", "a Y in its
# place"), longings ("the porch is crying out for a Y"), hedged questions ("could X disappear?", "is there a way to
# ...") and the whole picture with an aside ("the whole scene, from X to Y, ..."). {X}: the object as written.
R7_REMOVE = {
    "rm-7-plain": "!remove {X}", "rm-7-erase": "!erase {X}", "rm-7-should": "{X} should be removed",
    "rm-7-could-vanish": "hmm, could {X} disappear?", "rm-7-vanish": "could {X} vanish?",
    "rm-7-no-need": "no need for {X}, can it go?", "rm-7-not-fan": "not a fan of {X}, please get rid of it",
    "rm-7-way": "is there a way to remove {X}?", "rm-7-eyesore": "{X} is an eyesore, please take it out",
}
R7_REPLACE = {
    "rp-7-plain": "!replace {X} with {Y}", "rp-7-swap": "!swap {X} for {Y}",
    "rp-7-prefer": "I'd really prefer {Y} instead of {X}", "rp-7-rather": "I'd much rather have {Y} instead of {X}",
    "rp-7-its-place": "not a fan of {X}, can we have {Y} in its place?",
    "rp-7-dont-like": "I don't like {X}, could we put {Y} in its place?",
    "rp-7-dated": "{X} feels dated; {Y} would look way better there",
    "rp-7-maybe-instead": "{X} looks a bit tacky, maybe {Y} instead?",
}
R7_ADD = {
    "ad-7-crying": "this {SC} is crying out for {Y}", "ad-7-begging": "the {SC} is begging for {Y}",
    "ad-7-bare": "the {SC} looks bare; {Y} would help", "ad-7-empty-throw": "the {SC} feels empty, maybe throw in {Y}?",
    "ad-7-do-with": "the {SC} could do with {Y}", "ad-7-placed": "{Y} should be placed {L}",
    "ad-7-add": "!add {Y} {L}",
}
R7_LOCAL = {
    "lc-7-way": "is there a way to make {X} {C}?", "lc-7-paint": "!paint {X} {C}", "lc-7-make": "!make {X} {C}",
    "lc-7-cold": "{X} feels cold, maybe a warm {C} instead?", "lc-7-look": "is there any way to make {X} look {T}?",
}
R7_GLOBAL = {
    "gl-7-from-to": "!turn the whole scene, from the {SC} to the tiny people, into a {S}",
    "gl-7-not-just": "!give the whole image, not just the sky, a {S} look",
    "gl-7-heading": "style change: the photo should look like a {S}",
    "gl-7-including": "!render the entire picture, including the people, as a {S}",
    "gl-7-time-scene": "make it look like a {TS} scene, if that's doable",
}
# nouns that are also verbs, compounds and their plain neighbours ("stand", "set", "float", "drinks" heading a
# compound)
_R7_COMPOUNDS = [
    "umbrella stand", "music stand", "cake stand", "hat stand", "fruit stand", "hot dog stand", "newspaper stand",
    "plant stand", "drum set", "tea set", "chess set", "train set", "pool float", "ski lift", "bike rack", "coat rack",
    "shoe rack", "lamp post", "stop sign", "traffic light", "parking meter", "candle holder", "phone booth",
    "garden hose", "water tower", "walking stick", "selfie stick", "fishing rod", "sewing kit", "bird bath",
    "night stand", "swing set", "taxi stand", "coffee table",
]
_R7_PARTICIPLES = ["parked", "broken", "abandoned", "folded", "stacked", "overturned", "painted"]
_R7_OWNERS = ["grandmother", "boy", "chef", "old man", "girl", "fisherman", "teacher", "farmer"]
_R7_OWNED = ["knitting basket", "fishing rod", "reading glasses", "sewing kit", "skipping rope", "cutting board",
             "walking stick", "drawing pad"]
_R7_FIXED = ["chained", "tied", "taped", "nailed", "pinned", "fastened", "clipped", "bolted"]
_R7_HOLDERS = ["the lamppost", "the railing", "the fence", "the fridge", "the door", "the gate", "the wall", "the tree"]
_R7_SCENES = ["night-time", "winter", "rainy night", "snowy", "foggy morning", "autumn"]
_R7_NEW_COMPOUNDS = ["a lemonade stand", "a hot dog stand", "an umbrella stand", "a bike rack", "a hat stand",
                     "a music stand", "a tea set", "a coat rack", "a candle holder", "a bird bath"]


def _r7_object(rng: random.Random) -> tuple[str, str]:
    """(written, subject) for an existing object named as a compound, a compound after an ordinal and participle,
    an owner's -ing compound, or a thing fixed to a holder."""
    roll = rng.random()
    compound = rng.choice(_R7_COMPOUNDS)
    if roll < 0.5:
        adjective = rng.choice(["", "", rng.choice(_ADJECTIVES) + " "])
        return f"{rng.choice(_DETERMINERS)} {adjective}{compound}", f"{adjective}{compound}"
    if roll < 0.65:
        ordinal, participle, side = rng.choice(_ORDINALS), rng.choice(_R7_PARTICIPLES), rng.choice(_SIDES)
        noun = rng.choice(["car", "bicycle", "chair", "van", "cart", "boat", compound])
        return f"the {ordinal} {participle} {noun} from the {side}", f"{ordinal} {participle} {noun} from the {side}"
    if roll < 0.8:
        owner, owned = rng.choice(_R7_OWNERS), rng.choice(_R7_OWNED)
        return f"the {owner}'s {owned}", f"{owner}'s {owned}"
    noun = rng.choice(["bicycle", "scooter", "sign", "poster", "note", "lock", "rope", compound])
    adjective = rng.choice(["", "rusty ", "old ", "small "])
    place = f"{rng.choice(_R7_FIXED)} to {rng.choice(_R7_HOLDERS)}"
    return f"the {adjective}{noun} {place}", f"{adjective}{noun} {place}"


def _round7_rows(seed: int, seen: set[str]) -> list[dict]:
    """The seventh round's families (their own random stream: the rows before them do not change)."""
    rng = random.Random(seed + 3)
    rows: list[dict] = []
    sets = ((5, R7_REMOVE, 40), (0, R7_REPLACE, 40), (1, R7_ADD, 30), (2, R7_LOCAL, 30), (3, R7_GLOBAL, 16))
    for s, (itype, templates, families) in enumerate(sets):
        keys = sorted(templates)
        for f in range(families):
            family = f"{itype}-r{s}-{f:04d}"
            edit = _edit_for(itype, "", rng)
            slots = edit.slots
            slots["X"], subject = _r7_object(rng)
            slots["TS"] = rng.choice(_R7_SCENES)
            if itype == 1 and rng.random() < 0.5:
                slots["Y"] = rng.choice(_R7_NEW_COMPOUNDS)
            for key in rng.sample(keys, min(PARAPHRASES_PER_FAMILY, len(keys))):
                template = templates[key]
                text = _render(template, slots)
                if template.startswith("!") and rng.random() < 0.3:
                    text = rng.choice(_FRAMES_FRONT) + text
                if rng.random() < 0.7:
                    text = text[0].upper() + text[1:]
                if text.lower() in seen:
                    continue
                seen.add(text.lower())
                label = "image" if itype == 3 else _subject_of_new(slots["Y"]) if itype == 1 else subject
                rows.append({"instruction": text, "instruction_type": itype, "subject": label,
                             "new_object": _subject_of_new(slots["Y"]) if itype == 0 else "",
                             "family": family, "template": key})
    return rows


TEMPLATES = {**REMOVE, **REPLACE, **ADD, **LOCAL, **GLOBAL, **REFERENCE, **NAMED_REMOVE, **NAMED_REPLACE,
             **NAMED_LOCAL, **NEW_PLACED, **NO_X_REMOVE, **CHAT_REMOVE, **CHAT_REPLACE, **CHAT_ADD, **CHAT_LOCAL,
             **CHAT_GLOBAL, **CHAT_REFERENCE, **R7_REMOVE, **R7_REPLACE, **R7_ADD, **R7_LOCAL, **R7_GLOBAL}
_SETS = ((5, REMOVE, 240), (0, REPLACE, 260), (1, ADD, 240), (2, LOCAL, 320), (3, GLOBAL, 180), (4, REFERENCE, 60))
PARAPHRASES_PER_FAMILY = 5


def build_rows(seed: int = SEED) -> list[dict]:
    """The whole labelled set (deterministic for a seed)."""
    rng = random.Random(seed)
    rows: list[dict] = []
    seen: set[str] = set()
    for itype, templates, families in _SETS:
        keys = sorted(templates)
        for f in range(families):
            family = f"{itype}-{f:04d}"
            edit = _edit_for(itype, "", rng)
            for key in rng.sample(keys, min(PARAPHRASES_PER_FAMILY, len(keys))):
                template = templates[key]
                text = _frame(_render(template, edit.slots), template.startswith("!"), itype, rng)
                if text.lower() in seen:
                    continue
                seen.add(text.lower())
                rows.append({"instruction": text, "instruction_type": itype,
                             "subject": _subject_for(itype, key, template, edit.slots, edit.subject),
                             "new_object": _subject_of_new(edit.slots["Y"]) if itype == 0 else "",
                             "family": family, "template": key})
    return rows + _named_rows(seed, seen) + _chat_rows(seed, seen) + _round7_rows(seed, seen)


def load_rows(path: Path = DATA_FILE) -> list[dict]:
    """The shipped set as rows (instruction, instruction_type, subject, family, template)."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_rows(path: Path = DATA_FILE, seed: int = SEED) -> int:
    rows = build_rows(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return len(rows)


if __name__ == "__main__":  # pragma: no cover - regenerates the shipped file
    print(write_rows(), "rows ->", DATA_FILE)
