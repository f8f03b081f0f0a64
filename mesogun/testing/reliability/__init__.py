"""Reliability oracles: fuzz targets, soak, crash durability, safety timing and bad-input cases.

Each module runs one part of the reliability campaign and judges it (a summary with ``ok`` and its counts).
``tests/reliability`` runs short versions in the normal suite; ``benchmarks/reliability`` holds the
campaign scripts (``python -m benchmarks.reliability.soak --help``) that run them at length and print JSON.
"""
