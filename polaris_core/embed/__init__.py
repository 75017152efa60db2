"""Retrieval channels: MiniLM text embeddings (`text`), CLIP preview embeddings (`image`), the BM25F
lexical channel (`lexical`), what of an entry is embedded (`chunks`), and the embedding cache (`cache`)."""
