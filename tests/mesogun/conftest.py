"""Shared fixtures for the host tests: virtual-time runs that fail on leftover tasks, and leak checks."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest

from sims.clock import run_virtual

T = TypeVar("T")


def _run_checked(coro_factory: Callable[[], Coroutine[Any, Any, T]], runner: Callable[..., T]) -> T:
    async def wrapper() -> T:
        result = await coro_factory()
        await asyncio.sleep(0)
        left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
        assert not left, f"the test left tasks running: {left}"
        return result

    return runner(wrapper)


@pytest.fixture
def virtual() -> Callable[[Callable[[], Coroutine[Any, Any, Any]]], Any]:
    """Run a coroutine factory on a fresh virtual-time loop; fail if it leaves tasks behind."""
    return lambda factory: _run_checked(factory, run_virtual)


@pytest.fixture
def real() -> Callable[[Callable[[], Coroutine[Any, Any, Any]]], Any]:
    """Run a coroutine factory on a normal (real-time) loop; fail if it leaves tasks behind."""
    return lambda factory: _run_checked(factory, lambda f: asyncio.run(f()))


@pytest.fixture(autouse=True)
def no_leftover_threads() -> Iterator[None]:
    """Fail any test that leaves a thread running."""
    before = set(threading.enumerate())
    yield
    left = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    for t in left:
        t.join(timeout=2)
    left = [t for t in left if t.is_alive()]
    assert not left, f"the test left threads running: {left}"
