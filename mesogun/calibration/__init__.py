"""Technician calibration (issue 16; docs/calibration.md): the run's record (:mod:`.results`), its metrology
(:mod:`.metrology`: Z factor, statistics, fits, corrections, uncertainty) and its certificate (:mod:`.certificate`).

Nothing here is imported by ``import mesogun``; the certificate loads fpdf2 and matplotlib only when it renders.
"""
