"""Content parts in each vendor's documented request shape, sans-IO.

Called by the request builders (``_openai_wire.messages_payload``, ``_anthropic_wire``,
``_gemini_wire``) only for messages whose content is a tuple of parts: text-only requests never
come here. A part a provider cannot take, or one past a size limit the vendor documents, is a
ConfigurationError naming the part and the provider, raised while the request is built, so that
nothing is sent.
"""

from __future__ import annotations

from typing import Any

from .._content import Audio, Document, Image, Part, Text, part_name
from .._errors import ConfigurationError

__all__ = [
    "Budget",
    "anthropic_blocks",
    "gemini_parts",
    "gemini_response_parts",
    "openai_content",
    "refuse",
    "text_document",
]

_MB = 1024 * 1024

#: OpenAI chat: images (https://platform.openai.com/docs/guides/images-vision), PDFs
#: (https://platform.openai.com/docs/guides/pdf-files), input_audio formats.
OPENAI_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"})
OPENAI_IMAGE_BYTES = 50 * _MB  # total image payload per request
OPENAI_IMAGES = 500  # image inputs per request
OPENAI_FILE_BYTES = 32 * _MB  # total PDF content per request
OPENAI_AUDIO_FORMATS = {"openai": frozenset({"wav", "mp3"}),
                        "openrouter": frozenset({"wav", "mp3", "aiff", "aac", "ogg", "flac", "m4a"})}
#: Anthropic vision and PDF support: per-image base64 limit, images per request, request size.
ANTHROPIC_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
ANTHROPIC_IMAGE_BASE64 = 5 * _MB
ANTHROPIC_IMAGES = 100
ANTHROPIC_REQUEST_BYTES = 32 * _MB
#: Gemini: inline data is for requests under 20 MB (larger files go through the Files API).
GEMINI_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/heic", "image/heif"})
GEMINI_AUDIO_TYPES = {"audio/wav": "audio/wav", "audio/mpeg": "audio/mp3", "audio/aiff": "audio/aiff",
                      "audio/aac": "audio/aac", "audio/ogg": "audio/ogg", "audio/flac": "audio/flac"}
GEMINI_INLINE_BYTES = 20 * _MB


def refuse(part: Part, provider: str, reason: str) -> ConfigurationError:
    """The error for a part ``provider`` cannot take: ``Image(image/bmp, x.bmp) cannot be sent to …``."""
    return ConfigurationError(f"{part_name(part)} cannot be sent to {provider}: {reason}", provider=provider)


class Budget:
    """What one request has used so far, for the vendors' per-request limits."""

    __slots__ = ("bytes", "files", "images", "provider")

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.images = 0
        self.bytes = 0  # base64 characters (the request's own size) or raw bytes, per vendor
        self.files = 0

    def add(self, part: Part, amount: int, limit: int, what: str) -> None:
        self.bytes += amount
        if self.bytes > limit:
            raise refuse(part, self.provider, f"{what} exceed {limit // _MB} MB in one request ({self.bytes} bytes)")


# -- OpenAI chat completions (and OpenRouter, which takes the same shapes) ----------------------------


def text_document(document: Document) -> str:
    """A text document where the wire has no text-document part: its text, delimited and named."""
    name = document.filename or document.title or "document"
    return (
        f'-----BEGIN FILE name="{name}" type="{document.media_type}"-----\n'
        f"{document.text}\n-----END FILE name=\"{name}\"-----"
    )


def _openai_part(part: Part, provider: str, budget: Budget) -> dict[str, Any]:
    if isinstance(part, Text):
        return {"type": "text", "text": part.text}
    if isinstance(part, Image):
        if part.media_type is not None and part.media_type not in OPENAI_IMAGE_TYPES and part.data is not None:
            raise refuse(part, provider, f"images must be one of {sorted(OPENAI_IMAGE_TYPES)}")
        budget.images += 1
        if budget.images > OPENAI_IMAGES:
            raise refuse(part, provider, f"a request may carry at most {OPENAI_IMAGES} images")
        if part.data is not None:
            budget.add(part, len(part.data), OPENAI_IMAGE_BYTES, "images")
        image: dict[str, Any] = {"url": part.data_url()}
        if part.detail is not None:
            image["detail"] = part.detail
        return {"type": "image_url", "image_url": image}
    if isinstance(part, Document):
        if part.is_text and part.data is not None:
            return {"type": "text", "text": text_document(part)}
        if part.url is not None and provider != "openrouter":
            raise refuse(part, provider, "chat completions take PDFs as data, not URLs (use Document.from_path)")
        if part.data is not None:
            if part.media_type != "application/pdf":
                raise refuse(part, provider, "file parts take PDF documents")
            budget.files += len(part.data)
            if budget.files > OPENAI_FILE_BYTES:
                raise refuse(part, provider, f"PDFs exceed {OPENAI_FILE_BYTES // _MB} MB in one request")
        filename = part.filename or "document.pdf"
        return {"type": "file", "file": {"filename": filename, "file_data": part.data_url()}}
    if isinstance(part, Audio):
        formats = OPENAI_AUDIO_FORMATS.get(provider, OPENAI_AUDIO_FORMATS["openai"])
        if part.data is None:
            raise refuse(part, provider, "input_audio takes audio data, not a URL (use Audio.from_path)")
        if part.format not in formats:
            raise refuse(part, provider, f"input_audio formats are {sorted(formats)}")
        return {"type": "input_audio", "input_audio": {"data": part.base64, "format": part.format}}
    raise refuse(part, provider, "unknown part type")


def openai_content(parts: tuple[Part, ...], role: str, provider: str, budget: Budget) -> str | list[dict[str, Any]]:
    """A message's parts as chat-completions ``content``: user turns take every part kind; tool
    results a list of text parts; assistant and system turns text (joined)."""
    if role == "user":
        return [_openai_part(part, provider, budget) for part in parts]
    for part in parts:
        if not isinstance(part, Text):
            where = "tool results" if role == "tool" else f"{role} messages"
            raise refuse(part, provider, f"chat-completions {where} take text only")
    if role == "tool":
        return [{"type": "text", "text": part.text} for part in parts if isinstance(part, Text)]
    return "".join(part.text for part in parts if isinstance(part, Text))


# -- Anthropic Messages -----------------------------------------------------------------------------


def _anthropic_block(part: Part, budget: Budget) -> dict[str, Any]:
    provider = budget.provider
    if isinstance(part, Text):
        return {"type": "text", "text": part.text}
    if isinstance(part, Audio):
        raise refuse(part, provider, "the Messages API takes no audio input")
    if part.url is not None:
        block: dict[str, Any] = {"type": part.kind, "source": {"type": "url", "url": part.url}}
    elif isinstance(part, Image):
        if part.media_type not in ANTHROPIC_IMAGE_TYPES:
            raise refuse(part, provider, f"images must be one of {sorted(ANTHROPIC_IMAGE_TYPES)}")
        encoded = part.base64 or ""
        if len(encoded) > ANTHROPIC_IMAGE_BASE64:
            raise refuse(
                part, provider, f"an image may be at most 5 MB base64-encoded, this one is {len(encoded)} bytes"
            )
        budget.add(part, len(encoded), ANTHROPIC_REQUEST_BYTES, "images and documents")
        block = {"type": "image", "source": {"type": "base64", "media_type": part.media_type, "data": encoded}}
    elif isinstance(part, Document) and part.is_text:
        text = part.text or ""
        budget.add(part, len(text), ANTHROPIC_REQUEST_BYTES, "images and documents")
        block = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": text}}
    else:
        encoded = part.base64 or ""
        budget.add(part, len(encoded), ANTHROPIC_REQUEST_BYTES, "images and documents")
        block = {"type": "document", "source": {"type": "base64", "media_type": part.media_type, "data": encoded}}
    if isinstance(part, Image):
        budget.images += 1
        if budget.images > ANTHROPIC_IMAGES:
            raise refuse(part, provider, f"a request may carry at most {ANTHROPIC_IMAGES} images")
    elif isinstance(part, Document) and part.title:
        block["title"] = part.title
    return block


def anthropic_blocks(parts: tuple[Part, ...], role: str, budget: Budget) -> list[dict[str, Any]]:
    """Content blocks: user turns and tool results take text, images and documents; assistant
    turns text only."""
    if role == "assistant":
        for part in parts:
            if not isinstance(part, Text):
                raise refuse(part, budget.provider, "assistant turns take text only")
    return [_anthropic_block(part, budget) for part in parts]


# -- Gemini -----------------------------------------------------------------------------------------


def _gemini_media(part: Image | Document | Audio, budget: Budget, *, in_result: bool) -> tuple[str | None, str]:
    """The MIME type Gemini documents for ``part``, checked; also counts inline bytes."""
    provider = budget.provider
    media_type = part.media_type
    if isinstance(part, Image) and part.data is not None and media_type not in GEMINI_IMAGE_TYPES:
        raise refuse(part, provider, f"images must be one of {sorted(GEMINI_IMAGE_TYPES)}")
    if isinstance(part, Audio):
        if in_result:
            raise refuse(part, provider, "function responses take images and documents, not audio")
        if media_type is not None:
            if media_type not in GEMINI_AUDIO_TYPES:
                raise refuse(part, provider, f"audio must be one of {sorted(GEMINI_AUDIO_TYPES.values())}")
            media_type = GEMINI_AUDIO_TYPES[media_type]
    if part.base64 is not None:
        budget.add(part, len(part.base64), GEMINI_INLINE_BYTES, "inline data (use the Files API and from_url)")
    return media_type, part.kind


def gemini_parts(parts: tuple[Part, ...], types: Any, budget: Budget) -> list[Any]:
    """``types.Part`` list: text, ``inline_data`` for bytes, ``file_data`` for URLs / file URIs."""
    out: list[Any] = []
    for part in parts:
        if isinstance(part, Text):
            out.append(types.Part(text=part.text))
            continue
        media_type, _ = _gemini_media(part, budget, in_result=False)
        if part.data is not None:
            out.append(types.Part(inline_data=types.Blob(mime_type=media_type, data=part.data)))
        else:
            out.append(types.Part(file_data=types.FileData(file_uri=part.url, mime_type=media_type)))
    return out


def gemini_response_parts(parts: tuple[Part, ...], types: Any, budget: Budget) -> list[Any]:
    """The media of a tool result as ``FunctionResponsePart``s (Gemini's multimodal function
    responses); its text goes in ``response``."""
    out: list[Any] = []
    for part in parts:
        if isinstance(part, Text):
            continue
        media_type, _ = _gemini_media(part, budget, in_result=True)
        if part.data is not None:
            blob = types.FunctionResponseBlob(mime_type=media_type, data=part.data)
            out.append(types.FunctionResponsePart(inline_data=blob))
        else:
            file_data = types.FunctionResponseFileData(file_uri=part.url, mime_type=media_type)
            out.append(types.FunctionResponsePart(file_data=file_data))
    return out
