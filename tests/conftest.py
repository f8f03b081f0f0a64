"""Fixtures every test shares: a private user data directory, and the one way to run a coroutine in virtual time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from sims.clock import run_virtual

T = TypeVar("T")

Runner = Callable[[Callable[[], Coroutine[Any, Any, Any]]], Any]
"""``run(factory)``: run the coroutine ``factory()`` on a fresh loop and return its result."""

USER_ENV = ("MESOGUN_DB", "MESOGUN_DEVICE", "MESOGUN_ACCOUNTS", "MESOGUN_SERVICE", "MESOGUN_TOKEN")
"""The user's own settings that would point the CLI at their record or their gun; no test may inherit them."""


@pytest.fixture(autouse=True)
def private_user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point HOME and the XDG data and runtime directories (where the record lives by default, and the gun
    service's well-known socket) at a fresh directory.

    The suite must never write to the user's treatment record: a command run without ``--db`` (in this
    process or in a child, which inherits the environment) lands here instead; nor may a command find the user's
    running gun service and go through it.
    """
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(home / "run"))
    for name in USER_ENV:
        monkeypatch.delenv(name, raising=False)
    return home


def _run_checked(coro_factory: Callable[[], Coroutine[Any, Any, T]], runner: Callable[..., T]) -> T:
    """Run the coroutine with ``runner``; fail if it leaves tasks behind (a leaked reader or timer)."""

    async def wrapper() -> T:
        result = await coro_factory()
        await asyncio.sleep(0)
        left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
        assert not left, f"the test left tasks running: {left}"
        return result

    return runner(wrapper)


@pytest.fixture
def virtual() -> Runner:
    """Run a coroutine factory on a fresh virtual-time loop; fail if it leaves tasks behind."""
    return lambda factory: _run_checked(factory, run_virtual)


@pytest.fixture
def real() -> Runner:
    """Run a coroutine factory on a normal (real-time) loop; fail if it leaves tasks behind."""
    return lambda factory: _run_checked(factory, lambda f: asyncio.run(f()))
