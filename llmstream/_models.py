"""Model names: ``provider:model`` as given, or a bare model name resolved to its provider.

Pure and table-driven (no I/O, no vendor SDK): ``llmstream.client("gpt-4o")`` and the CLI's
``-m claude-sonnet-4-6`` both come through :func:`resolve_model`.

=====================================  ============
bare name                              provider
=====================================  ============
``gpt-*``, ``chatgpt-*``, ``o1*``,     openai
``o3*``, ``o4*``
``claude-*``                           anthropic
``gemini-*``, Google's ``models/…``    gemini
``vendor/model`` (a slash)             openrouter
=====================================  ============
"""

from __future__ import annotations

from collections.abc import Container

__all__ = ["BARE_NAME_RULES", "provider_for", "resolve_model"]

#: (name prefixes, provider), first match wins; Google's ``models/…`` comes before the slash rule.
BARE_NAME_RULES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("gpt-", "chatgpt-", "o1", "o3", "o4"), "openai"),
    (("claude-",), "anthropic"),
    (("gemini-", "models/"), "gemini"),
)


def provider_for(name: str) -> str | None:
    """The provider a bare model name belongs to, or None when the name does not say."""
    lowered = name.strip().lower()
    for prefixes, provider in BARE_NAME_RULES:
        if lowered.startswith(prefixes):
            return provider
    if "/" in lowered.strip("/"):
        return "openrouter"  # OpenRouter's "vendor/model" ids (their ":free" suffix included)
    return None


def resolve_model(spec: str, providers: Container[str]) -> str:
    """``provider:model`` for a spec: as given when its prefix is a known provider, else the bare
    name with the provider it resolves to; a spec that resolves to nothing comes back unchanged
    (the factory then explains the ``provider:model`` form)."""
    prefix, sep, _ = spec.partition(":")
    if sep and prefix.lower() in providers:
        return spec
    provider = provider_for(spec)
    return f"{provider}:{spec}" if provider else spec
