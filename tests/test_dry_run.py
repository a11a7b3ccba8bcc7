"""`campaign send --dry-run` end to end through the real CLI: the results sheet, what is printed,
and every bad input as exit 2 with a one-paragraph message (SPEC steps 1-6, results, exit codes).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import click
import openpyxl
import pytest
from click.testing import Result

from campaign.cli import main
from campaign.results import as_text, default_results_path

RESULT_COLUMNS = ["jid", "status", "error", "sent_at", "attempts", "message"]
PEOPLE = [
    ["Name", "Phone", "City"],
    ["דנה", "050-234-5678", "תל אביב"],
    ["Avi", "0502345678", "Haifa"],  # the same number as row 2
    ["Bad", "call me", "Eilat"],
    ["", "", ""],  # dropped, but it still has a row number
    ["יוסי", "+972 54 765 4321", ""],
    ["Rina", "9.72501E+11", "Acre"],
    ["Sarah", "972531234567", "Eilat"],
    ["Moshe", "0523456789", "Tiberias"],
]
TEXT = "שלום {{ Name }}!{% if city %} נתראה ב{{ city }}.{% endif %}"
Cli = Callable[..., Result]
Results = Callable[[Path], list[dict[str, str]]]


def dry(cli: Cli, contacts: object, *args: object) -> Result:
    return cli("send", contacts, "--dry-run", *args)


def assert_input_error(r: Result, message: str) -> None:
    """Exit 2, the message as one paragraph on stderr, no traceback, nothing on stdout."""
    assert r.exit_code == 2, r.output
    assert r.stderr.endswith(f"Error: {message}\n"), r.stderr
    assert "\n" not in message
    assert "Traceback" not in r.output
    assert r.stdout == ""


@pytest.fixture
def contacts(write_csv: Callable[..., Path]) -> Path:
    return write_csv(PEOPLE)


# --- the results sheet ----------------------------------------------------------------------------


def test_dry_run_writes_csv_results_beside_the_contacts(
    cli: Cli, contacts: Path, results: Results
) -> None:
    r = dry(cli, contacts, "-m", TEXT)
    assert r.exit_code == 0, r.output
    path = contacts.with_name("contacts-message.results.csv")
    assert path.read_bytes().startswith(b"\xef\xbb\xbfName,Phone,City,jid,status,error,")
    rows = results(path)
    assert list(rows[0]) == ["Name", "Phone", "City", *RESULT_COLUMNS]
    # Untouched, except that a cell a spreadsheet would run as a formula shows as text.
    assert [(row["Name"], row["Phone"], row["City"]) for row in rows] == [
        tuple(as_text(c) for c in p) for p in PEOPLE[1:] if any(p)
    ]
    assert [(row["jid"], row["status"], row["error"]) for row in rows] == [
        ("972502345678@s.whatsapp.net", "ready", ""),
        ("972502345678@s.whatsapp.net", "duplicate", "same number as row 2"),
        ("", "invalid", "'call me' is not a phone number"),
        ("972547654321@s.whatsapp.net", "ready", ""),
        (
            "",
            "invalid",
            "'9.72501E+11' is Excel scientific notation and its digits are lost: "
            "format the phone column as Text in Excel and export again",
        ),
        ("972531234567@s.whatsapp.net", "ready", ""),
        ("972523456789@s.whatsapp.net", "ready", ""),
    ]
    assert [row["message"] for row in rows] == [
        "שלום דנה! נתראה בתל אביב.",
        "שלום Avi! נתראה בHaifa.",
        "שלום Bad! נתראה בEilat.",
        "שלום יוסי!",
        "שלום Rina! נתראה בAcre.",
        "שלום Sarah! נתראה בEilat.",
        "שלום Moshe! נתראה בTiberias.",
    ]
    assert {row["sent_at"] for row in rows} == {""}
    assert {row["attempts"] for row in rows} == {"0"}


def test_contacts_file_is_never_modified(cli: Cli, contacts: Path) -> None:
    before = contacts.read_bytes()
    assert dry(cli, contacts, "-m", TEXT).exit_code == 0
    assert contacts.read_bytes() == before


def test_stdout_shows_the_first_messages_and_the_counts(cli: Cli, contacts: Path) -> None:
    r = dry(cli, contacts, "-m", TEXT)
    out = r.stdout
    assert out.startswith(
        "contacts.csv: 7 rows, phone column 'Phone', header on row 1, country IL (inferred: 4 of "
        "5 local numbers are IL mobiles; --country to change).\n"
        "--- row 2 → דנה (050-234-5678)\n"
        "שלום דנה! נתראה בתל אביב.\n"
        "--- row 6 → יוסי (+972 54 765 4321)\n"
        "שלום יוסי!\n"
        "--- row 8 → Sarah (972531234567)\n"
        "שלום Sarah! נתראה בEilat.\n"
        "---\n"
        "Dry run: nothing was sent.\n"
    )
    assert "row 9" not in out  # only the first three messages are shown
    assert re.search(r"^  ready\s+4$", out, re.M)
    assert re.search(r"^  invalid\s+2$", out, re.M)
    assert re.search(r"^  duplicate\s+1$", out, re.M)
    assert f"Results: {contacts.with_name('contacts-message.results.csv')}\n" in out
    assert "  row 3: duplicate: same number as row 2\n" in r.stderr
    assert "  row 4: invalid: 'call me' is not a phone number\n" in r.stderr


def test_quiet_hides_the_message_preview(cli: Cli, contacts: Path) -> None:
    r = dry(cli, contacts, "-m", TEXT, "--quiet")
    assert r.exit_code == 0
    assert "שלום" not in r.stdout
    assert re.search(r"^  ready\s+4$", r.stdout, re.M)


def test_xlsx_results_keep_phones_as_text(
    cli: Cli, write_xlsx: Callable[..., Path], results: Results
) -> None:
    path = write_xlsx(
        [
            ["Name", "Phone", "Code"],
            ["Dana", 972501234567, "007"],
            ["Avi", 502345678, "NA"],
            ["Rina", "0523456789", None],
        ]
    )
    r = dry(cli, path, "-m", "Hi {{ name }} {{ code }}")
    assert r.exit_code == 0, r.output
    out = path.with_name("contacts-message.results.xlsx")
    rows = results(out)
    assert [(row["Name"], row["Phone"], row["Code"]) for row in rows] == [
        ("Dana", "972501234567", "007"),
        ("Avi", "502345678", "NA"),
        ("Rina", "0523456789", ""),
    ]
    assert [row["jid"] for row in rows] == [
        "972501234567@s.whatsapp.net",
        "972502345678@s.whatsapp.net",
        "972523456789@s.whatsapp.net",
    ]
    assert [row["message"] for row in rows] == ["Hi Dana 007", "Hi Avi NA", "Hi Rina"]
    ws = openpyxl.load_workbook(out).active
    header = [c.value for c in ws[1]]
    assert header == ["Name", "Phone", "Code", *RESULT_COLUMNS]
    for row in ws.iter_rows(min_row=2, max_col=2):
        phone = row[1]
        assert phone.data_type == "s", (phone.coordinate, phone.value)
        assert isinstance(phone.value, str)


def test_xlsx_title_row_numbers_rows_from_the_real_header(
    cli: Cli, write_xlsx: Callable[..., Path], results: Results
) -> None:
    path = write_xlsx(
        [
            ["Spring campaign"],
            ["Name", "Phone"],
            ["Dana", "0502345678"],
            ["Avi", 502345678],
        ]
    )
    r = dry(cli, path, "-m", "Hi {{ name }}")
    assert r.exit_code == 0, r.output
    assert "header on row 2" in r.stdout
    rows = results(path.with_name("contacts-message.results.xlsx"))
    assert [(row["status"], row["error"]) for row in rows] == [
        ("ready", ""),
        ("duplicate", "same number as row 3"),
    ]


def test_header_row_option(cli: Cli, write_csv: Callable[..., Path], results: Results) -> None:
    path = write_csv([["Exported", "by", "CRM"], ["Name", "Phone", ""], ["Dana", "0502345678", ""]])
    r = dry(cli, path, "-m", "Hi {{ name }}", "--header-row", "2")
    assert r.exit_code == 0, r.output
    assert [row["message"] for row in results(path.with_name("contacts-message.results.csv"))] == [
        "Hi Dana"
    ]


def test_results_option_picks_path_and_format(
    cli: Cli, contacts: Path, results: Results, tmp_path: Path
) -> None:
    (tmp_path / "out").mkdir()
    r = dry(cli, contacts, "-m", TEXT, "--results", "out/march.xlsx")
    assert r.exit_code == 0, r.output
    assert not contacts.with_name("contacts-message.results.csv").exists()
    rows = results(tmp_path / "out" / "march.xlsx")
    assert [row["status"] for row in rows].count("ready") == 4
    assert rows[0]["Phone"] == "050-234-5678"


@pytest.mark.parametrize("given", ["contacts.csv", "./contacts.csv"])
def test_results_never_overwrite_the_contacts(cli: Cli, contacts: Path, given: str) -> None:
    before = contacts.read_bytes()
    r = dry(cli, contacts, "-m", TEXT, "--results", given)
    assert_input_error(
        r,
        f"--results {Path(given)} is the contacts file itself; the results never overwrite it. "
        "Choose another path.",
    )
    assert contacts.read_bytes() == before


def test_ods_results_are_xlsx(cli: Cli, tmp_path: Path, results: Results) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("odf")
    path = tmp_path / "contacts.ods"
    pd.DataFrame({"Name": ["Dana"], "Phone": [502345678]}).to_excel(path, engine="odf", index=False)
    r = dry(cli, path, "-m", "Hi {{ name }}")
    assert r.exit_code == 0, r.output
    rows = results(tmp_path / "contacts-message.results.xlsx")
    assert rows == [
        {
            "Name": "Dana",
            "Phone": "502345678",
            "jid": "972502345678@s.whatsapp.net",
            "status": "ready",
            "error": "",
            "sent_at": "",
            "attempts": "0",
            "message": "Hi Dana",
        }
    ]


def test_xls_results_are_xlsx(cli: Cli, tmp_path: Path, results: Results) -> None:
    assert default_results_path(Path("a/contacts.xls"), "contacts-message") == Path(
        "a/contacts-message.results.xlsx")
    assert default_results_path(Path("a/contacts.XLSM"), "w") == Path("a/w.results.xlsm")
    assert default_results_path(Path("a/c.tsv"), "c-w", rehearsal=True) == Path(
        "a/c-w.rehearsal.results.tsv")
    xlwt = pytest.importorskip("xlwt")
    book = xlwt.Workbook()
    ws = book.add_sheet("Contacts")
    for r, row in enumerate([["Name", "Phone"], ["Dana", 502345678]]):
        for c, v in enumerate(row):
            ws.write(r, c, v)
    book.save(str(tmp_path / "contacts.xls"))
    assert dry(cli, tmp_path / "contacts.xls", "-m", "Hi").exit_code == 0
    assert results(tmp_path / "contacts-message.results.xlsx")[0]["Phone"] == "502345678"


# --- sheets and notices ---------------------------------------------------------------------------


@pytest.fixture
def workbook(write_xlsx: Callable[..., Path]) -> Path:
    return write_xlsx(
        [["Name", "Phone"], ["Dana", "0502345678"]],
        sheets={"VIP": [["Name", "Phone"], ["Avi", "0523456789"]]},
    )


def test_other_sheets_are_named_in_a_notice(cli: Cli, workbook: Path, results: Results) -> None:
    r = dry(cli, workbook, "-m", "Hi {{ name }}")
    assert r.exit_code == 0, r.output
    assert (
        "Note: contacts.xlsx has 2 sheets; using 'Contacts' (others: VIP). "
        "Pick one with --sheet NAME.\n"
    ) in r.stderr
    assert "contacts.xlsx (sheet 'Contacts'): 1 row," in r.stdout


def test_sheet_option_picks_the_sheet(cli: Cli, workbook: Path, results: Results) -> None:
    r = dry(cli, workbook, "-m", "Hi {{ name }}", "--sheet", "VIP")
    assert r.exit_code == 0, r.output
    rows = results(workbook.with_name("contacts-message.results.xlsx"))
    assert [(row["Name"], row["message"]) for row in rows] == [("Avi", "Hi Avi")]


def test_unknown_sheet(cli: Cli, workbook: Path) -> None:
    r = dry(cli, workbook, "-m", "Hi", "--sheet", "Leads")
    assert_input_error(
        r,
        "contacts.xlsx: no sheet named 'Leads'. The sheets are: 'Contacts', "
        "'VIP'. Pass one of them to --sheet.",
    )


# --- phones ---------------------------------------------------------------------------------------


@pytest.fixture
def odd_numbers(write_csv: Callable[..., Path]) -> Path:
    return write_csv([["Name", "Phone"], ["Dana", "+972 50-123-4567"], ["Avi", "052-345-6789"]])


def test_possible_but_not_valid_number_is_ready_with_a_warning(
    cli: Cli, odd_numbers: Path, results: Results
) -> None:
    r = dry(cli, odd_numbers, "-m", "Hi")
    assert r.exit_code == 0
    rows = results(odd_numbers.with_name("contacts-message.results.csv"))
    assert (rows[0]["jid"], rows[0]["status"], rows[0]["error"]) == (
        "972501234567@s.whatsapp.net",
        "ready",
        "warning: '+972 50-123-4567' is not in IL's known number ranges; check it",
    )
    assert (
        "  row 2: warning: '+972 50-123-4567' is not in IL's known number ranges; check it\n"
    ) in r.stderr


def test_strict_phones_rejects_it(cli: Cli, odd_numbers: Path, results: Results) -> None:
    r = dry(cli, odd_numbers, "-m", "Hi", "--strict-phones")
    assert r.exit_code == 0
    rows = results(odd_numbers.with_name("contacts-message.results.csv"))
    assert [(row["jid"], row["status"], row["error"]) for row in rows] == [
        (
            "",
            "invalid",
            "'+972 50-123-4567' is not in IL's known number ranges; check it "
            "(rejected by --strict-phones)",
        ),
        ("972523456789@s.whatsapp.net", "ready", ""),
    ]


def test_country_option(cli: Cli, write_csv: Callable[..., Path], results: Results) -> None:
    path = write_csv([["Name", "Phone"], ["Ann", "(650) 253-0000"], ["Dana", "+972 50 234 5678"]])
    r = dry(cli, path, "-m", "Hi", "--country", "US")
    assert r.exit_code == 0
    rows = results(path.with_name("contacts-message.results.csv"))
    assert [(row["jid"], row["status"]) for row in rows] == [
        ("16502530000@s.whatsapp.net", "ready"),
        ("972502345678@s.whatsapp.net", "ready"),
    ]


def test_phone_column_option(cli: Cli, write_csv: Callable[..., Path], results: Results) -> None:
    path = write_csv([["Name", "Phone", "Mobile"], ["Dana", "0502345678", "0523456789"]])
    r = dry(cli, path, "-m", "Hi", "--phone-column", "mobile")
    assert r.exit_code == 0
    assert "phone column 'Mobile'" in r.stdout
    assert results(path.with_name("contacts-message.results.csv"))[0]["jid"] == (
        "972523456789@s.whatsapp.net"
    )


# --- messages and media ---------------------------------------------------------------------------


def test_template_file_renders_hebrew_exactly(
    cli: Cli, contacts: Path, template: Callable[..., Path], results: Results
) -> None:
    template("שלום {{ Name }},\n{{ row['City'] or 'בקרוב' }}\n")
    r = dry(cli, contacts, "-t", "message.txt")
    assert r.exit_code == 0, r.output
    rows = results(contacts.with_name("contacts-message.results.csv"))
    assert rows[0]["message"] == "שלום דנה,\nתל אביב"
    assert rows[3]["message"] == "שלום יוסי,\nבקרוב"


def test_message_that_renders_empty_is_invalid(
    cli: Cli, write_csv: Callable[..., Path], results: Results
) -> None:
    path = write_csv(
        [["Name", "Phone", "Note"], ["Dana", "0502345678", "Hi!"], ["Avi", "0523456789", "  "]]
    )
    r = dry(cli, path, "-m", "{{ note }}")
    assert r.exit_code == 0
    rows = results(path.with_name("contacts-message.results.csv"))
    assert [(row["status"], row["error"]) for row in rows] == [
        ("ready", ""),
        ("invalid", "the message renders empty"),
    ]


def test_media_url_is_a_template_rendered_per_row(
    cli: Cli, write_csv: Callable[..., Path], results: Results
) -> None:
    path = write_csv(
        [
            ["Name", "Phone", "Brochure"],
            ["Dana", "0502345678", "https://cdn.example.com/tlv.jpg"],
            ["Avi", "0523456789", "https://cdn.example.com/haifa.jpg"],
        ]
    )
    r = dry(cli, path, "-m", "לכבוד {{ name }}", "--type", "image", "--media-url", "{{ brochure }}")
    assert r.exit_code == 0, r.output
    rows = results(path.with_name("contacts-message.results.csv"))
    assert list(rows[0]) == ["Name", "Phone", "Brochure", *RESULT_COLUMNS, "media"]
    assert [(row["status"], row["message"], row["media"]) for row in rows] == [
        ("ready", "לכבוד Dana", "https://cdn.example.com/tlv.jpg"),
        ("ready", "לכבוד Avi", "https://cdn.example.com/haifa.jpg"),
    ]
    assert "--- row 2 → Dana (0502345678)  [image: https://cdn.example.com/tlv.jpg]" in (
        r.stdout
    )


def test_http_media_url_for_all_rows_is_one_error_not_a_row_each(
    cli: Cli, contacts: Path, results: Results
) -> None:
    # One URL for everyone (issue 22): one message, not the same error on every row.
    r = dry(cli, contacts, "-m", "Hi", "--type", "doc", "--media-url", "http://example.com/a.pdf")
    assert_input_error(r, "--media-url http://example.com/a.pdf: not an https:// address. The API "
                          "fetches the file itself, so it needs a public https link to the file.")
    # A column of URLs: each row with a bad one is invalid, the rest go.
    r = dry(cli, contacts, "-m", "Hi", "--type", "doc", "--media-url",
            "{% if city == 'Eilat' %}http://example.com/a.pdf{% else %}https://example.com/a.pdf{% endif %}")
    assert r.exit_code == 0, r.output
    rows = results(contacts.with_name("contacts-message.results.csv"))
    sarah = next(row for row in rows if row["Name"] == "Sarah")
    assert sarah["status"] == "invalid"
    assert sarah["error"] == (
        "media URL 'http://example.com/a.pdf' is not https:// (the API needs a public https URL)"
    )


def test_request_over_8_kb_gets_a_warning(
    cli: Cli, write_csv: Callable[..., Path], template: Callable[..., Path], results: Results
) -> None:
    path = write_csv([["Name", "Phone"], ["Dana", "0502345678"], ["Avi", "0523456789"]])
    template("{% if name == 'Dana' %}" + "ש" * 3000 + "{% else %}קצר{% endif %}")
    r = dry(cli, path, "-t", "message.txt")
    assert r.exit_code == 0
    long, short = results(path.with_name("contacts-message.results.csv"))
    assert long["status"] == "ready"
    found = re.fullmatch(
        r"warning: the encoded request is ([\d,]+) bytes, over 8,192: "
        r"the API may refuse it; shorten the message",
        long["error"],
    )
    assert found, long["error"]
    assert int(found.group(1).replace(",", "")) > 3000 * 6
    assert long["message"] == "ש" * 3000
    assert (short["status"], short["error"]) == ("ready", "")


# --- config ---------------------------------------------------------------------------------------


@pytest.fixture
def two_phones(write_csv: Callable[..., Path]) -> Path:
    return write_csv([["Name", "Phone", "Mobile"], ["Dana", "0502345678", "0523456789"]])


def test_config_sets_phone_column(cli: Cli, two_phones: Path, tmp_path: Path) -> None:
    (tmp_path / "campaign.toml").write_text('phone_column = "Mobile"\n', encoding="utf-8")
    r = dry(cli, two_phones, "-m", "Hi", "--config", "campaign.toml")
    assert r.exit_code == 0, r.output
    assert "phone column 'Mobile'" in r.stdout


def test_config_accepts_dashed_keys_and_a_send_table(
    cli: Cli, two_phones: Path, tmp_path: Path
) -> None:
    (tmp_path / "campaign.toml").write_text('[send]\nphone-column = "Mobile"\n', encoding="utf-8")
    r = dry(cli, two_phones, "-m", "Hi", "--config", "campaign.toml")
    assert r.exit_code == 0, r.output
    assert "phone column 'Mobile'" in r.stdout


def test_flag_overrides_config(cli: Cli, two_phones: Path, tmp_path: Path) -> None:
    (tmp_path / "campaign.toml").write_text('phone_column = "Mobile"\n', encoding="utf-8")
    r = dry(cli, two_phones, "--config", "campaign.toml", "-m", "Hi", "--phone-column", "Phone")
    assert r.exit_code == 0, r.output
    assert "phone column 'Phone'" in r.stdout


def test_config_unknown_key(cli: Cli, contacts: Path, tmp_path: Path) -> None:
    (tmp_path / "campaign.toml").write_text('colour = "green"\n', encoding="utf-8")
    r = dry(cli, contacts, "-m", "Hi", "--config", "campaign.toml")
    assert r.exit_code == 2
    assert r.stderr.startswith(
        "Error: --config campaign.toml: unknown option 'colour'. Known options: "
    )
    assert "phone_column" in r.stderr and "Traceback" not in r.output


def test_config_key_type_is_the_option_name(
    cli: Cli, contacts: Path, tmp_path: Path, results: Results
) -> None:
    (tmp_path / "campaign.toml").write_text(
        'type = "image"\nmedia_url = "https://cdn.example.com/a.jpg"\n', encoding="utf-8"
    )
    r = dry(cli, contacts, "-m", "Hi", "--config", "campaign.toml")
    assert r.exit_code == 0, r.output
    assert results(contacts.with_name("contacts-message.results.csv"))[0]["media"] == (
        "https://cdn.example.com/a.jpg"
    )


def test_config_file_missing(cli: Cli, contacts: Path) -> None:
    assert_input_error(
        dry(cli, contacts, "-m", "Hi", "--config", "nope.toml"),
        "--config nope.toml: file not found.",
    )


# --- bad input: exit 2, one paragraph, no traceback, nothing written ------------------------------


def test_missing_contacts_file(cli: Cli, tmp_path: Path) -> None:
    r = dry(cli, "nope.csv", "-m", "Hi")
    assert_input_error(
        r, "nope.csv: no such file. Check the path (run from the folder that holds it)."
    )
    assert list(tmp_path.iterdir()) == []


def test_missing_contacts_in_a_missing_folder(cli: Cli) -> None:
    assert_input_error(
        dry(cli, "march/contacts.csv", "-m", "Hi"),
        "march/contacts.csv: no such file. Check the path (run from the folder that holds it).",
    )


@pytest.mark.parametrize("name", ["contacts.pdf", "contacts.numbers"])
def test_unsupported_contacts_type_exits_2(cli: Cli, tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(b"%PDF-1.4")
    r = dry(cli, name, "-m", "Hi")
    assert r.exit_code == 2
    assert "Traceback" not in r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_unsupported_contacts_type_message(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "contacts.pdf").write_bytes(b"%PDF-1.4")
    assert_input_error(
        dry(cli, "contacts.pdf", "-m", "Hi"),
        "contacts.pdf: unsupported file type '.pdf'. "
        "Save the contacts as one of: .csv, .ods, .tsv, .txt, .xls, .xlsm, .xlsx.",
    )


def test_unreadable_xlsx(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "contacts.xlsx").write_bytes(b"\x00garbage, not a zip\xff" * 10)
    r = dry(cli, "contacts.xlsx", "-m", "Hi")
    assert r.exit_code == 2
    assert r.stderr.startswith("Error: contacts.xlsx: cannot be read as a .xlsx workbook (")
    assert r.stderr.endswith("Open it in Excel and save it again, or export it as CSV UTF-8.\n")
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.output
    assert not (tmp_path / "contacts-message.results.xlsx").exists()


def test_no_phone_column(cli: Cli, write_csv: Callable[..., Path], tmp_path: Path) -> None:
    path = write_csv([["Name", "City", "שם משפחה"], ["Dana", "Haifa", "כהן"]])
    assert_input_error(
        dry(cli, path, "-m", "Hi"),
        "contacts.csv: no phone column found. The columns are: 'Name', 'City', 'שם משפחה'. "
        "Name the one that holds the numbers with --phone-column NAME.",
    )
    assert not (tmp_path / "contacts-message.results.csv").exists()


def test_unknown_phone_column(cli: Cli, contacts: Path) -> None:
    assert_input_error(
        dry(cli, contacts, "-m", "Hi", "--phone-column", "Mobile"),
        "contacts.csv: --phone-column 'Mobile' is not a column of the sheet. "
        "The columns are: 'Name', 'Phone', 'City'.",
    )


def test_unknown_template_variable(
    cli: Cli, contacts: Path, template: Callable[..., Path], tmp_path: Path
) -> None:
    template("שלום,\n{{ nmae }}!")
    assert_input_error(
        dry(cli, contacts, "-t", "message.txt"),
        "message.txt, line 2: unknown variable 'nmae'. Did you mean 'name'? "
        "Available columns: City, Name, Phone, city, name, phone (or row['Column Name']).",
    )
    assert not (tmp_path / "contacts-message.results.csv").exists()


def test_unknown_variable_in_inline_message(cli: Cli, contacts: Path) -> None:
    r = dry(cli, contacts, "-m", "Hi {{ citty }}")
    assert_input_error(
        r,
        "--message, line 1: unknown variable 'citty'. Did you mean 'city'? "
        "Available columns: City, Name, Phone, city, name, phone (or row['Column Name']).",
    )


def test_template_syntax_error(cli: Cli, contacts: Path, template: Callable[..., Path]) -> None:
    template("שלום {{ name }}\n{% if city %}\nנתראה")
    r = dry(cli, contacts, "-t", "message.txt")
    assert r.exit_code == 2
    # Jinja2 names the line of the block left open.
    assert r.stderr.startswith("Error: message.txt, line 2: template syntax error: ")
    assert r.stderr.endswith(
        "Fix the template (Jinja2 syntax: {{ column }}, {% if city %}…{% endif %}).\n"
    )
    assert "Traceback" not in r.output


def test_missing_template_file(cli: Cli, contacts: Path) -> None:
    assert_input_error(
        dry(cli, contacts, "-t", "nope.txt"),
        "nope.txt: template file not found. Check the --template path.",
    )


def test_media_type_without_media_url(cli: Cli, contacts: Path) -> None:
    assert_input_error(
        dry(cli, contacts, "-m", "Hi", "--type", "image"),
        "--type image needs --media-url (a public https:// URL, or a column like "
        '"{{ brochure }}").',
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "no message: give it as --template FILE or --message TEXT (Jinja2, e.g. "
             "'Hi {{ first_name }}')."),
        (("-m", "Hi", "-t", "message.txt"),
         "give the message as --template FILE or --message TEXT, not both."),
    ],
)
def test_exactly_one_of_template_and_message(
    cli: Cli, contacts: Path, template: Callable[..., Path], args: tuple[str, ...], message: str
) -> None:
    template("Hi")
    assert_input_error(dry(cli, contacts, *args), message)


def test_media_without_a_caption_is_allowed(
    cli: Cli, write_csv: Callable[..., Path], results: Callable[[Path], list[dict[str, str]]]
) -> None:
    path = write_csv([["Phone", "Pic"], ["0502345678", "https://x.example/a.jpg"]])
    r = dry(cli, path, "--type", "image", "--media-url", "{{ pic }}")
    assert r.exit_code == 0, r.output
    (row,) = results(path.with_name("contacts-message.results.csv"))
    assert (row["status"], row["message"], row["media"]) == ("ready", "", "https://x.example/a.jpg")



def test_audio_has_no_caption_in_the_plan_the_console_or_the_preview(
    cli: Cli, write_csv: Callable[..., Path], results: Results
) -> None:
    """Issue 16: --type audio said its text is not sent, yet showed it and "audio + caption"."""
    path = write_csv([["Name", "Phone"], ["Dana", "0502345678"], ["Avi", "0523456789"]])
    r = dry(cli, path, "-m", "Hello {{ name }}", "--type", "audio", "--media-url", "https://x.example/a.mp3")
    assert r.exit_code == 0, r.output
    assert "audio messages have no caption: the message text is not sent." in r.output
    assert "Hello" not in r.stdout
    assert "--- row 2 → Dana (0502345678)  [audio: https://x.example/a.mp3]\n---" in r.stdout
    assert [row["message"] for row in results(path.with_name("contacts-message.results.csv"))] == ["", ""]
    page = path.with_name("contacts-message.results.preview.html").read_text(encoding="utf-8")
    assert "Hello" not in page
    assert "caption" not in page
    assert re.search(r'<div class="sub">2 messages\s+· audio ·', page), page

def test_unknown_country_is_exit_2(cli: Cli, contacts: Path) -> None:
    assert_input_error(
        dry(cli, contacts, "-m", "Hi", "--country", "XX"),
        "--country 'XX' is not a two-letter country code (e.g. IL, US, GB, DE).",
    )


def test_bad_option_value_is_exit_2(cli: Cli, contacts: Path) -> None:
    r = dry(cli, contacts, "-m", "Hi", "--type", "sticker")
    assert r.exit_code == 2
    assert "Invalid value for '--type'" in r.stderr and "Traceback" not in r.output


# --- help -----------------------------------------------------------------------------------------


def test_send_help_lists_every_option(cli: Cli) -> None:
    r = cli("send", "--help")
    assert r.exit_code == 0
    send = main.commands["send"]
    for param in send.params:
        if isinstance(param, click.Option):
            for opt in param.opts:
                assert re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", r.stdout), opt


@pytest.mark.parametrize("name", sorted(main.commands))
def test_every_option_of_every_command_has_help(name: str) -> None:
    command = main.commands[name]
    assert command.help, name
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help and param.help.strip(), f"{name} {param.opts[0]} has no help"
