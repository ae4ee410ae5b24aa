"""JobRegistry: state, progress, result and error of background work; a bounded queue."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from qa.errors import BusyError, InputError
from qa.jobs import Job, JobRegistry


@pytest.fixture
def jobs() -> Iterator[JobRegistry]:
    registry = JobRegistry(workers=1, max_pending=2, keep_finished=3)
    yield registry
    registry.close()


def wait_for(jobs: JobRegistry, job_id: str, *states: str) -> Job:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        job = jobs.get(job_id)
        assert job is not None
        if job.state in states:
            return job
        time.sleep(0.01)
    raise AssertionError(f"job {job_id} never reached {states}")


def test_a_job_runs_reports_progress_and_keeps_its_result(jobs: JobRegistry) -> None:
    halfway, resume = threading.Event(), threading.Event()

    def work(progress: Callable[[int], None]) -> Mapping[str, Any]:
        progress(2)
        halfway.set()
        resume.wait(5)
        progress(2)
        return {"documents": 4}

    job = jobs.submit("ingest", 4, work)
    assert (job.state, job.done, job.total) == ("queued", 0, 4)
    assert halfway.wait(5)
    running = jobs.get(job.job_id)
    assert running is not None and running.state == "running" and running.done == 2
    resume.set()
    done = wait_for(jobs, job.job_id, "succeeded")
    assert done.result == {"documents": 4}
    assert done.done == 4 and done.error is None
    assert done.created_at <= (done.started_at or 0) <= (done.finished_at or 0)


def test_a_failing_job_keeps_its_error_and_the_worker_goes_on(jobs: JobRegistry) -> None:
    def fail(progress: Callable[[int], None]) -> Mapping[str, Any]:
        raise InputError("documents[0]: bad")

    failed = wait_for(jobs, jobs.submit("ingest", 1, fail).job_id, "failed")
    assert isinstance(failed.error, InputError) and failed.result is None
    ok = jobs.submit("ingest", 0, lambda progress: {"ok": True})
    assert wait_for(jobs, ok.job_id, "succeeded").result == {"ok": True}


def test_the_queue_is_bounded(jobs: JobRegistry) -> None:
    release = threading.Event()
    started = threading.Event()

    def block(progress: Callable[[int], None]) -> Mapping[str, Any]:
        started.set()
        release.wait(5)
        return {}

    first = jobs.submit("ingest", 1, block)
    assert started.wait(5)  # running: no longer waiting
    queued = [jobs.submit("ingest", 1, block) for _ in range(2)]
    with pytest.raises(BusyError, match="2 ingestion jobs are waiting"):
        jobs.submit("ingest", 1, block)
    release.set()
    for job in (first, *queued):
        wait_for(jobs, job.job_id, "succeeded")


def test_old_finished_jobs_are_forgotten(jobs: JobRegistry) -> None:
    ids = []
    for _ in range(5):
        ids.append(jobs.submit("ingest", 0, lambda progress: {}).job_id)
        wait_for(jobs, ids[-1], "succeeded")
    assert [jobs.get(i) is not None for i in ids] == [False, False, True, True, True]
    assert jobs.get("no-such-job") is None


def test_a_closed_registry_takes_no_more_jobs() -> None:
    registry = JobRegistry()
    registry.close()
    with pytest.raises(BusyError, match="shutting down"):
        registry.submit("ingest", 0, lambda progress: {})
