"""The record benchmarks' throw-away PostgreSQL cluster: :mod:`mesogun.testing.postgres` (as the record tests use)
with ``fsync`` on, since the benchmarks time durable commits; a cluster that cannot start is :class:`Unavailable`."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from benchmarks.errors import Unavailable
from mesogun.testing import postgres


def server_programs() -> Path:
    """The folder of initdb and pg_ctl; :class:`Unavailable` if absent."""
    try:
        return postgres.server_programs()
    except postgres.PostgresUnavailable as exc:
        raise Unavailable(str(exc)) from None


@contextlib.contextmanager
def cluster() -> Iterator[str]:
    """A running cluster with fsync on; yields a URL template with ``{database}`` (see :func:`new_database`)."""
    try:
        with postgres.cluster(
            durable=True, prefix="mesogun-bench-pg-", options="-c max_connections=20 -c shared_buffers=128MB"
        ) as template:
            yield template
    except postgres.PostgresUnavailable as exc:
        raise Unavailable(str(exc)) from None


def new_database(template: str) -> str:
    """The URL of a new, empty database in the cluster of ``template``."""
    return postgres.new_database(template, prefix="bench")
