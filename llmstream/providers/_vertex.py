"""Gemini on Vertex AI, sans-IO: who the client is (project, location, credentials or express key) and
function-call arguments streamed in pieces (``partialArgs``).

:func:`resolve_vertex` reads the arguments and the environment as google-genai does
(``GOOGLE_GENAI_USE_VERTEXAI`` / ``GOOGLE_GENAI_USE_ENTERPRISE``, ``GOOGLE_CLOUD_PROJECT``,
``GOOGLE_CLOUD_LOCATION``, ``GOOGLE_API_KEY`` before ``GEMINI_API_KEY``) and settles everything before
any request, so that a missing project or credentials is a ``ConfigurationError`` that names what to
set. Where google-genai would guess, this is stricter: explicit ``credentials=`` are never turned into
express mode by a key in the environment, and are never joined by Application Default Credentials.

:class:`ArgumentsWriter` assembles one call whose arguments Vertex streams as pieces, each a JSON path
(RFC 9535, ``$.a.b[0]``) and a typed value, strings possibly split over several pieces of one path.
google-genai hands each piece over as a function call of its own, nameless after the first, with
``will_continue`` set until the last (or an empty call ends it).
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from .._errors import AuthenticationError, ConfigurationError, LLMStreamError, MalformedStreamError
from .._types import StreamedChunk
from ._parts import CallPart, Parts
from ._server_tools import field

__all__ = [
    "ArgumentsWriter",
    "PartialCalls",
    "VertexAuth",
    "google_default_credentials",
    "map_auth_error",
    "parse_json_path",
    "resolve_vertex",
    "use_vertex",
    "vertex_auth",
]

PROVIDER = "vertex"
_TRUE = ("true", "1")
#: ``google.auth.default`` in the shape the resolver needs: (credentials, project or None).
DefaultCredentials = Callable[[], "tuple[Any, str | None]"]


def use_vertex(vertexai: bool | None, environ: Mapping[str, str]) -> bool:
    """``vertexai=`` if given, else ``GOOGLE_GENAI_USE_ENTERPRISE``, else ``GOOGLE_GENAI_USE_VERTEXAI``."""
    if vertexai is not None:
        return vertexai
    for name in ("GOOGLE_GENAI_USE_ENTERPRISE", "GOOGLE_GENAI_USE_VERTEXAI"):
        value = environ.get(name)
        if value is not None:
            return value.lower() in _TRUE
    return False


@attrs.frozen
class VertexAuth:
    """How a Vertex AI client authenticates: a project with credentials, or an express-mode key."""

    project: str | None
    location: str | None
    credentials: Any = attrs.field(default=None, repr=False)
    api_key: str | None = attrs.field(default=None, repr=False)

    @property
    def express(self) -> bool:
        return self.api_key is not None

    def client_kwargs(self) -> dict[str, Any]:
        """The ``genai.Client`` arguments: never both a key and credentials (google-genai refuses that)."""
        if self.api_key is not None:
            return {"vertexai": True, "api_key": self.api_key}
        return {"vertexai": True, "project": self.project, "location": self.location, "credentials": self.credentials}


def resolve_vertex(
    *,
    project: str | None,
    location: str | None,
    credentials: Any,
    api_key: str | None,
    environ: Mapping[str, str],
    default_credentials: DefaultCredentials,
) -> VertexAuth:
    """Settle project, location and credentials (or express mode) from the arguments and environment.

    ``api_key`` is the key passed explicitly (never one read from the environment: that is done here).
    ``default_credentials`` is called only when neither credentials nor a key decide it; it raises
    ``ConfigurationError`` when Application Default Credentials are not set up.
    """
    if credentials is not None and api_key:
        raise ConfigurationError("Vertex AI takes credentials= or api_key= (express mode), not both", provider=PROVIDER)
    env_project = environ.get("GOOGLE_CLOUD_PROJECT") or None
    env_location = environ.get("GOOGLE_CLOUD_LOCATION") or None
    env_key = environ.get("GOOGLE_API_KEY") or environ.get("GEMINI_API_KEY") or None
    if api_key:
        if project or location:
            raise ConfigurationError(
                "Vertex AI express mode (api_key=) takes no project or location: pass api_key alone, or "
                "project=/location= with credentials= or Application Default Credentials",
                provider=PROVIDER,
            )
        return VertexAuth(None, None, api_key=api_key)
    project = project or env_project
    location = location or env_location
    if credentials is None and not project and not location and env_key:
        return VertexAuth(None, None, api_key=env_key)  # google-genai's implicit express mode
    location = location or "global"
    if credentials is None:
        credentials, adc_project = default_credentials()
        project = project or adc_project
    project = project or getattr(credentials, "project_id", None) or None
    if not project:
        raise ConfigurationError(
            "Vertex AI needs a Google Cloud project: pass project=... or set GOOGLE_CLOUD_PROJECT "
            "(or use express mode with api_key=...)",
            provider=PROVIDER,
        )
    return VertexAuth(str(project), location, credentials=credentials)


def vertex_auth(
    vertex: bool, project: str | None, location: str | None, credentials: Any, api_key: str | None
) -> VertexAuth | None:
    """A GeminiClient's Vertex settings (None for the Gemini API, which takes none of them)."""
    if not vertex:
        if project or location or credentials is not None:
            raise ConfigurationError(
                "project, location and credentials are Vertex AI settings: pass vertexai=True", provider="gemini"
            )
        return None
    return resolve_vertex(
        project=project, location=location, credentials=credentials, api_key=api_key, environ=os.environ,
        default_credentials=google_default_credentials,
    )  # fmt: skip


def map_auth_error(exc: BaseException) -> LLMStreamError | None:
    """google.auth failures (a token refresh refused or unreachable) are authentication errors."""
    from google.auth import exceptions

    if isinstance(exc, exceptions.GoogleAuthError):
        return AuthenticationError(f"Vertex AI credentials failed ({type(exc).__name__}): {exc}", provider=PROVIDER)
    return None


def google_default_credentials() -> tuple[Any, str | None]:
    """Application Default Credentials, or a ConfigurationError naming how to set them up."""
    import google.auth
    from google.auth import exceptions

    try:
        credentials, project = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])  # type: ignore[no-untyped-call]
    except exceptions.DefaultCredentialsError as exc:
        raise ConfigurationError(
            "Vertex AI found no Google Cloud credentials: run `gcloud auth application-default login`, "
            "set GOOGLE_APPLICATION_CREDENTIALS to a key file, pass credentials=..., or use express mode "
            "with api_key=...",
            provider=PROVIDER,
        ) from exc
    return credentials, project


# -- streamed function-call arguments -----------------------------------------------------------------

_STEP = re.compile(r"\.([A-Za-z_][\w-]*)|\[(\d+)\]|\['((?:[^'\\]|\\.)*)'\]|\[\"((?:[^\"\\]|\\.)*)\"\]")
Step = str | int


def parse_json_path(path: str) -> tuple[Step, ...]:
    """``$.a.b[0]['c d']`` → ``("a", "b", 0, "c d")``; anything else is a ValueError."""
    if not path.startswith("$"):
        raise ValueError(f"not a JSON path: {path!r}")
    steps: list[Step] = []
    at = 1
    while at < len(path):
        match = _STEP.match(path, at)
        if match is None:
            raise ValueError(f"unsupported JSON path {path!r} at {path[at:]!r}")
        name, index, single, double = match.groups()
        if index is not None:
            steps.append(int(index))
        else:
            quoted = single if single is not None else double
            steps.append(name if quoted is None else re.sub(r"\\(.)", r"\1", quoted))
        at = match.end()
    return tuple(steps)


class _Text:
    """A string value still arriving in pieces (joined when the arguments are written)."""

    __slots__ = ("pieces",)

    def __init__(self) -> None:
        self.pieces: list[str] = []


def _value(piece: Any) -> Any:
    """A PartialArg's typed value (an SDK model or the wire's dict); ``_MISSING`` when the piece only
    announces its path."""
    string = field(piece, "string_value", "stringValue")
    if string is not None:
        return string
    boolean = field(piece, "bool_value", "boolValue")
    if boolean is not None:
        return bool(boolean)
    number = field(piece, "number_value", "numberValue")
    if number is not None:
        number = float(number)  # the SDK's model holds a float, the wire's JSON may hold an int
        return int(number) if math.isfinite(number) and number.is_integer() else number
    if isinstance(piece, Mapping):
        return None if "nullValue" in piece or "null_value" in piece else _MISSING
    if piece.null_value is not None or "null_value" in getattr(piece, "model_fields_set", ()):
        return None  # ``"nullValue": null`` on the wire is a null too
    return _MISSING


_MISSING = object()


def _plain(node: Any) -> Any:
    if isinstance(node, _Text):
        return "".join(node.pieces)
    if isinstance(node, dict):
        return {key: _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(value) for value in node]
    return node


class ArgumentsWriter:
    """One call's arguments, assembled from its pieces and written out as JSON text in order.

    :meth:`add` returns the JSON text the pieces add: while the pieces arrive in document order (as
    the model writes them) these fragments join to the final JSON. A piece that goes back to an
    earlier member stops the fragments (``in_order`` becomes False); :meth:`arguments` is the whole
    JSON either way. Each piece re-serializes the (small) arguments: simple, bounded by their size.
    """

    __slots__ = ("_last", "_open", "_root", "_sent", "in_order", "name")

    def __init__(self, name: str) -> None:
        self.name = name  # for error messages
        self._root: dict[str, Any] = {}
        self._last: tuple[Step, ...] = ()  # the path written last
        self._open = False  # whether the string at that path may go on
        self._sent = ""  # the fragments given out so far, joined
        self.in_order = True

    def add(self, pieces: Iterable[Any]) -> str:
        """Apply a call's ``partial_args``; the JSON text they add (``""`` for none)."""
        wrote = False
        for piece in pieces:
            value = _value(piece)
            path = field(piece, "json_path", "jsonPath")
            if path is None or value is _MISSING:
                continue  # a path announced before its value: nothing to write yet
            try:
                steps = parse_json_path(path)
                self._put(steps, value)
            except ValueError as exc:
                raise MalformedStreamError(
                    f"Vertex streamed arguments of call {self.name!r} that do not fit together: {exc}",
                    provider=PROVIDER,
                ) from None
            self._last, self._open, wrote = steps, isinstance(value, str), True
        return self._fragment(final=False) if wrote else ""

    def finish(self) -> str:
        """The last fragment: what closes the JSON."""
        return self._fragment(final=True)

    def arguments(self) -> str:
        return json.dumps(_plain(self._root), separators=(",", ":"), ensure_ascii=False)

    def _put(self, steps: tuple[Step, ...], value: Any) -> None:
        if not steps:
            raise ValueError("a piece for the whole arguments object ('$')")
        node: Any = self._root
        for step, following in itertools.pairwise(steps):
            node = _slot(node, step, {} if isinstance(following, str) else [])
        leaf = steps[-1]
        if isinstance(value, str):
            text = _slot(node, leaf, _Text())
            if not isinstance(text, _Text):  # a string where another value was: it starts again
                text = _Text()
                node[leaf] = text
            text.pieces.append(value)  # pieces of one path's string follow each other
        else:
            _slot(node, leaf, None)
            node[leaf] = value

    def _fragment(self, *, final: bool) -> str:
        if not self.in_order:
            return ""
        text = self.arguments()
        if not final:  # the text written so far: without the closers of the path written last
            text = text[: len(text) - len(self._last) - (1 if self._open else 0)]
        if not text.startswith(self._sent):
            self.in_order = False  # a piece went back to an earlier member
            return ""
        fragment, self._sent = text[len(self._sent) :], text
        return fragment


def _slot(node: Any, step: Step, fresh: Any) -> Any:
    """``node[step]``, made ``fresh`` if absent (arrays padded with nulls up to the index)."""
    if isinstance(step, str):
        if not isinstance(node, dict):
            raise ValueError(f"member {step!r} of a non-object")
        if node.get(step) is None:
            node[step] = fresh
        return node[step]
    if not isinstance(node, list):
        raise ValueError(f"index {step} of a non-array")
    node.extend(None for _ in range(step + 1 - len(node)))
    if node[step] is None:
        node[step] = fresh
    return node[step]


class PartialCalls:
    """The Gemini translator's state for a call streamed in pieces (one at a time), on its parts
    manager: START when the call's first piece comes, a DELTA per piece that adds JSON text, END with
    the whole arguments at its last piece (or at the finish reason, or at the stream's end)."""

    __slots__ = ("_call", "_signature", "_vendor_id", "_writer")

    def __init__(self) -> None:
        self._call: CallPart | None = None
        self._writer = ArgumentsWriter("")
        self._vendor_id: str | None = None
        self._signature: str | None = None

    @property
    def open(self) -> bool:
        return self._call is not None

    def feed(self, call: Any, signature: str | None, raw: Any, out: list[StreamedChunk], parts: Parts) -> bool:
        """Translate one function-call part (an SDK model or the wire's dict) into ``out``; False when it
        is a whole call for the translator's usual path (a call still open is ended first)."""
        current = self._call
        if current is not None and not self._continued_by(call, current):
            self.close(parts, raw, out)
            current = None
        pieces, will_continue = field(call, "partial_args", "partialArgs"), field(call, "will_continue", "willContinue")
        if current is None:
            if not (pieces or will_continue):
                return False
            name = field(call, "name") or ""
            vendor_id = field(call, "id")
            call_id = vendor_id or f"call_{parts.calls}_{name}"  # as Parts.whole_call names calls
            current, start = parts.open_call(("partialArgs", parts.calls), call_id, name, raw, signature=signature)
            self._call, self._writer = current, ArgumentsWriter(name)
            self._vendor_id, self._signature = vendor_id, signature
            out.append(start)
        elif signature is not None:
            self._signature = signature
        fragment = self._writer.add(pieces or ())
        if fragment:
            out.append(parts.fragment(current, fragment, raw))
        if not will_continue:
            self.close(parts, raw, out)
        return True

    def close(self, parts: Parts, raw: Any, out: list[StreamedChunk]) -> None:
        """END the open call, if any, with its whole arguments."""
        current, self._call = self._call, None
        if current is None:
            return
        fragment = self._writer.finish()
        if fragment:
            out.append(parts.fragment(current, fragment, raw))
        if not self._writer.in_order:  # the fragments stopped: the END still carries everything
            current.fragments[:] = [self._writer.arguments()]
        out.append(parts.close_call(current, raw, signature=self._signature))

    def _continued_by(self, call: Any, current: CallPart) -> bool:
        # Later pieces are nameless (some servers repeat the name); a call with ``args`` is whole.
        name, call_id = field(call, "name"), field(call, "id")
        same_name = not name or name == current.name
        return field(call, "args") is None and same_name and (not call_id or call_id == self._vendor_id)
