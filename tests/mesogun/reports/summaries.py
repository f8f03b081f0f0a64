"""Session summaries made by hand for the report tests (and for looking at the reports): a short session and a
long one whose tables run over several pages."""

from __future__ import annotations

from mesogun.clinic.summary import (
    AdverseEvent,
    AlarmSeen,
    ChecklistAnswer,
    LotUsed,
    Override,
    SessionSummary,
    SignOff,
    ZoneTotal,
)

SCRIPT_NOTE = "<script>alert('x')</script> & tell the patient"

CHECKLIST = (
    ChecklistAnswer("pregnancy", "Pregnant or breastfeeding?", False, ""),
    ChecklistAnswer("clotting", "Clotting disorder, or anticoagulants such as aspirin?", False, ""),
    ChecklistAnswer("infection", "Active skin infection in the area?", False, ""),
    ChecklistAnswer("eczema", "Eczema or psoriasis in the area?", False, ""),
    ChecklistAnswer("allergy", "Known allergy to an ingredient?", False, ""),
    ChecklistAnswer("retinol", "Retinol or alcohol in the last days?", True, "retinol cream 3 days ago; area avoided"),
)


def short() -> SessionSummary:
    """A two-zone face session, signed, one lot, nothing went wrong."""
    return SessionSummary(
        visit_id=17,
        patient="P-7Q2K",
        patient_name=None,
        practitioner="Dr Ada Moreau",
        course_id=4,
        indication="Face rejuvenation",
        session_number=2,
        planned_sessions=4,
        interval_days=14,
        devices=("MG-0042",),
        opened="2025-03-04T10:02:11.250+00:00",
        closed="2025-03-04T10:31:40.000+00:00",
        preset="face",
        mode="single",
        depth_mm=(1.0, 1.5),
        dose_ml=(0.01, 0.02),
        lots=(LotUsed("NCTF 135 HA", "L2409-17", "2026-01-31"),),
        syringe="Terumo 1 mL",
        needle="32G × 4 mm",
        zones=(
            ZoneTotal("face.forehead", "Forehead", 40, 0.4, 1.0, 1.0),
            ZoneTotal("decollete.upper", "Décolleté", 35, 0.525, 1.0, 1.5),
        ),
        shots=75,
        shots_unreceived=0,
        volume_ml=0.925,
        alarms=(),
        overrides=(),
        checklist=CHECKLIST[:5],
        adverse_events=(),
        aftercare=("Keep the treated area clean and moisturised.", "SPF 30 or higher, even on cloudy days."),
        notes=("Dose ≤ 20 µL per point.",),
        signoff=SignOff("Dr Ada Moreau", "2025-03-04T10:33:05.000+00:00", "performed and reviewed the treatment"),
        next_session="2025-03-18",
    )


_FACE = (
    ("forehead", "Forehead"),
    ("glabella", "Glabella"),
    ("temple.left", "Left temple"),
    ("temple.right", "Right temple"),
    ("periorbital.left", "Left periorbital area (crow's feet)"),
    ("periorbital.right", "Right periorbital area (crow's feet)"),
    ("cheek.left", "Left cheek"),
    ("cheek.right", "Right cheek"),
    ("nasolabial.left", "Left nasolabial fold"),
    ("nasolabial.right", "Right nasolabial fold"),
    ("perioral", "Perioral area"),
    ("chin", "Chin"),
    ("jawline.left", "Left jawline"),
    ("jawline.right", "Right jawline"),
)


def long() -> SessionSummary:
    """A long, eventful session on two guns: many zones, alarms and overrides (with long reasons), an adverse
    event, a note a browser must not run, unsigned and with shots whose details never arrived."""
    zones = [
        ZoneTotal(f"face.{zid}", label, 20 + i, round(0.015 * (20 + i), 3), 1.0 + (i % 3) * 0.5, 2.0 + (i % 2) * 0.5)
        for i, (zid, label) in enumerate(_FACE)
    ]
    zones += [ZoneTotal(f"neck.band{i}", f"Neck band {i}", 30, 0.45, 1.0, 1.5) for i in range(1, 7)]
    zones += [ZoneTotal(f"decollete.row{i}", f"Décolleté row {i}", 25, 0.375, 1.0, 2.0) for i in range(1, 7)]
    zones += [ZoneTotal(f"scalp.area{i}", f"Scalp area {i}", 50, 0.5, 2.0, 4.0) for i in range(1, 9)]
    shots = sum(z.shots for z in zones)
    volume = round(sum(z.volume_ml for z in zones), 3)
    alarms = tuple(
        AlarmSeen(
            f"2025-03-04T{10 + i // 12:02d}:{(i * 5) % 60:02d}:07.000+00:00",
            ("occlusion", "low_syringe", "motor_stall")[i % 3],
            ("high", "medium", "low")[i % 3],
            f"alarm {i + 1}: line pressure 2.{i} bar above the limit of 2.0 bar while firing in zone {i % 14 + 1}",
        )
        for i in range(30)
    )
    overrides = tuple(
        Override(
            f"2025-03-04T11:{10 + i:02d}:00.000+00:00",
            "preset.face-nappage.max_depth_mm",
            f"depth 2.{i + 1} mm is deeper than face-nappage's soft limit of ≤ 2 mm",
            "Thicker skin over the zygoma on palpation; deeper placement agreed with the patient beforehand "
            "and documented in the consent form (item 4).",
            "Dr Ada Moreau",
        )
        for i in range(12)
    )
    return SessionSummary(
        visit_id=90210,
        patient="P-LONG-0001",
        patient_name="Zoë Ölander-Brontë",
        practitioner="Dr Ada Moreau",
        course_id=12,
        indication="Hair loss (androgenetic alopecia) and face rejuvenation, combined protocol",
        session_number=7,
        planned_sessions=15,
        interval_days=21,
        devices=("MG-0042", "MG-0107"),
        opened="2025-03-04T10:00:00.000+00:00",
        closed="2025-03-05T00:12:00.000+00:00",
        preset="face-nappage",
        mode="burst",
        depth_mm=(1.0, 4.0),
        dose_ml=(0.005, 0.05),
        lots=(
            LotUsed("NCTF 135 HA (hyaluronic acid 20 mg/mL)", "L2409-17", "2026-01-31"),
            LotUsed("Dutasteride 0.01 % cocktail, 2 µL/point", "DU-5521-B", "2025-04-01"),
            LotUsed("Lidocaine 2 %", "LI-88", "2027-06-30"),
        ),
        syringe="BD Plastipak 3 mL Luer-Lock",
        needle="30G × 13 mm, changed at 400 shots",
        zones=tuple(zones),
        shots=shots,
        shots_unreceived=7,
        volume_ml=volume,
        alarms=alarms,
        overrides=overrides,
        checklist=CHECKLIST,
        adverse_events=(
            AdverseEvent(
                "2025-03-04T11:40:00.000+00:00",
                "bruising",
                "mild",
                "Small bruise (≈ 5 mm) at the left temple; pressure applied for 2 min.",
                "Dr Ada Moreau",
            ),
            AdverseEvent(
                "2025-03-05T00:05:00.000+00:00", "vasovagal", "moderate", "Felt faint; lay down, recovered.", "Nurse B"
            ),
        ),
        aftercare=("Keep the treated area clean and moisturised.", "Avoid the sun for 48 h."),
        notes=(SCRIPT_NOTE, "Patient asked for a quieter room next time. " * 6),
        signoff=None,
        next_session="2025-03-25",
    )
