"""Output of the reliability campaign scripts."""

from __future__ import annotations

import json
import sys
from typing import Any


def emit(summary: dict[str, Any]) -> None:
    """Print a summary as indented JSON on stdout (the scripts' one output)."""
    json.dump(summary, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
    sys.stdout.flush()
