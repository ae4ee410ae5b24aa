"""Storage adapters: Chroma, the in-memory fake, the BM25 index and conversations."""
