"""firmware_protocol is the contract only: importing it never loads its tooling, and neither the simulator
nor the host imports the tooling."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_importing_the_contract_does_not_import_the_tools() -> None:
    code = "import sys, firmware_protocol; print(any(m.startswith('firmware_protocol.tools') for m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_sims_mesogun_and_the_contract_never_import_the_tools() -> None:
    offenders = []
    for package in ("sims", "mesogun", "firmware_protocol"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if "tools" in path.relative_to(ROOT).parts or path.name == "__main__.py":
                continue
            if any(name.startswith("firmware_protocol.tools") for name in _imports(path)):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
