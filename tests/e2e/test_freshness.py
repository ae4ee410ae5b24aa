"""Two real processes on one data dir: `qa serve` answers from what a `qa ingest` run in
another process stored, within 5 s of it ending, with no 5xx meanwhile, and /readyz says
when it is still catching up."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from e2e.cli import run_qa
from e2e.served import Served, article_file

pytestmark = pytest.mark.slow

BASE = (
    "The harbour council approved a new ferry timetable for the winter months. "
    "Ferries will leave every forty minutes instead of every half hour."
)
NEW = (
    "Volcanologists on Mount Quillarek recorded a sharp rise in sulphur emissions. "
    "The observatory raised the alert level to orange on Tuesday."
)
QUERY = "sulphur emissions at Mount Quillarek"


def found(response: httpx.Response, doc_id: str) -> bool:
    return response.status_code == 200 and any(
        # A file's document id is "<collection>/<id>" (qa/ingest/identity.py).
        hit["doc_id"] == doc_id or hit["doc_id"].endswith(f"/{doc_id}")
        for hit in response.json()["hits"]
    )


class Poller(threading.Thread):
    """Asks the server what a client would while the other process ingests: searches with
    and without a filter on the new document, and /readyz; counts every status."""

    def __init__(self, server: Served, doc_id: str) -> None:
        super().__init__(daemon=True)
        self.server, self.doc_id = server, doc_id
        self.statuses: Counter[int] = Counter()
        self.readiness: Counter[str] = Counter()
        self.failures: list[str] = []
        self.done = threading.Event()

    def run(self) -> None:
        filtered = {"filters": {"source": ["volcano-wire"]}}
        with httpx.Client(base_url=self.server.url, timeout=30) as http:
            while not self.done.is_set():
                for response in (
                    http.post("/v1/search", json={"query": QUERY, **filtered}),
                    http.post("/v1/search", json={"query": QUERY}),
                    http.get("/readyz"),
                ):
                    self.statuses[response.status_code] += 1
                    if response.status_code >= 500:
                        self.failures.append(response.text[:300])
                    elif response.url.path == "/readyz":
                        self.readiness[response.json()["status"]] += 1
                time.sleep(0.02)


def test_a_running_server_answers_from_another_process_ingest(tmp_path: Path) -> None:
    data = tmp_path / "data"
    base = article_file(tmp_path / "base.jsonl", "harbour-1", "harbour-wire", BASE)
    assert run_qa(data, "ingest", str(base)).returncode == 0
    new = article_file(tmp_path / "new.jsonl", "volcano-1", "volcano-wire", NEW)
    with Served(data) as server:
        assert not found(server.search(QUERY), "volcano-1")
        poller = Poller(server, "volcano-1")
        poller.start()
        try:
            ingest = run_qa(data, "ingest", str(new))
            ended = time.monotonic()
            assert ingest.returncode == 0, ingest.stderr
            while not found(server.search(QUERY), "volcano-1"):
                assert time.monotonic() - ended < 5, "not answered from the new document in 5 s"
                time.sleep(0.05)
            delay = time.monotonic() - ended
            # The vector index and the BM25 index have both loaded the writes.
            while server.http.get("/readyz").json()["status"] != "ready":
                assert time.monotonic() - ended < 5, "still catching up after 5 s"
                time.sleep(0.05)
        finally:
            poller.done.set()
            poller.join(30)
        assert delay < 5
        assert poller.failures == [], poller.failures
        assert poller.statuses[200] > 0 and set(poller.statuses) == {200}
        ready = server.http.get("/readyz").json()
        assert ready == {"status": "ready", "checks": ready["checks"]}
        assert ready["checks"]["index"] == "current"


def test_readyz_says_catching_up_until_the_server_has_loaded_the_writes(tmp_path: Path) -> None:
    """With the follower polling once a minute, the writes are not loaded for a while:
    /readyz says so at once (it asks the store), and searches still answer."""
    data = tmp_path / "data"
    base = article_file(tmp_path / "base.jsonl", "harbour-1", "harbour-wire", BASE)
    assert run_qa(data, "ingest", str(base)).returncode == 0
    new = article_file(tmp_path / "new.jsonl", "volcano-1", "volcano-wire", NEW)
    with Served(data, env={"QA_REVISION_POLL_S": "60"}) as server:
        assert server.search(QUERY).status_code == 200  # the vector index is loaded
        assert run_qa(data, "ingest", str(new)).returncode == 0
        ready = server.http.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["status"] == "catching_up"
        assert "another process wrote" in ready.json()["checks"]["index"]
        # A filtered search on the lagging index is answered (on a fresh client), not a 503.
        new_id = f"{tmp_path.name}/volcano-1"  # the file's collection: its folder's name
        filtered = server.search(QUERY, filters={"doc_id": [new_id]})
        assert filtered.status_code == 200, filtered.text
        assert found(filtered, "volcano-1")
