"""llmstream: stream LLM responses from OpenAI, Anthropic, Gemini and OpenRouter through one API.

``import llmstream`` loads no vendor SDK: a provider's SDK is imported when its client is made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._accumulator import StreamingAccumulator
from ._client import BaseClient, client
from ._content import Audio, Document, Image, Part, Text
from ._conversation import Conversation, Message
from ._errors import (
    AuthenticationError,
    BadRequestError,
    CallbackError,
    ConfigurationError,
    ContentLimitError,
    InBandError,
    LLMStreamError,
    MalformedStreamError,
    OutputValidationError,
    ProviderError,
    RateLimitError,
    ServerError,
    StreamInterruptedError,
    StreamTimeoutError,
    ToolArgumentsError,
)
from ._options import StreamingOptions
from ._registry import class_modules as _class_modules
from ._stream import AsyncStream, Stream
from ._types import (
    ChunkType,
    Citation,
    Completion,
    FinishReason,
    ProviderOutput,
    ReasoningBlock,
    ServerToolEvent,
    ServerToolStatus,
    StreamedChunk,
    StreamStats,
    Tool,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from .fallback import AsyncFallbackStream, FallbackClient, FallbackStream, fallback, is_fallback_error
from .fanout import (
    AsyncCouncil,
    AsyncMerged,
    Council,
    CouncilEvent,
    CouncilResult,
    FanoutResult,
    Merged,
    acouncil,
    amerge,
    council,
    merge,
)
from .processors import ContentFilter, Processor, Smooth
from .structured import (
    JSONStreamParser,
    PartialJSON,
    apartial_json,
    astream_to_string,
    partial_json,
    stream_to_string,
)

if TYPE_CHECKING:
    from .providers.anthropic import AnthropicClient
    from .providers.gemini import GeminiClient
    from .providers.mock import MockClient
    from .providers.openai import OpenAIClient
    from .providers.openai_responses import OpenAIResponsesClient
    from .providers.openrouter import OpenRouterClient
    from .providers.vertex import VertexClient

__version__ = "0.1.0"

__all__ = [
    "AnthropicClient",
    "AsyncCouncil",
    "AsyncFallbackStream",
    "AsyncMerged",
    "AsyncStream",
    "Audio",
    "AuthenticationError",
    "BadRequestError",
    "BaseClient",
    "CallbackError",
    "ChunkType",
    "Citation",
    "Completion",
    "ConfigurationError",
    "ContentFilter",
    "ContentLimitError",
    "Conversation",
    "Council",
    "CouncilEvent",
    "CouncilResult",
    "Document",
    "FallbackClient",
    "FallbackStream",
    "FanoutResult",
    "FinishReason",
    "GeminiClient",
    "Image",
    "InBandError",
    "JSONStreamParser",
    "LLMStreamError",
    "MalformedStreamError",
    "Merged",
    "Message",
    "MockClient",
    "OpenAIClient",
    "OpenAIResponsesClient",
    "OpenRouterClient",
    "OutputValidationError",
    "Part",
    "PartialJSON",
    "Processor",
    "ProviderError",
    "ProviderOutput",
    "RateLimitError",
    "ReasoningBlock",
    "ServerError",
    "ServerToolEvent",
    "ServerToolStatus",
    "Smooth",
    "Stream",
    "StreamInterruptedError",
    "StreamStats",
    "StreamTimeoutError",
    "StreamedChunk",
    "StreamingAccumulator",
    "StreamingOptions",
    "Text",
    "Tool",
    "ToolArgumentsError",
    "ToolCall",
    "ToolCallDelta",
    "Usage",
    "VertexClient",
    "acouncil",
    "amerge",
    "apartial_json",
    "astream_to_string",
    "client",
    "council",
    "fallback",
    "is_fallback_error",
    "merge",
    "partial_json",
    "stream_to_string",
]

# Client classes are resolved on first access (from the one registry, ``_registry``), so that
# importing llmstream imports no vendor SDK.
_LAZY = _class_modules()


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'llmstream' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
