"""Technician calibration (issue 16): the device's calibration over its message family, the instruments that
measure it, the metrology, the procedure a technician runs (:mod:`mesogun.calibration.procedure`) and its record.

Loaded only when a calibration runs or a certificate is made, never with ``import mesogun``.
"""
