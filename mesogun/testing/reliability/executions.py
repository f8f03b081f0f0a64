"""Exactly-once, counted on the device: how many times each command the host sent was executed there.

The treatment record cannot show a duplicated shot (its primary key is the shot index), so the soak and crash
oracles count from the *device's* own log (``DeviceSnapshot.executions``: seq and name of every state-changing
command it executed; repeats answered from the replay cache are logged apart, as replays). Each command the
host sent is matched, per command name and in order, with the device's executions of that seq:

* acknowledged by the device: executed exactly once;
* refused (``nak``): never executed;
* unanswered (the host gave up: ``LinkTimeout``, ``ConnectionLost``): executed at most once (the ack may be
  what was lost).

An execution beyond the first of one sent command is a ``duplicated`` execution; one that matches no command
sent is ``unexpected``. Both must be 0.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any, Literal

Answer = Literal["acked", "refused", "unanswered"]


@dataclass(frozen=True)
class Sent:
    """A command the host believes it sent, and how the device answered it."""

    seq: int
    name: str
    answer: Answer


@dataclass
class ExecutionAudit:
    """Host-sent commands against the device's executions: the figures and whether exactly-once held."""

    sent: Counter[str] = field(default_factory=Counter)
    """Commands the host sent, by name."""
    executed: Counter[str] = field(default_factory=Counter)
    """Executions in the device's log, by name."""
    replays: Counter[str] = field(default_factory=Counter)
    """Repeats the device answered from its replay cache (not executed), by name."""
    executed_once: int = 0
    unanswered_not_executed: int = 0
    """Sent, never answered and never executed (lost on the way to the device): allowed."""
    acked_not_executed: int = 0
    """Acknowledged, yet the device has no execution of it: must be 0."""
    refused_but_executed: int = 0
    """Refused with a nak, yet executed: must be 0."""
    duplicated: int = 0
    """Executions beyond the first of one sent command: must be 0."""
    unexpected: int = 0
    """Executions that match no command the host sent: must be 0."""

    @property
    def ok(self) -> bool:
        """Every command executed as its answer says, none twice, none from nowhere."""
        return not (self.acked_not_executed or self.refused_but_executed or self.duplicated or self.unexpected)

    def summary(self) -> dict[str, Any]:
        """JSON-ready figures (counters as plain dicts) with ``ok``."""
        out: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            out[item.name] = dict(sorted(value.items())) if isinstance(value, Counter) else value
        return {**out, "ok": self.ok}


def audit_executions(
    sent: Iterable[Sent],
    executions: Iterable[tuple[int, str]],
    replays: Iterable[tuple[int, str]] = (),
    names: frozenset[str] | None = None,
) -> ExecutionAudit:
    """Match the device's ``executions`` (seq, name), in order, with the commands the host ``sent``.

    Per name, each execution is matched with the next sent command of the same seq not yet passed; seqs wrap,
    so a seq may recur, and the match never goes back. ``names`` limits the audit to those commands.
    """
    audit = ExecutionAudit()
    by_name: dict[str, list[Sent]] = defaultdict(list)
    for command in sent:
        if names is None or command.name in names:
            by_name[command.name].append(command)
            audit.sent[command.name] += 1
    runs: dict[str, list[int]] = defaultdict(list)
    for seq, name in executions:
        if names is None or name in names:
            runs[name].append(seq)
            audit.executed[name] += 1
    for _seq, name in replays:
        if names is None or name in names:
            audit.replays[name] += 1
    for name in sorted(set(by_name) | set(runs)):
        _match(audit, by_name.get(name, []), runs.get(name, []))
    return audit


def _match(audit: ExecutionAudit, sent: list[Sent], executed_seqs: list[int]) -> None:
    """One command name: walk the executions in order against the sent commands in order."""
    times = [0] * len(sent)
    next_index = 0
    for seq in executed_seqs:
        j = next((k for k in range(next_index, len(sent)) if sent[k].seq == seq), None)
        if j is None:  # no later command with this seq: a second run of an earlier one, or from nowhere
            earlier = next((k for k in range(next_index - 1, -1, -1) if sent[k].seq == seq and times[k]), None)
            if earlier is None:
                audit.unexpected += 1
            else:
                times[earlier] += 1
            continue
        times[j] += 1
        next_index = j + 1
    for command, n in zip(sent, times, strict=True):
        audit.duplicated += max(n - 1, 0)
        if n >= 1:
            audit.executed_once += 1
        if command.answer == "acked" and n == 0:
            audit.acked_not_executed += 1
        elif command.answer == "refused" and n:
            audit.refused_but_executed += 1
        elif command.answer == "unanswered" and n == 0:
            audit.unanswered_not_executed += 1
