"""Discovery (``mesogun.transports.discovery``): guns by VID:PID and by serial number."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from mesogun.errors import ParameterError
from mesogun.transports.discovery import PortInfo, find_by_serial, list_guns


def fake_ports() -> list[Any]:
    return [
        SimpleNamespace(device="/dev/ttyACM1", vid=0x1209, pid=0x0001, serial_number="GUN002", description="MG-1"),
        SimpleNamespace(device="/dev/ttyACM0", vid=0x1209, pid=0x0001, serial_number="GUN001", description="MG-1"),
        SimpleNamespace(device="/dev/ttyUSB0", vid=0x0403, pid=0x6001, serial_number="FT1", description="FTDI"),
        SimpleNamespace(device="/dev/ttyS0", vid=None, pid=None, serial_number=None, description="n/a"),
    ]


def test_list_guns_reports_ports_and_filters_by_vid_pid(mocker: Any) -> None:
    mocker.patch("mesogun.transports.discovery.list_ports.comports", return_value=fake_ports())
    assert [p.device for p in list_guns()] == ["/dev/ttyACM0", "/dev/ttyACM1", "/dev/ttyS0", "/dev/ttyUSB0"]
    guns = list_guns("1209:0001")
    assert guns == [
        PortInfo("/dev/ttyACM0", "1209:0001", "GUN001", "MG-1"),
        PortInfo("/dev/ttyACM1", "1209:0001", "GUN002", "MG-1"),
    ]
    assert list_guns("0403:6001")[0].vid_pid == "0403:6001"
    assert list_guns("dead:beef") == []


@pytest.mark.parametrize("bad", ["1209", "12:34:56", "xyz:0001", "10000:0001"])
def test_list_guns_rejects_a_malformed_vid_pid(bad: str) -> None:
    with pytest.raises(ParameterError, match=r"vid_pid="):
        list_guns(bad)


def test_find_by_serial_finds_a_replugged_gun_under_its_new_path(mocker: Any) -> None:
    mocker.patch("mesogun.transports.discovery.list_ports.comports", return_value=fake_ports())
    port = find_by_serial("GUN002")
    assert port is not None and port.device == "/dev/ttyACM1"
    assert find_by_serial("NOPE") is None
