"""Run a SessionRecorder in its own process (for real failures a test must not inflict on pytest itself).

``python record_child.py PATH SHOTS``: opens a session and records SHOTS shots, then closes; prints one JSON
line: the shots committed, the error (if any) and what the failure handler saw. The test sets the process's
limits (a file-size limit as a full disk, dropped privileges for a read-only file) before it starts.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from types import SimpleNamespace
from typing import Any

from firmware_protocol import make
from mesogun.errors import RecordError
from mesogun.record import SessionRecorder


async def main(path: str, shots: int) -> dict[str, Any]:
    recorder = SessionRecorder(path)
    failures: list[str] = []
    recorder.on_failure(lambda error: failures.append(str(error)))
    info: Any = SimpleNamespace(
        serial_number="SN-CHILD",
        model="MG-1",
        firmware_version="1.0.0",
        hardware_id="",
        counter_epoch=0,
        calibration_id=0,
    )
    status: Any = SimpleNamespace(shots_lifetime=0, active_alarms=())
    committed = 0
    error = None
    try:
        await recorder.on_connected(info, status, "sim://")
        for index in range(1, shots + 1):
            await recorder.on_message("host", make("get_status", seq=index))
            shot = make("shot", seq=index, shot_index=index, fire_seq=1, depth_um=2000, dose_nl=5000, device_time_ms=0)
            await recorder.on_message("device", shot)
            committed = index
    except RecordError as exc:
        error = str(exc)
    try:
        await recorder.on_disconnected("done")
    except RecordError as exc:
        error = error or str(exc)
    return {"committed": committed, "error": error, "failures": failures}


if __name__ == "__main__":
    if uid := os.environ.get("MESOGUN_TEST_DROP_TO_UID"):
        # The database layer loads with the first record; load it while the interpreter's files are readable.
        from mesogun.record import database, migrations

        assert database and migrations.head()
        os.setgid(int(uid))
        os.setuid(int(uid))
    print(json.dumps(asyncio.run(main(sys.argv[1], int(sys.argv[2])))))
