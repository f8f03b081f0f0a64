"""The link: commands out with sequence numbers, acks back, bounded retries, events fanned out, loss detected.

* Sequence numbers are 16-bit and wrap. A retry re-sends the *same* seq with ``Flag.RETRY``, so the
  device's replay cache answers a duplicate without executing it again (a retried fire fires once).
* The byte stream is decoded with :class:`firmware_protocol.StreamDecoder` as it arrives: straight from
  the transport's readiness callback when the transport can push (no reader-task hop between the bytes
  and the waiting command), else by one reader task. A frame with ``Flag.REPLY`` completes the command
  waiting on its seq, anything else is an unsolicited event handed to ``on_event`` and published to every
  subscriber (bounded queues, see :mod:`mesogun.session.fanout`).
* The link never opens or closes its transport: whoever opened it closes it (the session), so a session
  can drop a link and start a new one on the same transport (reconnect).
* Connection loss (end of stream, a transport error, or silence past ``silence_timeout`` although the
  device pushes status every 100 ms) fails every waiting command and ends every subscription with
  :class:`~mesogun.errors.ConnectionLost`: no caller ever hangs.
* All timing uses the event loop's clock, so it runs in virtual time under ``looptime``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from firmware_protocol import (
    Flag,
    Message,
    ProtocolError,
    StreamDecoder,
    decode_message,
    make,
    spec_for,
    to_wire,
    views,
)
from firmware_protocol.views import view_as
from mesogun.errors import ConnectionLost, DeviceRefused, LinkError, LinkTimeout, ProtocolViolation, as_message
from mesogun.i18n import N_
from mesogun.session.fanout import FanOut, Subscription
from mesogun.transports.base import Transport
from mesogun.wording import Number, Quoted, Wording

log = logging.getLogger(__name__)

#: Default time to wait for a reply before re-sending, in seconds.
ACK_TIMEOUT = 0.25
#: Default number of re-sends after the first attempt.
RETRIES = 3
#: Default silence after which the device is considered gone, in seconds.
SILENCE_TIMEOUT = 1.0


@dataclass(frozen=True)
class Received:
    """A message from the device, with its arrival order (``rx_index``) and loop time."""

    message: Message
    rx_index: int
    time: float
    events_before: int = 0
    """Unsolicited events this link received before this message (an event's own number is this + 1)."""


@dataclass(frozen=True)
class LinkHealth:
    """How one link is doing, read-only (``mesogun watch`` shows it): its counters and the last frame's age."""

    retransmissions: int
    """Commands re-sent because no reply came in time."""
    timeouts: int
    """Commands that got no reply after every attempt (:class:`~mesogun.errors.LinkTimeout`)."""
    frames_dropped: int
    """Frames dropped by the decoder (bad CRC, truncated, bad length, oversize)."""
    bad_messages: int
    """Valid frames whose message did not decode."""
    last_rx_age: float
    """Seconds since the last valid frame arrived (the device pushes a status every status period)."""
    lost: str | None
    """Why the connection was lost, or ``None`` while it is up."""


class Link:
    """Request/reply with retries and event fan-out over one :class:`Transport`."""

    def __init__(
        self,
        transport: Transport,
        *,
        ack_timeout: float = ACK_TIMEOUT,
        retries: int = RETRIES,
        silence_timeout: float = SILENCE_TIMEOUT,
        first_seq: int = 0,
        on_event: Callable[[Received], None] | None = None,
        on_lost: Callable[[ConnectionLost], None] | None = None,
    ) -> None:
        if ack_timeout <= 0:
            raise ValueError(f"ack_timeout={ack_timeout} must be more than 0 s")
        if retries < 0:
            raise ValueError(f"retries={retries} must be 0 or more")
        self.transport = transport
        self.ack_timeout = ack_timeout
        self.retries = retries
        self._silence_timeout = silence_timeout
        self.decoder = StreamDecoder()
        self._next_seq = first_seq & 0xFFFF
        self._pending: dict[int, asyncio.Future[Received]] = {}
        self._on_deadline: dict[int, Received] = {}
        """Replies that arrived in the very instant their attempt's deadline fired (the deadline ran first):
        taken by the attempt instead of being dropped and the command sent again."""
        self._events: FanOut[Received] = FanOut()
        self._on_event = on_event
        self._on_lost = on_lost
        self._rx_index = 0
        self._event_count = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reader: asyncio.Task[None] | None = None
        self._monitor: asyncio.TimerHandle | None = None
        self._monitor_due = 0.0
        self._lost: ConnectionLost | None = None
        self._closing = False
        self.last_rx = 0.0
        """Loop time of the last valid frame received."""
        self.last_tx = 0.0
        """Loop time of the last frame sent."""
        self.bad_messages = 0
        """Valid frames whose message did not decode (unknown type, bad payload)."""
        self.frames_sent = 0
        """Frames written to the transport (commands, their re-sends and heartbeats)."""
        self.retransmissions = 0
        """Commands re-sent because no reply came in time."""
        self.timeouts = 0
        """Commands that got no reply after every attempt (each one raised :class:`LinkTimeout`)."""

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start receiving (pushed by the transport, else a reader task) and the silence monitor.

        The transport must be open; the link does not own it.
        """
        self._loop = asyncio.get_running_loop()
        self.last_rx = self.last_tx = self._loop.time()
        if not self.transport.set_receiver(self._on_data):
            self._reader = self._loop.create_task(self._read_loop(), name="mesogun-link-reader")
        self._arm_silence()

    async def close(self) -> None:
        """Stop receiving and the tasks; waiting commands and subscribers get ConnectionLost.

        The transport stays open: whoever opened it closes it.
        """
        self._closing = True
        self._fail(ConnectionLost(Wording(N_("link closed by the host"))))
        self.transport.set_receiver(None)
        self._disarm_silence()
        task, self._reader = self._reader, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def silence_timeout(self) -> float:
        """Seconds without any frame from the device after which the connection counts as lost."""
        return self._silence_timeout

    @silence_timeout.setter
    def silence_timeout(self, seconds: float) -> None:
        self._silence_timeout = seconds
        if self._monitor is not None:  # the check already planned may be too late (or early) for the new timeout
            self._arm_silence()

    @property
    def lost(self) -> ConnectionLost | None:
        """Why the connection was lost, or ``None`` while it is up."""
        return self._lost

    def health(self) -> LinkHealth:
        """The link's counters and the age of the last frame received, now (no message is sent)."""
        now = self._loop.time() if self._loop is not None else self.last_rx
        return LinkHealth(
            retransmissions=self.retransmissions,
            timeouts=self.timeouts,
            frames_dropped=self.decoder.stats.dropped,
            bad_messages=self.bad_messages,
            last_rx_age=max(0.0, now - self.last_rx),
            lost=str(self._lost) if self._lost is not None else None,
        )

    @property
    def next_seq(self) -> int:
        """The seq the next command will use (carry it over to a new link after a reconnect)."""
        return self._next_seq

    def subscribe(self, maxsize: int = 256) -> Subscription[Received]:
        """A bounded queue of every unsolicited event from now on (drops its own oldest when full)."""
        return self._events.subscribe(maxsize)

    # -- sending ---------------------------------------------------------------------------------

    def _allocate_seq(self) -> int:
        for _ in range(0x10000):
            seq = self._next_seq
            self._next_seq = (seq + 1) & 0xFFFF
            if seq not in self._pending:
                return seq
        raise LinkError("all 65536 sequence numbers are waiting for replies")

    async def _send(self, message: Message) -> None:
        assert self._loop is not None
        try:
            await self.transport.write(to_wire(message))
        except ConnectionLost as exc:
            self._fail(exc)
            raise
        except (OSError, ConnectionError) as exc:
            lost = ConnectionLost(
                Wording(N_("{url}: write failed ({error})"), url=self.transport.url, error=Quoted(str(exc)))
            )
            self._fail(lost)
            raise lost from exc
        self.last_tx = self._loop.time()
        self.frames_sent += 1

    def prepare(self, name: str, **fields: Any) -> Message:
        """A checked command message with a fresh seq (send it with :meth:`exchange`)."""
        return make(name, seq=self._allocate_seq(), **fields)

    async def exchange(self, message: Message, *, timeout: float | None = None, retries: int | None = None) -> Received:
        """Send ``message`` and return whatever reply carries its seq (``nak`` included); retries reuse the seq.

        Raises :class:`LinkTimeout` naming the command, attempts and timeout when every attempt went
        unanswered, and :class:`ConnectionLost` if the connection goes.
        """
        if self._lost is not None:
            raise ConnectionLost(as_message(self._lost))
        if self._loop is None:
            raise ConnectionLost(Wording(N_("link not started")))
        timeout = self.ack_timeout if timeout is None else timeout
        attempts = 1 + (self.retries if retries is None else retries)
        name, seq = message.name, message.seq
        try:
            for attempt in range(1, attempts + 1):
                if attempt > 1:
                    self.retransmissions += 1
                    log.debug("retry %d of %s seq %d", attempt - 1, name, seq)
                    message = replace(message, flags=int(message.flags | Flag.RETRY))
                # A fresh future per attempt, awaited directly: the reply wakes this task with no extra
                # callback hop, and a timed-out attempt's cancelled future is simply replaced.
                # The attempt's deadline is one timer that fails the future (cheaper on the command path than
                # an asyncio.timeout() scope per attempt).
                future: asyncio.Future[Received] = self._loop.create_future()
                self._pending[seq] = future
                await self._send(message)
                deadline = self._loop.call_later(timeout, _expire, future)
                try:
                    return await future
                except _AttemptExpired:
                    if self._lost is not None:
                        raise ConnectionLost(as_message(self._lost)) from None
                    on_deadline = self._on_deadline.pop(seq, None)
                    if on_deadline is not None:  # the reply came in the deadline's own instant
                        return on_deadline
                finally:
                    deadline.cancel()
            self.timeouts += 1
            raise LinkTimeout(
                Wording(
                    N_("{command} got no reply after {attempts} attempts of {timeout} s each (seq {seq})"),
                    command=name,
                    attempts=attempts,
                    timeout=Number(timeout, "g"),
                    seq=seq,
                ),
                command=name,
                attempts=attempts,
                timeout=timeout,
            )
        finally:
            self._pending.pop(seq, None)
            self._on_deadline.pop(seq, None)

    async def request(
        self, name: str, *, timeout: float | None = None, retries: int | None = None, **fields: Any
    ) -> Received:
        """Send command ``name`` and return its successful reply.

        Raises :class:`DeviceRefused` on a ``nak``, :class:`LinkTimeout`, :class:`ConnectionLost`, or
        :class:`ProtocolViolation` if the device answers with the wrong message.
        """
        message = self.prepare(name, **fields)
        received = await self.exchange(message, timeout=timeout, retries=retries)
        self.check_reply(message, received.message)
        return received

    @staticmethod
    def check_reply(command: Message, reply: Message) -> None:
        """Raise :class:`DeviceRefused` for a ``nak``, :class:`ProtocolViolation` for a reply of the wrong kind."""
        name = command.name
        if reply.name == "nak":
            nak = view_as(reply, views.Nak)
            raise DeviceRefused(name, nak.code, nak.detail)
        expected = spec_for(name).reply
        if reply.name != expected:
            raise ProtocolViolation(f"device answered {name} (seq {command.seq}) with {reply.name}, not {expected}")
        if reply.name == "ack" and reply.get("command") != name:
            raise ProtocolViolation(
                f"device acknowledged {reply.get('command')} for {name} (seq {command.seq}); the seqs are confused"
            )

    # -- receiving -------------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        assert self._loop is not None
        try:
            while self._lost is None:
                self._on_data(await self.transport.read())
        except ConnectionLost as exc:
            self._fail(exc)
        except (OSError, ConnectionError) as exc:
            self._fail(
                ConnectionLost(
                    Wording(N_("{url}: read failed ({error})"), url=self.transport.url, error=Quoted(str(exc)))
                )
            )

    def _on_data(self, data: bytes | ConnectionLost) -> None:
        """Bytes from the transport (pushed or read): decode and dispatch; ``b""`` or an error is a loss.

        Nothing counts after the link was lost: a reconnect starts over on a new link.
        """
        if self._lost is not None:
            return
        if isinstance(data, ConnectionLost):
            self._fail(data)
            return
        if not data:
            self._fail(ConnectionLost(Wording(N_("{url}: the device closed the connection"), url=self.transport.url)))
            return
        for frame in self.decoder.feed(data):
            try:
                message = decode_message(frame)
            except ProtocolError as exc:
                self.bad_messages += 1
                log.warning("dropped an undecodable message: %s", exc)
                continue
            self._dispatch(message)

    def _dispatch(self, message: Message) -> None:
        assert self._loop is not None
        now = self._loop.time()
        self.last_rx = now
        self._rx_index += 1
        received = Received(message, self._rx_index, now, self._event_count)
        if message.flags & Flag.REPLY:
            future = self._pending.get(message.seq)
            if future is not None and not future.done():
                future.set_result(received)
            elif future is not None and not future.cancelled() and isinstance(future.exception(), _AttemptExpired):
                self._on_deadline[message.seq] = received  # its attempt is still waking: it takes this reply
            else:
                log.debug("late or duplicate reply %s seq %d ignored", message.name, message.seq)
            return
        self._event_count += 1
        if self._on_event is not None:
            self._on_event(received)
        self._events.publish(received)

    def _arm_silence(self) -> None:
        """Plan the silence check for when the device will have been silent past ``silence_timeout``.

        One timer, due only then (not a poll every fraction of the timeout): the device pushes a status every
        period, so the check usually finds newer data and plans itself again, about once per timeout.
        """
        assert self._loop is not None
        self._disarm_silence()
        now = self._loop.time()
        due = self.last_rx + self._silence_timeout
        self._monitor_due = due if due > now else now + self._stall_allowance()
        self._monitor = self._loop.call_at(self._monitor_due, self._check_silence)

    def _stall_allowance(self) -> float:
        """How late the silence check may run before the host's own loop counts as stalled (and the longest a
        device silent exactly ``silence_timeout`` waits to be found lost)."""
        return max(self._silence_timeout / 4, 0.01)

    def _disarm_silence(self) -> None:
        if self._monitor is not None:
            self._monitor.cancel()
            self._monitor = None

    def _check_silence(self) -> None:
        """Declare the connection lost when nothing arrived for ``silence_timeout`` while the loop ran.

        If this check itself ran late (the host's loop was blocked), the silence is the host's, not the
        device's: it counts again from a quarter of the timeout ago, so the reader can deliver what arrived meanwhile.
        """
        assert self._loop is not None
        self._monitor = None
        if self._lost is not None:
            return
        now = self._loop.time()
        allowance = self._stall_allowance()
        if now - self._monitor_due > allowance:  # the loop was stalled: give the reader a chance first
            self.last_rx = max(self.last_rx, now - allowance)
        else:
            silent = now - self.last_rx
            if silent > self._silence_timeout:
                silence = Wording(
                    N_("{url}: no data from the device for {silent} s"),
                    url=self.transport.url,
                    silent=Number(silent, ".2f"),
                )
                self._fail(ConnectionLost(silence))
                return
        self._arm_silence()

    def fail(self, exc: ConnectionLost) -> None:
        """Declare the connection lost (e.g. heartbeats unanswered): fail waiters, end subscriptions."""
        self._fail(exc)

    def _fail(self, exc: ConnectionLost) -> None:
        if self._lost is not None:
            return
        self._lost = exc
        if not self._closing:
            log.warning("connection lost: %s", exc)
        for future in self._pending.values():
            if not future.done():
                future.set_exception(exc)
                future.exception()  # mark retrieved: the waiter re-raises it from result()
        self._events.close(exc)
        if self._on_lost is not None:
            self._on_lost(exc)
        self._disarm_silence()


class _AttemptExpired(Exception):
    """One attempt of :meth:`Link.exchange` got no reply in time (internal: becomes a retry or LinkTimeout)."""


def _expire(future: asyncio.Future[Received]) -> None:
    """The deadline timer of one attempt: fail its future unless the reply came first."""
    if not future.done():
        future.set_exception(_AttemptExpired())
