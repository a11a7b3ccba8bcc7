"""Issue 17: the right person. The home country is inferred and named, each row's own country
and country code are used, someone else's number is never, and a near miss is never a stranger.

Sheets are written in the layout the tools really export (column names, encoding, delimiter,
quoting), run through the real CLI, and judged by what a user sees: the results sheet, the
dry run's output, the exit code.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from pathlib import Path

import phonenumbers
import pytest
from click.testing import Result
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from campaign.countries import country_code, decide_home, locale_region
from campaign.errors import InputError
from campaign.phones import COUNTRY_RULES, to_jid
from tests.helpers import FAST

Cli = Callable[..., Result]
Results = Callable[[Path], list[dict[str, str]]]
WA = "@s.whatsapp.net"


def write(path: Path, rows: list[list[str]], *, encoding: str = "utf-8", delimiter: str = ",",
          quoting: int = csv.QUOTE_MINIMAL) -> Path:
    with open(path, "w", encoding=encoding, newline="") as f:
        csv.writer(f, delimiter=delimiter, quoting=quoting).writerows(rows)
    return path


def dry(cli: Cli, contacts: Path, *args: object, env: dict[str, str] | None = None) -> Result:
    return cli("send", contacts, "--dry-run", "-m", "Hello!", *args, env=env)


def results_of(contacts: Path) -> Path:
    """The dry run's results sheet beside the contacts (named after the campaign)."""
    found = sorted(contacts.parent.glob(f"{contacts.stem}*.results.csv"))
    assert len(found) == 1, found
    return found[0]


def read(path: Path) -> list[dict[str, str]]:
    """A results CSV as a user's spreadsheet opens it (it keeps the input's delimiter)."""
    text = path.read_text(encoding="utf-8-sig")
    first = text.splitlines()[0]
    delimiter = max(",;\t", key=first.count)
    return list(csv.DictReader(text.splitlines(), delimiter=delimiter))


def statuses(results: Results, contacts: Path) -> list[tuple[str, str, str]]:
    rows = read(results_of(contacts))
    return [(r["jid"], r["status"], r["error"]) for r in rows]


def mobiles(region: str, n: int) -> list[phonenumbers.PhoneNumber]:
    """`n` distinct valid mobiles of `region`, near phonenumbers' own example mobile."""
    example = phonenumbers.example_number_for_type(region, PhoneNumberType.MOBILE)
    assert example is not None, region
    nsn = phonenumbers.national_significant_number(example)
    out = []
    for i in range(1000):
        tail = (int(nsn[-3:]) + i * 7) % 1000
        candidate = phonenumbers.parse(f"+{example.country_code}{nsn[:-3]}{tail:03d}")
        if phonenumbers.is_valid_number(candidate) and phonenumbers.number_type(candidate) in (
            PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE,
        ):
            out.append(candidate)
        if len(out) == n:
            return out
    raise AssertionError(region)


def national(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)


def e164(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)[1:]


# --- the home country -------------------------------------------------------------------------

UK_SHOP = [["First Name", "Last Name", "Email", "Phone"]] + [
    [f"Customer{i}", "Smith", f"c{i}@example.co.uk", f"07911 {123400 + i * 37:06d}"] for i in range(25)
] + [["Land", "Line", "l@example.co.uk", "020 7946 0018"], ["Shop", "Two", "s@example.co.uk",
                                                               "0161 496 0123"]]


def test_a_uk_shop_without_country_is_read_as_gb_and_the_output_says_so(
    cli: Cli, tmp_path: Path, results: Results
) -> None:
    contacts = write(tmp_path / "customers.csv", UK_SHOP)
    r = dry(cli, contacts, env={"LANG": "en_GB.UTF-8"})
    assert r.exit_code == 0, r.output
    assert ("country GB (inferred: 25 of 27 local numbers are GB mobiles; --country to change)"
            in r.stdout)
    got = statuses(results, contacts)
    assert got[0] == ("447911123400" + WA, "ready", "")
    assert all(jid.startswith("44") and status == "ready" for jid, status, _ in got)


def test_a_uk_shop_on_a_computer_that_does_not_say_gb_stops_and_names_gb(
    cli: Cli, tmp_path: Path
) -> None:
    contacts = write(tmp_path / "customers.csv", UK_SHOP)
    r = dry(cli, contacts)  # LANG=C.UTF-8 (conftest): the only other candidate is IL
    assert r.exit_code == 2, r.output
    assert "none of the countries tried reads most of them as valid" in r.stderr
    assert "Give it with --country GB" in r.stderr
    assert not list(tmp_path.glob("*.results.csv"))


@pytest.mark.parametrize("option", ["GB", "gb", "UK", "uk"])
def test_country_uk_is_gb(cli: Cli, tmp_path: Path, results: Results, option: str) -> None:
    contacts = write(tmp_path / "customers.csv", UK_SHOP)
    r = dry(cli, contacts, "--country", option)
    assert r.exit_code == 0, r.output
    assert "country GB (--country)" in r.stdout
    assert statuses(results, contacts)[0][0] == "447911123400" + WA


def test_a_given_country_that_reads_most_numbers_as_invalid_asks_did_you_mean(
    cli: Cli, tmp_path: Path
) -> None:
    contacts = write(tmp_path / "customers.csv", UK_SHOP)
    r = dry(cli, contacts, "--country", "IL")
    assert r.exit_code == 2, r.output
    assert ("--country IL: only 0 of the 27 phone numbers written without a country code are "
            "valid IL numbers. Did you mean --country GB?") in r.stderr


@pytest.mark.parametrize("how", ["environment", ".env"])
def test_campaign_country_is_a_candidate(cli: Cli, tmp_path: Path, results: Results, how: str) -> None:
    contacts = write(tmp_path / "customers.csv", UK_SHOP)
    env = {"CAMPAIGN_COUNTRY": "UK"} if how == "environment" else None
    if how == ".env":
        (tmp_path / ".env").write_text("# shop settings\nCAMPAIGN_COUNTRY=GB\n", encoding="utf-8")
    r = dry(cli, contacts, env=env)
    assert r.exit_code == 0, r.output
    assert "country GB (inferred: 25 of 27" in r.stdout


def test_israeli_numbers_infer_il(cli: Cli, tmp_path: Path, results: Results) -> None:
    contacts = write(tmp_path / "c.csv", [["First Name", "טלפון"], ["דנה", "050-234-5678"],
                                          ["Avi", "054-765-4321"], ["Rina", "+972 53 123 4567"]])
    r = dry(cli, contacts, env={"LANG": "en_US.UTF-8"})
    assert r.exit_code == 0, r.output
    assert "country IL (inferred: 2 of 2 local numbers are IL mobiles" in r.stdout
    assert [j for j, _, _ in statuses(results, contacts)] == [
        "972502345678" + WA, "972547654321" + WA, "972531234567" + WA]


def test_the_locale_region_is_read_from_the_environment_only_as_given() -> None:
    assert locale_region({"LANG": "en_GB.UTF-8"}) == "GB"
    assert locale_region({"LC_ALL": "de_AT.UTF-8", "LANG": "en_US.UTF-8"}) == "AT"
    assert locale_region({"LANG": "C.UTF-8"}) is None
    assert locale_region({"LANG": "pt_BR"}) == "BR"


TEN_COUNTRIES = ["GB", "US", "DE", "FR", "ES", "IT", "BR", "MX", "IN", "TR", "AU", "NL", "ZA", "PL",
                 "AR", "NG", "JP", "SA"]


@pytest.mark.parametrize("region", TEN_COUNTRIES)
def test_a_sheet_with_one_international_number_infers_its_country(
    cli: Cli, tmp_path: Path, results: Results, region: str
) -> None:
    numbers = mobiles(region, 9)
    rows = [["First Name", "Mobile"], ["Intl", "+" + e164(numbers[0])]]
    rows += [[f"P{i}", national(n)] for i, n in enumerate(numbers[1:])]
    contacts = write(tmp_path / "c.csv", rows)
    r = dry(cli, contacts)
    assert r.exit_code == 0, r.output
    assert f"country {region} (inferred: 8 of 8 local numbers are {region} mobiles" in r.stdout
    assert [j for j, _, _ in statuses(results, contacts)] == [e164(n) + WA for n in numbers]


LOCALES = {"GB": "en_GB", "US": "en_US", "DE": "de_DE", "FR": "fr_FR", "ES": "es_ES",
           "IT": "it_IT", "BR": "pt_BR", "MX": "es_MX", "IN": "hi_IN", "TR": "tr_TR", "AU": "en_AU",
           "NL": "nl_NL", "ZA": "en_ZA", "PL": "pl_PL", "AR": "es_AR", "NG": "en_NG", "JP": "ja_JP",
           "SA": "ar_SA"}


@pytest.mark.parametrize("region", TEN_COUNTRIES)
def test_a_sheet_of_local_numbers_on_a_computer_of_that_country_infers_it(
    cli: Cli, tmp_path: Path, results: Results, region: str
) -> None:
    numbers = mobiles(region, 8)
    contacts = write(tmp_path / "c.csv", [["First Name", "Phone"]]
                     + [[f"P{i}", national(n)] for i, n in enumerate(numbers)])
    r = dry(cli, contacts, env={"LANG": f"{LOCALES[region]}.UTF-8"})
    assert r.exit_code == 0, r.output
    assert f"country {region} (inferred: 8 of 8 local numbers are {region} mobiles" in r.stdout
    assert [j for j, _, _ in statuses(results, contacts)] == [e164(n) + WA for n in numbers]


@pytest.mark.parametrize("region", TEN_COUNTRIES)
def test_a_sheet_of_local_numbers_alone_infers_its_country_or_stops_naming_it(
    cli: Cli, tmp_path: Path, results: Results, region: str
) -> None:
    numbers = mobiles(region, 8)
    contacts = write(tmp_path / "c.csv", [["First Name", "Phone"]]
                     + [[f"P{i}", national(n)] for i, n in enumerate(numbers)])
    r = dry(cli, contacts)  # no locale, no CAMPAIGN_COUNTRY, no international number: IL or stop
    israeli = [n for n in numbers if (to_jid(national(n), "IL").jid or "").startswith("972")]
    if r.exit_code == 0:
        # Only where the numbers are also Israeli mobiles as written (SA's 05x, PL's 51x): IL is
        # a candidate on every computer, and nothing in this sheet says otherwise.
        assert "country IL (inferred" in r.stdout and len(israeli) * 2 > len(numbers), region
    else:
        assert r.exit_code == 2, r.output
        named = re.search(r"They read best as (.*)\. Give it with", r.stderr)
        assert named and f"{region} (" in named.group(1), r.stderr


def test_no_local_numbers_needs_no_country() -> None:
    home = decide_home(["+447400123456", "+4915123456789"], given=None, configured=None,
                       locale_country=None)
    assert home.country == "GB"
    assert "no local number to infer it from" in home.how


def test_test_to_uses_the_sheets_home_country(cli: Cli, tmp_path: Path, sandbox, sandbox_env) -> None:  # type: ignore[no-untyped-def]
    contacts = write(tmp_path / "customers.csv", UK_SHOP)
    r = cli("send", contacts, "-m", "Hi {{ row['First Name'] }}", *FAST, "--test-to", "07700 900999",
            env={**sandbox_env, "LANG": "en_GB.UTF-8"})
    assert r.exit_code == 0, r.output
    assert [m.jid for m in sandbox.received] == ["447700900999" + WA]


# --- each row's own country -------------------------------------------------------------------


def test_salesforce_mailing_country_gives_the_row_its_own_country(
    cli: Cli, tmp_path: Path, results: Results
) -> None:
    # Salesforce report export: every field quoted, UTF-8, the labels as column names.
    header = ["First Name", "Last Name", "Mobile", "Mailing Country", "Email"]
    rows = [header] + [[f"C{i}", "Brown", f"07911 {223400 + i:06d}", "United Kingdom", ""]
                       for i in range(6)]
    rows += [["Joe", "Yank", "(212) 736-5000", "United States", ""],
             ["Hans", "Weber", "0151 23456789", "Deutschland", ""],
             ["Ana", "Ruiz", "612 34 56 78", "ESP", ""],
             ["Dana", "Levi", "050-234-5678", "ישראל", ""],
             ["Nora", "Unknown", "07400 123456", "", ""]]
    contacts = write(tmp_path / "report.csv", rows, quoting=csv.QUOTE_ALL)
    r = dry(cli, contacts)
    assert r.exit_code == 0, r.output
    assert "country GB (inferred: 1 of 1 local numbers are GB mobiles" in r.stdout
    assert "'Mailing Country'" in r.stderr
    got = [j for j, _, _ in statuses(results, contacts)]
    assert got[6:] == ["12127365000" + WA, "4915123456789" + WA, "34612345678" + WA,
                       "972502345678" + WA, "447400123456" + WA]


@pytest.mark.parametrize(("cell", "code"), [
    ("United Kingdom", "GB"), ("UK", "GB"), ("GBR", "GB"), ("gb", "GB"), ("Royaume-Uni", "GB"),
    ("Vereinigtes Königreich", "GB"), ("הממלכה המאוחדת", "GB"), ("المملكة المتحدة", "GB"),
    ("Estados Unidos", "US"), ("USA", "US"), ("Deutschland", "DE"), ("Allemagne", "DE"),
    ("ישראל", "IL"), ("إسرائيل", "IL"), ("España", "ES"), ("Brasil", "BR"), ("México", "MX"),
    ("Türkiye", "TR"), ("Россия", "RU"), ("NA", None), ("", None), ("Narnia", None),
])
def test_country_cells_in_many_languages(cell: str, code: str | None) -> None:
    assert country_code(cell) == code


def test_woocommerce_billing_country_iso_codes(cli: Cli, tmp_path: Path, results: Results) -> None:
    header = ["Order Number", "Order Status", "Billing First Name", "Billing Last Name",
              "Billing Phone", "Billing Country", "Order Total"]
    rows = [header,
            ["1001", "completed", "Amy", "Lee", "0412 345 678", "AU", "59.00"],
            ["1002", "processing", "Tom", "Ng", "(212) 736-5000", "US", "12.50"],
            ["1003", "completed", "Zoe", "Kay", "07911 123456", "GB", "99.90"]]
    contacts = write(tmp_path / "orders.csv", rows)
    r = dry(cli, contacts)
    assert r.exit_code == 0, r.output
    assert [j for j, _, _ in statuses(results, contacts)] == [
        "61412345678" + WA, "12127365000" + WA, "447911123456" + WA]


# --- a country code column, someone else's number ---------------------------------------------


def test_interakt_country_code_and_phone_number_are_combined(
    cli: Cli, tmp_path: Path, results: Results
) -> None:
    rows = [["Name", "Country Code", "Phone Number", "Email", "Tags"],
            ["Priya", "+91", "9876543210", "p@example.in", "vip"],
            ["Oliver", "+44", "7723456789", "o@example.co.uk", ""],
            ["Omar", "971", "501234567", "", ""],
            ["Already", "+44", "447723456780", "", ""],
            ["Zero", "44", "07723 456781", "", ""]]
    contacts = write(tmp_path / "interakt.csv", rows)
    r = dry(cli, contacts)
    assert r.exit_code == 0, r.output
    assert "'Country Code'" in r.stderr
    assert [j for j, _, _ in statuses(results, contacts)] == [
        "919876543210" + WA, "447723456789" + WA, "971501234567" + WA, "447723456780" + WA,
        "447723456781" + WA]


def test_an_emergency_contact_is_never_messaged(cli: Cli, tmp_path: Path, results: Results) -> None:
    # A registration form (Jotform / Google Forms): the participant's own phone, then their
    # emergency contact's. Dana left her own empty: she gets nothing, her father gets nothing.
    rows = [["Submission Date", "First Name", "Phone Number", "Emergency Contact Name",
             "Emergency Contact Phone", "Parent/Guardian Mobile"],
            ["2026-11-01 10:00:00", "Avi", "050-234-5678", "Moshe", "052-111-2222", "053-111-2222"],
            ["2026-11-01 11:00:00", "Dana", "", "Father", "054-333-4444", "055-333-4444"]]
    contacts = write(tmp_path / "form.csv", rows)
    r = dry(cli, contacts)
    assert r.exit_code == 0, r.output
    assert statuses(results, contacts) == [("972502345678" + WA, "ready", ""),
                                           ("", "invalid", "no phone number")]
    # Named on purpose, it is used.
    r = dry(cli, contacts, "--phone-column", "Phone Number", "--phone-column", "Emergency Contact Phone")
    assert r.exit_code == 0, r.output
    assert statuses(results, contacts)[1][:2] == ("972543334444" + WA, "ready")


def test_a_sheet_of_only_role_columns_is_not_read_by_content(cli: Cli, tmp_path: Path) -> None:
    rows = [["Name", "Emergency Contact"], ["Avi", "050-234-5678"], ["Dana", "054-333-4444"]]
    r = dry(cli, write(tmp_path / "c.csv", rows))
    assert r.exit_code == 2, r.output
    assert "no phone column found" in r.stderr
    assert ("'Emergency Contact' holds someone else's number (an emergency contact, a parent, an "
            "office), never used unless named: to message those people, give --phone-column "
            "'Emergency Contact'.") in r.stderr


# --- what exports hold ------------------------------------------------------------------------


def test_meta_lead_form_export(cli: Cli, tmp_path: Path, results: Results) -> None:
    # Meta's lead ads download: UTF-16 with a BOM, tab-separated, phones as 'p:+966...'.
    header = ["id", "created_time", "ad_id", "ad_name", "adset_id", "adset_name", "campaign_id",
              "campaign_name", "form_id", "form_name", "is_organic", "platform", "full_name",
              "phone_number", "email"]
    lead = ["l:1234567890", "2026-11-20T10:00:00+03:00", "ag:1", "Ad", "as:1", "Set", "c:1", "Camp",
            "f:1", "Form", "false", "ig"]
    rows = [header, [*lead, "Fahad", "p:+966501234567", "f@example.sa"],
            [*lead, "Noura", "p:+971501234567", "n@example.ae"]]
    contacts = write(tmp_path / "leads.csv", rows, encoding="utf-16", delimiter="\t")
    r = cli("send", contacts, "--dry-run", "-m", "Hi {{ full_name }}")
    assert r.exit_code == 0, r.output
    assert [j for j, _, _ in statuses(results, contacts)] == ["966501234567" + WA, "971501234567" + WA]


@pytest.mark.parametrize(("cell", "jid"), [
    ("https://wa.me/447911123456", "447911123456"),
    ("wa.me/447911123456?text=Hi", "447911123456"),
    ("https://api.whatsapp.com/send?phone=447911123456&text=Hello", "447911123456"),
    ("https://api.whatsapp.com/send/?phone=%2B447911123456&text&type=phone_number", "447911123456"),
    ("whatsapp://send?phone=+447911123456", "447911123456"),
    ("p:+966501234567", "966501234567"),
    ("tel:+44-7911-123456", "447911123456"),
    ("+44 (0)7911 123456", "447911123456"),
    ("0044 07911 123456", "447911123456"),
    ("+44 07911 123456", "447911123456"),
    ("+49 (0)151 23456789", "4915123456789"),
    ("+52 1 55 1234 5678", "525512345678"),
    ("+5215512345678", "525512345678"),
])
def test_links_prefixes_and_the_trunk_zero_after_the_code(cell: str, jid: str) -> None:
    assert to_jid(cell, "IL").jid == jid + WA


@pytest.mark.parametrize(("cell", "country", "problem"), [
    ("532 123 45 6", "TR", "'532 123 45 6' is too short for TR (a digit or two missing: TR mobiles "
                           "have 10 digits without the leading 0); check it"),
    ("718-350-46", "US", "'718-350-46' is too short for US (a digit or two missing: US mobiles have "
                         "10 digits without the leading 1); check it"),
    ("07917 8901", "GB", "'07917 8901' is too short for GB (a digit or two missing: GB mobiles have "
                         "10 digits without the leading 0); check it"),
    ("+44 7917 8901", "IL", "'+44 7917 8901' is too short for GB (a digit or two missing: GB mobiles "
                            "have 10 digits without the leading 0); check it"),
    ("15 1234-5678", "AR", "'15 1234-5678' is an Argentine mobile without its area code"),
])
def test_a_near_miss_is_invalid_never_another_country(cell: str, country: str, problem: str) -> None:
    result = to_jid(cell, country)
    assert result.jid is None
    assert result.problem.startswith(problem), result.problem


def test_typod_us_numbers_never_go_abroad(cli: Cli, tmp_path: Path, results: Results) -> None:
    good = [f"(718) 350-{4600 + i}" for i in range(8)]
    typos = ["718-350-46", "212-736-50", "718-350-4600-1"]
    contacts = write(tmp_path / "c.csv", [["First Name", "Phone"]]
                     + [[f"P{i}", p] for i, p in enumerate(good + typos)])
    r = dry(cli, contacts, env={"LANG": "en_US.UTF-8"})
    assert r.exit_code == 0, r.output
    got = statuses(results, contacts)
    assert all(j.startswith("1718") for j, _, _ in got[:8])
    for jid, status, error in got[8:]:
        assert (jid, status) == ("", "invalid") and "for US" in error


# Each rule phonenumbers leaves to the caller: (country, cell, JID or None, what the row says).
RULE_CASES = {
    "MX": [("MX", "+52 1 55 1234 5678", "525512345678", ""),
           ("MX", "044 55 1234 5678", "525512345678", ""),
           ("MX", "55 1234 5678", "525512345678", "")],
    "AR": [("AR", "15 1234-5678", None, "without its area code"),
           ("AR", "011 15 1234-5678", "5491112345678", ""),
           ("AR", "+54 9 11 1234-5678", "5491112345678", "")],
}


@pytest.mark.parametrize("region", sorted(COUNTRY_RULES))
def test_country_rules(region: str) -> None:
    assert region in RULE_CASES, f"add the cases of the {region} rule to RULE_CASES"
    for country, cell, jid, problem in RULE_CASES[region]:
        result = to_jid(cell, country)
        assert result.jid == (jid and jid + WA), (cell, result)
        assert problem in result.problem, (cell, result)


# --- code pages -------------------------------------------------------------------------------


def test_excel_for_mac_csv_reads_right(cli: Cli, tmp_path: Path, results: Results) -> None:
    contacts = write(tmp_path / "mac.csv", [["First Name", "Phone", "Note"],
                                            ["Jürgen", "050-234-5678", "Hallo Jürgen aus München!"]],
                     encoding="mac_roman", delimiter=";")
    r = cli("send", contacts, "--dry-run", "-m", "{{ Note }}")
    assert r.exit_code == 0, r.output
    assert "Mac Roman" in r.stderr
    assert read(results_of(contacts))[0]["message"] == "Hallo Jürgen aus München!"


@pytest.mark.parametrize("encoding", ["cp850", "cp437"])
def test_dos_csv_reads_right(cli: Cli, tmp_path: Path, results: Results, encoding: str) -> None:
    contacts = write(tmp_path / "dos.csv", [["First Name", "Phone"], ["Jürgen Müller", "050-234-5678"],
                                            ["Renée Größ", "054-765-4321"]], encoding=encoding)
    r = cli("send", contacts, "--dry-run", "-m", "Hallo {{ row['First Name'] }}")
    assert r.exit_code == 0, r.output
    assert "DOS" in r.stderr
    assert [x["message"] for x in read(results_of(contacts))] == [
        "Hallo Jürgen Müller", "Hallo Renée Größ"]


def test_bytes_no_code_page_reads_stop(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(b"First Name,Phone\r\nDa\xb0\xb1na,0502345678\r\nAv\xb2\xb3i,0547654321\r\n")
    r = cli("send", path, "--dry-run", "-m", "Hi")
    assert r.exit_code == 2
    assert "reads as garbled in every code page tried" in r.stderr and "mac_roman" in r.stderr


# --- the summary counts rows with a phone warning ---------------------------------------------


def test_dry_run_counts_rows_sent_with_a_phone_warning(cli: Cli, tmp_path: Path) -> None:
    rows = [["First Name", "Phone"], ["A", "050-234-5678"], ["B", "+972 50-123-4567"],
            ["C", "+1 212 736 5000 ext. 12"], ["D", "054-765-4321"]]
    r = dry(cli, write(tmp_path / "c.csv", rows))
    assert r.exit_code == 0, r.output
    assert "  2 of them would be sent with a phone warning" in r.stdout


def test_the_real_summary_counts_rows_sent_with_a_phone_warning(  # type: ignore[no-untyped-def]
    cli: Cli, tmp_path: Path, sandbox, sandbox_env
) -> None:
    rows = [["First Name", "Phone"], ["A", "050-234-5678"], ["B", "+972 50-123-4567"]]
    r = cli("send", write(tmp_path / "c.csv", rows), "-m", "Hi {{ row['First Name'] }}", *FAST,
            env=sandbox_env)
    assert r.exit_code == 0, r.output
    assert "  1 of them were sent with a phone warning" in r.stdout


# --- properties over phonenumbers' example mobiles --------------------------------------------

PROPERTY_COUNTRIES = [
    "IL", "GB", "US", "DE", "FR", "ES", "IT", "NL", "BE", "CH", "AT", "SE", "NO", "DK", "PL", "PT",
    "GR", "TR", "RU", "UA", "IN", "PK", "BR", "MX", "AR", "CO", "AU", "NZ", "JP", "KR", "CN", "ZA",
    "NG", "KE", "EG", "SA", "AE", "ID", "PH", "TH", "VN",
]


def example(region: str) -> phonenumbers.PhoneNumber:
    number = phonenumbers.example_number_for_type(region, PhoneNumberType.MOBILE)
    assert number is not None
    return number


@pytest.mark.parametrize("region", PROPERTY_COUNTRIES)
def test_national_and_international_without_plus_forms_give_the_number(region: str) -> None:
    number = example(region)
    want = e164(number) + WA
    assert to_jid(national(number), region).jid == want
    assert to_jid(e164(number), region).jid == want  # the international form without '+'
    assert to_jid("+" + e164(number), region).jid == want


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(PROPERTY_COUNTRIES), st.integers(0, 30), st.sampled_from("0123456789"),
       st.booleans())
def test_one_digit_off_is_never_ready_under_another_country(
    region: str, where: int, digit: str, add: bool
) -> None:
    digits = re.sub(r"\D", "", national(example(region)))
    i = where % (len(digits) + (1 if add else 0))
    typo = digits[:i] + digit + digits[i:] if add else digits[:i] + digits[i + 1:]
    result = to_jid(typo, region)
    if result.jid is not None:
        number = phonenumbers.parse("+" + result.jid.partition("@")[0])
        assert number.country_code == example(region).country_code, (region, typo, result)


def test_an_unknown_country_option_is_exit_2(cli: Cli, tmp_path: Path) -> None:
    r = dry(cli, write(tmp_path / "c.csv", UK_SHOP), "--country", "Narnia")
    assert r.exit_code == 2
    assert "--country 'Narnia' is not a two-letter country code" in r.stderr


def test_decide_home_refuses_when_nothing_reads_most_numbers() -> None:
    cells = [national(n) for n in mobiles("GB", 6)]
    with pytest.raises(InputError, match=r"They read best as [^.]*GB \(6 of 6 mobiles\)"):
        decide_home(cells, given=None, configured=None, locale_country=None)


def test_shopify_customers_export(cli: Cli, tmp_path: Path, results: Results) -> None:
    header = ["Customer ID", "First Name", "Last Name", "Email", "Accepts Email Marketing",
              "Default Address Company", "Default Address Address1", "Default Address City",
              "Default Address Province Code", "Default Address Country Code",
              "Default Address Zip", "Default Address Phone", "Phone", "Accepts SMS Marketing",
              "Total Spent"]
    rows = [header]
    for i in range(5):
        rows.append([f"'{700 + i}", f"G{i}", "Smith", "", "yes", "", "1 High St", "Leeds", "ENG",
                     "GB", "LS1 1AA", "", f"07400 12345{i}", "yes", "10.00"])
    rows.append(["'799", "Joe", "Yank", "", "no", "", "5th Ave", "New York", "NY", "US", "10001",
                 "", "(212) 736-5000", "yes", "5.00"])
    contacts = write(tmp_path / "customers_export.csv", rows)
    r = dry(cli, contacts, "--country", "GB")
    assert r.exit_code == 0, r.output
    assert "phone column 'Phone'" in r.stdout
    assert [j for j, _, _ in statuses(results, contacts)] == [
        *(f"44740012345{i}" + WA for i in range(5)), "12127365000" + WA]


def test_brevo_sms_column_with_codes_but_no_plus(cli: Cli, tmp_path: Path, results: Results) -> None:
    # Brevo's contacts export: ';'-separated, attribute names in capitals, SMS without '+'.
    rows = [["CONTACT ID", "EMAIL", "FIRSTNAME", "LASTNAME", "SMS", "SMS_BLACKLISTED"],
            ["1", "a@example.com", "Amy", "Lee", "447400123456", "false"],
            ["2", "b@example.com", "Ben", "Ng", "4915123456789", "false"]]
    contacts = write(tmp_path / "brevo.csv", rows, delimiter=";")
    r = dry(cli, contacts, "--country", "GB")
    assert r.exit_code == 0, r.output
    assert "phone column 'SMS'" in r.stdout
    assert [j for j, _, _ in statuses(results, contacts)] == ["447400123456" + WA, "4915123456789" + WA]
