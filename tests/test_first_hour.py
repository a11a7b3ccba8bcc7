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
    return [row["message"] for row in results(contacts.with_name("contacts.results.csv"))]


# --- templates as people type them ------------------------------------------------------------


def test_column_names_work_as_written_inside_double_braces(
    cli: Cli, contacts: Path, results: Results
) -> None:
    text = "{{ Full name }} / {{ שם מלא }} / {{ 2nd phone }} / {{ full NAME | upper }}"
    assert messages(cli, contacts, results, text) == [
        "Dana Levi / דנה לוי / 052-111-2233 / DANA LEVI",
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
    assert not contacts.with_name("contacts.results.csv").exists()


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
        r, "Error: --message: the template failed at row 3: list object has no element 0. "
        "The row's cell E3 (City) is empty: fill it in, or give the template a fallback: "
        "{{ name | default('there') }}",
    )
    assert "unknown variable" not in error


def test_first_name_and_default_for_empty_cells(cli: Cli, contacts: Path, results: Results) -> None:
    text = ("Hi {{ Full name | first_name }} ({{ first_name(row['שם מלא']) }}), "
            "see you in {{ city | default('your city') }}")  # fmt: skip
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
            "so, with a warning in 'error'") in r.stderr  # fmt: skip
    rows = results(contacts.with_name("contacts.results.csv"))
    assert [(row["status"], row["message"], row["error"]) for row in rows] == [
        ("ready", "Hi Haifa!", ""),
        ("ready", "Hi !", "warning: empty cell E3 (City) printed as nothing; give it a fallback: "
                          "{{ ... | default('...') }}"),
    ]
    # A fallback, or a guard, is not warned about.
    r = cli("send", contacts, "--dry-run", "-m", "Hi{% if city %} {{ City }}{% endif %}!")
    assert "empty cell" not in r.output
