"""``mesogun ARGS`` run by this process's own CLI with private stdin, stdout and stderr: the exit code and both
streams a child process gives, without its second or so of interpreter and import start-up.

For tests whose point is what the CLI says and does (exit codes, output, what the device saw); tests whose point
is the process itself (signals, a terminal, start-up, buffering) keep a real ``python -m mesogun.cli`` child.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping

from click.testing import CliRunner

from mesogun.cli import main


def mesogun_in_process(
    *argv: str, input: str | None = None, env: Mapping[str, str | None] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``mesogun ARGV`` through :func:`mesogun.cli.main` with ``input`` on stdin (empty if ``None``) and
    ``env`` over the environment (``None`` removes a variable); stdout and stderr are captured, never terminals.

    The result is what ``subprocess.run(..., capture_output=True, text=True)`` would return."""
    runner = CliRunner()
    with runner.isolation(input=input or "", env=env) as (stdout, stderr, _):
        try:
            code = main(list(argv))
        except SystemExit as exc:  # a command that exits on its own: the status a child would exit with
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        sys.stdout.flush()
        sys.stderr.flush()
    return subprocess.CompletedProcess(
        ["mesogun", *argv], code, stdout.getvalue().decode(), stderr.getvalue().decode("utf-8", "backslashreplace")
    )
