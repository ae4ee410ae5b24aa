"""What `qa status` and start-up say: where the data is, what it holds, which models run.

Nothing here leaves the machine: the answerer and embedder are described from the settings
(an endpoint by scheme, host and path only: never its key or any userinfo in the URL).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from qa.config import Settings, default_data_dir
from qa.types import DocumentInfo

#: The OpenAI SDK's endpoint when no base URL is configured.
OPENAI_URL = "https://api.openai.com/v1"


def endpoint(url: str | None) -> str:
    """``url`` without userinfo, query or fragment (what may be logged)."""
    parts = urlsplit(url or OPENAI_URL)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def describe_answerer(settings: Settings) -> str:
    llm = settings.llm
    if not llm.enabled:
        return "extractive (offline: article text stays on this machine)"
    if llm.provider == "scripted":
        return "scripted (in-process fake LLM, offline)"
    return f"LLM {llm.model} at {endpoint(llm.base_url)} (article text is sent there)"


def describe_embedder(settings: Settings) -> str:
    embedding = settings.embedding
    if embedding.provider == "local":
        return "local int8 all-MiniLM-L6-v2 (ONNX, offline)"
    url = embedding.base_url or settings.llm.base_url
    return f"openai {embedding.model} at {endpoint(url)} (article text is sent there)"


def describe_store(settings: Settings) -> str:
    store = settings.store
    if store.chroma_url:
        return f"Chroma server at {endpoint(store.chroma_url)}"
    return f"embedded Chroma in {store.data_dir / 'chroma'}"


@dataclass(frozen=True)
class Status:
    """What `qa status` prints."""

    data_dir: Path
    store: str
    documents: int
    chunks: int
    last_ingest: datetime | None
    embedder: str
    answerer: str
    #: Of the first documents (``qa.ingest.check.SAMPLE``), how many an older qa embedded
    #: (no sentence vectors or token states), and how many were looked at.
    outdated: tuple[int, int] = (0, 0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "data_dir": str(self.data_dir),
            "store": self.store,
            "documents": self.documents,
            "chunks": self.chunks,
            "last_ingest": self.last_ingest.isoformat() if self.last_ingest else None,
            "embedder": self.embedder,
            "answerer": self.answerer,
            "outdated_sample": {"outdated": self.outdated[0], "checked": self.outdated[1]},
        }

    def lines(self) -> list[str]:
        when = self.last_ingest.strftime("%Y-%m-%d %H:%M:%S %Z") if self.last_ingest else "never"
        rows = [
            ("data", str(self.data_dir)),
            ("store", self.store),
            ("documents", str(self.documents)),
            ("chunks", str(self.chunks)),
            ("last ingest", when),
            ("embedder", self.embedder),
            ("answerer", self.answerer),
        ]
        out = [f"{name:<12}{value}" for name, value in rows]
        if not self.documents:
            out.append(EMPTY_HINT)
        if self.outdated[0]:
            out.append(
                f"{self.outdated[0]} of the first {self.outdated[1]} documents were embedded by "
                "an older qa: run qa check --repair"
            )
        return out


EMPTY_HINT = "no documents ingested yet: run qa ingest PATH"


def status(
    settings: Settings, documents: Iterable[DocumentInfo], outdated: tuple[int, int] = (0, 0)
) -> Status:
    infos = list(documents)
    written = [info.written_at for info in infos if info.written_at is not None]
    return Status(
        data_dir=settings.store.data_dir.resolve(),
        store=describe_store(settings),
        documents=len(infos),
        chunks=sum(info.chunk_count for info in infos),
        last_ingest=max(written) if written else None,
        embedder=describe_embedder(settings),
        answerer=describe_answerer(settings),
        outdated=outdated,
    )


def startup_line(settings: Settings) -> str:
    """One line for the log at start-up: data, answerer, embedder."""
    return (
        f"data in {settings.store.data_dir.resolve()} ({describe_store(settings)}); "
        f"answerer: {describe_answerer(settings)}; embedder: {describe_embedder(settings)}"
    )


def old_store_hint(settings: Settings, cwd: Path | None = None) -> str | None:
    """A note when ./data holds a store of an earlier qa (whose default was ./data) and the
    default per-user folder is in use: its documents are not lost, only elsewhere."""
    here = (cwd or Path.cwd()) / "data"
    data_dir = settings.store.data_dir
    if settings.store.chroma_url or data_dir != default_data_dir():
        return None
    if not (here / "chroma").is_dir() or here.resolve() == data_dir.resolve():
        return None
    return (
        f"note: {here} holds a store of an earlier qa, whose default data folder was ./data; "
        f"the default is now {data_dir}. Set QA_DATA_DIR={here} to keep using it."
    )
