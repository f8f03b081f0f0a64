"""mesogun/service_client.py against a real ``mesogun serve`` process: finding the service, its error replies as the
Python API's exceptions (same classes, messages, exit codes), the event stream, attendance; and the JSON forms'
inverses (mesogun/json_forms.py) the client rebuilds the API's objects with."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

import mesogun
from mesogun.calibration.errors import CalibrationAborted, CalibrationRefused
from mesogun.errors import (
    AccessDenied,
    ConnectionLost,
    DeviceAlarm,
    DeviceRefused,
    LinkError,
    MesogunError,
    ParameterError,
    ProtocolViolation,
    RecordError,
    ServiceRequestError,
    ServiceUnreachable,
    StateError,
    error_class_for_code,
    error_from_reply,
)
from mesogun.json_forms import (
    diagnostics_from,
    event_fields,
    event_from,
    fired_fields,
    fired_from,
    info_fields,
    info_from,
    plain,
    status_fields,
    status_from,
)
from mesogun.models import AlarmEvent, TriggerEvent
from mesogun.record.visits import NoSuchVisit
from mesogun.service_client import FoundService, ServiceClient, default_socket_path, find_service
from tests.mesogun.conftest import ServedGun


@pytest.fixture
def client(pty_service: ServedGun) -> Any:
    with ServiceClient(FoundService(pty_service.url, "given by the test")) as opened:
        yield opened


# ---------------------------------------------------------------------------------------------- codes


@pytest.mark.parametrize(
    ("code", "kind", "cls", "exit_code"),
    [
        ("MG100", None, ParameterError, 2),
        ("MG200", None, StateError, 3),
        ("MG210", "no_attended_client", StateError, 3),  # the service's: a StateError's family
        ("MG300", None, DeviceRefused, 3),
        ("MG402", None, ConnectionLost, 4),
        ("MG404", None, ProtocolViolation, 4),
        ("MG406", "not_connected", ConnectionLost, 4),  # the service's: its kind says which LinkError
        ("MG500", None, DeviceAlarm, 5),
        ("MG604", None, NoSuchVisit, 2),
        ("MG600", None, RecordError, 6),
        ("MG900", "bad_request", ServiceRequestError, 2),
        ("MG904", "not_found", ServiceRequestError, 2),
        ("MG913", "too_large", ServiceRequestError, 2),
        ("MG910", "unauthenticated", AccessDenied, 3),
        ("MG914", "accounts_unavailable", RecordError, 6),
        ("MG830", None, CalibrationRefused, 3),
        ("MG831", None, CalibrationAborted, 130),
        ("MG4xx", None, LinkError, 4),
        ("XYZ", None, MesogunError, 1),
    ],
)
def test_every_code_maps_to_a_class_and_the_exit_code_of_the_direct_path(
    code: str, kind: str | None, cls: type[MesogunError], exit_code: int
) -> None:
    assert error_class_for_code(code, kind) is cls
    error = error_from_reply(code, "what happened", kind=kind, field="depth_mm", value=9.0)
    assert type(error) is cls and error.exit_code == exit_code and error.code == code
    assert str(error) == "what happened"


def test_an_alarm_reply_carries_the_devices_count_and_alarm() -> None:
    error = error_from_reply("MG500", "firing stopped by occlusion after 3 of 10 shots", details={"alarm": "occlusion"})
    assert isinstance(error, DeviceAlarm) and error.alarm is not None and error.alarm.json_name == "occlusion"
    counted = error_from_reply("MG500", "x", details={"fired": 7, "alarm": None})
    assert isinstance(counted, DeviceAlarm) and counted.fired == 7 and counted.alarm is None and counted.shots == []


# ---------------------------------------------------------------------------------------------- json forms


def test_the_json_forms_turn_back_into_the_apis_objects(real: Any) -> None:
    async def scenario() -> None:
        async with mesogun.connect("sim://") as gun:
            assert info_fields(info_from(info_fields(gun.info))) == info_fields(gun.info)
            assert status_from(status_fields(gun.status)) == gun.status
            diagnostics = await gun.diagnostics()
            assert diagnostics_from(plain(diagnostics)) == diagnostics
            await gun.load_syringe(capacity_ml=3)
            await gun.prime(volume_ml=0.01)
            await gun.configure(mode="burst", rate_hz=10)
            await gun.arm()
            fired = await gun.fire(2)
            again = fired_from(fired_fields(fired))
            assert again == fired and again.fired == fired.fired
            alarm = event_from("alarm", {"code": "occlusion", "priority": "high", "raised": True, "device_time": 1.5})
            assert isinstance(alarm, AlarmEvent) and event_fields(alarm) == ("alarm", plain(alarm))
            trigger = event_from("trigger", {"source": "pedal", "pressed": True, "device_time": 2.0})
            assert isinstance(trigger, TriggerEvent) and event_fields(trigger)[1]["source"] == "pedal"
            assert event_from("connection", {"connected": False}) is None

    real(scenario)


# ---------------------------------------------------------------------------------------------- finding it


@pytest.mark.parametrize(
    ("url", "says", "never"),
    [
        ("unix:///run/mesogun/service.sock", "sign in as a user with the admin role over TCP "
         "(--service http://HOST:PORT with $MESOGUN_TOKEN from POST /auth/login, docs/service.md)", "unix://"),
        ("http://127.0.0.1:8750", "sign in as a user with the admin role ($MESOGUN_TOKEN from POST /auth/login",
         "local socket"),
    ],
)  # fmt: skip
def test_a_role_beyond_the_local_sockets_is_refused_saying_how_to_sign_in_as_one(
    url: str, says: str, never: str
) -> None:
    """The local socket signs in a practitioner only: an admin's erasure is never sent there."""
    from mesogun_service.accounts.errors import Forbidden, error_body

    refusal = Forbidden(
        "POST /patients/1/erase needs the admin role; bob has practitioner", field="role", value="admin"
    )
    with ServiceClient(FoundService(url, "given with --service")) as client:
        error = client._error(httpx.Response(403, json=error_body(refusal)))
    assert isinstance(error, AccessDenied) and error.exit_code == 3
    assert says in str(error) and never not in str(error), str(error)
    practitioner = Forbidden("POST /guns/X/arm needs the practitioner role; sam has assistant", field="role",
                             value="practitioner")  # fmt: skip
    with ServiceClient(FoundService("http://127.0.0.1:8750", "given with --service")) as client:
        assert "local socket" in str(client._error(httpx.Response(403, json=error_body(practitioner))))


def test_find_service_takes_the_option_then_the_environment_then_a_live_local_socket(
    pty_service: ServedGun, monkeypatch: pytest.MonkeyPatch, private_user_dirs: Path
) -> None:
    assert default_socket_path() == private_user_dirs / "run" / "mesogun" / "service.sock"
    assert find_service() is None  # nothing there
    stale = default_socket_path()
    stale.parent.mkdir(parents=True)
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(stale))
    dead.close()
    assert find_service() is None  # a socket nobody listens on: the direct path
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(pty_service.runtime))
    assert find_service() == FoundService(pty_service.url, "found at the local socket")
    monkeypatch.setenv("MESOGUN_SERVICE", "http://127.0.0.1:9")
    assert find_service() == FoundService("http://127.0.0.1:9", "from $MESOGUN_SERVICE")
    assert find_service("unix:///x.sock") == FoundService("unix:///x.sock", "given with --service")


def test_a_service_that_does_not_answer_is_one_line_naming_it_and_how_it_was_found(tmp_path: Path) -> None:
    url = f"unix://{tmp_path / 'none.sock'}"
    with ServiceClient(FoundService(url, "from $MESOGUN_SERVICE")) as nobody, pytest.raises(ServiceUnreachable) as e:
        nobody.guns()
    assert e.value.exit_code == 4 and url in str(e.value) and "from $MESOGUN_SERVICE" in str(e.value)
    with pytest.raises(ParameterError, match="not a service URL"):
        ServiceClient(FoundService("ftp://host", "given with --service"))


# ---------------------------------------------------------------------------------------------- requests


def test_a_value_out_of_range_is_the_python_apis_error_with_its_message(client: ServiceClient, real: Any) -> None:
    serial = client.guns()[0]["serial"]

    async def direct() -> str:
        async with mesogun.connect("sim://") as gun:
            with pytest.raises(ParameterError) as refused:
                await gun.configure(depth_mm=9.0)
            return str(refused.value)

    with pytest.raises(ParameterError) as through:
        client.configure(serial, depth_mm=9.0)
    assert str(through.value) == real(direct)
    assert through.value.field == "depth_mm" and through.value.value == 9.0 and through.value.exit_code == 2


def test_arming_without_attending_is_refused_and_an_unknown_gun_is_a_usage_error(client: ServiceClient) -> None:
    serial = client.guns()[0]["serial"]
    client.clear(serial)
    with pytest.raises(StateError) as refused:
        client.arm(serial)
    assert refused.value.code == "MG210" and refused.value.exit_code == 3 and "attended" in str(refused.value)
    with pytest.raises(ServiceRequestError) as unknown:
        client.status("NOPE")
    assert unknown.value.exit_code == 2 and serial in str(unknown.value)


def test_the_event_stream_starts_with_the_status_and_closes_from_another_thread(client: ServiceClient) -> None:
    serial = client.guns()[0]["serial"]
    with client.events(serial) as reader:
        events = iter(reader)
        kind, data = next(events)
        assert kind == "status" and status_from(data).state.json_name == data["state"]
        kind, _ = next(events)  # the gun's periodic status goes on
        assert kind == "status"
        started = time.monotonic()
        threading.Timer(0.2, reader.close).start()
        for _ in events:
            pass
        assert time.monotonic() - started < 3  # the blocked reader returned once closed


def test_attendance_beats_until_it_leaves(client: ServiceClient) -> None:
    serial = client.guns()[0]["serial"]
    attending = client.attend(serial, "test attendance")
    try:
        assert "test attendance" in client.guns()[0]["attended_by"]
        time.sleep(attending.heartbeat_s * 1.5)  # a heartbeat went out meanwhile
        assert "test attendance" in client.guns()[0]["attended_by"]
    finally:
        attending.leave()
    assert "test attendance" not in client.guns()[0]["attended_by"]
