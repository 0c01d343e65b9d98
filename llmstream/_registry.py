"""The one provider registry: prefix → ``"module:Class"``, one line per provider.

Modules are imported only when a client is asked for, so that ``import llmstream`` loads no vendor
SDK. Adding a provider is its one file under ``providers/`` plus one line here (or, from outside the
package, one :func:`register` call).
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["PROVIDERS", "class_modules", "register", "resolve"]

PROVIDERS: dict[str, str] = {
    "anthropic": "llmstream.providers.anthropic:AnthropicClient",
    "gemini": "llmstream.providers.gemini:GeminiClient",
    "google": "llmstream.providers.gemini:GeminiClient",
    "mock": "llmstream.providers.mock:MockClient",
    "openai": "llmstream.providers.openai:OpenAIClient",
    "openai-responses": "llmstream.providers.openai_responses:OpenAIResponsesClient",
    "openrouter": "llmstream.providers.openrouter:OpenRouterClient",
    "vertex": "llmstream.providers.vertex:VertexClient",
}


def register(prefix: str, target: str) -> None:
    """Make ``llmstream.client(f"{prefix}:model")`` build ``target`` (``"package.module:Class"``)."""
    module, sep, name = target.partition(":")
    if not sep or not module or not name:
        raise ValueError(f"expected 'module:Class', got {target!r}")
    PROVIDERS[prefix.lower()] = target


def resolve(prefix: str) -> Any | None:
    """The client class registered for ``prefix`` (imported now), or None when none is."""
    target = PROVIDERS.get(prefix.lower())
    if target is None:
        return None
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def class_modules() -> dict[str, str]:
    """Class name → module of the built-in providers: the lazy attributes of ``llmstream``."""
    out: dict[str, str] = {}
    for target in PROVIDERS.values():
        module, _, name = target.partition(":")
        if module.startswith("llmstream."):
            out.setdefault(name, module)
    return out
