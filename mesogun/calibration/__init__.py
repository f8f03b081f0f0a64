"""Technician calibration (issue 16; docs/calibration.md): the device's calibration over its calibration message
family (:mod:`.device`), the run's record (:mod:`.results`), its metrology (:mod:`.metrology`: Z factor,
statistics, fits, corrections, uncertainty), its certificate (:mod:`.certificate`), and the procedure a technician
runs (:mod:`.procedure`, over the seams of :mod:`.seams`).

On top of a connected :class:`~mesogun.session.gun.Gun`; it owns no I/O of its own. Nothing here is imported by
``import mesogun``; the certificate loads fpdf2 and matplotlib only when it renders.
"""
