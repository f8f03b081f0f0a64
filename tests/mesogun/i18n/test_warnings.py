"""The core's warnings worded once for the catalog: each reads exactly as before in English (the API's, the CLI's and
JSON's text: still a ``str``) and in French with its values the French way; a warning kept as text keeps its
wording through copies, pickling and JSON; the values of a message (a list of kinds, clauses, another party's words)
said the language's way."""

from __future__ import annotations

import copy
import json
import pickle
from datetime import date

from mesogun.clinic import lots, needles
from mesogun.errors import ConnectionLost, as_message, worded_text
from mesogun.i18n import N_
from mesogun.i18n.errors import said, text_in
from mesogun.record.calibrations import CalibrationDue, DueState, KindDue
from mesogun.session.syringe_brand import uncorrected_warning
from mesogun.wording import AllOf, Clauses, Number, Quoted, Word, Worded, Wording

TODAY = date(2026, 3, 10)


def lot_warning(expiry: str) -> str | None:
    return lots.check_usable(lots.lot("NCTF 135 HA", "L1", expiry), TODAY)


def test_a_lot_near_its_expiry_warns_as_before_in_english_and_in_french_with_its_days() -> None:
    assert lot_warning("2026-03-10") == "lot L1 of NCTF 135 HA expires today (2026-03-10)"
    assert lot_warning("2026-03-11") == "lot L1 of NCTF 135 HA expires in 1 day (2026-03-11)"
    in_30 = lot_warning("2026-04-09")
    assert in_30 == "lot L1 of NCTF 135 HA expires in 30 days (2026-04-09)" and isinstance(in_30, str)
    assert text_in("fr", lot_warning("2026-03-10") or "") == "le lot L1 de NCTF 135 HA expire aujourd'hui (2026-03-10)"
    assert text_in("fr", lot_warning("2026-03-11") or "") == "le lot L1 de NCTF 135 HA expire dans 1 jour (2026-03-11)"
    assert text_in("fr", in_30) == "le lot L1 de NCTF 135 HA expire dans 30 jours (2026-04-09)"
    assert text_in("en", in_30) == in_30
    assert lot_warning("2026-04-10") is None


def test_the_needle_reminder_and_the_uncorrected_syringe_brand_in_both_languages() -> None:
    reminder = needles.change_reminder(512, every=500)
    assert reminder == "change the needle: 512 shots since it was changed (reminded every 500)"
    assert (
        text_in("fr", reminder or "")
        == "changez l'aiguille : 512 tirs depuis son changement (rappel tous les 500 tirs)"
    )
    brand = uncorrected_warning("SIM0001", "Terumo", {"BD": 1.02, "B. Braun": 0.98})
    assert brand == (
        "syringe brand 'Terumo' has no volume calibration on gun SIM0001 (calibrated for B. Braun, BD): its doses are "
        "not corrected (volume gain 1.0); declare the brand loaded (--brand) or calibrate it"
    )
    assert text_in("fr", brand or "") == (
        "la marque de seringue 'Terumo' n'a pas d'étalonnage de volume sur le pistolet SIM0001 (étalonné pour B. "
        "Braun, BD) : ses doses ne sont pas corrigées (gain de volume 1,0) ; indiquez la marque chargée ou faites-la "
        "étalonner"
    )
    none = uncorrected_warning("SIM0001", None, {"BD": 1.02})
    assert none is not None and none.startswith("no syringe brand declared on gun SIM0001 (calibrated for BD): ")
    assert text_in("fr", none).startswith(
        "aucune marque de seringue indiquée sur le pistolet SIM0001 (étalonné pour BD)"
    )


def test_the_calibration_warnings_name_each_kind_in_french() -> None:
    never = CalibrationDue("SN9", DueState.NEVER, None, None, None)
    assert never.warning() == "gun SN9 has never been calibrated: its doses and depths are uncorrected"
    assert text_in("fr", never.warning() or "") == (
        "le pistolet SN9 n'a jamais été étalonné : ses doses et ses profondeurs ne sont pas corrigées"
    )
    kinds = (
        KindDue("volume", "BD", DueState.OVERDUE, "2027-03-02T09:40:00+00:00", "R1", 1),
        KindDue("depth", "", DueState.NEVER, None, None, None),
        KindDue("rate", "", DueState.NEVER, None, None, None),
    )
    overdue = CalibrationDue("SN1", DueState.OVERDUE, "2027-03-02T09:40:00+00:00", "R1", 1, kinds)
    assert overdue.warning() == (
        "gun SN1's calibration is overdue: volume (BD) was due on 2027-03-02 (run R1, calibration id 1); depth and "
        "rate never calibrated"
    )
    assert text_in("fr", overdue.warning() or "") == (
        "l'étalonnage du pistolet SN1 est en retard : volume (BD) : étalonnage dû le 2027-03-02 (essai R1, étalonnage "
        "n° 1) ; jamais étalonné : profondeur et cadence"
    )
    assert [k.label for k in kinds] == ["volume (BD)", "depth", "rate"]


def test_a_worded_text_keeps_its_wording_through_copies_pickling_and_json() -> None:
    warning = lot_warning("2026-03-11")
    assert isinstance(warning, Worded)
    for twin in (copy.copy(warning), copy.deepcopy(warning), pickle.loads(pickle.dumps(warning))):
        assert twin == warning and isinstance(twin, Worded) and text_in("fr", twin).startswith("le lot L1")
    assert json.loads(json.dumps({"warnings": [warning]})) == {"warnings": [str(warning)]}  # JSON: the English
    assert text_in("fr", "a clinic's own words") == "a clinic's own words"  # plain text stays as it is
    lost = ConnectionLost(Wording(N_("not connected")))
    assert worded_text(lost) == "not connected" and text_in("fr", worded_text(lost)) == "le pistolet n'est pas connecté"
    assert as_message(lost) == lost.wording and as_message(ValueError("boom")) == "boom"


def test_the_values_of_a_message_are_said_the_languages_way() -> None:
    kinds = AllOf((Word("depth", "depth"), Word("rate", "rate"), Number(0.5)))
    assert str(kinds) == "depth and rate and 0.5"
    message = Wording("{kinds}: {parts} {os}", kinds=kinds, parts=Clauses(("a", "b")), os=Quoted("disk I/O error"))
    assert str(message) == "depth and rate and 0.5: a; b disk I/O error"
    assert said(message, "en") == str(message)
    assert said(message, "fr") == "profondeur, cadence et 0,5: a ; b « disk I/O error »"
