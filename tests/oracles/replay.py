"""Replaying a recording through llmstream (the loopback server, the real client) and comparing the
completion with an oracle's :class:`Expected`."""

from __future__ import annotations

import contextlib
import functools
import itertools
import ssl
from collections.abc import Iterator
from typing import Any

from tests.oracles.corpus import Expected, Recording

__all__ = ["BASE_PATHS", "differences", "expect_matches", "llmstream_client", "served", "shared_ssl_context"]

BASE_PATHS = {"openai": "/v1", "anthropic": "", "gemini": "", "openrouter": "/api/v1", "openai-responses": "/v1"}


def served(rec: Recording, pieces: list[bytes] | None = None) -> Any:
    """The loopback answer for ``rec``: as recorded (gzip stays gzip), or the decoded body in ``pieces``."""
    from tests.loopback import Scripted

    if pieces is not None:
        return Scripted(status=rec.status, headers=rec.served_headers(gzipped=False), chunks=pieces)
    headers = rec.served_headers(gzipped=rec.gzipped)
    if rec.status >= 400:
        return Scripted(status=rec.status, headers=headers, body=rec.raw_body)
    return Scripted(status=rec.status, headers=headers, chunks=[rec.raw_body])


def llmstream_client(rec: Recording, server: Any, **options: Any) -> Any:
    """The real llmstream client of the recording's wire, pointed at the loopback server; no retries."""
    import llmstream

    base_url = server.url + BASE_PATHS[rec.wire]
    return llmstream.client(
        f"{rec.wire}:{rec.model}", api_key="replay-key", base_url=base_url, max_retries=0, **options
    )


def differences(completion: Any, expected: Expected) -> list[str]:
    """What differs between llmstream's completion and the oracle's, one line per field."""
    out = []
    for name in ("id", "model", "text", "reasoning", "refusal", "usage", "finish_reason", "raw_finish_reason"):
        got, want = getattr(completion, name), getattr(expected, name)
        if got != want:
            out.append(f"{name}: llmstream {got!r} != oracle {want!r}")
    if expected.signatures is not None:
        got = tuple(
            f"redacted:{block.redacted_data}" if block.redacted_data is not None else block.signature
            for block in completion.reasoning_blocks
            if block.signature or block.redacted_data is not None
        )
        if got != expected.signatures:
            out.append(f"reasoning signatures: llmstream {_short(got)} != oracle {_short(expected.signatures)}")
    got_calls = [(call.id, call.name, call.args, call.signature) for call in completion.tool_calls]
    want_calls = [(call.id, call.name, call.args, call.signature) for call in expected.tool_calls]
    if len({call[0] for call in got_calls}) != len(got_calls) or not all(call[0] for call in got_calls):
        out.append(f"tool-call ids must be present and unique: {[call[0] for call in got_calls]}")
    # Where the vendor sent no id (Gemini), llmstream's synthesized one is accepted as it is.
    want_calls = [
        (got[0] if want[0] is None and got is not None else want[0], *want[1:])
        for want, got in itertools.zip_longest(want_calls, got_calls[: len(want_calls)])
    ]
    if got_calls != want_calls:
        out.append(f"tool_calls: llmstream {got_calls!r} != oracle {want_calls!r}")
    return out


def _short(values: Any) -> list[str]:
    return [value if value is None or len(value) <= 24 else value[:20] + "…" for value in values]


def expect_matches(completion: Any, expected: Expected) -> None:
    diffs = differences(completion, expected)
    notes = "".join(f"\n  note: {note}" for note in expected.notes)
    assert not diffs, f"differs from {expected.oracle}:\n  " + "\n  ".join(diffs) + notes


@contextlib.contextmanager
def shared_ssl_context() -> Iterator[None]:
    """Let every vendor SDK client share one default SSL context while the tests run.

    Each openai/anthropic/google-genai client builds fresh certifi contexts (~0.1 s apiece, google-genai
    two) although these tests only speak plain HTTP to 127.0.0.1: a few hundred clients would spend
    most of the suite's time loading CA bundles. Contexts are made to be shared; nothing here uses TLS.
    """
    original = ssl.create_default_context
    cached = functools.lru_cache(maxsize=None)(original)
    ssl.create_default_context = cached  # type: ignore[assignment]
    try:
        yield
    finally:
        ssl.create_default_context = original
