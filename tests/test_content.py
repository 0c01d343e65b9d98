"""Content parts as values: media-type detection, files read once, base64 computed once, reprs
without bytes, Conversation building, and ``from_messages`` round trips of the OpenAI and Anthropic
dict forms through each provider's own request builder."""

from __future__ import annotations

import base64
import types
from pathlib import Path
from typing import Any

import attrs
import pytest

import llmstream._content as content_module
from llmstream import Audio, ConfigurationError, Conversation, Document, Image, Message, Text, ToolCall
from llmstream._content_dicts import part_from_json, part_to_json
from llmstream.providers import _anthropic_wire, _openai_wire
from tests.media import FLAC, MP3, PDF, PNG, WAV, b64, data_url

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(8)
GIF = b"GIF89a" + bytes(8)
WEBP = b"RIFF\x10\x00\x00\x00WEBPVP8 " + bytes(8)


@pytest.mark.parametrize(
    ("cls", "data", "media_type"),
    [
        (Image, PNG, "image/png"),
        (Image, JPEG, "image/jpeg"),
        (Image, GIF, "image/gif"),
        (Image, WEBP, "image/webp"),
        (Document, PDF, "application/pdf"),
        (Audio, WAV, "audio/wav"),
        (Audio, MP3, "audio/mpeg"),
        (Audio, FLAC, "audio/flac"),
    ],
)
def test_media_type_from_magic_bytes(cls: Any, data: bytes, media_type: str) -> None:
    part = cls.from_bytes(data)
    assert part.media_type == media_type
    assert part.base64 == b64(data) and part.data == data and part.size == len(data)


@pytest.mark.parametrize(
    ("name", "cls", "media_type"),
    [("notes.txt", Document, "text/plain"), ("README.md", Document, "text/markdown"),
     ("t.csv", Document, "text/csv"), ("photo.JPG", Image, "image/jpeg"), ("a.webp", Image, "image/webp")],
)
def test_media_type_from_the_extension_when_the_bytes_say_nothing(
    tmp_path: Path, name: str, cls: Any, media_type: str
) -> None:
    path = tmp_path / name
    path.write_bytes(b"plain words\n")  # no magic number: the extension decides
    part = cls.from_path(path)
    assert (part.media_type, part.filename, part.path) == (media_type, name, str(path))


def test_given_media_type_wins_and_aliases_are_normalized() -> None:
    assert Image.from_bytes(b"??", "image/jpg").media_type == "image/jpeg"
    assert Audio.from_bytes(b"??", "audio/x-wav").media_type == "audio/wav"
    assert Audio.from_bytes(b"??", "audio/mp3").format == "mp3"
    assert Image.from_url("https://x.org/a.png?size=2").media_type == "image/png"
    assert Image.from_url("https://x.org/render").media_type is None  # unknown stays unknown


def test_unknown_bytes_need_a_media_type() -> None:
    with pytest.raises(ConfigurationError, match="pass media_type="):
        Image.from_bytes(b"\x00\x01\x02")


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: Image.from_bytes(PDF), "Image takes image media, got 'application/pdf'"),
        (lambda: Document.from_bytes(PNG), "Document takes application/pdf or text media"),
        (lambda: Audio.from_bytes(PNG), "Audio takes audio media"),
        (lambda: Image.from_url(""), "needs a URL string"),
        (lambda: Image.from_url("data:image/png;base64,@@@"), "invalid base64"),
        (lambda: Image.from_bytes(PNG, detail="ultra"), "detail must be"),
        (lambda: Image(data=PNG, url="https://x.org/a.png"), "exactly one of"),
        (lambda: Image.from_path("/nonexistent/cat.png"), "cannot read Image file"),
    ],
)
def test_bad_parts_are_configuration_errors(build: Any, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        build()


def test_data_urls_become_bytes() -> None:
    image = Image.from_url(data_url("image/png", PNG), detail="high")
    assert (image.data, image.url, image.media_type, image.detail) == (PNG, None, "image/png", "high")
    assert image.data_url() == data_url("image/png", PNG)
    assert Document.from_url("data:text/plain,hello%20there").text == "hello there"


def test_files_are_read_once_and_encoded_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "cat.png"
    path.write_bytes(PNG)
    calls: list[int] = []
    real = base64.b64encode

    def counting(data: bytes) -> bytes:
        calls.append(len(data))
        return real(data)

    encoder = types.SimpleNamespace(b64encode=counting, b64decode=base64.b64decode)
    monkeypatch.setattr(content_module, "_b64", encoder)
    image = Image.from_path(path)
    path.write_bytes(b"changed on disk")  # the part holds what was read
    conversation = Conversation().user("what is this?", image)
    for _ in range(3):
        _openai_wire.messages_payload(conversation)
        _anthropic_wire.messages_payload(conversation)
    assert calls == [len(PNG)]
    assert image.data == PNG and image.base64 is image.base64


def test_repr_never_shows_the_bytes_and_values_compare_by_content() -> None:
    image = Image.from_bytes(PNG)
    assert repr(image) == f"Image(media_type='image/png', size={len(PNG)})"
    assert b64(PNG)[:12] not in repr(Conversation().user("x", image).messages)
    assert image == Image.from_bytes(PNG) and image != Image.from_bytes(PNG, detail="low")
    assert hash(image) == hash(Image.from_bytes(PNG))
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        image.media_type = "image/gif"  # type: ignore[misc]


def test_sha256_and_size_for_references() -> None:
    document = Document.from_bytes(PDF, filename="p.pdf")
    assert document.size == len(PDF) and len(document.sha256 or "") == 64
    url = Document.from_url("https://x.org/p.pdf")
    assert (url.size, url.sha256, url.base64, url.data_url()) == (None, None, None, "https://x.org/p.pdf")


def test_conversation_user_takes_text_and_parts() -> None:
    image = Image.from_bytes(PNG)
    conversation = Conversation().user("plain").user("What is this?", image)
    plain, mixed = conversation.messages
    assert plain.content == "plain" and plain.parts == (Text("plain"),)
    assert mixed.content == (Text("What is this?"), image)
    assert mixed.text == "What is this?"
    assert Message("user", [image, "caption"]).content == (image, Text("caption"))


def test_a_non_part_in_content_is_an_error_not_a_drop() -> None:
    with pytest.raises(ConfigurationError, match="got int"):
        Message("user", ["hi", 42])  # type: ignore[list-item]
    with pytest.raises(ConfigurationError, match="system message takes text only"):
        Message("system", (Image.from_bytes(PNG),))


def test_tool_result_with_parts_keeps_them_and_other_content_stays_json() -> None:
    conversation = Conversation().assistant("", tool_calls=[ToolCall("c1", "chart", "{}")])
    image = Image.from_bytes(PNG)
    conversation.tool_result("c1", ["chart:", image]).tool_result("c1", image).tool_result("c1", [1, 2])
    first, second, third = conversation.messages[1:]
    assert first.content == (Text("chart:"), image) and first.name == "chart"
    assert second.content == (image,)
    assert third.content == "[1, 2]"


# -- from_messages ---------------------------------------------------------------------------------

OPENAI_FORM: list[dict[str, Any]] = [
    {"role": "system", "content": "Be brief."},
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "Compare these."},
            {"type": "image_url", "image_url": {"url": data_url("image/png", PNG), "detail": "low"}},
            {"type": "image_url", "image_url": {"url": "https://x.org/cat.jpg"}},
            {"type": "input_audio", "input_audio": {"data": b64(WAV), "format": "wav"}},
            {"type": "file", "file": {"filename": "paper.pdf", "file_data": data_url("application/pdf", PDF)}},
        ],
    },
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "look", "arguments": '{"q": 1}'}}],
    },
    {"role": "tool", "tool_call_id": "c1", "content": "found"},
    {"role": "assistant", "content": "A cat and a paper."},
]

ANTHROPIC_FORM: list[dict[str, Any]] = [
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "Compare these."},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": b64(PNG)}},
            {"type": "image", "source": {"type": "url", "url": "https://x.org/cat.jpg"}},
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": b64(PDF)},
             "title": "Paper"},
            {"type": "document", "source": {"type": "url", "url": "https://x.org/paper.pdf"}},
            {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "notes"}},
        ],
    },
    {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "sig"},
            {"type": "text", "text": "Let me look."},
            {"type": "tool_use", "id": "toolu_1", "name": "look", "input": {"q": 1}},
        ],
    },
    {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1",
             "content": [{"type": "text", "text": "chart:"},
                         {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": b64(PNG)}}]},
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "failed", "is_error": True},
            {"type": "text", "text": "And now?"},
        ],
    },
]


def test_openai_form_round_trips() -> None:
    conversation = Conversation.from_messages(OPENAI_FORM)
    user = conversation.messages[1]
    assert isinstance(user.content, tuple)
    assert [type(part).__name__ for part in user.content] == ["Text", "Image", "Image", "Audio", "Document"]
    assert _openai_wire.messages_payload(conversation) == OPENAI_FORM


def test_anthropic_form_round_trips() -> None:
    conversation = Conversation.from_messages(ANTHROPIC_FORM)
    roles = [message.role for message in conversation.messages]
    assert roles == ["user", "assistant", "tool", "tool", "user"]
    assert conversation.messages[1].tool_calls == (ToolCall("toolu_1", "look", '{"q": 1}'),)
    assert conversation.messages[2].name == "look" and conversation.messages[3].is_error
    assert _anthropic_wire.messages_payload(conversation) == ANTHROPIC_FORM


def test_one_text_part_is_text() -> None:
    conversation = Conversation.from_messages([{"role": "user", "content": [{"type": "text", "text": "hi"}]}])
    assert conversation.messages == [Message("user", "hi")]


@pytest.mark.parametrize(
    ("block", "match"),
    [
        ({"type": "video_url", "video_url": {"url": "https://x.org/v.mp4"}},
         "unsupported content part type 'video_url'"),
        ({"type": "file", "file": {"file_id": "file-abc"}}, "references an uploaded file"),
        ({"type": "image", "source": {"type": "file", "file_id": "f"}}, "source type 'file' is not supported"),
        ({"type": "input_audio", "input_audio": {"format": "wav"}}, "has no 'data'"),
        ({"type": "text"}, "without a text string"),
        ("just a string", None),
    ],
)
def test_unknown_or_broken_parts_are_named_never_dropped(block: Any, match: str | None) -> None:
    messages = [{"role": "user", "content": [{"type": "text", "text": "look:"}, block]}]
    if match is None:
        assert Conversation.from_messages(messages).messages[0].text == "look:just a string"
        return
    with pytest.raises(ConfigurationError, match=match):
        Conversation.from_messages(messages)


def test_openai_file_data_as_raw_base64_or_url() -> None:
    raw = Conversation.from_messages(
        [{"role": "user", "content": [{"type": "file", "file": {"filename": "p.pdf", "file_data": b64(PDF)}}]}]
    ).messages[0].parts[0]
    assert isinstance(raw, Document) and (raw.data, raw.media_type, raw.filename) == (PDF, "application/pdf", "p.pdf")
    url = Conversation.from_messages(
        [{"role": "user", "content": [{"type": "file", "file": {"file_data": "https://x.org/p.pdf"}}]}]
    ).messages[0].parts[0]
    assert isinstance(url, Document) and url.url == "https://x.org/p.pdf"


# -- the saved (JSON) form the CLI history keeps ----------------------------------------------------


def test_saved_form_keeps_references_not_bytes_and_reads_the_file_again(tmp_path: Path) -> None:
    path = tmp_path / "cat.png"
    path.write_bytes(PNG)
    image = Image.from_path(path, detail="low")
    saved = part_to_json(image)
    assert saved == {"type": "image", "media_type": "image/png", "path": str(path), "filename": "cat.png",
                     "detail": "low", "size": len(PNG), "sha256": image.sha256}
    assert part_from_json(saved) == image
    path.write_bytes(JPEG)  # changed since: sent as it is now, and the caller can tell
    again = part_from_json(saved)
    assert again.media_type == "image/jpeg" and again.sha256 != saved["sha256"]
    path.unlink()
    with pytest.raises(ConfigurationError, match=r"cannot read Image file .*cat\.png"):
        part_from_json(saved)


def test_saved_form_of_bytes_without_a_file_keeps_the_bytes() -> None:
    stdin = Document.from_bytes(PDF, title="Paper")
    saved = part_to_json(stdin)
    assert saved["data"] == b64(PDF) and saved["title"] == "Paper"
    assert part_from_json(saved) == stdin
    for part in (Text("hi"), Image.from_url("https://x.org/a.png"), Audio.from_bytes(WAV)):
        assert part_from_json(part_to_json(part)) == part
    with pytest.raises(ConfigurationError, match="unknown saved part type 'video'"):
        part_from_json({"type": "video"})
