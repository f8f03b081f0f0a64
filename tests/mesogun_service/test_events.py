"""The live event stream: any number of clients see every shot; a client that does not read is dropped behind
(told how many events it missed) without delaying the gun or the others."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx


async def _read_events(client: httpx.AsyncClient, path: str, until_shots: int, into: list[tuple[str, Any]]) -> None:
    async with client.stream("GET", path) as reply:
        assert reply.headers["content-type"].startswith("text/event-stream")
        kind = ""
        async for line in reply.aiter_lines():
            if line.startswith("event:"):
                kind = line.partition(":")[2].strip()
            elif line.startswith("data:"):
                into.append((kind, json.loads(line.partition(":")[2])))
                if sum(1 for k, _ in into if k == "shot") >= until_shots:
                    return


def test_every_client_sees_every_shot_and_a_stalled_one_is_told_it_missed_events(real, running_service) -> None:
    async def scenario() -> None:
        async with running_service() as svc:
            await svc.ready_to_treat()
            streams: list[list[tuple[str, Any]]] = [[] for _ in range(3)]
            readers = [asyncio.create_task(_read_events(svc.client, svc.gun("/events"), 8, into)) for into in streams]
            stalled = svc.service.guns.get(svc.serial).subscribe(maxsize=4)  # a client that never reads
            await asyncio.sleep(0.3)
            await svc.ok("POST", svc.gun("/arm"))
            fired = await svc.ok("POST", svc.gun("/fire"), json={"count": 8})
            await asyncio.wait_for(asyncio.gather(*readers), 10)
            expected = [s["index"] for s in fired["shots"]]
            for events in streams:
                assert events[0][0] == "status"  # where things stand first
                assert [data["index"] for kind, data in events if kind == "shot"] == expected
                assert not [kind for kind, _ in events if kind == "missed"]
            assert stalled.take_missed() > 0
            stalled.close()

    real(scenario)
