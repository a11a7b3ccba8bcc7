"""Issue 17's acceptance, played again on a second set of real exports (their published column
layouts, delimiters and encodings), each through the real dry run with no --country on a
computer whose locale says another country (de_DE), judged by the results sheet."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

from click.testing import Result

Cli = Callable[..., Result]
WA = "@s.whatsapp.net"
GERMAN = {"LANG": "de_DE.UTF-8", "LC_ALL": "de_DE.UTF-8"}


def write(path: Path, rows: list[list[str]], *, encoding: str = "utf-8", delimiter: str = ",") -> Path:
    with open(path, "w", encoding=encoding, newline="") as f:
        csv.writer(f, delimiter=delimiter).writerows(rows)
    return path


def dry(cli: Cli, contacts: Path, *args: object) -> Result:
    return cli("send", contacts, "--dry-run", "-m", "Hello!", *args, env=GERMAN)


def results(contacts: Path) -> list[tuple[str, str, str]]:
    found = sorted(contacts.parent.glob(f"{contacts.stem}*.results.csv"))
    assert len(found) == 1, found
    text = found[0].read_text(encoding="utf-8-sig")
    delimiter = max(",;\t", key=text.splitlines()[0].count)
    rows = csv.DictReader(text.splitlines(), delimiter=delimiter)
    return [(r["jid"], r["status"], r["error"]) for r in rows]


HUBSPOT = ["Record ID", "First Name", "Last Name", "Email", "Phone Number", "Mobile Phone Number",
           "Country/Region", "Contact owner", "Create Date"]


def test_hubspot_a_typod_number_of_the_rows_country_is_never_a_home_landline(
    cli: Cli, tmp_path: Path
) -> None:
    # '718-350-46' is a US number two digits short; under DE (the computer's locale) it reads as
    # a valid Heilbronn landline, 4971835046. The row says United States: it is invalid.
    rows = [HUBSPOT,
            ["5001", "Joe", "Doe", "", "", "(201) 555-0123", "United States", "Me", ""],
            ["5002", "Typo", "Doe", "", "", "718-350-46", "United States", "Me", ""],
            # A billing country that is not where the phone is: a home *mobile* still stands.
            ["5003", "Jan", "Roth", "", "", "0151 23456789", "United States", "Me", ""]]
    contacts = write(tmp_path / "hubspot.csv", rows)
    r = dry(cli, contacts)
    assert r.exit_code == 0, r.output
    got = results(contacts)
    assert got[0][:2] == ("12015550123" + WA, "ready")
    assert got[1][:2] == ("", "invalid") and "too short for US" in got[1][2]
    assert got[2][:2] == ("4915123456789" + WA, "ready") and "read as a DE number" in got[2][2]


MAILCHIMP = [
    "Email Address", "First Name", "Last Name", "Address", "Phone Number", "Birthday",
    "MEMBER_RATING", "OPTIN_TIME", "OPTIN_IP", "CONFIRM_TIME", "CONFIRM_IP", "LATITUDE",
    "LONGITUDE", "GMTOFF", "DSTOFF", "TIMEZONE", "CC", "REGION", "LAST_CHANGED", "LEID", "EUID",
    "NOTES", "TAGS",
]
ZA_MOBILES = ["071 123 4795", "071 123 4321", "082 123 4567", "071 123 4599", "083 765 4321"]


def mailchimp(cc: str) -> list[list[str]]:
    rows = [MAILCHIMP]
    for i, phone in enumerate(ZA_MOBILES):
        cells = dict.fromkeys(MAILCHIMP, "")
        cells.update({"Email Address": f"z{i}@example.co.za", "First Name": f"Z{i}",
                      "Address": "1 Long St  Cape Town  WC  8001  ZA", "Phone Number": phone,
                      "MEMBER_RATING": "2", "TIMEZONE": "Africa/Johannesburg", "CC": cc})
        rows.append(list(cells.values()))
    return rows


def test_mailchimp_cc_column_gives_each_row_its_country(cli: Cli, tmp_path: Path) -> None:
    contacts = write(tmp_path / "members.csv", mailchimp("ZA"))
    r = dry(cli, contacts)
    assert r.exit_code == 0, r.output
    assert [j for j, _, _ in results(contacts)] == [
        "27711234795" + WA, "27711234321" + WA, "27821234567" + WA, "27711234599" + WA,
        "27837654321" + WA]


def test_local_numbers_that_are_home_landlines_but_mobiles_elsewhere_stop(
    cli: Cli, tmp_path: Path
) -> None:
    # Without CC: '071 123 4795' is a valid Stuttgart landline under DE (the locale) and a South
    # African mobile. Sent under DE, every message went to a German landline: it asks instead.
    contacts = write(tmp_path / "members.csv", mailchimp(""))
    r = dry(cli, contacts)
    assert r.exit_code == 2, r.output
    assert "only 0 as mobiles" in r.stderr and "--country ZA" in r.stderr
    assert not list(tmp_path.glob("*.results.csv"))
    r = dry(cli, contacts, "--country", "ZA")
    assert r.exit_code == 0, r.output
    assert results(contacts)[0][:2] == ("27711234795" + WA, "ready")


def test_brevo_sms_and_whatsapp_columns_with_codes_but_no_plus(cli: Cli, tmp_path: Path) -> None:
    # Brevo's contact export: ';'-separated, phones in SMS / WHATSAPP with the country code and no
    # '+'. Nothing is written locally, so there is no country to ask about; an empty WHATSAPP
    # takes the row's SMS.
    rows = [["CONTACT ID", "EMAIL", "FIRSTNAME", "LASTNAME", "SMS", "WHATSAPP", "DOUBLE_OPT-IN"],
            ["1", "a@example.fr", "Amélie", "Dupont", "33612345678", "", "Yes"],
            ["2", "b@example.fr", "Bruno", "Petit", "33687654321", "33687654321", "Yes"],
            ["3", "c@example.fr", "Chloé", "Moreau", "33611223344", "", "No"]]
    contacts = write(tmp_path / "brevo.csv", rows, delimiter=";")
    r = dry(cli, contacts)
    assert r.exit_code == 0, r.output
    assert results(contacts) == [("33612345678" + WA, "ready", ""), ("33687654321" + WA, "ready", ""),
                                 ("33611223344" + WA, "ready", "")]


def test_typeform_turkish_numbers_without_country_name_tr_first(cli: Cli, tmp_path: Path) -> None:
    # Typeform's response export, no country question: local Turkish mobiles (0501..., which are
    # Finnish mobiles too) and one a digit short, which Finland also calls a valid number. The
    # run asks, naming TR first, not FI.
    rows = [["#", "First name", "Phone number", "Start Date (UTC)", "Submit Date (UTC)", "Network ID"],
            *[[f"r{i}", f"T{i}", f"0501 234 56 {60 + i}", "2026-11-01 10:00:00", "2026-11-01 10:01:00",
               "n1"] for i in range(8)],
            ["r9", "Short", "532 123 45 6", "", "", ""]]
    contacts = write(tmp_path / "responses.csv", rows)
    r = dry(cli, contacts)
    assert r.exit_code == 2, r.output
    assert "They read best as TR (8 of 9 mobiles)" in r.stderr and "--country TR" in r.stderr
    r = dry(cli, contacts, "--country", "TR")
    assert r.exit_code == 0, r.output
    got = results(contacts)
    assert got[0][:2] == ("905012345660" + WA, "ready")
    assert got[8][:2] == ("", "invalid") and "too short for TR" in got[8][2]


def uk_sheet(base: str) -> list[list[str]]:
    """A new user's 27 UK customers, the phone written four ways as people type it."""
    rows = [["Name", "Email", "Phone"]]
    for i in range(27):
        m = base.format(i)
        phone = [f"0{m[:4]} {m[4:]}", f"+44 {m[:4]} {m[4:]}", f"44{m}", f"{m[:4]} {m[4:]}"][i % 4]
        rows.append([f"Customer {i}", f"c{i}@example.co.uk", phone])
    return rows


def test_a_uk_shop_whose_numbers_are_in_guernseys_block_is_gb(cli: Cli, tmp_path: Path) -> None:
    # '+44 7911 123456' is, to phonenumbers, Guernsey's block of the UK's numbering: the sheet
    # is GB's all the same, and the output says so.
    contacts = write(tmp_path / "customers.csv", uk_sheet("79111234{:02d}"))
    r = dry(cli, contacts)
    assert r.exit_code == 0, r.output
    assert "country GB (inferred: " in r.stdout and "; --country to change)" in r.stdout
    got = results(contacts)
    assert got == [(f"4479111234{i:02d}" + WA, "ready", "") for i in range(27)]


def test_a_uk_shop_in_ofcoms_drama_range_is_asked_about_not_read_as_german_landlines(
    cli: Cli, tmp_path: Path
) -> None:
    # '07700 900123' is outside GB's known ranges (Ofcom keeps it for drama) and a valid German
    # landline (area code 07700): never DE on a German computer.
    contacts = write(tmp_path / "customers.csv", uk_sheet("7700900{:03d}"))
    r = dry(cli, contacts)
    assert r.exit_code == 2, r.output
    assert "Did you mean --country GB?" in r.stderr
    assert not list(tmp_path.glob("*.results.csv"))
    r = dry(cli, contacts, "--country", "GB")
    assert r.exit_code == 0, r.output
    want = [(f"447700900{i:03d}" + WA, "ready") for i in range(27)]
    assert [(j, s) for j, s, _ in results(contacts)] == want
    assert "27 of them would be sent with a phone warning" in r.stdout
    r = cli("send", contacts, "--dry-run", "-m", "Hello!", env={"LANG": "en_GB.UTF-8"})
    assert r.exit_code == 0, r.output
    assert "country GB (inferred: 20 of 20 local numbers are possible GB numbers" in r.stdout


def test_calendly_italian_mobiles_on_an_american_computer_are_italian(cli: Cli, tmp_path: Path) -> None:
    # Calendly's invitee export: 'Text Reminder Number' as invitees typed it. '312 345 6485' is
    # an Italian mobile and a Chicago number; beside the sheet's '+39 ...' numbers it is Italian.
    header = ["Invitee Name", "Invitee First Name", "Invitee Last Name", "Invitee Email",
              "Text Reminder Number", "Event Type Name", "Start Date & Time", "End Date & Time",
              "Invitee Time Zone", "Canceled"]
    phones = ["312 345 6485", "+39 312 345 6486", "312 345 6487", "+39 312 345 6488"]
    rows = [header] + [[f"P{i} Rossi", f"P{i}", "Rossi", "", phone, "30 Minute Meeting",
                        "2026-12-01 10:00", "2026-12-01 10:30", "Europe/Rome", "false"]
                       for i, phone in enumerate(phones)]
    contacts = write(tmp_path / "events.csv", rows)
    r = cli("send", contacts, "--dry-run", "-m", "Hello!", env={"LANG": "en_US.UTF-8"})
    assert r.exit_code == 0, r.output
    assert ("country IT (inferred: 2 of 2 local numbers are IT mobiles (US reads them as mobiles "
            "too); --country to change)") in r.stdout
    assert results(contacts) == [(f"39312345648{5 + i}" + WA, "ready", "") for i in range(4)]


def test_salesforce_report_footer_is_not_contacts(cli: Cli, tmp_path: Path) -> None:
    # Salesforce's 'Export Details' of a contacts report: every field quoted, and below the table
    # an empty line and the report's footer, one text per line.
    header = ["First Name", "Last Name", "Title", "Account Name", "Mailing City", "Mailing Country",
              "Phone", "Mobile", "Email"]
    rows = [header,
            ["Amy", "Smith", "Buyer", "Acme", "London", "United Kingdom", "", "07400 123456", ""],
            ["Joe", "Yank", "VP", "Big", "New York", "United States", "", "(201) 555-0123", ""],
            [""], ["Contacts Report"],
            ["Copyright (c) 2000-2026 salesforce.com, inc. All rights reserved."],
            ["Confidential Information - Do Not Distribute"],
            ["Generated By:  John Smith  30/11/2026 09:41"], ["Acme Ltd"]]
    path = tmp_path / "report.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f, quoting=csv.QUOTE_ALL).writerows(rows)
    r = dry(cli, path)
    assert r.exit_code == 0, r.output
    assert "the 5 lines below the table ('Contacts Report', 'Copyright (c)" in r.stderr
    assert "2 rows" in r.stdout
    assert results(path) == [("447400123456" + WA, "ready", ""), ("12015550123" + WA, "ready", "")]


def test_woocommerce_a_typo_of_the_billing_countrys_number_is_never_a_home_mobile(
    cli: Cli, tmp_path: Path
) -> None:
    # WooCommerce's order export in a French shop: '07400 12345' is a UK mobile a digit short in
    # a GB order, and a valid French mobile (07 40 01 23 45) at home: never sent to that stranger.
    header = ["order_id", "order_date", "status", "billing_first_name", "billing_last_name",
              "billing_email", "billing_phone", "billing_country", "order_total"]
    rows = [header,
            ["901", "2026-11-01 10:00", "wc-completed", "Amy", "Lee", "", "07400 123456", "GB", "9.90"],
            ["902", "2026-11-01 10:00", "wc-completed", "Bob", "Kay", "", "07400 12345", "GB", "9.90"],
            ["903", "2026-11-01 10:00", "wc-completed", "Léa", "Roy", "", "06 12 34 56 78", "FR", "9.90"],
            # A French mobile billed to a US address: no US number begins with 0, so it is French.
            ["904", "2026-11-01 10:00", "wc-completed", "Eve", "Dai", "", "06 12 34 56 79", "US",
             "9.90"]]
    contacts = write(tmp_path / "orders.csv", rows)
    r = cli("send", contacts, "--dry-run", "-m", "Hello!", env={"LANG": "fr_FR.UTF-8"})
    assert r.exit_code == 0, r.output
    got = results(contacts)
    assert got[0][:2] == ("447400123456" + WA, "ready")
    assert got[1][:2] == ("", "invalid") and "too short for GB" in got[1][2]
    assert got[2][:2] == ("33612345678" + WA, "ready")
    assert got[3][:2] == ("33612345679" + WA, "ready") and "read as a FR number" in got[3][2]
