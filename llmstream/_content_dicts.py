"""Content parts from message dicts: OpenAI-style content lists and Anthropic-style blocks.

OpenAI: ``text``, ``image_url`` (data or http URL, ``detail``), ``input_audio`` (base64 + format),
``file`` (``file_data`` as a data URL, raw base64 or an http URL; ``filename``). Anthropic:
``text``, ``image`` and ``document`` with a ``base64``, ``url`` or (documents) ``text`` source.
A block of any other type is a ConfigurationError naming it: nothing is dropped.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from ._content import Audio, Document, Image, Part, Text, detect_media_type
from ._errors import ConfigurationError

__all__ = ["part_from_dict", "part_from_json", "part_to_json"]


def _b64(data: Any, what: str) -> bytes:
    if not isinstance(data, str):
        raise ConfigurationError(f"{what}: base64 data must be a string, got {type(data).__name__}")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ConfigurationError(f"{what}: invalid base64 data: {exc}") from exc


def _field(block: Mapping[str, Any], key: str, what: str) -> Any:
    value = block.get(key)
    if value is None:
        raise ConfigurationError(f"{what} has no {key!r}: {_brief(block)}")
    return value


def _brief(block: Any) -> str:
    text = repr(block)
    return text if len(text) <= 120 else text[:117] + "..."


def _source(block: Mapping[str, Any], kind: str) -> Part:
    """An Anthropic ``image`` / ``document`` block's ``source``."""
    what = f"Anthropic {kind} block"
    source = _field(block, "source", what)
    if not isinstance(source, Mapping):
        raise ConfigurationError(f"{what}: source must be an object, got {_brief(source)}")
    source_type = source.get("type")
    cls = Image if kind == "image" else Document
    extra: dict[str, Any] = {}
    if kind == "document" and block.get("title"):
        extra["title"] = block["title"]
    if source_type == "base64":
        data = _b64(_field(source, "data", what), what)
        return cls(data=data, media_type=source.get("media_type"), **extra)
    if source_type == "url":
        return cls(url=_field(source, "url", what), media_type=source.get("media_type"), **extra)
    if source_type == "text" and kind == "document":
        text = _field(source, "data", what)
        return Document(data=str(text).encode("utf-8"), media_type=source.get("media_type") or "text/plain", **extra)
    raise ConfigurationError(
        f"{what} with source type {source_type!r} is not supported (use base64, url"
        f"{', text' if kind == 'document' else ''}): {_brief(source)}"
    )


def _openai_file(block: Mapping[str, Any]) -> Document:
    what = "OpenAI file part"
    file = _field(block, "file", what)
    if not isinstance(file, Mapping):
        raise ConfigurationError(f"{what}: 'file' must be an object, got {_brief(file)}")
    filename = file.get("filename")
    data = file.get("file_data")
    if data is None:
        if file.get("file_id"):
            raise ConfigurationError(
                f"{what} references an uploaded file ({file['file_id']!r}): llmstream sends documents by "
                "content; use Document.from_path or Document.from_bytes"
            )
        raise ConfigurationError(f"{what} has no 'file_data': {_brief(block)}")
    if not isinstance(data, str):
        raise ConfigurationError(f"{what}: file_data must be a string, got {type(data).__name__}")
    if data[:5].lower() == "data:" or data.startswith(("http://", "https://")):
        return Document(**Document._url_kwargs(data, None), filename=filename)
    raw = _b64(data, what)
    return Document(data=raw, media_type=detect_media_type(raw, filename), filename=filename)


def part_from_dict(block: Any) -> Part:
    """One OpenAI content part or Anthropic content block as a llmstream part."""
    if isinstance(block, str):
        return Text(block)
    if not isinstance(block, Mapping):
        raise ConfigurationError(f"a content part must be an object, got {_brief(block)}")
    kind = block.get("type")
    if kind == "text":
        text = block.get("text")
        if not isinstance(text, str):
            raise ConfigurationError(f"text part without a text string: {_brief(block)}")
        return Text(text)
    if kind == "image_url":
        value = _field(block, "image_url", "OpenAI image_url part")
        if isinstance(value, str):
            return Image.from_url(value)
        return Image.from_url(_field(value, "url", "OpenAI image_url part"), detail=value.get("detail"))
    if kind == "input_audio":
        value = _field(block, "input_audio", "OpenAI input_audio part")
        what = "OpenAI input_audio part"
        return Audio.from_format(_field(value, "data", what), str(_field(value, "format", what)))
    if kind == "file":
        return _openai_file(block)
    if kind in ("image", "document"):
        return _source(block, kind)
    raise ConfigurationError(
        f"unsupported content part type {kind!r} (llmstream reads text, image_url, input_audio, file, "
        f"image and document parts): {_brief(block)}"
    )


# -- llmstream's own JSON form, for saved conversations -------------------------------------------

_KINDS: dict[str, type[Image] | type[Document] | type[Audio]] = {"image": Image, "document": Document, "audio": Audio}


def part_to_json(part: Part, *, with_data: bool = False) -> dict[str, Any]:
    """A part as JSON for saving: a reference (``path`` or ``url``, ``media_type``, ``size``,
    ``sha256``, ``filename``), plus the bytes (``data``, base64) when ``with_data`` is set or when
    nothing else could bring them back (bytes with no path, such as an attachment read from stdin)."""
    if isinstance(part, Text):
        return {"type": "text", "text": part.text}
    out: dict[str, Any] = {"type": part.kind, "media_type": part.media_type}
    for key in ("url", "path", "filename"):
        value = getattr(part, key)
        if value is not None:
            out[key] = value
    if isinstance(part, Image) and part.detail is not None:
        out["detail"] = part.detail
    if isinstance(part, Document) and part.title is not None:
        out["title"] = part.title
    if part.data is not None:
        out["size"] = part.size
        out["sha256"] = part.sha256
        if with_data or part.path is None:
            out["data"] = part.base64
    return out


def part_from_json(data: Mapping[str, Any]) -> Part:
    """The inverse of :func:`part_to_json`: stored bytes, else the file at ``path`` read again (as
    it is now: compare ``part.sha256`` with ``data["sha256"]`` to notice a change; a missing file is
    a ConfigurationError naming it), else the ``url``."""
    kind = data.get("type")
    if kind == "text":
        return Text(str(data.get("text") or ""))
    cls = _KINDS.get(str(kind))
    if cls is None:
        raise ConfigurationError(f"unknown saved part type {kind!r}")
    extra: dict[str, Any] = {}
    if cls is Image and data.get("detail"):
        extra["detail"] = data["detail"]
    if cls is Document and data.get("title"):
        extra["title"] = data["title"]
    media_type = data.get("media_type")
    if data.get("data") is not None:
        raw = _b64(data["data"], f"saved {kind}")
        return cls(data=raw, media_type=media_type, filename=data.get("filename"), path=data.get("path"), **extra)
    if data.get("path"):
        kwargs = cls._path_kwargs(data["path"], None)
        kwargs["media_type"] = detect_media_type(kwargs["data"], data["path"]) or media_type  # as it is now
        return cls(**kwargs, **extra)
    if data.get("url"):
        return cls(url=data["url"], media_type=media_type, filename=data.get("filename"), **extra)
    raise ConfigurationError(f"saved {kind} part has neither data, path nor url")
