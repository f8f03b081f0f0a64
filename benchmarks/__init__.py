"""Reproducible performance measurements of mesogun against named peers, reported as same-run ratios.

Run ``python -m benchmarks [--quick] [--json]`` from the repository root; peers come from the
``bench`` extra (``pip install -e '.[bench]'``). See benchmarks/RESULTS.md for the latest figures.
"""
