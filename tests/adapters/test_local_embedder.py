"""The int8 MiniLM ONNX embedder: vector quality, batching, order, truncation, tokens."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from qa.embeddings.local import DIMENSION, LocalMiniLMEmbedder, default_tokenizer_path
from qa.errors import ConfigError
from qa.ports import Embedder

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def seed_sentences() -> list[str]:
    text = "\n".join(path.read_text() for path in sorted(SEEDS.glob("*.txt")))
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n", text) if s.strip()]


def test_identity_and_protocol(local_embedder: LocalMiniLMEmbedder) -> None:
    assert isinstance(local_embedder, Embedder)
    assert local_embedder.name == "local:all-MiniLM-L6-v2-onnx-int8"
    assert local_embedder.dimension == DIMENSION == 384


def test_paraphrase_closer_than_unrelated(local_embedder: LocalMiniLMEmbedder) -> None:
    vectors = local_embedder.embed(
        [
            "Russia offered to help Tajikistan defend its border against the Taliban.",
            "Moscow pledged support to the Tajiks in securing their frontier from the Taliban.",
            "The recipe needs two cups of flour and a pinch of salt.",
        ]
    )
    paraphrase = float(vectors[0] @ vectors[1])
    unrelated = float(vectors[0] @ vectors[2])
    assert paraphrase > 0.6
    assert unrelated < 0.2
    assert paraphrase > unrelated + 0.4


def test_unit_norm_float32_and_shape(local_embedder: LocalMiniLMEmbedder) -> None:
    sentences = seed_sentences()
    vectors = local_embedder.embed(sentences)
    assert vectors.dtype == np.float32
    assert vectors.shape == (len(sentences), 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_empty_input(local_embedder: LocalMiniLMEmbedder) -> None:
    out = local_embedder.embed([])
    assert out.shape == (0, 384)
    assert out.dtype == np.float32


def test_batching_and_length_sorting_keep_vectors_and_order(
    local_embedder: LocalMiniLMEmbedder,
) -> None:
    # Mixed lengths, shuffled, so sorting by length reorders them inside the embedder.
    sentences = seed_sentences()
    rng = np.random.default_rng(7)
    sentences = [sentences[i] for i in rng.permutation(len(sentences))]
    one_by_one = np.stack([local_embedder.embed([s])[0] for s in sentences])
    small_batches = LocalMiniLMEmbedder(batch_size=3).embed(sentences)
    one_call = local_embedder.embed(sentences)
    np.testing.assert_allclose(one_call, one_by_one, atol=1e-5)
    np.testing.assert_allclose(small_batches, one_by_one, atol=1e-5)
    # Each row is its own text's vector: nearest neighbour of row i is text i.
    assert (np.argmax(one_call @ one_by_one.T, axis=1) == np.arange(len(sentences))).all()


def test_truncates_at_max_tokens(local_embedder: LocalMiniLMEmbedder) -> None:
    head = " ".join(["Taliban fighters crossed the border near Badakhshan."] * 40)
    assert local_embedder.count_tokens(head) > 256
    tail = " The recipe needs flour, sugar and eggs." * 20
    short = LocalMiniLMEmbedder(max_tokens=16)
    a, b = local_embedder.embed([head, head + tail])
    np.testing.assert_allclose(a, b, atol=1e-6)  # the tail lies beyond token 256
    c, d = short.embed(["one two three four five six seven eight", "one two three four"])
    assert float(c @ d) < 0.999  # 16 tokens still see the difference


def test_count_tokens(local_embedder: LocalMiniLMEmbedder) -> None:
    assert local_embedder.count_tokens("") == 0
    assert local_embedder.count_tokens("Hello world") == 2
    # WordPiece splits rare words; no [CLS]/[SEP]; no truncation at 128 or 256.
    assert local_embedder.count_tokens("Emomali Rakhmon") > 2
    long_text = "word " * 1000
    assert local_embedder.count_tokens(long_text) == 1000
    texts = ["Hello world", "", long_text]
    assert local_embedder.count_tokens_batch(texts) == [
        local_embedder.count_tokens(t) for t in texts
    ]


def test_thread_safe(local_embedder: LocalMiniLMEmbedder) -> None:
    sentences = seed_sentences()
    expected = local_embedder.embed(sentences)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: local_embedder.embed(sentences), range(4)))
    for result in results:
        np.testing.assert_allclose(result, expected, atol=1e-6)


def test_missing_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="missing"):
        LocalMiniLMEmbedder(model_path=tmp_path / "nope.onnx")
    with pytest.raises(ConfigError, match="missing"):
        LocalMiniLMEmbedder(tokenizer_path=tmp_path / "nope.json")
    assert default_tokenizer_path().name == "tokenizer.json"


def test_token_states_come_from_the_same_run_as_the_vectors(
    local_embedder: LocalMiniLMEmbedder,
) -> None:
    sentences = seed_sentences()[:6]
    vectors, states = local_embedder.embed_with_tokens(sentences)
    np.testing.assert_allclose(vectors, local_embedder.embed(sentences), atol=1e-6)
    for text, (ids, rows) in zip(sentences, states, strict=True):
        assert ids.dtype == np.uint16 and rows.dtype == np.int8
        assert len(ids) == local_embedder.count_tokens(text) == rows.shape[0]
        assert rows.shape[1] == 64
        norms = np.linalg.norm(rows.astype(np.float64) / 127, axis=1)
        np.testing.assert_allclose(norms, 1.0, atol=0.03)  # unit rows, int8-rounded
    # A text embedded a moment ago (a question) gives its tokens without another run.
    remembered = local_embedder.text_tokens(sentences[0])
    assert (remembered[1] == states[0][1]).all()
    # The same word in two sentences gets close rows (contextual, but the same word).
    _, (a, b) = local_embedder.embed_with_tokens(
        ["The bridge opened in May.", "Cyclists crossed the bridge."]
    )
    bridge = local_embedder._encoder.encode("bridge", add_special_tokens=False).ids[0]
    row_a = a[1][a[0].tolist().index(bridge)].astype(np.float64)
    row_b = b[1][b[0].tolist().index(bridge)].astype(np.float64)
    assert row_a @ row_b / (np.linalg.norm(row_a) * np.linalg.norm(row_b)) > 0.5
