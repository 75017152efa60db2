"""The parser's miss classes read from the session-13 check set (parse_blind_s13.jsonl), one group of fresh cases
each (written for this file, none of that set's rows): relative clauses without "that", a participle and what it
acts on, places after environment nouns and before a verb, "take X's place", a preference for a new object where
an old one is, an adjective before a new thing's noun, a new part given to a thing that wears nothing, and a
definite with-phrase of attribute words. Cases marked "guard" pass on the old code too and keep the neighbouring
reading."""
from __future__ import annotations

import pytest

from polaris_core.intent import InstructionType
from polaris_core.parse import get_parser

T = InstructionType


def _rules(instruction: str):
    return get_parser("rules", head=False).parse(instruction)


def _read(instruction: str):
    intent = _rules(instruction)
    return intent.instruction_type, intent.subject


@pytest.mark.parametrize("instruction, itype, subject", [
    ("replace the scarf the snowman is wearing with a bow tie", T.REPLACE, "scarf the snowman is wearing"),
    ("erase the kite the girl holds", T.REMOVE, "kite the girl holds"),
    ("make the bike he rides matte black", T.LOCAL_STYLE, "bike he rides"),
    ("the jacket the farmer has on should be yellow", T.LOCAL_STYLE, "jacket the farmer has on"),
    ("delete the suitcases they carried", T.REMOVE, "suitcases they carried"),
])
def test_a_relative_clause_without_that_identifies_the_object(instruction, itype, subject):
    """ "the scarf the snowman is wearing": a second subject and its verb after the noun say which one; before,
    the phrase ran on into the second subject ("scarf the snowman") or stopped at the noun."""
    assert _read(instruction) == (itype, subject)


@pytest.mark.parametrize("instruction, itype, subject", [
    ("delete the dog chasing the ball", T.REMOVE, "dog chasing the ball"),
    ("the girl feeding the ducks should be a boy", T.REPLACE, "girl feeding the ducks"),
    ("paint the man pushing the stroller blue", T.LOCAL_STYLE, "man pushing the stroller"),
    ("remove the woman wearing a straw hat", T.REMOVE, "woman wearing a straw hat"),
])
def test_a_participle_and_what_it_acts_on_identify_the_object(instruction, itype, subject):
    """ "the dog chasing the ball" is named like "the cat sitting on the fence": the participle's object says
    which dog."""
    assert _read(instruction) == (itype, subject)


@pytest.mark.parametrize("instruction, itype, subject", [
    ("remove the cat, leaving the fence", T.REMOVE, "cat"),
    ("erase the tree blocking the view", T.REMOVE, "tree"),
])
def test_a_clause_about_the_edit_or_the_view_is_no_participle_qualifier(instruction, itype, subject):  # guard
    assert _read(instruction) == (itype, subject)


@pytest.mark.parametrize("instruction, subject", [
    ("make the water under the bridge muddy", "water under the bridge"),
    ("turn the grass by the fence yellow", "grass by the fence"),
    ("make the snow on the roof whiter", "snow on the roof"),
    ("make the lantern on the porch glow brighter", "lantern on the porch"),
])
def test_a_place_after_an_environment_noun_or_before_a_verb_identifies(instruction, subject):
    """ "the water under the bridge": environment nouns are identified by a place like any object (before, their
    place was dropped); "glow" after the place is the change's verb, not the end of the place's noun."""
    assert _read(instruction) == (T.LOCAL_STYLE, subject)


def test_the_one_background_keeps_no_place():  # guard
    assert _read("make the background behind the dog blue") == (T.LOCAL_STYLE, "background")


@pytest.mark.parametrize("instruction, subject", [
    ("let a swan take the duck's place", "duck"),
    ("a lighthouse should occupy the windmill's spot", "windmill"),
    ("have the rocking chair take the stool's position", "stool"),
    ("place a heron in the egret's spot", "egret"),
    ("a tram in the bus's place", "bus"),
])
def test_taking_the_owners_place_replaces_the_owner(instruction, subject):
    """ "take the duck's place" is "take the place of the duck", "in the egret's spot" is "in the spot where the
    egret is"; before, they read as additions."""
    assert _read(instruction) == (T.REPLACE, subject)


@pytest.mark.parametrize("instruction, subject", [
    ("I'd rather have a fox where the cat is sitting", "cat"),
    ("we would prefer a lantern where the candle was", "candle"),
    ("i'd sooner see a canoe where the rowboat is", "rowboat"),
    ("could we get a tortoise where the hare is", "hare"),
    ("how about a kayak where the pedalo is moored", "pedalo"),
])
def test_a_preference_for_a_new_object_where_an_old_one_is_replaces_it(instruction, subject):
    """A preference ("I'd rather have", "we would prefer"), a request ("could we get") or a suggestion ("how
    about") names the new object like "I want"."""
    assert _read(instruction) == (T.REPLACE, subject)


@pytest.mark.parametrize("instruction, subject", [
    ("have a bright comet in the night sky", "bright comet"),
    ("let's have an old lighthouse on the cliff", "old lighthouse"),
])
def test_after_an_adjective_comes_the_new_things_noun_not_its_verb(instruction, subject):
    """ "have a bright comet in the night sky": "comet" before a place is the noun "huge" modifies; before, it
    was read as what the new thing does, and the subject was "bright"."""
    assert _read(instruction) == (T.ADD, subject)


def test_a_colour_word_right_after_the_article_can_be_the_thing():  # guard
    assert _read("make a lemon roll across the table") == (T.ADD, "lemon")


@pytest.mark.parametrize("instruction, subject", [
    ("give the barn a tin roof", "barn"),
    ("give the bridge iron railings", "bridge"),
    ("make the cottage have a thatched roof", "cottage"),
    ("make the oak by the gate have golden leaves", "oak by the gate"),
])
def test_a_thing_given_a_part_in_a_new_material_or_colour_changes_its_look(instruction, subject):
    """A thing that wears nothing (no person, animal or figure) given a part described by colour, material,
    texture or season changes how it looks; before, the part was read as a new object."""
    assert _read(instruction) == (T.LOCAL_STYLE, subject)


@pytest.mark.parametrize("instruction, subject", [
    ("give the scarecrow a straw hat", "straw hat"),
    ("give the girl a yellow umbrella", "yellow umbrella"),
    ("make the dog have a red collar", "red collar"),
])
def test_a_person_animal_or_figure_given_a_thing_gets_a_new_object(instruction, subject):  # guard
    assert _read(instruction) == (T.ADD, subject)


@pytest.mark.parametrize("instruction, itype, subject", [
    ("remove the vase with the floral pattern", T.REMOVE, "vase with the floral pattern"),
    ("swap the rug with the checkered pattern for a mat", T.REPLACE, "rug with the checkered pattern"),
    ("erase the lamp with the brass finish", T.REMOVE, "lamp with the brass finish"),
])
def test_a_definite_with_phrase_of_attribute_words_identifies(instruction, itype, subject):
    """ "the vase with the floral pattern": "the" says the vase has it already, so it says which vase."""
    assert _read(instruction) == (itype, subject)


def test_an_indefinite_with_phrase_after_a_colour_verb_is_the_result():  # guard
    assert _read("paint the mug with a floral pattern") == (T.LOCAL_STYLE, "mug")


@pytest.mark.parametrize("instruction, itype, subject", [
    ("erase the boy who is holding the kite", T.REMOVE, "boy who is holding the kite"),
    ("delete the van that is parked by the hedge", T.REMOVE, "van that is parked by the hedge"),
    ("replace the jug which stands on the windowsill with a vase", T.REPLACE, "jug which stands on the windowsill"),
    ("remove the bucket that is next to the well", T.REMOVE, "bucket that is next to the well"),
    ("remove the chair that is under the window", T.REMOVE, "chair that is under the window"),
    ("make the hedge around the pond darker", T.LOCAL_STYLE, "hedge around the pond"),
])
def test_a_relative_clause_with_who_that_or_which_identifies_the_object(instruction, itype, subject):
    """ "the boy who is holding the kite" is named like "the boy holding the kite"; before, the subject stopped
    at the noun ("boy")."""
    assert _read(instruction) == (itype, subject)


@pytest.mark.parametrize("instruction, subject, prompt", [
    ("have the tiara sparkle silver", "tiara", "silver tiara"),
    ("make the chandelier shine gold", "chandelier", "gold chandelier"),
    ("make the grandfather grin widely", "grandfather", "grin widely"),
])
def test_an_expression_verb_before_the_result_is_not_the_objects_name(instruction, subject, prompt):
    """ "have the tiara sparkle silver": the verb is no part of the object's name ("tiara sparkle") nor of the
    colour; an adverb after an expression ("grin widely") keeps it an expression change (before: a
    replacement)."""
    intent = _rules(instruction)
    assert (intent.instruction_type, intent.subject, intent.generation_prompt) == (T.LOCAL_STYLE, subject, prompt)


# ----------------------------------------------------------------------------- read from the rules' misses on the
# project set (the CV's rows the rules alone read wrong), session 14
@pytest.mark.parametrize("instruction, subject", [
    ("the copper kettle, but teal", "copper kettle"),
    ("My wicker chair, but navy blue please", "wicker chair"),
    ("the velvet curtain, but emerald", "velvet curtain"),
])
def test_an_object_then_but_and_a_colour_keeps_its_whole_name(instruction, subject):
    """ "the copper kettle, but teal": the subject is the phrase as written; before, the first colour or material
    word was read as the change and cut from the subject ("kettle"), or a two-word colour read as a style."""
    assert _read(instruction) == (T.LOCAL_STYLE, subject)


@pytest.mark.parametrize("instruction, subject", [
    ("the kettle should have an amber tint", "kettle"),
    ("the old tractor should get a glossy finish", "old tractor"),
    ("the shed should have a slate roof", "shed"),
])
def test_an_object_that_should_have_a_tint_or_a_part_in_a_new_material_changes_its_look(instruction, subject):
    """ "the kettle should have an amber tint": a tint, finish or look is no new object (before: an addition)."""
    assert _read(instruction) == (T.LOCAL_STYLE, subject)


def test_a_person_who_should_have_a_thing_gets_it():  # guard
    assert _read("the boy should have a red cap") == (T.ADD, "red cap")


@pytest.mark.parametrize("instruction, subject", [
    ("the mailbox needs a jet black paint job", "mailbox"),
    ("this gate needs a sky blue makeover", "gate"),
])
def test_a_paint_job_in_a_two_word_colour_is_a_local_change(instruction, subject):
    """A look noun ("paint job", "makeover") is never a replacement, whatever colour words come before it."""
    assert _read(instruction) == (T.LOCAL_STYLE, subject)


@pytest.mark.parametrize("instruction, subject", [
    ("rid the porch of the muddy boots", "muddy boots"),
    ("could you rid the beach of that red buoy", "red buoy"),
    ("hide the ladder completely", "ladder"),
    ("hide the old sign so only the background shows", "old sign"),
])
def test_ridding_a_place_of_a_thing_or_hiding_it_completely_removes_it(instruction, subject):
    assert _read(instruction) == (T.REMOVE, subject)


def test_hiding_a_thing_behind_another_removes_nothing():  # guard
    assert _read("hide the cat behind the curtain")[0] != T.REMOVE


def test_a_new_object_described_by_what_it_wears_goes_in_the_spot_of_the_old():
    """ "a diver in a wetsuit in the spot the swimmer occupies": the new object's own phrase ("in a wetsuit")
    does not stop the reading (before: an addition of "spot the swimmer occupies")."""
    assert _read("give me a diver in a wetsuit in the spot the swimmer occupies") == (T.REPLACE, "swimmer")


# ----------------------------------------------------------------------------- fresh probes of the same classes
@pytest.mark.parametrize("instruction, itype, subject", [
    ("make the third lantern from the right glow orange", T.LOCAL_STYLE, "third lantern from the right"),
    ("recolour the van idling at the corner teal", T.LOCAL_STYLE, "van idling at the corner"),
    ("erase the boy standing on the far right", T.REMOVE, "boy standing on the far right"),
    ("turn the bowl the chef is stirring from into a pot", T.REPLACE, "bowl the chef is stirring from"),
    ("make the rug the dog sleeps on crimson", T.LOCAL_STYLE, "rug the dog sleeps on"),
])
def test_a_position_after_a_participle_or_a_verb_and_a_stranded_preposition_stay_with_the_object(
        instruction, itype, subject):
    """ "the van idling at the corner" (a participle then a position), "the third lantern from the right glow"
    (a position then the change's verb), "the rug the dog sleeps on" (a relative clause ending on its
    preposition): the whole qualifier identifies the object."""
    assert _read(instruction) == (itype, subject)


@pytest.mark.parametrize("instruction, subject", [
    ("give the girl on the swing a yellow kite", "yellow kite"),
    ("hand the man by the door an umbrella", "umbrella"),
])
def test_a_receiver_named_by_its_place_is_not_split_inside_the_place(instruction, subject):
    """ "give the girl on the swing a yellow kite": the receiver is "the girl on the swing"; before, the split
    fell at the place's article ("swing a yellow kite")."""
    assert _read(instruction) == (T.ADD, subject)


@pytest.mark.parametrize("instruction, itype, subject", [
    ("paint the spout of the teapot gold", T.LOCAL_STYLE, "spout of the teapot"),
    ("remove the lid of the bin", T.REMOVE, "lid of the bin"),
    ("the chimney of the cottage should be stone", T.LOCAL_STYLE, "chimney of the cottage"),
])
def test_a_part_of_a_named_owner_keeps_its_owner(instruction, itype, subject):
    """ "the spout of the teapot" names its owner like "the teapot's spout" (kept by the convention)."""
    assert _read(instruction) == (itype, subject)


def test_the_colour_of_a_thing_is_no_part_with_an_owner():  # guard
    assert _read("change the colour of the kettle to teal") == (T.LOCAL_STYLE, "kettle")


@pytest.mark.parametrize("instruction, itype, subject", [
    ("repaint the garage door a deep green", T.LOCAL_STYLE, "garage door"),
    ("re-paint the railings black", T.LOCAL_STYLE, "railings"),
    ("imagine the lighthouse as a rocket", T.REPLACE, "lighthouse"),
    ("picture the teapot as a watering can", T.REPLACE, "teapot"),
    ("there's a crisp packet on the grass \u2014 get rid of it", T.REMOVE, "crisp packet"),
])
def test_repaint_imagine_as_and_a_dash_between_clauses(instruction, itype, subject):
    """ "repaint X C" reads like "paint X C"; "imagine X as Y" like "what if X were Y"; a dash parts the clause
    that names the object from the one that edits it (before: the whole text, an addition of "Y", or the
    addition of the crisp packet)."""
    assert _read(instruction) == (itype, subject)


@pytest.mark.parametrize("instruction, itype, subject", [
    ("a comet should appear above the mountains", T.ADD, "comet"),
    ("add a dog stretched out on the porch", T.ADD, "dog"),
    ("put a fox curled up under the tree", T.ADD, "fox"),
    ("the girl's skirt should have stripes", T.LOCAL_STYLE, "girl's skirt"),
])
def test_a_new_thing_that_appears_or_lies_curled_up_and_a_pattern_it_should_have(instruction, itype, subject):
    """ "a comet should appear above the mountains" adds it (before: a replacement); "curled up" after a new thing
    is its pose, not its name; a pattern the thing should have is a new look, not an added object."""
    assert _read(instruction) == (itype, subject)


def test_a_light_switched_on_in_a_place_is_out_of_scope():
    intent = get_parser("rules").parse("switch the lamps off in the hallway")
    assert intent.confidence <= 0.3 and intent.ambiguous
