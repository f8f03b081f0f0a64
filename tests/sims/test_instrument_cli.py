"""``python -m sims balance|gauge``: bad options are one line and exit 2 (serving itself: tests/mesogun/balance)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from sims.__main__ import main


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["balance", "--noise-mg", "abc"], "noise_mg=abc is not a number"),
        (["balance", "--unstable-reply", "Q"], "unstable_reply=Q is not a reply: allowed I or D"),
        (["balance", "--pty", "--tcp", "127.0.0.1:0"], "choose one transport, not --pty and --tcp"),
        (["gauge", "--resolution-um", "0"], "resolution_um=0 is out of range"),
    ],
)
def test_bad_options_exit_2_with_one_line(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_the_commands_are_listed() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for name in ("balance", "gauge", "gun"):
        assert name in result.output
    assert "--settle-s" in CliRunner().invoke(main, ["balance", "--help"]).output
