"""A USB CDC-ACM function driven through pyusb: blocking calls, each bounded by a timeout (no asyncio here).

:class:`CdcAcmPort` finds the communication (class 0x02, ACM) and data (class 0x0A) interfaces, detaches the
kernel's ``cdc_acm`` driver from **every** interface of the device (Linux usbfs refuses a claim while any
interface of the device is bound, pyusb #391), claims both, sends SET_LINE_CODING (115200 8N1) and
SET_CONTROL_LINE_STATE (DTR and RTS up: "a host opened the port"), and moves bytes on the data interface's
bulk endpoints. The traps it avoids, and how:

- **Zero-length packets.** A bulk transfer ends at a short packet; one whose length is a multiple of
  wMaxPacketSize needs a ZLP to end. :meth:`CdcAcmPort.write` sends one after such a write (libusb's
  synchronous API never adds it), and a ZLP read is "no bytes now", never the end of the stream.
- **Partial data on a timeout.** Each read asks for exactly one packet (wMaxPacketSize bytes), so a transfer
  is complete or empty: no bytes are lost when a read times out mid-transfer (older pyusb releases dropped
  libusb's ``transferred`` count on a timeout), and a frame ending on a packet boundary without a ZLP is not
  held back until the timeout.
- **Timeout 0 means "wait forever"** in libusb: every call here passes a positive timeout.
"""

from __future__ import annotations

import array
import contextlib
import errno
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import usb.core
import usb.util

CDC_CLASS = 0x02
"""bInterfaceClass of a CDC communication interface."""
ACM_SUBCLASS = 0x02
"""bInterfaceSubClass of the Abstract Control Model."""
CDC_DATA_CLASS = 0x0A
"""bInterfaceClass of a CDC data interface (the bulk endpoints)."""
CS_INTERFACE = 0x24
"""bDescriptorType of a class-specific interface descriptor (the CDC functional descriptors)."""
UNION_SUBTYPE = 0x06
"""bDescriptorSubtype of the CDC Union descriptor: the communication interface names its data interface."""

CLASS_INTERFACE_OUT = 0x21
"""bmRequestType of a class request to an interface, host to device."""
SET_LINE_CODING = 0x20
SET_CONTROL_LINE_STATE = 0x22
DTR = 0x01
RTS = 0x02

LINE_RATE = 115200
"""The line coding sent (a USB gun ignores it; a USB-to-UART bridge would not)."""
CONTROL_TIMEOUT_MS = 1000
"""Each control transfer's bound."""
WRITE_TIMEOUT_MS = 2000
"""A write that the device does not take within this is a lost connection (as the serial transport's)."""

DISCONNECTED = frozenset({errno.ENODEV, errno.EIO, errno.EPIPE, errno.ESHUTDOWN, errno.ENOENT})
"""errnos of a device that went away (libusb's NO_DEVICE, IO, PIPE; usbfs' ESHUTDOWN)."""


class CdcAcmError(Exception):
    """No usable CDC-ACM function, or an interface could not be claimed (said in a technician's words)."""


@dataclass(frozen=True)
class Endpoints:
    """The CDC-ACM function's interfaces and bulk endpoints, as its descriptors say."""

    control_interface: int | None
    """bInterfaceNumber of the communication interface (line coding, DTR); ``None`` if the device has none."""
    data_interface: int
    """bInterfaceNumber of the data interface."""
    ep_in: int
    """Bulk IN endpoint address (device to host)."""
    ep_out: int
    """Bulk OUT endpoint address (host to device)."""
    in_packet: int
    """wMaxPacketSize of the IN endpoint: the size of every read."""
    out_packet: int
    """wMaxPacketSize of the OUT endpoint: a write of a multiple of it ends with a ZLP."""


def find_endpoints(configuration: Any) -> Endpoints:
    """The first CDC data interface with a bulk IN and a bulk OUT endpoint, and its communication interface
    (the one whose Union descriptor names it, else the first ACM interface); :class:`CdcAcmError` if none."""
    interfaces = list(configuration)
    control_for: dict[int, int] = {}
    first_acm: int | None = None
    for intf in interfaces:
        if intf.bInterfaceClass == CDC_CLASS and intf.bInterfaceSubClass == ACM_SUBCLASS:
            first_acm = intf.bInterfaceNumber if first_acm is None else first_acm
            for slave in _union_slaves(bytes(intf.extra_descriptors or b"")):
                control_for.setdefault(slave, intf.bInterfaceNumber)
    for intf in interfaces:
        if intf.bInterfaceClass != CDC_DATA_CLASS:
            continue
        bulk = [ep for ep in intf if usb.util.endpoint_type(ep.bmAttributes) == usb.util.ENDPOINT_TYPE_BULK]
        ins = [ep for ep in bulk if usb.util.endpoint_direction(ep.bEndpointAddress) == usb.util.ENDPOINT_IN]
        outs = [ep for ep in bulk if usb.util.endpoint_direction(ep.bEndpointAddress) == usb.util.ENDPOINT_OUT]
        if ins and outs:
            return Endpoints(
                control_interface=control_for.get(intf.bInterfaceNumber, first_acm),
                data_interface=intf.bInterfaceNumber,
                ep_in=ins[0].bEndpointAddress,
                ep_out=outs[0].bEndpointAddress,
                in_packet=int(ins[0].wMaxPacketSize) or 64,
                out_packet=int(outs[0].wMaxPacketSize) or 64,
            )
    raise CdcAcmError("no CDC-ACM data interface with bulk IN and OUT endpoints (not a CDC-ACM gun?)")


def _union_slaves(extra: bytes) -> Iterable[int]:
    """The data interfaces a communication interface's CDC Union descriptor names (in its extra descriptors)."""
    at = 0
    while at + 2 <= len(extra):
        length, kind = extra[at], extra[at + 1]
        if length < 2:
            return
        if kind == CS_INTERFACE and length >= 5 and extra[at + 2] == UNION_SUBTYPE:
            yield from extra[at + 4 : at + length]
        at += length


def is_disconnect(exc: BaseException) -> bool:
    """Whether a pyusb error means the device went away (unplugged, reset) rather than a refused request."""
    return isinstance(exc, usb.core.USBError) and getattr(exc, "errno", None) in DISCONNECTED


class CdcAcmPort:
    """One opened CDC-ACM function; every call blocks for at most its timeout (run it off the event loop,
    unless the backend never waits: the simulated one)."""

    def __init__(self, device: Any) -> None:
        self.device = device
        self.endpoints: Endpoints | None = None
        self._detached: list[int] = []
        self._claimed: list[int] = []

    def open(self) -> Endpoints:
        """Detach kernel drivers, configure, claim, set the line coding and raise DTR; undone if any step fails."""
        try:
            return self._open()
        except BaseException:
            self.close()
            raise

    def _open(self) -> Endpoints:
        device = self.device
        try:
            configuration = device.get_active_configuration()
        except usb.core.USBError:
            configuration = None
        interfaces = [intf.bInterfaceNumber for intf in (configuration or device[0])]
        for number in sorted(set(interfaces)):  # usbfs: no claim while any interface has a kernel driver
            with contextlib.suppress(NotImplementedError, usb.core.USBError):  # not on Windows/macOS
                if device.is_kernel_driver_active(number):
                    device.detach_kernel_driver(number)
                    self._detached.append(number)
        if configuration is None:
            device.set_configuration()
            configuration = device.get_active_configuration()
        endpoints = find_endpoints(configuration)
        for number in (endpoints.control_interface, endpoints.data_interface):
            if number is None or number in self._claimed:
                continue
            try:
                usb.util.claim_interface(device, number)
            except usb.core.USBError as exc:
                if getattr(exc, "errno", None) == errno.EBUSY:
                    raise CdcAcmError(f"interface {number} is busy: another program has the gun open") from exc
                raise
            self._claimed.append(number)
        self.endpoints = endpoints
        if endpoints.control_interface is not None:
            index = endpoints.control_interface
            coding = struct.pack("<IBBB", LINE_RATE, 0, 0, 8)  # dwDTERate, 1 stop bit, no parity, 8 data bits
            device.ctrl_transfer(CLASS_INTERFACE_OUT, SET_LINE_CODING, 0, index, coding, CONTROL_TIMEOUT_MS)
            device.ctrl_transfer(
                CLASS_INTERFACE_OUT, SET_CONTROL_LINE_STATE, DTR | RTS, index, None, CONTROL_TIMEOUT_MS
            )
        return endpoints

    def read(self, timeout_ms: int) -> bytes | None:
        """One packet from the bulk IN endpoint: its bytes, ``b""`` for a zero-length packet, ``None`` if
        nothing came within ``timeout_ms`` (> 0). A device that went away raises ``usb.core.USBError``."""
        endpoints = self._endpoints()
        try:
            data = self.device.read(endpoints.ep_in, endpoints.in_packet, max(1, timeout_ms))
        except usb.core.USBTimeoutError:
            return None
        return bytes(data)

    def write(self, data: bytes, timeout_ms: int = WRITE_TIMEOUT_MS) -> None:
        """Send all of ``data`` on the bulk OUT endpoint, then a ZLP if it ended on a packet boundary; a device
        that takes nothing within ``timeout_ms`` raises ``usb.core.USBTimeoutError``."""
        endpoints = self._endpoints()
        rest = array.array("B", data)
        while rest:
            written = int(self.device.write(endpoints.ep_out, rest, max(1, timeout_ms)))
            if written <= 0:
                raise usb.core.USBTimeoutError("the device took none of the bytes written", None, errno.ETIMEDOUT)
            rest = rest[written:]
        if data and len(data) % endpoints.out_packet == 0:
            self.device.write(endpoints.ep_out, array.array("B"), max(1, timeout_ms))  # the ZLP ending the transfer

    def close(self) -> None:
        """Drop DTR, release the interfaces, give them back to the kernel's driver; best effort, idempotent."""
        device, endpoints = self.device, self.endpoints
        self.endpoints = None
        if endpoints is not None and endpoints.control_interface is not None:
            with contextlib.suppress(Exception):
                device.ctrl_transfer(
                    CLASS_INTERFACE_OUT, SET_CONTROL_LINE_STATE, 0, endpoints.control_interface, None, 200
                )
        for number in self._claimed:
            with contextlib.suppress(Exception):
                usb.util.release_interface(device, number)
        self._claimed.clear()
        for number in self._detached:
            with contextlib.suppress(Exception):
                device.attach_kernel_driver(number)
        self._detached.clear()
        with contextlib.suppress(Exception):
            usb.util.dispose_resources(device)

    def _endpoints(self) -> Endpoints:
        if self.endpoints is None:
            raise usb.core.USBError("the port is closed", None, errno.ENODEV)
        return self.endpoints
