"""The failure classes of issue 23, one group of fresh cases each (written for this file, not taken from any
benchmark): spatial additions, attribute changes, qualified subjects, local changes however phrased, and
edits that are none of the six types."""
from __future__ import annotations

import pytest

from polaris_core.intent import InstructionType
from polaris_core.parse import get_parser, parse

T = InstructionType


def _rules(instruction: str):
    return get_parser("rules", head=False).parse(instruction)


# ----------------------------------------------------------------------------- spatial additions
@pytest.mark.parametrize("instruction, subject", [
    ("add a brass lantern on the left of the bookcase", "brass lantern"),
    ("On the right side of the armchair, add a reading lamp", "reading lamp"),
    ("put a small round rug to the left of the bed", "small round rug"),
    ("add on the right of the fireplace a wicker basket", "wicker basket"),
    ("add, to the left of the piano, a coat rack", "coat rack"),
    ("add a heron right next to the pond", "heron"),
    ("add a cactus just left of the window", "cactus"),
    ("a bonsai by the door would be nice", "bonsai"),
    ("place a round mirror above the sink on the right", "round mirror"),
])
def test_spatial_additions_name_the_added_object(instruction, subject):
    """Never the position word ("left") or the reference object: a place phrase is skipped wherever it stands,
    and "round" before a noun is an adjective, not the preposition."""
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject) == (T.ADD, subject), intent.notes


# ----------------------------------------------------------------------------- attribute changes
@pytest.mark.parametrize("instruction, subject, prompt", [
    ("change the colour of the glass oval bowl to green", "glass oval bowl", "green oval bowl"),
    ("paint the black gate white", "black gate", "white gate"),
    ("change the material of the wooden round stool to marble", "wooden round stool", "marble round stool"),
    ("make the red round balloon yellow", "red round balloon", "yellow round balloon"),
    ("change the material of the stone white bench to oak", "stone white bench", "oak white bench"),
])
def test_attribute_changes_keep_the_noun_phrase_and_a_consistent_prompt(instruction, subject, prompt):
    """The subject is the whole phrase as written (for the mask); the prompt describes the result and drops the
    words the change replaces, so it never says "white black gate"."""
    intent = _rules(instruction)
    assert intent.instruction_type == T.LOCAL_STYLE
    assert (intent.subject, intent.generation_prompt) == (subject, prompt)


# ----------------------------------------------------------------------------- qualified subjects
@pytest.mark.parametrize("instruction, itype, subject", [
    ("remove the plate with the blue rim", T.REMOVE, "plate with the blue rim"),
    ("replace the third candle from the right with a rose", T.REPLACE, "third candle from the right"),
    ("erase the cyclist on the far left", T.REMOVE, "cyclist on the far left"),
    ("delete the bottle (the green one) from the shelf", T.REMOVE, "bottle (the green one)"),
    ("the umbrella in the top right corner should be removed", T.REMOVE, "umbrella in the top right corner"),
    ("paint the door with the brass knocker dark green", T.LOCAL_STYLE, "door with the brass knocker"),
])
def test_qualified_subjects_keep_what_identifies_the_object(instruction, itype, subject):
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject) == (itype, subject), intent.notes


@pytest.mark.parametrize("instruction, subject", [
    ("remove the cup from the table", "cup"),              # where it is taken from, not which cup
    # a new object: its own with-phrase describes it (session 16), the place it goes does not
    ("add a cat with a bell collar on the sofa", "cat with a bell collar"),
    ("remove the cup from the left shelf", "cup"),
])
def test_places_that_do_not_identify_the_object_stay_out(instruction, subject):
    assert _rules(instruction).subject == subject


# ----------------------------------------------------------------------------- local changes, however phrased
@pytest.mark.parametrize("instruction, subject", [
    ("I wish the kettle were mint green", "kettle"),
    ("the lampshade should end up pale yellow", "lampshade"),
    ("in the final picture the bench is navy blue", "bench"),
    ("if only the tablecloth was checkered", "tablecloth"),
    ("give the old barn a weathered, rustic look", "old barn"),
])
def test_a_change_to_a_named_object_stays_local(instruction, subject):
    intent = parse(instruction)  # rules + type head
    assert (intent.instruction_type, intent.subject) == (T.LOCAL_STYLE, subject), intent.notes


def test_wishes_for_new_or_gone_objects():
    assert (_rules("I wish there were a few ducks on the pond").instruction_type) == T.ADD
    gone = _rules("I wish the scaffolding wasn't there")
    assert (gone.instruction_type, gone.subject) == (T.REMOVE, "scaffolding")


# ----------------------------------------------------------------------------- out of scope
@pytest.mark.parametrize("instruction", [
    "zoom out", "zoom out a little", "turn the lights off", "switch off the lamps", "rotate the picture by 90 degrees",
    "show the house from above", "change the camera angle", "make it 4k",
])
def test_out_of_scope_edits_get_low_confidence_and_a_note(instruction):
    intent = parse(instruction)
    assert intent.confidence <= 0.35, (intent.instruction_type, intent.confidence)
    assert intent.ambiguous and intent.readings
    assert any("none of the six edit types" in note for note in intent.notes), intent.notes


def test_in_scope_lookalikes_stay_confident():
    """A lamp turned into something else, or a zoomed-in detail named as an object, is still an edit."""
    assert parse("turn the lamp into a vase").confidence > 0.8
    assert parse("remove the camera from the tripod").instruction_type == T.REMOVE
    assert not parse("remove the camera from the tripod").ambiguous


# ----------------------------------------------------------------------------- background and two-word colours
@pytest.mark.parametrize("instruction, prompt", [
    ("New backdrop: a foggy harbour at dawn", "foggy harbour at dawn"),
    ("new setting - a crowded night market", "crowded night market"),
    ("please change the setting to a snowy mountain pass", "snowy mountain pass"),
    ("the backdrop ought to be a wall of old books", "wall of old books"),
    ("switch the scenery to a desert canyon", "desert canyon"),
])
def test_a_new_setting_changes_the_background(instruction, prompt):
    """ "setting", "backdrop", "scenery" name the background: the subject is "background" (masked as such), and a
    heading with no verb ("New backdrop: ...") is read too."""
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject) == (T.LOCAL_STYLE, "background"), intent.notes
    assert prompt in intent.generation_prompt


@pytest.mark.parametrize("instruction, subject, colour", [
    ("make the tractor pitch black", "tractor", "pitch-black"),
    ("paint the front door navy blue", "front door", "navy-blue"),
    ("turn the scooter blood red", "scooter", "blood-red"),
    ("make the sky blue", "sky", "blue"),   # "sky" after "the" is the object, not half a colour
])
def test_a_two_word_colour_is_not_part_of_the_object(instruction, subject, colour):
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject) == (T.LOCAL_STYLE, subject), intent.notes
    assert intent.generation_prompt.split()[0] == colour


# ----------------------------------------------------------------------------- the edit behind a filler or a means
@pytest.mark.parametrize("instruction, itype, subject, prompt", [
    ("tidy up the picture by deleting the stray shopping cart", T.REMOVE, "stray shopping cart", None),
    ("improve this photo by erasing the power lines", T.REMOVE, "power lines", None),
    ("shuffle things around so a red fox sits where the stump was", T.REPLACE, "stump", "red fox"),
    ("a paper kite stands where the flagpole was", T.REPLACE, "flagpole", "paper kite"),
    ("let a wicker chair take over from the plastic stool", T.REPLACE, "plastic stool", "wicker chair"),
    ("the rusty bicycle is gone and a scooter is there now", T.REPLACE, "rusty bicycle", "scooter"),
    ("the stone bench has disappeared and a swing is in its place", T.REPLACE, "stone bench", "swing"),
    ("the rusty bicycle is gone", T.REMOVE, "rusty bicycle", None),
])
def test_the_edit_is_read_past_fillers_and_means(instruction, itype, subject, prompt):
    """The picture cleaned "by removing X" is not the object; "things around so" says nothing; "Y takes over from
    X" and "X is gone and Y is there" put Y in X's place."""
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject) == (itype, subject), intent.notes
    if prompt is not None:
        assert intent.generation_prompt == prompt


@pytest.mark.parametrize("instruction, itype, subject", [
    ("the iron gate clad in ivy should be gold", T.LOCAL_STYLE, "iron gate"),
    ("haul the old tyre out of the picture", None, "old tyre"),  # the type is the head's to decide
    ("Clear the folding ladder away please", T.REMOVE, "folding ladder"),
    ("a cactus needs adding beside the door", T.ADD, "cactus"),
    ("this cracked jug needs deleting please", None, "cracked jug"),
    ("Let a blue kite occupy the spot of the lamp post", T.REPLACE, "lamp post"),
])
def test_the_object_name_stops_before_the_verb(instruction, itype, subject):
    """ "clad", "needs", "out", "away" end the object's name; "Y occupies the spot of X" puts Y in X's place."""
    intent = _rules(instruction)
    assert intent.subject == subject, intent.notes
    assert itype is None or intent.instruction_type == itype, intent.notes


# ----------------------------------------------------------------------------- qualifiers naming visible parts
@pytest.mark.parametrize("instruction, itype, subject", [
    ("erase the towel with the blue stripes", T.REMOVE, "towel with the blue stripes"),
    ("delete the teacup with the gold dots", T.REMOVE, "teacup with the gold dots"),
    ("replace the scarf with the orange spots with a tie", T.REPLACE, "scarf with the orange spots"),
    ("remove the wall with the white tiles", T.REMOVE, "wall with the white tiles"),
])
def test_a_with_phrase_naming_parts_identifies_the_object(instruction, itype, subject):
    """ "stripes", "dots", "tiles" sit in the attribute lists beside "striped", "dotted", "tiled", but a plural
    head names parts one can see, so the with-phrase picks out which object (it was cut off before)."""
    for intent in (_rules(instruction), parse(instruction)):
        assert (intent.instruction_type, intent.subject) == (itype, subject), intent.notes


def test_a_with_phrase_naming_attributes_stays_out():
    """A plural attribute noun ("colours") is not a part: the qualifier test is unchanged for it."""
    assert _rules("remove the chair with the bright colours").subject == "chair"


# ----------------------------------------------------------------------------- "switch X (out) for Y"
@pytest.mark.parametrize("instruction, subject, prompt", [
    ("switch the kettle out for a lantern", "kettle", "lantern"),
    ("switch the wicker chair for a beanbag", "wicker chair", "beanbag"),
    ("just switch this vase out with a cactus", "vase", "cactus"),
])
def test_switch_for_replaces_the_first_object(instruction, subject, prompt):
    """The rules read "switch" as a replacement when a for/with object follows (before: an unread local change
    at 0.3 whose subject the tagger could take from the new object)."""
    for intent in (_rules(instruction), parse(instruction)):
        assert (intent.instruction_type, intent.subject, intent.generation_prompt) == (T.REPLACE, subject, prompt)


def test_switch_on_off_and_switch_to_keep_their_readings():
    assert _rules("switch the porch light off").instruction_type == T.LOCAL_STYLE
    assert _rules("switch the sky to a sunset").instruction_type == T.LOCAL_STYLE


# ----------------------------------------------------------------------------- "free of X"
@pytest.mark.parametrize("instruction, subject", [
    ("the picture should be free of seagulls", "seagulls"),
    ("the final shot must be completely free of cables", "cables"),
    ("make the image free of road signs", "road signs"),
    ("keep the desk clear of papers", "papers"),
    ("the lawn should be free of leaves", "leaves"),
])
def test_free_of_removes_what_follows(instruction, subject):
    """What follows "free of" / "clear of" goes; before, the whole image was the subject of a global change."""
    for intent in (_rules(instruction), parse(instruction)):
        assert (intent.instruction_type, intent.subject) == (T.REMOVE, subject), intent.notes


# ----------------------------------------------------------------------------- -ing compounds after adjectives
@pytest.mark.parametrize("instruction, itype, subject", [
    ("delete the wooden chopping board", T.REMOVE, "wooden chopping board"),
    ("if only the grey cooling tower were a lighthouse", T.REPLACE, "grey cooling tower"),
    ("replace the old scrubbing brush with a sponge", T.REPLACE, "old scrubbing brush"),
])
def test_an_ing_word_after_adjectives_modifies_the_noun(instruction, itype, subject):
    """With only adjectives before it, an -ing word cannot trail a noun as a participle: it is part of a compound
    ("chopping board"), listed or not."""
    assert (_rules(instruction).instruction_type, _rules(instruction).subject) == (itype, subject)


@pytest.mark.parametrize("instruction, subject", [
    ("erase the old man walking his dog", "old man"),
    ("delete the grey cat licking its paw", "grey cat"),
])
def test_a_participle_after_a_noun_still_ends_the_phrase(instruction, subject):
    """A participle with an object ("walking his dog") ends the phrase; one followed by a place identifies the
    object and stays (see test_a_participle_and_its_place_identify_the_object)."""
    assert _rules(instruction).subject == subject


# ----------------------------------------------------------------------------- qualifiers before a result
@pytest.mark.parametrize("instruction, itype, subject", [
    ("paint the fourth white bollard from the left orange", T.LOCAL_STYLE, "fourth white bollard from the left"),
    ("make the canoe at the back bright yellow", T.LOCAL_STYLE, "canoe at the back"),
    ("turn the second teapot from the right into a cactus", T.REPLACE, "second teapot from the right"),
    ("change the colour of the third stool from the left to teal", T.LOCAL_STYLE, "third stool from the left"),
    ("make the surface of the wooden crate glossy", T.LOCAL_STYLE, "wooden crate"),
])
def test_a_qualifier_stays_with_the_subject_before_a_result(instruction, itype, subject):
    """An ordinal's "from the left" is its reference, not a "change X from Z to Y" source; a position followed
    only by colour words ends there (the colours are the result); "the surface of X" names X like "the colour
    of X" does."""
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject) == (itype, subject), intent.notes


def test_a_position_before_a_noun_is_still_part_of_it():
    """ "on the left shelf" is a place (a shelf), not the position "on the left": it identifies the cup."""
    assert _rules("remove the cup on the left shelf").subject == "cup on the left shelf"


# ----------------------------------------------------------------------------- one object gone, another there
@pytest.mark.parametrize("instruction, subject, prompt", [
    ("the clay jug is gone, and now a lantern is there", "clay jug", "lantern"),
    ("the rusty bucket has vanished and there is a watering can now", "rusty bucket", "watering can"),
    ("the old radio is gone and in its place is a record player", "old radio", "record player"),
])
def test_gone_and_something_there_is_a_replacement(instruction, subject, prompt):
    """However the second clause is ordered, it names the new object (before: read as a removal)."""
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject, intent.generation_prompt) == (T.REPLACE, subject, prompt)


# ----------------------------------------------------------------------------- passive additions, outcomes
@pytest.mark.parametrize("instruction, itype, subject", [
    ("a wicker basket should be added beside the door", T.ADD, "wicker basket"),
    ("a heron is to be placed on the left of the pond", T.ADD, "heron"),
    ("make a paper lantern appear in the night sky", T.ADD, "paper lantern"),
    ("in the edited photo a bicycle stands where the old painting was", T.REPLACE, "old painting"),
])
def test_new_objects_described_rather_than_ordered(instruction, itype, subject):
    """A new object (indefinite) that "should be added" or "appears" somewhere is added, never a replacement by
    its place or a move to a new setting; an outcome ("in the edited photo ...") is read like the bare clause,
    and "the old painting" there is an object in the picture, not an art style."""
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject) == (itype, subject), intent.notes


# ----------------------------------------------------------------------------- "show X behind Y"
@pytest.mark.parametrize("instruction, itype, subject, prompt", [
    # a scene behind an object is its new setting (the project's convention: a background change)...
    ("show a desert with dunes behind the lamp", T.LOCAL_STYLE, "background", "desert with dunes"),
    ("show a pebble beach at dusk behind the bicycle", T.LOCAL_STYLE, "background", "pebble beach at dusk"),
    # ...a thing behind an object is added
    ("show a fox with a red tail behind the fence", T.ADD, "fox with a red tail", "fox with a red tail behind the fence"),
    ("show a tall cactus behind the armchair", T.ADD, "tall cactus", "tall cactus behind the armchair"),
])
def test_show_something_behind_an_object(instruction, itype, subject, prompt):
    """The scene's own qualifier ("with dunes", "at dusk") no longer hides the "behind" that makes it a setting."""
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject, intent.generation_prompt) == (itype, subject, prompt)


# ----------------------------------------------------------------------------- removals said as negations or wishes
@pytest.mark.parametrize("instruction, subject", [
    ("the kitchen should contain no magnets", "magnets"),
    ("the shelf must have no more books", "books"),
    ("the photo would look much better without the parked van", "parked van"),
    ("pretend the rusty swing was never there", "rusty swing"),
    ("imagine the bus stop never existed", "bus stop"),
    ("if only the crane had never been there", "crane"),
])
def test_removals_said_as_negations_or_wishes(instruction, subject):
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject) == (T.REMOVE, subject), intent.notes


def test_wishes_that_change_a_look_stay_local():
    assert _rules("imagine the sky was purple").instruction_type == T.LOCAL_STYLE


# ----------------------------------------------------------------------------- owners, places, participles (round 3)
# Fresh cases, written for this file. Each failed on the parser before this round (subject cut to the head noun,
# or the wrong type), which the commit message records.
@pytest.mark.parametrize("instruction, itype, subject", [
    ("make the bride's veil ivory", T.LOCAL_STYLE, "bride's veil"),
    ("swap the fisherman's bucket for a lobster trap", T.REPLACE, "fisherman's bucket"),
    ("erase the toddler's sock", T.REMOVE, "toddler's sock"),
    ("change the colour of the old woman's shawl to teal", T.LOCAL_STYLE, "old woman's shawl"),
    ("the twins' kites should be removed", T.REMOVE, "twins' kites"),
])
def test_the_owner_stays_with_what_it_owns(instruction, itype, subject):
    """The possessor says which scarf: it stays in the subject (and `normalize_subject` no longer strips it)."""
    for intent in (_rules(instruction), parse(instruction)):
        assert (intent.instruction_type, intent.subject) == (itype, subject), intent.notes


def test_an_owner_that_is_the_picture_or_an_attribute_owner_is_not_kept():
    assert _rules("make the photo's sky darker").subject == "sky"
    assert _rules("change the hedgehog's colour to white").subject == "hedgehog"


@pytest.mark.parametrize("instruction, itype, subject", [
    ("remove the jar on the windowsill", T.REMOVE, "jar on the windowsill"),
    ("replace the poster above the radiator with a clock", T.REPLACE, "poster above the radiator"),
    ("make the pillows on the armchair mustard yellow", T.LOCAL_STYLE, "pillows on the armchair"),
    ("wipe out the chalk drawing on the pavement", T.REMOVE, "chalk drawing on the pavement"),
    ("the bin next to the gate has to go", T.REMOVE, "bin next to the gate"),
    ("paint the stool under the counter jet black", T.LOCAL_STYLE, "stool under the counter"),
    ("replace the photo on the mantelpiece with a candle", T.REPLACE, "photo on the mantelpiece"),
])
def test_a_place_that_identifies_an_existing_object_stays(instruction, itype, subject):
    """Where an object already in the picture is picks it out; "the photo on the mantelpiece" is an object, not
    the whole picture."""
    for intent in (_rules(instruction), parse(instruction)):
        assert (intent.instruction_type, intent.subject) == (itype, subject), intent.notes


@pytest.mark.parametrize("instruction, itype, subject", [
    ("remove the mirror from the hallway wall", T.REMOVE, "mirror"),     # where it is taken from
    ("take the scarf off the snowman", T.REMOVE, "scarf"),
    ("add a teapot on the counter", T.ADD, "teapot"),                     # where the new thing goes
    ("put a cushion on the bench", T.ADD, "cushion"),
    ("paint the barn in the style of Hopper", T.LOCAL_STYLE, "barn"),      # a style, not a place
    ("make the vase on the shelf a lantern", T.REPLACE, "vase on the shelf"),
])
def test_a_source_a_destination_or_a_result_is_not_a_place_that_identifies(instruction, itype, subject):
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject) == (itype, subject), intent.notes


@pytest.mark.parametrize("instruction, itype, subject", [
    ("delete the gull perched on the railing", T.REMOVE, "gull perched on the railing"),
    ("replace the van parked outside the bakery with a tram", T.REPLACE, "van"),  # "outside" is no listed place
    ("replace the van parked beside the bakery with a tram", T.REPLACE, "van parked beside the bakery"),
    ("get rid of the drone hovering over the lake", T.REMOVE, "drone hovering over the lake"),
    ("make the coat hanging on the hook red", T.LOCAL_STYLE, "coat hanging on the hook"),
    ("erase the boy standing behind the fountain", T.REMOVE, "boy standing behind the fountain"),
])
def test_a_participle_and_its_place_identify_the_object(instruction, itype, subject):
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject) == (itype, subject), intent.notes


@pytest.mark.parametrize("instruction, itype, subject", [
    ("make a squirrel leap onto the bird feeder", T.ADD, "squirrel"),
    ("let a heron land on the jetty", T.ADD, "heron"),
    ("a fox should be sitting on the log", T.ADD, "fox"),
    ("a rowing boat ought to be floating on the pond", T.ADD, "rowing boat"),
    ("the shot would look cleaner with no wires in it", T.REMOVE, "wires"),
    ("this picture would be better with no tourists", T.REMOVE, "tourists"),
])
def test_new_things_made_to_appear_and_pictures_better_with_no_x(instruction, itype, subject):
    """An indefinite thing made to act somewhere, or described as being somewhere, is added; "with no X" removes X."""
    for intent in (_rules(instruction), parse(instruction)):
        assert (intent.instruction_type, intent.subject) == (itype, subject), intent.notes


@pytest.mark.parametrize("instruction, itype, subject", [
    ("make the girl laugh", T.LOCAL_STYLE, "girl"),              # in the picture: she is changed, not added
    ("the armchair should be velvet", T.LOCAL_STYLE, "armchair"),
])
def test_objects_already_there_stay_local(instruction, itype, subject):
    intent = parse(instruction)
    assert (intent.instruction_type, intent.subject) == (itype, subject), intent.notes


# ----------------------------------------------------------------------------- session 12: structures the rules missed
@pytest.mark.parametrize("instruction, subject, prompt", [
    ("the rusty bike out, a red scooter in", "rusty bike", "red scooter"),
    ("out with the plastic chairs, in with a wooden bench", "plastic chairs", "wooden bench"),
    ("out goes the fern, in comes a cactus", "fern", "cactus"),
    ("not the teapot but a jug", "teapot", "jug"),
    ("Not this stool, but a beanbag please", "stool", "beanbag"),
    ("give me a birdhouse in the spot the lantern occupies", "lantern", "birdhouse"),
    ("put a fern in the place where the radio is", "radio", "fern"),
    ("the lamp post becomes a palm tree", "lamp post", "palm tree"),
    ("the sofa turns into a hammock", "sofa", "hammock"),
])
def test_one_object_out_another_in(instruction, subject, prompt):
    """An object that goes out while another comes in, is denied in favour of another, or has another put in its
    spot is replaced (before: a removal, an addition or an unread local change)."""
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject, intent.generation_prompt) == (T.REPLACE, subject, prompt), \
        intent.notes


def test_zooming_out_and_in_is_no_replacement():
    assert _rules("zoom out, then zoom in").instruction_type != T.REPLACE


@pytest.mark.parametrize("instruction, subject", [
    ("fill in the gap where the bucket was with whatever is behind it", "bucket"),
    ("fill the area where the road sign is with the background, it spoils the view", "road sign"),
    ("the same shot minus the parked van", "parked van"),
    ("I can't stand the plastic flamingo, get it out", "plastic flamingo"),
    ("make sure no cables are left on the desk", "cables"),
])
def test_removals_said_by_what_fills_the_place(instruction, subject):
    """Filling a place with what is behind it, the picture "minus" a thing, a thing disliked and then taken out
    by a pronoun, and "make sure no X are left" all remove it."""
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject) == (T.REMOVE, subject), intent.notes


@pytest.mark.parametrize("instruction, subject", [
    ("sneak a hedgehog into the picture by the steps", "hedgehog"),
    ("slip a paper boat into the scene on the pond", "paper boat"),
    ("work a tiny snail into the photo near the leaves", "tiny snail"),
    ("the knight with a shield", "shield"),
    ("The old farmer with a straw hat!", "straw hat"),
    ("dress the scarecrow in a top hat", "top hat"),
])
def test_new_objects_brought_in_or_described(instruction, subject):
    """Any verb that brings a new object into the picture adds it; a verbless "the X with a Y" describes X with a
    new Y; "dress X in a Y" adds the Y."""
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject) == (T.ADD, subject), intent.notes


def test_a_with_phrase_that_identifies_adds_nothing():
    """A definite with-phrase picks the object out: "the mug with the chipped handle" adds no handle."""
    assert _rules("the mug with the chipped handle").instruction_type != T.ADD
    assert _rules("remove the kettle with a dented lid").subject == "kettle with a dented lid"


@pytest.mark.parametrize("instruction, subject", [
    ("erase the brown bird singing on the branch", "brown bird singing on the branch"),
    ("remove the striped kite flying over the hill", "striped kite flying over the hill"),
    ("erase the small horse grazing by the gate", "small horse grazing by the gate"),
    ("remove the person ice skating", "person"),  # an activity compound still drops its first half
])
def test_a_participle_after_adjective_and_noun_keeps_the_noun(instruction, subject):
    """ "kite", "horse" can start an activity ("kite flying"), but after an adjective they are the head; the
    participle and its place identify the object, so they stay in the subject (the mask's noun phrase)."""
    assert _rules(instruction).subject == subject


@pytest.mark.parametrize("instruction, prompt", [
    ("move the bench to a train station", "train station"),
    ("set the teapot against a bamboo grove", "bamboo grove"),
    ("transport the armchair into a quiet museum", "quiet museum"),
    ("put the bicycle on the surface of the moon", "surface of the moon"),
    ("make the background outer space", "outer space"),
])
def test_a_place_the_lexicon_did_not_know_is_a_setting(instruction, prompt):
    """A station, grove, museum or the moon's surface is somewhere to stand: the object gets a new background
    (before: an added station, or "background outer" as the subject)."""
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject) == (T.LOCAL_STYLE, "background"), intent.notes
    assert prompt in intent.generation_prompt


def test_a_place_named_as_the_object_stays_an_object():
    """Only as a destination is a station or a chapel a setting: replaced or removed, it is a thing in the picture."""
    assert (_rules("replace the old chapel with a lighthouse").instruction_type,
            _rules("replace the old chapel with a lighthouse").subject) == (T.REPLACE, "old chapel")
    assert _rules("swap the train station for a windmill").instruction_type == T.REPLACE


@pytest.mark.parametrize("instruction, subject", [
    ("paint the gate teal, keeping its shape", "gate"),
    ("make the lamp golden but leave everything else as it is", "lamp"),
    ("turn the sky violet, nothing else should change", "sky"),
    ("Quick edit: dye the scarf crimson", "scarf"),
    ("the bicycle in turquoise", "bicycle"),  # guard: right on the old code too
    ("End result: the kettle in matte black", "kettle"),
    ("give the chair a weathered look", "chair"),
    ("the bike needs a glossy paint job", "bike"),  # guard: right on the old code too
    ("dress the girl in green", "girl"),  # guard: right on the old code too
    ("add some sparkle to the vase", "vase"),
    ("the tram would look better in cream", "tram"),
])
def test_local_changes_past_closing_clauses_and_verbless(instruction, subject):
    """A closing clause that says what stays ("keeping its shape") and a "quick edit:" heading are not the
    edit; "the X in C" and "X needs a C paint job" are new looks; "a weathered look" is a look even though
    "look" is also a verb; an effect added to an object is no new object."""
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject) == (T.LOCAL_STYLE, subject), intent.notes


@pytest.mark.parametrize("instruction, itype, prompt", [
    ("reimagine the kettle as a lemon", T.REPLACE, "lemon"),
    ("I wish the ball were an orange", T.REPLACE, "orange"),
    ("a plum in place of the candle", T.REPLACE, "plum"),
    ("turn the wall a pale blue", T.LOCAL_STYLE, None),  # guard: right on the old code too
    ("make the car orange", T.LOCAL_STYLE, None),  # guard: right on the old code too
])
def test_one_colour_word_with_an_article_is_an_object(instruction, itype, prompt):
    """ "a lemon", "an orange", "a plum": a single colour word after an article names the fruit; "a pale blue"
    (a shade) and a bare "orange" stay colours."""
    intent = _rules(instruction)
    assert intent.instruction_type == itype, intent.notes
    if prompt is not None:
        assert intent.generation_prompt == prompt


@pytest.mark.parametrize("instruction, itype, subject", [
    ("I want this to look like a faded summer postcard", T.GLOBAL_STYLE, "image"),
    ("plus a paper lantern by the door", T.ADD, "paper lantern"),
    ("add a heap of pebbles by the path", T.ADD, "heap of pebbles"),
    ("remove the pile of laundry from the chair", T.REMOVE, "pile of laundry"),
])
def test_whole_picture_wishes_leading_plus_and_heaps(instruction, itype, subject):
    """ "I want this to look like Y" restyles the whole picture (before: "i want this" was the object); a leading
    "plus" is framing like "also"; a stack, pile or heap keeps its head like a portion (the lead's convention, s16)."""
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject) == (itype, subject), intent.notes


@pytest.mark.parametrize("instruction, subject", [
    ("give the hiker a pair of gloves", "pair of gloves"),
    ("put a pair of sunglasses on the dog", "pair of sunglasses"),
    ("hand the waiter a cup of tea", "cup of tea"),
])
def test_a_pair_of_things_is_kept_whole_like_a_cup_of_coffee(instruction, subject):
    """The project keeps "X of Y" portions whole ("a bouquet of roses"); a pair is one of them."""
    for intent in (_rules(instruction), parse(instruction)):
        assert (intent.instruction_type, intent.subject) == (T.ADD, subject), intent.notes


@pytest.mark.parametrize("instruction, subject", [
    ("the old sailor should be frowning", "old sailor"),
    ("the puppy should be yawning", "puppy"),
    ("I want the baker to wink", "baker"),  # guard: right on the old code too
    ("toss the cracked jug", "cracked jug"),
])
def test_expressions_and_plain_removal_verbs(instruction, subject):
    """ "should be frowning" is a new expression of the same object (before: a replacement by "frowning"); "I
    want X to wink" likewise; "toss" takes an object out like "ditch"."""
    intent = _rules(instruction)
    expected = T.REMOVE if instruction.startswith("toss") else T.LOCAL_STYLE
    assert (intent.instruction_type, intent.subject) == (expected, subject), intent.notes


def test_removal_then_a_request_for_a_new_object_is_a_replacement():
    intent = _rules("toss the dusty radio and give me a gramophone")
    assert (intent.instruction_type, intent.subject, intent.generation_prompt) == (T.REPLACE, "dusty radio", "gramophone")


# ----------------------------------------------------------------------------- session 13: CV miss classes
# Fresh cases, written for this file; each fails on the merge commit before these fixes (except the guards).
@pytest.mark.parametrize("instruction, subject, colour", [
    ("tint the lantern sky blue, keeping its shape", "lantern", "sky-blue"),
    ("spray-paint the mailbox jet black!", "mailbox", "jet-black"),
    ("dye the old woman's scarf snow white.", "old woman's scarf", "snow-white"),
    ("turn the kettle on the stove sky blue!", "kettle on the stove", "sky-blue"),
    ("paint the shed jet black", "shed", "jet-black"),  # guard: right on the old code too
])
def test_a_two_word_colour_before_punctuation_is_one_colour(instruction, subject, colour):
    """ "sky blue," / "jet black!": the punctuation after a two-word colour kept it from being read as one colour,
    so its first word ("sky", "jet", "snow") ended the subject."""
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject) == (T.LOCAL_STYLE, subject), intent.notes
    assert colour in intent.generation_prompt


@pytest.mark.parametrize("instruction, subject", [
    ("recolour the scooter parked beside the fence in teal", "scooter parked beside the fence"),
    ("make the towels folded on the bench jet black", "towels folded on the bench"),
    ("recolour the crates stacked against the wall in mustard yellow", "crates stacked against the wall"),
    ("recolour the lamp placed beside the sofa in olive green", "lamp placed beside the sofa"),
    ("recolour the bike leaning against the wall in teal", "bike leaning against the wall"),  # guard: right before
])
def test_a_colour_after_a_past_participle_and_its_place_is_the_result(instruction, subject):
    """The result after "X <past participle> <place>" said "in teal" or as a two-word colour: the participle and
    place stay with the subject (before: "parked", "folded" read as adjectives starting the result, so the subject
    was cut to "scooter" and the prompt was "scooter with parked beside the fence in teal")."""
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject) == (T.LOCAL_STYLE, subject), intent.notes


@pytest.mark.parametrize("instruction, itype, subject", [
    ("the broken chair shouldn't be there without leaving a trace", T.REMOVE, "broken chair"),
    ("paint the garden gate teal to make it stand out", T.LOCAL_STYLE, "garden gate"),
    ("fill in the spot where the bin is with whatever is behind it so the view is clean", T.REMOVE, "bin"),
    ("erase the ladder without leaving any traces", T.REMOVE, "ladder"),  # guard: right on the old code too
])
def test_a_closing_clause_that_says_how_or_why_names_no_edit(instruction, itype, subject):
    """ "without leaving a trace", "to make it stand out", "so the view is clean" say how or why; read as part of
    the edit they made "shouldn't" part of the subject, "paint ... out" a removal, "whatever" a new object."""
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject) == (itype, subject), intent.notes


@pytest.mark.parametrize("instruction, itype, subject", [
    ("it needs a red kite in the sky", T.ADD, "red kite"),
    ("the photo could use a wooden bench under the tree", T.ADD, "wooden bench"),
    ("this needs a paper lantern over the door", T.ADD, "paper lantern"),
    ("the teapot needs a glossy paint job", T.LOCAL_STYLE, "teapot"),  # guard: right on the old code too
])
def test_a_picture_that_needs_a_new_thing_gets_it(instruction, itype, subject):
    """ "it needs a Y", "the photo could use a Y": the picture lacks a new object, which is added (before: no edit
    read, a local change of "kite"); an object that needs a new look is still changed."""
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject) == (itype, subject), intent.notes


def test_it_needs_a_look_or_a_filter_adds_nothing():  # guard: right on the old code too
    for instruction in ("this needs a vintage filter", "it needs a warmer look"):
        assert _rules(instruction).instruction_type != T.ADD


@pytest.mark.parametrize("instruction, prompt", [
    ("the lampshade should be a peach instead", "peach"),
    ("make the cushion a plum instead", "plum"),
])
def test_one_colour_word_with_an_article_is_an_object_before_instead(instruction, prompt):
    """ "a peach instead" is the fruit, as "a peach" is (before: "instead" made it three words, so a colour)."""
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.generation_prompt) == (T.REPLACE, prompt), intent.notes


@pytest.mark.parametrize("instruction, subject", [
    ("give the bench a rough stone look", "bench"),
    ("give my helmet a glowing crystal look", "helmet"),
    ("give the table a brick look", "table"),
    ("give the chair a weathered look", "chair"),  # guard: right on the old code too
])
def test_a_material_look_given_to_an_object_is_a_local_change(instruction, subject):
    """ "a stone look", "a brick look" name a look, never a new stone or brick to put in its place (before: a
    material that is also a thing made the look a replacement)."""
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject) == (T.LOCAL_STYLE, subject), intent.notes


@pytest.mark.parametrize("instruction, subject", [
    ("strip the faded red awning from the scene", "faded red awning"),
    ("yank the old pram out of the picture", "old pram"),
    ("Pluck the plastic gnome from this photo please", "plastic gnome"),
    ("scrub the graffiti from the photo", "graffiti"),  # guard: right on the old code too
])
def test_any_verb_that_takes_an_object_out_of_the_picture_removes_it(instruction, subject):
    """The mirror of "sneak a fox into the picture": whatever the verb, an object taken from the picture itself
    is removed (before: no edit read, or a colour change of "awning")."""
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject) == (T.REMOVE, subject), intent.notes


def test_a_verb_that_keeps_or_copies_from_the_picture_removes_nothing():  # guard: right on the old code too
    assert _rules("copy the cat from the photo").instruction_type != T.REMOVE


def test_a_wish_for_an_object_gone_from_the_picture_names_the_object():
    """ "want" is no verb that takes the object out: the wish reader reads it (the object alone)."""
    assert _rules("I want the waiter gone from the picture").subject == "waiter"


@pytest.mark.parametrize("instruction, subject", [
    ("just let a windmill stand in for the person, same size and position", "person"),
    ("have a scarecrow take the place of the person", "person"),
])
def test_a_person_the_instruction_names_is_no_pronoun_to_resolve(instruction, subject):
    """ "the person" written out is the object; only a pronoun ("lose him") is resolved to an earlier phrase
    (before: "person" was taken for a placeholder and replaced by "let" or "place")."""
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject) == (T.REPLACE, subject), intent.notes


@pytest.mark.parametrize("instruction, itype, subject", [
    ("the rusty metal gate should feel more weathered", T.LOCAL_STYLE, "rusty metal gate"),
    ("the velvet armchair should not appear in the final picture", T.REMOVE, "velvet armchair"),
    ("this ceramic gnome must not show up", T.REMOVE, "ceramic gnome"),
    ("the cracked stone bench needs erasing", T.REMOVE, "cracked stone bench"),
    ("the leather satchel is much too shiny", T.LOCAL_STYLE, "leather satchel"),
])
def test_a_subject_then_its_verb_keeps_its_colour_and_material_words(instruction, itype, subject):
    """ "X should feel more Y", "X should not appear", "X needs erasing" are read as such; where no frame reads
    a subject-then-verb clause, the colour or material words before the verb still identify the object (before:
    the fallback cut "rusty metal" off as the change and named the "gate")."""
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject) == (itype, subject), intent.notes


def test_a_pronoun_is_still_resolved_and_feeling_at_home_is_no_look():  # guard: right on the old code too
    # since session 16 the pronoun takes the object with what identifies it, as the plain wording reads it
    assert _rules("the tourist in the red cap, lose him").subject == _rules("remove the tourist in the red cap").subject \
        == "tourist in the red cap"
    assert _rules("the cat should feel at home").generation_prompt != "home"


@pytest.mark.parametrize("instruction, subject, prompt", [
    ("make the woman's hair curly", "woman's hair", "woman's curly hair"),
    ("change the girl's dress from blue to purple", "girl's dress", "girl's purple dress"),
    ("paint the old man's white fence red", "old man's white fence", "old man's red fence"),
    ("make the cup on the boy's desk blue", "cup on the boy's desk", "blue cup on the boy's desk"),
    ("paint the white fence red", "white fence", "red fence"),  # guard: no owner, as before
])
def test_a_new_attribute_goes_after_the_owner_in_the_prompt(instruction, subject, prompt):
    """Since the subject keeps its owner, an attribute put before it read "curly woman's hair", "purple girl's
    dress": the generation prompt describes the owner's thing, so the attribute follows the owner."""
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject, intent.generation_prompt) == (T.LOCAL_STYLE, subject, prompt)


@pytest.mark.parametrize("instruction, subject", [
    ("slip a little mouse under the table", "little mouse"),
    ("tuck a sleeping kitten behind the sofa", "sleeping kitten"),
    ("wedge a paper umbrella into the cocktail glass", "paper umbrella"),
])
def test_any_verb_bringing_a_new_thing_to_a_place_in_the_picture_adds_it(instruction, subject):
    """No add verb, no "into the picture": an indefinite new object brought under, behind, into ... something
    already there is added (before: no edit read, and the type head guessed a removal)."""
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject) == (T.ADD, subject), intent.notes


def test_a_remove_verb_with_a_new_looking_object_still_removes():
    # guard: a remove verb never adds, whatever its object's article
    assert _rules("remove a bird from the sky").instruction_type == T.REMOVE


# ----------------------------------------------------------------------------- seventh round (session 16)
# The classes of the s15 set's misses, in wording written for this file (none is an s15 row).
@pytest.mark.parametrize("instruction, itype, subject", [
    ("Delete the music stand.", T.REMOVE, "music stand"),
    ("get rid of the cake stand on the counter", T.REMOVE, "cake stand on the counter"),
    ("Remove the drum set.", T.REMOVE, "drum set"),
    ("Erase the pool float.", T.REMOVE, "pool float"),
    ("Take away the energy drinks.", T.REMOVE, "energy drinks"),
    ("Replace the fruit stand with a flower cart.", T.REPLACE, "fruit stand"),
    ("A lemonade stand should be set up on the sidewalk.", T.ADD, "lemonade stand"),
    ("Erase the fourth parked bicycle from the left.", T.REMOVE, "fourth parked bicycle from the left"),
    ("Swap the boy's skipping rope for a kite.", T.REPLACE, "boy's skipping rope"),
    ("Remove the poster taped to the fridge.", T.REMOVE, "poster taped to the fridge"),
    ("Erase the rusty scooter chained to the fence.", T.REMOVE, "rusty scooter chained to the fence"),
    ("Remove the bicycle tied to the railing.", T.REMOVE, "bicycle tied to the railing"),
    ("Remove the tea set from the tray.", T.REMOVE, "tea set"),
    ("Take out the soft drinks.", T.REMOVE, "soft drinks"),
    ("Paint the music stand gold.", T.LOCAL_STYLE, "music stand"),
    ("Make the ski lift coral.", T.LOCAL_STYLE, "ski lift"),
    ("Add a tea set in the corner.", T.ADD, "tea set"),
    ("The selfie stick is an eyesore, please take it out.", T.REMOVE, "selfie stick"),
])
def test_compound_nouns_and_their_qualifiers_are_kept_whole(instruction, itype, subject):
    """A noun that is also a verb ("stand", "set", "float", "drinks") after a thing heads the compound; a participle
    between modifiers and the noun ("fourth parked bicycle") and an -ing word right after an owner ("boy's skipping
    rope") modify it; an -ed participle with "to" after the noun says where the object is (before: "music",
    "fourth", "boy's", "rusty scooter chained")."""
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject) == (itype, subject), intent.notes


@pytest.mark.parametrize("instruction, subject", [
    ("make the boy stand", "boy"),
    ("remove the car parked by the gate", "car parked by the gate"),
    ("move the chair to the corner", "chair"),
])
def test_a_person_still_stands_and_a_move_is_no_place(instruction, subject):  # guard: right on the old code too
    assert _rules(instruction).subject == subject


def test_in_its_place_after_an_imperative_is_no_replacement_of_its_own():  # guard: right on the old code too
    intent = _rules("Replace the sign with a flag, and put a bench in its place.")
    assert (intent.instruction_type, intent.subject) == (T.REPLACE, "sign")


@pytest.mark.parametrize("instruction, itype, subject", [
    ("The lamp on the desk feels outdated; a brass lantern would look much better there.", T.REPLACE,
     "lamp on the desk"),
    ("The old rug looks shabby; a woven jute rug would look far better there.", T.REPLACE, "old rug"),
    ("The curtains feel gloomy, maybe a soft lemon yellow instead?", T.LOCAL_STYLE, "curtains"),
    ("The shelf looks empty, honestly; a few books would help.", T.ADD, "books"),
    ("um, the lawn feels empty, maybe throw in a birdbath?", T.ADD, "birdbath"),
    ("The kitchen feels dull, maybe some fresh flowers on the table?", T.ADD, "fresh flowers"),
    ("The statue is hideous, could we put a fountain in its place?", T.REPLACE, "statue"),
    ("hmm, could the garbage bin vanish?", T.REMOVE, "garbage bin"),
    ("could the walking stick disappear?", T.REMOVE, "walking stick"),
    ("Is there a way to make the woman look more relaxed?", T.LOCAL_STYLE, "woman"),
    ("Is there any way to make the sky look stormier?", T.LOCAL_STYLE, "sky"),
])
def test_opinions_and_question_frames_are_not_in_the_subject(instruction, itype, subject):
    """A complaint ("X feels outdated") names the object; the offer after it ("a Y would look better there",
    "maybe a colour instead", "a Y would help") is the edit; "could X vanish?" and "is there a way to ..." are
    frames (before: "lamp on the desk feels outdated", "garbage bin vanish", "make")."""
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject) == (itype, subject), intent.notes


@pytest.mark.parametrize("instruction, itype, subject", [
    ("I'd really prefer a lantern instead of the lamp on the desk.", T.REPLACE, "lamp on the desk"),
    ("We'd really prefer a lemon tree instead of the rose bush.", T.REPLACE, "rose bush"),
    ("I would honestly prefer an owl instead of the crow on the fence.", T.REPLACE, "crow on the fence"),
    ("I'd much rather have a cat instead of the dog on the sofa.", T.REPLACE, "dog on the sofa"),
    ("Not keen on the armchair, could we put a rocking chair in its place?", T.REPLACE, "armchair"),
    ("I don't like the fountain, can we have a statue in its place?", T.REPLACE, "fountain"),
    ("Honestly not loving the curtains, could we have blinds in their place?", T.REPLACE, "curtains"),
    ("This empty shelf is screaming for some potted ferns.", T.ADD, "potted ferns"),
    ("The porch could do with a rocking chair.", T.ADD, "rocking chair"),
])
def test_preferences_replace_and_longings_add(instruction, itype, subject):
    """ "I'd (really, much) prefer / rather have a Y instead of X" and "a Y in its place" after naming X replace X;
    a place "crying out / screaming for" or that "could do with" a Y gets it added (before: read as additions of
    the new thing, a removal, or no edit)."""
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject) == (itype, subject), intent.notes


@pytest.mark.parametrize("instruction", [
    "Turn the entire photo, from the sky to the cobblestones, into a felt diorama.",
    "Give the whole picture, not only the water, an infrared-film look.",
    "Style update: the picture should look like a claymation still.",
    "Make it look like a rainy night scene, if that's doable.",
    "Make it look like a snowy scene, if that's doable.",
])
def test_the_whole_picture_with_an_aside_is_a_global_style(instruction):
    """An aside after the whole picture ("from X to Y", "not only X") names no object, a "style update:" heading
    is no subject, and a scene named by its time or weather is the picture's look, not a new background."""
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject) == (T.GLOBAL_STYLE, "image"), intent.notes


@pytest.mark.parametrize("instruction, subject", [
    ("The pigeons on the roof are annoying, get rid of them.", "pigeons on the roof"),
    ("No need for the bucket by the door, please get rid of it.", "bucket by the door"),
    ("Not a fan of the umbrella on the balcony, can it go?", "umbrella on the balcony"),
])
def test_an_object_named_before_its_pronoun_keeps_where_it_is(instruction, subject):
    """The pronoun of "get rid of them" takes the object named before it with where it is, as the subject
    convention keeps it for an object already in the picture (before: "pigeons", "bucket", "umbrella")."""
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject) == (T.REMOVE, subject), intent.notes


# ----------------------------------------------------------------------------- session 16: the eighth round
# Fresh wordings for the classes of the s16 set's misses (none is an s16 row); each fails on the code before it.
@pytest.mark.parametrize("instruction, itype, subject", [
    ("As for the blue mug on the counter, paint it orange.", T.LOCAL_STYLE, "blue mug on the counter"),
    ("Regarding the scarecrow in the field, replace it with a windmill.", T.REPLACE, "scarecrow in the field"),
    ("The bicycle leaning on the fence, get rid of it.", T.REMOVE, "bicycle leaning on the fence"),
    ("The candles on the table, swap them for fairy lights.", T.REPLACE, "candles on the table"),
    ("When it comes to the sofa, make it look like green velvet.", T.LOCAL_STYLE, "sofa"),
    ("The picnic table, set a basket of apples on it.", T.ADD, "basket of apples"),
    ("As far as the fence goes, paint it white.", T.LOCAL_STYLE, "fence"),
    ("The jacket the boy is wearing, make it leather.", T.LOCAL_STYLE, "jacket the boy is wearing"),
    ("Now for the red barn: paint it white.", T.LOCAL_STYLE, "red barn"),
    ("As for the old armchair in the corner, give it a tartan look.", T.LOCAL_STYLE, "old armchair in the corner"),
])
def test_a_topic_then_an_edit_of_it_by_pronoun(instruction, itype, subject):
    """Left dislocation: the topic ("as for X," or a bare "X,") is what the pronoun points at, with what identifies
    it; the type comes from the edit, never the whole picture (an unresolved "it")."""
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject) == (itype, subject), intent.notes


@pytest.mark.parametrize("instruction, itype, subject", [
    ("The curtains are fine, but the sofa should be dark blue.", T.LOCAL_STYLE, "sofa"),
    ("The armchair can stay, but the coffee table has to go.", T.REMOVE, "coffee table"),
    ("I like the mountains, but the power lines should be removed.", T.REMOVE, "power lines"),
    ("The sky is okay, however the fence needs to be white.", T.LOCAL_STYLE, "fence"),
    ("The bed can stay the way it is; but the pillows should be red.", T.LOCAL_STYLE, "pillows"),
    ("The garden looks lovely but the hose on the grass should go.", T.REMOVE, "hose on the grass"),
])
def test_a_kept_clause_before_but_is_no_subject(instruction, itype, subject):
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject) == (itype, subject), intent.notes


@pytest.mark.parametrize("instruction, itype, subject", [
    ("The cat is fine but make it a bit bigger", T.LOCAL_STYLE, "cat"),
    ("The dog looks great, but could you give it a blue collar?", T.ADD, "blue collar"),
])
def test_a_pronoun_after_but_still_points_at_the_kept_thing(instruction, itype, subject):  # guard: right before too
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject) == (itype, subject), intent.notes


def test_a_but_that_gives_a_new_look_is_still_read():  # guard: right on the old code too
    assert _rules("the brass fence, but red").subject == "brass fence"
    assert _rules("remove the car but keep its shadow").subject == "car"


@pytest.mark.parametrize("instruction, subject", [
    ("From the windowsill, the potted cactus should be removed.", "potted cactus"),
    ("Off the kitchen counter, the toaster has to go.", "toaster"),
    ("From the driveway, the car needs to be erased.", "car"),
    ("From the counter, the dirty dishes should be taken away.", "dirty dishes"),
])
def test_a_fronted_place_taken_from_is_not_the_subject(instruction, subject):
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject) == (T.REMOVE, subject), intent.notes


@pytest.mark.parametrize("instruction, subject", [
    ("Add a vase with sunflowers to the table.", "vase with sunflowers"),
    ("put a teapot with a floral pattern on the tray", "teapot with a floral pattern"),
    ("Add a dog with a red bandana next to the bench.", "dog with a red bandana"),
    ("Add a man with glasses reading a book on the bench", "man with glasses"),
    ("Give me a cat with a bow tie sitting on the sofa", "cat with a bow tie"),
])
def test_an_added_object_keeps_its_own_with_phrase(instruction, subject):
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject) == (T.ADD, subject), intent.notes


@pytest.mark.parametrize("instruction, subject", [
    ("The girl by the window should be given a bouquet of tulips.", "bouquet of tulips"),
    ("the old fisherman should be handed a lantern", "lantern"),
    ("The dog needs to be given a bone.", "bone"),
])
def test_x_should_be_given_a_y_adds_y(instruction, subject):
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject) == (T.ADD, subject), intent.notes


@pytest.mark.parametrize("instruction", [
    "i sort of want the photo to look like a watercolor painting",
    "What I'd like is for the picture to be turned into a pencil sketch.",
    "Would love this photo as a Ghibli-style illustration",
    "What we want is the whole image converted to pixel art.",
    "my aunt would love this as a mosaic, can you do that?",
])
def test_a_whole_picture_restyle_in_a_chatty_frame_is_global(instruction):
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject) == (T.GLOBAL_STYLE, "image"), intent.notes


@pytest.mark.parametrize("instruction, prompt", [
    ("my uncle would love this as a chalk drawing, could you make it look like that?", "chalk drawing"),
    ("my mom would love this photo as a linocut print", "linocut print"),
])
def test_someone_would_love_the_picture_as_a_style_names_the_style(instruction, prompt):
    """The style is the prompt, not the request that points back at it ("that") nor the whole sentence."""
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.generation_prompt) == (T.GLOBAL_STYLE, prompt), intent.notes


@pytest.mark.parametrize("instruction", [
    "we uploaded a painting by our grandfather, could this photo get that same look?",
    "I've attached a vintage postcard, can you give my photo its style?",
    "I sent over an art deco poster, can my picture get the same look?",
])
def test_a_picture_the_user_says_they_gave_whose_style_is_pointed_at_is_a_reference(instruction):
    assert _rules(instruction).instruction_type == T.STYLE_REFERENCE


def test_an_uploaded_photo_with_no_style_pointed_at_is_no_reference():  # guard: right on the old code too
    intent = _rules("i uploaded a photo of my dog, please remove the leash")
    assert (intent.instruction_type, intent.subject) == (T.REMOVE, "leash")


@pytest.mark.parametrize("instruction, subject", [
    ("meh, the lamp looks cheap, maybe make it brass?", "lamp"),
    ("honestly not a fan of the carpet, can you make it hardwood?", "carpet"),
    ("ugh the sofa looks so boring, maybe make it bright orange?", "sofa"),
])
def test_a_complaint_then_make_it_y_changes_the_named_object(instruction, subject):
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject) == (T.LOCAL_STYLE, subject), intent.notes


@pytest.mark.parametrize("instruction, itype, subject", [
    ("my son wants the cat to be a tiger, can you do that?", T.REPLACE, "cat"),
    ("my wife would love the curtains to be yellow", T.LOCAL_STYLE, "curtains"),
    ("i'd really appreciate it if the trash can could vanish", T.REMOVE, "trash can"),
    ("The boots don't match the dress, maybe switch them for sandals?", T.REPLACE, "boots"),
    ("I think a fox would look much cooler than the dog on the porch, can you swap it?", T.REPLACE, "dog on the porch"),
    ("I think the mailbox would look amazing in bright red, can you try it?", T.LOCAL_STYLE, "mailbox"),
    ("I feel like the wall is too bare... could you hang a painting on it?", T.ADD, "painting"),
    ("my boss wants the logo gone", T.REMOVE, "logo"),
    ("my mom thinks the sofa is ugly, can you swap it for a leather couch?", T.REPLACE, "sofa"),
])
def test_frames_around_the_subject(instruction, itype, subject):
    """Someone else's wish, a request that only points back ("can you do that", "swap it"), a feeling about the
    object before a request about it: the object is the edit's, the frame's words are not."""
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject) == (itype, subject), intent.notes


@pytest.mark.parametrize("instruction, itype, subject", [
    ("As for the man in the grey suit, erase him.", T.REMOVE, "man in the grey suit"),
    ("ugh the car looks so dull, maybe make it shiny chrome?", T.LOCAL_STYLE, "car"),
    ("Would love this picture as a Ghibli-style drawing, if possible", T.GLOBAL_STYLE, "image"),
])
def test_the_shipped_parser_reads_the_eighth_round_classes(instruction, itype, subject):
    intent = parse(instruction)  # rules + type head + span tagger
    assert (intent.instruction_type, intent.subject) == (itype, subject), intent.notes


def test_a_complaint_is_no_topic():  # guard: right on the old code too
    """ "the ladder ruins it, can it go?": a complaint's verb is no part of a topic's noun phrase."""
    intent = _rules("Honestly the wheelbarrow ruins it, can it go?")
    assert (intent.instruction_type, intent.subject) == (T.REMOVE, "wheelbarrow")


@pytest.mark.parametrize("instruction, subject", [
    ("add a fluffy kitten on the rug", "fluffy kitten"),
    ("put a fluffy cushion on the bench", "fluffy cushion"),
])
def test_an_adjective_ending_in_fy_is_no_ify_verb(instruction, subject):
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject) == (T.ADD, subject), intent.notes


@pytest.mark.parametrize("instruction, itype, subject", [
    ("Keep the lamp, but make it taller", T.LOCAL_STYLE, "lamp"),
    ("I feel like adding a robin to the fence", T.ADD, "robin"),
    ("how about removing the ladder", T.REMOVE, "ladder"),
])
def test_a_kept_object_or_a_gerund_wish_is_read(instruction, itype, subject):
    """ "keep X, but make it ...": "it" is X; "(I feel like) adding a Y ...": the gerund's imperative."""
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject) == (itype, subject), intent.notes


# ----------------------------------------------------------------------------- ninth round (session 16)
@pytest.mark.parametrize("instruction, itype, subject", [
    ("Keep the swans as they are and put a rowing boat on the pond", T.ADD, "rowing boat"),
    ("Leave the horses alone and make the barn bright red", T.LOCAL_STYLE, "barn"),
    ("Without changing the hikers, erase the signpost by the trail", T.REMOVE, "signpost by the trail"),
    ("Without touching anything else, turn the whole picture into a charcoal drawing", T.GLOBAL_STYLE, "image"),
    ("don't touch the lamp, just make the rug green", T.LOCAL_STYLE, "rug"),
])
def test_a_kept_clause_joined_by_and_or_led_by_without_names_no_edit(instruction, itype, subject):
    """ "keep X as they are and <edit>", "without changing X, <edit>": the kept object is no subject, gives no type."""
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject) == (itype, subject), intent.notes


@pytest.mark.parametrize("instruction, subject", [
    ("ugh the cyclist on the left spoiled my photo, can you delete him?", "cyclist on the left"),
    ("the crates by the gate make the yard look cluttered, please take them out", "crates by the gate"),
    ("the kid in the corner photobombed our picture, get rid of him", "kid in the corner"),
    ("please erase that hideous traffic cone", "traffic cone"),
    ("remove the annoying banner on the fence", "banner on the fence"),
])
def test_a_complaints_verb_or_an_opinion_is_no_part_of_the_subject(instruction, subject):
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject) == (T.REMOVE, subject), intent.notes


@pytest.mark.parametrize("instruction, itype, subject", [
    ("The kite the boy is flying over the dunes should be removed", T.REMOVE, "kite the boy is flying over the dunes"),
    ("make the apron worn by the chef on the left blue", T.LOCAL_STYLE, "apron worn by the chef on the left"),
    ("delete the towel that the swimmer left on the bench", T.REMOVE, "towel that the swimmer left on the bench"),
    ("erase the tallest of the four candles on the cake", T.REMOVE, "tallest of the four candles on the cake"),
    ("remove the basket full of apples", T.REMOVE, "basket full of apples"),
])
def test_what_identifies_an_existing_object_is_read_to_its_end(instruction, itype, subject):
    """A place after a relative clause, a participle's agent or a partitive, and "full of", still say which one."""
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject) == (itype, subject), intent.notes


@pytest.mark.parametrize("instruction, itype, subject", [
    ("my boss wants it as a watercolor painting, can you redo the photo?", T.GLOBAL_STYLE, "image"),
    ("just wondering how this would look as a pencil sketch", T.GLOBAL_STYLE, "image"),
    ("What this picture needs is to be turned into an oil painting", T.GLOBAL_STYLE, "image"),
    ("i wonder what it would look like if the bus were a tram", T.REPLACE, "bus"),
    ("my kids would love it if there was a snowman in the yard", T.ADD, "snowman"),
])
def test_chatty_frames_around_a_restyle_a_replacement_or_an_addition(instruction, itype, subject):
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject) == (itype, subject), intent.notes


@pytest.mark.parametrize("instruction", [
    "I sent you a Monet painting, could you make this photo look like it?",
    "my sister painted this watercolour (attached), can my portrait be in that same style",
])
def test_a_reference_named_only_in_words(instruction):
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject) == (T.STYLE_REFERENCE, "image"), intent.notes


@pytest.mark.parametrize("instruction, itype, subject", [
    ("swap the lamp w/ a candle", T.REPLACE, "lamp"),
    ("give the horse polka dots", T.LOCAL_STYLE, "horse"),
    ("the rug looks dull, could it have a moroccan pattern?", T.LOCAL_STYLE, "rug"),
    ("give the cat tiger stripes", T.LOCAL_STYLE, "cat"),
])
def test_w_slash_and_a_pattern_given_to_a_thing(instruction, itype, subject):
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject) == (itype, subject), intent.notes


@pytest.mark.parametrize("instruction, itype, subject", [
    ("keep the dog, but make it smaller", T.LOCAL_STYLE, "dog"),
    ("don't touch the piano, just swap the stool for a velvet bench", T.REPLACE, "stool"),
    ("give the giraffe pink spots", T.LOCAL_STYLE, "giraffe"),
    ("give the dog a striped scarf", T.ADD, "striped scarf"),
    ("Add a hat to the dog without changing the cat", T.ADD, "hat"),
    ("paint the mug the girl is holding in a deep blue", T.LOCAL_STYLE, None),
    ("the boxes by the door are an eyesore, take them out", T.REMOVE, "boxes by the door"),
])
def test_ninth_round_guards(instruction, itype, subject):  # guards: right on the old code too
    intent = _rules(instruction)
    assert intent.instruction_type == itype, intent.notes
    if subject is not None:
        assert intent.subject == subject, intent.notes


def test_the_shipped_parser_reads_a_cleft_addition_with_its_with_phrase():
    """ "X is what we would like placed by the pond": the cleft of "place X by the pond", X's with-phrase kept (before:
    a low-certainty reading, so the span tagger cut the phrase to "wooden bench")."""
    intent = parse("a wooden bench with iron legs is what we would like placed by the pond")
    assert (intent.instruction_type, intent.subject) == (T.ADD, "wooden bench with iron legs"), intent.notes


@pytest.mark.parametrize("framed, plain", [
    ("Please keep the dog.", "keep the dog"),
    ("honestly, the rug is fine", "the rug is fine"),
])
def test_a_framed_last_sentence_that_only_keeps_is_read_like_its_plain_wording(framed, plain):
    """The last sentence is never skipped as a kept clause; it was found by identity, and a framing strip that made
    it a new string left no clause at all (IndexError)."""
    intent = _rules(framed)
    assert (intent.instruction_type, intent.subject) == (_rules(plain).instruction_type, _rules(plain).subject)
