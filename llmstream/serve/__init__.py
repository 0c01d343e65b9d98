"""llmstream.serve: hand a stream on to a browser (AI SDK UI protocol), to any OpenAI client (the
gateway wire) or as llmstream's own JSON events; an ASGI app and ``llmstream serve`` run it.

The encoders, readers and :func:`to_sse` need nothing beyond llmstream; :func:`create_app` needs
the ``serve`` extra (``pip install 'llmstream-sdk[serve]'``: starlette and uvicorn).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._asgi import JSONResponse, StreamResponse
from ._common import Encoder
from ._events import EventsEncoder, chunk_event, completion_event
from ._openai import OpenAIChunkEncoder, chat_completion
from ._readers import ChatRequest, RequestError, UIRequest, read_chat_request, read_ui_request
from ._sse import PROTOCOLS, UpstreamRefused, encoder_for, to_sse
from ._ui import UIMessageStreamEncoder

if TYPE_CHECKING:
    from ._app import create_app

__all__ = [
    "PROTOCOLS",
    "ChatRequest",
    "Encoder",
    "EventsEncoder",
    "JSONResponse",
    "OpenAIChunkEncoder",
    "RequestError",
    "StreamResponse",
    "UIMessageStreamEncoder",
    "UIRequest",
    "UpstreamRefused",
    "chat_completion",
    "chunk_event",
    "completion_event",
    "create_app",
    "encoder_for",
    "read_chat_request",
    "read_ui_request",
    "to_sse",
]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        try:
            from ._app import create_app
        except ImportError as exc:  # starlette missing
            from .._errors import ConfigurationError
            from .._meta import install_hint

            hint = install_hint("serve")
            raise ConfigurationError(f"llmstream.serve.create_app needs the serve extra: {hint}") from exc
        return create_app
    raise AttributeError(f"module 'llmstream.serve' has no attribute {name!r}")
