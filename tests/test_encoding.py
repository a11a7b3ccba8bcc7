"""Issue 10.3: CSV files in legacy code pages, from their real bytes. A reading is chosen only
when no other script fits; nothing is ever sent garbled."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from campaign.contacts import load_sheet
from campaign.encodings import decode
from campaign.errors import InputError

Cli = Callable[..., Result]

CASES = [
    ("cp1252", "Prénom,Nom,Portable\r\nJosé,García,0502345678\r\nFrançoise,Lefèvre,0521234567\r\n"),
    ("cp1252", "Vorname,Nachname,Handy\r\nJürgen,Müller,015112345678\r\nBärbel,Größer,01601234567\r\n"),
    ("cp1255", "שם פרטי,שם משפחה,טלפון\r\nדנה,כהן,0502345678\r\nיוסי,לוי,0521234567\r\n"),
    ("cp1256", "الاسم,العائلة,هاتف\r\nمحمد,أحمد,0502345678\r\nفاطمة,علي,0521234567\r\n"),
    ("cp1251", "Имя,Фамилия,Телефон\r\nИван,Петров,89161234567\r\nОльга,Смирнова,89261234567\r\n"),
    # Czech and Polish read as Western would be 'Jiøí Dvoøák', 'Wiœniewski': never sent so.
    ("cp1250", "Jméno,Příjmení,Telefon\r\nJiří,Dvořák,+420601123456\r\nŽaneta,Černá,+420601123457\r\n"),
    ("cp1250", "Imię,Nazwisko,Telefon\r\nŁukasz,Wiśniewski,+48601123456\r\nJan,Żółć,+48601123457\r\n"),
]
IDS = ["french", "german", "hebrew", "arabic", "russian", "czech", "polish"]


@pytest.mark.parametrize(("encoding", "text"), CASES, ids=IDS)
def test_legacy_code_page_is_read_right(tmp_path: Path, encoding: str, text: str) -> None:
    path = tmp_path / "contacts.csv"
    path.write_bytes(text.encode(encoding))
    sheet = load_sheet(path)
    lines = [line.split(",") for line in text.strip().split("\r\n")]
    assert sheet.columns == tuple(lines[0])
    assert sheet.rows == [tuple(line) for line in lines[1:]]
    assert sheet.encoding == encoding
    assert any(f"read it as Windows-{encoding[2:]}" in n for n in sheet.notices)


@pytest.mark.parametrize(("encoding", "text"), CASES, ids=IDS)
def test_no_code_page_garbles_another(encoding: str, text: str) -> None:
    """Whatever is decided, it is the right text or a refusal, never another code page's reading."""
    data = text.encode(encoding)
    try:
        decoded, _ = decode(data, "contacts.csv")
    except InputError:
        return
    assert decoded == text


def test_dry_run_names_the_encoding_and_renders_the_names(
    cli: Cli, tmp_path: Path, template: Callable[..., Path]
) -> None:
    path = tmp_path / "contacts.csv"
    path.write_bytes("First Name,Mobile\r\nJosé,0502345678\r\n".encode("cp1252"))
    r = cli("send", path, "--dry-run", "-m", "Bonjour {{ first_name }} !")
    assert r.exit_code == 0, r.output
    assert "Bonjour José !" in r.stdout
    assert "Note: contacts.csv is not UTF-8: read it as Windows-1252, Western European." in r.stderr


def test_bytes_that_fit_two_scripts_ask_for_encoding(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    # 'דנה' in cp1255 is also a plausible Greek word in cp1253, and those both read cleanly.
    path.write_bytes(b"Name,Phone\r\n" + "ירון".encode("cp1255") + b",0502345678\r\n")
    r = cli("send", path, "--dry-run", "-m", "Hi {{ name }}")
    if r.exit_code == 0:
        assert "Hi ירון" in r.stdout  # decided, and decided right
        return
    assert r.exit_code == 2
    assert "--encoding" in r.stderr and "Traceback" not in r.output


def test_encoding_option_overrides_detection(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    path.write_bytes("Name,Phone\r\nירון,0502345678\r\n".encode("cp1255"))
    r = cli("send", path, "--dry-run", "-m", "Hi {{ name }}", "--encoding", "cp1255")
    assert r.exit_code == 0, r.output
    assert "Hi ירון" in r.stdout and "not UTF-8" not in r.stderr


def test_unknown_encoding_is_exit_2(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    path.write_bytes(b"Name,Phone\r\nDana,0502345678\r\n")
    r = cli("send", path, "--dry-run", "-m", "Hi", "--encoding", "klingon")
    assert r.exit_code == 2
    assert r.stderr.startswith("Error: --encoding 'klingon' is not an encoding Python knows.")


def test_a_large_legacy_file_is_read_keeping_one_text_at_a_time() -> None:
    """Issue 19, round four: a 63 MB Windows-1255 CSV was decoded in 15 code pages, all 15 texts
    kept at once (1.2 GB, 40 s). Now one reading at a time, and the chosen one again at the end."""
    import tracemalloc

    line = "דנה כהן משה,0502345678\n"
    data = ("Name,Phone\n" + line * 180_000).encode("cp1255")  # 4 MB, 8 MB as text
    tracemalloc.start()
    try:
        text, used = decode(data, "contacts.csv")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert used == "cp1255" and text.startswith("Name,Phone\nדנה כהן")
    assert peak < 8 * len(data), peak / 1e6  # two texts at most; was: 11 readings kept at once
