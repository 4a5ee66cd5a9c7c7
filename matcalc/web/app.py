"""The Starlette application: the page, its static files, and the JSON API.

- `GET /` the page; `GET /static/NAME` its files, served from a table read from the package at
  start-up (a request names a key of that table, never a path on disk);
- `POST /api/derive` what `matcalc.derive` takes → the `--format json` object (README, "The web
  page and its API"); `POST /api/variables` the variables and their inferred shapes;
- `GET /api/health` → {"ok": true}.

Every answer carries a strict Content-Security-Policy (scripts, styles, fonts and requests only
from this server; no inline script or style) and headers against framing and sniffing. Bound to
loopback, the server answers only requests whose Host is a loopback name (against DNS
rebinding). The API takes only `application/json`, so that a page on another site cannot post to
it without a CORS preflight, which it does not grant.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import mimetypes
from collections.abc import AsyncIterator, Callable
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .pool import WorkerPool
from .request import MAX_BODY, RequestError, derive_job, parse_body, variables_job
from .worker import error_payload

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; font-src 'self'; "
       "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
LOOPBACK_NAMES = {"127.0.0.1", "localhost", "::1", "[::1]"}


def static_files() -> dict[str, tuple[bytes, str]]:
    """{relative name: (content, media type)} of every file under static/, read once."""
    files: dict[str, tuple[bytes, str]] = {}

    def walk(folder: Any, prefix: str) -> None:
        for entry in folder.iterdir():
            if entry.is_dir():
                walk(entry, f"{prefix}{entry.name}/")
            elif not entry.name.endswith(".md"):
                media = mimetypes.guess_type(entry.name)[0] or "application/octet-stream"
                if entry.name.endswith(".woff2"):
                    media = "font/woff2"
                files[prefix + entry.name] = (entry.read_bytes(), media)

    walk(resources.files("matcalc.web") / "static", "")
    return files


class SecurityHeaders:
    """ASGI middleware: the security headers on every answer; Host checked when on loopback."""

    def __init__(self, app: ASGIApp, loopback_only: bool):
        self.app = app
        self.loopback_only = loopback_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + SECURITY_HEADERS
            await send(message)

        if self.loopback_only and not _loopback_host(scope):
            response = JSONResponse(error_payload(
                "BadRequest", "this server answers requests for 127.0.0.1 or localhost only"), 400)
            await response(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)


def _loopback_host(scope: Scope) -> bool:
    host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1").strip().lower()
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 or host.startswith("[") else host
    return name in LOOPBACK_NAMES


async def _body(request: Request) -> bytes:
    """The request body, refused (413) past MAX_BODY bytes without reading the rest."""
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
        raise RequestError(f"the request body is larger than {MAX_BODY} bytes", 413)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise RequestError(f"the request body is larger than {MAX_BODY} bytes", 413)
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(pool: WorkerPool, loopback_only: bool = True) -> ASGIApp:
    """The ASGI application over `pool` (started and stopped with the application)."""
    files = static_files()
    page = files.pop("index.html")[0]

    async def index(request: Request) -> Response:
        return Response(page, media_type="text/html; charset=utf-8",
                        headers={"cache-control": "no-cache"})

    async def static(request: Request) -> Response:
        entry = files.get(request.path_params["name"])
        if entry is None:
            return JSONResponse(error_payload("NotFound", "no such file"), 404)
        cache = "max-age=86400" if request.path_params["name"].startswith("katex/") else "no-cache"
        return Response(entry[0], media_type=entry[1], headers={"cache-control": cache})

    async def api(request: Request, make_job: Callable[[dict], dict]) -> Response:
        try:
            media = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if media != "application/json":
                raise RequestError("send the request as JSON (Content-Type: application/json)",
                                   415)
            job = make_job(parse_body(await _body(request)))
        except RequestError as exc:
            return JSONResponse(error_payload("BadRequest", exc.message), exc.status)
        status, payload = await pool.run(job)
        return Response(json.dumps(payload, ensure_ascii=False, allow_nan=False), status,
                        media_type="application/json")

    async def derive(request: Request) -> Response:
        return await api(request, derive_job)

    async def variables(request: Request) -> Response:
        return await api(request, variables_job)

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True, "workers": pool.size, "time_limit": pool.time_limit})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        pool.start()
        await asyncio.to_thread(pool.warm)      # serve once every worker has started
        try:
            yield
        finally:
            pool.close()

    app = Starlette(routes=[
        Route("/", index),
        Route("/static/{name:path}", static),
        Route("/api/derive", derive, methods=["POST"]),
        Route("/api/variables", variables, methods=["POST"]),
        Route("/api/health", health),
    ], lifespan=lifespan)
    return SecurityHeaders(app, loopback_only)
