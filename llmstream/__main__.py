"""``python -m llmstream``: the same command as the ``llmstream`` console script."""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
