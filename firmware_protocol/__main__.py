"""Entry point of ``python -m firmware_protocol`` (see :mod:`firmware_protocol.tools.cli`)."""

from __future__ import annotations

import os
import sys

from firmware_protocol.tools.cli import main


def _run() -> int:
    """Run the tool; a closed output pipe (``… | head``) ends it quietly instead of with a traceback."""
    code = main()
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return code


if __name__ == "__main__":
    sys.exit(_run())
