"""A pyusb backend standing in for the USB stack: in-process simulated guns presented as CDC-ACM devices.

``backend = SimUsbBackend(); device = backend.plug(sim)`` makes ``usb.core.find(backend=backend)`` (and so
``usb://1209:6D67/SERIAL`` and ``mesogun devices`` under :func:`mesogun.transports.usb.use_backend`) see the
simulator ``sim`` (:class:`sims.inprocess.InProcessSim`) as a USB device: a device descriptor with
:data:`~mesogun.transports.usb.GUN_IDS`' VID:PID, manufacturer, product and serial number strings, one
configuration with a CDC-ACM communication interface (functional descriptors, Union naming the data
interface, an interrupt endpoint) and a data interface with bulk OUT 0x01 and IN 0x82. Claiming the data
interface plugs a new host connection into the simulator; its bulk endpoints carry that connection's bytes.

What it models, so the transport's handling of it is tested: the kernel's ``cdc_acm`` driver bound to both
interfaces at plug (a claim fails with EBUSY until both are detached, as Linux usbfs does), interfaces
claimed by one handle at a time, SET_LINE_CODING / SET_CONTROL_LINE_STATE (kept on :class:`SimUsbDevice`),
bulk transfers in packets of ``packet_size`` bytes ending at a short packet or a zero-length packet (the
device sends a ZLP after a write that ends on a packet boundary, and takes the host's bytes only when a
transfer ends, so a missing ZLP leaves them waiting), and an unplug (:meth:`SimUsbBackend.unplug`; also when the
simulator's own line drops) that fails every later call with ENODEV.

By default the backend never waits (``runs_on_event_loop``: a read with nothing to give times out at once) and
tells the transport on the event loop when bytes arrive, so tests run in virtual time. ``blocking=True``
behaves like libusb instead (reads wait up to their timeout, calls may come from any thread), for the
transport's reader-thread path on a real-time loop.

:func:`usb_guns` is the short way: ``async with usb_guns("USB0001") as (backend, (sim,)):`` then
``mesogun.connect("usb://1209:6D67/USB0001")``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import errno
import struct
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import usb.backend
import usb.core

from mesogun.transports.usb import GUN_PID, GUN_VID, use_backend

if TYPE_CHECKING:
    from sims.inprocess import InProcessSim, SimConnection

CONTROL_INTERFACE = 0
DATA_INTERFACE = 1
EP_NOTIFY = 0x83
EP_OUT = 0x01
EP_IN = 0x82
STRING_MANUFACTURER, STRING_PRODUCT, STRING_SERIAL = 1, 2, 3
LANGID_EN_US = 0x0409

_CDC_FUNCTIONAL = bytes(
    [
        *(5, 0x24, 0x00, 0x10, 0x01),  # Header, CDC 1.10
        *(5, 0x24, 0x01, 0x00, DATA_INTERFACE),  # Call Management
        *(4, 0x24, 0x02, 0x02),  # Abstract Control Management: line coding and serial state
        *(5, 0x24, 0x06, CONTROL_INTERFACE, DATA_INTERFACE),  # Union: master, slave
    ]
)


def _error(text: str, code: int, number: int) -> usb.core.USBError:
    return usb.core.USBError(text, code, number)


def _no_device() -> usb.core.USBError:
    return _error("No such device (it may have been disconnected)", -4, errno.ENODEV)


def _descriptor(**fields: Any) -> SimpleNamespace:
    """A descriptor as pyusb reads it from a backend: its fields as attributes."""
    return SimpleNamespace(**fields)


@dataclass(eq=False)
class SimUsbDevice:
    """One simulated gun on the simulated bus: its descriptors and what the host did to it."""

    sim: InProcessSim
    vid: int
    pid: int
    serial_number: str
    product: str
    manufacturer: str
    packet_size: int
    sends_zlp: bool
    address: int
    loop: asyncio.AbstractEventLoop
    present: bool = True
    configuration: int = 1
    kernel_driver: dict[int, bool] = field(default_factory=dict)
    """Per interface: whether the kernel's cdc_acm driver is bound (True at plug, as on Linux)."""
    claims: dict[int, object] = field(default_factory=dict)
    line_coding: tuple[int, int, int, int] | None = None
    """(rate, stop bits code, parity code, data bits) from the last SET_LINE_CODING."""
    dtr: bool = False
    rts: bool = False
    out_packets: deque[int] = field(default_factory=lambda: deque(maxlen=4096))
    """The sizes of the last OUT packets the host sent (0 is a ZLP)."""
    in_packets: deque[bytes] = field(default_factory=deque)
    """Device-to-host packets waiting for the host's reads."""
    pending_out: bytearray = field(default_factory=bytearray)
    """Host-to-device bytes of a transfer not yet ended (by a short packet or a ZLP)."""
    connection: SimConnection | None = None
    connections: int = 0
    """How many host connections claiming the data interface plugged into the simulator."""

    def descriptor(self) -> SimpleNamespace:
        return _descriptor(
            **{
                "bLength": 18,
                "bDescriptorType": 1,
                "bcdUSB": 0x0200,
                "bDeviceClass": 0x02,
                "bDeviceSubClass": 0,
                "bDeviceProtocol": 0,
                "bMaxPacketSize0": 64,
                "idVendor": self.vid,
                "idProduct": self.pid,
                "bcdDevice": 0x0100,
                "iManufacturer": STRING_MANUFACTURER,
                "iProduct": STRING_PRODUCT,
                "iSerialNumber": STRING_SERIAL,
                "bNumConfigurations": 1,
                "address": self.address,
                "bus": 1,
                "port_number": self.address,
                "port_numbers": (self.address,),
                "speed": 2,  # full speed
            }
        )

    def string(self, index: int) -> str | None:
        return {
            STRING_MANUFACTURER: self.manufacturer,
            STRING_PRODUCT: self.product,
            STRING_SERIAL: self.serial_number,
        }.get(index)


_CONFIGURATION = _descriptor(
    **{
        "bLength": 9,
        "bDescriptorType": 2,
        "wTotalLength": 9 + 9 + len(_CDC_FUNCTIONAL) + 7 + 9 + 7 + 7,
        "bNumInterfaces": 2,
        "bConfigurationValue": 1,
        "iConfiguration": 0,
        "bmAttributes": 0x80,
        "bMaxPower": 50,
        "extra_descriptors": [],
    }
)


def _interface(number: int) -> SimpleNamespace:
    control = number == CONTROL_INTERFACE
    return _descriptor(
        **{
            "bLength": 9,
            "bDescriptorType": 4,
            "bInterfaceNumber": number,
            "bAlternateSetting": 0,
            "bNumEndpoints": 1 if control else 2,
            "bInterfaceClass": 0x02 if control else 0x0A,
            "bInterfaceSubClass": 0x02 if control else 0,
            "bInterfaceProtocol": 0x01 if control else 0,
            "iInterface": 0,
            "extra_descriptors": list(_CDC_FUNCTIONAL) if control else [],
        }
    )


def _endpoint(address: int, attributes: int, size: int, interval: int) -> SimpleNamespace:
    return _descriptor(
        **{
            "bLength": 7,
            "bDescriptorType": 5,
            "bEndpointAddress": address,
            "bmAttributes": attributes,
            "wMaxPacketSize": size,
            "bInterval": interval,
            "bRefresh": 0,
            "bSynchAddress": 0,
            "extra_descriptors": [],
        }
    )


class _Handle:
    """An open device handle (``open_device``'s result)."""

    def __init__(self, device: SimUsbDevice) -> None:
        self.device = device


class SimUsbBackend(usb.backend.IBackend):  # type: ignore[misc]  # pyusb is untyped
    """The simulated USB stack: plug simulated guns in, unplug them, and let pyusb find and drive them."""

    def __init__(self, *, blocking: bool = False) -> None:
        super().__init__()
        self.runs_on_event_loop = not blocking
        """True: never waits, delivers on the event loop (see :mod:`mesogun.transports.usb`)."""
        self._lock = threading.RLock()
        self._arrived = threading.Condition(self._lock)
        self._devices: list[SimUsbDevice] = []
        self._listeners: list[Callable[[], None]] = []
        self._addresses = 0
        self._notify_scheduled = False

    # ------------------------------------------------------------------ the test's side

    def plug(
        self,
        sim: InProcessSim,
        *,
        serial_number: str | None = None,
        vid: int = GUN_VID,
        pid: int = GUN_PID,
        product: str = "MesoGun MG-1 (simulated)",
        manufacturer: str = "mesogun",
        packet_size: int = 64,
        sends_zlp: bool = True,
    ) -> SimUsbDevice:
        """Plug ``sim`` in (on the running event loop) as a new USB device; its serial number is the gun's."""
        with self._lock:
            self._addresses += 1
            device = SimUsbDevice(
                sim=sim,
                vid=vid,
                pid=pid,
                serial_number=serial_number or sim.device.nvm.data.serial_number,
                product=product,
                manufacturer=manufacturer,
                packet_size=packet_size,
                sends_zlp=sends_zlp,
                address=self._addresses,
                loop=asyncio.get_running_loop(),
                kernel_driver={CONTROL_INTERFACE: True, DATA_INTERFACE: True},
            )
            self._devices.append(device)
        return device

    def unplug(self, device: SimUsbDevice | str) -> None:
        """Pull the cable: the device leaves the bus, every call on it fails with ENODEV; the simulator runs on."""
        with self._lock:
            found = [d for d in self._devices if d is device or d.serial_number == device]
            for gone in found:
                gone.present = False
                self._devices.remove(gone)
                connection, gone.connection = gone.connection, None
                if connection is not None:
                    gone.loop.call_soon_threadsafe(connection.close)
                gone.in_packets.clear()
                self._changed(gone)

    @property
    def devices(self) -> list[SimUsbDevice]:
        """The devices plugged in now."""
        with self._lock:
            return list(self._devices)

    def add_listener(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` on the event loop whenever bytes arrive or a device goes away."""
        with self._lock:
            self._listeners.append(callback)

    def remove_listener(self, callback: Callable[[], None]) -> None:
        with self._lock:
            if callback in self._listeners:
                self._listeners.remove(callback)

    def _changed(self, device: SimUsbDevice) -> None:
        """Wake blocked readers now and the listeners on the loop's next turn (never inside the host's call)."""
        self._arrived.notify_all()
        if self._listeners and not self._notify_scheduled and not device.loop.is_closed():
            self._notify_scheduled = True
            device.loop.call_soon_threadsafe(self._call_listeners)

    def _call_listeners(self) -> None:
        with self._lock:
            self._notify_scheduled = False
            listeners = list(self._listeners)
        for listener in listeners:
            listener()

    # ------------------------------------------------------------------ the simulator's side

    def _connect(self, device: SimUsbDevice) -> None:
        """The data interface was claimed: a new host connection into the simulator (on its loop)."""

        def plug_in() -> None:
            connection = device.sim.connect()
            with self._lock:
                device.connection = connection
                device.connections += 1
            connection.set_receiver(lambda data: self._from_device(device, connection, data))

        self._on_loop(device, plug_in)

    def _disconnect(self, device: SimUsbDevice) -> None:
        with self._lock:
            connection, device.connection = device.connection, None
            device.in_packets.clear()
            device.pending_out.clear()
        if connection is not None:
            self._on_loop_soon(device, connection.close)

    def _from_device(self, device: SimUsbDevice, connection: SimConnection, data: bytes) -> None:
        """Device-to-host bytes from the simulator's line: into packets for bulk IN (``b""``: its line dropped)."""
        with self._lock:
            if connection is not device.connection:
                return
            if not data:  # the simulator's own cable pull (sim.unplug(), disconnect_at_s): the USB device goes too
                self.unplug(device)
                return
            size = device.packet_size
            for start in range(0, len(data), size):
                device.in_packets.append(bytes(data[start : start + size]))
            if device.sends_zlp and len(data) % size == 0:
                device.in_packets.append(b"")
            self._changed(device)

    def _on_loop(self, device: SimUsbDevice, work: Callable[[], None]) -> None:
        """Run ``work`` on the simulator's loop and wait for it (at once if called on that loop)."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is device.loop:
            work()
            return
        done: concurrent.futures.Future[None] = concurrent.futures.Future()

        def run() -> None:
            try:
                work()
                done.set_result(None)
            except BaseException as exc:
                done.set_exception(exc)

        device.loop.call_soon_threadsafe(run)
        done.result(timeout=5)

    # ------------------------------------------------------------------ pyusb's IBackend

    def enumerate_devices(self) -> list[SimUsbDevice]:
        with self._lock:
            return list(self._devices)

    def get_parent(self, dev: SimUsbDevice) -> None:
        return None

    def get_device_descriptor(self, dev: SimUsbDevice) -> SimpleNamespace:
        return dev.descriptor()

    def get_configuration_descriptor(self, dev: SimUsbDevice, config: int) -> SimpleNamespace:
        if config != 0:
            raise IndexError("configuration index out of range")
        return _CONFIGURATION

    def get_interface_descriptor(self, dev: SimUsbDevice, intf: int, alt: int, config: int) -> SimpleNamespace:
        if config != 0 or alt != 0 or intf not in (CONTROL_INTERFACE, DATA_INTERFACE):
            raise IndexError("interface index out of range")
        return _interface(intf)

    def get_endpoint_descriptor(self, dev: SimUsbDevice, ep: int, intf: int, alt: int, config: int) -> SimpleNamespace:
        if intf == CONTROL_INTERFACE and ep == 0:
            return _endpoint(EP_NOTIFY, 0x03, 16, 10)
        if intf == DATA_INTERFACE and ep in (0, 1):
            return _endpoint(EP_OUT if ep == 0 else EP_IN, 0x02, dev.packet_size, 0)
        raise IndexError("endpoint index out of range")

    def open_device(self, dev: SimUsbDevice) -> _Handle:
        if not dev.present:
            raise _no_device()
        return _Handle(dev)

    def close_device(self, dev_handle: _Handle) -> None:
        device = dev_handle.device
        for number, holder in list(device.claims.items()):
            if holder is dev_handle:
                self.release_interface(dev_handle, number)

    def set_configuration(self, dev_handle: _Handle, config_value: int) -> None:
        device = self._alive(dev_handle)
        if any(device.kernel_driver.values()):
            raise _error("Resource busy", -6, errno.EBUSY)
        device.configuration = config_value

    def get_configuration(self, dev_handle: _Handle) -> int:
        return self._alive(dev_handle).configuration

    def set_interface_altsetting(self, dev_handle: _Handle, intf: int, altsetting: int) -> None:
        self._alive(dev_handle)
        if altsetting != 0:
            raise _error("Invalid parameter", -2, errno.EINVAL)

    def claim_interface(self, dev_handle: _Handle, intf: int) -> None:
        with self._lock:
            device = self._alive(dev_handle)
            if any(device.kernel_driver.values()):  # Linux usbfs: any interface bound refuses every claim
                raise _error("Resource busy", -6, errno.EBUSY)
            holder = device.claims.get(intf)
            if holder is not None and holder is not dev_handle:
                raise _error("Resource busy", -6, errno.EBUSY)
            if holder is dev_handle:
                return
            device.claims[intf] = dev_handle
        if intf == DATA_INTERFACE:
            self._connect(device)

    def release_interface(self, dev_handle: _Handle, intf: int) -> None:
        device = dev_handle.device
        with self._lock:
            if device.claims.get(intf) is not dev_handle:
                return
            del device.claims[intf]
        if intf == DATA_INTERFACE:
            self._disconnect(device)

    def bulk_write(self, dev_handle: _Handle, ep: int, intf: int, data: Any, timeout: int) -> int:
        payload = bytes(data)
        with self._lock:
            device = self._claimed(dev_handle, intf, ep, EP_OUT)
            size = device.packet_size
            packets = [payload[i : i + size] for i in range(0, len(payload), size)] or [b""]
            device.out_packets.extend(len(p) for p in packets)
            device.pending_out += payload
            if len(packets[-1]) == size:  # ended on a packet boundary: the transfer goes on until a ZLP
                return len(payload)
            whole, device.pending_out = bytes(device.pending_out), bytearray()
            connection = device.connection
        if whole and connection is not None:
            self._on_loop_soon(device, lambda: connection.to_device.send(whole))
        return len(payload)

    def _on_loop_soon(self, device: SimUsbDevice, work: Callable[[], None]) -> None:
        """``work`` on the simulator's loop: now if this is that loop, else queued in order."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is device.loop:
            work()
        else:
            device.loop.call_soon_threadsafe(work)

    def bulk_read(self, dev_handle: _Handle, ep: int, intf: int, buff: Any, timeout: int) -> int:
        deadline = None
        with self._lock:
            while True:
                device = self._claimed(dev_handle, intf, ep, EP_IN)
                got = self._take_transfer(device, len(buff))
                if got is not None:
                    buff[: len(got)] = type(buff)(buff.typecode, got)
                    return len(got)
                if self.runs_on_event_loop:
                    raise usb.core.USBTimeoutError("Operation timed out", -7, errno.ETIMEDOUT)
                now = time.monotonic()
                deadline = now + timeout / 1000 if deadline is None else deadline
                if now >= deadline:
                    raise usb.core.USBTimeoutError("Operation timed out", -7, errno.ETIMEDOUT)
                self._arrived.wait(deadline - now)

    @staticmethod
    def _take_transfer(device: SimUsbDevice, length: int) -> bytes | None:
        """One IN transfer of at most ``length`` bytes: packets up to a short one (a ZLP included) or a full
        buffer; ``None`` if no packet waits. A packet longer than the buffer is libusb's overflow."""
        queue = device.in_packets
        if not queue:
            return None
        if len(queue[0]) > length:
            raise _error("Overflow", -8, errno.EOVERFLOW)
        got = bytearray()
        while queue and len(got) + len(queue[0]) <= length:
            packet = queue.popleft()
            got += packet
            if len(packet) < device.packet_size or len(got) == length:
                break
        return bytes(got)

    def ctrl_transfer(
        self, dev_handle: _Handle, bmRequestType: int, bRequest: int, wValue: int, wIndex: int, data: Any, timeout: int
    ) -> int:
        device = self._alive(dev_handle)
        if bmRequestType == 0x80 and bRequest == 0x06 and wValue >> 8 == 3:  # GET_DESCRIPTOR (string)
            index = wValue & 0xFF
            if index == 0:
                body = struct.pack("<H", LANGID_EN_US)
            else:
                text = device.string(index)
                if text is None:
                    raise _error("Pipe error", -9, errno.EPIPE)
                body = text.encode("utf-16-le")
            blob = (bytes([2 + len(body), 3]) + body)[: len(data)]
            data[: len(blob)] = type(data)(data.typecode, blob)
            return len(blob)
        if bmRequestType == 0x21 and wIndex == CONTROL_INTERFACE:
            if bRequest == 0x20 and len(data) == 7:  # SET_LINE_CODING
                device.line_coding = struct.unpack("<IBBB", bytes(data))
                return 7
            if bRequest == 0x22:  # SET_CONTROL_LINE_STATE
                device.dtr, device.rts = bool(wValue & 1), bool(wValue & 2)
                return 0
        raise _error("Pipe error", -9, errno.EPIPE)  # a request the device stalls

    def clear_halt(self, dev_handle: _Handle, ep: int) -> None:
        self._alive(dev_handle)

    def reset_device(self, dev_handle: _Handle) -> None:
        self._alive(dev_handle)

    def is_kernel_driver_active(self, dev_handle: _Handle, intf: int) -> bool:
        return self._alive(dev_handle).kernel_driver.get(intf, False)

    def detach_kernel_driver(self, dev_handle: _Handle, intf: int) -> None:
        device = self._alive(dev_handle)
        if not device.kernel_driver.get(intf, False):
            raise _error("Entity not found", -5, errno.ENOENT)
        device.kernel_driver[intf] = False

    def attach_kernel_driver(self, dev_handle: _Handle, intf: int) -> None:
        device = self._alive(dev_handle)
        if intf in device.claims:
            raise _error("Resource busy", -6, errno.EBUSY)
        device.kernel_driver[intf] = True

    # ------------------------------------------------------------------ checks

    @staticmethod
    def _alive(dev_handle: _Handle) -> SimUsbDevice:
        if not dev_handle.device.present:
            raise _no_device()
        return dev_handle.device

    def _claimed(self, dev_handle: _Handle, intf: int, ep: int, expected: int) -> SimUsbDevice:
        device = self._alive(dev_handle)
        if ep != expected or intf != DATA_INTERFACE:
            raise _error("Invalid parameter", -2, errno.EINVAL)
        if device.claims.get(intf) is not dev_handle:
            raise _error("Entity not found (interface not claimed)", -5, errno.ENOENT)
        return device


@contextlib.asynccontextmanager
async def usb_guns(
    *serials: str, query: str = "", blocking: bool = False, **plug: Any
) -> AsyncIterator[tuple[SimUsbBackend, list[InProcessSim]]]:
    """Fresh simulated guns (``sim://?serial=SERIAL&query``) plugged into a new :class:`SimUsbBackend` that every
    ``usb://`` opened in the block goes through (:func:`~mesogun.transports.usb.use_backend`); ``plug`` is
    :meth:`SimUsbBackend.plug`'s options. The simulators are closed when the block ends."""
    from sims.inprocess import start_inprocess

    backend = SimUsbBackend(blocking=blocking)
    sims: list[InProcessSim] = []
    try:
        for serial in serials:
            sims.append(await start_inprocess(f"serial={serial}&{query}"))
            backend.plug(sims[-1], **plug)
        with use_backend(backend):
            yield backend, sims
    finally:
        for sim in sims:
            await sim.close()
