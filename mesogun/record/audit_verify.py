"""Verifying the audit log (``mesogun record verify``): every entry's hash recomputed from its fields, every link
to the entry before checked, and the first entry that was altered, inserted or deleted named.

The log is read in pages of :data:`PAGE` entries by sequence number, each page its own short read (a record of
millions of entries is never loaded whole, and writers are not held up). A break costs a few more lookups, to
tell an insertion from an alteration. What a chain cannot show by itself - the log rewritten from some entry on
with every hash recomputed, or its newest entries removed - shows only against a head noted earlier
(``expect_head``, ``--expect-head SEQ:HASH``): docs/audit.md.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, select

from mesogun.errors import ParameterError
from mesogun.record import schema as t
from mesogun.record.audit import FIELDS, GENESIS, AuditEntry, entry_hash
from mesogun.record.paging import Rows, keyset

if TYPE_CHECKING:
    from mesogun.record.store import TreatmentRecord

PAGE = 10_000
"""Entries read per query."""
RENUMBER_SEARCH = 1000
"""How far from its place an entry's hash is looked for among other sequence numbers (an entry renumbered after
others before it were deleted or inserted): a thousand hashes, once, on a break."""
MIN_HEAD_DIGITS = 16
"""The fewest hex digits of a noted head's hash ``--expect-head`` accepts (64 bits: no forger finds another log
that matches them)."""
APPEND_ONLY_TRIGGERS = {
    "sqlite": frozenset({"audit_log_no_update", "audit_log_no_delete", "audit_log_no_replace"}),
    "postgresql": frozenset({"audit_log_no_change", "audit_log_no_truncate"}),
}
"""The triggers that refuse to change or remove an entry (migration 0005; the accounts store's on SQLite), by
dialect."""

_HEAD = re.compile(r"^\s*(\d+):([0-9a-fA-F]+)\s*$")


class BreakKind(enum.Enum):
    """What is wrong at the first entry that does not verify."""

    ALTERED = "altered"
    """Its fields no longer give its hash, or its hash is not the one the next entry was chained to."""
    INSERTED = "inserted"
    """Entries that were not in the log when a later entry was chained to an earlier one."""
    DELETED = "deleted"
    """A gap in the sequence numbers, or an entry renumbered down into a gap."""
    TRUNCATED = "truncated"
    """The log ends before the head noted earlier (its newest entries were removed)."""
    REWRITTEN = "rewritten"
    """The noted head's entry has another hash now: the log was rewritten there or before, hashes recomputed."""


@dataclass(frozen=True)
class Head:
    """The newest entry of the log as a clinic notes it (``SEQ:HASH``): later, the log must still hold it."""

    seq: int
    hash: str
    """Its hash, hex (all 64 digits, or at least :data:`MIN_HEAD_DIGITS` of them when noted by hand)."""

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"

    @classmethod
    def parse(cls, text: str) -> Head:
        """``SEQ:HASH`` as ``mesogun record verify`` prints it; a :class:`ParameterError` naming it otherwise."""
        match = _HEAD.match(text)
        if match is None or len(match[2]) < MIN_HEAD_DIGITS or len(match[2]) > len(GENESIS):
            raise ParameterError(
                f"--expect-head {text!r}: expected SEQ:HASH as 'mesogun record verify' prints it, e.g. 1234:9f86d08…"
                f" (the hash's first {MIN_HEAD_DIGITS} to {len(GENESIS)} hex digits)",
                field="expect_head",
                value=text,
            )
        return cls(int(match[1]), match[2].lower())

    def matches(self, entry_hash_hex: str) -> bool:
        """Whether an entry's full hash is this noted one (a noted prefix matches its start)."""
        return entry_hash_hex.lower().startswith(self.hash)


EMPTY_HEAD = Head(0, GENESIS)
"""The head of an empty log."""


@dataclass(frozen=True)
class AuditLog:
    """A hash-chained audit log to verify: its table (the record's ``audit_log``, or another database's table of
    the same columns: the service's accounts store), how a read runs on its database, and its dialect (for the
    append-only triggers)."""

    table: Table
    rows: Rows
    dialect: str
    trigger_names: Callable[[], set[str]]
    """The names of the triggers on the table now."""

    @classmethod
    def of_record(cls, record: TreatmentRecord) -> AuditLog:
        """The treatment record's audit log."""
        return cls(t.audit_log, record.rows, record.dialect, lambda: _record_triggers(record))


@dataclass(frozen=True)
class ChainBreak:
    """The first place the log does not verify."""

    kind: BreakKind
    seq: int
    """The first entry affected: the one altered, the first one inserted, the first one missing."""
    detail: str
    """What is wrong, in a sentence, naming the entries involved."""
    entry: AuditEntry | None
    """The entry ``seq`` as stored now; for a deletion, the first present entry after the missing ones; ``None``
    when the newest entries are gone."""

    def describe(self) -> str:
        """One line: where, when and what."""
        about = ""
        if self.entry is not None:
            which = "" if self.entry.seq == self.seq else f"the next present is entry {self.entry.seq}, "
            about = f" ({which}{self.entry.action} at {self.entry.ts})"
        return f"the audit log is broken at entry {self.seq}{about}: {self.kind.value}: {self.detail}"


@dataclass(frozen=True)
class ChainReport:
    """What :func:`verify_chain` found."""

    entries: int
    """Entries that verified (up to the break, if any)."""
    head: Head
    """The newest entry that verified (``0:000…`` for an empty log): note it to check against later."""
    broken: ChainBreak | None
    """The first break, or ``None``: the chain is intact (and holds the expected head, if one was given)."""
    expected_head: Head | None
    """The head it was checked against (``--expect-head``), if any."""
    guarded: bool
    """Whether the database's append-only triggers are in place (a missing one was dropped by someone)."""

    @property
    def intact(self) -> bool:
        """No break found."""
        return self.broken is None


def verify_chain(record: TreatmentRecord, *, expect_head: Head | None = None, page: int = PAGE) -> ChainReport:
    """Recompute every entry's hash and link of the record's audit log, oldest first, and stop at the first break;
    then, if the chain is intact, check that it still holds ``expect_head`` (a head noted earlier)."""
    return verify_log(AuditLog.of_record(record), expect_head=expect_head, page=page)


def verify_log(log: AuditLog, *, expect_head: Head | None = None, page: int = PAGE) -> ChainReport:
    """:func:`verify_chain` of any :class:`AuditLog` (the record's, the service's accounts store's)."""
    checked, previous, noted = 0, None, None
    for row in keyset(log.rows, select(*_columns(log)), [log.table.c.seq], page):
        entry = AuditEntry(*row)
        broken = _check(log, entry, previous)
        if broken is not None:
            return ChainReport(checked, _head(previous), broken, expect_head, guarded_log(log))
        checked += 1
        if expect_head is not None and entry.seq == expect_head.seq:
            noted = entry
        previous = entry
    head = _head(previous)
    broken = _against(expect_head, noted, head) if expect_head is not None else None
    return ChainReport(checked, head, broken, expect_head, guarded_log(log))


def guarded(record: TreatmentRecord) -> bool:
    """Whether the append-only triggers of the record's dialect are all there and enabled."""
    return guarded_log(AuditLog.of_record(record))


def guarded_log(log: AuditLog) -> bool:
    """Whether the append-only triggers of the log's dialect are all there (and enabled) on its table."""
    names = APPEND_ONLY_TRIGGERS.get(log.dialect)
    return names is not None and names <= log.trigger_names()


def _record_triggers(record: TreatmentRecord) -> set[str]:
    if record.dialect == "sqlite":
        query = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'"
    else:
        query = (
            "SELECT tgname FROM pg_trigger WHERE tgrelid = to_regclass('audit_log')"
            " AND NOT tgisinternal AND tgenabled <> 'D'"
        )
    return {str(row[0]) for row in record.rows(query)}


def _columns(log: AuditLog) -> list[Any]:
    return [log.table.c[name] for name in FIELDS]


def _entry_at(log: AuditLog, seq: int) -> AuditEntry | None:
    rows = log.rows(select(*_columns(log)).where(log.table.c.seq == seq))
    return AuditEntry(*rows[0]) if rows else None


def _head(entry: AuditEntry | None) -> Head:
    return EMPTY_HEAD if entry is None else Head(entry.seq, entry.hash)


def _recomputed(entry: AuditEntry, seq: int | None = None) -> str:
    """The hash of ``entry``'s fields as stored (numbered ``seq`` instead of its own, if given)."""
    return entry_hash(
        seq=entry.seq if seq is None else seq,
        ts=entry.ts,
        actor=entry.actor,
        action=entry.action,
        entity=entry.entity,
        entity_id=entry.entity_id,
        reason=entry.reason,
        old_value=entry.old_value,
        new_value=entry.new_value,
        prev_hash=entry.prev_hash,
    )


def _check(log: AuditLog, entry: AuditEntry, previous: AuditEntry | None) -> ChainBreak | None:
    """``None`` if ``entry`` follows ``previous`` (the entry before it, ``None`` for the first) as written."""
    expected_seq, expected_prev = (1, GENESIS) if previous is None else (previous.seq + 1, previous.hash)
    if entry.seq == expected_seq and entry.prev_hash == expected_prev and _recomputed(entry) == entry.hash:
        return None
    return _diagnose(log, entry, previous)


def _diagnose(log: AuditLog, entry: AuditEntry, previous: AuditEntry | None) -> ChainBreak:
    """Which of altered, inserted or deleted explains the first break, at ``entry`` after ``previous``."""
    a = log.table.c
    expected_seq = 1 if previous is None else previous.seq + 1
    if previous is not None and entry.prev_hash != previous.hash:
        earlier = log.rows(
            select(a.seq).where(a.hash == entry.prev_hash, a.seq < previous.seq).order_by(a.seq.desc()).limit(1)
        )
        if earlier:  # entry was written right after an earlier entry: what lies between was put there later
            first = int(earlier[0][0]) + 1
            return ChainBreak(
                BreakKind.INSERTED,
                first,
                f"{_entries(first, previous.seq)} {_are(first, previous.seq, past=True)} not in the log when entry"
                f" {entry.seq} was written"
                f" (it is chained to entry {first - 1})",
                _entry_at(log, first),
            )
        later = log.rows(select(a.seq).where(a.prev_hash == previous.hash, a.seq > entry.seq).order_by(a.seq).limit(1))
        if later:  # a later entry was written right after previous: entry and those up to it came later
            last = int(later[0][0]) - 1
            return ChainBreak(
                BreakKind.INSERTED,
                entry.seq,
                f"{_entries(entry.seq, last)} {_are(entry.seq, last)} not chained to entry {previous.seq} but entry"
                f" {last + 1} is: {'it was' if last == entry.seq else 'they were'} put there later",
                entry,
            )
    if entry.seq > expected_seq:
        last = entry.seq - 1
        after = "the start of the log" if previous is None else f"entry {previous.seq}"
        return ChainBreak(
            BreakKind.DELETED,
            expected_seq,
            f"{_entries(expected_seq, last)} {_are(expected_seq, last)} missing: entry {entry.seq} follows {after}",
            entry,
        )
    written_as = _written_as(entry)
    if written_as is not None and written_as > entry.seq:
        return ChainBreak(
            BreakKind.DELETED,
            entry.seq,
            f"it was written as entry {written_as}: {_count(written_as - entry.seq)} before it"
            f" {_are(entry.seq, written_as - 1, past=True)} deleted and the entries after renumbered",
            entry,
        )
    if written_as is not None and written_as < entry.seq:
        return ChainBreak(
            BreakKind.INSERTED,
            written_as,
            f"entry {entry.seq} was written as entry {written_as}: {_entries(written_as, entry.seq - 1)}"
            f" {_are(written_as, entry.seq - 1, past=True)} put before it and the entries from it on renumbered",
            _entry_at(log, written_as),
        )
    if _recomputed(entry) != entry.hash:
        return ChainBreak(BreakKind.ALTERED, entry.seq, "its fields no longer give its hash", entry)
    if previous is None:
        return ChainBreak(
            BreakKind.ALTERED,
            entry.seq,
            "the first entry is not chained to the start of the log: it was replaced, its hash recomputed",
            entry,
        )
    return ChainBreak(
        BreakKind.ALTERED,
        previous.seq,
        f"entry {entry.seq} was chained to another hash than entry {previous.seq} has now: entry {previous.seq}"
        f" was changed and its hash recomputed, or entry {entry.seq} was put in place of the original",
        previous,
    )


def _written_as(entry: AuditEntry) -> int | None:
    """The sequence number ``entry``'s hash was computed with, if another one near its own (a renumbered entry)."""
    for distance in range(1, RENUMBER_SEARCH + 1):
        for seq in (entry.seq + distance, entry.seq - distance):
            if seq > 0 and _recomputed(entry, seq) == entry.hash:
                return seq
    return None


def _against(expected: Head, noted: AuditEntry | None, head: Head) -> ChainBreak | None:
    """Whether an intact chain (ending at ``head``) still holds the ``expected`` head noted earlier."""
    if noted is None and expected.seq == 0:
        return None if expected.matches(GENESIS) else _rewritten(expected, head, None)
    if noted is None:
        ends = "the log is empty" if head.seq == 0 else f"the log ends at entry {head.seq}"
        return ChainBreak(
            BreakKind.TRUNCATED,
            head.seq + 1,
            f"{ends}, but entry {expected.seq} was noted as its head: {_entries(head.seq + 1, expected.seq)}"
            f" (at least) {_are(head.seq + 1, expected.seq, past=True)} removed",
            None,
        )
    if not expected.matches(noted.hash):
        return _rewritten(expected, head, noted)
    return None


def _rewritten(expected: Head, head: Head, noted: AuditEntry | None) -> ChainBreak:
    now = noted.hash if noted is not None else GENESIS
    return ChainBreak(
        BreakKind.REWRITTEN,
        expected.seq,
        f"entry {expected.seq} has hash {now[:16]}…, not the {expected.hash[:16]}… noted: the log was rewritten"
        f" from entry {expected.seq} or earlier, its hashes recomputed (it ends at entry {head.seq})",
        noted,
    )


def _entries(first: int, last: int) -> str:
    return f"entry {first}" if first == last else f"entries {first}-{last}"


def _count(entries: int) -> str:
    return "the entry" if entries == 1 else f"{entries} entries"


def _are(first: int, last: int, *, past: bool = False) -> str:
    if past:
        return "was" if first == last else "were"
    return "is" if first == last else "are"
