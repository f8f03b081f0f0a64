"""Bounded fan-out of events to any number of subscribers: a slow subscriber never stalls the others.

Policy: each subscriber has its own bounded queue; when it is full, that subscriber's *oldest* event is
dropped and counted in :attr:`Subscription.missed` (the freshest state matters most for a live display).
Publishing never awaits, so the link's reader task is never held up by a consumer.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Subscription(Generic[T]):
    """One subscriber's bounded queue; iterate it, or call :meth:`get`. Raises the close reason at the end."""

    def __init__(self, owner: FanOut[T], maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize={maxsize} must be at least 1 event")
        self._owner = owner
        self._items: deque[T] = deque()
        self._maxsize = maxsize
        self._wakeup = asyncio.Event()
        self._closed: BaseException | None = None
        self._finished = False
        self.missed = 0
        """Events dropped because this subscriber fell behind (oldest first)."""

    def _push(self, item: T) -> None:
        if self._finished:
            return
        if len(self._items) >= self._maxsize:
            self._items.popleft()
            self.missed += 1
        self._items.append(item)
        self._wakeup.set()

    def _finish(self, reason: BaseException | None) -> None:
        if not self._finished:
            self._finished = True
            self._closed = reason
            self._wakeup.set()

    def take_missed(self) -> int:
        """Return and reset the count of events this subscriber missed."""
        missed, self.missed = self.missed, 0
        return missed

    def get_nowait(self) -> T | None:
        """The next queued event, or ``None`` if none is queued."""
        return self._items.popleft() if self._items else None

    async def get(self) -> T:
        """The next event; when the source closed and the queue is drained, raise its reason (or StopAsyncIteration)."""
        while not self._items:
            if self._finished:
                if self._closed is not None:
                    raise self._closed
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()
        return self._items.popleft()

    def close(self) -> None:
        """Stop receiving events; :meth:`get` then ends once the queue is drained."""
        self._owner.unsubscribe(self)
        self._finish(None)

    def __aiter__(self) -> AsyncIterator[T]:
        return self

    async def __anext__(self) -> T:
        return await self.get()


class FanOut(Generic[T]):
    """Publishes each item to every current subscriber without ever waiting."""

    def __init__(self) -> None:
        self._subs: list[Subscription[T]] = []
        self._closed: BaseException | None = None
        self._finished = False

    def subscribe(self, maxsize: int = 256) -> Subscription[T]:
        """A new subscription that receives every item published from now on."""
        sub: Subscription[T] = Subscription(self, maxsize)
        if self._finished:
            sub._finish(self._closed)
        else:
            self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription[T]) -> None:
        """Forget ``sub`` (idempotent)."""
        if sub in self._subs:
            self._subs.remove(sub)

    def publish(self, item: T) -> None:
        """Queue ``item`` for every subscriber (each drops its own oldest item when full)."""
        for sub in self._subs:
            sub._push(item)

    def close(self, reason: BaseException | None = None) -> None:
        """End every subscription; once drained, their ``get`` raises ``reason`` (or ends iteration)."""
        self._finished = True
        self._closed = reason
        subs, self._subs = self._subs, []
        for sub in subs:
            sub._finish(reason)

    @property
    def subscriber_count(self) -> int:
        """How many subscriptions are open."""
        return len(self._subs)
