"""Host-test fixtures: fail a test that leaves a thread running (``virtual``, ``real``: tests/conftest.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest


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
