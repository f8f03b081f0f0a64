"""pytest plugin (entry point ``pytest11``): write a scenario once, run it on the simulator or on a real gun.

Option ``--gun-url URL`` (default ``sim://``, or ``$MESOGUN_GUN_URL``). Fixtures:

* ``gun``: a connected async :class:`~mesogun.session.gun.Gun`, with a treatment record attached (``gun_record``);
  ``async def`` tests that use it run on the plugin's event loop, so no asyncio plugin is needed;
* ``gun_sync``: the blocking twin, for plain ``def`` tests (on ``sim://`` the same virtual-time gun as ``gun``, so
  it combines with ``sim``; on hardware :func:`mesogun.sync.connect` on a background thread);
* ``sim``: the in-process simulator handle (fault injection, unplug); a test that uses it is skipped when
  the URL is not ``sim://``;
* ``gun_connect``: opens another connection to the same device (after the first one vanished);
* ``gun_record``: the :class:`~mesogun.record.TreatmentRecord` the ``gun`` fixture writes to.

On ``sim://`` the loop runs on virtual time (:mod:`sims.clock`): simulated minutes take wall seconds. Mark a
test ``@pytest.mark.sim_options(corrupt=0.0008, seed=1)`` to give its simulator extra options (the names of
``mesogun sim --help``); they are added to the URL's query.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn
from urllib.parse import urlencode, urlsplit

import pytest

from mesogun.errors import LinkError
from mesogun.record import SessionRecorder, TreatmentRecord
from mesogun.session.controller import HostState
from mesogun.session.gun import Gun, connect
from mesogun.transports import transport_for_url
from mesogun.transports.base import Transport
from mesogun.transports.sim import SimTransport

if TYPE_CHECKING:
    from mesogun.sync import SyncGun
    from sims.inprocess import InProcessSim

URL_ENV = "MESOGUN_GUN_URL"
GunConnect = Callable[[], contextlib.AbstractAsyncContextManager[Gun]]


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--gun-url``."""
    group = parser.getgroup("mesogun", "mesogun hardware-in-the-loop")
    group.addoption(
        "--gun-url",
        default=os.environ.get(URL_ENV, "sim://"),
        metavar="URL",
        help=f"gun the HIL fixtures connect to: sim:// (default, virtual time), a serial port such as "
        f"/dev/ttyACM0, or socket://HOST:PORT. Default: ${URL_ENV} or sim://",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the plugin's marker; keep looptime's own pytest plugin from breaking runs without pytest-asyncio."""
    config.addinivalue_line("markers", "sim_options(**options): extra options for this test's simulated gun")
    # looptime (our virtual clock) also registers a pytest plugin that assumes pytest-asyncio is installed and
    # errors on every fixture when it is not (looptime 0.9). We use looptime's loop directly, not that plugin.
    manager = config.pluginmanager
    if manager.getplugin("asyncio") is None:
        plugin = manager.get_plugin("looptime_plugin")
        if plugin is not None:
            manager.unregister(plugin)


def _unreachable(session: pytest.Session, url: str, error: LinkError) -> NoReturn:
    """Fail this test with one line naming the gun that could not be reached, and stop the session there (no
    traceback per test)."""
    message = (
        f"mesogun: cannot reach the gun at --gun-url {url}: {error} (check the URL, the cable and that the gun "
        "is on; --gun-url sim:// runs on the simulator)"
    )
    session.shouldstop = message
    pytest.fail(message, pytrace=False)


def is_simulator(url: str) -> bool:
    """True for the in-process simulator's URL."""
    return urlsplit(url).scheme == "sim"


def _test_url(request: pytest.FixtureRequest) -> str:
    url: str = request.config.getoption("--gun-url")
    marker = request.node.get_closest_marker("sim_options")
    if marker is None or not is_simulator(url):
        return url
    parts = urlsplit(url)
    extra = urlencode({k: str(v) for k, v in marker.kwargs.items()})
    query = f"{parts.query}&{extra}" if parts.query else extra
    return f"sim://?{query}"


def _skip_unless_simulator(url: str) -> None:
    if not is_simulator(url):
        pytest.skip(f"needs the in-process simulator (--gun-url sim://); this run targets {url}")


@pytest.fixture
def gun_url(request: pytest.FixtureRequest) -> str:
    """The URL of the gun under test (with this test's ``sim_options``)."""
    return _test_url(request)


@pytest.fixture
def gun_loop(gun_url: str) -> Iterator[asyncio.AbstractEventLoop]:
    """The event loop the async fixtures and tests run on: virtual time for ``sim://``, real time otherwise."""
    if is_simulator(gun_url):
        from sims.clock import new_virtual_loop

        loop = new_virtual_loop()
    else:
        loop = asyncio.new_event_loop()
    try:
        yield loop
    finally:
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


@pytest.fixture
def sim(gun_url: str, gun_loop: asyncio.AbstractEventLoop) -> Iterator[InProcessSim]:
    """The in-process simulated gun behind ``gun``; skips the test when the URL is not a simulator."""
    _skip_unless_simulator(gun_url)
    from sims.inprocess import start_inprocess

    simulator = gun_loop.run_until_complete(start_inprocess(urlsplit(gun_url).query))
    try:
        yield simulator
    finally:
        gun_loop.run_until_complete(simulator.close())


@pytest.fixture
def gun_record(tmp_path: Path) -> Iterator[TreatmentRecord]:
    """The treatment record the ``gun`` fixture writes to (a fresh file per test)."""
    with TreatmentRecord(tmp_path / "hil-record.sqlite") as record:
        yield record


@pytest.fixture
def gun_connect(request: pytest.FixtureRequest, gun_url: str, gun_record: TreatmentRecord) -> GunConnect:
    """A factory: ``async with gun_connect() as gun:`` opens a new connection to the device under test."""

    if "sim" in request.fixturenames:  # skip before connecting to hardware the test cannot use
        _skip_unless_simulator(gun_url)
    simulator = request.getfixturevalue("sim") if is_simulator(gun_url) else None

    def transport() -> Transport:
        if simulator is not None:
            return SimTransport.attach(simulator, gun_url)
        return transport_for_url(gun_url)

    @contextlib.asynccontextmanager
    async def open_gun() -> AsyncIterator[Gun]:
        manager = connect(transport(), recorder=SessionRecorder(gun_record))
        failed: LinkError | None
        try:
            opened = await manager.__aenter__()
        except LinkError as error:
            failed = error
        else:
            failed = None
        if failed is not None:  # outside the except block: the one line, without the exception chain
            _unreachable(request.session, gun_url, failed)
        try:
            yield opened
        except BaseException as exc:
            if not await manager.__aexit__(type(exc), exc, exc.__traceback__):
                raise
        else:
            await manager.__aexit__(None, None, None)

    return open_gun


@pytest.fixture
def gun(gun_loop: asyncio.AbstractEventLoop, gun_connect: GunConnect) -> Iterator[Gun]:
    """A connected async Gun with no latched alarm (a real gun keeps the last test's); on teardown it is
    stopped, disarmed and closed."""
    manager = gun_connect()
    opened = gun_loop.run_until_complete(manager.__aenter__())
    if opened.state in (HostState.ALARM, HostState.EMERGENCY_STOP):
        gun_loop.run_until_complete(opened.clear_alarm())
    try:
        yield opened
    finally:
        gun_loop.run_until_complete(manager.__aexit__(None, None, None))


@pytest.fixture
def gun_sync(request: pytest.FixtureRequest, gun_url: str, gun_record: TreatmentRecord) -> Iterator[SyncGun]:
    """The blocking twin of ``gun``, for plain ``def`` tests: the same record, alarm clearing and teardown.

    On ``sim://`` it is ``gun`` itself seen through :func:`mesogun.sync.blocking`: its calls run the plugin's
    virtual-time loop in the test's thread (time stands still between calls), and it can be combined with
    ``sim``. On hardware it runs its own loop in a background thread (heartbeats keep going between calls).
    """
    from mesogun.sync import blocking
    from mesogun.sync import connect as sync_connect

    if is_simulator(gun_url):
        yield blocking(request.getfixturevalue("gun"), request.getfixturevalue("gun_loop"))
        return
    if "sim" in request.fixturenames:  # skip before connecting to hardware the test cannot use
        _skip_unless_simulator(gun_url)
    manager = sync_connect(gun_url, recorder=SessionRecorder(gun_record))
    failed: LinkError | None
    try:
        opened = manager.__enter__()
    except LinkError as error:
        failed = error
    else:
        failed = None
    if failed is not None:
        _unreachable(request.session, gun_url, failed)
    try:
        if opened.state in (HostState.ALARM, HostState.EMERGENCY_STOP):
            opened.clear_alarm()
        yield opened
    finally:
        manager.__exit__(None, None, None)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run ``async def`` tests that use the plugin's fixtures on the plugin's loop."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj) or "gun_loop" not in pyfuncitem.funcargs:
        return None
    loop = pyfuncitem.funcargs["gun_loop"]
    assert isinstance(loop, asyncio.AbstractEventLoop)
    arguments = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    loop.run_until_complete(pyfuncitem.obj(**arguments))
    return True
