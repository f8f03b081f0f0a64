"""The package's public names are the objects they name, and the users CLI starts without FastAPI."""

from __future__ import annotations

import subprocess
import sys

import mesogun_service.accounts as accounts
from mesogun_service.accounts import auth, routes


def test_every_public_name_is_the_object_it_names() -> None:
    for name in accounts.__all__:
        value = getattr(accounts, name)
        assert not isinstance(value, type(sys)), f"{name} is a module"
    assert accounts.principal is auth.principal
    assert accounts.install is routes.install


def test_the_store_and_the_cli_import_no_fastapi() -> None:
    code = "import sys, mesogun_service.accounts.cli; print('fastapi' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "False"
