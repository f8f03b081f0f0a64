"""The clinical workflow's commands (``mesogun patient``, ``course``, ``lot``, ``session``) through a real gun
service process owning a simulator in another process: the CLI in this process (its exit codes, its one-line
errors, its ``--json``), and once as child processes for the whole workflow, as a practitioner would type it."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mesogun.cli import main
from mesogun.clinic.checklist import DEFAULT_ITEMS
from mesogun.clinic.zones import CATALOG, listing
from mesogun.record import TreatmentRecord
from mesogun.record.patients import READ_IDENTIFIED
from tests.mesogun.conftest import MESOGUN, ServedGun, serve_gun

pytestmark = [pytest.mark.realio, pytest.mark.slow]

Run = Callable[..., tuple[int, str, str]]

TINY = {
    "name": "tiny",
    "depth_mm": 1.5,
    "dose_ml": 0.02,
    "rate_hz": 10.0,
    "mode": "burst",
    "max_depth_mm": 2.0,
    "max_volume_per_zone_ml": 0.1,
}
"""A clinic preset whose zone limit five shots of 0.02 mL reach."""

CLEAR = ["--consent", "signed form v3", *(arg for item in DEFAULT_ITEMS for arg in ("--checklist", f"{item.id}=no"))]
"""The consent and every checklist item answered no, as options."""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedGun]:
    """A service of this module's own (serial number SRVC0001; its record holds only these tests' patients), with
    the clinic preset tiny defined."""
    with serve_gun(tmp_path_factory.mktemp("clinic"), "SRVC0001", "--pty") as gun:
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(gun.socket)), base_url="http://local") as http:
            assert http.post("/presets", json=TINY).status_code == 200
        yield gun


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], served: ServedGun) -> Iterator[Run]:
    """``run(*argv)``: the CLI in this process against the module's service; its exit code, stdout and stderr. A
    treatment session a test leaves open is signed off afterwards."""

    def invoke(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(["--service", served.url, *argv])
        out, err = capsys.readouterr()
        return code, out, err

    yield invoke
    code, out, _ = invoke("session", "show", "--json")
    if code == 0 and json.loads(out)["closed"] is None:
        invoke("session", "close")


def ok(run: Run, *argv: str) -> Any:
    """The JSON a command prints (``--json`` added), which must succeed."""
    code, out, err = run(*argv, "--json")
    assert code == 0, err
    return json.loads(out)


def ready(run: Run, served: ServedGun) -> None:
    """Nothing latched, a primed syringe with enough left, burst mode at 10 shots/s of 0.02 mL, shallow."""
    device = served.snapshot()
    if device["state"] != "ready" or device["reservoir_nl"] < 1_000_000:
        for args in (("clear",), ("load", "--capacity", "10"), ("prime", "--volume", "0.02")):
            code, _, err = run(*args)
            assert code == 0, err
    code, _, err = run("set", "--rate", "10", "--dose", "0.02", "--mode", "burst", "--depth", "1.5")
    assert code == 0, err


def patient_course_lot(run: Run, pseudonym: str, preset: str = "tiny") -> tuple[int, int, int]:
    patient = ok(run, "patient", "add", "--pseudonym", pseudonym, "--name", "Ada Byron")
    course = ok(run, "course", "add", "--patient", pseudonym, "--indication", "skin rejuvenation", "--sessions", "4",
                "--interval", "14", "--preset", preset)  # fmt: skip
    lot = ok(run, "lot", "add", "--product", "NCTF 135 HA", "--number", f"L-{pseudonym}", "--expiry", "2099-12-31")
    return patient["id"], course["id"], lot["id"]


def test_patients_courses_and_lots_are_kept_by_the_service(run: Run) -> None:
    patient, course, lot = patient_course_lot(run, "P-CLI1")
    assert [p["pseudonym"] for p in ok(run, "patient", "list") if p["id"] == patient] == ["P-CLI1"]
    code, out, err = run("patient", "show", "P-CLI1", "--identified")
    assert code == 0 and "Ada Byron" in out and "skin rejuvenation" in out, err
    code, out, _ = run("patient", "show", str(patient))
    assert code == 0 and "Ada Byron" not in out and "P-CLI1" in out
    assert [c["id"] for c in ok(run, "course", "list", "--patient", "P-CLI1")] == [course]
    assert ok(run, "course", "show", str(course))["planned_sessions"] == 4
    code, _, err = run("lot", "add", "--product", "NCTF 135 HA", "--number", "OLD1", "--expiry", "2020-01-31")
    assert code == 0
    code, out, _ = run("lot", "list")
    assert code == 0 and "EXPIRED" in out and "L-P-CLI1" in out
    code, _, err = run("patient", "erase", "P-CLI1", "--reason", "asked")  # the local socket: a practitioner
    assert code == 3 and "admin" in err and len(err.strip().splitlines()) == 1
    assert "over TCP (--service http://HOST:PORT with $MESOGUN_TOKEN from POST /auth/login" in err, err
    code, _, err = run("patient", "show", "P-NOBODY")
    assert code == 2 and "P-NOBODY" in err and len(err.strip().splitlines()) == 1
    assert lot


def test_without_a_service_the_clinics_commands_say_it_keeps_them(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (("patient", "list"), ("session", "show")):
        assert main(["--no-service", *argv]) == 2
        assert "kept by the gun service" in capsys.readouterr().err


def test_session_zones_lists_the_catalog_without_a_service(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--no-service", "session", "zones"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["id", "label", "region"] and lines[1].split() == ["face.forehead", "Forehead", "face"]
    assert len(lines) == 1 + len(CATALOG)
    assert main(["--no-service", "session", "zones", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == listing()


def test_a_checklist_file_that_cannot_be_read_is_one_line_naming_the_option_and_the_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("pregnancy = \n")
    start = ["--no-service", "session", "start", "--patient", "1", "--lot", "1", "--zone", "neck", "--consent", "x"]
    for given, says in ((tmp_path / "nonexist.toml", "no such file"), (bad, "not a TOML file")):
        capsys.readouterr()
        assert main([*start, "--checklist-file", str(given)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: --checklist-file {given}: {says}") and len(err.splitlines()) == 1, err
        assert "Errno" not in err


def test_bad_session_input_exits_2_with_one_line_naming_the_field(run: Run, tmp_path: Path) -> None:
    _, course, lot = patient_course_lot(run, "P-CLI2")
    start = ("session", "start", "--patient", "P-CLI2", "--course", str(course), "--lot", str(lot))
    for args, named in (
        ((*start, "--zone", "face.ear", *CLEAR), "(run 'mesogun session zones' to see every zone)"),
        ((*start, "--zone", "face.chin", *CLEAR[:-2]), "retinol_alcohol"),
        ((*start, "--zone", "face.chin", *CLEAR, "--checklist", "pregnancy=yes"), "override"),
        ((*start, "--zone", "face.chin", "--consent", "x", "--checklist", "pregnancy=maybe"), "ITEM=yes"),
        (("session", "start", "--patient", "999", "--lot", str(lot), "--zone", "neck", *CLEAR), "patient 999"),
        (("session", "zone", "neck"), "no treatment session is open"),
    ):
        code, _, err = run(*args)
        assert code == 2 and named in err.strip().splitlines()[-1], (args, err)  # the one error line (click's last)
    answers = tmp_path / "answers.toml"
    answers.write_text("\n".join(f"{item.id} = false" for item in DEFAULT_ITEMS) + "\n")
    started = ok(run, *start, "--zone", "face.chin", "--checklist-file", str(answers), "--consent", "signed",
                 "--needle", "32G:4mm",
                 "--syringe", "BD 5")  # fmt: skip
    assert started["zone"] == "face.chin" and started["needle"] == {"gauge": 32, "length_mm": 4.0}
    assert (started["pseudonym"], started["lot_number"]) == ("P-CLI2", "L-P-CLI2")  # as people name them
    assert (started["syringe_brand"], started["syringe_ml"]) == ("BD", 5.0)
    code, _, err = run("session", "adverse-event", "--kind", "pain", "--severity", "awful")
    assert code == 2 and "severity" in err
    code, out, err = run("session", "adverse-event", "--kind", "erythema", "--severity", "mild", "faded in 10 min")
    assert code == 0 and "adverse event entered" in out, err
    code, out, err = run("session", "aftercare")
    assert code == 0 and "SPF 30" in out, err
    code, out, err = run("session", "note", "tolerated well")
    assert code == 0, err
    code, out, _ = run("session", "show")
    assert "erythema, mild: faded in 10 min" in out and "tolerated well" in out and "none present" in out
    signed = ok(run, "session", "close")
    assert signed["signoff"]["by"].startswith("local:")
    code, _, err = run("session", "close", "--id", str(signed["visit_id"]))
    assert code == 2 and "signed off" in err and len(err.strip().splitlines()) == 1


def test_set_and_fire_pass_yes_and_reason_as_the_services_override(run: Run, served: ServedGun) -> None:
    _, course, lot = patient_course_lot(run, "P-CLI3")
    ready(run, served)
    code, out, err = run("session", "start", "--patient", "P-CLI3", "--course", str(course), "--lot", str(lot),
                         "--zone", "face.forehead", *CLEAR)  # fmt: skip
    assert code == 0, err
    shown = dict(line.split(None, 1) for line in out.splitlines())
    assert (shown["patient"].strip(), shown["lot"].strip()) == ("P-CLI3", "L-P-CLI3")  # not their ids
    session = int(shown["session"])
    code, _, err = run("set", "--depth", "2.2")
    assert code == 2 and "preset.tiny.max_depth_mm" in err and "--yes --reason" in err, err
    assert err.strip() == (
        "error: soft limit preset.tiny.max_depth_mm: depth_mm=2.2 is deeper than preset tiny's soft limit of 2 mm; "
        "nothing was sent (give --yes --reason TEXT to go ahead anyway; the override and its reason are entered in "
        "the treatment record)"
    )  # once, in the CLI's words (no override_reason)
    code, _, err = run("set", "--depth", "2.2", "--yes", "--reason", "thick skin")
    assert code == 0, err
    code, _, err = run("fire", "--count", "6")
    assert code == 2 and "preset.tiny.max_volume_per_zone_ml" in err and "--yes --reason" in err, err
    code, _, err = run("fire", "--count", "6", "--yes", "--reason", "full dose on the forehead")
    assert code == 0, err
    code, _, err = run("fire", "--count", "1")
    assert code == 2 and "face.forehead" in err, err  # arming where the zone is full: an override again
    summary = ok(run, "session", "show")
    assert summary["needle_reminder"] is None  # 500 shots to the next change
    assert summary["visit_id"] == session and summary["zones"][0]["shots"] == 6
    assert [o["reason"] for o in summary["overrides"]] == ["thick skin", "full dose on the forehead"]
    code, out, _ = run("session", "show")
    assert code == 0 and "full dose on the forehead" in out and "NOT SIGNED OFF" in out
    code, out, err = run("session", "lot", str(lot))
    assert code == 0 and out.strip() == f"session {session}: lot L-P-CLI3", err
    code, _, err = run("set", "--depth", "1.5")
    assert code == 0, err


def test_a_treatment_session_typed_at_the_command_line(run: Run, served: ServedGun, tmp_path: Path) -> None:
    """A treatment session end to end, each command its own process, as a practitioner types it."""
    ready(run, served)

    def mesogun(*args: str) -> Any:
        result = subprocess.run(
            [*MESOGUN, "--service", served.url, *args, "--json"], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, (args, result.stderr)
        return json.loads(result.stdout.strip().splitlines()[-1])  # fire: JSON lines, its summary last

    answers = tmp_path / "answers.toml"
    answers.write_text("[checklist]\n" + "".join(f"{item.id} = false\n" for item in DEFAULT_ITEMS))
    ok(run, "patient", "add", "--pseudonym", "P-E2E")  # entered in this process (tested above): the session typed
    course = ok(run, "course", "add", "--patient", "P-E2E", "--indication", "hair loss", "--sessions", "6",
                "--interval", "21", "--preset", "scalp")["id"]  # fmt: skip
    lot = ok(run, "lot", "add", "--product", "Dutasteride 0.01%", "--number", "D77", "--expiry", "2099-06-30")["id"]
    started = mesogun("session", "start", "--patient", "P-E2E", "--course", str(course), "--lot", str(lot),
                      "--zone", "scalp.crown", "--checklist-file", str(answers),
                      "--consent", "verbal, witnessed")  # fmt: skip
    assert started["preset"] == "scalp"
    assert mesogun("fire", "--count", "2")["fired"] == 2
    mesogun("session", "zone", "scalp.vertex")
    assert mesogun("fire", "--count", "1")["fired"] == 1
    signed = mesogun("session", "close")
    summary = mesogun("session", "show", "--id", str(signed["visit_id"]))
    assert [(z["zone"], z["shots"]) for z in summary["zones"]] == [("scalp.vertex", 1), ("scalp.crown", 2)]
    assert summary["lots"][0]["lot"] == "D77" and summary["practitioner"].startswith("local:")
    assert summary["signoff"] == signed["signoff"]


def identified_reads(record: Path) -> list[tuple[str, str, str]]:
    """The service record's identified-read entries: (actor, reason, via)."""
    with TreatmentRecord(record, create=False) as opened:
        rows = opened.rows("SELECT actor, reason, new_value FROM audit_log WHERE action = ?", (READ_IDENTIFIED,))
    return [(actor, reason, json.loads(new)["via"]) for actor, reason, new in rows]


def test_a_patients_details_are_corrected_with_a_reason_and_read_with_one(run: Run, served: ServedGun) -> None:
    patient = ok(run, "patient", "add", "--pseudonym", "P-CLI4", "--name", "Ada Byron", "--contact", "old@example.org")
    code, out, err = run("patient", "correct", "P-CLI4", "--name", "Ada King", "--contact", "", "--reason", "married")
    assert code == 0 and out.strip() == f"corrected the name, contact of patient P-CLI4 (id {patient['id']})", err
    assert "Ada King" not in out  # the values are not echoed
    shown = ok(run, "patient", "show", "P-CLI4", "--identified", "--reason", "on the phone")
    assert (shown["identity"]["name"], shown["identity"]["contact"]) == ("Ada King", None)
    assert identified_reads(served.record)[-1][1:] == ("on the phone", f"GET /patients/{patient['id']}")
    for args, status, named in (
        (("--name", "Ada", "--reason", " "), 2, "reason"),
        (("--birth-date", "10/12/1985", "--reason", "typo"), 2, "birth_date"),
    ):
        code, _, err = run("patient", "correct", "P-CLI4", *args)
        assert code == status and named in err and len(err.strip().splitlines()) == 1, (args, err)
        assert "10/12" not in err  # an identifying value is never echoed
    code, _, err = run("patient", "correct", "P-CLI4", "--reason", "typo")  # click's usage error: its last line
    nothing = "Error: nothing to correct: give --name, --birth-date or --contact"
    assert code == 2 and err.strip().splitlines()[-1] == nothing
    code, _, err = run("patient", "correct", "P-NOBODY", "--name", "X", "--reason", "typo")
    assert code == 2 and "P-NOBODY" in err and len(err.strip().splitlines()) == 1
    assert ok(run, "patient", "show", "P-CLI4", "--identified")["identity"]["name"] == "Ada King"


def test_clinic_presets_are_added_and_listed_with_their_soft_limits(run: Run) -> None:
    code, out, err = run("preset", "add", "cli-face", "--depth", "1.2", "--dose", "0.01", "--rate", "5",
                         "--mode", "burst", "--max-depth", "2", "--description", "test face")  # fmt: skip
    assert code == 0, err
    assert out.strip() == "preset cli-face: burst, 1.2 mm, 0.01 mL, 5 shots/s; soft limits: depth at most 2 mm"
    listed = {p["name"]: p for p in ok(run, "preset", "list")}
    assert listed["cli-face"]["builtin"] is False and listed["cli-face"]["max_volume_per_zone_ml"] is None
    assert listed["face"]["builtin"] is True
    code, out, _ = run("preset", "list")
    lines = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert lines["cli-face"][:3] == ["cli-face", "clinic", "burst"] and lines["face"][1:3] == ["built", "in"]
    for args, named in (
        (("face", "--depth", "1", "--dose", "0.01", "--rate", "2", "--mode", "burst"), "built in"),
        (("cli-face", "--depth", "1", "--dose", "0.01", "--rate", "2", "--mode", "burst"), "cli-face"),
        (("deep", "--depth", "3", "--dose", "0.01", "--rate", "2", "--mode", "burst", "--max-depth", "2"), "max_depth"),
    ):
        code, _, err = run("preset", "add", *args)
        assert code == 2 and named in err and len(err.strip().splitlines()) == 1, (args, err)
    code, _, err = run("preset", "add", "x", "--depth", "1", "--dose", "0.01", "--rate", "2", "--mode", "fast")
    assert code == 2 and "--mode" in err
    assert "deep" not in {p["name"] for p in ok(run, "preset", "list")}


def test_a_session_opened_for_the_wrong_patient_is_voided_from_the_command_line(run: Run) -> None:
    _, course, lot = patient_course_lot(run, "P-CLI5")
    started = ok(run, "session", "start", "--patient", "P-CLI5", "--course", str(course), "--lot", str(lot),
                 "--zone", "face.chin", *CLEAR)  # fmt: skip
    visit = started["visit_id"]
    code, _, err = run("session", "void", str(visit), "--reason", " ")
    assert code == 2 and "reason" in err and len(err.strip().splitlines()) == 1, err
    code, out, err = run("session", "void", str(visit), "--reason", "opened for the wrong patient")
    assert code == 0 and out.strip() == f"session {visit} is VOID: opened for the wrong patient", err
    code, out, _ = run("session", "show", "--id", str(visit))
    assert code == 0 and "VOID" in out and "opened for the wrong patient" in out
    code, _, err = run("session", "close", "--id", str(visit))
    assert code == 2 and "voided" in err and len(err.strip().splitlines()) == 1
    code, out, _ = run("patient", "show", "P-CLI5", "--history")
    assert code == 0 and f"session {visit}  VOID (opened for the wrong patient)" in out
    assert "total: 0 sessions, 0 shots, 0.000 mL (1 void, not counted)" in out
