"""EntryList keeps an index's entries as JSON text plus a few columns: reading gives back equal entries,
the columns agree with them, and it takes well under half the memory of the entry objects."""
from __future__ import annotations

import dataclasses
import json
import tracemalloc

import pytest

from polaris_core.zoo.entry import EntryList, ZooEntry, entry_json, group_key
from tests.core.retrieval_fixtures import catalog_subset


@pytest.fixture(scope="module")
def subset(shared_data, fixture_cache) -> list[ZooEntry]:
    return catalog_subset(shared_data, fixture_cache)


def test_entries_read_back_equal_and_columns_agree(subset):
    stored = EntryList.of(subset)
    assert len(stored) == len(subset)
    assert [e.to_dict() for e in stored] == [e.to_dict() for e in subset]
    assert stored[-1].to_dict() == subset[-1].to_dict() and [e.id for e in stored[3:6]] == [e.id for e in subset[3:6]]
    assert stored.ids == [e.id for e in subset] and stored.kinds == [e.kind for e in subset]
    assert stored.authors == [e.author.strip().lower() for e in subset]
    assert stored.group_keys == [group_key(e) for e in subset]
    assert stored.downloads == [max(e.downloads or 0, 0) for e in subset]
    with pytest.raises(IndexError):
        stored[len(subset)]


def test_a_read_entry_is_a_copy_and_subsets_keep_rows_in_order(subset):
    stored = EntryList.of(subset[:20])
    entry = stored[4]
    entry.tags.append("changed")
    entry.name = "changed"
    assert stored[4].to_dict() == subset[4].to_dict()
    picked = stored.subset([7, 2, 19])
    assert [e.id for e in picked] == [subset[i].id for i in (7, 2, 19)]
    assert picked.kinds == [subset[i].kind for i in (7, 2, 19)] and picked.text(0) == stored.text(7)


def test_lines_of_an_entries_file_are_kept_as_read(subset):
    lines = [entry_json(e) + "\n" for e in subset[:10]] + ["\n"]
    stored = EntryList()
    stored.extend_lines(lines)
    assert len(stored) == 10 and stored.text(3) == lines[3].rstrip("\n").encode("utf-8")
    assert json.loads(stored.text(3)) == subset[3].to_dict()
    assert stored[3] == dataclasses.replace(subset[3])


def test_stored_entries_take_under_half_the_memory_of_entry_objects(subset):
    lines = [entry_json(e) for e in subset]
    tracemalloc.start()
    objects = [ZooEntry.from_dict(json.loads(line)) for line in lines]
    as_objects, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    tracemalloc.start()
    stored = EntryList()
    stored.extend_lines(lines)
    as_text, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(objects) == len(stored) and as_text < 0.5 * as_objects


def test_packed_form_round_trips_and_refuses_parts_that_disagree(subset):
    import numpy as np

    stored = EntryList.of(subset[:30])
    offsets, columns = stored.packed()
    texts = b"".join(stored.deflated_texts())
    again = EntryList.from_packed(memoryview(texts), offsets, json.loads(json.dumps(columns)))
    assert [e.to_dict() for e in again] == [e.to_dict() for e in subset[:30]]
    assert {name: getattr(again, name) for name in EntryList.COLUMNS} == columns
    assert len(EntryList.from_packed(b"", np.zeros(1, np.int64), {name: [] for name in EntryList.COLUMNS})) == 0
    for broken_offsets, broken_columns in (
            (offsets[:-1], columns),                                          # one row short of the texts
            (offsets[::-1].copy(), columns),                                  # not increasing
            (offsets, dict(columns, ids=columns["ids"][:-1])),                # a column one short
            (offsets, dict(columns, downloads=[-1] * len(stored))),          # not counts
            (offsets, dict(columns, is_local=[0] * len(stored))),            # not booleans
            (offsets, {k: v for k, v in columns.items() if k != "roles"})):  # a column missing
        with pytest.raises(ValueError):
            EntryList.from_packed(texts, broken_offsets, broken_columns)
