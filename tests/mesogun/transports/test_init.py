"""Transports by URL (``mesogun.transports``, the package's ``transport_for_url``): the scheme picks the class."""

from __future__ import annotations

import pytest

from mesogun.errors import ParameterError
from mesogun.transports import transport_for_url
from mesogun.transports.serial import SerialTransport
from mesogun.transports.sim import SimTransport


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("sim://", SimTransport),
        ("sim://?serial=SIM0002&drop=0.01", SimTransport),
        ("/dev/ttyACM0", SerialTransport),
        ("COM3", SerialTransport),
        ("socket://127.0.0.1:5000", SerialTransport),
        ("rfc2217://host:2217", SerialTransport),
        ("loop://", SerialTransport),
    ],
)
def test_url_scheme_picks_the_transport(url: str, kind: type) -> None:
    transport = transport_for_url(url)
    assert isinstance(transport, kind)
    assert transport.url == url


@pytest.mark.parametrize("url", ["", "   "])
def test_empty_url_is_a_parameter_error(url: str) -> None:
    with pytest.raises(ParameterError, match="must be a device path or a URL"):
        transport_for_url(url)


def test_a_baud_rate_is_for_serial_lines_only_and_within_pyserials_rates() -> None:
    assert isinstance(transport_for_url("/dev/ttyACM0", baudrate=9600), SerialTransport)
    assert isinstance(transport_for_url("rfc2217://host:2217", baudrate=57600), SerialTransport)
    for url in ("sim://", "socket://127.0.0.1:5000", "loop://"):
        with pytest.raises(ParameterError, match=r"baudrate=9600: .* is not a serial line") as caught:
            transport_for_url(url, baudrate=9600)
        assert caught.value.field == "baudrate"
    with pytest.raises(ParameterError, match="baudrate=12 is outside 50–4000000 baud"):
        transport_for_url("/dev/ttyACM0", baudrate=12)
