"""`polaris parse` and `polaris bench parse`."""
from __future__ import annotations

import json

import pytest
from PIL import Image

from polaris_core.bench.parse import load_rows, run_benchmark
from polaris_core.cli import main
from polaris_core.parse import get_parser


def test_single_instruction_prints_json(capsys):
    assert main(["parse", "Let's substitute the motorcycle with a lively dog"]) == 0
    intent = json.loads(capsys.readouterr().out)
    assert "foreground_elements" not in intent and intent["ambiguous"] is False
    assert (intent["instruction_type"], intent["subject"]) == (0, "motorcycle")
    assert intent["generation_prompt"] == "lively dog"


def test_ambiguous_instruction_is_explained(capsys):
    assert main(["parse", "a nice photo"]) == 0
    captured = capsys.readouterr()
    intent = json.loads(captured.out)
    assert intent["ambiguous"] is True and intent["confidence"] <= 0.3 and len(intent["readings"]) == 2
    assert "ambiguous" in captured.err and "could mean" in captured.err


def test_image_option(tmp_path, capsys):
    path = tmp_path / "ref.png"
    Image.new("RGB", (8, 8), (0, 90, 200)).save(path)
    assert main(["parse", "Make my photo look like this", "--image", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["instruction_type"] == 4
    (tmp_path / "broken.png").write_bytes(b"not a png")
    assert main(["parse", "Make my photo look like this", "--image", str(tmp_path / "broken.png")]) == 1


def test_batch_writes_one_intent_per_line_in_order(tmp_path):
    lines = [
        json.dumps({"id": "a", "instruction": "Dye the man's clothes red"}),
        "",  # blank lines are skipped, like any JSONL reader does
        json.dumps({"instruction": "   "}),
        "remove the cat from the sofa",  # not JSON: an error record, never parsed as text
        json.dumps({"other": 1}),
        json.dumps({"instruction": "Van Gogh-ify this photo", "id": 7}),
        json.dumps(["not", "an", "object"]),
        '{"instruction": "remove the dog from the',  # truncated object
        json.dumps("Remove the lamp"),  # a JSON string is an instruction
    ]
    source = tmp_path / "in.jsonl"
    source.write_bytes(("\n".join(lines) + "\n").encode("utf-8") + b'{"instruction": "paint the fence \xff\xfe red"}\n')
    target = tmp_path / "out" / "intents.jsonl"
    assert main(["parse", "--in", str(source), "--field", "instruction", "--out", str(target)]) == 0
    out = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert [r["line"] for r in out] == [1, 3, 4, 5, 6, 7, 8, 9, 10]
    good = [r for r in out if "error" not in r]
    assert all(isinstance(r["instruction_type"], int) and 0 <= r["instruction_type"] <= 5 and r["subject"] for r in good)
    assert (out[0]["id"], out[0]["instruction_type"], out[0]["subject"]) == ("a", 2, "man's clothes")
    assert "empty" in out[1]["error"]
    assert "not JSON" in out[2]["error"] and "instruction_type" not in out[2]
    assert "no string field" in out[3]["error"]
    assert (out[4]["id"], out[4]["instruction_type"]) == (7, 3)
    assert "not a JSON object" in out[5]["error"]
    assert "line 8 is not JSON" in out[6]["error"] and "subject" not in out[6]
    assert (out[7]["instruction_type"], out[7]["subject"]) == (5, "lamp")
    assert "line 10 is not valid UTF-8" in out[8]["error"] and "0xff" in out[8]["error"]
    assert "\ufffd" not in target.read_text(encoding="utf-8")  # never spelled out as a replacement character
    assert not [p for p in target.parent.iterdir() if p.name.endswith(".tmp")]  # written atomically


def test_batch_matches_single_parses(tmp_path):
    """--in mode embeds the instructions the head decides in shared batches; results equal one-by-one parsing."""
    instructions = ["banish the lamp", "the photo should be free of people", "Remove the lamp",
                    "swap the ball for an orange", "give the whole shot the feel of an old silent film",
                    "a nice photo", "remove the car and make it night"]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"instruction": t}) + "\n" for t in instructions), encoding="utf-8")
    target = tmp_path / "out.jsonl"
    assert main(["parse", "--in", str(source), "--out", str(target)]) == 0
    batch = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    parser = get_parser("rules")
    for row, text in zip(batch, instructions):
        single = parser.parse(text).to_dict()
        assert (row["instruction_type"], row["subject"], row["generation_prompt"], row["ambiguous"]) == \
            (single["instruction_type"], single["subject"], single["generation_prompt"], single["ambiguous"])
        assert abs(row["confidence"] - single["confidence"]) < 1e-4


def test_batch_to_stdout(tmp_path, capsys):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"text": "Add a hat to the snowman"}) + "\n", encoding="utf-8")
    assert main(["parse", "--in", str(source), "--field", "text"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert (row["instruction_type"], row["subject"]) == (1, "hat")


@pytest.mark.parametrize("argv", [
    ["parse"],
    ["parse", "remove the cat", "--in", "x.jsonl"],
    ["parse", "--in", "/nonexistent/in.jsonl"],
    ["parse", ""],
    ["parse", "remove the cat", "--backend", "openai"],
])
def test_bad_invocations_fail_cleanly(argv, monkeypatch):
    monkeypatch.delenv("POLARIS_OPENAI_BASE_URL", raising=False)
    assert main(argv) == 1


def test_benchmark_counts(tmp_path):
    data = tmp_path / "labelled.jsonl"
    rows = [
        {"instruction": "Replace the dog with a cat", "instruction_type": 0, "subject": "dog"},
        {"instruction": "Remove the lamp", "instruction_type": "remove", "subject": "lamp"},
        {"instruction": "Remove the lamp", "instruction_type": 1, "subject": "chair"},  # deliberately wrong labels
        {"instruction": "Paint the fence white", "instruction_type": 2},
        {"no": "instruction"},
    ]
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\nnot json\n", encoding="utf-8")
    loaded = load_rows(data)
    assert len(loaded) == 4 and loaded[1]["label"] == 5
    result = run_benchmark("labelled", loaded, get_parser("rules"), keep_mistakes=5)
    assert (result.rows, result.correct) == (4, 3)
    assert (result.subject_rows, result.subject_correct) == (3, 2)
    assert result.confusion[1][5] == 1 and result.confusion[5][5] == 1
    assert result.class_accuracy()[1] == (0, 1)
    assert len(result.mistakes) == 1
    figures = result.to_dict()
    assert figures["type_accuracy"] == 0.75 and figures["median_ms"] >= 0


def test_bench_command_prints_figures(tmp_path, capsys):
    data = tmp_path / "tiny.jsonl"
    data.write_text(json.dumps({"instruction": "Remove the lamp", "instruction_type": 5, "subject": "lamp"}) + "\n",
                    encoding="utf-8")
    assert main(["bench", "parse", "--file", str(data)]) == 0
    out = capsys.readouterr().out
    assert "type accuracy      1.0000" in out and "subject exact-match 1.0000" in out and "median" in out
    assert main(["bench", "parse", "--file", str(data), "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures[0]["rows"] == 1 and figures[0]["confusion"][5][5] == 1


def test_every_default_bench_file_says_whether_it_was_tuned_on():
    # A figure must say what it measures: each set the benchmark reads by default is marked tuned on or held out.
    from polaris_core.bench.parse import DEFAULT_FILES, HELD_OUT, TUNED_ON

    for path in DEFAULT_FILES:
        assert (path.name in TUNED_ON) != (path.name in HELD_OUT), path.name
