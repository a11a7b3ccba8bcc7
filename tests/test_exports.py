"""Issue 10: the exports people really have, in their published column layouts, through the real
dry run. Each test asserts what the user sees: JIDs, statuses, warnings and the rendered text."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
from click.testing import Result

from campaign.phones import header_candidates

Cli = Callable[..., Result]
Results = Callable[[Path], list[dict[str, str]]]
JID = "@s.whatsapp.net"


def dry(cli: Cli, contacts: object, *args: object) -> Result:
    return cli("send", contacts, "--dry-run", *args)


def by_name(rows: list[dict[str, str]], column: str) -> dict[str, dict[str, str]]:
    return {r[column]: r for r in rows}


def layout(header: str) -> list[str]:
    """A published CSV header line as its column names."""
    return header.split(",")


# --- Google Contacts ------------------------------------------------------------------------------

GOOGLE_OLD = layout(
    "Name,Given Name,Additional Name,Family Name,Yomi Name,Given Name Yomi,Additional Name Yomi,"
    "Family Name Yomi,Name Prefix,Name Suffix,Initials,Nickname,Short Name,Maiden Name,Birthday,"
    "Gender,Location,Billing Information,Directory Server,Mileage,Occupation,Hobby,Sensitivity,"
    "Priority,Subject,Notes,Language,Photo,Group Membership,E-mail 1 - Type,E-mail 1 - Value,"
    "Phone 1 - Type,Phone 1 - Value,Phone 2 - Type,Phone 2 - Value"
)
GOOGLE_2024 = layout(
    "First Name,Middle Name,Last Name,Phonetic First Name,Phonetic Middle Name,Phonetic Last Name,"
    "Name Prefix,Name Suffix,Nickname,File As,Organization Name,Organization Title,"
    "Organization Department,Birthday,Notes,Photo,Labels,E-mail 1 - Label,E-mail 1 - Value,"
    "Phone 1 - Label,Phone 1 - Value,Phone 2 - Label,Phone 2 - Value"
)


def google_row(header: list[str], **cells: str) -> list[str]:
    return [cells.get(h, "") for h in header]


def test_google_old_layout(cli: Cli, write_csv: Callable[..., Path], results: Results) -> None:
    h = GOOGLE_OLD
    path = write_csv([
        h,
        google_row(h, **{"Name": "Dana Cohen", "Given Name": "Dana", "Group Membership": "* myContacts",
                         "Phone 1 - Type": "Mobile", "Phone 1 - Value": "+972 50-234-5678"}),
        # Home first, mobile second: the mobile one is used.
        google_row(h, **{"Name": "Avi Levi", "Given Name": "Avi", "Phone 1 - Type": "Home",
                         "Phone 1 - Value": "03-555-1234", "Phone 2 - Type": "Mobile",
                         "Phone 2 - Value": "052-765-4321"}),
        # Two numbers in one cell, Google's ' ::: ' form: the first mobile, the other named.
        google_row(h, **{"Name": "Rina", "Given Name": "Rina", "Phone 1 - Type": "Home ::: Mobile",
                         "Phone 1 - Value": "03-555-9999 ::: +972 54-765-4321"}),
    ], "google.csv")
    r = dry(cli, path, "-m", "Hi {{ given_name }}")
    assert r.exit_code == 0, r.output
    assert "phone column 'Phone 1 - Value'" in r.stdout
    assert "Hi Dana" in r.stdout
    rows = by_name(results(tmp_results(path)), "Given Name")
    assert rows["Dana"]["jid"] == "972502345678" + JID and rows["Dana"]["status"] == "ready"
    assert rows["Avi"]["jid"] == "972527654321" + JID and rows["Avi"]["status"] == "ready"
    assert rows["Rina"]["jid"] == "972547654321" + JID
    assert rows["Rina"]["error"] == (
        "warning: the cell holds 2 numbers: used +972 54-765-4321, not 03-555-9999"
    )


def test_google_2024_layout_never_takes_phonetic_name(
    cli: Cli, write_csv: Callable[..., Path], results: Results
) -> None:
    h = GOOGLE_2024
    path = write_csv([
        h,
        google_row(h, **{"First Name": "Dana", "Phonetic First Name": "Da-na", "Labels": "* myContacts",
                         "Phone 1 - Label": "Mobile", "Phone 1 - Value": "050-234-5678"}),
        google_row(h, **{"First Name": "Avi", "Phone 1 - Label": "Work", "Phone 1 - Value": "",
                         "Phone 2 - Label": "Mobile", "Phone 2 - Value": "052 765 4321"}),
    ], "google.csv")
    r = dry(cli, path, "-m", "Hi {{ first_name }}")
    assert r.exit_code == 0, r.output
    assert "phone column 'Phone 1 - Value'" in r.stdout
    rows = by_name(results(tmp_results(path)), "First Name")
    assert [rows[n]["jid"] for n in ("Dana", "Avi")] == ["972502345678" + JID, "972527654321" + JID]
    assert {rows[n]["status"] for n in ("Dana", "Avi")} == {"ready"}


def test_no_usable_number_in_the_chosen_column_is_exit_2_naming_phone_like_columns(
    cli: Cli, write_csv: Callable[..., Path]
) -> None:
    path = write_csv([["Name", "Phone", "Notes"], ["Dana", "ask her", "050-234-5678"],
                      ["Avi", "", "052-765-4321"]])
    r = dry(cli, path, "-m", "Hi")
    assert r.exit_code == 2
    assert r.stderr == (
        "Error: contacts.csv: no row of 'Phone' holds a usable phone number (row 2: 'ask her' is "
        "not a phone number). Columns that look like phones: 'Notes'. Name the right one with "
        "--phone-column NAME.\n"
    )


# --- Outlook, Shopify, HubSpot --------------------------------------------------------------------

OUTLOOK = layout(
    "First Name,Middle Name,Last Name,Title,Suffix,Nickname,Given Yomi,Surname Yomi,E-mail Address,"
    "E-mail 2 Address,E-mail 3 Address,Home Phone,Home Phone 2,Business Phone,Business Phone 2,"
    "Mobile Phone,Car Phone,Other Phone,Primary Phone,Pager,Business Fax,Home Fax,Other Fax,"
    "Company Main Phone,Callback,Radio Phone,Telex,TTY/TDD Phone,IMAddress,Job Title,Department,"
    "Company,Office Location,Manager's Name,Assistant's Name,Assistant's Phone,Company Yomi,"
    "Business Street,Business City,Business State,Business Postal Code,Business Country/Region,"
    "Home Street,Home City,Home State,Home Postal Code,Home Country/Region,Notes,Categories"
)


@pytest.mark.parametrize(
    ("encoding", "first", "last", "greeting", "named"),
    [
        ("cp1252", "José", "García", "Bonjour", "Windows-1252"),
        ("cp1252", "Jürgen", "Müller", "Hallo", "Windows-1252"),
        ("cp1255", "יוסי", "כהן", "שלום", "Windows-1255"),
        ("utf-8-sig", "Zoë", "Ødegård", "Hei", ""),
    ],
)
def test_outlook_export_in_its_code_page(
    cli: Cli, write_csv: Callable[..., Path], results: Results,
    encoding: str, first: str, last: str, greeting: str, named: str,
) -> None:
    h = OUTLOOK
    path = write_csv([
        h,
        google_row(h, **{"First Name": first, "Last Name": last, "Home Phone": "03-555-1234",
                         "Mobile Phone": "050-234-5678", "Business City": "Paris"}),
        google_row(h, **{"First Name": "Anne", "Last Name": "Smith", "Business Phone": "052-765-4321"}),
    ], "outlook.csv", encoding=encoding)
    r = dry(cli, path, "-m", greeting + " {{ first_name }} {{ last_name }} !")
    assert r.exit_code == 0, r.output
    assert f"{greeting} {first} {last} !" in r.stdout  # never 'Josי Garcםa'
    assert "phone column 'Mobile Phone'" in r.stdout
    if named:
        assert f"read it as {named}" in r.stderr
    else:
        assert "not UTF-8" not in r.stderr
    rows = results(tmp_results(path))
    assert rows[0]["message"] == f"{greeting} {first} {last} !"
    assert rows[0]["jid"] == "972502345678" + JID  # mobile, not the home landline
    assert rows[1]["jid"] == "972527654321" + JID  # no mobile: the business phone


SHOPIFY = layout(
    "Customer ID,First Name,Last Name,Email,Accepts Email Marketing,Default Address Company,"
    "Default Address Address1,Default Address Address2,Default Address City,"
    "Default Address Province Code,Default Address Country Code,Default Address Zip,"
    "Default Address Phone,Phone,Accepts SMS Marketing,Total Spent,Total Orders,Note,Tax Exempt,Tags"
)


def test_shopify_customers_with_apostrophe_protected_phones(
    cli: Cli, write_csv: Callable[..., Path], results: Results
) -> None:
    h = SHOPIFY
    path = write_csv([
        h,
        google_row(h, **{"Customer ID": "'7001", "First Name": "Dana", "Phone": "'+972502345678",
                         "Default Address Zip": "6100000", "Total Spent": "150.00"}),
        google_row(h, **{"Customer ID": "'7002", "First Name": "Avi", "Phone": "",
                         "Default Address Phone": "'+972527654321"}),
        google_row(h, **{"Customer ID": "'7003", "First Name": "Noa", "Phone": '="0547654321"'}),
    ], "customers_export.csv")
    r = dry(cli, path, "-m", "Hi {{ first_name }}, you spent {{ total_spent }}")
    assert r.exit_code == 0, r.output
    rows = by_name(results(tmp_results(path)), "First Name")
    assert rows["Dana"]["jid"] == "972502345678" + JID
    assert rows["Avi"]["jid"] == "972527654321" + JID  # Phone empty: the address phone
    assert rows["Noa"]["jid"] == "972547654321" + JID
    assert {r["status"] for r in rows.values()} == {"ready"}
    assert rows["Dana"]["message"] == "Hi Dana, you spent 150.00"


HUBSPOT = layout("Record ID,First Name,Last Name,Email,Phone Number,Mobile Phone Number,Lifecycle Stage,"
           "Contact owner,Create Date")


def test_hubspot_prefers_the_mobile_and_falls_back_to_the_phone(
    cli: Cli, write_csv: Callable[..., Path], results: Results
) -> None:
    path = write_csv([
        HUBSPOT,
        ["101", "Dana", "Cohen", "d@x.com", "03-555-1234", "050-234-5678", "lead", "", "2024-05-01 10:00"],
        ["102", "Avi", "Levi", "a@x.com", "", "052-765-4321", "lead", "", "2024-05-02 10:00"],
        ["103", "Noa", "Bar", "n@x.com", "054-765-4321", "", "customer", "", "2024-05-03 10:00"],
    ], "hubspot.csv")
    r = dry(cli, path, "-m", "Hi {{ first_name }}")
    assert r.exit_code == 0, r.output
    assert "phone column 'Mobile Phone Number'" in r.stdout
    assert "takes it from 'Phone Number'" in r.stderr
    rows = by_name(results(tmp_results(path)), "First Name")
    assert rows["Dana"]["jid"] == "972502345678" + JID
    assert rows["Avi"]["jid"] == "972527654321" + JID
    assert rows["Noa"]["jid"] == "972547654321" + JID


def test_repeatable_phone_column_falls_back_in_the_order_given(
    cli: Cli, write_csv: Callable[..., Path], results: Results
) -> None:
    path = write_csv([["Name", "Office", "WhatsApp"], ["Dana", "050-234-5678", "not yet"],
                      ["Avi", "052-765-4321", "054-765-4321"]])
    r = dry(cli, path, "-m", "Hi", "--phone-column", "WhatsApp", "--phone-column", "Office")
    assert r.exit_code == 0, r.output
    rows = by_name(results(tmp_results(path)), "Name")
    assert rows["Dana"]["jid"] == "972502345678" + JID
    assert rows["Avi"]["jid"] == "972547654321" + JID


# --- country codes without '+', extensions, dates -------------------------------------------------


def test_country_code_without_plus_is_read_internationally(
    cli: Cli, write_csv: Callable[..., Path], results: Results
) -> None:
    path = write_csv([["Name", "Handy"], ["Jürgen", "4915123456789"], ["Dana", "972502345678"],
                      ["Tom", "447911123456"], ["Eva", "01512 3456789"]])
    r = dry(cli, path, "-m", "Hallo {{ name }}", "--country", "DE")
    assert r.exit_code == 0, r.output
    rows = by_name(results(tmp_results(path)), "Name")
    assert rows["Jürgen"]["jid"] == "4915123456789" + JID  # not 494915123456789
    assert rows["Dana"]["jid"] == "972502345678" + JID
    assert rows["Tom"]["jid"] == "447911123456" + JID
    assert rows["Eva"]["jid"] == "4915123456789" + JID


def test_extensions_tel_look_alikes_and_dates(
    cli: Cli, write_csv: Callable[..., Path], results: Results
) -> None:
    path = write_csv([
        ["Name", "Phone"],
        ["Ext", "+1 (212) 736-5000 x123"],
        ["Tel", "tel:+972-53-345-6789"],
        ["Nbh", "050\u20112345678"],
        ["Wide", "\uff0b972\uff0d54\uff0d7654321"],
        ["Short", "050-5556667/8"],
        ["Date", "2024-05-01"],
    ])
    r = dry(cli, path, "-m", "Hi")
    assert r.exit_code == 0, r.output
    rows = by_name(results(tmp_results(path)), "Name")
    assert rows["Ext"]["jid"] == "12127365000" + JID
    assert rows["Ext"]["error"] == "warning: extension 123 dropped (WhatsApp numbers have none)"
    assert rows["Tel"]["jid"] == "972533456789" + JID
    assert rows["Nbh"]["jid"] == "972502345678" + JID
    assert rows["Wide"]["jid"] == "972547654321" + JID
    assert rows["Short"]["jid"] == "972505556667" + JID
    assert "not 0505556668" in rows["Short"]["error"]
    assert (rows["Date"]["status"], rows["Date"]["error"]) == (
        "invalid", "'2024-05-01' is a date, not a phone number")
    assert "row 7: invalid: '2024-05-01' is a date, not a phone number" in r.stderr


@pytest.mark.parametrize(
    "header",
    ["Handy", "Telefon", "Téléphone", "Portable", "Teléfono", "Celular", "Móvil", "Telefone", "هاتف",
     "رقم الهاتف", "جوال", "Телефон", "Telephone Number", "Tel.", "Tel No", "Number", "Contact Number",
     "טלפון", "נייד", "Handynummer", "Mobile No."],
)
def test_phone_headers_in_many_languages(header: str) -> None:
    assert header_candidates(["Name", "Email", header, "City"]) == [2]


@pytest.mark.parametrize(
    ("columns", "first"),
    [
        (["Phone", "WhatsApp"], "WhatsApp"),
        (["Phone Number", "Mobile Phone Number"], "Mobile Phone Number"),
        (["Home Phone", "Primary Phone", "Mobile Phone"], "Mobile Phone"),
        (["Phone 1 - Type", "Phone 1 - Value"], "Phone 1 - Value"),
    ],
)
def test_whatsapp_and_mobile_beat_general_and_landline(columns: list[str], first: str) -> None:
    assert columns[header_candidates(columns)[0]] == first


@pytest.mark.parametrize("header", ["Phonetic First Name", "Phone 1 - Type", "Business Fax",
                                    "Default Address Country Code", "Order Number", "Cancelled"])
def test_not_phone_columns(header: str) -> None:
    assert header_candidates([header]) == []


def test_phone_column_found_by_content(cli: Cli, write_csv: Callable[..., Path]) -> None:
    path = write_csv([["Name", "Kontakt"], ["Dana", "050-234-5678"], ["Avi", "052-765-4321"]])
    r = dry(cli, path, "-m", "Hi")
    assert r.exit_code == 0, r.output
    assert "phone column 'Kontakt'" in r.stdout
    assert "no column is named like a phone column; using 'Kontakt'" in r.stderr


# --- headers: preambles and notes -----------------------------------------------------------------


def test_notes_in_unnamed_columns_do_not_hide_the_header(
    cli: Cli, write_csv: Callable[..., Path], results: Results
) -> None:
    path = write_csv([["Name", "Phone", "", ""], ["Dana", "050-234-5678", "call after 5", "VIP"],
                      ["Avi", "052-765-4321", "", "new"], ["Noa", "054-765-4321", "x", ""]])
    r = dry(cli, path, "-m", "Hi {{ name }}")
    assert r.exit_code == 0, r.output
    assert "header on row 1" in r.stdout and "Hi Dana" in r.stdout


def test_missing_phone_column_error_mentions_header_row(cli: Cli, write_csv: Callable[..., Path]) -> None:
    path = write_csv([
        ["Customer report", "", "", ""],
        ["Generated by", "CRM", "on", "Monday"],
        ["Name", "Mobile", "City", "Plan"],
        ["Dana", "050-234-5678", "Haifa", "Gold"],
    ])
    r = dry(cli, path, "-m", "Hi", "--header-row", "2")
    assert r.exit_code == 2
    assert "Row 3 looks like the column names ('Mobile'): give it with --header-row 3." in r.stderr
    assert dry(cli, path, "-m", "Hi", "--header-row", "3").exit_code == 0


# --- a workbook: summary sheet first, a filter, hidden rows, display formats ----------------------


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    wb = openpyxl.Workbook()
    summary = wb.active
    summary.title = "Summary"
    summary.append(["Campaign", "Spring"])
    summary.append(["Total", 5])
    ws = wb.create_sheet("Customers")
    ws.append(["Name", "Phone", "Amount", "Discount", "Joined", "Slot", "Code", "Price", "Status"])
    data = [
        ["Dana", "050-234-5678", 1500, 0.15, dt.date(2024, 5, 1), dt.time(14, 30), 123,
         17.549999999999997, "active"],
        ["Avi", "052-765-4321", 99.5, 0.05, dt.date(2024, 12, 31), dt.time(9, 5), 7, 3.0, "removed"],
        ["Noa", "054-765-4321", 20, 0.1, dt.date(2024, 1, 2), dt.time(8, 0), 42, 1.1, "active"],
        ["Eli", "053-345-6789", 0, 0, dt.date(2024, 1, 3), dt.time(8, 0), 1, 2.0, "removed"],
    ]
    for row in data:
        ws.append(row)
    for r in range(2, 6):
        ws[f"C{r}"].number_format = '"₪"#,##0.00'
        ws[f"D{r}"].number_format = "0%"
        ws[f"E{r}"].number_format = "dd/mm/yyyy"
        ws[f"F{r}"].number_format = "h:mm"
        ws[f"G{r}"].number_format = "00000"
    ws.auto_filter.ref = "A1:I5"
    ws.auto_filter.add_filter_column(8, ["active"])
    ws.row_dimensions[3].hidden = True  # filtered out: Avi, 'removed'
    ws.row_dimensions[5].hidden = True  # Eli
    path = tmp_path / "shop.xlsx"
    wb.save(path)
    return path


TEMPLATE = ("{{ name }}: {{ amount }}, {{ discount }} off, since {{ joined }} at {{ slot }}, "
            "code {{ code }}, {{ price }}")


def test_workbook_summary_sheet_first_display_formats_and_hidden_rows(
    cli: Cli, workbook: Path, results: Results
) -> None:
    r = dry(cli, workbook, "-m", TEMPLATE)
    assert r.exit_code == 0, r.output
    assert "shop.xlsx (sheet 'Customers')" in r.stdout
    assert "using 'Customers', the one with a phone column ('Summary' has none" in r.stderr
    assert "Dana: ₪1,500.00, 15% off, since 01/05/2024 at 14:30, code 00123, 17.55" in r.stdout
    assert "2 rows hidden in the workbook (by hand or by a filter): 3, 5" in r.stderr
    assert "--skip-hidden" in r.stderr
    rows = by_name(results(workbook.with_name("shop-message.results.xlsx")), "Name")
    assert [rows[n]["status"] for n in ("Dana", "Avi", "Noa", "Eli")] == ["ready"] * 4


def test_skip_hidden_suppresses_hidden_rows(cli: Cli, workbook: Path, results: Results) -> None:
    r = dry(cli, workbook, "-m", TEMPLATE, "--skip-hidden")
    assert r.exit_code == 0, r.output
    rows = by_name(results(workbook.with_name("shop-message.results.xlsx")), "Name")
    assert (rows["Avi"]["status"], rows["Avi"]["error"]) == ("suppressed", "hidden row")
    assert (rows["Eli"]["status"], rows["Eli"]["error"]) == ("suppressed", "hidden row")
    assert rows["Dana"]["status"] == rows["Noa"]["status"] == "ready"
    assert "row 3: suppressed: hidden row" in r.stderr


def test_results_give_cells_back_in_their_type(cli: Cli, workbook: Path) -> None:
    assert dry(cli, workbook, "-m", TEMPLATE).exit_code == 0
    ws = openpyxl.load_workbook(workbook.with_name("shop-message.results.xlsx")).active
    header = [c.value for c in ws[1]]
    dana = {h: ws.cell(row=2, column=i + 1) for i, h in enumerate(header)}
    assert dana["Phone"].value == "050-234-5678" and dana["Phone"].data_type == "s"
    assert dana["Amount"].value == 1500 and dana["Amount"].number_format == '"₪"#,##0.00'
    assert dana["Discount"].value == 0.15 and dana["Discount"].number_format == "0%"
    assert dana["Joined"].value == dt.datetime(2024, 5, 1) and dana["Joined"].is_date
    assert dana["Code"].value == 123 and dana["Code"].number_format == "00000"
    assert dana["jid"].data_type == "s" and dana["status"].value == "ready"


def tmp_results(path: Path) -> Path:
    return path.with_name(f"{path.stem}-message.results{path.suffix}")


def test_a_two_cell_report_preamble_is_not_the_header(cli: Cli, write_csv: Callable[..., Path]) -> None:
    path = write_csv([["Customer report", "", "Printed: 01/05/2024"], ["", "", ""],
                      ["Name", "Phone", "City"], ["Dana", "050-234-5671", "TLV"]])
    r = dry(cli, path, "-m", "Hi {{ name }}")
    assert r.exit_code == 0, r.output
    assert "header on row 3" in r.stdout and "Hi Dana" in r.stdout


def test_an_unknown_variable_with_no_near_name_points_at_header_row(
    cli: Cli, write_csv: Callable[..., Path]
) -> None:
    path = write_csv([["Report", "Printed", "Today"], ["Name", "Phone", "City"],
                      ["Dana", "050-234-5671", "TLV"]])
    r = dry(cli, path, "-m", "Hi {{ first_name }}")
    assert r.exit_code == 2
    assert "The column names were read from row 1 ('Report', 'Printed', 'Today')" in r.stderr
    assert "--header-row N" in r.stderr


def test_a_column_of_id_numbers_is_not_taken_for_phones(cli: Cli, write_csv: Callable[..., Path]) -> None:
    path = write_csv([["Name", "ID Number", "Zip"], ["A", "031234567", "12345"], ["B", "021234568", "23456"]])
    r = dry(cli, path, "-m", "Hi {{ name }}")
    assert r.exit_code == 2
    assert "no phone column found" in r.stderr


def test_a_header_with_no_contacts_is_exit_2(cli: Cli, write_csv: Callable[..., Path]) -> None:
    r = dry(cli, write_csv([["Name", "Phone"]]), "-m", "Hi")
    assert r.exit_code == 2
    assert "no contact is below them" in r.stderr
