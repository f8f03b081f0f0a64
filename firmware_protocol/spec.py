"""Deprecated alias: the reference values now live in :mod:`firmware_protocol.rules`.

Kept only so that old imports of ``firmware_protocol.spec.REFERENCE_IDENTITY`` (a test fixture) keep
working until they are moved; it re-exports the rules' values and renders nothing (the renderer is
:mod:`firmware_protocol.tools.spec`).
"""

from __future__ import annotations

from firmware_protocol.rules import ALARM_PRIORITIES as REFERENCE_ALARM_PRIORITIES
from firmware_protocol.rules import FIELD_LIMITS, REFERENCE_IDENTITY, STATE_TABLE

__all__ = ["FIELD_LIMITS", "REFERENCE_ALARM_PRIORITIES", "REFERENCE_IDENTITY", "STATE_TABLE"]
