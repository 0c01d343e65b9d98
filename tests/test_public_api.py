"""The public surface: __all__ complete and sorted, lazy vendor imports, sync/async parity."""

from __future__ import annotations

import inspect
import subprocess
import sys

import llmstream
from llmstream import BaseClient


def test_all_is_sorted_and_unique() -> None:
    assert list(llmstream.__all__) == sorted(set(llmstream.__all__))


def test_all_is_complete_and_importable() -> None:
    public = {
        name
        for name in dir(llmstream)
        if not name.startswith("_")
        and getattr(getattr(llmstream, name), "__module__", "").startswith("llmstream")
    }
    assert public <= set(llmstream.__all__), public - set(llmstream.__all__)
    for name in llmstream.__all__:
        assert getattr(llmstream, name) is not None


def test_design_names_are_public() -> None:
    design = {
        "Message", "Conversation", "Tool", "ToolCall", "ToolCallDelta", "Usage", "FinishReason", "ChunkType",
        "StreamedChunk", "StreamStats", "Completion", "StreamingAccumulator", "StreamingOptions", "Stream",
        "AsyncStream", "OpenAIClient", "AnthropicClient", "GeminiClient", "OpenRouterClient", "MockClient",
        "LLMStreamError", "ConfigurationError", "ProviderError", "AuthenticationError", "RateLimitError",
        "BadRequestError", "ServerError", "StreamInterruptedError", "StreamTimeoutError", "MalformedStreamError",
        "InBandError", "CallbackError", "ToolArgumentsError", "client",
    }
    assert design <= set(llmstream.__all__)


def test_import_loads_no_vendor_sdk() -> None:
    code = (
        "import sys, llmstream, llmstream.sse;"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'openai', 'anthropic', 'google', 'httpx2'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _signature(obj: object) -> list[tuple[str, object, object]]:
    sig = inspect.signature(obj)  # type: ignore[arg-type]
    return [(p.name, p.kind, p.default) for p in sig.parameters.values()]


def test_sync_and_async_calls_have_the_same_signatures() -> None:
    assert _signature(BaseClient.stream) == _signature(BaseClient.astream)
    assert _signature(BaseClient.stream_complete) == _signature(BaseClient.astream_complete)
    assert inspect.iscoroutinefunction(BaseClient.astream_complete)
