"""The layering holds: no runtime import cycle among llmstream's modules, the shells know no client,
transport helpers live below the shells, and a provider is one file plus one registry line."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import llmstream
from llmstream import BaseClient, ChunkType, StreamedChunk
from llmstream._registry import PROVIDERS, class_modules, register

PACKAGE = Path(llmstream.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth, except those under ``if TYPE_CHECKING:``."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = package
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                module = node.module or ""
                stem = (f"{base}.{module}" if module else base) if node.level else module
                # ``from pkg import sub`` imports the submodule when there is one
                targets = [f"{stem}.{a.name}" if f"{stem}.{a.name}" in modules else stem for a in node.names]
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_runtime_import_cycle() -> None:
    graph = import_graph()
    assert "llmstream._stream" in graph and graph["llmstream._client"]  # the graph really was read
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or ())


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_shells_and_the_state_know_no_client_and_nothing_above() -> None:
    graph = import_graph()
    for low in ("llmstream._stream", "llmstream._state", "llmstream._adapter", "llmstream._transport"):
        above = {m for m in graph[low] if m in ("llmstream._client", "llmstream._calls", "llmstream.fallback")
                 or m.startswith("llmstream.providers")}
        assert not above, (low, above)
    tree = ast.parse((PACKAGE / "_stream.py").read_text(encoding="utf-8"))
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    names |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    assert "_adapter" in names
    assert not {n for n in names if "client" in n.lower()}  # holds an adapter, touches no client


def test_nothing_outside_the_package_imports_private_fallback_or_the_old_native_module() -> None:
    root = PACKAGE.parent
    offenders = []
    for folder in ("examples", "tests", "bench"):
        for path in (root / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            if "llmstream._fallback" in text.replace("llmstream._fallback\"", "") or "providers._native" in text:
                offenders.append(path.name)
    assert offenders == [] or offenders == [Path(__file__).name]
    assert not (PACKAGE / "providers" / "_native.py").exists()


def test_fallback_is_a_public_module_and_the_function_stays_top_level() -> None:
    code = (
        "import sys, llmstream.fallback;"
        "from llmstream.fallback import FallbackClient, fallback, is_fallback_error;"
        "module = sys.modules['llmstream.fallback'];"
        "assert module.FallbackClient is FallbackClient is llmstream.FallbackClient;"
        "assert llmstream.fallback is fallback and callable(llmstream.fallback);"
        "import importlib; assert importlib.import_module('llmstream.fallback').fallback is fallback;"
        "print(type(fallback(llmstream.MockClient())).__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "FallbackClient"


# -- one registry; a provider is one file and one line -----------------------------------------------


class _Echo:
    def translate(self, event: str) -> tuple[StreamedChunk, ...]:
        return (StreamedChunk(ChunkType.TEXT, event),)

    def end(self) -> tuple[StreamedChunk, ...]:
        return (StreamedChunk(ChunkType.STOP),)


class _Native(list[str]):
    def close(self) -> None: ...

    async def aclose(self) -> None: ...

    def __aiter__(self) -> Any:
        async def events() -> Any:
            for event in self:
                yield event

        return events()


class ShoutClient(BaseClient):
    """The whole of a tiny provider: its open/aopen, its translator; no other file is touched."""

    provider = "shout"
    key_optional = True

    def _open(self, request: Any) -> _Native:
        return _Native(request.conversation.messages[-1].content.upper().split())

    async def _aopen(self, request: Any) -> _Native:
        return self._open(request)

    def _translator(self, request: Any) -> _Echo:
        return _Echo()


def test_a_provider_is_one_class_and_one_registry_line(monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    monkeypatch.setitem(PROVIDERS, "shout", f"{__name__}:ShoutClient")  # == register("shout", ...)
    client = llmstream.client("shout:any")
    assert isinstance(client, ShoutClient)
    from tests.helpers import complete

    completion = complete(client, "hello big world", mode)
    assert completion.text == "HELLOBIGWORLD"
    assert completion.provider == "shout"


def test_register_checks_its_target_and_the_lazy_names_come_from_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="module:Class"):
        register("bad", "no_colon_here")
    monkeypatch.setitem(PROVIDERS, "shout", f"{__name__}:ShoutClient")
    assert "ShoutClient" not in class_modules()  # only the package's own providers are llmstream attributes
    for name, module in class_modules().items():
        assert getattr(importlib.import_module(module), name) is getattr(llmstream, name)
    with pytest.raises(llmstream.ConfigurationError, match="unknown provider 'nope'"):
        llmstream.client("nope:model")
