"""The balance driver: MT-SICS commands as async methods, every reply and error as a value or an exception.

One command at a time (a lock): it is sent, and the reply whose command it echoes is awaited within the reply
timeout (a reply left over from a command given up on is skipped). ``S`` is asked again while the balance
answers ``S D`` (dynamic) or ``S I`` (no stability in its own time) until ``timeout_s``; then
:class:`~mesogun.balance.errors.BalanceNeverSettles` names the timeout and the last reading. ``Z`` and ``T``
retry their ``I`` the same way. Over- and underload, ``ES``/``ET``/``EL``, silence and a closed line are
their own errors (:mod:`mesogun.balance.errors`).
"""

from __future__ import annotations

import asyncio
import math
from typing import TYPE_CHECKING, Self
from urllib.parse import urlsplit

from mesogun.balance.errors import (
    BalanceCommandError,
    BalanceDisconnected,
    BalanceError,
    BalanceLogicalError,
    BalanceNeverSettles,
    BalanceNotExecuted,
    BalanceOverload,
    BalanceProtocolError,
    BalanceSyntaxError,
    BalanceTimeout,
    BalanceTransmissionError,
    BalanceUnavailable,
    BalanceUnderload,
    WrongBalanceModel,
)
from mesogun.balance.lines import InProcessLine, LineErrors, LinePort, open_pyserial
from mesogun.balance.mtsics import BalanceIdentity, Reading, Reply, identity_from, parse_reply, quoted_text, weight_g
from mesogun.errors import ParameterError

if TYPE_CHECKING:
    from sims.balance import InProcessBalance
    from sims.device import SimulatedGun

BAUDRATE = 9600
"""MT-SICS's usual line: 9600 baud, 8 data bits, no parity, 1 stop bit (pyserial's defaults for the rest), CR LF."""
REPLY_TIMEOUT_S = 10.0
"""How long one command waits for its reply: longer than a balance's own wait for stability on ``S``."""
RETRY_PAUSE_S = 0.1
"""Pause before asking again after an unstable answer."""

BALANCE_LINE = LineErrors(
    "balance",
    BalanceUnavailable,
    BalanceDisconnected,
    BalanceTimeout,
    "check that it is on, cabled, and that its interface is MT-SICS at 9600 baud, 8 data bits, no parity, "
    "1 stop bit, CR LF",
)

_ECHO = {"S": "S", "SI": "S", "Z": "Z", "T": "T", "I2": "I2", "I3": "I3", "I4": "I4", "@": "I4"}
"""The command a reply to each command starts with (``SI`` is answered ``S …``, ``@`` with ``I4 A``)."""

_COMMAND_ERRORS: dict[str, tuple[type[BalanceCommandError], str]] = {
    "ES": (BalanceSyntaxError, "syntax error: it does not know the command (is its interface set to MT-SICS?)"),
    "ET": (BalanceTransmissionError, "transmission error: it received garbled bytes (check baud rate and parity)"),
    "EL": (BalanceLogicalError, "logical error: it cannot execute the command as sent"),
}


def _check_timeout(timeout_s: float, field: str = "timeout_s") -> float:
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, int | float) or not 0 < timeout_s < math.inf:
        raise ParameterError(f"{field}={timeout_s!r} must be a number of seconds above 0", field=field, value=timeout_s)
    return float(timeout_s)


class Balance:
    """A laboratory balance speaking MT-SICS over a byte stream (a serial port, ``socket://``, ``sim-balance://``).

    Open it with :func:`open_balance`. ``expected_model`` (a model or its family's prefix, e.g. ``XPR``) makes
    :meth:`identify` refuse another balance with :class:`~mesogun.balance.errors.WrongBalanceModel`.
    """

    def __init__(
        self,
        port: LinePort,
        *,
        expected_model: str | None = None,
        reply_timeout_s: float = REPLY_TIMEOUT_S,
        simulator: InProcessBalance | None = None,
    ) -> None:
        self.url = port.url
        self._port = port
        self._lock = asyncio.Lock()
        self.expected_model = expected_model
        self.reply_timeout_s = _check_timeout(reply_timeout_s, "reply_timeout_s")
        self.simulator = simulator
        """The in-process simulated balance behind a ``sim-balance://`` URL (tests unplug it, place weights)."""
        self.identity: BalanceIdentity | None = None
        """What :meth:`identify` found (``None`` before)."""

    # ------------------------------------------------------------------ commands

    async def identify(self) -> BalanceIdentity:
        """``I2``, ``I3``, ``I4``: model, software, serial number; readability and capacity from the model."""
        try:
            i2 = quoted_text(await self._request("I2"))
            firmware = quoted_text(await self._request("I3"))
            serial_number = quoted_text(await self._request("I4"))
            identity = identity_from(i2, firmware, serial_number)
        except ValueError as exc:
            raise BalanceProtocolError(
                f"the balance at {self.url} gave an identity this driver cannot read: {exc}", url=self.url, command="I2"
            ) from exc
        expected = self.expected_model
        if expected and not identity.model.upper().startswith(expected.upper()):
            raise WrongBalanceModel(
                f"the balance at {self.url} is a {identity.model} (serial number {identity.serial_number}), not the "
                f"expected {expected}: connect the balance the procedure names, or name this model",
                url=self.url,
                model=identity.model,
                expected=expected,
            )
        self.identity = identity
        return identity

    async def zero(self, timeout_s: float = 30.0) -> None:
        """``Z``: zero the balance once stable (it clears the tare), asking again until ``timeout_s``."""
        await self._until_stable("Z", timeout_s)

    async def tare(self, timeout_s: float = 30.0) -> float:
        """``T``: tare the load on the pan once stable, asking again until ``timeout_s``; returns the tare in grams."""
        reply = await self._until_stable("T", timeout_s)
        return self._weight(reply, "T")

    async def stable_weight(self, timeout_s: float = 30.0) -> Reading:
        """``S``: the next stable weight, asking again while the balance answers unstable, until ``timeout_s``.

        The wait can pass ``timeout_s`` by one command (the balance's own wait for stability on ``S``)."""
        reply = await self._until_stable("S", timeout_s)
        return Reading(self._weight(reply, "S"), stable=True)

    async def immediate_weight(self) -> Reading:
        """``SI``: the weight now, stable or not."""
        reply = await self._request("SI")
        if reply.status in ("S", "D"):
            return Reading(self._weight(reply, "SI"), stable=reply.status == "S")
        raise self._refusal("SI", reply)

    async def reset(self) -> None:
        """``@``: the balance cancels what it was doing and clears its tare (its zero stays)."""
        self._port.discard_pending()
        await self._request("@")

    async def close(self) -> None:
        """Close the line (and power off a simulated balance); idempotent."""
        await self._port.close()
        if self.simulator is not None:
            self.simulator.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ how

    async def _until_stable(self, command: str, timeout_s: float) -> Reply:
        """Send ``command`` (S, Z or T) until the balance executes it; :class:`BalanceNeverSettles` after
        ``timeout_s`` of unstable answers."""
        timeout = _check_timeout(timeout_s)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        last: Reading | None = None
        done = {"S": "S", "Z": "A", "T": "S"}[command]
        while True:
            reply = await self._request(command)
            if reply.status == done:
                return reply
            if command == "S" and reply.status == "D":
                last = Reading(self._weight(reply, command), stable=False)
            elif reply.status != "I":
                raise self._refusal(command, reply)
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise await self._never_settled(command, timeout, last)
            await asyncio.sleep(min(RETRY_PAUSE_S, remaining))

    async def _never_settled(self, command: str, timeout_s: float, last: Reading | None) -> BalanceNeverSettles:
        if last is None:
            try:
                last = await self.immediate_weight()
            except (BalanceNotExecuted, BalanceCommandError, BalanceProtocolError):
                last = None
        shown = f"last reading {last.grams:.6g} g, unstable" if last is not None else "no reading shown"
        action = {"S": "settle", "Z": "zero", "T": "tare"}[command]
        return BalanceNeverSettles(
            f"the balance at {self.url} did not {action} within {timeout_s:g} s ({shown}): shield it from drafts and "
            "vibration, let the vessel and the water reach room temperature, then try again",
            url=self.url,
            command=command,
            timeout_s=timeout_s,
            last=last,
        )

    async def _request(self, command: str) -> Reply:
        """Send ``command`` and return its reply (``ES``/``ET``/``EL`` raised); a stale reply to another is skipped."""
        echo = _ECHO[command]
        async with self._lock:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.reply_timeout_s
            await self._port.send(command, command=command)
            while True:
                remaining = max(deadline - loop.time(), 0.0)
                line = await self._port.read_line(timeout_s=remaining or 1e-9, command=command)
                try:
                    reply = parse_reply(line)
                except ValueError as exc:
                    raise self._garbled(command, str(exc)) from exc
                if reply.is_error:
                    cls, what = _COMMAND_ERRORS[reply.command]
                    raise cls(
                        f"the balance at {self.url} answered {command!r} with {reply.command}, {what}",
                        url=self.url,
                        command=command,
                        reply=reply.command,
                    )
                if reply.command == echo:
                    return reply

    def _weight(self, reply: Reply, command: str) -> float:
        try:
            return weight_g(reply)
        except ValueError as exc:
            raise self._garbled(command, str(exc)) from exc

    def _garbled(self, command: str, why: str) -> BalanceProtocolError:
        return BalanceProtocolError(
            f"the balance at {self.url} answered {command!r} with something MT-SICS does not allow: {why}",
            url=self.url,
            command=command,
        )

    def _refusal(self, command: str, reply: Reply) -> BalanceError:
        """The error for a ``+``, ``-`` or ``I`` status (or any other a command does not allow)."""
        url = self.url
        if reply.status == "+":
            if command == "Z":
                return BalanceOverload(
                    f"the balance at {url} cannot zero (Z +): the load is above its zero setting range; take the "
                    "vessel off the pan, or tare instead",
                    url=url,
                    command=command,
                )
            capacity = f" {self.identity.capacity_g:g} g" if self.identity is not None else ""
            return BalanceOverload(
                f"the balance at {url} reports overload ({reply.line}): the load exceeds its capacity{capacity}; "
                "take weight off the pan",
                url=url,
                command=command,
            )
        if reply.status == "-":
            return BalanceUnderload(
                f"the balance at {url} reports underload ({reply.line}): less on the pan than its zero allows; check "
                "that the weighing pan is in place, then zero it",
                url=url,
                command=command,
            )
        if reply.status == "I":
            return BalanceNotExecuted(
                f"the balance at {url} did not execute {command!r} ({reply.line}): it is busy or not stable; wait "
                "and try again",
                url=url,
                command=command,
            )
        return self._garbled(command, f"status {reply.status!r} in {reply.line!r}")


async def open_balance(
    url: str,
    *,
    simulated_gun: SimulatedGun | None = None,
    expected_model: str | None = None,
    baudrate: int = BAUDRATE,
    reply_timeout_s: float = REPLY_TIMEOUT_S,
) -> Balance:
    """Open the balance at ``url``: a serial port (``/dev/ttyUSB0``, at ``baudrate`` 8N1), ``socket://HOST:PORT``
    (a serial-to-Ethernet adapter, or ``python -m sims balance --tcp``), or ``sim-balance://?options`` (a
    simulated balance in this process; ``gun=SERIAL``, or ``simulated_gun``, puts its vessel under that
    in-process simulated gun). With ``expected_model`` the balance is identified at once and a wrong one refused.

    Bad URLs and options are :class:`~mesogun.errors.ParameterError` (nothing opened); a port that does not open
    is :class:`~mesogun.balance.errors.BalanceUnavailable`."""
    if not isinstance(url, str) or not url.strip():
        raise ParameterError(f"url={url!r} must be a serial port, socket://HOST:PORT or sim-balance://", field="url")
    scheme = urlsplit(url).scheme.lower() if "://" in url else ""
    simulator: InProcessBalance | None = None
    if scheme == "sim-balance":
        from sims.balance import start_inprocess_balance

        try:
            simulator = start_inprocess_balance(urlsplit(url).query, gun=simulated_gun)
        except ValueError as exc:  # sims.errors.SimConfigError names option, value and what is allowed
            raise ParameterError(f"{url}: {exc}", field="url", value=url) from exc
        port = LinePort(InProcessLine(url, simulator.connection), BALANCE_LINE)
    else:
        if simulated_gun is not None:
            raise ParameterError(
                f"simulated_gun is for a sim-balance:// URL, not {url!r}", field="simulated_gun", value=url
            )
        port = LinePort(await open_pyserial(url, baudrate=baudrate, errors=BALANCE_LINE), BALANCE_LINE)
    try:
        balance = Balance(port, expected_model=expected_model, reply_timeout_s=reply_timeout_s, simulator=simulator)
    except ParameterError:
        await port.close()
        if simulator is not None:
            simulator.close()
        raise
    if expected_model:
        try:
            await balance.identify()
        except BaseException:
            await balance.close()
            raise
    return balance
