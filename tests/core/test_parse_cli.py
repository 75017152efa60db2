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
    assert (intent["instruction_type"], intent["subject"]) == (0, "motorcycle")
    assert intent["generation_prompt"] == "lively dog"


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
        "remove the cat from the sofa",  # not JSON: the raw text is the instruction
        json.dumps({"other": 1}),
        json.dumps({"instruction": "Van Gogh-ify this photo", "id": 7}),
        json.dumps(["not", "an", "object"]),
    ]
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    target = tmp_path / "out" / "intents.jsonl"
    assert main(["parse", "--in", str(source), "--field", "instruction", "--out", str(target)]) == 0
    out = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert len(out) == 6
    assert all(isinstance(r["instruction_type"], int) and 0 <= r["instruction_type"] <= 5 and r["subject"] for r in out)
    assert (out[0]["id"], out[0]["instruction_type"], out[0]["subject"]) == ("a", 2, "clothes")
    assert "error" in out[1] and out[1]["confidence"] == 0.0
    assert (out[2]["instruction_type"], out[2]["subject"]) == (5, "cat")
    assert "error" in out[3]
    assert (out[4]["id"], out[4]["instruction_type"]) == (7, 3)
    assert "error" in out[5]
    assert not [p for p in target.parent.iterdir() if p.name.endswith(".tmp")]  # written atomically


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
