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
            "'Full name' column write {{ Full name | first_name }}.") in r.stderr  # fmt: skip
    # ...and that is what works.
    r = cli("send", write_csv(SHOP), "--country", "GB", "--dry-run", "-m",
            "Hi {{ Full name | first_name }}")  # fmt: skip
    assert r.exit_code == 0, r.output


def test_the_empty_cell_fallback_names_the_column_the_user_has(
    cli: Cli, write_csv: Callable[..., Path], results: Results
) -> None:
    contacts = write_csv(SHOP)
    r = cli("send", contacts, "--country", "GB", "--dry-run", "-m", "Hi {{ Full name }}!")
    assert r.exit_code == 0, r.output
    assert ("give a fallback: {{ Full name | default('there') }}, or wrap the words in"
            in r.stderr)  # fmt: skip
    assert "first_name | default" not in r.output
    (path,) = contacts.parent.glob("*.results.csv")
    assert [row["error"] for row in results(path)] == [
        "",
        "warning: empty cell A3 (Full name) printed as nothing; give it a fallback: "
        "{{ Full name | default('...') }}",
    ]
