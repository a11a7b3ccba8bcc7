"""A marketer's first hour (issue 22): templates as people type them, arguments as people give
them, Excel's habits, plain words and warnings before risk. Each test runs the real CLI and
asserts what the user reads."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

Cli = Callable[..., Result]
Results = Callable[[Path], list[dict[str, str]]]

PEOPLE = [
    ["Full name", "שם מלא", "Phone", "2nd phone", "City"],
    ["Dana Levi", "דנה לוי", "050-234-5678", "052-111-2233", "Haifa"],
    ["Avi Cohen", "אבי כהן", "0547654321", "", ""],
]


def assert_input_error(r: Result, *parts: str) -> str:
    """Exit 2, one paragraph on stderr naming every part, no traceback."""
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    error = r.stderr.strip().splitlines()[-1]
    assert error.startswith("Error: "), r.stderr
    for part in parts:
        assert part in error, error
    return error


@pytest.fixture
def contacts(write_csv: Callable[..., Path]) -> Path:
    return write_csv(PEOPLE)


def messages(cli: Cli, contacts: Path, results: Results, text: str, *args: object) -> list[str]:
    r = cli("send", contacts, "--dry-run", "-m", text, *args)
    assert r.exit_code == 0, r.output
    return [row["message"] for row in results(results_of(contacts))]


def results_of(contacts: Path) -> Path:
    (path,) = contacts.parent.glob("*.results.csv")
    return path


# --- templates as people type them ------------------------------------------------------------


def test_column_names_work_as_written_inside_double_braces(
    cli: Cli, contacts: Path, results: Results
) -> None:
    text = ("{{ Full name }} / {{ שם מלא }} / {{ 2nd phone }} / {{ full NAME | upper }}"
            "{% if 2nd phone %} or {{ 2nd phone }}{% endif %}")
    assert messages(cli, contacts, results, text) == [
        "Dana Levi / דנה לוי / 052-111-2233 / DANA LEVI or 052-111-2233",
        "Avi Cohen / אבי כהן /  / AVI COHEN",
    ]


@pytest.mark.parametrize(
    ("text", "found", "form"),
    [
        ("Hi {Full name}!", "line 1: {Full name}", "(write {{ Full name }})"),
        ("Hi *|FNAME|*,", "line 1: *|FNAME|*", "(write {{ column name }})"),
        ("Hello\nDear [Full Name],", "line 2: [Full Name]", "(write {{ Full name }})"),
        ("Hi %city%", "line 1: %city%", "(write {{ City }})"),
        ("Hi «Full_name»", "line 1: «Full_name»", "(write {{ Full name }})"),
    ],
)
def test_other_tools_placeholders_are_named_with_the_jinja2_form(
    cli: Cli, contacts: Path, text: str, found: str, form: str
) -> None:
    r = cli("send", contacts, "--dry-run", "-m", text)
    assert_input_error(
        r, f"Error: --message: {found} {form}. That is another tool's placeholder and would be "
        "sent as written; here a column goes in double braces",
        "The columns: Full name, שם מלא, Phone, 2nd phone, City.",
    )
    assert not list(contacts.parent.glob("*.results.csv"))


def test_ordinary_brackets_and_percent_in_prose_are_not_placeholders(
    cli: Cli, contacts: Path, results: Results
) -> None:
    text = "{{ Full name | first_name }}: 50% off, 20% more [today only] (see {link})."
    # {link} is a placeholder-like word; the rest is prose.
    r = cli("send", contacts, "--dry-run", "-m", text)
    assert_input_error(r, "line 1: {link} (write {{ column name }})")
    text = "{{ Full name | first_name }}: 50% off, 20% more [today only] :-{ ok }"
    assert messages(cli, contacts, results, text)[0] == (
        "Dana: 50% off, 20% more [today only] :-{ ok }"
    )


def test_unknown_filter_is_a_message_not_a_traceback(cli: Cli, contacts: Path) -> None:
    r = cli("send", contacts, "--dry-run", "-m", "Hi {{ full_name | tittle }}")
    assert_input_error(r, "Error: --message, line 1: unknown filter 'tittle'. Did you mean 'title'?")
    r = cli("send", contacts, "--dry-run", "-m", "{% if city is emty %}x{% endif %}")
    assert_input_error(r, "Error: --message, line 1: unknown test 'emty'.")


def test_an_error_on_one_row_names_the_row_and_the_empty_cell(cli: Cli, contacts: Path) -> None:
    r = cli("send", contacts, "--dry-run", "-m", "Hi {{ city.split()[0] }}")
    error = assert_input_error(
        r, "Error: --message: the template failed at row 3: the list has no item 0 (it is empty or "
        "shorter). "
        "The row's cell E3 (City) is empty: fill it in, or give the template a fallback: "
        "{{ name | default('there') }}",
    )
    assert "unknown variable" not in error


def test_first_name_and_default_for_empty_cells(cli: Cli, contacts: Path, results: Results) -> None:
    text = ("Hi {{ Full name | first_name }} ({{ first_name(row['שם מלא']) }}), "
            "see you in {{ city | default('your city') }}")
    assert messages(cli, contacts, results, text) == [
        "Hi Dana (דנה), see you in Haifa",
        "Hi Avi (אבי), see you in your city",
    ]


def test_an_empty_cell_printed_is_sent_with_a_warning_and_counted(
    cli: Cli, contacts: Path, results: Results
) -> None:
    r = cli("send", contacts, "--dry-run", "-m", "Hi {{ City }}!")
    assert r.exit_code == 0, r.output
    assert ("Note: 1 message(s) print an empty cell as nothing (rows 3), e.g. 'Hi !'. They are sent "
            "so, with a warning in 'error'") in r.stderr
    rows = results(results_of(contacts))
    assert [(row["status"], row["message"], row["error"]) for row in rows] == [
        ("ready", "Hi Haifa!", ""),
        ("ready", "Hi !", "warning: empty cell E3 (City) printed as nothing; give it a fallback: "
                          "{{ City | default('...') }}"),
    ]
    # A fallback, or a guard, is not warned about.
    r = cli("send", contacts, "--dry-run", "-m", "Hi{% if city %} {{ City }}{% endif %}!")
    assert "empty cell" not in r.output


# --- arguments as people give them ------------------------------------------------------------


def test_swapped_contacts_and_template_are_recognised(
    cli: Cli, contacts: Path, template: Callable[..., Path]
) -> None:
    welcome = template("Hi {{ Full name }}", "welcome.txt")
    r = cli("send", welcome, "-t", contacts, "--dry-run")
    assert_input_error(
        r, f"Error: welcome.txt looks like a text template and contacts.csv like a spreadsheet: "
        f"did you swap them? The contacts come first: campaign send {contacts} -t {welcome}",
    )
    r = cli("send", contacts, "-m", "welcome.txt", "--dry-run")
    assert_input_error(r, "Error: --message welcome.txt: that is a file name, and --message takes "
                          "the text itself. Give the file with -t welcome.txt.")


@pytest.mark.parametrize(
    ("option", "value", "shown"),
    [
        ("--delay", "5s", "5 s + up to 30 s between sends"),
        ("--delay", "2m", "120 s + up to 30 s between sends"),
        ("--delay", "45", "45 s + up to 30 s between sends"),  # a bare number: seconds
        ("--jitter", "1.5m", "30 s + up to 90 s between sends"),
        ("--pause-for", "15m", "a 15 min pause every 30"),
        ("--pause-for", "1h", "a 60 min pause every 30"),
        ("--pause-for", "1h30m", "a 90 min pause every 30"),
        ("--pause-for", "90 seconds", "a 1.5 min pause every 30"),
    ],
)
def test_durations_take_units(cli: Cli, contacts: Path, option: str, value: str, shown: str) -> None:
    r = cli("send", contacts, "-m", "Hi {{ City }}", "--dry-run", option, value)
    assert r.exit_code == 0, r.output
    pace = next(line for line in r.stdout.splitlines() if line.startswith("Pace: standard: "))
    assert shown in pace


def test_skip_contacted_within_and_timeout_take_units(cli: Cli, contacts: Path) -> None:
    for args in (["--skip-contacted-within", "7d"], ["--skip-contacted-within", "12h"],
                 ["--skip-contacted-within", "2"], ["--skip-contacted-within", "2 weeks"],
                 ["--timeout", "1m"], ["--timeout", "45s"]):
        r = cli("send", contacts, "-m", "Hi", "--dry-run", *args)
        assert r.exit_code == 0, (args, r.output)
    r = cli("send", contacts, "-m", "Hi", "--dry-run", "--delay", "5x")
    assert_input_error(r, "Invalid value for '--delay': '5x' is not a duration: write a number "
                          "with a unit, e.g. 30s, 10m, 2h, 7d (or 1h30m)")
    r = cli("send", contacts, "-m", "Hi", "--dry-run", "--timeout", "2h")
    assert_input_error(r, "Invalid value for '--timeout': 7200.0 is not in the range 0.1 to 3600 "
                          "seconds.")
    assert "float range" not in r.output


def test_durations_with_units_in_the_config_file(cli: Cli, contacts: Path, tmp_path: Path) -> None:
    config = tmp_path / "campaign.toml"
    config.write_text('delay = "1m"\npause_for = "20m"\nskip_contacted_within = "7d"\njitter = 3\n',
                      encoding="utf-8")
    r = cli("send", contacts, "-m", "Hi", "--dry-run", "--config", config)
    assert r.exit_code == 0, r.output
    assert "Pace: standard: 60 s + up to 3 s between sends, a 20 min pause every 30" in r.stdout
    config.write_text('delay = "soon"\n', encoding="utf-8")
    r = cli("send", contacts, "-m", "Hi", "--dry-run", "--config", config)
    assert_input_error(r, "'soon' is not a duration")


def test_an_unquoted_value_with_spaces_is_hinted(cli: Cli, contacts: Path) -> None:
    r = cli("send", contacts, "-m", "Hi", "--phone-column", "טלפון", "נייד", "--dry-run")
    assert_input_error(r, "Error: Got unexpected extra argument (נייד). Quote a value with spaces: "
                          '--phone-column "טלפון נייד"')
    r = cli("send", "My", "Contacts.xlsx", "-m", "Hi", "--dry-run")
    assert_input_error(r, 'Quote a file name with spaces: "My Contacts.xlsx"')


# --- Excel's habits ---------------------------------------------------------------------------


def test_excel_lock_file_is_noticed_and_refused_as_contacts(
    cli: Cli, write_xlsx: Callable[..., Path]
) -> None:
    sheet = write_xlsx(PEOPLE, "customers.xlsx")
    owner = sheet.with_name("~$customers.xlsx")
    owner.write_bytes(b"\x05me   " + b"\x00" * 150)  # what Excel writes: the user's name
    r = cli("send", sheet, "-m", "Hi", "--dry-run")
    assert r.exit_code == 0, r.output
    assert ("Note: customers.xlsx is open in Excel (~$customers.xlsx is beside it): changes not "
            "saved there are not in the file and are not seen here. Save it in Excel first to "
            "include them.") in r.stderr
    r = cli("send", owner, "-m", "Hi", "--dry-run")
    assert_input_error(
        r, "Error: ~$customers.xlsx is the lock file Excel keeps beside a workbook while it is open, "
        "not a sheet of contacts. Give the workbook itself (customers.xlsx); save it in Excel "
        "first, as changes not saved are not in the file.",
    )


# --- media ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "hint"),
    [
        (r"C:\Users\me\Pictures\sale.jpg", r"--media-url C:\Users\me\Pictures\sale.jpg: "
         r"'C:\Users\me\Pictures\sale.jpg' is a file on this computer, which the API cannot reach. "
         "Upload sale.jpg somewhere public"),
        ("~/Pictures/sale.jpg", "is a file on this computer"),
        ("/home/me/sale.jpg", "Upload sale.jpg somewhere public"),
        ("https://drive.google.com/file/d/1AbC-9/view?usp=sharing",
         "a Google Drive 'view' link opens a page, not the file. Share the file as 'Anyone with the "
         "link', then use the download form: https://drive.google.com/uc?export=download&id=1AbC-9"),
        ("https://www.dropbox.com/scl/fi/x/sale.jpg?rlkey=k&dl=0",
         "use https://www.dropbox.com/scl/fi/x/sale.jpg?rlkey=k&dl=1"),
        ("https://1drv.ms/i/s!AbC", "a OneDrive/SharePoint share link opens a page, not the file"),
    ],
)
def test_one_media_link_for_all_is_one_message_with_how_to_fix(
    cli: Cli, contacts: Path, url: str, hint: str
) -> None:
    r = cli("send", contacts, "-m", "Hi", "--type", "image", "--media-url", url, "--dry-run")
    assert_input_error(r, hint)


def test_a_column_of_bad_media_links_is_said_once_for_its_rows(
    cli: Cli, write_csv: Callable[..., Path]
) -> None:
    rows = [["Name", "Phone", "Picture"]] + [
        [f"P{i}", f"05023456{i:02d}", r"C:\Users\me\Pictures\sale.jpg"] for i in range(12)
    ]
    r = cli("send", write_csv(rows), "-m", "Hi", "--type", "image", "--media-url", "{{ Picture }}",
            "--dry-run")
    assert r.exit_code == 0, r.output
    lines = [line for line in r.stderr.splitlines() if "sale.jpg" in line]
    assert lines == [
        r"  rows 2, 3, 4, 5, 6, 7, 8, 9, ... (12 rows): invalid: media URL "
        r"'C:\Users\me\Pictures\sale.jpg' is not https:// (the API needs a public https URL): "
        r"'C:\Users\me\Pictures\sale.jpg' is a file on this computer, which the API cannot reach. "
        "Upload sale.jpg somewhere public (your website, a public cloud bucket, or a share link set "
        "to 'anyone with the link') and use a direct https link to the file itself (it opens the "
        "picture or file, not a page about it)."
    ]


# --- risk said before it is taken -------------------------------------------------------------

RISK = ("Warning: 2 s + up to 0 s between sends (about 1,800 an hour) is faster than --pace fast "
        "(8 + 7 s); there is no daily cap (--max-per-day). WhatsApp bans numbers that blast: users "
        "of bulk senders report 300 messages at 2 s apart, banned; 150 at 13 s, banned (README, "
        "Pacing). Safer: --pace standard (30 + 30 s, at most 300 a day), or several sender numbers.")
BLAST = ("--pace", "fast", "--delay", "2", "--jitter", "0", "--max-per-day", "0")


def test_a_pace_against_the_guidance_is_warned_in_the_dry_run(cli: Cli, contacts: Path) -> None:
    r = cli("send", contacts, "-m", "Hi {{ City }}", "--dry-run", *BLAST)
    assert r.exit_code == 0, r.output
    assert RISK in r.stderr.splitlines()
    r = cli("send", contacts, "-m", "Hi {{ City }}", "--dry-run", "--pace", "fast")
    assert "Warning: there is no daily cap (--max-per-day)." in r.stderr
    r = cli("send", contacts, "-m", "Hi {{ City }}", "--dry-run")  # standard: within the guidance
    assert "Warning" not in r.output


def test_the_confirmation_says_the_risk_and_more_than_a_count(
    cli: Cli, contacts: Path, sandbox: object, sandbox_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from campaign.cli import ConsoleUI

    monkeypatch.setattr(ConsoleUI, "is_interactive", lambda self: True)
    r = cli("send", contacts, "-m", "Hi {{ City }}", *BLAST, env=sandbox_env, input="n\n")
    assert r.exit_code == 0, r.output
    assert RISK in r.stderr.splitlines()
    port = sandbox_env["IBOT_BASE_URL"].split(":")[2].split("/")[0]
    assert (f"Send 2 message(s) to the local API at 127.0.0.1:{port} now (pace fast: 2 s + up to "
            "0 s between sends), faster than the guidance above? [y/N]") in r.stdout
    assert "Nothing sent." in r.stdout


def test_a_first_week_number_pushed_past_30_a_day_is_warned(
    cli: Cli, contacts: Path, sandbox: object, sandbox_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from campaign.cli import ConsoleUI

    # The number's first sends, today (its history on this computer); any hour of the day.
    r = cli("send", contacts, "-m", "Hi {{ City }}", "--yes", "--pace", "fast", "--delay", "0",
            "--jitter", "0", "--max-per-day", "100", "--window", "any", env=sandbox_env)
    assert r.exit_code == 0, r.output
    monkeypatch.setattr(ConsoleUI, "is_interactive", lambda self: True)
    r = cli("send", contacts, "-m", "Bye {{ City }}", "--name", "second", "--max-per-day", "100",
            env=sandbox_env, input="n\n")
    assert ("Warning: this number first sent on this computer 0 day(s) ago and would send up to "
            "100 a day: several guides say a number in its first week that sends more than 20-30 a "
            "day gets reviewed (README, Pacing). Add --warm-up (20 on day one, then about 1.5x a "
            "day) or --max-per-day 30.") in r.stderr.splitlines()
    assert "Nothing sent." in r.stdout
    r = cli("send", contacts, "-m", "Bye {{ City }}", "--name", "second", "--max-per-day", "100",
            "--warm-up", env=sandbox_env, input="n\n")
    assert "Nothing sent." in r.stdout and "first week" not in r.output


# --- plain words ------------------------------------------------------------------------------

JARGON = ("@s.whatsapp.net", "journal", "in-process", "request(s)", "IANA", "phonenumbers",
          "float range", "delivered")


def test_console_lines_name_people_and_use_plain_words(cli: Cli, contacts: Path) -> None:
    dry = cli("send", contacts, "-m", "Hi {{ Full name | first_name }}", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "--- row 2 → Dana Levi (050-234-5678)\nHi Dana\n" in dry.stdout
    assert "--- row 3 → Avi Cohen (0547654321)\nHi Avi\n" in dry.stdout
    sent = cli("send", contacts, "-m", "Hi {{ Full name | first_name }}", "--sandbox", "--yes",
               "--pace", "fast", "--delay", "0", "--jitter", "0", "--max-per-day", "50",
               "--window", "any")
    assert sent.exit_code == 0, sent.output
    assert ("Rehearsal: 2 of 2 rows sent to the built-in sandbox, nothing to WhatsApp (2 tried this "
            "run). The real run keeps its own progress file and will send to everyone.") in sent.stdout
    for output in (dry.output, sent.output):
        assert [word for word in JARGON if word in output] == []
    helped = cli("send", "--help").output
    assert [word for word in JARGON if word in helped] == []
