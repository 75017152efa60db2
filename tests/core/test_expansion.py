"""Prompt expansion of entries with no example prompts: fit, determinism, no leakage, file safety, index build."""
from __future__ import annotations

import gzip
import json
import math
import pickle

import numpy as np
import pytest

from polaris_core.retrieve import expansion as X
from polaris_core.embed.chunks import CHUNK_KINDS
from polaris_core.errors import ConfigError
from polaris_core.index import ZooIndex
from polaris_core.retrieve import search
from polaris_core.zoo.entry import ZooEntry
from tests.core.retrieval_fixtures import catalog_subset, embedding_cache

THEMES = {  # tag -> words of the prompts of models carrying it
    "watercolor": "watercolor painting, soft wash, paper texture, pastel colors",
    "cyberpunk": "neon lights, rainy city street, chrome implants, night",
    "knight": "plate armor, longsword, castle courtyard, heraldry",
    "food": "bowl of ramen, steam, chopsticks, wooden table",
}


def _entry(version: int, model: int, tag: str, prompts: list[str], author: str = "") -> ZooEntry:
    return ZooEntry(id=f"civitai:{version}", kind="lora", name=f"{tag.title()} LoRA {model}", civitai_model_id=model,
                    civitai_version_id=version, tags=[tag, "lora"], example_prompts=prompts, author=author,
                    description=f"A {tag} model.")


def _training_entries() -> list[ZooEntry]:
    entries = []
    for t, (tag, words) in enumerate(THEMES.items()):
        for j in range(5):
            model = 100 * (t + 1) + j
            entries.append(_entry(10 * model, model, tag, [f"1girl, {words}, detail {j}", f"{words}, masterpiece"],
                                  author=f"author{t}"))
    return entries


def test_fit_is_deterministic_and_the_file_round_trips(tmp_path):
    data = X.training_set(_training_entries())
    first, second = X.fit(data), X.fit(X.training_set(list(reversed(_training_entries()))))
    assert first.to_json() == second.to_json() and first.model_id == second.model_id
    a, b = first.save(tmp_path / "a.json.gz"), second.save(tmp_path / "b.json.gz")
    assert a.read_bytes() == b.read_bytes()
    loaded = X.PromptExpander.load(a)
    probe = _entry(1, 1, "watercolor", [])
    assert loaded.expansion(probe) == first.expansion(probe) != ""
    assert loaded.model_id == first.model_id  # read from the file's bytes: the same id as writing the JSON again


def test_the_shipped_model_id_from_its_file_is_the_id_of_its_json():
    import hashlib

    shipped = X.PromptExpander.load(X.DEFAULT_MODEL_FILE)
    assert shipped.model_id == hashlib.sha256(shipped.to_json().encode("utf-8")).hexdigest()[:16]


def test_expansion_predicts_the_prompt_words_that_go_with_the_metadata():
    model = X.fit(X.training_set(_training_entries()))
    text = model.expansion(_entry(1, 1, "cyberpunk", []))
    assert "neon lights" in text and "chrome" in text
    assert not any(word in text for word in ("watercolor", "ramen", "armor"))
    # The terms every model shares ("1girl", "masterpiece") are no more likely here than anywhere: not predicted.
    assert "1girl" not in text and "masterpiece" not in text


def test_only_sparse_entries_are_expanded():
    model = X.fit(X.training_set(_training_entries()))
    assert model.params.max_prompts == 0
    assert model.expansion(_entry(1, 1, "food", [])) != ""
    assert model.expansion(_entry(1, 1, "food", ["a bowl of soup"])) == ""
    # Nothing known about an entry (no feature seen on enough training models): no expansion, not noise.
    assert model.expansion(ZooEntry(id="x", kind="lora", name="zz", tags=["zz"], author="zz")) == ""


def test_expansion_never_comes_from_the_entry_own_prompts():
    entries = _training_entries()
    target = entries[0]
    # Features read metadata only: the entry's own (held-out) prompts change nothing.
    assert X.metadata_features(target) == X.metadata_features(
        ZooEntry(**{**target.to_dict(), "example_prompts": ["zorblax quux"], "related_prompts": ["zorblax"]}))
    # Cross-validation: the fold model that expands an entry was fitted exactly as if its model did not exist.
    data = X.training_set(entries)
    folds = X.fit_folds(data, 3)
    expander = X.FoldExpander(folds)
    fold = X.fold_of(X.model_key(target), 3)
    others = [e for e in entries if X.fold_of(X.model_key(e), 3) != fold]
    alone = X.fit(X.training_set(others), meta={"fold": fold, "folds": 3})
    assert json.loads(expander.model_for(target).to_json())["meta"]["training_models"] == len(
        {X.model_key(e) for e in others})
    strip = {"meta"}
    assert {k: v for k, v in json.loads(expander.model_for(target).to_json()).items() if k not in strip} == \
        {k: v for k, v in json.loads(alone.to_json()).items() if k not in strip}
    # A term only the held-out model prompts with cannot be predicted for it.
    marked = [ZooEntry(**{**e.to_dict(), "example_prompts": e.example_prompts + ["zorblax, zorblax glow"]})
              if X.fold_of(X.model_key(e), 3) == fold else e for e in entries]
    marked_folds = X.FoldExpander(X.fit_folds(X.training_set(marked), 3))
    sparse_target = ZooEntry(**{**target.to_dict(), "example_prompts": []})
    assert "zorblax" not in marked_folds.expansion(sparse_target)
    assert "zorblax" in X.fit(X.training_set(marked), X.ExpansionParams(min_term_models=1)).expansion(sparse_target)


def test_the_shipped_model_loads_without_unpickling(monkeypatch):
    def refuse(*_args, **_kwargs):
        raise AssertionError("unpickling")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(np, "load", refuse)
    model = X.PromptExpander.load(X.DEFAULT_MODEL_FILE)
    assert len(model.features) > 1000 and len(model.terms) > 1000
    assert X.DEFAULT_MODEL_FILE.stat().st_size < 8 * 1024 * 1024


def _loop_predict(model, entry, k):
    """`PromptExpander.predict` as a loop over terms (what the vectorised version must equal, bit for bit)."""
    known = [model.features[s] for s in X.metadata_features(entry) if s in model.features]
    total = sum(weight for weight, _, _ in known)
    if not known or total <= 0 or k <= 0:
        return []
    shift: dict[int, float] = {}
    for weight, ids, probs in known:
        for tid, p in zip(ids.tolist(), (probs - model.background[ids]).tolist()):
            shift[tid] = shift.get(tid, 0.0) + weight / total * p
    scored = [((model.background[tid] + d) * math.log((model.background[tid] + d) / model.background[tid]),
               model.terms[tid]) for tid, d in shift.items() if d > 0]
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [(term, round(float(score), 6)) for score, term in scored[:k]]


def test_the_shipped_model_predicts_what_a_loop_over_terms_predicts(subset):
    model = X.PromptExpander.load(X.DEFAULT_MODEL_FILE)
    checked = 0
    for entry in subset[:300]:
        for k in (model.params.terms, 3, 1):
            expected = _loop_predict(model, entry, k)
            assert model.predict(entry, k) == expected
            checked += bool(expected)
    assert checked > 300


def test_a_damaged_or_foreign_model_file_is_refused(tmp_path):
    path = tmp_path / "model.json.gz"
    path.write_bytes(gzip.compress(pickle.dumps({"format": X.FORMAT})))
    with pytest.raises(ConfigError, match="prompt-expansion model"):
        X.PromptExpander.load(path)
    good = json.loads(X.fit(X.training_set(_training_entries())).to_json())
    for damage in ({"probs": [float("nan")] * len(good["probs"])}, {"format_version": 99},
                   {"term_ids": [10 ** 9] * len(good["term_ids"])}, {"offsets": good["offsets"][:-1]}):
        path.write_bytes(gzip.compress(json.dumps({**good, **damage}).encode()))
        with pytest.raises(ConfigError, match="prompt-expansion model"):
            X.PromptExpander.load(path)
    with pytest.raises(ConfigError, match="prompt-expansion model"):
        X.PromptExpander.load(tmp_path / "missing.json.gz")


@pytest.fixture(scope="module")
def subset(shared_data, fixture_cache):
    return catalog_subset(shared_data, fixture_cache)


def _expanded_chunks(index: ZooIndex) -> dict[str, str]:
    """Entry id -> lexical text of its `expanded` chunk."""
    kinds = np.array(CHUNK_KINDS)[index.arrays.chunk_kind]
    rows = np.flatnonzero(kinds == "expanded")
    return {index.entries[int(index.arrays.chunk_entry[r])].id: r for r in rows}


def test_index_build_with_and_without_expansion(subset, fixture_cache, tmp_path):
    sparse_entries = [e for e in subset if not e.example_prompts]
    assert sparse_entries and len(sparse_entries) < len(subset)
    model = X.fit(X.training_set(subset), X.ExpansionParams(min_support=2))
    cache = embedding_cache(fixture_cache)
    plain = ZooIndex.build(subset, tmp_path / "plain", cache=cache, expansion=None)
    expanded = ZooIndex.build(subset, tmp_path / "expanded", cache=cache, expansion=model)
    assert _expanded_chunks(plain) == {} and plain.expansion_model == ""
    chunks = _expanded_chunks(expanded)
    predicted = {e.id for e in sparse_entries if model.expansion(e)}
    assert predicted and set(chunks) == predicted  # sparse entries only, each with its prediction
    assert len(expanded.arrays.chunk_label) == len(plain.arrays.chunk_label) + len(predicted)
    # Expanded chunks are embedded and scored by BM25 like a prompt.
    assert expanded.arrays.chunk_dense[list(chunks.values())].all()
    target = next(e for e in sparse_entries if e.id in predicted and e.kind == "lora")
    query = model.expansion(target)
    assert search(expanded, query, kind="lora", k=3)[0].entry.civitai_model_id == target.civitai_model_id
    # The manifest records the model; a loaded index expands its updates with the shipped model.
    loaded = ZooIndex.load(tmp_path / "expanded")
    assert loaded.expansion_model == model.model_id and loaded.expander == X.SHIPPED
    assert ZooIndex.load(tmp_path / "plain").expander is None
    assert [c.entry.id for c in search(loaded, query, kind="lora", k=5)] == \
        [c.entry.id for c in search(expanded, query, kind="lora", k=5)]
