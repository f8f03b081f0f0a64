"""The simulated USB stack (``mesogun.testing.usb_backend``) as plain pyusb code sees it: a CDC-ACM device with
its descriptors and strings, the kernel's driver in the way until detached, one claimer at a time, an unplug."""

from __future__ import annotations

import errno
from typing import Any

import pytest
import usb.core
import usb.util

from mesogun.testing.usb_backend import usb_guns


def test_pyusb_finds_a_cdc_acm_gun_with_its_strings_and_endpoints(virtual: Any) -> None:
    async def scenario() -> None:
        async with usb_guns("USB0001", "USB0002") as (backend, _):
            devices = list(usb.core.find(find_all=True, idVendor=0x1209, idProduct=0x6D67, backend=backend))
            assert [d.serial_number for d in devices] == ["USB0001", "USB0002"]
            device = devices[0]
            assert (device.manufacturer, device.product) == ("mesogun", "MesoGun MG-1 (simulated)")
            configuration = device.get_active_configuration()
            classes = [(i.bInterfaceNumber, i.bInterfaceClass, i.bInterfaceSubClass) for i in configuration]
            assert classes == [(0, 0x02, 0x02), (1, 0x0A, 0)]
            data = configuration[(1, 0)]
            assert sorted((e.bEndpointAddress, e.wMaxPacketSize) for e in data) == [(0x01, 64), (0x82, 64)]
            assert usb.core.find(idVendor=0x1209, idProduct=0x0001, backend=backend) is None
            for found in devices:
                usb.util.dispose_resources(found)

    virtual(scenario)


def test_a_claim_waits_for_every_kernel_driver_to_go_and_one_program_holds_the_gun(virtual: Any) -> None:
    async def scenario() -> None:
        async with usb_guns("USB0001") as (backend, _):
            first = usb.core.find(idVendor=0x1209, backend=backend)
            second = usb.core.find(idVendor=0x1209, backend=backend)
            first.detach_kernel_driver(1)
            with pytest.raises(usb.core.USBError) as busy:  # interface 0 still bound: usbfs refuses any claim
                usb.util.claim_interface(first, 1)
            assert busy.value.errno == errno.EBUSY
            first.detach_kernel_driver(0)
            usb.util.claim_interface(first, 1)
            with pytest.raises(usb.core.USBError) as taken:
                usb.util.claim_interface(second, 1)
            assert taken.value.errno == errno.EBUSY
            assert backend.devices[0].connections == 1  # claiming the data interface plugged into the simulator
            backend.unplug("USB0001")
            with pytest.raises(usb.core.USBError) as gone:
                first.read(0x82, 64, 100)
            assert gone.value.errno == errno.ENODEV
            assert usb.core.find(idVendor=0x1209, backend=backend) is None
            usb.util.dispose_resources(first)
            usb.util.dispose_resources(second)

    virtual(scenario)
