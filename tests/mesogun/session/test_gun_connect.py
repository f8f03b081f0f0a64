"""``connect(attempts=N)``: a port that is not there yet, or a gun that does not answer yet, is tried again."""

from __future__ import annotations

from typing import Any

import pytest

import mesogun
from mesogun.errors import PortNotFound
from mesogun.transports.sim import SimTransport


class FlakyOpen(SimTransport):
    """A simulated gun whose port cannot be opened the first ``failures`` times (a USB gun still enumerating)."""

    def __init__(self, failures: int, url: str = "sim://") -> None:
        super().__init__(url)
        self.failures = failures
        self.opens = 0

    async def open(self) -> None:
        self.opens += 1
        if self.opens <= self.failures:
            raise PortNotFound(f"cannot open {self.url}: not there yet (attempt {self.opens})")
        await super().open()


def test_connect_tries_again_until_the_port_opens(virtual: Any) -> None:
    async def scenario() -> None:
        transport = FlakyOpen(failures=2, url="sim://?serial=SIM0303")
        async with mesogun.connect(transport, attempts=3, interval=0.1) as gun:
            assert gun.info.serial_number == "SIM0303"
        assert transport.opens == 3

    virtual(scenario)


def test_connect_gives_up_after_its_attempts_with_the_last_error(virtual: Any) -> None:
    async def scenario() -> None:
        transport = FlakyOpen(failures=5)
        with pytest.raises(PortNotFound, match="attempt 2"):
            async with mesogun.connect(transport, attempts=2, interval=0.1):
                pass
        assert transport.opens == 2

    virtual(scenario)


def test_an_unanswered_hello_is_tried_again_and_a_refusal_is_not(virtual: Any) -> None:
    async def scenario() -> None:
        silent = FlakyOpen(failures=0, url="sim://?drop=1&seed=1")
        with pytest.raises(mesogun.LinkTimeout, match="hello"):
            async with mesogun.connect(silent, attempts=2, interval=0.1, ack_timeout=0.05, retries=0):
                pass
        assert silent.opens == 2
        incompatible = FlakyOpen(failures=0, url="sim://?fingerprint=0x12345678")
        with pytest.raises(mesogun.IncompatibleDevice):
            async with mesogun.connect(incompatible, attempts=3, interval=0.1):
                pass
        assert incompatible.opens == 1

    virtual(scenario)


@pytest.mark.parametrize("attempts", [0, -1, 1.5, True])
def test_attempts_below_one_are_refused_before_anything_is_opened(virtual: Any, attempts: Any) -> None:
    async def scenario() -> None:
        transport = FlakyOpen(failures=0)
        with pytest.raises(mesogun.ParameterError, match=r"attempts=.* at least 1"):
            async with mesogun.connect(transport, attempts=attempts):
                pass
        assert transport.opens == 0

    virtual(scenario)
