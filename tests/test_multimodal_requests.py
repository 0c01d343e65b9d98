"""Content parts on the wire: each provider's real SDK (or httpx2 for OpenRouter) against the loopback
server, sync and async. The request body of text + image bytes, text + image URL, text + PDF and
text + audio is asserted to be exactly the vendor's documented shape; a part a provider cannot
take raises ConfigurationError naming part and provider, and the server sees no request at all.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any

import pytest

from llmstream import (
    AnthropicClient,
    Audio,
    BaseClient,
    ConfigurationError,
    Conversation,
    Document,
    GeminiClient,
    Image,
    OpenAIClient,
    OpenRouterClient,
    Part,
    Text,
    ToolCall,
)
from tests.helpers import complete
from tests.loopback import (
    LoopbackServer,
    Scripted,
    anthropic_stream,
    anthropic_text_events,
    gemini_stream,
    gemini_text_responses,
    openai_stream,
    openai_text_chunks,
)
from tests.media import FLAC, PDF, PNG, WAV, b64, data_url

PROMPT = "What is this?"
IMAGE_URL = "https://upload.example.org/cat.jpg"
PDF_URL = "https://example.org/paper.pdf"
FILE_URI = "https://generativelanguage.googleapis.com/v1beta/files/abc123"


def openai_client(server: LoopbackServer) -> BaseClient:
    return OpenAIClient("gpt-4o", api_key="sk" "-test-0123456789abcdef", base_url=server.url + "/v1", max_retries=0)


def openrouter_client(server: LoopbackServer) -> BaseClient:
    return OpenRouterClient("openai/gpt-4o", api_key="sk" "-or-test", base_url=server.url + "/api/v1", max_retries=0)


def anthropic_client(server: LoopbackServer) -> BaseClient:
    return AnthropicClient("claude-sonnet-4-5", api_key="sk" "-ant-test", base_url=server.url, max_retries=0)


def gemini_client(server: LoopbackServer) -> BaseClient:
    return GeminiClient("gemini-2.5-flash", api_key="AI" "za-test-key", base_url=server.url, max_retries=0)


CLIENTS: dict[str, Callable[[LoopbackServer], BaseClient]] = {
    "openai": openai_client,
    "openrouter": openrouter_client,
    "anthropic": anthropic_client,
    "gemini": gemini_client,
}


def answer(provider: str) -> Scripted:
    if provider == "anthropic":
        return Scripted(chunks=anthropic_stream(anthropic_text_events(["ok"])))
    if provider == "gemini":
        return Scripted(chunks=gemini_stream(gemini_text_responses(["ok"])))
    return Scripted(chunks=openai_stream(openai_text_chunks(["ok"])))


def sent(server: LoopbackServer, provider: str, conversation: Conversation, mode: str, **kwargs: Any) -> Any:
    """Stream ``conversation`` and return the one request body the server received."""
    server.enqueue(answer(provider))
    completion = complete(CLIENTS[provider](server), conversation, mode, **kwargs)
    assert completion.text == "ok"
    (request,) = server.requests
    return request.json


def turn(body: Any, provider: str) -> Any:
    """The user turn's content as sent."""
    if provider == "gemini":
        return body["contents"][0]["parts"]
    return body["messages"][0]["content"]


def gemini_b64(value: str) -> bytes:
    """google-genai serializes bytes URL-safe; the API accepts either alphabet."""
    return base64.urlsafe_b64decode(value)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def rest(value: Any) -> Any:
    """A Gemini request part in the REST reference's spelling (``inline_data: {mime_type, data}``):
    google-genai mixes camelCase and snake_case keys (the API reads both) and encodes bytes URL-safe
    (the API reads both alphabets); this puts both in one spelling to compare exactly."""
    if isinstance(value, dict):
        out = {_snake(key): rest(item) for key, item in value.items()}
        if "mime_type" in out and isinstance(out.get("data"), str):
            out["data"] = b64(gemini_b64(out["data"]))
        return out
    if isinstance(value, list):
        return [rest(item) for item in value]
    return value


# -- the four cases per provider, each asserted on the exact JSON ---------------------------------

CASES: dict[str, Callable[[], Part]] = {
    "image-bytes": lambda: Image.from_bytes(PNG, "image/png"),
    "image-url": lambda: Image.from_url(IMAGE_URL, detail="low"),
    "pdf": lambda: Document.from_bytes(PDF, filename="paper.pdf"),
    "audio": lambda: Audio.from_bytes(WAV),
}

OPENAI_SHAPES: dict[str, Any] = {
    "image-bytes": {"type": "image_url", "image_url": {"url": data_url("image/png", PNG)}},
    "image-url": {"type": "image_url", "image_url": {"url": IMAGE_URL, "detail": "low"}},
    "pdf": {"type": "file", "file": {"filename": "paper.pdf", "file_data": data_url("application/pdf", PDF)}},
    "audio": {"type": "input_audio", "input_audio": {"data": b64(WAV), "format": "wav"}},
}
ANTHROPIC_SHAPES: dict[str, Any] = {
    "image-bytes": {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": b64(PNG)}},
    "image-url": {"type": "image", "source": {"type": "url", "url": IMAGE_URL}},
    "pdf": {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": b64(PDF)}},
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("provider", ["openai", "openrouter"])
def test_openai_shapes(loopback: LoopbackServer, mode: str, provider: str, case: str) -> None:
    body = sent(loopback, provider, Conversation().user(PROMPT, CASES[case]()), mode)
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": PROMPT}, OPENAI_SHAPES[case]]}]


@pytest.mark.parametrize("case", ["image-bytes", "image-url", "pdf"])
def test_anthropic_shapes(loopback: LoopbackServer, mode: str, case: str) -> None:
    body = sent(loopback, "anthropic", Conversation().system("Be brief.").user(PROMPT, CASES[case]()), mode)
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": PROMPT}, ANTHROPIC_SHAPES[case]]}
    ]
    assert body["system"] == "Be brief."


def test_anthropic_document_url_text_document_and_title(loopback: LoopbackServer, mode: str) -> None:
    parts = (Document.from_url(PDF_URL), Document.from_text("line 1\nline 2", title="Notes"))
    body = sent(loopback, "anthropic", Conversation().user(*parts), mode)
    assert body["messages"][0]["content"] == [
        {"type": "document", "source": {"type": "url", "url": PDF_URL}},
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "line 1\nline 2"},
         "title": "Notes"},
    ]


def test_gemini_shapes(loopback: LoopbackServer, mode: str) -> None:
    parts = [CASES[case]() for case in CASES] + [Image.from_url(FILE_URI, media_type="image/png")]
    body = sent(loopback, "gemini", Conversation().user(PROMPT, *parts), mode)
    assert rest(body["contents"]) == [
        {
            "role": "user",
            "parts": [
                {"text": PROMPT},
                {"inline_data": {"mime_type": "image/png", "data": b64(PNG)}},
                {"file_data": {"file_uri": IMAGE_URL, "mime_type": "image/jpeg"}},
                {"inline_data": {"mime_type": "application/pdf", "data": b64(PDF)}},
                {"inline_data": {"mime_type": "audio/wav", "data": b64(WAV)}},
                {"file_data": {"file_uri": FILE_URI, "mime_type": "image/png"}},
            ],
        }
    ]


def test_gemini_mp3_gets_its_documented_mime_type(loopback: LoopbackServer, mode: str) -> None:
    mp3 = Audio.from_bytes(b"ID3\x04\x00" + b"\x00" * 20)
    body = sent(loopback, "gemini", Conversation().user(mp3), mode)
    assert rest(turn(body, "gemini"))[0]["inline_data"]["mime_type"] == "audio/mp3"


def test_text_documents_go_as_delimited_text_on_openai(loopback: LoopbackServer, mode: str) -> None:
    notes = Document.from_text("a,b\n1,2", media_type="text/csv", filename="t.csv")
    body = sent(loopback, "openai", Conversation().user("Sum column b", notes), mode)
    assert body["messages"][0]["content"][1] == {
        "type": "text",
        "text": '-----BEGIN FILE name="t.csv" type="text/csv"-----\na,b\n1,2\n-----END FILE name="t.csv"-----',
    }


def test_openrouter_takes_pdf_urls_and_more_audio_formats(loopback: LoopbackServer, mode: str) -> None:
    body = sent(loopback, "openrouter", Conversation().user(Document.from_url(PDF_URL), Audio.from_bytes(FLAC)), mode)
    assert body["messages"][0]["content"] == [
        {"type": "file", "file": {"filename": "document.pdf", "file_data": PDF_URL}},
        {"type": "input_audio", "input_audio": {"data": b64(FLAC), "format": "flac"}},
    ]


def test_parts_from_files_are_the_same_parts(loopback: LoopbackServer, mode: str, tmp_path: Any) -> None:
    (tmp_path / "cat.png").write_bytes(PNG)
    (tmp_path / "paper.pdf").write_bytes(PDF)
    (tmp_path / "q.wav").write_bytes(WAV)
    parts = (Image.from_path(tmp_path / "cat.png"), Document.from_path(tmp_path / "paper.pdf"),
             Audio.from_path(tmp_path / "q.wav"))
    body = sent(loopback, "openai", Conversation().user(PROMPT, *parts), mode)
    assert body["messages"][0]["content"][1:] == [OPENAI_SHAPES["image-bytes"], OPENAI_SHAPES["pdf"],
                                                  OPENAI_SHAPES["audio"]]


# -- tool results with images ----------------------------------------------------------------------


def tool_turns(*result: Any) -> Conversation:
    conversation = Conversation().user("Show me the chart")
    conversation.assistant("", tool_calls=[ToolCall("call_1", "chart", "{}")])
    return conversation.tool_result("call_1", list(result))


def test_anthropic_tool_result_carries_the_image(loopback: LoopbackServer, mode: str) -> None:
    body = sent(loopback, "anthropic", tool_turns("the chart:", Image.from_bytes(PNG)), mode)
    assert body["messages"][2] == {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "call_1",
                     "content": [{"type": "text", "text": "the chart:"}, ANTHROPIC_SHAPES["image-bytes"]]}],
    }


def test_gemini_tool_result_carries_the_image_in_function_response_parts(loopback: LoopbackServer, mode: str) -> None:
    body = sent(loopback, "gemini", tool_turns('{"points": 3}', Image.from_bytes(PNG)), mode)
    assert rest(body["contents"][2]) == {
        "role": "user",
        "parts": [{"function_response": {
            "id": "call_1",
            "name": "chart",
            "response": {"result": {"points": 3}},
            "parts": [{"inline_data": {"mime_type": "image/png", "data": b64(PNG)}}],
        }}],
    }


def test_text_only_tool_result_parts_are_text_parts_on_openai(loopback: LoopbackServer, mode: str) -> None:
    conversation = Conversation().user("x")
    conversation.assistant("", tool_calls=[ToolCall("call_1", "f", "{}")])
    conversation.messages.append(attrs_evolve_tool("call_1", (Text("a"), Text("b"))))
    body = sent(loopback, "openai", conversation, mode)
    assert body["messages"][2] == {"role": "tool", "tool_call_id": "call_1",
                                   "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}


def attrs_evolve_tool(call_id: str, parts: tuple[Part, ...]) -> Any:
    from llmstream import Message

    return Message("tool", parts, tool_call_id=call_id, name="f")


# -- what a provider cannot take: an error before any request ---------------------------------------

_BIG_PNG = PNG[:16] + bytes(4 * 1024 * 1024)  # 4 MiB: 5.3 MB once base64-encoded

UNSUPPORTED: list[tuple[str, Callable[[], Conversation], str]] = [
    ("openai", lambda: Conversation().user(PROMPT, Document.from_url(PDF_URL)), "not URLs"),
    ("openai", lambda: Conversation().user(PROMPT, Audio.from_bytes(FLAC)), "input_audio formats"),
    ("openai", lambda: Conversation().user(PROMPT, Audio.from_url("https://x.org/a.wav")), "not a URL"),
    ("openai", lambda: Conversation().user(Image.from_bytes(b"BM" + bytes(30), "image/bmp")), "images must be"),
    ("openai", lambda: tool_turns("chart", Image.from_bytes(PNG)), "tool results take text only"),
    ("openrouter", lambda: tool_turns("chart", Image.from_bytes(PNG)), "tool results take text only"),
    ("openrouter", lambda: Conversation().user(Audio.from_url("https://x.org/a.wav")), "not a URL"),
    ("anthropic", lambda: Conversation().user(PROMPT, Audio.from_bytes(WAV)), "no audio input"),
    ("anthropic", lambda: Conversation().user(PROMPT, Image.from_bytes(_BIG_PNG)), "at most 5 MB"),
    ("anthropic", lambda: Conversation().user(Image.from_bytes(b"GIF89a" + bytes(10), "image/heic")), "images must"),
    ("anthropic", lambda: Conversation().user(*[Image.from_bytes(PNG)] * 101), "at most 100 images"),
    ("gemini", lambda: Conversation().user(PROMPT, Image.from_bytes(b"GIF89a" + bytes(10))), "images must be"),
    ("gemini", lambda: tool_turns("x", Audio.from_bytes(WAV)), "not audio"),
    ("gemini", lambda: Conversation().user(*[Image.from_bytes(_BIG_PNG)] * 4), "exceed 20 MB"),
]


@pytest.mark.parametrize(("provider", "build", "reason"), UNSUPPORTED,
                         ids=[f"{p}-{r.replace(' ', '_')}" for p, _, r in UNSUPPORTED])
def test_unsupported_parts_raise_before_any_request(
    loopback: LoopbackServer, mode: str, provider: str, build: Callable[[], Conversation], reason: str
) -> None:
    loopback.enqueue(answer(provider))
    with pytest.raises(ConfigurationError) as caught:
        complete(CLIENTS[provider](loopback), build(), mode)
    message = str(caught.value)
    assert reason in message
    assert f"cannot be sent to {provider}" in message
    assert any(word in message for word in ("Image(", "Document(", "Audio("))  # names the part
    assert caught.value.provider == provider
    assert loopback.requests == []  # nothing was sent


def test_raise_on_error_false_reports_the_refusal_without_a_request(loopback: LoopbackServer, mode: str) -> None:
    conversation = Conversation().user(PROMPT, Audio.from_bytes(WAV))
    completion = complete(anthropic_client(loopback), conversation, mode, raise_on_error=False)
    assert isinstance(completion.error, ConfigurationError)
    assert "Audio(audio/wav" in str(completion.error) and completion.text == ""
    assert loopback.requests == []


def test_openai_style_dicts_with_an_image_are_sent_not_dropped(loopback: LoopbackServer, mode: str) -> None:
    """The issue's report: a content list with an image must reach every provider with the image."""
    messages = [{"role": "user", "content": [{"type": "text", "text": "what is this"},
                                             {"type": "image_url", "image_url": {"url": data_url("image/png", PNG)}}]}]
    for provider in CLIENTS:
        loopback.enqueue(answer(provider))
        complete(CLIENTS[provider](loopback), messages, mode)
    bodies = [request.json for request in loopback.requests]
    assert turn(bodies[0], "openai") == messages[0]["content"]
    assert turn(bodies[1], "openrouter") == messages[0]["content"]
    assert turn(bodies[2], "anthropic")[1] == ANTHROPIC_SHAPES["image-bytes"]
    assert rest(turn(bodies[3], "gemini"))[1] == {"inline_data": {"mime_type": "image/png", "data": b64(PNG)}}


def test_openai_counts_images_per_request(loopback: LoopbackServer, mode: str) -> None:
    image = Image.from_url(IMAGE_URL)
    with pytest.raises(ConfigurationError, match="at most 500 images"):
        complete(openai_client(loopback), Conversation().user(*[image] * 501), mode)
    assert loopback.requests == []
