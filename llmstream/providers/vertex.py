"""Gemini on Vertex AI: the Gemini client with ``vertexai=True`` (the ``vertex:`` prefix)."""

from __future__ import annotations

from typing import Any

from .gemini import GeminiClient

__all__ = ["VertexClient"]


class VertexClient(GeminiClient):
    """``GeminiClient(model, vertexai=True, project=…, location=…, credentials=…)``; ``provider`` is
    ``"vertex"``. Project, location and credentials default as google-genai reads them (see ``_vertex``)."""

    def __init__(self, model: str, **kwargs: Any) -> None:
        kwargs.setdefault("vertexai", True)
        super().__init__(model, **kwargs)
