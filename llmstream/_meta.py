"""Facts about the installed package that messages quote.

The distribution (what ``pip install`` takes) is ``llmstream-sdk``: the name ``llmstream`` on the
package index belongs to another project. The import name and the command stay ``llmstream``.
"""

from __future__ import annotations

__all__ = ["DISTRIBUTION", "install_hint"]

#: The name on the package index; ``pyproject.toml``'s ``[project] name`` (a test keeps them equal).
DISTRIBUTION = "llmstream-sdk"


def install_hint(extra: str | None = None) -> str:
    """``pip install 'llmstream-sdk[openai]'``: the command that installs an extra (or the package)."""
    return f"pip install '{DISTRIBUTION}[{extra}]'" if extra else f"pip install {DISTRIBUTION}"
