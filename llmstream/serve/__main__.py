"""``python -m llmstream.serve``: the same as ``llmstream serve``."""

from ._command import main

raise SystemExit(main())
