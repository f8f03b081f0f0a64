"""The simulated firmware's payload: a JSON manifest padded to any size, read back by the simulator."""

from __future__ import annotations

import json

import pytest

from firmware_protocol.firmware_payload import PayloadManifest, build_payload, read_manifest


@pytest.mark.parametrize("size", [None, 100, 4096, 100_003])
def test_a_payload_is_exactly_its_size_and_reads_back(size: int | None) -> None:
    payload = build_payload("1.2.3", "fail", size)
    assert size is None or len(payload) == size
    assert read_manifest(payload) == PayloadManifest("1.2.3", "fail")
    assert json.loads(payload)["self_test"] == "fail"


def test_the_padding_never_repeats_a_chunk() -> None:
    payload = build_payload("1.0.0", size=64 * 1024)
    chunks = [payload[i : i + 256] for i in range(0, len(payload) - 256, 256)]
    assert len(set(chunks)) == len(chunks)


def test_a_size_too_small_or_a_self_test_result_unknown_is_refused() -> None:
    shortest = len(build_payload("1.0.0"))
    with pytest.raises(ValueError, match=f"size=10 bytes is too small: the manifest alone is {shortest} bytes"):
        build_payload("1.0.0", size=10)
    with pytest.raises(ValueError, match="self_test='maybe' must be 'pass' or 'fail'"):
        build_payload("1.0.0", "maybe")


@pytest.mark.parametrize(
    "payload",
    [
        b"\x00\x01binary firmware",
        b"{not json",
        b'{"firmware_version": 1, "self_test": "pass"}',
        b"[1, 2]",
        b'{"firmware_version": "1.0.0", "self_test": "perhaps"}',
        b"{\xff}",
    ],
)
def test_anything_else_is_no_manifest(payload: bytes) -> None:
    assert read_manifest(payload) is None
