"""The web chat at / and the documents page, served from qa/web/static (plain files, no build)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from qa.web import STATIC_DIR

WEB_URL = "/static/web"
#: Pages run only their own scripts and talk only to this server; document text is never
#: parsed as HTML (the scripts set textContent), so this is a second line of defence.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _page(name: str) -> FileResponse:
    return FileResponse(STATIC_DIR / name, media_type="text/html", headers=_HEADERS)


def install_web(app: FastAPI) -> None:
    """GET / (chat), GET /documents (list and add), and their static files."""
    app.mount(WEB_URL, StaticFiles(directory=STATIC_DIR), name="web")

    @app.get("/", include_in_schema=False)
    def chat_page() -> FileResponse:
        return _page("index.html")

    @app.get("/documents", include_in_schema=False)
    def documents_page() -> FileResponse:
        return _page("documents.html")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml")
