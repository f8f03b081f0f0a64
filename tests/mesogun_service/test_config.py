"""The service's TOML config: every key checked, with errors naming the key, the value and what is expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from mesogun.errors import ParameterError
from mesogun_service.config import config_from, load_config


def test_a_config_file_sets_the_guns_and_where_the_service_listens(tmp_path: Path) -> None:
    path = tmp_path / "service.toml"
    path.write_text(
        'devices = ["/dev/ttyACM0", "socket://10.0.0.5:4000"]\nhost = "0.0.0.0"\nport = 9000\n'
        'record = "~/record.sqlite"\nsocket = false\nattended_grace_s = 3\ntrusted_proxy = "127.0.0.1"\n'
    )
    config = load_config(path)
    assert config.devices == ("/dev/ttyACM0", "socket://10.0.0.5:4000")
    assert (config.host, config.port, config.socket, config.attended_grace_s) == ("0.0.0.0", 9000, None, 3.0)
    assert config.record == Path("~/record.sqlite").expanduser() and not config.loopback_only


def test_a_database_url_for_the_record_is_kept_as_a_url() -> None:
    url = "postgresql://mesogun@db.clinic.local/record"
    assert config_from({"record": url}).record == url


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"gun": ["x"]}, "unknown key 'gun'"),
        ({"port": "80"}, "port = '80' has the wrong type"),
        ({"port": True}, "port = True has the wrong type"),
        ({"port": 70000}, "port=70000 must be 0–65535"),
        ({"attended_grace_s": 0.1}, "attended_grace_s=0.1 must be 0.5–600 s"),
        ({"devices": ["a", "a"]}, "a gun is listed twice"),
        ({"devices": [1]}, "devices must be a list of gun URLs"),
    ],
)
def test_a_bad_key_is_refused_naming_it(data: dict[str, object], words: str) -> None:
    with pytest.raises(ParameterError, match=words):
        config_from(data)


def test_a_file_that_is_not_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("devices = [")
    with pytest.raises(ParameterError, match="not valid TOML"):
        load_config(path)
    with pytest.raises(ParameterError, match="cannot read it"):
        load_config(tmp_path / "missing.toml")


def test_a_clinics_own_checklist_replaces_the_built_in_items(tmp_path: Path) -> None:
    from mesogun.clinic.errors import ChecklistIncomplete
    from mesogun_service.app import create_app

    items = tmp_path / "checklist.toml"
    items.write_text(
        '[[item]]\nid = "pregnancy"\nquestion = "Pregnant?"\n'
        '[[item]]\nid = "isotretinoin"\nquestion = "Isotretinoin?"\n'
    )
    config = config_from({"checklist": str(items), "accounts": str(tmp_path / "a.sqlite"), "socket": False})
    app = create_app(config)
    try:
        assert [item.id for item in app.state.checklist_items] == ["pregnancy", "isotretinoin"]
    finally:
        app.state.accounts.close()
    items.write_text("[[item]]\nid = 'Bad Id'\n")
    with pytest.raises(ChecklistIncomplete, match=r"checklist\.toml"):
        create_app(config)


def test_the_clinic_named_in_the_config_is_whom_the_aftercare_sheet_says_to_call() -> None:
    config = config_from({"clinic_name": " Clinique du Lac ", "clinic_phone": "+33 4 50 00 00 00"})
    assert config.clinic_name == "Clinique du Lac"
    assert config.clinic_contact() == (("Phone", "+33 4 50 00 00 00"), ("Email", "_" * 28))
    assert config_from({}).clinic_contact() is None


def test_a_clinic_name_too_long_for_a_page_is_refused_by_key() -> None:
    with pytest.raises(ParameterError, match=r"clinic_name: 121 characters, at most 120"):
        config_from({"clinic_name": "x" * 121})


def test_a_clinic_phone_with_a_line_break_is_refused_by_key() -> None:
    with pytest.raises(ParameterError, match=r"clinic_phone='\+33\\n4': one line of printable text"):
        config_from({"clinic_phone": "+33\n4"})
