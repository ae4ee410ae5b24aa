"""Embedder adapters: local ONNX MiniLM (default), OpenAI-compatible API, hashing (tests)."""
