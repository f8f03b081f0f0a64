"""Reliability campaign (issue 6): fuzzing, soak, crash durability, safety timing and bad input.

Each module is a runnable script (``python -m benchmarks.reliability.soak --help``) that prints a JSON
summary; ``tests/reliability`` runs short versions of the same code in the normal suite.
"""
