"""Text encoder (real MiniLM), embedding cache, prompt tokenisation and BM25F."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from polaris_core.embed.cache import EmbeddingCache, as_stored, embed_with_cache, text_key
from polaris_core.embed.chunks import (MAX_DENSE_PROMPTS_PER_ENTRY, MAX_RELATED_PROMPTS_PER_ENTRY,
                                      dense_prompt_text, entry_chunks)
from polaris_core.embed.lexical import FieldedBM25, TermCounts, lexical_terms, query_terms, tokenize
from polaris_core.errors import Cancelled, ConfigError
from polaris_core.zoo.entry import ZooEntry


@pytest.fixture(scope="module")
def encoder():
    from polaris_core.embed.text import load_text_encoder

    return load_text_encoder()


def test_encoder_gives_unit_vectors_that_rank_meaning(encoder):
    texts = ["a red sports car on a race track", "a fast red car driving on a circuit",
             "a bowl of ramen noodles with egg", ""]
    vectors = encoder.encode(texts)
    assert vectors.shape == (4, encoder.dim) == (4, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2
    assert encoder.encode([]).shape == (0, 384)


def test_batching_by_length_does_not_change_vectors(encoder):
    texts = ["short", "a much longer prompt, with many words, commas, and details " * 5, "medium length text"]
    together = encoder.encode(texts)
    alone = np.stack([encoder.encode_one(t) for t in texts])
    assert np.min(np.sum(together * alone, axis=1)) > 0.995


def test_encoder_id_names_weights_and_token_cap(encoder):
    from polaris_core.embed.text import text_encoder_id

    assert encoder.encoder_id == text_encoder_id(max_tokens=encoder.max_tokens)
    assert text_encoder_id(max_tokens=64) != encoder.encoder_id
    assert encoder.encoder_id.startswith("text:bert-384:")


def test_traced_query_path_matches_the_eager_model(encoder):
    from polaris_core.embed.text import TextEncoder

    eager = TextEncoder(trace=False, dtype=encoder.dtype)
    texts = ["a", "portrait of a knight in ornate silver armour, dramatic lighting, detailed face " * 3]
    fast = np.stack([encoder.encode_one(t) for t in texts])
    assert encoder._traced is not False  # the traced model passed its self-check and is in use
    slow = np.stack([eager.encode_one(t) for t in texts])
    assert np.min(np.sum(fast * slow, axis=1)) > 0.9999
    # Equal-length rows share the unpadded path; mixed lengths go through padding and the mask.
    assert np.min(np.sum(encoder.encode(texts + texts) * np.concatenate([slow, slow]), axis=1)) > 0.999


def test_token_cap_from_the_environment_changes_the_id(monkeypatch):
    from polaris_core.embed.text import DEFAULT_MAX_TOKENS, MAX_TOKENS_ENV, default_max_tokens, text_encoder_id

    monkeypatch.delenv(MAX_TOKENS_ENV, raising=False)
    assert default_max_tokens() == DEFAULT_MAX_TOKENS
    default_id = text_encoder_id()
    monkeypatch.setenv(MAX_TOKENS_ENV, "64")
    assert default_max_tokens() == 64 and text_encoder_id() == text_encoder_id(max_tokens=64) != default_id
    assert text_encoder_id().endswith(":max64")
    for bad in ("zero", "4", "100000"):
        monkeypatch.setenv(MAX_TOKENS_ENV, bad)
        with pytest.raises(ConfigError, match=MAX_TOKENS_ENV):
            default_max_tokens()


def test_encoder_refuses_a_folder_without_safetensors(tmp_path):
    from polaris_core.embed.text import TextEncoder

    with pytest.raises(ConfigError, match="config.json"):
        TextEncoder(tmp_path)


def test_cache_embeds_only_new_texts(tmp_path, encoder):
    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    calls: list[int] = []

    def encode(texts, on_step=None, check_cancel=None):
        calls.append(len(texts))
        return encoder.encode(texts)

    texts = ["a cat", "a dog", "a cat"]
    first, embedded = embed_with_cache(texts, encode, encoder.encoder_id, encoder.dim, cache)
    assert embedded == 2 and calls == [2]
    assert np.array_equal(first[0], first[2])
    again, embedded = embed_with_cache(["a dog", "a cat", "a bird"], encode, encoder.encoder_id, encoder.dim, cache)
    assert embedded == 1 and calls == [2, 1]
    # Cached and fresh vectors go through the same float16 rounding: identical, not just close.
    assert np.array_equal(again[1], first[0])
    assert np.array_equal(again[2], as_stored(encoder.encode(["a bird"]))[0])
    # Another encoder id does not see these vectors.
    _, embedded = embed_with_cache(["a cat"], encode, "other-encoder", encoder.dim, cache)
    assert embedded == 1
    assert cache.count(encoder.encoder_id) == 3


def test_cache_keeps_committed_vectors_when_cancelled(tmp_path):
    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    dim = 4
    rng = np.random.default_rng(0)

    def encode(texts, on_step=None, check_cancel=None):
        return rng.normal(size=(len(texts), dim)).astype(np.float32)

    state = {"calls": 0}

    def cancel_on_second_slice():
        state["calls"] += 1
        if state["calls"] > 1:
            raise Cancelled("stop")

    texts = [f"text {i}" for i in range(3000)]  # two commit slices
    with pytest.raises(Cancelled):
        embed_with_cache(texts, encode, "enc", dim, cache, check_cancel=cancel_on_second_slice)
    assert 0 < cache.count("enc") < 3000
    assert len(text_key("x")) == 16


def test_tokenize_understands_prompt_markup():
    tokens = tokenize("(masterpiece:1.2), <lora:wetHair_v2:0.8> makise_kurisu, [DanMumfordStyle], 小野寺小咲")
    assert "masterpiece" in tokens and "1" not in tokens and "2" not in tokens
    assert {"wethair", "v2", "makise", "kurisu"} <= set(tokens)
    assert {"danmumfordstyle", "dan", "mumford", "style"} <= set(tokens)
    assert {"小", "野", "小野", "寺小"} <= set(tokens)
    assert tokenize("") == []


def test_dense_text_drops_weights_and_empty_items():
    assert dense_prompt_text("((masterpiece:1.2)), , best quality,, <lora:x:0.7> 1girl") == \
        "masterpiece, best quality, x 1girl"


def test_chunks_of_an_entry():
    entry = ZooEntry(id="e1", kind="lora", name="Wet Hair", version_name="v2", trigger_words=["wethair"],
                     tags=["hair"], description="Makes hair wet.",
                     example_prompts=["1girl, wethair", "1girl,  wethair", "portrait, rain"])
    chunks = entry_chunks(entry)
    assert [c.kind for c in chunks] == ["title", "description", "prompt", "prompt"]
    assert "wethair" in chunks[0].dense_text and "Wet Hair" in chunks[0].dense_text


def test_related_prompts_become_their_own_chunks_after_own_prompts():
    related = ["1girl, wethair", "castle, rain"] + [f"scene {i}, rain" for i in range(40)]
    entry = ZooEntry(id="e1", kind="lora", name="Wet Hair", example_prompts=["1girl, wethair"],
                     related_prompts=related)
    kinds = [c.kind for c in entry_chunks(entry)]
    assert kinds[:3] == ["title", "prompt", "related"]  # the repeat of an own prompt is dropped
    assert kinds.count("related") == MAX_RELATED_PROMPTS_PER_ENTRY


def test_only_the_first_prompts_are_embedded_and_the_title_only_without_prompts():
    entry = ZooEntry(id="e1", kind="lora", name="Wet Hair", description="Makes hair wet.",
                     example_prompts=["1girl, wethair", "portrait, rain"],
                     related_prompts=[f"scene {i}, rain" for i in range(5)])
    chunks = entry_chunks(entry)
    dense = [(c.kind, c.dense) for c in chunks]
    assert dense[:2] == [("title", False), ("description", False)]
    prompt_flags = [flag for kind, flag in dense if kind in ("prompt", "related")]
    assert prompt_flags == [True] * MAX_DENSE_PROMPTS_PER_ENTRY + [False] * (7 - MAX_DENSE_PROMPTS_PER_ENTRY)
    # BM25 still reads the chunks the encoder skips.
    assert chunks[0].lexical_text.startswith("Wet Hair")
    assert chunks[1].lexical_text == "Makes hair wet." and chunks[-1].lexical_text == "scene 4, rain"
    # With no prompt the title is the entry's only embedded text.
    bare = entry_chunks(ZooEntry(id="e2", kind="lora", name="Wet Hair", description="Makes hair wet.",
                                 trigger_words=["wethair"]))
    assert [(c.kind, c.dense) for c in bare] == [("title", True), ("description", False)]


def _bm25(entries_fields, chunks, chunk_entry, groups=None, terms_of=tokenize, chunk_weight=None):
    terms = TermCounts()
    title = terms.counts([terms_of(t) for t, _ in entries_fields])
    description = terms.counts([terms_of(d) for _, d in entries_fields])
    chunk_counts = terms.counts([terms_of(c) for c in chunks])
    n = len(terms.vocabulary)
    for m in (title, description, chunk_counts):
        m.resize((m.shape[0], n))
    groups = np.arange(len(entries_fields)) if groups is None else np.asarray(groups)
    return terms, FieldedBM25(title, description, chunk_counts, np.asarray(chunk_entry), groups,
                              chunk_weight=chunk_weight)


def test_lexical_terms_add_adjacent_word_pairs():
    assert lexical_terms("(red kimono:1.2), smile") == ["red", "kimono", "smile", "red kimono", "kimono smile"]
    assert lexical_terms("") == []


def test_word_pairs_prefer_the_prompt_with_the_same_phrases():
    # Both chunks hold exactly the query's words; only the first keeps its phrases.
    chunks = ["red kimono, black hair, white dress", "black kimono, white hair, red dress"]
    fields = [("First", ""), ("Second", "")]
    query = "red kimono, white dress, black hair"
    terms, words_only = _bm25(fields, chunks, [0, 1])
    scores = words_only.search(*query_terms(terms, tokenize(query))).scores
    assert scores[0] == pytest.approx(scores[1])
    terms, with_pairs = _bm25(fields, chunks, [0, 1], terms_of=lexical_terms)
    scores = with_pairs.search(*query_terms(terms, lexical_terms(query))).scores
    assert scores[0] > scores[1]


def test_rare_title_scores_see_only_rare_query_words():
    fields = [("Akane akanedef", ""), ("Girl portrait", "")] + [(f"Model {i} girl", "") for i in range(30)]
    terms, model = _bm25(fields, [], [])
    rare = model.rare_title_scores(*query_terms(terms, tokenize("akanedef, girl, smile")))
    assert rare[0] > 0 and not rare[1:].any()  # "girl" is common: it adds nothing anywhere
    assert not model.rare_title_scores(*query_terms(terms, tokenize("girl, model"))).any()


def test_chunk_weight_makes_a_related_prompt_count_less():
    fields = [("One", ""), ("Two", "")]
    chunks = ["lighthouse, cliff, dawn", "lighthouse, cliff, dawn"]
    terms, model = _bm25(fields, chunks, [0, 1], chunk_weight=np.array([1.0, 0.8], np.float32))
    scores = model.search(*query_terms(terms, tokenize("lighthouse, cliff, dawn"))).scores
    assert scores[0] > scores[1] > 0


def test_bm25f_trigger_in_title_and_best_chunk():
    fields = [("Akane character akanedef", "a character lora"), ("City style", "cityscapes"),
              ("Generic girl", "")]
    chunks = ["1girl, smile, outdoors", "city, night, neon", "1girl, smile, outdoors, sky, day"]
    terms, model = _bm25(fields, chunks, [0, 1, 2])
    hits = model.search(*query_terms(terms, tokenize("akanedef, 1girl, smile, outdoors, sky")))
    assert int(np.argmax(hits.scores)) == 0  # the rare trigger word outweighs a closer prompt
    assert hits.best_chunk[0] == 0 and hits.best_chunk[1] == -1
    no_trigger = model.search(*query_terms(terms, tokenize("1girl, smile, outdoors, sky, day")))
    assert int(np.argmax(no_trigger.scores)) == 2
    empty = model.search(*query_terms(terms, tokenize("zzzz unknown")))
    assert not empty.scores.any() and (empty.best_chunk == -1).all()


def test_bm25f_idf_counts_a_model_once():
    fields = [("alpha", ""), ("alpha", ""), ("beta", ""), ("gamma", "")]
    _, by_version = _bm25(fields, [], [], groups=[0, 0, 1, 2])
    _, by_entry = _bm25(fields, [], [], groups=[0, 1, 2, 3])
    terms = TermCounts()
    terms.counts([tokenize(t) for t, _ in fields])
    alpha = terms.term_ids["alpha"]
    assert by_version.term_idf([alpha])[0] > by_entry.term_idf([alpha])[0]
    assert isinstance(by_version.fields(np.array([alpha])), sparse.csc_matrix)
