"""``mesogun.shot_counter``: the device's u32 lifetime counter counted on past its 2**32 wrap."""

from __future__ import annotations

from mesogun.shot_counter import WRAP, on_wire, unwrap


def test_an_index_unwraps_to_the_lifetime_number_nearest_the_reference() -> None:
    assert unwrap(0, WRAP - 1) == WRAP, "the shot after 2**32 - 1"
    assert unwrap(WRAP - 1, WRAP + 3) == WRAP - 1, "a late event from before the wrap"
    assert unwrap(7, 5) == 7 and unwrap(3, 5) == 3 and unwrap(7, None) == 7
    assert unwrap(WRAP + 2, WRAP + 1) == WRAP + 2, "an index already unwrapped stays as it is"
    assert on_wire(WRAP + 2) == 2 and on_wire(WRAP - 1) == WRAP - 1
