"""The clinic's workflow rules, without I/O: patients and courses, checklists, product lots, zones, presets
with soft limits, and the session summary every report is made from (docs/record.md).

One implementation of each rule: the CLI, the Python API and the gun service all call these functions; the
record (:mod:`mesogun.record`) stores what they decided.
"""
