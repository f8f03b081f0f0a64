"""Test support for code that drives a gun: the pytest plugin behind ``--gun-url`` (hardware-in-the-loop)."""
