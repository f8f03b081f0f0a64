"""The tablet's browser tests: a real ``mesogun serve`` process owning a simulator served over TCP in another
process (whose control channel presses the trigger and injects faults), and Debian's Chromium driven by
Playwright (launched by ``executable_path``: no browser is downloaded). Each test gets its own service and
simulator; the browser is shared by a worker's tests, each test in its own browser context (cookies, storage)."""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from mesogun_service.accounts import Role
from mesogun_service.cli import announced_url
from mesogun_service.tablet.i18n import gettext
from sims.control import ControlClient
from sims.spawn import SpawnedSimulator, start_simulator
from tests.mesogun_service.api.clinic_support import TINY, Prepared, start_body
from tests.mesogun_service.conftest import add_user

pytestmark = [pytest.mark.realio, pytest.mark.slow]

REALTIME_GROUP = "realtime"
"""The xdist group of the tests that must not run beside each other on a 2-core machine (``--dist loadgroup``): the
browser tests (Chromium's renderers raise their own priority, nice cannot hold them) and the tests that assert a
real-time limit at the device (tests/reliability/test_system_safety.py)."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every tablet test in the real-time group: one worker runs them one after another."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.xdist_group(REALTIME_GROUP))


SERVE = (sys.executable, "-m", "mesogun.cli", "serve")
SERIAL = "SIM0001"

PRACTITIONER, PRACTITIONER_PIN = "alice", "2468"
"""A practitioner (and technician): the one the flow signs in as."""
ASSISTANT, ASSISTANT_PIN = "carol", "1357"
"""An assistant: prepares, never fires or signs off."""

PORTRAIT = {"width": 820, "height": 1180}
LANDSCAPE = {"width": 1180, "height": 820}
"""The tablet sizes every page is checked at, CSS px."""

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser")


def chromium_path() -> str | None:
    """Debian's Chromium (``apt-get install chromium``), or ``$MESOGUN_CHROMIUM``."""
    named = os.environ.get("MESOGUN_CHROMIUM")
    if named:
        return named
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class TabletService:
    """A running ``mesogun serve`` for the tablet and the simulator it owns."""

    url: str
    process: subprocess.Popen[str]
    sim: SpawnedSimulator
    accounts: Path
    record: Path
    api: httpx.Client
    """Signed in as the practitioner (bearer token): to set things up or check them without the page."""
    log: list[str] = field(default_factory=list)

    def control(self, command: str, **arguments: Any) -> dict[str, Any]:
        """One request on the simulator's control channel (``press``, ``fault``, ``snapshot``…)."""
        assert self.sim.control is not None
        with ControlClient(self.sim.control) as channel:
            reply: dict[str, Any] = channel.request(command, **arguments)
            return reply

    def device(self) -> dict[str, Any]:
        """What the simulated device itself says now (its snapshot: state, shots, alarms)."""
        snapshot: dict[str, Any] = self.control("snapshot")["snapshot"]
        return snapshot

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        """An API call that must succeed; its JSON."""
        reply = self.api.request(method, path, **kwargs)
        assert reply.status_code == 200, reply.text
        return reply.json()


def start_service(workdir: Path, *extra: str) -> TabletService:
    """A simulator (TCP, control channel) and ``mesogun serve`` owning it on a free port, with two users, its files
    in ``workdir``; :func:`stop_service` ends both."""
    accounts = workdir / "accounts.sqlite"
    add_user(accounts, PRACTITIONER, PRACTITIONER_PIN, (Role.TECHNICIAN,))
    add_user(accounts, ASSISTANT, ASSISTANT_PIN, (Role.ASSISTANT,))
    record = workdir / "record.sqlite"
    sim = start_simulator("--tcp", "127.0.0.1:0", "--serial", SERIAL, "--control", "127.0.0.1:0")
    command = [*SERVE, "--accounts", str(accounts), "--device", sim.address, "--port", "0", "--no-socket"]
    proc = subprocess.Popen(
        [*command, "--db", str(record), *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    url = announced_url(proc.stdout.readline())
    if url is None:
        proc.kill()
        sim.stop()
        raise AssertionError(f"the service did not start: {proc.communicate(timeout=10)[1][-2000:]}")
    api = httpx.Client(base_url=url, timeout=15)
    login = api.post("/auth/login", json={"user": PRACTITIONER, "pin": PRACTITIONER_PIN})
    api.headers["Authorization"] = f"Bearer {login.json()['token']}"
    for _ in range(200):  # the service connects to its gun after it listens: up to 20 s on a loaded machine
        if all(gun["connected"] for gun in api.get("/guns").json()):
            break
        time.sleep(0.1)
    return TabletService(url, proc, sim, accounts, record, api)


def stop_service(service: TabletService) -> None:
    """SIGTERM the service (it stops and disarms its gun), then stop the simulator."""
    proc = service.process
    try:
        if proc.poll() is None:
            proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.communicate(timeout=20)
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    finally:
        service.api.close()
        service.sim.stop()


@contextlib.contextmanager
def serving(tmp_path: Path, *extra: str) -> Iterator[TabletService]:
    """:func:`start_service` for a ``with`` block (a test that needs its own options: ``--grace 2``)."""
    running = start_service(tmp_path, *extra)
    try:
        yield running
    finally:
        stop_service(running)


class Spares:
    """Services started one test ahead: while a test runs (mostly waiting on Chromium and the simulator's real
    time), the next test's service starts, and the last one stops, in worker threads; each test still gets a
    fresh service and simulator of its own, in a folder of its own."""

    def __init__(self) -> None:
        self._threads = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="tablet-spare")
        self._next: dict[tuple[str, ...], concurrent.futures.Future[TabletService]] = {}
        self._stopping: list[concurrent.futures.Future[None]] = []
        self._folders: list[Path] = []

    def _start(self, extra: tuple[str, ...]) -> TabletService:
        folder = Path(tempfile.mkdtemp(prefix="mesogun-tablet-"))
        self._folders.append(folder)
        return start_service(folder, *extra)

    def take(self, *extra: str) -> TabletService:
        """A fresh service with ``extra`` options now (the one started ahead, if any), and the next one started."""
        ready = self._next.pop(extra, None) or self._threads.submit(self._start, extra)
        self._next[extra] = self._threads.submit(self._start, extra)
        return ready.result()

    def give_back(self, used: TabletService) -> None:
        """Stop a test's service in the background."""
        self._stopping.append(self._threads.submit(stop_service, used))

    def close(self) -> None:
        """Stop every service still running (the one started ahead for no test included) and remove the folders."""
        for ahead in self._next.values():
            with contextlib.suppress(Exception):
                stop_service(ahead.result())
        for stopping in self._stopping:
            with contextlib.suppress(Exception):
                stopping.result()
        self._threads.shutdown()
        for folder in self._folders:
            shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def spares() -> Iterator[Spares]:
    """This worker's services started ahead."""
    pool = Spares()
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def service(spares: Spares) -> Iterator[TabletService]:
    """This test's own service and simulator (started while the previous test ran)."""
    running = spares.take()
    try:
        yield running
    finally:
        spares.give_back(running)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for this module's tests (headless); skipped where it is not installed, except in CI, where it must
    be. Module-scoped, not session-scoped: Playwright's sync API keeps an event loop running in the worker's main
    thread while it is open, and the suite's asyncio tests that the same xdist worker runs next need that thread's
    loop free (pytest ends a module's fixtures before a test of another module starts)."""
    path = chromium_path()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is not installed: .ci/run installs it (apt-get install chromium)")
        pytest.skip("Chromium is not installed (apt-get install chromium, or set MESOGUN_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


def new_tablet(
    browser: Any, service: TabletService, *, viewport: dict[str, int] = PORTRAIT, language: str = "en"
) -> Any:
    """A new tablet: its own browser context (cookies) at ``viewport`` in ``language``, on the service."""
    context = browser.new_context(viewport=viewport, locale=language, base_url=service.url)
    context.set_default_timeout(10_000)
    return context.new_page()


@pytest.fixture
def tablet(browser: Any, service: TabletService) -> Iterator[Any]:
    """One tablet (a Playwright page, portrait, English) on this test's service, not signed in yet."""
    page = new_tablet(browser, service)
    try:
        yield page
    finally:
        page.context.close()


def sign_in(page: Any, user: str = PRACTITIONER, pin: str = PRACTITIONER_PIN) -> None:
    """Sign in on the tablet's sign-in page, as the practitioner by default, in the page's language, and wait for
    the page after."""
    page.goto("/tablet/sign-in")
    language = page.evaluate("document.documentElement.lang")
    page.get_by_label(gettext(language, "User")).fill(user)
    page.get_by_label(gettext(language, "PIN")).fill(pin)
    page.get_by_role("button", name=gettext(language, "Sign in")).click()
    page.wait_for_url(lambda url: "/sign-in" not in url)


SCREENSHOTS = Path(os.environ.get("MESOGUN_SCREENSHOTS", "")) if os.environ.get("MESOGUN_SCREENSHOTS") else None
"""Where :func:`screenshot` keeps pictures (``$MESOGUN_SCREENSHOTS``); unset, it keeps none."""


def screenshot(page: Any, name: str) -> None:
    """Keep a picture of what the tablet shows (its screen, as the practitioner sees it: the docked Emergency stop
    where it is) as ``NAME.png``, and of the whole page as ``NAME-full.png``, when ``$MESOGUN_SCREENSHOTS`` names a
    folder."""
    if SCREENSHOTS is not None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
        page.screenshot(path=str(SCREENSHOTS / f"{name}-full.png"), full_page=True)


def open_session(service: TabletService, *, preset: str = "tiny") -> int:
    """A patient, a course on ``preset`` (the clinic preset ``tiny`` by default: soft limits 2.0 mm, 0.1 mL a zone),
    a lot, and a treatment session started on the gun in the forehead through the API (the checklist all clear, a
    BD syringe, a 32G 4 mm needle: clinic_support's start); its visit id."""
    if preset == TINY["name"]:
        service.ok("POST", "/presets", json=TINY)
    patient = service.ok("POST", "/patients", json={"pseudonym": "P-0001"})
    course = service.ok(
        "POST",
        f"/patients/{patient['id']}/courses",
        json={"indication": "skin rejuvenation", "planned_sessions": 4, "interval_days": 14, "preset": preset},
    )
    lot = service.ok("POST", "/lots", json={"product": "NCTF 135 HA", "lot_number": "L2403", "expiry": "2099-12-31"})
    body = start_body(Prepared(patient["id"], course["id"], lot["id"], expired_lot=0))
    return int(service.ok("POST", f"/guns/{SERIAL}/treatments", json=body)["visit_id"])
