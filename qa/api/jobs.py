"""Background ingestion over HTTP: big POST /v1/documents bodies become jobs (202), and
GET /v1/jobs/{id} reports their state, progress, result or error (qa/jobs.py runs them)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from qa.api.errors import status_for
from qa.api.schemas import IngestResponse
from qa.errors import InputError, NotFoundError, QAError
from qa.jobs import Job, JobRegistry
from qa.service import QAService

router = APIRouter(prefix="/v1")


class JobProgress(BaseModel):
    done: int = Field(..., description="Documents handled so far (stored or unchanged).")
    total: int = Field(..., description="Documents in the job.")


class JobError(BaseModel):
    type: str
    message: str
    status: int = Field(..., description="The HTTP status the request would have had.")


class JobOut(BaseModel):
    """A background job: ``result`` once it succeeded, ``error`` once it failed."""

    job_id: str
    kind: Literal["ingest"]
    state: Literal["queued", "running", "succeeded", "failed"]
    progress: JobProgress
    created_at: float = Field(..., description="Unix time.")
    started_at: float | None = None
    finished_at: float | None = None
    result: IngestResponse | None = None
    error: JobError | None = None


class JobAccepted(BaseModel):
    job_id: str
    state: Literal["queued", "running", "succeeded", "failed"]
    status_url: str = Field(..., description="GET it for state and progress.")


def registry(request: Request) -> JobRegistry:
    jobs: JobRegistry = request.app.state.jobs
    return jobs


#: More documents than this in one POST /v1/documents: a background job, however short they
#: are (each costs a store lookup and its share of a write).
ASYNC_DOCUMENTS = 20


def in_background(records: list[dict[str, Any]], async_bytes: int) -> bool:
    """Whether a /v1/documents body is ingested by a background job."""
    return len(records) > ASYNC_DOCUMENTS or text_bytes(records) > async_bytes


def text_bytes(records: list[dict[str, Any]]) -> int:
    """Bytes of article text in a /v1/documents body (what ingestion time grows with)."""
    total = 0
    for record in records:
        text = record.get("body") if record.get("body") is not None else record.get("text")
        if isinstance(text, str):
            total += len(text.encode("utf-8", "surrogatepass"))
    return total


def ingest_in_background(
    request: Request, service: QAService, records: list[dict[str, Any]]
) -> JSONResponse:
    """Check ``records`` now (4xx as usual), then queue their ingestion: 202 with the job."""
    docs = service.check_records(records)

    def work(progress: Any) -> dict[str, Any]:
        def by_documents(total_tokens: int) -> Any:
            """The pipeline reports tokens embedded; the job counts documents."""
            seen = [0, 0]  # tokens embedded, documents reported

            def advance(tokens: int) -> None:
                seen[0] += tokens
                done = len(docs) * seen[0] // max(total_tokens, 1)
                if done > seen[1]:
                    progress(done - seen[1])
                    seen[1] = done

            return advance

        report = service.ingest_documents(docs, progress_factory=by_documents)
        if report.failed:
            raise InputError("; ".join(report.errors))
        return IngestResponse(
            documents=report.documents,
            unchanged=report.unchanged,
            chunks=report.chunks,
            doc_ids=report.doc_ids,
        ).model_dump()

    job = registry(request).submit("ingest", len(docs), work)
    url = f"/v1/jobs/{job.job_id}"
    accepted = JobAccepted(job_id=job.job_id, state=job.state, status_url=url)
    return JSONResponse(accepted.model_dump(), status_code=202, headers={"Location": url})


def _out(job: Job) -> JobOut:
    error = None
    if job.error is not None:
        if isinstance(job.error, QAError):
            status, kind = status_for(job.error)
            error = JobError(type=kind, message=str(job.error), status=status)
        else:
            error = JobError(
                type="internal", message="internal error; see the server log", status=500
            )
    result = IngestResponse.model_validate(job.result) if job.result is not None else None
    return JobOut(
        job_id=job.job_id,
        kind="ingest",
        state=job.state,
        progress=JobProgress(done=job.done, total=job.total),
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        result=result,
        error=error,
    )


@router.get("/jobs/{job_id}", response_model=JobOut, tags=["documents"])
def get_job(job_id: str, request: Request) -> JobOut:
    """A background ingestion's state, progress, and result or error. Jobs are kept in
    memory by the process that runs them: a restart forgets them (404)."""
    job = registry(request).get(job_id)
    if job is None:
        raise NotFoundError(f"no job with id {job_id!r} (jobs are forgotten on restart)")
    return _out(job)
