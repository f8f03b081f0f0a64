"""The balance driver (mesogun.balance) against the simulated balance in process, in virtual time: every MT-SICS
reply and error as what a technician sees, and weighing what a simulated gun truly delivered."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from mesogun.balance import Balance, BalanceIdentity, Reading, open_balance
from mesogun.balance.errors import (
    INSTRUMENT_ERRORS,
    BalanceDisconnected,
    BalanceError,
    BalanceLogicalError,
    BalanceNeverSettles,
    BalanceNotExecuted,
    BalanceOverload,
    BalanceProtocolError,
    BalanceSyntaxError,
    BalanceTimeout,
    BalanceTransmissionError,
    BalanceUnavailable,
    BalanceUnderload,
    WrongBalanceModel,
)
from mesogun.errors import MesogunError, ParameterError
from mesogun.testing import sim_gun
from sims.vessel import water_density_mg_ul


def simulated(balance: Balance) -> Any:
    """The simulated balance behind a sim-balance:// Balance."""
    assert balance.simulator is not None
    return balance.simulator.balance


def about(reading: Reading, grams: float) -> bool:
    """A stable reading of ``grams`` (to float rounding)."""
    return reading.stable and reading.grams == pytest.approx(grams)


def test_identify_reads_model_serial_firmware_and_readability(virtual: Any) -> None:
    async def scenario() -> None:
        async with await open_balance("sim-balance://?serial=B0042&firmware=2.1.0") as balance:
            identity = await balance.identify()
            assert identity == BalanceIdentity("XPR205", "B0042", "2.1.0", 0.00001, 220.0)
            assert balance.identity == identity
        # a model not in the table: readability and capacity from I2's capacity field
        async with await open_balance("sim-balance://?model=ML54&capacity_g=52&readability_mg=0.1") as balance:
            assert await balance.identify() == BalanceIdentity("ML54", "B900000001", "2.40.1", 0.0001, 52.0)

    virtual(scenario)


def test_zero_tare_and_weigh(virtual: Any) -> None:
    async def scenario() -> None:
        async with await open_balance("sim-balance://?noise_mg=0&load_g=0.5&settle_s=3") as balance:
            assert await balance.stable_weight() == Reading(0.5, stable=True)
            assert await balance.tare() == pytest.approx(0.5)
            assert await balance.stable_weight() == Reading(0.0, stable=True)
            simulated(balance).place(0.02)  # 20 mg
            moving = await balance.immediate_weight()
            assert not moving.stable
            assert about(await balance.stable_weight(), 0.02)
            assert about(await balance.immediate_weight(), 0.02)
            await balance.reset()  # clears the tare, keeps the zero
            assert (await balance.stable_weight()).grams == pytest.approx(0.52)
            await balance.zero()
            assert await balance.stable_weight() == Reading(0.0, stable=True)

    virtual(scenario)


def test_s_is_asked_again_until_stable(virtual: Any) -> None:
    """The balance answers S I after its own 3 s wait; the driver asks again until the load settled (8 s)."""

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        async with await open_balance("sim-balance://?settle_s=8&stability_wait_s=3&noise_mg=0") as balance:
            simulated(balance).place(1.0)
            start = loop.time()
            assert await balance.stable_weight() == Reading(1.0, stable=True)
            assert 8 <= loop.time() - start < 8.5
            assert simulated(balance).received.count("S") == 3

        async with await open_balance("sim-balance://?settle_s=2&unstable_reply=D&noise_mg=0") as balance:
            simulated(balance).place(1.0)  # S D at once while unstable: asked again every 0.1 s
            assert await balance.stable_weight() == Reading(1.0, stable=True)
            assert simulated(balance).received.count("S") > 10

    virtual(scenario)


def test_a_balance_that_never_settles(virtual: Any) -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        async with await open_balance("sim-balance://?noise_mg=1&stability_wait_s=5") as balance:
            start = loop.time()
            with pytest.raises(BalanceNeverSettles) as caught:
                await balance.stable_weight(timeout_s=12)
            assert 12 <= loop.time() - start <= 12 + 5 + 0.2  # at most one more command past the timeout
            error = caught.value
            assert error.timeout_s == 12
            assert error.last is not None and not error.last.stable
            assert "did not settle within 12 s (last reading" in str(error)
            assert "shield it from drafts and vibration" in str(error)
            assert (error.code, error.exit_code) == ("MG804", 4)
            with pytest.raises(BalanceNeverSettles, match="did not zero within 6 s"):
                await balance.zero(timeout_s=6)
            with pytest.raises(BalanceNeverSettles, match="did not tare within 6 s"):
                await balance.tare(timeout_s=6)
        async with await open_balance("sim-balance://?noise_mg=1&unstable_reply=D") as balance:
            with pytest.raises(BalanceNeverSettles) as caught:
                await balance.stable_weight(timeout_s=2)
            assert caught.value.last is not None

    virtual(scenario)


@pytest.mark.parametrize(
    ("query", "error", "message"),
    [
        ("load_g=300", BalanceOverload, "reports overload (S +): the load exceeds its capacity 220 g"),
        ("load_g=-5", BalanceUnderload, "reports underload (S -): less on the pan than its zero allows"),
    ],
)
def test_overload_and_underload(virtual: Any, query: str, error: type[BalanceError], message: str) -> None:
    async def scenario() -> None:
        async with await open_balance(f"sim-balance://?{query}") as balance:
            await balance.identify()
            with pytest.raises(error, match=re.escape(message)):
                await balance.stable_weight()
            with pytest.raises(error):
                await balance.immediate_weight()
            with pytest.raises(error):
                await balance.tare()
            with pytest.raises(error):
                await balance.zero()
            assert error.exit_code == 5

    virtual(scenario)


def test_zero_outside_its_range(virtual: Any) -> None:
    async def scenario() -> None:
        async with await open_balance("sim-balance://?load_g=50") as balance:
            with pytest.raises(BalanceOverload, match=r"cannot zero \(Z \+\).*tare instead"):
                await balance.zero()
            assert await balance.tare() == pytest.approx(50, abs=1e-4)

    virtual(scenario)


@pytest.mark.parametrize(
    ("reply", "error", "message"),
    [
        ("ES", BalanceSyntaxError, "answered 'SI' with ES, syntax error"),
        ("ET", BalanceTransmissionError, "answered 'SI' with ET, transmission error"),
        ("EL", BalanceLogicalError, "answered 'SI' with EL, logical error"),
        ("S I", BalanceNotExecuted, r"did not execute 'SI' \(S I\)"),
        ("S S abc g", BalanceProtocolError, "'abc' is not a number"),
        ("S S 1.5 lb", BalanceProtocolError, "unit 'lb' is not g"),
        ("S Q", BalanceProtocolError, "status 'Q'"),
    ],
)
def test_command_errors(virtual: Any, reply: str, error: type[BalanceError], message: str) -> None:
    async def scenario() -> None:
        async with await open_balance("sim-balance://") as balance:
            simulated(balance).fail_next(reply)
            with pytest.raises(error, match=message) as caught:
                await balance.immediate_weight()
            assert caught.value.command == "SI"
            assert (await balance.immediate_weight()).stable  # the next command is answered normally

    virtual(scenario)


def test_a_reply_in_mg_is_converted(virtual: Any) -> None:
    async def scenario() -> None:
        async with await open_balance("sim-balance://") as balance:
            simulated(balance).fail_next("S S    20.53 mg")
            assert about(await balance.immediate_weight(), 0.02053)

    virtual(scenario)


def test_disconnect_mid_read(virtual: Any) -> None:
    async def scenario() -> None:
        balance = await open_balance("sim-balance://?noise_mg=1&stability_wait_s=60")
        assert balance.simulator is not None
        weighing = asyncio.create_task(balance.stable_weight())
        await asyncio.sleep(1)
        balance.simulator.unplug()
        with pytest.raises(BalanceDisconnected) as caught:
            await weighing
        assert "disconnected during 'S'" in str(caught.value)
        assert "reconnect it and start the measurement again" in str(caught.value)
        with pytest.raises(BalanceDisconnected):
            await balance.immediate_weight()
        await balance.close()

    virtual(scenario)


def test_a_silent_balance_times_out(virtual: Any) -> None:
    async def scenario() -> None:
        async with await open_balance("sim-balance://", reply_timeout_s=4) as balance:
            simulated(balance).detach()  # its replies go nowhere
            with pytest.raises(BalanceTimeout) as caught:
                await balance.identify()
            assert caught.value.timeout_s == 4
            assert "no reply from the balance at sim-balance:// to 'I2' within 4 s" in str(caught.value)
            assert "MT-SICS at 9600 baud, 8 data bits, no parity, 1 stop bit" in str(caught.value)

    virtual(scenario)


def test_wrong_model_is_refused_at_open(virtual: Any) -> None:
    async def scenario() -> None:
        with pytest.raises(WrongBalanceModel) as caught:
            await open_balance("sim-balance://?model=XS204&serial=B77", expected_model="XPR")
        error = caught.value
        assert (error.model, error.expected, error.exit_code) == ("XS204", "XPR", 2)
        assert "is a XS204 (serial number B77), not the expected XPR" in str(error)
        balance = await open_balance("sim-balance://", expected_model="xpr2")  # a family prefix, any case
        assert balance.identity is not None and balance.identity.model == "XPR205"
        await balance.close()

    virtual(scenario)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "must be a serial port, socket://HOST:PORT or sim-balance://"),
        ("foo://x", "unknown scheme foo://"),
        ("sim://", "is a simulated gun; a simulated balance is sim-balance://"),
        ("socket://localhost", "no port number"),
        ("sim-balance://?noise_mg=x", "noise_mg=x is not a number"),
        ("sim-balance://?gun=NOSUCH", "gun=NOSUCH names no simulated gun running in this process"),
    ],
)
def test_bad_urls_are_parameter_errors(virtual: Any, url: str, message: str) -> None:
    async def scenario() -> None:
        with pytest.raises(ParameterError, match=message):
            await open_balance(url)

    virtual(scenario)


def test_bad_timeouts_are_parameter_errors(virtual: Any) -> None:
    async def scenario() -> None:
        with pytest.raises(ParameterError, match="reply_timeout_s=0 must be a number of seconds above 0"):
            await open_balance("sim-balance://", reply_timeout_s=0)
        async with await open_balance("sim-balance://") as balance:
            with pytest.raises(ParameterError, match="timeout_s=-1 must be a number of seconds above 0") as caught:
                await balance.stable_weight(timeout_s=-1)
            assert caught.value.field == "timeout_s"

    virtual(scenario)


def test_a_port_that_does_not_open(real: Any, tmp_path: Any) -> None:
    async def scenario() -> None:
        with pytest.raises(BalanceUnavailable, match=r"the balance at .* does not open: .*no such port") as c:
            await open_balance(str(tmp_path / "ttyUSB9"))
        assert c.value.exit_code == 4

    real(scenario)


def test_error_codes_are_unique_and_in_the_hierarchy() -> None:
    codes = [cls.code for cls in INSTRUMENT_ERRORS]
    assert len(codes) == len(set(codes))
    assert all(code.startswith("MG8") for code in codes)
    assert all(issubclass(cls, MesogunError) for cls in INSTRUMENT_ERRORS)


def test_weighs_ten_shots_a_simulated_gun_truly_delivered(virtual: Any) -> None:
    """10 shots of 20 µL from a gun with the default hidden gain 1.03: ≈ 10 × 20 µL × 1.03 × 0.9982 mg/µL (shown
    with air buoyancy), found by the gun's serial number."""

    async def scenario() -> None:
        async with sim_gun("serial=SIMW0001") as (gun, _sim):
            await gun.load_syringe(capacity_ml=5, fill_ml=5)
            await gun.prime(volume_ml=0.1)
            await gun.configure(depth_mm=1.5, dose_ml=0.02, rate_hz=5, mode="burst")
            await gun.arm()
            async with await open_balance("sim-balance://?gun=SIMW0001&seed=1", expected_model="XPR") as balance:
                await balance.zero()
                await balance.tare()
                await gun.fire(count=10)
                weighed_mg = (await balance.stable_weight()).grams * 1000
            await gun.disarm()
        assert weighed_mg == pytest.approx(10 * 20 * 1.03 * water_density_mg_ul(20), rel=2e-3)
        assert weighed_mg == pytest.approx(10 * 20 * 1.03 * water_density_mg_ul(20) * 0.99895, rel=3e-4)

    virtual(scenario)


def test_noise_readability_and_evaporation_show_in_readings(virtual: Any) -> None:
    async def scenario() -> None:
        async with await open_balance("sim-balance://?seed=11&noise_mg=0.02&evaporation_mg_s=0.01") as balance:
            readings = [(await balance.stable_weight()).grams for _ in range(50)]
            assert len(set(readings)) > 3  # noise
            assert all(abs(g * 1e5 - round(g * 1e5)) < 1e-6 for g in readings)  # on the 0.01 mg grid
            simulated(balance).vessel.receive(20_000)
            first = (await balance.stable_weight()).grams
            await asyncio.sleep(300)
            later = (await balance.stable_weight()).grams
            assert (first - later) * 1000 == pytest.approx(3.0, abs=0.1)  # 0.01 mg/s for 300 s
        async with await open_balance("sim-balance://?seed=11&noise_mg=0.02") as again:
            assert [(await again.stable_weight()).grams for _ in range(50)] == readings  # the same seed

    virtual(scenario)


def test_a_url_of_no_instrument_scheme_is_refused_naming_the_balance(real: Any) -> None:
    async def scenario() -> None:
        with pytest.raises(ParameterError) as c:
            await open_balance("ftp://x")
        assert c.value.field == "balance"
        assert str(c.value) == (
            "balance='ftp://x' is not a balance URL (unknown scheme ftp://): a serial port (e.g. /dev/ttyUSB0), "
            "socket://HOST:PORT or sim-balance://"
        )

    real(scenario)


def test_a_refused_socket_is_one_clean_line(real: Any) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def scenario() -> None:
        with pytest.raises(BalanceUnavailable) as c:
            await open_balance(f"socket://127.0.0.1:{port}")
        message = str(c.value)
        assert message.startswith(f"the balance at socket://127.0.0.1:{port} does not open: ")
        assert message.count(f"socket://127.0.0.1:{port}") == 1 and "Could not open port" not in message

    real(scenario)
