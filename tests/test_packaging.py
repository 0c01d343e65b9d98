"""The distribution name: free on the package index, and the one every install hint names."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

import llmstream
from llmstream._client import import_sdk
from llmstream._errors import ConfigurationError
from llmstream._meta import DISTRIBUTION, install_hint

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_hint_names_pyprojects_distribution() -> None:
    assert PYPROJECT["project"]["name"] == DISTRIBUTION
    # Not the other project's name, in any spelling the index treats as the same.
    assert re.sub(r"[-_.]+", "", DISTRIBUTION.lower()) != "llmstream"
    with pytest.raises(ConfigurationError) as caught:
        import_sdk("llmstream_test_no_such_module", "openai", "openai")
    assert f"pip install '{DISTRIBUTION}[openai]'" in str(caught.value)
    assert install_hint() == f"pip install {DISTRIBUTION}"


def test_every_extra_a_hint_names_exists() -> None:
    extras = set(PYPROJECT["project"]["optional-dependencies"])
    sources = "\n".join(p.read_text(encoding="utf-8") for p in Path(llmstream.__file__).parent.rglob("*.py"))
    named = set(re.findall(r"import_sdk\([^)]*?,\s*\"(\w+)\"", sources))
    named |= set(re.findall(r"install_hint\(['\"](\w+)['\"]\)", sources))
    assert named and named <= extras


def test_the_import_name_and_the_command_stay_llmstream() -> None:
    assert PYPROJECT["project"]["scripts"] == {"llmstream": "llmstream.cli:main"}
    assert PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"] == ["llmstream*"]


def test_no_text_tells_people_to_install_the_other_llmstream() -> None:
    paths = [ROOT / "README.md", *Path(llmstream.__file__).parent.rglob("*.py")]
    texts = {p: p.read_text(encoding="utf-8") for p in paths}
    wrong = re.compile(r"pip install\s+['\"]?llmstream(?![-_.]?sdk)(\[|['\"\s]|$)", re.MULTILINE)
    assert [str(p) for p, text in texts.items() if wrong.search(text)] == []
    readme = texts[ROOT / "README.md"]
    assert f"pip install '{DISTRIBUTION}[openai]'" in readme
    # The README warns about the other package that also installs a top-level llmstream/.
    assert "other" in readme and "same environment" in readme


#: Command lines of their own, outside the ``llmstream`` command: ``python -m llmstream.serve``.
COMMANDS_OF_THEIR_OWN = {"serve/_command.py"}


def test_only_the_cli_package_prints() -> None:
    package = Path(llmstream.__file__).parent
    printing = [
        f"{path.relative_to(package)}:{number}"
        for path in sorted(package.rglob("*.py"))
        if "cli" not in path.relative_to(package).parts
        and path.relative_to(package).as_posix() not in COMMANDS_OF_THEIR_OWN
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if any(word in line.split("#")[0] for word in ("print(", "sys.stdout", "sys.stderr"))
        and not line.lstrip().startswith((">>>", '"', "'"))
    ]
    assert printing == []
    assert (package / "cli" / "__init__.py").exists() and not (package / "cli.py").exists()
