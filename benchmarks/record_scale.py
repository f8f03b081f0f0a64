"""The treatment record at a clinic's scale (issue 14 item 9), on SQLite and on PostgreSQL.

A record of :attr:`Settings.scale_shots` shots (1,000,000 in a full run) across :attr:`Settings.scale_visits`
visits (10,000; one connection, a record session, each) is built in the real schema, quickly: SQLAlchemy Core
``executemany`` of prepared rows (devices, visits, sessions, every shot and its shot event; psycopg pipelines
them on PostgreSQL), in commits of :data:`BATCH` shots; then the clinic's side (:data:`CLINIC_HOOKS`,
:mod:`benchmarks.record_clinic`: patients, courses, a lot, every session's clinical rows and its audit trail);
on PostgreSQL then ``ANALYZE`` (what autovacuum would do soon after). Its build time is reported. Then:

* **shot commit latency** (p50, p99) while firing at 10 shots/s through a real :class:`~mesogun.Gun` on
  ``sim://`` with that record attached as users attach it (``mesogun.connect(url, recorder=SessionRecorder(…))``):
  the time the Gun waits in :meth:`SessionRecorder.on_message` for each shot (queued to the record's writer
  thread, its four statements, the durable commit, back on the loop). The peer is the same on an empty record
  of the same backend, fired in alternating rounds with the big one (noise hits both alike).
* **a session summary** and **a patient's history**: the queries a clinic runs against the record, the clinic's
  (:meth:`TreatmentBook.summary` and :meth:`TreatmentBook.history`) against the current schema's nearest:
  :meth:`VisitBook.get` (a visit with its sessions and shot totals) for the summary, and one per-visit shot
  aggregate over a patient's visits (shots, volume, depth range, times; :func:`current_history`) for the history.
  A "patient" of the built record is every :data:`VISITS_PER_PATIENT` th visit apart (their course).
* **the audit log's verify**: ``mesogun record verify`` of the built record's chain, against recomputing its
  hashes alone.

PostgreSQL runs in a throw-away cluster (:mod:`benchmarks.postgres`, ``fsync`` on); without one the PostgreSQL
lines are skipped, saying why.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks import postgres, record_clinic
from benchmarks.errors import Unavailable
from benchmarks.record import Better, Result, skipped
from benchmarks.runner import Benchmark
from benchmarks.settings import Settings
from benchmarks.stats import median, percentile
from mesogun.record import SessionRecorder

if TYPE_CHECKING:
    from firmware_protocol import Message
    from mesogun.record import TreatmentRecord
    from mesogun.record.recorder import Direction

GUNS = 10
"""Guns (device serials) the built record's visits are spread over."""
VISITS_PER_PATIENT = 10
"""Visits of one patient's course in the built record."""
BATCH = 20_000
"""Rows per ``executemany`` and commit while building."""
START = datetime(2024, 1, 8, 8, 0, tzinfo=UTC)
"""The first built visit opens then; one every 15 minutes after."""
RATE_HZ = 10.0
DOSE_ML = 0.005
PRIME_ML = 0.01
"""Primed before firing (the simulated prime takes real time: 0.3 s for this)."""
ROUNDS_MAX = 3
"""Firing alternates between the big record and the empty one in this many rounds (fewer for tiny runs)."""
WARMUP_SHOTS = 2
"""Untimed shots on each gun first (the writer thread's connection, first pages)."""
VERIFY_RUNS = 3
"""Runs of ``mesogun record verify`` timed (the median is reported)."""
VERIFY_PEER = "the chain's hashes alone (in memory)"
SEED = 14
BACKENDS = ("sqlite", "postgresql")


# -- the hook for the clinic's queries --------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchVisit:
    """One visit of the built record as planned: its gun, bench patient, depth, times and shots."""

    id: int
    """The visit's id (and its one record session's)."""
    serial: str
    patient: int
    """The bench patient (0, 1, 2…): every :data:`VISITS_PER_PATIENT` th visit apart is one patient's course."""
    course_visits: int
    """Visits in the patient's course."""
    depth_um: int
    """The depth of every shot (one per course)."""
    opened: datetime
    closed: datetime
    shots: int

    def shot_time(self, n: int) -> datetime:
        """When the visit's ``n`` th shot (0-based) was fired."""
        return self.opened + timedelta(seconds=30 + n / RATE_HZ)


@dataclass(frozen=True)
class ClinicHooks:
    """The clinic schema's side of this benchmark (issue 14): its rows in the built record, and its queries. While
    a field is ``None`` the current schema's query stands in for it (``extra.hook_wired`` says which)."""

    build_clinic: Callable[[TreatmentRecord, Sequence[BenchVisit]], int] | None = None
    """After the base build: add the clinic's rows (patients, courses, the visits' clinical side, the audit log)
    to the record, given its visits (oldest first); the audit entries written."""
    shot_columns: Callable[[BenchVisit], Sequence[Mapping[str, Any]]] | None = None
    """The clinical columns (``zone``, ``lot_id``) of each of a visit's shots, written with them in the base
    build (as the recorder writes them: what is in force on the visit)."""
    session_summary: Callable[[TreatmentRecord, int], object] | None = None
    """The new session summary of one visit (a ``mesogun.clinic.summary.SessionSummary``)."""
    patient_history: Callable[[TreatmentRecord, int], object] | None = None
    """The new history of one bench patient (by its number, 0, 1, 2…)."""


CLINIC_HOOKS = ClinicHooks(
    build_clinic=record_clinic.build_clinic,
    shot_columns=record_clinic.shot_columns,
    session_summary=record_clinic.session_summary,
    patient_history=record_clinic.patient_history,
)
"""What this benchmark measures as "ours" for the clinic queries: :mod:`benchmarks.record_clinic`."""


def current_summary(record: TreatmentRecord, visit_id: int) -> object:
    """The current schema's session summary: the visit with its sessions and shot totals."""
    from mesogun.record.visits import VisitBook

    return VisitBook(record).get(visit_id)


def current_history(record: TreatmentRecord, visit_ids: Sequence[int]) -> list[tuple[Any, ...]]:
    """The current schema's patient history: one per-visit shot aggregate over the patient's visits. The shots are
    found by session (``session_id IN (the visits' sessions)``, as :meth:`VisitBook.get` finds them): before
    ``sessions.visit_id`` had an index (migration 0006), a plain join on it made SQLite scan every shot (0.44 s at
    a million)."""
    from sqlalchemy import func, select

    from mesogun.record import schema as t

    s, sh = t.sessions.c, t.shots.c
    in_visits = select(s.id).where(s.visit_id.in_(visit_ids))
    return record.rows(
        select(
            s.visit_id,
            func.count(),
            func.sum(func.coalesce(sh.delivered_nl, sh.dose_nl)),
            func.min(sh.depth_um),
            func.max(sh.depth_um),
            func.min(sh.ts),
            func.max(sh.ts),
        )
        .select_from(t.shots.join(t.sessions, s.id == sh.session_id))
        .where(sh.session_id.in_(in_visits), sh.received == 1, sh.other_host == 0)
        .group_by(s.visit_id)
        .order_by(s.visit_id)
    )


# -- building ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Built:
    """A record built for the benchmark."""

    shots: int
    visits: int
    events: int
    seconds: float
    patients: dict[int, tuple[int, ...]]
    """Each bench patient's visit ids, oldest first."""
    audit_entries: int = 0
    """Entries of the audit log (the clinic's changes), 0 without the clinic's rows."""
    clinic_seconds: float = 0.0
    """Of :attr:`seconds`, the time adding the clinic's rows took (``build_clinic``)."""


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def bench_patients(visits: int) -> dict[int, tuple[int, ...]]:
    """Each bench patient's visit ids, oldest first: every :data:`VISITS_PER_PATIENT` th visit apart is one."""
    step = max(visits // VISITS_PER_PATIENT, 1)
    return {p: tuple(range(p + 1, visits + 1, step)) for p in range(step)}


def _plan(shots: int, visits: int) -> Iterator[tuple[BenchVisit, dict[str, Any], dict[str, Any], list[dict[str, Any]]]]:
    """Each visit as planned, its row, its session's row and its shots' rows (serials, indices and times as a gun
    makes them; with the clinic's columns if :data:`CLINIC_HOOKS` has them). A course's visits share a depth."""
    per_visit, extra = divmod(shots, visits)
    lifetime = dict.fromkeys(range(GUNS), 0)
    rng = random.Random(SEED)
    patients = bench_patients(visits)
    depths = [rng.choice((1000, 1500, 2000, 2500, 4000)) for _ in patients]
    for visit in range(1, visits + 1):
        gun = visit % GUNS
        serial = f"BENCH-{gun:04d}"
        opened = START + timedelta(minutes=15 * visit)
        count = per_visit + (1 if visit <= extra else 0)
        closed = opened + timedelta(seconds=count / RATE_HZ + 60)
        patient = (visit - 1) % len(patients)
        planned = BenchVisit(visit, serial, patient, len(patients[patient]), depths[patient], opened, closed, count)
        visit_row = {
            "id": visit,
            "device_serial": serial,
            "opened": _iso(opened),
            "closed": _iso(closed),
            "opened_by": "practitioner",
            "closed_by": "practitioner",
            "note": "",
        }
        session_row = {
            "id": visit,
            "device_serial": serial,
            "model": "MG-1",
            "firmware_version": "1.0.0",
            "url": "sim://",
            "started": _iso(opened),
            "ended": _iso(closed),
            "kind": "treatment",
            "host_id": 0x1000 + gun,
            "visit_id": visit,
        }
        depth = planned.depth_um
        clinical = CLINIC_HOOKS.shot_columns(planned) if CLINIC_HOOKS.shot_columns is not None else None
        shot_rows = []
        for n in range(count):
            lifetime[gun] += 1
            shot_rows.append(
                {
                    "device_serial": serial,
                    "epoch": 0,
                    "shot_index": lifetime[gun],
                    "session_id": visit,
                    "received": 1,
                    "ts": _iso(planned.shot_time(n)),
                    "fire_seq": 7,
                    "depth_um": depth,
                    "dose_nl": 5000,
                    "device_time_ms": 1000 * visit + 100 * n,
                    "recovered": 0,
                    "source": "remote",
                    "partial": 0,
                    "delivered_nl": 5000,
                    "host_id": 0x1000 + gun,
                    "other_host": 0,
                    **(clinical[n] if clinical is not None else {}),
                }
            )
        yield planned, visit_row, session_row, shot_rows


def _event(event_id: int, shot: Mapping[str, Any]) -> dict[str, Any]:
    """The ``events`` row of a shot event, its body the message's JSON form."""
    body = {
        "type": "shot",
        "seq": event_id % 65536,
        "shot_index": shot["shot_index"],
        "fire_seq": shot["fire_seq"],
        "depth_um": shot["depth_um"],
        "dose_nl": shot["dose_nl"],
        "device_time_ms": shot["device_time_ms"],
        "source": shot["source"],
        "host_id": shot["host_id"],
        "partial": False,
        "delivered_nl": shot["delivered_nl"],
    }
    return {
        "id": event_id,
        "session_id": shot["session_id"],
        "ts": shot["ts"],
        "direction": "device",
        "type": "shot",
        "seq": body["seq"],
        "body": json.dumps(body),
    }


def build(where: Path | str, shots: int, visits: int) -> Built:
    """Build the record at ``where`` (created), in the real schema; then the clinic's rows, if hooked in."""
    from sqlalchemy import insert, text

    from mesogun.record import TreatmentRecord
    from mesogun.record import schema as t

    start = time.perf_counter()
    pending: dict[Any, list[dict[str, Any]]] = {t.visits: [], t.sessions: [], t.shots: [], t.events: []}
    reconciled: dict[str, int] = {}
    events = 0
    with TreatmentRecord(where) as record:

        def flush() -> None:
            with record.transaction(durable=False) as db:
                for table, rows in pending.items():
                    if rows:
                        db.execute(insert(table), rows)
                    rows.clear()

        planned: list[BenchVisit] = []
        for visit, visit_row, session_row, shot_rows in _plan(shots, visits):
            planned.append(visit)
            pending[t.visits].append(visit_row)
            pending[t.sessions].append(session_row)
            pending[t.shots].extend(shot_rows)
            for shot in shot_rows:
                events += 1
                pending[t.events].append(_event(events, shot))
                reconciled[shot["device_serial"]] = shot["shot_index"]
            if len(pending[t.shots]) >= BATCH:
                flush()
        flush()
        with record.transaction() as db:  # durable: everything above is on disk
            db.execute(
                insert(t.devices),
                [
                    {"serial": serial, "first_seen": _iso(START), "baseline_lifetime": 0, "reconciled_to": last}
                    for serial, last in sorted(reconciled.items())
                ],
            )
            if record.dialect == "postgresql":  # explicit ids: move the sequences past them
                for table in ("visits", "sessions", "events"):
                    sequence = f"pg_get_serial_sequence('{table}', 'id')"
                    db.execute(text(f"SELECT setval({sequence}, (SELECT max(id) FROM {table}))"))
        clinic_begun = time.perf_counter()
        entries = CLINIC_HOOKS.build_clinic(record, planned) if CLINIC_HOOKS.build_clinic is not None else 0
        clinic_seconds = time.perf_counter() - clinic_begun
        if record.dialect == "postgresql":
            _analyze(record)
    return Built(shots, visits, events, time.perf_counter() - start, bench_patients(visits), entries, clinic_seconds)


def _analyze(record: TreatmentRecord) -> None:
    """PostgreSQL's statistics of the fresh tables (autovacuum would gather them shortly; not waited for)."""
    with record.transaction(durable=False) as db:
        db.exec_driver_sql("ANALYZE")


# -- shot commit latency -------------------------------------------------------------------------------------------


class TimedRecorder(SessionRecorder):
    """The :class:`SessionRecorder` users attach, noting how long the Gun waits for each shot's commit."""

    def __init__(self, record: Path | str) -> None:
        super().__init__(record)
        self.commits: list[float] = []
        """Seconds each shot's ``on_message`` took (queued, written, committed durably, back on the loop)."""

    async def on_message(self, direction: Direction, message: Message) -> None:
        """Record the message; time it if it is a shot."""
        if direction != "device" or message.name != "shot":
            await super().on_message(direction, message)
            return
        begun = time.perf_counter()
        await super().on_message(direction, message)
        self.commits.append(time.perf_counter() - begun)


async def _ready(gun: Any) -> None:
    await gun.load_syringe(capacity_ml=10)
    await gun.prime(volume_ml=PRIME_ML)
    await gun.configure(depth_mm=2.0, dose_ml=DOSE_ML, rate_hz=RATE_HZ, mode="burst")
    await gun.arm()


async def _fire_alternating(big: Path | str, empty: Path | str, shots: int) -> tuple[list[float], list[float]]:
    """Fire ``shots`` at 10/s on a gun recording to ``big`` and as many on one recording to ``empty``, in
    alternating rounds; the commit times of each (warm-up shots left out)."""
    import mesogun

    recorders = (TimedRecorder(big), TimedRecorder(empty))
    rounds = max(1, min(ROUNDS_MAX, shots // 20))
    async with contextlib.AsyncExitStack() as stack:
        guns = [await stack.enter_async_context(mesogun.connect("sim://", recorder=r)) for r in recorders]
        await asyncio.gather(*(_ready(gun) for gun in guns))
        for gun, recorder in zip(guns, recorders, strict=True):
            await gun.fire(count=WARMUP_SHOTS)
            recorder.commits.clear()
        for n in range(rounds):
            count = shots // rounds + (1 if n < shots % rounds else 0)
            for gun in guns if n % 2 == 0 else guns[::-1]:
                fired = await gun.fire(count=count)
                if len(fired) != count:
                    raise RuntimeError(f"fired {len(fired)} of {count} shots")
    return recorders[0].commits, recorders[1].commits


# -- the clinic's queries -----------------------------------------------------------------------------------------


def _query_times(where: Path | str, built: Built, samples: int) -> dict[str, list[float]]:
    """Seconds per call of each summary and history query, interleaved (ours, then the current schema's)."""
    from mesogun.record import TreatmentRecord

    rng = random.Random(SEED)
    visit_ids = [rng.randint(1, built.visits) for _ in range(samples + 2)]
    patients = [rng.choice(list(built.patients)) for _ in range(samples + 2)]
    hooks = CLINIC_HOOKS
    calls: dict[str, Callable[[TreatmentRecord, int], object]] = {
        "summary_ours": hooks.session_summary or current_summary,
        "summary_current": current_summary,
        "history_ours": hooks.patient_history or (lambda r, p: current_history(r, built.patients[p])),
        "history_current": lambda r, p: current_history(r, built.patients[p]),
    }
    times: dict[str, list[float]] = {name: [] for name in calls}
    with TreatmentRecord(where, create=False) as record:
        for i, (visit, patient) in enumerate(zip(visit_ids, patients, strict=True)):
            for name, call in calls.items():
                begun = time.perf_counter()
                call(record, visit if name.startswith("summary") else patient)
                if i >= 2:  # two untimed rounds: caches, prepared statements
                    times[name].append(time.perf_counter() - begun)
    return times


# -- the audit log's verify ---------------------------------------------------------------------------------------


def _verify_times(where: Path | str, built: Built) -> dict[str, float]:
    """Seconds of ``mesogun record verify`` on the built record (a process, as a clinic runs it: the median of
    :data:`VERIFY_RUNS`), of its parts in this process (the record's open, :func:`verify_chain` alone), and of the
    floor: every entry's hash and link recomputed over the entries already in memory."""
    from sqlalchemy import select

    from mesogun.record import TreatmentRecord
    from mesogun.record import schema as t
    from mesogun.record.audit import GENESIS, entry_hash
    from mesogun.record.audit_verify import verify_chain

    command = [sys.executable, "-m", "mesogun.cli", "--db", str(where), "record", "verify", "--json"]
    runs = []
    for _ in range(VERIFY_RUNS):
        begun = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        runs.append(time.perf_counter() - begun)
        report = json.loads(done.stdout) if done.returncode == 0 else {}
        if not report.get("intact") or report.get("entries") != built.audit_entries:
            raise RuntimeError(f"record verify: exit {done.returncode}, {done.stdout or done.stderr}")
    begun = time.perf_counter()
    with TreatmentRecord(where, create=False) as record:
        opened = time.perf_counter() - begun
        begun = time.perf_counter()
        verify_chain(record)
        in_process = time.perf_counter() - begun
        a = t.audit_log.c
        columns = (a.seq, a.ts, a.actor, a.action, a.entity, a.entity_id, a.reason, a.old_value, a.new_value)
        entries = record.rows(select(*columns, a.prev_hash, a.hash).order_by(a.seq))
    names = ("seq", "ts", "actor", "action", "entity", "entity_id", "reason", "old_value", "new_value", "prev_hash")
    begun = time.perf_counter()
    previous = GENESIS
    for entry in entries:
        if entry[9] != previous or entry_hash(**dict(zip(names, entry[:10], strict=True))) != entry[10]:
            raise RuntimeError(f"audit entry {entry[0]} does not verify")
        previous = entry[10]
    floor = time.perf_counter() - begun
    return {"command": median(runs), "open": opened, "verify_chain": in_process, "floor": floor}


# -- the benchmark ------------------------------------------------------------------------------------------------


def _lines(backend: str) -> tuple[tuple[str, str, str, Better, float | None], ...]:
    return (
        (f"record_scale_shot_commit_p50_{backend}", f"empty {backend} record", "ms", Better.LOWER, None),
        (f"record_scale_shot_commit_p99_{backend}", f"empty {backend} record", "ms", Better.LOWER, None),
        (f"record_scale_session_summary_{backend}", "current schema: VisitBook.get", "ms", Better.LOWER, None),
        (
            f"record_scale_patient_history_{backend}",
            "current schema: per-visit shot aggregate",
            "ms",
            Better.LOWER,
            None,
        ),
        (f"record_scale_audit_verify_{backend}", VERIFY_PEER, "ms", Better.LOWER, None),
    )


@contextlib.contextmanager
def _locations(backend: str) -> Iterator[tuple[Path | str, Path | str]]:
    """A place for the big record and one for the empty one, on ``backend``; removed afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="mesogun-bench-scale-") as tmp:
            yield Path(tmp) / "big.sqlite", Path(tmp) / "empty.sqlite"
        return
    with postgres.cluster() as template:
        yield postgres.new_database(template), postgres.new_database(template)


def _create(where: Path | str) -> None:
    from mesogun.record import TreatmentRecord

    TreatmentRecord(where).close()


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def _run_backend(backend: str, settings: Settings) -> list[Result]:
    with _locations(backend) as (big, empty):
        built = build(big, settings.scale_shots, settings.scale_visits)
        _create(empty)  # the peer: a new record, as a clinic starts
        ours, peer = asyncio.run(_fire_alternating(big, empty, settings.scale_fire_shots))
        queries = _query_times(big, built, settings.scale_queries)
        verify = _verify_times(big, built)
    size = f"{built.shots:,} shots in {built.visits:,} visits"
    wired = {
        "summary": CLINIC_HOOKS.session_summary is not None,
        "history": CLINIC_HOOKS.patient_history is not None,
        "build_clinic": CLINIC_HOOKS.build_clinic is not None,
    }
    common = {
        "shots": built.shots,
        "visits": built.visits,
        "build_s": round(built.seconds, 1),
        "clinic_s": round(built.clinic_seconds, 1),
        "audit_entries": built.audit_entries,
    }
    firing = {**common, "events": built.events, "samples": len(ours), "peer_samples": len(peer)}
    names = [line[0] for line in _lines(backend)]
    results = [
        Result(
            name,
            _ms(percentile(ours, pct)),
            f"empty {backend} record",
            _ms(percentile(peer, pct)),
            "ms",
            Better.LOWER,
            None,
            note=f"{size} (built in {built.seconds:.0f} s); shot committed, firing 10/s on sim://, p{pct:g}",
            extra=firing,
        )
        for name, pct in ((names[0], 50), (names[1], 99))
    ]
    for name, kind, peer_name in (
        (names[2], "summary", "current schema: VisitBook.get"),
        (names[3], "history", "current schema: per-visit shot aggregate"),
    ):
        stand_in = "" if wired[kind] else " (clinic hook not wired: ours is the current query)"
        results.append(
            Result(
                name,
                _ms(median(queries[f"{kind}_ours"])),
                peer_name,
                _ms(median(queries[f"{kind}_current"])),
                "ms",
                Better.LOWER,
                None,
                note=f"median of {len(queries[f'{kind}_ours'])} on {size}{stand_in}",
                extra={
                    **common,
                    "hook_wired": wired[kind],
                    "ours_p99_ms": _ms(percentile(queries[f"{kind}_ours"], 99)),
                    "peer_p99_ms": _ms(percentile(queries[f"{kind}_current"], 99)),
                },
            )
        )
    results.append(
        Result(
            names[4],
            _ms(verify["command"]),
            VERIFY_PEER,
            _ms(verify["floor"]),
            "ms",
            Better.LOWER,
            None,
            note=f"mesogun record verify of {built.audit_entries:,} audit entries on {size}, median of {VERIFY_RUNS}",
            extra={
                **common,
                "open_ms": _ms(verify["open"]),
                "verify_chain_ms": _ms(verify["verify_chain"]),
            },
        )
    )
    return results


def run(settings: Settings) -> list[Result]:
    """Both backends, one after the other; a backend that cannot run here gives skipped lines saying why."""
    results: list[Result] = []
    for backend in BACKENDS:
        try:
            results += _run_backend(backend, settings)
        except Unavailable as exc:
            results += [skipped(*line, reason=str(exc)) for line in _lines(backend)]
    return results


BENCHMARK = Benchmark("record_scale", run, tuple(line for backend in BACKENDS for line in _lines(backend)))
