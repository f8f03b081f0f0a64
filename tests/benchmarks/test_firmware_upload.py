"""The firmware upload benchmark's parts on a small image, in virtual time: the upload and the resume run and
report what the rows say (an upload's seconds; the resume after the pull, the time before it, the offset); the
whole benchmark's rows are checked by test_smoke.py. The wire share is the protocol's, not the machine's (virtual
time counts the line only), so a chunking or pipelining regression shows here; no wall-clock time is asserted."""

from __future__ import annotations

from pathlib import Path

from benchmarks import firmware_upload


def test_the_virtual_upload_uses_most_of_the_line_and_a_resume_sends_nothing_twice(tmp_path: Path) -> None:
    run = firmware_upload._prepare(tmp_path, 16)
    assert 15 * 1024 < len(run.image) <= 16 * 1024
    seconds = firmware_upload._virtual(lambda: firmware_upload._ours_virtual(run, 921600))
    assert len(run.image) / seconds / (921600 / 10) > 0.85
    resumed, before, offset = firmware_upload._virtual(lambda: firmware_upload._resume(run, 115200))
    assert offset >= len(run.image) // 2 and 0 < resumed < before
