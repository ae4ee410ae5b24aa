"""Command line: qa ingest | status | check | search | ask | serve | mcp | slack | eval |
feedback."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from qa.config import Settings, describe_location, get_settings
from qa.errors import ConfigError, InputError, QAError, UpstreamError

if TYPE_CHECKING:
    from qa.service import QAService

log = logging.getLogger(__name__)

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class CLIError(Exception):
    """Print one line and exit with ``code``."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def _service(settings: Settings) -> QAService:
    from qa.wiring import build_service

    return build_service(settings)


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from qa.ingest.fetch import is_url
    from qa.ingest.progress import token_progress

    print(f"qa: data in {settings.store.data_dir.resolve()}", file=sys.stderr)
    service = _service(settings)
    report = service.ingest_paths(
        [Path(p) for p in args.paths if not is_url(p)],
        prune=args.prune,
        dry_run=args.dry_run,
        collection=args.collection,
        progress_factory=token_progress,
        urls=[p for p in args.paths if is_url(p)],
    )
    for line in report.skips:
        print(f"skipped: {line}", file=sys.stderr)
    for line in report.errors:
        print(f"error: {line}", file=sys.stderr)
    if args.json:
        print(json.dumps(report.as_dict()))
    else:
        verb = "would remove" if args.dry_run else "removed"
        for doc_id in report.removed_ids:
            print(f"{verb} {doc_id}")
        print(report.summary())
    return 2 if report.failed else 0


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    report = _service(settings).check_store(repair=args.repair)
    if args.json:
        print(json.dumps(report.as_dict()))
    else:
        for problem in report.problems:
            print(problem)
        print(report.summary())
    return 0 if report.clean else 1


def _filters(args: argparse.Namespace) -> Any:
    from qa.types import Filters

    if not getattr(args, "source", None):
        return None
    return Filters(source=args.source)


def _as_of(args: argparse.Namespace) -> Any:
    """``--as-of`` as a date; a bad one is one line and exit 2 (not argparse's usage)."""
    if getattr(args, "as_of", None) is None:
        return None
    from qa.timeframe import parse_as_of

    try:
        return parse_as_of(args.as_of)
    except ValueError as exc:
        raise CLIError(f"--as-of: {exc}") from None


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    as_of = _as_of(args)
    hits = _service(settings).search(args.query, args.k, _filters(args), as_of=as_of)
    if args.json:
        print(json.dumps({"hits": [h.model_dump(mode="json") for h in hits]}, ensure_ascii=False))
        return 0
    for i, hit in enumerate(hits, 1):
        print(f"{i}. {hit.source} lines {hit.line_start}-{hit.line_end}  score {hit.score:.3f}")
        print(f"   {hit.text[:300]}")
    return 0


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from qa.errors import EmptyStoreError

    as_of = _as_of(args)
    try:
        answer = _service(settings).ask(
            args.question,
            conversation_id=args.conversation,
            top_k=args.k,
            filters=_filters(args),
            as_of=as_of,
        )
    except EmptyStoreError as exc:
        raise CLIError(f"{exc} (data: {settings.store.data_dir.resolve()})", code=1) from None
    if args.json:
        print(json.dumps(answer.model_dump(mode="json"), ensure_ascii=False))
        return 0
    print(answer.answer)
    if answer.answerable and answer.confidence is not None:
        print(f"(confidence {answer.confidence:.2f})")
    if answer.closest is not None:
        c = answer.closest
        print(
            f"\nclosest passage found (not an answer): {c.title or c.source} — {c.doc_id}, "
            f"lines {c.line_start}-{c.line_end}\n    “{' '.join(c.quote.split())}”"
        )
    if answer.degraded:
        print(f"(degraded: {answer.degraded_reason})")
    for c in answer.citations:
        page = f"page {c.page}, " if c.page is not None else ""
        print(f"\n[{c.n}] {c.title} — {c.doc_id}, {page}lines {c.line_start}-{c.line_end}")
        print(f"    “{c.quote}”")
        if c.link:
            print(f"    {c.link}")
    print(f"\nconversation: {answer.conversation_id}", file=sys.stderr)
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from qa.api.app import create_app
    from qa.listen import check_listen

    api = settings.api
    host = api.host if args.host is None else args.host
    port = api.port if args.port is None else args.port
    host, port = check_listen(host, port)
    if host not in LOOPBACK and not api.api_keys:
        if not (api.allow_anonymous or args.no_auth):
            raise CLIError(
                f"refusing to listen on {host} without API keys: set QA_API_KEYS "
                "(e.g. admin:<key>,read:<key>), or pass --no-auth (QA_ALLOW_ANONYMOUS=true) "
                "to let anyone who can reach it read, ask, add and delete documents"
            )
        log.warning(
            "no API keys and listening on %s (--no-auth): anyone who can reach this address "
            "may read, ask, add and delete documents and export feedback",
            host,
        )
    settings = settings.model_copy(update={"api": {"host": host, "port": port}})
    from qa.api.timeouts import http_protocol

    uvicorn.run(
        create_app(settings=settings),
        host=host,
        port=port,
        log_config=None,
        proxy_headers=False,  # the app believes forwarded headers from QA_TRUSTED_PROXIES only
        http=http_protocol(api.header_timeout_s),
        # Without it a request that never completes (a client gone quiet) holds SIGTERM off.
        timeout_graceful_shutdown=api.shutdown_grace_s,
    )
    return 0


def cmd_mcp(args: argparse.Namespace, settings: Settings) -> int:
    """MCP over stdin/stdout: stdout carries only the protocol (logs go to stderr)."""
    from qa.api.mcp import serve_stdio

    serve_stdio(lambda: _service(settings))
    return 0


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from qa.status import status

    documents = []
    outdated_sample = (0, 0)
    if settings.store.chroma_url or (settings.store.data_dir / "chroma").is_dir():
        from qa.ingest.check import outdated
        from qa.wiring import build_store

        store = build_store(settings)
        documents = store.list_documents()
        if settings.ingest.sentence_vectors:
            # The local model stores token states with them; an OpenAI embedder gives none.
            tokens = settings.embedding.provider == "local"
            outdated_sample = outdated(store, tokens=tokens)
    found = status(settings, documents, outdated_sample)
    if args.json:
        print(json.dumps(found.as_dict()))
    else:
        print("\n".join(found.lines()))
    return 0


def cmd_slack(args: argparse.Namespace, settings: Settings) -> int:
    from qa.slack.socket import run_socket_mode

    if settings.slack.app_token is None or settings.slack.bot_token is None:
        # Before the service (and its model) loads: the missing token is the whole story.
        raise ConfigError(
            "qa slack needs QA_SLACK_BOT_TOKEN (xoxb-...) and QA_SLACK_APP_TOKEN (xapp-...)"
        )

    service = _service(settings)
    service.follow()  # another process's ingest is seen within QA_REVISION_POLL_S
    run_socket_mode(settings.slack, service)
    return 0


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from qa.eval.run import run_eval

    return run_eval(args, _service(settings))


def cmd_feedback(args: argparse.Namespace, settings: Settings) -> int:
    from qa.store.conversations_unavailable import open_conversation_log

    log_ = open_conversation_log(settings.store.sqlite_path, warn=False)  # the error says it
    for row in log_.list_feedback(limit=args.limit):
        print(json.dumps(row, ensure_ascii=False, default=str))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qa", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "ingest",
        help="ingest files, folders and http(s) URLs (.txt .md .json .jsonl .html .pdf)",
    )
    p.add_argument("paths", nargs="+")
    p.add_argument(
        "--prune",
        action="store_true",
        help="also remove documents whose files lived under these folders and are gone "
        "(documents from other folders or the API are never touched)",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="change nothing: report what would be added, updated and removed",
    )
    p.add_argument(
        "--collection",
        "--as",
        metavar="NAME",
        default=None,
        help="id prefix of these files' documents (default: each folder's name): "
        "documents are NAME/<path in the folder>",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser(
        "check", help="find documents whose chunks or sentence vectors disagree with their record"
    )
    p.add_argument(
        "--repair", action="store_true", help="re-chunk and re-embed them from the stored lines"
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_check)

    for name, fn, arg in (("search", cmd_search, "query"), ("ask", cmd_ask, "question")):
        p = sub.add_parser(name, help=f"{name} the stored articles")
        p.add_argument(arg)
        p.add_argument("--k", type=int, default=None, help="passages to retrieve")
        p.add_argument("--source", action="append", help="only this source (repeatable)")
        p.add_argument(
            "--as-of",
            metavar="YYYY-MM-DD",
            help="ask as on this day: nothing published later, newer passages preferred",
        )
        p.add_argument("--json", action="store_true")
        p.set_defaults(func=fn)
        if name == "ask":
            p.add_argument("--conversation", default=None, help="continue a conversation id")

    p = sub.add_parser("serve", help="serve the HTTP API")
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=None)
    p.add_argument(
        "--no-auth",
        action="store_true",
        help="allow a non-loopback --host without QA_API_KEYS (logged as a warning)",
    )
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("mcp", help="serve the MCP tools (search, ask, get_lines) on stdio")
    p.set_defaults(func=cmd_mcp)
    p = sub.add_parser(
        "status", help="where the data is, what it holds, which embedder and answerer run"
    )
    p.add_argument("--json", action="store_true", help="print the status as JSON")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("slack", help="run the Slack bot in Socket Mode")
    p.set_defaults(func=cmd_slack)

    p = sub.add_parser("eval", help="score a labelled question set")
    p.add_argument("file", type=Path)
    p.add_argument("--k", type=int, default=3, help="hit@k cut-off")
    p.add_argument("--ingest", type=Path, action="append", help="ingest this path first")
    p.add_argument("--json", action="store_true", help="print rows and totals as JSON")
    p.add_argument("--quiet", action="store_true", help="print only the totals")
    for metric in ("hit", "answer-match", "precision", "recall", "abstention"):
        p.add_argument(
            f"--min-{metric}",
            type=float,
            default=None,
            help=f"exit 1 when {metric} is below this fraction",
        )
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("feedback", help="feedback from Slack buttons")
    p.add_argument("action", choices=["export"])
    p.add_argument("--limit", type=int, default=100000)
    p.set_defaults(func=cmd_feedback)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from qa.observability.logs import configure_logging

    try:
        settings = get_settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{describe_location(e['loc'])}: " + e["msg"].removeprefix("Value error, ")
            for e in exc.errors()
        )
        print(f"qa: invalid settings: {problems}", file=sys.stderr)
        return 2
    configure_logging(settings.logging, verbose=args.verbose)
    from qa.status import old_store_hint

    hint = old_store_hint(settings)
    if hint:
        print(f"qa: {hint}", file=sys.stderr)
    if args.command not in ("serve", "slack", "mcp") and not args.verbose:
        # One-shot commands print their result; progress logs are for -v.
        logging.getLogger().setLevel(max(logging.WARNING, logging.getLogger().level))
    try:
        code: int = args.func(args, settings)
    except CLIError as exc:
        print(f"qa: {exc}", file=sys.stderr)
        return exc.code
    except (InputError, ConfigError) as exc:
        print(f"qa: {exc}", file=sys.stderr)
        return 2
    except UpstreamError as exc:
        print(f"qa: {exc}", file=sys.stderr)
        return 3
    except QAError as exc:
        print(f"qa: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    raise SystemExit(main())
