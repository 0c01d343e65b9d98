"""Plain ASGI responses (no framework needed): a streamed protocol body, and a JSON one."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ._common import dumps
from ._sse import UpstreamRefused, to_sse

__all__ = ["JSONResponse", "StreamResponse"]

Scope = Mapping[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]


def _headers(media_type: str, extra: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
    headers = [(b"content-type", media_type.encode())]
    headers += [(name.encode(), value.encode()) for name, value in extra.items()]
    return headers


class JSONResponse:
    """A JSON body with a status (an ASGI app; Starlette endpoints may return it)."""

    def __init__(self, content: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> None:
        self.body = content if isinstance(content, bytes) else dumps(content).encode()
        self.status_code = status
        self.headers = dict(headers or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = _headers("application/json", self.headers)
        headers.append((b"content-length", str(len(self.body)).encode()))
        await send({"type": "http.response.start", "status": self.status_code, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


async def _disconnected(receive: Receive) -> None:
    while True:
        message = await receive()
        if message.get("type") == "http.disconnect":
            return


class StreamResponse:
    """Stream ``stream`` in ``protocol`` (see :func:`to_sse`). The status goes out once the upstream
    accepted; the client's disconnect, whenever it comes (even before that), closes the upstream."""

    def __init__(self, stream: Any, protocol: Any, *, heartbeat: float | None = 15.0, max_pending: int = 64,
                 **encoder_options: Any) -> None:
        self.stream = stream
        self.protocol = protocol
        self.heartbeat = heartbeat
        self.max_pending = max_pending
        self.encoder_options = encoder_options

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        sender = asyncio.ensure_future(self._send(send))
        listener = asyncio.ensure_future(_disconnected(receive))
        try:
            await asyncio.wait((sender, listener), return_when=asyncio.FIRST_COMPLETED)
        finally:
            listener.cancel()
            if not sender.done():
                sender.cancel()  # the client is gone: closing the body closes the upstream
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await sender
            with contextlib.suppress(asyncio.CancelledError):
                await listener

    async def _send(self, send: Send) -> None:
        from ._sse import encoder_for

        protocol = self.protocol
        if isinstance(protocol, str):
            protocol = encoder_for(protocol, **self.encoder_options)
        body = to_sse(self.stream, protocol, heartbeat=self.heartbeat, max_pending=self.max_pending)
        try:
            try:
                first = await body.__anext__()
            except UpstreamRefused as refused:
                await JSONResponse(refused.body, refused.status)({}, _never, send)
                return
            headers = _headers(protocol.media_type, protocol.headers)
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": first, "more_body": True})
            async for data in body:
                await send({"type": "http.response.body", "body": data, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await body.aclose()


async def _never() -> Mapping[str, Any]:  # pragma: no cover - JSONResponse never reads
    return {"type": "http.disconnect"}
