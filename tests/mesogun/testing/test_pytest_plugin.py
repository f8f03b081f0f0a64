"""The HIL pytest plugin as a user meets it: --gun-url, the fixtures, and skips on hardware."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

SCENARIOS = """
import pytest

from firmware_protocol import AlarmCode, DeviceState
from mesogun import DeviceAlarm

async def test_async_gun_fires(gun, gun_record):
    await gun.load_syringe(capacity_ml=2)
    await gun.prime(volume_ml=0.01)
    await gun.configure(depth_mm=1.5, dose_ml=0.01, rate_hz=10, mode="burst")
    await gun.arm()
    assert len(await gun.fire(count=3)) == 3
    assert sum(s.shots_recorded for s in gun_record.sessions()) == 3

def test_blocking_twin(gun_sync):
    gun_sync.load_syringe(capacity_ml=2)
    gun_sync.prime(volume_ml=0.01)
    gun_sync.configure(rate_hz=10, mode="burst")
    gun_sync.arm()
    assert len(gun_sync.fire(count=2)) == 2
    gun_sync.disarm()

async def test_fault_injection(gun, sim):
    sim.device.inject("occlusion", after_shots=1)
    await gun.load_syringe(capacity_ml=2)
    await gun.prime(volume_ml=0.01)
    await gun.configure(rate_hz=10, mode="burst")
    await gun.arm()
    with pytest.raises(DeviceAlarm) as caught:
        await gun.fire(count=3)
    assert caught.value.alarm is AlarmCode.OCCLUSION and len(caught.value.shots) == 1
    assert sim.device.shots_lifetime == 1 and sim.device.state is DeviceState.ALARM

@pytest.mark.sim_options(serial="OPT0001")
async def test_sim_options_marker(gun):
    assert gun.info.serial_number == "OPT0001"
"""


def test_scenarios_run_on_the_simulator_by_default(pytester: pytest.Pytester) -> None:
    """Default --gun-url sim://: async and blocking fixtures, fault injection and per-test options all run."""
    pytester.makepyfile(test_scenarios=SCENARIOS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)


VIRTUAL_TIME = """
import looptime

def fire_twenty_at_two_per_second(gun_sync, gun_loop):
    gun_sync.load_syringe(capacity_ml=2)
    gun_sync.prime(volume_ml=0.01)
    gun_sync.configure(dose_ml=0.01, rate_hz=2, mode="burst")
    gun_sync.arm()
    device_before, loop_before = gun_sync.refresh_status().device_time, gun_loop.time()
    assert len(gun_sync.fire(count=20)) == 20
    # 20 shots at 2 shots/s take 9.5 s on the device's clock, which is the plugin's looptime (virtual) clock:
    assert isinstance(gun_loop, looptime.LoopTimeEventLoop)
    assert gun_sync.refresh_status().device_time - device_before >= 9.5
    assert gun_loop.time() - loop_before >= 9.5

def test_blocking_gun_alone(gun_sync, gun_loop):
    fire_twenty_at_two_per_second(gun_sync, gun_loop)

def test_blocking_gun_with_the_simulator(gun_sync, sim, gun_loop, gun_record):
    sim.device.inject("occlusion", after_shots=25)
    fire_twenty_at_two_per_second(gun_sync, gun_loop)
    assert sim.device.shots_session == 20
    assert sum(s.shots_recorded for s in gun_record.sessions()) == 20
"""


def test_gun_sync_runs_in_virtual_time_and_combines_with_sim(pytester: pytest.Pytester) -> None:
    """A plain ``def`` test with gun_sync on sim://: a 20-shot burst at 2 shots/s advances the device's clock,
    the plugin's virtual one, by 9.5 s (nobody waits for it in real time); with ``sim`` it is the same
    simulator, and its shots reach the plugin's treatment record."""
    pytester.makepyfile(test_virtual=VIRTUAL_TIME)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_sim_only_tests_are_skipped_on_hardware(pytester: pytest.Pytester) -> None:
    """--gun-url pointing at a port: a test asking for the sim fixture is skipped, naming the URL."""
    pytester.makepyfile(test_scenarios=SCENARIOS)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--gun-url", "/dev/does-not-exist", "-k", "fault", "-rs"
    )
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*needs the in-process simulator*/dev/does-not-exist*"])


def test_gun_url_is_documented_in_help(pytester: pytest.Pytester) -> None:
    """pytest --help lists --gun-url with its default."""
    result = pytester.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines(["*--gun-url=URL*"])


def test_an_unreachable_gun_is_one_clear_error_for_the_session(pytester: pytest.Pytester) -> None:
    """--gun-url nobody answers: the run stops at the first test with one line naming the URL, not a traceback
    per test (async and blocking fixtures alike)."""
    pytester.makepyfile(test_scenarios=SCENARIOS)
    url = "socket://127.0.0.1:9"
    for selected in ("async_gun or sim_options", "blocking"):
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--gun-url", url, "-k", selected)
        result.assert_outcomes(errors=1)  # the first test; the session stops there
        output = result.stdout.str() + result.stderr.str()
        assert f"cannot reach the gun at --gun-url {url}" in output, output
        assert output.count("ERROR at setup") == 1, output  # one error for the session, not one per test
        assert "Traceback" not in output and "site-packages" not in output and "LinkError" not in output, output
        assert "During handling" not in output and "direct cause" not in output, output
