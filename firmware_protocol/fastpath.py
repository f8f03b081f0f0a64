"""A ``struct`` fast path for payloads of fixed-size integers, derived from the construct declarations.

Construct stays the single source of truth: a :class:`FastLayout` is derived from each field's construct
subcon, and only for payloads made of ``Int8ul``/``Int16ul``/``Int32ul``/``Int16sl``/``Flag`` fields, optionally ending
with one u8-counted list of u8 (``status.active_alarms``). Text and u32 lists (``identity``, ``nak``) stay on
construct. Measured need: construct's parse cost 135 µs for a ``status`` payload, the whole budget of a
stream decoder competing with pymavlink (benchmarks/decode); a test keeps both paths byte-for-byte equal.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import construct as cs

if TYPE_CHECKING:
    from firmware_protocol.catalog import Field

_STRUCT_CODES: dict[int, str] = {
    id(cs.Int8ul): "B",
    id(cs.Int16ul): "H",
    id(cs.Int32ul): "I",
    id(cs.Int16sl): "h",
    id(cs.Flag): "?",
}
_BYTE_LIST = "u8 count + u8[]"


@dataclass(frozen=True)
class FastLayout:
    """A payload as one ``struct`` of fixed fields plus an optional trailing u8-counted byte list."""

    head: struct.Struct
    names: tuple[str, ...]
    tail: str | None = None

    @classmethod
    def derive(cls, fields: Sequence[Field]) -> FastLayout | None:
        """The layout of ``fields``, or ``None`` if they are not all fixed-size (bar a trailing byte list)."""
        codes: list[str] = []
        names: list[str] = []
        for index, f in enumerate(fields):
            code = _STRUCT_CODES.get(id(f.wire))
            if code is not None:
                codes.append(code)
                names.append(f.name)
            elif index == len(fields) - 1 and f.wire_type == _BYTE_LIST:
                return cls(struct.Struct("<" + "".join(codes)), tuple(names), f.name)
            else:
                return None
        return cls(struct.Struct("<" + "".join(codes)), tuple(names))

    def parse(self, payload: bytes, offset: int) -> tuple[dict[str, Any], int]:
        """Wire values by name, and where they end; ``ValueError`` if the payload is too short."""
        try:
            values = dict(zip(self.names, self.head.unpack_from(payload, offset)))  # noqa: B905 (same length)
        except struct.error as exc:
            raise ValueError(str(exc)) from None
        end = offset + self.head.size
        if self.tail is not None:
            if end >= len(payload):
                raise ValueError(f"{self.tail}: count byte missing")
            count = payload[end]
            items = payload[end + 1 : end + 1 + count]
            if len(items) != count:
                raise ValueError(f"{self.tail}: {count} items declared, {len(items)} present")
            values[self.tail] = list(items)
            end += 1 + count
        return values, end

    def build(self, values: Mapping[str, Any]) -> bytes:
        """Payload bytes of wire values given by name (integers, booleans, a list of small integers)."""
        data = self.head.pack(*[values[name] for name in self.names])
        if self.tail is None:
            return data
        items = values[self.tail]
        return data + bytes([len(items), *items])
