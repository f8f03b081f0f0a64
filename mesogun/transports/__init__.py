"""Transports by URL scheme (after pyserial and python-can): ``sim://`` is the in-process simulated gun;
a device path or any other pyserial URL (``socket://``, ``rfc2217://``, ``loop://``) goes to pyserial.

Register another scheme with :func:`register_scheme` (e.g. ``usb://`` later).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from mesogun.transports.base import Transport

TransportFactory = Callable[[str], Transport]

_SCHEMES: dict[str, TransportFactory] = {}


def register_scheme(scheme: str, factory: TransportFactory) -> None:
    """Open URLs starting ``scheme://`` with ``factory(url)``."""
    _SCHEMES[scheme.lower()] = factory


def _sim(url: str) -> Transport:
    from mesogun.transports.sim import SimTransport

    return SimTransport(url)


def _pyserial(url: str) -> Transport:
    from mesogun.transports.serial import SerialTransport

    return SerialTransport(url)


register_scheme("sim", _sim)


def transport_for_url(url: str) -> Transport:
    """An unopened transport for ``url``: a registered scheme, else pyserial (device paths, socket://, …)."""
    if not isinstance(url, str) or not url.strip():
        from mesogun.errors import ParameterError

        raise ParameterError(f"url={url!r} must be a device path or a URL such as sim:// or socket://host:port")
    scheme = urlsplit(url).scheme.lower() if "://" in url else ""
    factory = _SCHEMES.get(scheme, _pyserial)
    return factory(url)


__all__ = ["Transport", "TransportFactory", "register_scheme", "transport_for_url"]
