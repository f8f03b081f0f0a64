"""The reports load their libraries only when used, and ship their templates and font as package data."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from tests.firmware_protocol.test_layering import ROOT

HEAVY = (
    "{'jinja2', 'markupsafe', 'fpdf', 'fontTools', 'PIL', 'pypdf', 'matplotlib', 'numpy', 'uncertainties', 'smpclient',"
    " 'smp', 'pydantic', 'imgtool', 'babel'}"
)
"""What the exports, the calibration's math and certificate and the firmware update load only when they run: every
CLI start would pay for them (smpclient alone, with pydantic, took 0.4 s)."""


def test_the_host_library_and_the_command_load_no_report_calibration_or_firmware_library() -> None:
    code = (
        "import sys, mesogun, mesogun.cli, mesogun.reports, mesogun.reports.content, mesogun.clinic.aftercare\n"
        "import mesogun.cli.calibrate, mesogun.cli.firmware_commands\n"
        "from click.testing import CliRunner\n"
        "assert CliRunner().invoke(mesogun.cli.cli, ['--help']).exit_code == 0\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {HEAVY}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_every_template_and_font_is_declared_package_data() -> None:
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    package = ROOT / "mesogun" / "reports"
    shipped = {p for pattern in patterns["mesogun.reports"] for p in package.glob(pattern)}
    data = {p for folder in ("templates", "fonts") for p in (package / folder).iterdir() if p.is_file()}
    assert data and data <= shipped
    assert {"session_report.html", "aftercare.html", "DejaVuSans.ttf", "DejaVuSans-Bold.ttf"} <= {p.name for p in data}
    assert Path(package / "fonts" / "LICENSE-DejaVu.txt").read_text().count("Permission is hereby granted") == 2
