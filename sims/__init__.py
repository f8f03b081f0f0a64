"""The simulated mesotherapy gun: firmware model, physics, faults, and serving it (pty, TCP, serial, in-process)."""
