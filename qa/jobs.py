"""Background jobs, in process: a bounded queue, a fixed number of worker threads, and the
state, progress, result or error of each job kept in memory for a while.

Used for ingestion too big to hold an HTTP request (POST /v1/documents answers 202 and
GET /v1/jobs/{id} tells how it goes). Jobs live exactly as long as the process: a restart
forgets every job, and one queued or running at shutdown is abandoned (its documents are
then not stored, or only the groups already written; ingesting again is idempotent). The
workers are daemon threads so that a running job never holds up shutdown.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from qa.errors import BusyError

log = logging.getLogger(__name__)

State = Literal["queued", "running", "succeeded", "failed"]
#: A job's work: called with ``progress(n)`` (n more units done), returns its result.
Work = Callable[[Callable[[int], None]], Mapping[str, Any]]


@dataclass(frozen=True)
class Job:
    """A snapshot of one job."""

    job_id: str
    kind: str
    state: State
    total: int
    done: int = 0
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    result: Mapping[str, Any] | None = None
    error: BaseException | None = None


class JobRegistry:
    """Runs submitted work on ``workers`` daemon threads, at most ``max_pending`` waiting;
    keeps the last ``keep_finished`` finished jobs. Thread-safe."""

    def __init__(self, *, workers: int = 1, max_pending: int = 16, keep_finished: int = 200):
        if workers < 1 or max_pending < 1 or keep_finished < 1:
            raise ValueError("workers, max_pending and keep_finished must be >= 1")
        self._workers = workers
        self._max_pending = max_pending
        self._keep = keep_finished
        self._lock = threading.Lock()
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._queue: queue.Queue[tuple[str, Work] | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._closed = False

    def submit(self, kind: str, total: int, work: Work) -> Job:
        """Queue ``work``; BusyError when ``max_pending`` jobs are waiting already."""
        with self._lock:
            if self._closed:
                raise BusyError("the server is shutting down; try again later")
            waiting = sum(1 for job in self._jobs.values() if job.state == "queued")
            if waiting >= self._max_pending:
                raise BusyError(f"{waiting} ingestion jobs are waiting already; try again later")
            job = Job(uuid.uuid4().hex, kind, "queued", total, created_at=time.time())
            self._jobs[job.job_id] = job
            self._start_workers()
        self._queue.put((job.job_id, work))
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def close(self) -> None:
        """Take no more jobs and let idle workers end; running work is not waited for."""
        with self._lock:
            self._closed = True
            threads = len(self._threads)
        for _ in range(threads):
            self._queue.put(None)

    def _start_workers(self) -> None:
        while len(self._threads) < self._workers:
            thread = threading.Thread(
                target=self._serve, name=f"qa-job-{len(self._threads)}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def _update(self, job_id: str, **changes: Any) -> None:
        with self._lock:
            self._jobs[job_id] = replace(self._jobs[job_id], **changes)

    def _serve(self) -> None:
        while (item := self._queue.get()) is not None:
            job_id, work = item
            self._update(job_id, state="running", started_at=time.time())

            def progress(n: int, job_id: str = job_id) -> None:
                with self._lock:
                    job = self._jobs[job_id]
                    self._jobs[job_id] = replace(job, done=min(job.total, job.done + n))

            try:
                result = work(progress)
            except Exception as exc:  # a job's failure is its own, reported by GET
                log.warning("job %s failed: %s", job_id, exc, exc_info=True)
                self._finish(job_id, state="failed", error=exc)
            else:
                self._finish(job_id, state="succeeded", result=result)

    def _finish(self, job_id: str, **changes: Any) -> None:
        """Record the outcome and forget the oldest finished jobs beyond ``keep_finished``."""
        with self._lock:
            self._jobs[job_id] = replace(self._jobs[job_id], finished_at=time.time(), **changes)
            finished = [j for j, job in self._jobs.items() if job.finished_at is not None]
            for old in finished[: max(0, len(finished) - self._keep)]:
                del self._jobs[old]
