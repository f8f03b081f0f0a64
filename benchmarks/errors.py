"""Exceptions the runner understands: a benchmark that cannot run here says why and is skipped."""

from __future__ import annotations


class Unavailable(RuntimeError):
    """A prerequisite is missing (socat, a peer library, the host or simulator); the message says how to fix it."""
