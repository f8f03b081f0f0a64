"""``python -m firmware_protocol``: each subcommand's output, its exit codes, and one-line errors with no
traceback (in-process through ``main()``, and a few through a real subprocess)."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from firmware_protocol import CATALOG, Frame, encode_frame, from_json, make, to_wire
from firmware_protocol.tools.cli import main

ROOT = Path(__file__).resolve().parents[2]
FIRE_HEX = "0004011508010204020a010105ea247a2400"


def run(argv: list[str], stdin: str = "", monkeypatch: pytest.MonkeyPatch | None = None) -> tuple[int, str, str]:
    """Run the tool in-process; return exit code, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    if monkeypatch is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(argv, out, err)
    return code, out.getvalue(), err.getvalue()


def assert_one_line_error(err: str, *needles: str) -> None:
    assert err.count("\n") == 1 and err.startswith("error:"), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, f"{needle!r} not in {err!r}"


# ---------------------------------------------------------------------------------------------------
# catalog


def test_catalog_lists_every_message_with_type_id_direction_and_fields_with_units() -> None:
    code, out, _ = run(["catalog"])
    assert code == 0
    for message in CATALOG:
        header = f"0x{message.type_id:02X}  {message.name} "
        assert header in out
        block = out.split(header, 1)[1].split("\n0x", 1)[0].splitlines()  # this message's lines only
        for f in (field for top in message.fields for field in (top, *top.record)):
            line = next(line for line in block if line.strip().startswith(f.name + " "))
            assert f.wire_type in line and (f.unit or "-") in line
    assert "host→device" in out and "device→host" in out


def test_catalog_json_is_one_object_with_every_message() -> None:
    code, out, _ = run(["catalog", "--json"])
    assert code == 0 and out.count("\n") == 1
    catalog = json.loads(out)
    assert [m["name"] for m in catalog["messages"]] == [m.name for m in CATALOG]
    fire = next(m for m in catalog["messages"] if m["name"] == "fire")
    assert fire["type_id"] == "0x15" and fire["direction"] == "host_to_device" and fire["reply"] == "ack"
    assert fire["fields"][0] | {"name": "count", "wire_type": "u32", "unit": "shots"} == fire["fields"][0]
    assert catalog["fingerprint"] == f"0x{CATALOG.fingerprint:08X}"


# ---------------------------------------------------------------------------------------------------
# encode


@pytest.mark.parametrize(
    "obj",
    [
        {"type": "set_parameters", "seq": 7, "depth_um": 2500, "dose_nl": 50000, "rate_mhz": 3000, "mode": "burst"},
        {"type": "fire", "seq": 8, "count": 10},
    ],
    ids=lambda o: o["type"],
)
def test_encode_prints_the_frame_as_hex_and_decode_gives_the_json_back(obj: dict[str, Any]) -> None:
    code, out, _ = run(["encode", json.dumps(obj)])
    assert code == 0
    assert out.strip() == to_wire(from_json(obj)).hex()
    code, decoded, _ = run(["decode", out.strip()])
    assert code == 0 and json.loads(decoded) == obj


def test_encode_reads_json_from_stdin_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = run(["encode", "-"], '{"type": "fire", "seq": 8, "count": 10}', monkeypatch)
    assert (code, out.strip()) == (0, FIRE_HEX)


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ('{"type": "fire", "seq": 8, "count": 10', ["bad JSON", "line 1"]),
        ('{"type": "fyre", "seq": 8}', ["'fyre'", "known types"]),
        ('{"type": "fire", "seq": 8, "count": -3}', ["fire.count=-3", "u32", "4294967295", "shots"]),
        (
            '{"type": "set_parameters", "depth_um": 90000, "dose_nl": 1, "rate_mhz": 1, "mode": "single"}',
            ["depth_um=90000", "65535", "µm"],
        ),
        ('{"type": "fire", "seq": 8}', ["fire.count", "required"]),
    ],
)
def test_encode_bad_input_exits_2_with_one_line_naming_field_value_and_limit(text: str, needles: list[str]) -> None:
    code, out, err = run(["encode", text])
    assert code == 2 and out == ""
    assert_one_line_error(err, *needles)


# ---------------------------------------------------------------------------------------------------
# decode


def test_decode_accepts_spaced_hex_without_delimiters() -> None:
    code, out, _ = run(["decode", "04 01 15 08 01 02 04 02 0a 01 01 05 ea 24 7a 24"])
    assert code == 0 and json.loads(out) == {"type": "fire", "seq": 8, "count": 10}


def _with_flipped_crc() -> str:
    wire = bytearray(bytes.fromhex(FIRE_HEX))
    wire[-2] ^= 0x01
    return wire.hex()


@pytest.mark.parametrize(
    ("hex_text", "code", "needles"),
    [
        (_with_flipped_crc(), 1, ["bad frame", "CRC mismatch"]),
        (encode_frame(Frame(0x7E, 3, b"")).hex(), 1, ["bad message", "unknown message type id 0x7E"]),
        (FIRE_HEX[:24], 1, ["bad frame", "shorter"]),
        (to_wire(make("nak", seq=1, command="fire", code="busy", detail="moving")).hex()[:20], 1, ["cut short"]),
        (encode_frame(Frame(0x15, 3, b"\x01\x02")).hex(), 1, ["bad message", "fire"]),
        ("00zz", 2, ["not hex", "'z'"]),
        ("0004011", 2, ["odd number of hex digits (7)"]),
        ("", 2, ["no hex digits"]),
    ],
)
def test_decode_bad_input_exits_non_zero_with_a_one_line_reason(hex_text: str, code: int, needles: list[str]) -> None:
    result, out, err = run(["decode", hex_text])
    assert (result, out) == (code, "")
    assert_one_line_error(err, *needles)


def test_decode_without_hex_or_with_both_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = run(["decode"])
    assert code == 2
    assert_one_line_error(err, "--stream")
    code, _, err = run(["decode", FIRE_HEX, "--stream"], "", monkeypatch)
    assert code == 2
    assert_one_line_error(err, "not both")


def test_decode_stream_prints_a_line_per_frame_then_a_summary_of_the_counters(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fault: garbage, a corrupted frame and a frame of an unknown type among valid frames, hex split at
    odd places across lines. Must hold: valid frames out in order, everything else counted."""
    first, second = to_wire(make("fire", seq=8, count=10)), to_wire(make("arm", seq=9))
    bad_crc = bytearray(first)
    bad_crc[-2] ^= 0x10
    unknown = encode_frame(Frame(0x7E, 10, b""))
    stream = (b"\x13\x37" + first + bytes(bad_crc) + unknown + second).hex()
    text = "\n".join(stream[i : i + 7] for i in range(0, len(stream), 7)) + "\n"  # odd line lengths
    code, out, err = run(["decode", "--stream"], text, monkeypatch)
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines[:2] == [{"type": "fire", "seq": 8, "count": 10}, {"type": "arm", "seq": 9}]
    summary = lines[2]["summary"]
    assert len(lines) == 3
    assert summary | {"frames": 3, "crc_errors": 1, "garbage_bytes": 2, "undecodable_messages": 1} == summary
    assert summary["bytes_in"] == len(stream) // 2
    assert "0x7E" in err and "Traceback" not in err


def test_decode_stream_of_nothing_prints_a_zero_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = run(["decode", "--stream"], "", monkeypatch)
    assert code == 0
    summary = json.loads(out)["summary"]
    assert summary["frames"] == 0 and "undecodable_messages" not in summary


@pytest.mark.parametrize(
    ("text", "needles"),
    [(FIRE_HEX + "0", ["odd number of hex digits (37)"]), (FIRE_HEX[:10] + " xy", ["not hex", "'x'", "after 10"])],
)
def test_decode_stream_rejects_input_that_is_not_whole_hex_bytes(
    text: str, needles: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run(["decode", "--stream"], text, monkeypatch)
    assert code == 2
    assert_one_line_error(err, *needles)


# ---------------------------------------------------------------------------------------------------
# spec, help, usage


def test_spec_check_passes_on_the_repository_docs_and_write_repairs_a_stale_copy(tmp_path: Path) -> None:
    assert run(["spec", "--check", str(ROOT / "docs" / "protocol.md")])[0] == 0
    stale = tmp_path / "protocol.md"
    shutil.copy(ROOT / "docs" / "protocol.md", stale)
    stale.write_text(stale.read_text(encoding="utf-8").replace("| `count` | u32 |", "| `count` | u8 |"), "utf-8")
    code, _, err = run(["spec", "--check", str(stale)])
    assert code == 1 and "out of step" in err
    assert run(["spec", "--write", str(stale)])[0] == 0
    assert run(["spec", "--check", str(stale)])[0] == 0
    assert stale.read_text(encoding="utf-8") == (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")


def test_spec_write_refuses_a_file_without_markers_and_leaves_it_alone(tmp_path: Path) -> None:
    target = tmp_path / "notes.md"
    target.write_text("hand-written only\n", encoding="utf-8")
    code, _, err = run(["spec", "--write", str(target)])
    assert code == 2
    assert_one_line_error(err, "markers")
    assert target.read_text(encoding="utf-8") == "hand-written only\n"


@pytest.mark.parametrize("command", [[], ["catalog"], ["encode"], ["decode"], ["spec"]])
def test_every_subcommand_has_help_with_examples(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*command, "--help"]) == 0
    assert "Examples:" in capsys.readouterr().out


def test_unknown_subcommand_is_a_usage_error() -> None:
    code, _, err = run(["frobnicate"])
    assert code == 2
    assert_one_line_error(err, "frobnicate")


# ---------------------------------------------------------------------------------------------------
# The real entry point


def _python_m(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "firmware_protocol", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )


@pytest.mark.realio
def test_python_m_decode_of_a_bad_frame_exits_1_without_traceback() -> None:
    result = _python_m("decode", _with_flipped_crc())
    assert result.returncode == 1 and result.stdout == ""
    assert_one_line_error(result.stderr, "CRC mismatch")


@pytest.mark.realio
def test_python_m_encode_then_decode_stream_through_pipes() -> None:
    encoded = _python_m("encode", '{"type": "fire", "seq": 8, "count": 10}')
    assert encoded.returncode == 0 and encoded.stdout.strip() == FIRE_HEX
    decoded = _python_m("decode", "--stream", stdin=encoded.stdout * 2)
    assert decoded.returncode == 0, decoded.stderr
    lines = decoded.stdout.splitlines()
    assert [json.loads(line) for line in lines[:2]] == [{"type": "fire", "seq": 8, "count": 10}] * 2
    assert json.loads(lines[-1])["summary"]["frames"] == 2


@pytest.mark.realio
def test_python_m_bad_json_exits_2_without_traceback() -> None:
    result = _python_m("encode", "{not json")
    assert result.returncode == 2
    assert_one_line_error(result.stderr, "bad JSON")
