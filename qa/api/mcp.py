"""MCP server: the corpus as tools (search, ask, get_lines) for coding assistants and chat apps.

One ``MCPServer`` (the official ``mcp`` SDK, major version 2) serves two transports:
streamable HTTP at ``/mcp`` inside the FastAPI app (behind the same API keys and rate limit
as ``/v1``), and stdio for ``qa mcp``. The tools call the same QAService as the HTTP routes.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date
from typing import Annotated, Any

from fastapi import FastAPI
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp_types import ToolAnnotations
from pydantic import BaseModel, Field
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from qa import __version__
from qa.api.errors import error_body
from qa.api.security import MCP_PATH
from qa.errors import QAError
from qa.service import QAService
from qa.timeframe import AsOf
from qa.types import Citation, Hit

log = logging.getLogger(__name__)

#: The most lines one get_lines call returns: enough for any article's passage, small
#: enough for a model's context.
MAX_LINES = 200

_AS_OF = (
    "Ask as on this day (YYYY-MM-DD): articles published after it are not used, "
    "undated ones are, newer passages are preferred. Omit for today."
)
_READ_ONLY = ToolAnnotations(readOnlyHint=True, destructiveHint=False, openWorldHint=False)

INSTRUCTIONS = (
    "A collection of news articles. `ask` answers a question from them, citing source "
    "lines [n] with doc_id, line range and the quoted text; `search` returns the passages "
    "that match a query; `get_lines` reads a document's lines (1-based) to check a "
    "citation or read around it. Answers say so when the articles do not answer."
)


class SearchResult(BaseModel):
    """Passages for a query, best first."""

    query: str
    as_of: date | None = Field(None, description="The day the search was made as of.")
    hits: list[Hit]


class AskResult(BaseModel):
    """An answer whose every [n] marker is a verified citation."""

    question: str
    as_of: date | None = Field(None, description="The day the question was asked as of.")
    answer: str = Field(..., description="The answer, with [n] markers for its citations.")
    answerable: bool = Field(..., description="False: the articles do not answer it.")
    confidence: float | None = Field(
        None,
        description="Calibrated chance (0-1) that the first citation supports a correct "
        "answer; None when nothing was scored.",
    )
    citations: list[Citation] = Field(
        default_factory=list,
        description="[n] -> doc_id, 1-based line_start..line_end and the quoted text.",
    )
    conversation_id: str | None = Field(None, description="Pass back to ask a follow-up.")
    mode: str = Field(..., description="extractive or llm: what wrote the answer.")
    degraded: bool = False
    degraded_reason: str | None = None


class Line(BaseModel):
    n: int = Field(..., description="1-based line number.")
    text: str


class LinesResult(BaseModel):
    """Original lines of one document, with their numbers (blank lines included)."""

    doc_id: str
    title: str
    source: str
    line_count: int = Field(..., description="Lines in the whole document.")
    lines: list[Line]


ServiceGetter = Callable[[], QAService]


def _tool_error(exc: QAError) -> ToolError:
    """The service's own message, which says what to fix (nothing internal leaks)."""
    return ToolError(str(exc))


def build_mcp_server(
    get_service: ServiceGetter,
    *,
    lifespan: Callable[[MCPServer[Any]], Any] | None = None,
) -> MCPServer[Any]:
    """The MCP server; ``get_service`` returns the QAService when a tool runs."""
    server: MCPServer[Any] = MCPServer(
        "qa",
        title="qa: cited answers from news articles",
        instructions=INSTRUCTIONS,
        version=__version__,
        lifespan=lifespan,
    )

    @server.tool(annotations=_READ_ONLY)
    def search(
        query: Annotated[str, Field(min_length=1, description="What to look for.")],
        top_k: Annotated[int | None, Field(ge=1, le=200, description="Passages.")] = None,
        as_of: Annotated[AsOf | None, Field(description=_AS_OF)] = None,
    ) -> SearchResult:
        """Passages of the articles relevant to a query, each with its doc_id, title,
        source, 1-based line range and text."""
        try:
            hits = get_service().search(query, top_k, as_of=as_of)
        except QAError as exc:
            raise _tool_error(exc) from exc
        return SearchResult(query=query, as_of=as_of, hits=hits)

    @server.tool(annotations=_READ_ONLY)
    def ask(
        question: Annotated[str, Field(min_length=1, description="The question.")],
        top_k: Annotated[int | None, Field(ge=1, le=200, description="Passages.")] = None,
        as_of: Annotated[AsOf | None, Field(description=_AS_OF)] = None,
        conversation_id: Annotated[
            str | None,
            Field(min_length=1, max_length=100, description="From an earlier answer."),
        ] = None,
    ) -> AskResult:
        """Answer a question from the articles. Every [n] in the answer is a citation
        (doc_id, line range, quote) checked against the stored lines; when the articles
        do not answer, it says so (answerable false) instead of guessing."""
        try:
            answer = get_service().ask(
                question, conversation_id=conversation_id, top_k=top_k, as_of=as_of
            )
        except QAError as exc:
            raise _tool_error(exc) from exc
        return AskResult(
            question=question,
            as_of=as_of,
            answer=answer.answer,
            answerable=answer.answerable,
            confidence=answer.confidence,
            citations=answer.citations,
            conversation_id=answer.conversation_id,
            mode=answer.mode,
            degraded=answer.degraded,
            degraded_reason=answer.degraded_reason,
        )

    @server.tool(annotations=_READ_ONLY)
    def get_lines(
        doc_id: Annotated[str, Field(min_length=1, description="A doc_id from search/ask.")],
        start: Annotated[int, Field(description="First line, 1-based.")],
        end: Annotated[int, Field(description="Last line, inclusive.")],
    ) -> LinesResult:
        """Lines start..end (1-based, inclusive, at most 200) of a document, with their
        numbers: to check a citation or read around it. An end past the last line stops
        at the last line."""
        if start < 1:
            raise ToolError(f"start must be 1 or more (lines are numbered from 1); got {start}")
        if end < start:
            raise ToolError(f"end ({end}) must not be before start ({start})")
        if end - start + 1 > MAX_LINES:
            raise ToolError(
                f"at most {MAX_LINES} lines per call; asked for {end - start + 1} "
                f"({start}-{end}): read it in parts"
            )
        try:
            service = get_service()
            doc = service.get_document(doc_id)
            lines = service.get_lines(doc_id, start, end)
        except QAError as exc:
            raise _tool_error(exc) from exc
        return LinesResult(
            doc_id=doc.doc_id,
            title=doc.title,
            source=doc.source,
            line_count=len(doc.lines),
            lines=[Line(n=n, text=text) for n, text in lines],
        )

    return server


class _MCPEndpoint:
    """ASGI endpoint of /mcp: hands each request to the session manager running now.

    The manager is made anew at every app start-up (the SDK runs one only once), so an
    app that is started twice (tests do) still serves MCP.
    """

    def __init__(self) -> None:
        self.manager: StreamableHTTPSessionManager | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.manager is None:
            response = error_body(503, "not_ready", "the MCP endpoint is not running")
            await response(scope, receive, send)
            return
        await self.manager.handle_request(scope, receive, send)


def mount_mcp(app: FastAPI, host: str) -> Callable[[], Any]:
    """Serve MCP (streamable HTTP, stateless, JSON responses) at /mcp on ``app``.

    Returns the lifespan part the app must enter at start-up: it runs the SDK's session
    manager. ``host`` is the address served on: on loopback the SDK also checks Host and
    Origin headers against DNS rebinding. Auth is the app's (SecurityMiddleware guards
    /mcp like /v1).
    """
    server = build_mcp_server(lambda: app.state.service)
    endpoint = _MCPEndpoint()
    app.router.routes.append(Route(MCP_PATH, endpoint=endpoint))

    @asynccontextmanager
    async def running() -> AsyncIterator[None]:
        # streamable_http_app() makes a fresh session manager (the Starlette app it also
        # returns is not used: the route above is mounted on qa's own app).
        server.streamable_http_app(
            streamable_http_path=MCP_PATH, stateless_http=True, json_response=True, host=host
        )
        manager = server.session_manager
        async with manager.run():
            endpoint.manager = manager
            try:
                yield
            finally:
                endpoint.manager = None

    return running


def serve_stdio(build: ServiceGetter) -> None:
    """Serve MCP over stdin/stdout (``qa mcp``) until stdin closes.

    The service is built inside the server's lifespan, after the SDK has moved the
    process's stdout aside for the protocol: anything else written to stdout (a library's
    print, a C extension's message) lands on stderr, as the logs do.
    """
    built: list[QAService] = []

    @asynccontextmanager
    async def lifespan(_: MCPServer[Any]) -> AsyncIterator[dict[str, Any]]:
        service = build()
        service.warm_up()
        built.append(service)
        yield {}

    build_mcp_server(lambda: built[0], lifespan=lifespan).run("stdio")
