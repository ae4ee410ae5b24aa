"""Chat-model adapters (the only code, with the OpenAI embedder, that imports openai)."""
