"""A new user's path, replayed through the CLI (issues 18 and 22): what the advice they are given
leads to when the sheet has one 'Full name' column and no 'First Name'."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from click.testing import Result

Cli = Callable[..., Result]
Results = Callable[[Path], list[dict[str, str]]]

SHOP = [
    ["Full name", "Mobile", "City"],
    ["Dana Levi", "07911 123401", "Leeds"],
    ["", "07911 123402", ""],
]


def test_first_name_without_such_a_column_names_the_filter_on_the_name_column(
    cli: Cli, write_csv: Callable[..., Path]
) -> None:
    # The README and the same-text note say {{ first_name }}; this sheet has 'Full name' only.
    r = cli("send", write_csv(SHOP), "--country", "GB", "--dry-run", "-m", "Hi {{ first_name }}")
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    assert ("unknown variable 'first_name'. No column is called that; for the first word of the "
            "'Full name' column write {{ Full name | first_name }}.") in r.stderr
    # ...and that is what works.
    r = cli("send", write_csv(SHOP), "--country", "GB", "--dry-run", "-m",
            "Hi {{ Full name | first_name }}")
    assert r.exit_code == 0, r.output


def test_the_empty_cell_fallback_names_the_column_the_user_has(
    cli: Cli, write_csv: Callable[..., Path], results: Results
) -> None:
    contacts = write_csv(SHOP)
    r = cli("send", contacts, "--country", "GB", "--dry-run", "-m", "Hi {{ Full name }}!")
    assert r.exit_code == 0, r.output
    assert ("give a fallback: {{ Full name | default('there') }}, or wrap the words in"
            in r.stderr)
    assert "first_name | default" not in r.output
    (path,) = contacts.parent.glob("*.results.csv")
    assert [row["error"] for row in results(path)] == [
        "",
        "warning: empty cell A3 (Full name) printed as nothing; give it a fallback: "
        "{{ Full name | default('...') }}",
    ]


def test_whole_number_options_read_in_plain_words(cli: Cli, write_csv: Callable[..., Path]) -> None:
    # Help and errors without click's "INTEGER RANGE", "valid integer range" or "x>=1".
    for command in (("send",), ("sandbox",), ("dashboard",)):
        r = cli(*command, "--help")
        assert r.exit_code == 0, r.output
        assert "INTEGER RANGE" not in r.output and "x>=" not in r.output and "<=x" not in r.output
    r = cli("send", "--help")
    assert "--limit N " in r.output and "[at least 1]" in r.output
    contacts = write_csv(SHOP)
    r = cli("send", contacts, "-m", "Hi", "--dry-run", "--limit", "abc")
    assert r.exit_code == 2
    assert "Error: Invalid value for '--limit': 'abc' is not a valid whole number." in r.stderr
    r = cli("send", contacts, "-m", "Hi", "--dry-run", "--limit", "0")
    assert r.exit_code == 2
    assert ("Error: Invalid value for '--limit': 0 is out of range: give a whole number, at "
            "least 1.") in r.stderr
    r = cli("sandbox", "--failure-rate", "2")
    assert r.exit_code == 2
    assert "Error: Invalid value for '--failure-rate': 2.0 is not in the range 0 to 1." in r.stderr


def test_a_dry_run_with_nothing_to_send_says_so_not_sending_0(
    cli: Cli, write_csv: Callable[..., Path]
) -> None:
    contacts = write_csv([["Full name", "Mobile"], ["Dana Levi", "07911 123401"]])
    opt_out = contacts.with_name("opt-out.txt")
    opt_out.write_text("07911 123401\n", encoding="utf-8")
    r = cli("send", contacts, "--country", "GB", "--dry-run", "-m", "Hi {{ Full name }}",
            "--suppress", opt_out)
    assert r.exit_code == 0, r.output
    assert "Nothing would be sent: no row is left to send (see the rows above)." in r.stdout
    assert "Sending 0" not in r.output
