"""Reliability campaign (issue 6): fuzzing, soak, crash durability, safety timing and bad input.

Each module is a runnable script (``python -m benchmarks.reliability.soak --help``) that prints a JSON
summary. The oracles they run live in :mod:`mesogun.testing.reliability`, which ``tests/reliability``
runs in short versions in the normal suite (benchmarks import the oracles, never the other way round).
"""
