"""A small soak over a damaged, flaky link: nothing duplicated (in the record or on the device), nothing lost,
every received shot exact."""

from __future__ import annotations

from mesogun.testing.reliability.soak import SoakConfig, run_soak


def test_small_soak_with_bit_errors_drops_and_unplugs_loses_and_duplicates_no_shot() -> None:
    """Corruption 8e-4/byte, drops 1e-3/byte, 5 ms latency, an unplug every ~15 device seconds."""
    summary = run_soak(SoakConfig(commands=1200, shots=250, unplug_every_s=15.0, seed=7))
    assert summary["commands_sent"] >= 1200
    assert summary["shots_fired_device_counter"] >= 250
    assert summary["unplugs"] >= 1 and summary["reconnects"] >= 1
    assert summary["retries"] > 0, "the damaged link should have forced retries"
    assert summary["duplicates"] == 0
    assert summary["lost"] == 0
    assert summary["phantom"] == 0
    assert summary["received_details_mismatched"] == 0
    assert summary["shots_recorded"] == summary["shots_fired_device_counter"] == summary["shots_fired_device_log"]
    fires = summary["fire_commands"]  # counted on the device: the record's primary key hides duplicates
    assert fires["sent"]["fire"] >= 20
    assert fires["duplicated"] == 0 and fires["unexpected"] == 0 and fires["acked_not_executed"] == 0
    assert summary["commands_executed_on_device"]["ok"]
    assert summary["ok"]
