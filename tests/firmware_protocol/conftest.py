"""Shared Hypothesis strategies for the protocol tests, derived from the catalog's field kinds and wire types.

Strategies are handed to tests through session-scoped fixtures (test modules cannot import each other
under ``--import-mode=importlib``); a test draws from them with ``st.data()``.
"""

from __future__ import annotations

from typing import Any

import construct as cs
import pytest
from hypothesis import strategies as st

from firmware_protocol import CATALOG, Catalog, Field, FieldKind, Frame, Message, MessageSpec, make, to_wire
from firmware_protocol.framing import MAX_PAYLOAD

#: Text fields stay short so that a message with several of them (identity) fits in MAX_PAYLOAD.
TEXT_MAX_CHARS = 40
LIST_MAX_ITEMS = 8


def _uint(construct: Any) -> st.SearchStrategy[int]:
    """Every value of an unsigned integer construct, from its size in bytes."""
    return st.integers(0, 2 ** (8 * construct.sizeof()) - 1)


def _int(f: Field) -> st.SearchStrategy[int]:
    """Every value of an integer field: unsigned, or signed (``i16``) in two's complement."""
    if f.wire_type.startswith("i"):
        half = 2 ** (8 * f.wire.sizeof() - 1)
        return st.integers(-half, half - 1)
    return _uint(f.wire)


def _array_item(construct: Any) -> Any:
    """The item construct of a ``PrefixedArray`` (a FocusedSeq of a count and an Array of items)."""
    (items,) = [sub.subcon for sub in construct.subcons if isinstance(sub.subcon, cs.Array)]
    return items.subcon


def field_values(f: Field, catalog: Catalog = CATALOG) -> st.SearchStrategy[Any]:
    """Any valid value of one field, chosen by its kind and its construct wire type."""
    kind = f.kind
    if kind is FieldKind.INT:
        return _int(f)
    if kind is FieldKind.BOOL:
        return st.booleans()
    if kind is FieldKind.TEXT:
        return st.text(max_size=TEXT_MAX_CHARS)
    if kind is FieldKind.INT_LIST:
        return st.lists(_uint(_array_item(f.wire)), max_size=LIST_MAX_ITEMS)
    if kind is FieldKind.RECORD_LIST:
        record = st.fixed_dictionaries({r.name: field_values(r, catalog) for r in f.record})
        return st.lists(record, max_size=LIST_MAX_ITEMS)
    if kind is FieldKind.BYTES:
        return st.binary(max_size=64)
    if kind is FieldKind.MESSAGE_TYPE:
        unknown_ids = st.integers(0, 255).filter(lambda i: i not in catalog.by_id)
        return st.sampled_from([m.name for m in catalog]) | unknown_ids
    assert f.enum is not None
    members = st.sampled_from(list(f.enum))
    if kind is FieldKind.ENUM:
        return members
    return st.lists(members, max_size=LIST_MAX_ITEMS)


@st.composite
def messages_of(draw: st.DrawFn, spec: MessageSpec, catalog: Catalog = CATALOG) -> Message:
    """Any valid message of one catalog entry; an ``ack`` of an echoing command carries its fields too."""
    values = {f.name: draw(field_values(f, catalog)) for f in spec.fields}
    command = values.get("command")
    echoed = catalog.by_name.get(command) if spec.name == "ack" and isinstance(command, str) else None
    if echoed is not None and echoed.echoes:
        values.update({f.name: draw(field_values(f, catalog)) for f in echoed.fields})
    seq = draw(st.integers(0, 0xFFFF))
    flags = draw(st.integers(0, 0xFF))
    return make(spec.name, seq, flags, catalog, **values)


def any_message(catalog: Catalog = CATALOG) -> st.SearchStrategy[Message]:
    """Any valid message of any catalog entry."""
    return st.sampled_from(list(catalog)).flatmap(lambda spec: messages_of(spec, catalog))


def frames(max_payload: int = 64) -> st.SearchStrategy[Frame]:
    """Any valid frame at the framing layer (type, flags and version need not be in the catalog)."""
    return st.builds(
        Frame,
        msg_type=st.integers(0, 0xFF),
        seq=st.integers(0, 0xFFFF),
        payload=st.binary(max_size=min(max_payload, MAX_PAYLOAD)),
        flags=st.integers(0, 0xFF),
        version=st.integers(0, 0xFF),
    )


@pytest.fixture(scope="session")
def message_strategy() -> st.SearchStrategy[Message]:
    """Any valid message of the catalog."""
    return any_message()


@pytest.fixture(scope="session")
def messages_of_spec() -> Any:
    """``messages_of_spec(spec)``: any valid message of that catalog entry."""
    return messages_of


@pytest.fixture(scope="session")
def frame_strategy() -> st.SearchStrategy[Frame]:
    """Any valid frame at the framing layer, payload up to 64 bytes."""
    return frames()


@pytest.fixture(scope="session")
def appendix_commands() -> list[dict[str, Any]]:
    """The host→device commands of the issue's appendix, exactly as written there."""
    return [
        {"type": "hello", "seq": 1},
        {"type": "heartbeat", "seq": 2},
        {"type": "get_status", "seq": 3},
        {"type": "load_syringe", "seq": 4, "capacity_nl": 5000000, "fill_nl": 5000000},
        {"type": "prime", "seq": 5, "volume_nl": 100000},
        {"type": "set_parameters", "seq": 6, "depth_um": 2500, "dose_nl": 50000, "rate_mhz": 3000, "mode": "burst"},
        {"type": "arm", "seq": 7},
        {"type": "fire", "seq": 8, "count": 10},
        {"type": "stop", "seq": 9},
        {"type": "emergency_stop", "seq": 10},
        {"type": "clear_alarm", "seq": 11},
        {"type": "disarm", "seq": 12},
    ]


@pytest.fixture(scope="session")
def sample_wires() -> list[bytes]:
    """Wire bytes of a few real messages of different shapes (empty, fixed, echoing ack, text, lists)."""
    from firmware_protocol.rules import REFERENCE_IDENTITY

    samples = [
        make("fire", seq=8, count=10),
        make("arm", seq=7),
        make("ack", seq=6, flags=2, command="set_parameters", depth_um=2500, dose_nl=50000, rate_mhz=3000, mode=1),
        make("nak", seq=9, flags=2, command="fire", code="wrong_state", detail="fire while idle"),
        make("identity", seq=1, flags=2, **REFERENCE_IDENTITY),
    ]
    return [to_wire(m) for m in samples]
