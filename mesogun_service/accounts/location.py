"""Where the accounts store lives by default: light to import (the CLI's help text names it without loading
the database layer)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

ACCOUNTS_ENV = "MESOGUN_ACCOUNTS"
"""The accounts store to use when none is given."""


def default_accounts_path() -> Path:
    """Where the accounts live unless told otherwise (``--accounts``, ``MESOGUN_ACCOUNTS``): the user's data folder."""
    return Path(platformdirs.user_data_dir("mesogun")) / "accounts.sqlite"


def accounts_path(given: Path | None = None) -> Path:
    """The store to open: ``given``, else ``$MESOGUN_ACCOUNTS``, else :func:`default_accounts_path` with its
    folders created (only the default location's: a mistyped path is an error, not a new folder)."""
    if given is not None:
        return given
    env = os.environ.get(ACCOUNTS_ENV)
    if env:
        return Path(env)
    default = default_accounts_path()
    default.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    return default
