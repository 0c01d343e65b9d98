"""Content parts of a message: ``Text``, ``Image``, ``Document`` and ``Audio`` (attrs values).

A media part holds either bytes (``data``, read once from a file or given) or a ``url`` (http(s), or a
provider's uploaded-file URI such as Gemini's ``https://generativelanguage.googleapis.com/…/files/…``
or ``gs://…``); a ``data:`` URL given to ``from_url`` becomes bytes. The media type comes from the
caller, else the bytes' magic numbers, else the file name's extension (``mimetypes``). The base64
encoding is computed once, at construction, and kept on the value.

The per-part API that request builders use: ``media_type``, ``data``, ``base64``, ``data_url()``,
``url``, ``filename``, ``size``, ``sha256``, ``path`` (where a file was read from), ``Image.detail``,
``Document.text`` (the decoded text of a text document), ``Audio.format`` (``"wav"``, ``"mp3"``, …).
"""

from __future__ import annotations

import base64 as _b64
import binascii
import hashlib
import mimetypes
import os
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any, ClassVar, Literal, TypeAlias
from urllib.parse import unquote_to_bytes, urlsplit

import attrs

from ._errors import ConfigurationError

__all__ = ["Audio", "Document", "Image", "Part", "Text", "detect_media_type", "part_name"]

Detail = Literal["auto", "low", "high"]

# Aliases some tools write, and the names the vendors document.
_ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "audio/x-wav": "audio/wav",
    "audio/wave": "audio/wav",
    "audio/vnd.wave": "audio/wav",
    "audio/mp3": "audio/mpeg",
    "audio/x-mp3": "audio/mpeg",
    "audio/x-flac": "audio/flac",
    "audio/x-aiff": "audio/aiff",
    "audio/x-m4a": "audio/mp4",
    "audio/m4a": "audio/mp4",
}
# Extensions mimetypes does not know everywhere.
_EXTENSIONS = {
    ".webp": "image/webp",
    ".heic": "image/heic",
    ".heif": "image/heif",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".flac": "audio/flac",
    ".m4a": "audio/mp4",
    ".ogg": "audio/ogg",
    ".opus": "audio/ogg",
    ".aac": "audio/aac",
}
#: Audio media type → the ``format`` word of OpenAI-style ``input_audio``.
AUDIO_FORMATS = {
    "audio/wav": "wav",
    "audio/mpeg": "mp3",
    "audio/flac": "flac",
    "audio/ogg": "ogg",
    "audio/aac": "aac",
    "audio/aiff": "aiff",
    "audio/mp4": "m4a",
}
_FORMAT_TYPES = {word: media for media, word in AUDIO_FORMATS.items()}


def _normalize(media_type: str | None) -> str | None:
    if not media_type:
        return None
    media_type = media_type.split(";", 1)[0].strip().lower()
    return _ALIASES.get(media_type, media_type)


def _sniff(data: bytes) -> str | None:
    """The media type the first bytes announce (common image, PDF and audio formats)."""
    head = data[:16]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE6 in (0xE2, 0xE4, 0xE6)):
        return "audio/mpeg"  # an ID3 tag, or an MPEG audio layer III/II frame sync
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    return None


def _guess(name: str | None) -> str | None:
    if not name:
        return None
    suffix = PurePath(name).suffix.lower()
    return _normalize(_EXTENSIONS.get(suffix) or mimetypes.guess_type(name, strict=False)[0])


def detect_media_type(data: bytes | None = None, name: str | None = None) -> str | None:
    """The media type of ``data`` by its magic bytes, else of ``name`` by its extension; None if unknown."""
    return (_sniff(data) if data else None) or _guess(name)


def _parse_data_url(url: str) -> tuple[bytes, str | None]:
    """``data:[<media type>][;base64],<data>`` → (bytes, media type)."""
    header, comma, payload = url[5:].partition(",")
    if not comma:
        raise ConfigurationError(f"malformed data URL (no comma): {url[:60]!r}")
    fields = header.split(";")
    media_type = _normalize(fields[0]) if fields[0] else None
    if "base64" in (f.strip().lower() for f in fields[1:]):
        try:
            return _b64.b64decode(payload, validate=True), media_type
        except (binascii.Error, ValueError) as exc:
            raise ConfigurationError(f"data URL with invalid base64 ({media_type or 'no media type'}): {exc}") from exc
    return unquote_to_bytes(payload), media_type


@attrs.frozen(slots=True)
class Text:
    """Plain text in a message with other parts."""

    text: str
    kind: ClassVar[str] = "text"


def _short_url(url: str | None) -> str | None:
    return url if url is None or len(url) <= 80 else url[:77] + "..."


@attrs.frozen(slots=True, kw_only=True, repr=False)
class _Media:
    """What every media part shares: bytes or a URL, a media type, an optional file name."""

    kind: ClassVar[str] = "media"
    _prefix: ClassVar[tuple[str, ...]] = ()

    data: bytes | None = None
    url: str | None = None
    media_type: str | None = attrs.field(default=None, converter=_normalize)
    filename: str | None = None
    path: str | None = attrs.field(default=None, eq=False)
    base64: str | None = attrs.field(init=False, default=None, eq=False)

    def __attrs_post_init__(self) -> None:
        name = type(self).__name__
        if (self.data is None) == (self.url is None):
            raise ConfigurationError(f"{name} needs exactly one of data= (bytes) or url=")
        if self.data is not None:
            if not isinstance(self.data, (bytes, bytearray, memoryview)):
                raise ConfigurationError(f"{name} data must be bytes, got {type(self.data).__name__}")
            data = bytes(self.data)
            object.__setattr__(self, "data", data)
            if self.media_type is None:
                object.__setattr__(self, "media_type", detect_media_type(data, self.filename or self.path))
            if self.media_type is None:
                raise ConfigurationError(
                    f"cannot tell the media type of {name} {self.filename or self.path or '(bytes)'}: "
                    "pass media_type=, e.g. 'image/png'"
                )
            object.__setattr__(self, "base64", _b64.b64encode(data).decode("ascii"))
        elif self.media_type is None:
            object.__setattr__(self, "media_type", _guess(urlsplit(self.url or "").path))
        if self.media_type is not None and not self.media_type.startswith(self._prefix):
            raise ConfigurationError(
                f"{name} takes {' or '.join(p.rstrip('/') for p in self._prefix)} media, "
                f"got {self.media_type!r} ({self.filename or _short_url(self.url) or 'bytes'})"
            )

    # -- constructors ---------------------------------------------------------------------------

    @classmethod
    def _path_kwargs(cls, path: str | os.PathLike[str], media_type: str | None) -> dict[str, Any]:
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise ConfigurationError(f"cannot read {cls.__name__} file {os.fspath(path)!r}: {exc}") from exc
        name = os.fspath(path)
        return {"data": data, "media_type": media_type, "filename": os.path.basename(name), "path": name}

    @classmethod
    def _url_kwargs(cls, url: str, media_type: str | None) -> dict[str, Any]:
        if not isinstance(url, str) or not url:
            raise ConfigurationError(f"{cls.__name__}.from_url needs a URL string, got {url!r}")
        if url[:5].lower() == "data:":
            data, declared = _parse_data_url(url)
            return {"data": data, "media_type": media_type or declared}
        return {"url": url, "media_type": media_type}

    # -- the per-part API -----------------------------------------------------------------------

    @property
    def size(self) -> int | None:
        """Bytes held (None for a URL part)."""
        return None if self.data is None else len(self.data)

    @property
    def sha256(self) -> str | None:
        """Hex SHA-256 of the bytes (None for a URL part)."""
        return None if self.data is None else hashlib.sha256(self.data).hexdigest()

    def data_url(self) -> str:
        """``data:<media type>;base64,<data>``; a URL part's own URL."""
        if self.base64 is None:
            return self.url or ""
        return f"data:{self.media_type};base64,{self.base64}"

    def __repr__(self) -> str:
        fields = [f"media_type={self.media_type!r}"]
        if self.url is not None:
            fields.append(f"url={_short_url(self.url)!r}")
        else:
            fields.append(f"size={self.size}")
        if self.filename:
            fields.append(f"filename={self.filename!r}")
        detail = getattr(self, "detail", None)
        if detail:
            fields.append(f"detail={detail!r}")
        return f"{type(self).__name__}({', '.join(fields)})"


def _detail(value: str | None) -> str | None:
    if value is not None and value not in ("auto", "low", "high"):
        raise ConfigurationError(f"Image detail must be 'auto', 'low' or 'high', got {value!r}")
    return value


@attrs.frozen(slots=True, kw_only=True, repr=False)
class Image(_Media):
    """An image: ``Image.from_path("cat.png")``, ``Image.from_bytes(data, "image/png")``,
    ``Image.from_url("https://…/cat.jpg", detail="low")``. ``detail`` is OpenAI's resolution hint
    (``auto`` / ``low`` / ``high``); providers without one ignore it."""

    kind: ClassVar[str] = "image"
    _prefix: ClassVar[tuple[str, ...]] = ("image/",)

    detail: str | None = attrs.field(default=None, converter=_detail)

    @classmethod
    def from_path(
        cls, path: str | os.PathLike[str], *, media_type: str | None = None, detail: str | None = None
    ) -> Image:
        return cls(**cls._path_kwargs(path, media_type), detail=detail)

    @classmethod
    def from_bytes(cls, data: bytes, media_type: str | None = None, *, detail: str | None = None) -> Image:
        return cls(data=data, media_type=media_type, detail=detail)

    @classmethod
    def from_url(cls, url: str, *, media_type: str | None = None, detail: str | None = None) -> Image:
        return cls(**cls._url_kwargs(url, media_type), detail=detail)


@attrs.frozen(slots=True, kw_only=True, repr=False)
class Document(_Media):
    """A PDF or text document (``text/plain``, ``text/markdown``, ``text/csv``…):
    ``Document.from_path("report.pdf")``, ``from_bytes(data, media_type)``, ``from_url(url)``."""

    kind: ClassVar[str] = "document"
    _prefix: ClassVar[tuple[str, ...]] = ("application/pdf", "text/")

    #: Anthropic's document ``title`` (other providers have no such field).
    title: str | None = None

    @property
    def is_text(self) -> bool:
        return bool(self.media_type and self.media_type.startswith("text/"))

    @property
    def text(self) -> str | None:
        """The decoded text of a text document held as bytes (UTF-8); None for PDFs and URLs."""
        if not self.is_text or self.data is None:
            return None
        try:
            return self.data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigurationError(f"text Document {self.filename or ''} is not UTF-8: {exc}") from exc

    @classmethod
    def from_path(
        cls, path: str | os.PathLike[str], *, media_type: str | None = None, title: str | None = None
    ) -> Document:
        return cls(**cls._path_kwargs(path, media_type), title=title)

    @classmethod
    def from_bytes(
        cls, data: bytes, media_type: str | None = None, *, filename: str | None = None, title: str | None = None
    ) -> Document:
        return cls(data=data, media_type=media_type, filename=filename, title=title)

    @classmethod
    def from_text(
        cls, text: str, *, media_type: str = "text/plain", filename: str | None = None, title: str | None = None
    ) -> Document:
        return cls(data=text.encode("utf-8"), media_type=media_type, filename=filename, title=title)

    @classmethod
    def from_url(cls, url: str, *, media_type: str | None = None, title: str | None = None) -> Document:
        return cls(**cls._url_kwargs(url, media_type), title=title)


@attrs.frozen(slots=True, kw_only=True, repr=False)
class Audio(_Media):
    """Audio input: ``Audio.from_path("question.wav")``, ``Audio.from_bytes(data, "audio/mpeg")``.
    ``from_url`` is for providers that read uploaded-file URIs (Gemini)."""

    kind: ClassVar[str] = "audio"
    _prefix: ClassVar[tuple[str, ...]] = ("audio/",)

    @property
    def format(self) -> str | None:
        """The short format word (``wav``, ``mp3``, ``flac``…) OpenAI-style ``input_audio`` uses."""
        return AUDIO_FORMATS.get(self.media_type or "")

    @classmethod
    def from_path(cls, path: str | os.PathLike[str], *, media_type: str | None = None) -> Audio:
        return cls(**cls._path_kwargs(path, media_type))

    @classmethod
    def from_bytes(cls, data: bytes, media_type: str | None = None) -> Audio:
        return cls(data=data, media_type=media_type)

    @classmethod
    def from_url(cls, url: str, *, media_type: str | None = None) -> Audio:
        return cls(**cls._url_kwargs(url, media_type))

    @classmethod
    def from_format(cls, data_base64: str, format: str) -> Audio:
        """OpenAI ``input_audio``: base64 data and a format word (``wav``, ``mp3``…)."""
        media_type = _FORMAT_TYPES.get(format.lower(), f"audio/{format.lower()}")
        try:
            data = _b64.b64decode(data_base64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ConfigurationError(f"input_audio data is not valid base64: {exc}") from exc
        return cls(data=data, media_type=media_type)


Part: TypeAlias = Text | Image | Document | Audio
_PART_TYPES = (Text, Image, Document, Audio)


def part_name(part: Any) -> str:
    """How errors name a part: ``Image(image/png, cat.png)``."""
    if isinstance(part, Text):
        return "Text"
    if isinstance(part, _Media):
        where = part.filename or _short_url(part.url) or f"{part.size} bytes"
        return f"{type(part).__name__}({part.media_type or 'unknown type'}, {where})"
    if isinstance(part, Mapping):
        return f"content part {dict(part).get('type')!r}"
    return type(part).__name__


def is_part(value: Any) -> bool:
    return isinstance(value, _PART_TYPES)
