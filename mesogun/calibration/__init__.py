"""Technician calibration of a gun (issue 16): the device's calibration over its calibration message family
(:mod:`mesogun.calibration.device`), and what a calibration run measures, computes and certifies.

A subpackage on top of a connected :class:`~mesogun.session.gun.Gun`; it owns no I/O of its own.
"""
