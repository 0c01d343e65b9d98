"""Which client serves a request's ``model``: ``provider:model``, a bare name, or the default."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .._client import PROVIDERS, BaseClient
from .._errors import LLMStreamError
from ._readers import RequestError

__all__ = ["ModelRouter", "call_options", "resolve_spec"]

# Bare names by family; anything else needs its provider prefix.
_FAMILIES = (("gpt-", "openai"), ("chatgpt-", "openai"), ("o1", "openai"), ("o3", "openai"), ("o4", "openai"),
             ("claude", "anthropic"), ("gemini", "gemini"))
_EXTRA_BODY = ("openai", "openrouter", "anthropic")  # SDKs whose create() takes extra_body=


def resolve_spec(model: str | None, default: str | None) -> str:
    """The ``provider:model`` spec for a request's ``model`` (404 when it names no known provider)."""
    if not model:
        if default is None:
            raise RequestError("model is required (the server has no default model)", param="model")
        return default
    provider, sep, name = model.partition(":")
    if sep:
        if provider.lower() in PROVIDERS and name:
            return model
        raise _unknown(model)
    if default is not None and default.partition(":")[2] == model:
        return default
    if "/" in model:
        return f"openrouter:{model}"
    for prefix, family in _FAMILIES:
        if model.startswith(prefix):
            return f"{family}:{model}"
    raise _unknown(model)


def _unknown(model: str) -> RequestError:
    known = ", ".join(sorted(PROVIDERS))
    return RequestError(f"The model {model!r} does not exist: use provider:model with a provider of {known}",
                        status=404, param="model", code="model_not_found")


class ModelRouter:
    """One client per spec (each keeps its connection pool), made by ``factory`` (``llmstream.client``)."""

    def __init__(self, default: str | None, factory: Callable[[str], BaseClient], allowed: Iterable[str] | None = None):
        self.default = default
        self.factory = factory
        self.allowed = None if allowed is None else tuple(allowed)
        self._clients: dict[str, BaseClient] = {}

    def models(self) -> list[str]:
        names = list(self.allowed or ())
        if self.default is not None and self.default not in names:
            names.insert(0, self.default)
        return names

    def client(self, model: str | None) -> tuple[str, BaseClient]:
        spec = resolve_spec(model, self.default)
        if self.allowed is not None and spec not in self.allowed and spec != self.default:
            raise _unknown(model or spec)
        existing = self._clients.get(spec)
        if existing is None:
            try:
                existing = self.factory(spec)
            except LLMStreamError as exc:
                raise RequestError(str(exc), status=404, param="model", code="model_not_found") from exc
            self._clients[spec] = existing
        return spec, existing

    async def aclose(self) -> None:
        clients, self._clients = self._clients, {}
        for client in clients.values():
            await client.aclose()


def call_options(provider: str, extra: Mapping[str, Any], tool_choice: Any) -> dict[str, Any]:
    """Keywords for ``astream``: fields llmstream has no name for go where the provider's SDK takes
    them (``extra_body``), else a 400 names the field."""
    out: dict[str, Any] = {}
    if tool_choice is not None:
        out.update(_tool_choice(provider, tool_choice))
    if not extra:
        return out
    if provider == "mock":
        out.update(extra)
    elif provider in _EXTRA_BODY:
        out["extra_body"] = dict(extra)
    else:
        name = sorted(extra)[0]
        raise RequestError(f"{name!r} is not supported for provider {provider!r}", param=name,
                           code="unsupported_parameter")
    return out


def _tool_choice(provider: str, choice: Any) -> dict[str, Any]:
    if provider in ("openai", "openrouter", "mock"):
        return {"tool_choice": choice}
    if provider == "anthropic":
        if choice == "auto":
            return {"tool_choice": {"type": "auto"}}
        if choice == "required":
            return {"tool_choice": {"type": "any"}}
        if choice == "none":
            return {"tool_choice": {"type": "none"}}
        if isinstance(choice, Mapping) and isinstance(choice.get("function"), Mapping):
            return {"tool_choice": {"type": "tool", "name": choice["function"].get("name")}}
    if choice == "auto":
        return {}
    raise RequestError(f"tool_choice {choice!r} is not supported for provider {provider!r}", param="tool_choice")
