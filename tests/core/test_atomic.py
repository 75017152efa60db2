"""Shared atomic writes: the target is the old file or the whole new one, never a temp leftover."""
from __future__ import annotations

import hashlib
import json

import pytest

from polaris_core.atomic import sha256_file, write_atomic, write_content_addressed, write_json_atomic, write_text_atomic


def test_text_and_json_writes_replace_whole_files(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    write_text_atomic(target, "first\n")
    write_text_atomic(target, "second — ünïcode\n", durable=True)
    assert target.read_text(encoding="utf-8") == "second — ünïcode\n"
    write_json_atomic(tmp_path / "m.json", {"b": 1, "a": "é"})
    assert json.loads((tmp_path / "m.json").read_text(encoding="utf-8")) == {"a": "é", "b": 1}
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["m.json", "out.txt", "sub"]


def test_a_failing_writer_leaves_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")

    def half_then_fail(tmp):
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, half_then_fail)
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_content_addressed_names_carry_the_checksum(tmp_path):
    info = write_content_addressed(tmp_path, "labels", ".bin", lambda p: p.write_bytes(b"abc" * 1000))
    digest = hashlib.sha256(b"abc" * 1000).hexdigest()
    assert info == {"name": f"labels-{digest[:16]}.bin", "sha256": digest, "bytes": 3000}
    assert sha256_file(tmp_path / info["name"]) == digest
    assert [p.name for p in tmp_path.iterdir()] == [info["name"]]
