"""Firmware update: MCUboot images, their transfer over SMP, the device's slots (issue 17)."""
