"""The shared real-traffic corpus, and the vendor-side oracles llmstream is compared with (one module
per vendor: ``openai``, ``anthropic``, ``gemini``; ``corpus`` reads recordings, ``replay`` compares).

A :class:`Recording` is one interaction of ``../shared/cassettes`` (read in place, never copied).
An oracle turns the same response bytes into an :class:`Expected` completion *without llmstream*:

- OpenAI wire: the ``openai`` SDK's own client (fed through an ``httpx2.MockTransport``) and its
  ``ChatCompletionStreamState`` accumulator; where that helper rejects a chunk or is known to
  mis-accumulate, :func:`openai_json_oracle`, a JSON-level accumulation written here from DESIGN's rules.
- Anthropic: the ``anthropic`` SDK's ``messages.stream(...).get_final_message()`` (``beta.messages``
  for recordings made on the ``?beta=true`` endpoint).
- Responses API: the ``openai`` SDK's ``responses.stream()`` and its ``ResponseStreamState`` (``responses``).
- Gemini: the ``google-genai`` SDK's parsed ``GenerateContentResponse`` objects, parts concatenated,
  the last ``usage_metadata`` and finish reason kept.

Usage and finish reasons are normalized here with tables of our own (DESIGN's rules), so that a
mistake in llmstream's tables cannot hide in both sides of the comparison.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.oracles.anthropic import anthropic_oracle
from tests.oracles.corpus import (
    FOLDERS,
    Expected,
    ExpectedCall,
    OracleRejected,
    Recording,
    corpus,
    sse_events,
)
from tests.oracles.gemini import gemini_oracle
from tests.oracles.openai import openai_json_oracle, openai_oracle, openai_sdk_oracle
from tests.oracles.replay import (
    BASE_PATHS,
    differences,
    expect_matches,
    llmstream_client,
    served,
    shared_ssl_context,
)
from tests.oracles.responses import responses_oracle

__all__ = [
    "BASE_PATHS",
    "FOLDERS",
    "ORACLES",
    "Expected",
    "ExpectedCall",
    "OracleRejected",
    "Recording",
    "anthropic_oracle",
    "corpus",
    "differences",
    "expect_matches",
    "gemini_oracle",
    "llmstream_client",
    "openai_json_oracle",
    "openai_oracle",
    "openai_sdk_oracle",
    "oracle",
    "responses_oracle",
    "served",
    "shared_ssl_context",
    "sse_events",
]

ORACLES: dict[str, Callable[[Recording], Expected]] = {
    "openai-responses": responses_oracle,
    "openai": openai_oracle,
    "openrouter": openai_oracle,
    "anthropic": anthropic_oracle,
    "gemini": gemini_oracle,
}


_EXPECTED: dict[str, Expected] = {}


def oracle(rec: Recording) -> Expected:
    """The expected completion of a recording (computed once per session: sync, async and the
    incremental test share it)."""
    if rec.id not in _EXPECTED:
        _EXPECTED[rec.id] = ORACLES[rec.wire](rec)
    return _EXPECTED[rec.id]
