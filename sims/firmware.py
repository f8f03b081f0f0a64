"""The firmware update family on the simulated gun, and the application's side of its bootloader.

:class:`FirmwareUpdate` owns the gun's program flash (:mod:`sims.flash`, beside the NVM file when there is one),
its :class:`~sims.bootloader.Bootloader` and its :class:`~sims.smp_server.SmpServer`. At every power-on it boots
(a swap resumed or started, the image verified), then runs the booted image's self-test for
``DeviceConfig.self_test_ms``: a passing image confirms itself, a failing one resets the gun so MCUboot reverts it.
``smp_request`` carries one SMP frame to the server and ``smp_response`` carries its answer back; an SMP reset
is answered first and done :data:`RESET_DELAY_MS` later. A planned power cut (:meth:`FirmwareUpdate.plan_power_cut`)
strikes the flash where it was planned; the gun then powers on again.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from firmware_protocol import DeviceState, Message
from firmware_protocol.catalog import SMP_FRAME_MAX
from sims.bootloader import Bootloader, Layout, ParsedImage, build_factory_image, read_manifest
from sims.core import DeviceCore
from sims.dispatch import CommandHandler, Reply
from sims.flash import FLASH_SUFFIX, Flash, PowerCut
from sims.smp_server import SmpServer

RESET_DELAY_MS = 50
"""How long after answering an SMP reset the gun resets (its answer leaves first)."""

_BUSY_STATES = frozenset({DeviceState.ARMED, DeviceState.FIRING, DeviceState.PRIMING})
_SELF_TEST_TIMER = "firmware.self_test"
_RESET_TIMER = "firmware.reset"


class FirmwareUpdate:
    """The gun's flash, bootloader and SMP server (``reset``: reboot the gun, no alarm: a deliberate reset or the
    supply coming back after a power cut)."""

    def __init__(self, core: DeviceCore, reset: Callable[[], None], nvm_path: Path | None) -> None:
        cfg = core.config
        self._core = core
        self._reset = reset
        layout = Layout(cfg.flash_sector_size, cfg.firmware_slot_size // cfg.flash_sector_size)
        path = nvm_path.with_name(nvm_path.name + FLASH_SUFFIX) if nvm_path is not None else None
        self.flash = Flash(layout.flash_size, layout.sector_size, path)
        factory = cfg.factory_image or build_factory_image(
            cfg.firmware_version,
            model=cfg.model,
            hardware_revision=cfg.hardware_revision,
            slot_size=layout.slot_size,
        )
        self.bootloader = Bootloader(
            self.flash,
            layout,
            public_key=cfg.firmware_key,
            factory_image=factory,
            model=cfg.model,
            hardware_revision=core.nvm.data.hardware_revision,
        )
        self.server = SmpServer(
            self.bootloader, busy=self._busy, request_reset=self._schedule_reset, self_test_failed=self._failed
        )
        self.self_test: str | None = None
        """The running image's self-test: ``"pass"``, ``"fail"``, or ``None`` while it runs."""
        self.power_cuts = 0
        """Power cuts that struck the flash since this object was made."""

    @property
    def running(self) -> ParsedImage:
        """The image booted last."""
        assert self.bootloader.running is not None, "the gun has not booted"
        return self.bootloader.running

    @property
    def version(self) -> str:
        """The running image's version (``identity.firmware_version``)."""
        return self.running.version

    def registry(self) -> dict[str, CommandHandler]:
        """Message name → handler: the firmware update family's commands."""
        return {"smp_request": CommandHandler(self._smp_request)}

    def handle_smp(self, frame: bytes, *, buf_size: int) -> bytes:
        """One SMP request frame from any endpoint: its response frame (a power cut propagates)."""
        return self.server.handle(frame, buf_size=buf_size)

    def plan_power_cut(self, *, at_operation: int | None = None, at_phase: str | None = None) -> None:
        """Cut the power during the ``at_operation``-th flash operation from now, or on entering ``at_phase``
        (phases: upload.start, upload.chunk, upload.complete, confirm, boot, swap.start, swap.sector,
        swap.finish, swap.done, swap.refused, boot.app)."""
        self.flash.plan_power_cut(at_operation=at_operation, at_phase=at_phase)

    # ------------------------------------------------------------------ power-on

    def power_on(self) -> None:
        """Boot: resume or start a swap, verify and boot slot 0 (power cuts meanwhile: power comes back, boot
        again), then start the booted image's self-test."""
        self.server.power_on()
        while True:
            try:
                image = self.bootloader.boot()
                break
            except PowerCut:
                self.power_cuts += 1
        self.self_test = None
        manifest = read_manifest(image.payload)
        delay = self._core.config.self_test_ms / 1000
        self._core.timers.at(_SELF_TEST_TIMER, self._core.now() + delay, lambda: self._self_test(manifest))

    def _self_test(self, manifest: dict[str, str]) -> None:
        if manifest.get("self_test") == "fail":
            self.self_test = "fail"
            self._reset()  # the image never confirms; its reset brings the previous one back
            return
        self.self_test = "pass"
        try:
            if not self.bootloader.trailer(0).image_ok:
                self.bootloader.confirm_running()
        except PowerCut:
            self.power_cuts += 1
            self._reset()

    # ------------------------------------------------------------------ SMP

    def _smp_request(self, message: Message) -> Reply:
        return "smp_response", {"frame": self.server.handle(bytes(message["frame"]), buf_size=SMP_FRAME_MAX)}

    def _busy(self) -> str | None:
        state = self._core.state
        if state in _BUSY_STATES:
            return f"the gun is {state.json_name}; disarm it first"
        return None

    def _failed(self) -> bool:
        return self.self_test == "fail" or read_manifest(self.running.payload).get("self_test") == "fail"

    def _schedule_reset(self) -> None:
        self._core.timers.at(_RESET_TIMER, self._core.now() + RESET_DELAY_MS / 1000, self._reset)
