"""Build a started :class:`~sims.device.SimulatedGun` from checked :class:`~sims.options.SimOptions`."""

from __future__ import annotations

from sims.device import SimulatedGun
from sims.nvm import Nvm, NvmData
from sims.options import SimOptions


async def start_device(options: SimOptions) -> SimulatedGun:
    """Open the NVM (creating it with the factory values if new), power the device on, schedule faults."""
    cfg = options.device
    nvm = Nvm(options.nvm_path, NvmData.factory(cfg), shot_log_capacity=cfg.shot_log_capacity)
    device = SimulatedGun(cfg, nvm=nvm)
    await device.start()
    for fault in options.faults:
        device.schedule_fault(fault)
    return device
