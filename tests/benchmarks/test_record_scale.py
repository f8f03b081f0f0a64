"""The scale benchmark's record: built in the real schema, it reads as the program would have written it (visits
with their sessions and shots, shot indices per gun, a patient's course); no timing is asserted."""

from __future__ import annotations

from pathlib import Path

from benchmarks import record_scale
from mesogun.record import TreatmentRecord
from mesogun.record.visits import VisitBook


def test_the_built_record_reads_as_visits_with_their_shots(tmp_path: Path) -> None:
    where = tmp_path / "big.sqlite"
    built = record_scale.build(where, shots=1005, visits=20)
    assert (built.shots, built.visits, built.events) == (1005, 20, 1005)
    with TreatmentRecord(where, create=False) as record:
        visits = VisitBook(record).all()
        assert [v.id for v in visits] == list(range(1, 21))
        assert sum(v.shots for v in visits) == 1005 and {v.shots for v in visits} == {50, 51}
        assert all(v.sessions == (v.id,) and v.shots_unreceived == 0 and v.closed for v in visits)
        summaries = record.sessions()
        assert len(summaries) == 20 and sum(s.shots_recorded for s in summaries) == 1005
        course = built.patients[0]
        assert len(course) == record_scale.VISITS_PER_PATIENT
        history = record_scale.current_history(record, course)
        assert [row[0] for row in history] == list(course) and all(row[1] in (50, 51) for row in history)
        serials = {v.device_serial for v in visits}
        assert len(serials) == record_scale.GUNS
        indices = record.rows("SELECT device_serial, MIN(shot_index), MAX(shot_index), COUNT(*) FROM shots GROUP BY 1")
        assert all(low == 1 and high == count for _, low, high, count in indices)  # one gun's lifetime, no gaps
        reconciled = dict(record.rows("SELECT serial, reconciled_to FROM devices"))
        assert reconciled == {serial: high for serial, _, high, _ in indices}
