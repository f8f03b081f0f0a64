"""The link-level refusals a tablet meets, each read exactly as before in English and in French: a gun not
connected, a command or a wait that got no answer in time, a device of another protocol, a port that closed under
the gun, and a reconnect that did not find the gun again (the operating system's own words quoted as given)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest

import mesogun
from mesogun.errors import ConnectionLost, IncompatibleDevice, LinkTimeout, PortNotFound
from mesogun.i18n.errors import refusal
from mesogun.session.timeouts import Timeouts
from mesogun.transports.sim import SimTransport
from sims.factory import start_device
from sims.options import parse_query
from sims.serving import TcpServer


def test_a_gun_not_connected_and_an_unanswered_hello(virtual: Any) -> None:
    gun = mesogun.Gun(SimTransport("sim://"))
    with pytest.raises(ConnectionLost) as caught:
        _ = gun.info
    assert str(caught.value) == "not connected" and refusal(caught.value, "fr") == "le pistolet n'est pas connecté"

    async def scenario() -> LinkTimeout:
        with pytest.raises(LinkTimeout) as caught:
            async with mesogun.connect("sim://?drop=1&seed=1", ack_timeout=0.05, retries=1):
                pass
        return caught.value

    timeout = virtual(scenario)
    assert str(timeout).startswith("hello got no reply after 2 attempts of 0.05 s each (seq ")
    assert refusal(timeout, "fr").startswith("hello sans réponse (tentatives : 2, de 0,05 s chacune ; séquence ")


def test_a_wait_that_outlasts_its_timeout_and_a_device_of_another_protocol(virtual: Any) -> None:
    async def scenario() -> LinkTimeout:
        async with mesogun.connect("sim://?serial=SIM0505") as gun:
            await gun.load_syringe(capacity_ml=5)
            gun.timeouts = replace(gun.timeouts, settle=0.001)  # priming takes longer than this
            with pytest.raises(LinkTimeout) as caught:
                await gun.prime(volume_ml=0.1)
            return caught.value

    waited = virtual(scenario)
    assert str(waited) == "the device did not report priming to finish within 0.001 s"
    assert refusal(waited, "fr") == "l'appareil n'a pas signalé la fin de l'amorçage en 0,001 s"

    async def incompatible() -> IncompatibleDevice:
        with pytest.raises(IncompatibleDevice) as caught:
            async with mesogun.connect("sim://?serial=SIM0506&fingerprint=0x12345678"):
                pass
        return caught.value

    other = virtual(incompatible)
    assert str(other).startswith("device SIM0506 speaks protocol 1 with core fingerprint 0x12345678; this host speaks ")
    assert refusal(other, "fr").startswith(
        "l'appareil SIM0506 parle le protocole 1 avec l'empreinte de base 0x12345678 ; ce logiciel parle le protocole "
    )
    assert refusal(other, "fr").endswith(" (mettez à jour ce logiciel ou le micrologiciel)")


def test_a_device_that_went_away_and_a_reconnect_that_does_not_find_it(real: Any) -> None:
    async def scenario() -> tuple[str, ConnectionLost, PortNotFound]:
        options = parse_query("serial=SIM0507")
        device = await start_device(options)
        server = TcpServer(device, options)
        host, port = await server.start("127.0.0.1", 0)
        url = f"socket://{host}:{port}"
        try:
            gun = mesogun.Gun(mesogun.transport_for_url(url), timeouts=Timeouts())
            await gun.open()
            try:
                await server.close()  # the gun goes away
                with pytest.raises(ConnectionLost) as lost:
                    async with asyncio.timeout(10):
                        async for _ in gun.events():
                            pass
                with pytest.raises(PortNotFound) as gone:
                    await gun.reconnect(attempts=1, interval=0.01)
            finally:
                await gun.close()
        finally:
            await server.close()
            await device.close()
        return url, lost.value, gone.value

    url, lost, gone = real(scenario)
    assert str(lost) == f"{url}: port closed or unplugged (readable but no data)"
    assert refusal(lost, "fr") == f"{url} : port fermé ou débranché (lisible mais sans données)"
    assert str(gone).startswith(f"gun SIM0507 did not come back after 1 attempts: cannot open {url}: ")
    assert "Connection refused" in str(gone)  # the operating system's words, in English
    french = refusal(gone, "fr")
    assert french.startswith(f"le pistolet SIM0507 n'est pas revenu (tentatives : 1) : impossible d'ouvrir {url} : « ")
    assert french.endswith("Connection refused »")
