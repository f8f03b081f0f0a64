"""The device-side exactly-once oracle flags a command run twice, an acked command never run, and one from nowhere."""

from __future__ import annotations

from mesogun.testing.reliability.executions import Sent, audit_executions

SENT = [Sent(10, "fire", "acked"), Sent(11, "stop", "acked"), Sent(12, "fire", "unanswered"), Sent(13, "fire", "acked")]


def test_each_acked_command_run_once_passes_and_an_unanswered_one_may_not_have_run() -> None:
    audit = audit_executions(SENT, [(10, "fire"), (11, "stop"), (13, "fire")], replays=[(13, "fire")])
    assert audit.ok
    assert audit.executed_once == 3
    assert audit.unanswered_not_executed == 1
    assert audit.replays["fire"] == 1 and audit.executed["fire"] == 2


def test_a_fire_command_executed_twice_on_the_device_is_flagged() -> None:
    """A double execution injected into the device's log fails the audit (the record alone could not show it)."""
    audit = audit_executions(SENT, [(10, "fire"), (10, "fire"), (11, "stop"), (13, "fire")], names=frozenset({"fire"}))
    assert not audit.ok
    assert audit.duplicated == 1
    assert audit.summary()["ok"] is False


def test_a_double_execution_after_later_commands_is_still_flagged() -> None:
    audit = audit_executions(SENT, [(10, "fire"), (13, "fire"), (10, "fire")])
    assert audit.duplicated == 1 and not audit.ok


def test_an_acked_command_the_device_never_ran_and_an_execution_from_nowhere_are_flagged() -> None:
    audit = audit_executions(SENT, [(10, "fire"), (11, "stop"), (99, "fire")])
    assert audit.acked_not_executed == 1  # seq 13
    assert audit.unexpected == 1  # seq 99
    assert not audit.ok


def test_a_refused_command_that_ran_is_flagged_and_a_wrapped_seq_matches_its_own_command() -> None:
    sent = [Sent(5, "fire", "refused"), Sent(6, "fire", "acked"), Sent(5, "fire", "acked")]  # seq 5 again after a wrap
    assert audit_executions(sent, [(6, "fire"), (5, "fire")]).ok
    assert audit_executions(sent, [(5, "fire"), (6, "fire"), (5, "fire")]).refused_but_executed == 1
