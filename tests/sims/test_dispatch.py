"""The dispatcher's handler registry: a catalog message the device has no handler for is answered
``nak unknown_type`` (the calibration and firmware ranges are reserved), never an exception."""

from __future__ import annotations

from firmware_protocol import (
    CATALOG,
    Catalog,
    Direction,
    Flag,
    Frame,
    MessageSpec,
    NakCode,
    StreamDecoder,
    decode_message,
    encode_frame,
    make,
    to_wire,
)
from sims.clock import run_virtual
from sims.device import SimulatedGun

CALIBRATE_ID = 0x40
"""The first type id of the reserved calibration range."""


def test_a_catalog_message_without_a_handler_gets_nak_unknown_type() -> None:
    extended = Catalog(
        [*CATALOG, MessageSpec(CALIBRATE_ID, "calibrate_depth", Direction.HOST_TO_DEVICE, "reserved", reply="ack")]
    )

    async def main() -> None:
        gun = SimulatedGun(catalog=extended)
        await gun.start()
        out: list[bytes] = []
        gun.attach(out.append)
        gun.receive(encode_frame(Frame(CALIBRATE_ID, 7, b"")))
        gun.receive(to_wire(make("get_status", seq=8)))  # the device still answers afterwards
        replies = [decode_message(f) for f in StreamDecoder().feed(b"".join(out))]
        replies = [m for m in replies if m.flags & Flag.REPLY]
        assert [(m.name, m.seq) for m in replies] == [("nak", 7), ("status", 8)]
        assert replies[0]["code"] is NakCode.UNKNOWN_TYPE
        assert replies[0]["command"] == CALIBRATE_ID
        assert "not implemented" in replies[0]["detail"]
        assert gun.snapshot().executed == {"get_status": 1}
        await gun.close()

    run_virtual(main)
