"""The Starlette app: an OpenAI-compatible gateway, the ``useChat`` endpoint, llmstream's own
events (``/api/events``) and the chat page."""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from .._client import BaseClient
from .._client import client as make_client
from .._errors import LLMStreamError
from ._asgi import JSONResponse, StreamResponse
from ._common import error_message, error_status, openai_error
from ._models import ModelRouter, call_options
from ._openai import chat_completion
from ._readers import ChatRequest, RequestError, read_chat_request, read_ui_request

__all__ = ["create_app"]

log = logging.getLogger("llmstream.serve")
DEFAULT_BODY_LIMIT = 4 * 1024 * 1024


def _error(exc: RequestError) -> JSONResponse:
    return JSONResponse(openai_error(str(exc), exc.status, code=exc.code, param=exc.param), exc.status)


async def _json_body(request: Request, limit: int) -> Any:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestError(f"request body over the {limit} byte limit", status=413, code="request_too_large")
    pieces, size = [], 0
    async for piece in request.stream():
        size += len(piece)
        if size > limit:
            raise RequestError(f"request body over the {limit} byte limit", status=413, code="request_too_large")
        pieces.append(piece)
    try:
        return json.loads(b"".join(pieces))
    except ValueError as exc:
        raise RequestError(f"the body is not valid JSON: {exc}", code="invalid_json") from exc


def create_app(
    default_model: str | None = None,
    *,
    auth_token: str | None = None,
    models: list[str] | None = None,
    client_factory: Callable[[str], BaseClient] = make_client,
    body_limit: int = DEFAULT_BODY_LIMIT,
    heartbeat: float | None = 15.0,
    max_pending: int = 64,
) -> Starlette:
    """The ASGI app (mount it in FastAPI as any Starlette app). Keys come from the server's
    environment through ``client_factory``; none is ever sent to a client. With ``auth_token``
    every API route wants ``Authorization: Bearer <token>``; ``models`` limits what may be asked
    for (default: any ``provider:model``)."""
    router = ModelRouter(default_model, client_factory, models)
    token = auth_token.encode() if auth_token else None

    def authorized(request: Request) -> bool:
        if token is None:
            return True
        given = request.headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token)

    def denied() -> JSONResponse:
        body = openai_error("missing or wrong bearer token", 401, code="invalid_api_key")
        return JSONResponse(body, 401, {"www-authenticate": "Bearer"})

    async def open_chat(request: Request) -> tuple[ChatRequest, str, Any] | JSONResponse:
        if not authorized(request):
            return denied()
        try:
            chat = read_chat_request(await _json_body(request, body_limit))
            spec, client = router.client(chat.model)
            options = call_options(client.provider, chat.extra, chat.tool_choice)
        except RequestError as exc:
            return _error(exc)
        stream = client.astream(chat.conversation, tools=chat.tools or None, max_tokens=chat.max_tokens,
                                temperature=chat.temperature, **options)
        return chat, spec, stream

    async def events(request: Request) -> Any:
        """llmstream's own JSON events (the CLI's ``--json``) for an OpenAI-style body:
        SSE, or NDJSON with ``?format=ndjson``."""
        opened = await open_chat(request)
        if isinstance(opened, JSONResponse):
            return opened
        protocol = "ndjson" if request.query_params.get("format") == "ndjson" else "events"
        return StreamResponse(opened[2], protocol, heartbeat=heartbeat, max_pending=max_pending)

    async def chat_completions(request: Request) -> Any:
        opened = await open_chat(request)
        if isinstance(opened, JSONResponse):
            return opened
        chat, spec, stream = opened
        model = chat.model or spec
        if chat.stream:
            return StreamResponse(stream, "openai", heartbeat=heartbeat, max_pending=max_pending, model=model,
                                  include_usage=chat.include_usage)
        try:
            async with stream:
                completion = await stream.until_done()
        except LLMStreamError as exc:
            status = error_status(exc)
            return JSONResponse(openai_error(error_message(exc), status, code=type(exc).__name__), status)
        return JSONResponse(chat_completion(completion, model))

    async def list_models(request: Request) -> Any:
        if not authorized(request):
            return denied()
        now = int(time.time())
        data = [{"id": name, "object": "model", "created": now, "owned_by": name.partition(":")[0]}
                for name in router.models()]
        return JSONResponse({"object": "list", "data": data})

    async def ui_chat(request: Request) -> Any:
        if not authorized(request):
            return denied()
        try:
            ui = read_ui_request(await _json_body(request, body_limit))
            _, client = router.client(ui.model)
        except RequestError as exc:
            return JSONResponse({"error": str(exc), "param": exc.param}, exc.status)
        stream = client.astream(ui.conversation)
        return StreamResponse(stream, "ui", heartbeat=heartbeat, max_pending=max_pending)

    page = resources.files(__package__).joinpath("page.html").read_text(encoding="utf-8")
    config = json.dumps({"model": default_model, "models": router.models(), "auth": token is not None})
    page = page.replace("/*LLMSTREAM_CONFIG*/{}", config.replace("</", "<\\/"))

    async def index(request: Request) -> Response:
        return HTMLResponse(page, headers={"cache-control": "no-store"})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await router.aclose()

    routes = [
        Route("/", index, methods=["GET"]),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/api/chat", ui_chat, methods=["POST"]),
        Route("/api/events", events, methods=["POST"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.router = router
    return app
