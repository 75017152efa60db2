"""Control characters and escape sequences in an instruction never become words of the subject (issue 21)."""
from __future__ import annotations

import pytest

from polaris_core.parse import parse
from polaris_core.parse.base import prepare_instruction
from polaris_core.parse.normalise import normalise, strip_controls

HOSTILE = [
    "Turn the dog\x1b[31m into a corgi",                 # ANSI colour (CSI)
    "Turn the \x1b[1;31mdog\x1b[0m into a corgi",        # wrapped in CSI sequences
    "Turn the dog\x9b31m into a corgi",                  # the 8-bit CSI
    "Turn the dog\x1b]0;pwned\x07 into a corgi",         # OSC window title, BEL-terminated
    "Turn the dog\x1b]8;;http://x\x1b\\ into a corgi",   # OSC hyperlink, ST-terminated
    "Turn the dog\u202e into a corgi",                   # right-to-left override
    "Turn the d\u200bo\u2066g\u2069 into a corgi",       # zero-width space, bidi isolates inside the word
    "Turn the dog\x07\x00\x85 into a corgi",             # BEL, NUL, C1 NEL
    "Turn the dog\U000e0069\U000e0067 into a corgi",     # tag characters (invisible "ig")
]


@pytest.mark.parametrize("instruction", HOSTILE)
def test_control_characters_and_escapes_are_not_words(instruction):
    intent = parse(instruction, backend="rules", head=False)
    assert intent.subject == "dog" and intent.generation_prompt == "corgi", (intent.subject, intent.generation_prompt)
    text = prepare_instruction(instruction).text  # what every backend (LLM ones too) reads
    assert text == "Turn the dog into a corgi", text
    assert normalise(instruction) == "turn the dog into a corgi"


def test_plain_text_newlines_and_emoji_are_kept():
    assert strip_controls("a\tb\nc 🐶 é") == "a\tb\nc 🐶 é"
    assert strip_controls("remove the car\x1b") == "remove the car "
    assert normalise("make the sky\u2066 purple\u2069") == "make the sky purple"
