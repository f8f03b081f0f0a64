"""What became of a command whose link failed: told on the error at once, found out from the device later.

A :class:`~mesogun.errors.LinkTimeout` or :class:`~mesogun.errors.ConnectionLost` raised from a command carries a
:class:`~mesogun.errors.CommandOutcome`: the command (its wire name, seq and fields), whether the device executed it
as far as the host knows (its ack or one of its shots seen: True; nothing sent: False; else ``None``) and, for
``fire``, the shots delivered so far. :class:`CommandOutcomes`, the control actor's collaborator, follows the
commands each work item sends (:meth:`CommandOutcomes.begin`, :meth:`sending`, :meth:`answered`) and words the
error (:meth:`explain`); :meth:`settle` (``Gun.outcome_of``) asks the device afterwards, once the gun is connected
again. A reconnect's ``hello`` clears the device's reply cache, so the cache cannot answer then; the shot log can
(every entry carries the ``fire_seq`` of its fire), and the status shows the effect of the other commands.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar

from firmware_protocol import AlarmCode, DeviceState, Message, views
from firmware_protocol.catalog import SHOT_LOG_PAGE_MAX
from firmware_protocol.families import LOGS
from firmware_protocol.views import view_as
from mesogun.errors import CommandOutcome, ConnectionLost, DeviceRefused, LinkError, LinkTimeout
from mesogun.models import FiredShots, ShotRecord, Status, fired_by_other_host
from mesogun.shot_counter import on_wire, unwrap_page

if TYPE_CHECKING:
    from mesogun.link import Received
    from mesogun.session.actor import ControlActor
    from mesogun.session.tracker import Burst

T = TypeVar("T")

READ_ONLY = frozenset({"get_status", "get_shot_log", "get_diagnostics", "get_calibration", "heartbeat", "hello"})
"""Commands that change nothing on the device: never the command a work item's outcome is about."""

FIRING_COMMANDS = frozenset({"fire", "deliver"})
"""Commands that start a burst (the calibration family's ``deliver`` fires as ``fire`` does): their outcome is the
shots the device's log holds for their seq."""

QUERY_ROUNDS = 3
"""Times :meth:`CommandOutcomes.settle` puts one of its questions (a status, a shot log page) when it timed out after
all the link's retries or the link went (reconnecting first)."""

Effect = Callable[[Status, Mapping[str, Any]], bool]
"""Whether the device's status shows a command's intended effect (given the command's fields)."""

EFFECTS: dict[str, Effect] = {
    "set_parameters": lambda s, f: (
        (s.depth_um, s.dose_nl, s.rate_mhz, s.settings.mode)
        == (f.get("depth_um"), f.get("dose_nl"), f.get("rate_mhz"), f.get("mode"))
    ),
    "load_syringe": lambda s, f: (
        round(s.syringe_capacity_ml * 1e6) == f.get("capacity_nl")
        and s.reservoir_nl == f.get("fill_nl")
        and not s.primed
    ),
    "arm": lambda s, f: s.state in (DeviceState.ARMED, DeviceState.FIRING),
    "disarm": lambda s, f: s.state is DeviceState.READY,
    "stop": lambda s, f: s.state is not DeviceState.FIRING,
    "emergency_stop": lambda s, f: s.state is DeviceState.EMERGENCY_STOP,
    "clear_alarm": lambda s, f: (
        s.state not in (DeviceState.ALARM, DeviceState.EMERGENCY_STOP)
        and all(code is AlarmCode.RESERVOIR_LOW for code in s.active_alarms)
    ),
}
"""The commands whose effect a status shows, so that seeing it settles ``executed`` (``prime``'s does not: a
primed line may have been primed before). A status that does not show it leaves ``executed`` unknown."""


@dataclass
class _Sent:
    """One command a work item sent, and whether its reply came."""

    message: Message
    shots_before: int | None
    answered: bool = False


@dataclass
class _Trail:
    """The commands one work item sent, in order."""

    sent: list[_Sent] = field(default_factory=list)

    def principal(self) -> _Sent | None:
        """The command the caller asked for: the first that changes something, else the first sent."""
        changing = [s for s in self.sent if s.message.name not in READ_ONLY]
        candidates = changing or self.sent
        return candidates[0] if candidates else None


class CommandOutcomes:
    """Follows what each work item sends (in the actor's task) and finds out later what became of it."""

    def __init__(self, actor: ControlActor) -> None:
        self._actor = actor
        self._trail: _Trail | None = None
        self._reconnect: Callable[[], Awaitable[None]] = _connected

    def reconnect_with(self, reconnect: Callable[[], Awaitable[None]]) -> None:
        """How :meth:`settle` gets the gun back when the link goes while it asks (``Gun.reconnect``)."""
        self._reconnect = reconnect

    # ------------------------------------------------------------------ following (actor task)

    def begin(self) -> None:
        """A work item starts: its commands are followed from now on."""
        self._trail = _Trail()

    def end(self) -> None:
        """The work item is over (commands sent outside one, heartbeats, are not followed)."""
        self._trail = None

    def sending(self, message: Message) -> None:
        """``message`` goes on the wire now (the link is up)."""
        if self._trail is None:
            return
        before = None
        if message.name in FIRING_COMMANDS:
            before = self._actor.shot_log.counted(self._actor.status)
        self._trail.sent.append(_Sent(message, before))

    def answered(self, message: Message) -> None:
        """The reply to ``message`` came (an ack, or a nak, which raises its own error)."""
        if self._trail is not None:
            for sent in self._trail.sent:
                if sent.message is message:
                    sent.answered = True

    def explain(self, name: str, error: BaseException) -> BaseException:
        """``error`` from work item ``name``: a link failure gets its own copy saying what became of the command."""
        trail = self._trail
        if not isinstance(error, LinkTimeout | ConnectionLost) or error.outcome is not None:
            return error
        sent = trail.principal() if trail is not None else None
        if sent is None:  # refused before anything went out
            return error.with_outcome(CommandOutcome(name, None, False))
        message = sent.message
        executed = True if sent.answered or self._shot_seen(message) else None
        fields = dict(message.fields)
        return error.with_outcome(
            CommandOutcome(message.name, message.seq, executed, fields=fields, shots_before=sent.shots_before)
        )

    def _shot_seen(self, message: Message) -> bool:
        """A shot of this ``fire`` arrived (still in the actor's inbox: the fire's own retries held it up)."""
        return message.name in FIRING_COMMANDS and message.seq in self._actor.queued_shot_fire_seqs()

    # ------------------------------------------------------------------ after the ack (caller's task)

    @staticmethod
    def after_ack(error: LinkError, received: Received, fields: Mapping[str, Any]) -> LinkError:
        """A failure while waiting on what an acknowledged command started (priming, the needle stop)."""
        command = str(received.message.get("command", received.message.name))
        return error.with_outcome(CommandOutcome(command, received.message.seq, True, fields=dict(fields)))

    @staticmethod
    def burst_cut(error: LinkError, burst: Burst, count: int, before: int, command: str = "fire") -> LinkError:
        """A failure while an acknowledged ``fire`` (or ``deliver``) was firing: executed, with the shots delivered
        so far."""
        shots = FiredShots(sorted(burst.shots, key=lambda shot: shot.index), fired=len(burst.shots))
        outcome = CommandOutcome(command, burst.seq, True, shots, {"count": count}, shots_before=before)
        return error.with_outcome(outcome)

    # ------------------------------------------------------------------ asking the device (caller's task)

    async def settle(self, outcome: CommandOutcome) -> CommandOutcome:
        """What the device says became of the command (the gun must be connected: reconnect first).

        ``fire``: every shot the device fired for it (read from its shot log, after the device stopped firing a
        bounded burst); other commands: ``executed`` becomes True when the status shows their effect.
        """
        if outcome.command in FIRING_COMMANDS and outcome.seq is not None and outcome.executed is not False:
            return await self._settle_fire(outcome)
        if outcome.executed is not None:
            return outcome
        effect = EFFECTS.get(outcome.command)
        status = await self._status()
        return replace(outcome, executed=True) if effect is not None and effect(status, outcome.fields) else outcome

    async def _settle_fire(self, outcome: CommandOutcome) -> CommandOutcome:
        assert outcome.seq is not None
        status = await self._status()
        if outcome.fields.get("count") and status.state is DeviceState.FIRING:
            status = await self._actor.until_not_firing(status, self._actor.timeouts.settle, self._status)
        before = outcome.shots_before or 0
        lifetime = status.shots_lifetime
        entries, covered = await self._log(before + 1, lifetime)
        shots = {
            entry.shot_index: ShotRecord.from_log_entry(entry)
            for entry in entries
            if entry.fire_seq == outcome.seq and not fired_by_other_host(entry.host_id, self._actor.host_id)
        }
        shots.update({shot.index: shot for shot in outcome.shots})  # the details received first are kept
        # The device's counter decides how many it fired: shots of the window the log did not give (another
        # logs family, overwritten, refused) count as this fire's, so a caller never fires them again.
        known = {entry.shot_index for entry in entries} | set(shots)  # read back, or received before the cut
        unread = max(0, (lifetime - before) - len(known))
        fired = FiredShots(sorted(shots.values(), key=lambda shot: shot.index), fired=len(shots) + unread)
        executed: bool | None = outcome.executed
        if fired.fired:
            executed = True
        elif executed is None and covered and lifetime == before and status.state is not DeviceState.FIRING:
            executed = False
        return replace(outcome, executed=executed, shots=fired)

    async def _ask(self, name: str, run: Callable[[], Awaitable[T]]) -> T:
        """Run the read-only command ``name`` as actor work; asked again after a timeout, and after a reconnect when
        the link went (:data:`QUERY_ROUNDS` in all): a question changes nothing, so asking again is always safe."""
        for _ in range(QUERY_ROUNDS - 1):
            try:
                await self._reconnect()
                return await self._actor.call(name, run)
            except (LinkTimeout, ConnectionLost):
                continue
        await self._reconnect()
        return await self._actor.call(name, run)

    async def _status(self) -> Status:
        return await self._ask("get_status", self._actor.refresh)

    async def _log(self, first: int, last: int) -> tuple[list[views.ShotLogEntry], bool]:
        """The shot log's entries ``first..last`` and whether the log still held ``first`` (nothing overwritten)."""
        entries: list[views.ShotLogEntry] = []
        covered = True
        index = first
        actor = self._actor
        if not actor.families.allows(LOGS.name):  # another logs family: its shot log is not ours to read
            return entries, False
        while index <= last:
            count = min(last - index + 1, SHOT_LOG_PAGE_MAX)

            async def page(start: int = index, count: int = count) -> Received:
                return await actor.command("get_shot_log", from_index=on_wire(start), count=count)

            try:
                received = await self._ask("get_shot_log", page)
            except DeviceRefused:  # past the device's newest shot: its counter went back (a new NVM)
                return entries, False
            shot_log = unwrap_page(view_as(received.message, views.ShotLog), index)
            if index == first and shot_log.oldest_index > first:
                covered = False
            entries.extend(e for e in shot_log.entries if index <= e.shot_index <= last)
            if not shot_log.entries:
                break
            index = max(index + 1, shot_log.entries[-1].shot_index + 1)
        return entries, covered


async def _connected() -> None:
    """Without a way to reconnect: a lost link stays lost (the question then fails with ConnectionLost)."""
