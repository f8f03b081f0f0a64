"""Transports by URL scheme (after pyserial and python-can): ``sim://`` is the in-process simulated gun,
``usb://VID:PID[/SERIAL]`` a CDC-ACM gun through pyusb; a device path or any other pyserial URL
(``socket://``, ``rfc2217://``, ``loop://``) goes to pyserial.

Register another scheme with :func:`register_scheme`.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from mesogun.errors import ParameterError
from mesogun.transports.base import Transport

TransportFactory = Callable[[str], Transport]

_SCHEMES: dict[str, TransportFactory] = {}


def register_scheme(scheme: str, factory: TransportFactory) -> None:
    """Open URLs starting ``scheme://`` with ``factory(url)``."""
    _SCHEMES[scheme.lower()] = factory


def _sim(url: str) -> Transport:
    from mesogun.transports.sim import SimTransport

    return SimTransport(url)


def _pyserial(url: str, baudrate: int | None = None) -> Transport:
    from mesogun.transports.serial import BAUDRATE, SerialTransport

    return SerialTransport(url, baudrate=BAUDRATE if baudrate is None else baudrate)


def _usb(url: str) -> Transport:
    from mesogun.transports.usb import UsbTransport

    return UsbTransport(url)


register_scheme("sim", _sim)
register_scheme("usb", _usb)

PYSERIAL_SCHEMES = frozenset({"socket", "rfc2217", "loop", "spy", "hwgrep", "alt", "cp2110"})
"""URL schemes pyserial opens (``serial_for_url``); any other unregistered scheme is a usage error."""
NETWORK_SCHEMES = frozenset({"socket", "rfc2217"})
"""Schemes whose URL must name HOST:PORT."""
SERIAL_LINE_SCHEMES = frozenset({"", "rfc2217", "spy", "hwgrep", "alt", "cp2110"})
"""URLs that end on a serial line, where a baud rate means something (``""``: a device path)."""


def is_serial_line(url: str) -> bool:
    """Whether ``url`` ends on a serial line (a device path, ``rfc2217://``, ``spy://``, …): a baud rate applies."""
    return (urlsplit(url).scheme.lower() if "://" in url else "") in SERIAL_LINE_SCHEMES


def transport_for_url(url: str, *, baudrate: int | None = None) -> Transport:
    """An unopened transport for ``url``: a registered scheme, else pyserial (device paths, socket://, …).

    ``baudrate`` (default: the serial transport's) is for a serial line only (a device path, ``rfc2217://``,
    ``spy://``, ``hwgrep://``, …). :class:`~mesogun.errors.ParameterError` (nothing opened) for an unknown
    scheme (``foo://``), a ``socket://`` URL without a valid port number, a baud rate outside the range or
    one given for a URL that is not a serial line (``sim://``, ``socket://``, ``loop://``)."""
    if not isinstance(url, str) or not url.strip():
        raise ParameterError(f"url={url!r} must be a device path or a URL such as sim:// or socket://host:port")
    scheme = urlsplit(url).scheme.lower() if "://" in url else ""
    if baudrate is not None and not is_serial_line(url):
        raise ParameterError(
            f"baudrate={baudrate}: {url} is not a serial line (a baud rate applies to a serial port, "
            "rfc2217://, spy:// or hwgrep://)",
            field="baudrate",
            value=baudrate,
        )
    factory = _SCHEMES.get(scheme)
    if factory is not None:
        return factory(url)
    if scheme and scheme not in PYSERIAL_SCHEMES:
        known = ", ".join(f"{s}://" for s in sorted({*_SCHEMES, *PYSERIAL_SCHEMES}))
        raise ParameterError(
            f"url={url!r}: unknown scheme {scheme}:// (known: {known}; or a serial port such as /dev/ttyACM0)",
            field="url",
            value=url,
        )
    if scheme in NETWORK_SCHEMES:
        _check_port(url, scheme)
    return _pyserial(url, baudrate)


def _check_port(url: str, scheme: str) -> None:
    """A ``socket://``/``rfc2217://`` URL names a port number 1–65535; :class:`ParameterError` if not."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is None or not 1 <= port <= 65535:
        given = parts.netloc.rpartition(":")[2] if ":" in parts.netloc else ""
        what = f"port {given} is not a port number 1–65535" if given else "no port number"
        raise ParameterError(f"url={url!r}: {what} (use {scheme}://HOST:PORT)", field="url", value=url)


__all__ = ["Transport", "TransportFactory", "is_serial_line", "register_scheme", "transport_for_url"]
