"""Where the accounts store lives by default: light to import (the CLI's help text names it without loading
the database layer)."""

from __future__ import annotations

from pathlib import Path

import platformdirs


def default_accounts_path() -> Path:
    """Where the accounts live unless told otherwise (``--accounts``, ``MESOGUN_ACCOUNTS``): the user's data folder."""
    return Path(platformdirs.user_data_dir("mesogun")) / "accounts.sqlite"
