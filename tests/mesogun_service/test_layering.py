"""The service sits on top: neither the host library, the contract nor the simulator imports it (the `mesogun`
command finds `serve` and `users` through an entry point), so a script using `mesogun` never loads FastAPI."""

from __future__ import annotations

import subprocess
import sys

from tests.firmware_protocol.test_layering import ROOT, _imports


def test_no_package_below_the_service_imports_it() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for package in ("mesogun", "firmware_protocol", "sims")
        for path in sorted((ROOT / package).rglob("*.py"))
        if any(name.split(".")[0] == "mesogun_service" for name in _imports(path))
    ]
    assert offenders == []


def test_using_the_host_library_loads_no_web_framework() -> None:
    web = "{'fastapi', 'uvicorn', 'starlette', 'mesogun_service'}"
    code = f"import sys, mesogun, mesogun.record; print(sorted({{m.split('.')[0] for m in sys.modules}} & {web}))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_the_mesogun_command_offers_the_services_commands() -> None:
    result = subprocess.run([sys.executable, "-m", "mesogun.cli", "--help"], capture_output=True, text=True, check=True)
    assert "serve" in result.stdout and "users" in result.stdout


def test_the_tablet_sits_on_top_of_the_service() -> None:
    """The API, accounts and the rest of the service never import the tablet's pages; only the app installs them."""
    offenders = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "mesogun_service").rglob("*.py"))
        if "tablet" not in path.relative_to(ROOT / "mesogun_service").parts and path.name != "app.py"
        if any(name.startswith("mesogun_service.tablet") for name in _imports(path))
    ]
    assert offenders == []
