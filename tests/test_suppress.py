"""Opt-outs and frequency limits: the sandbox never receives a suppressed number (issue 5)."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import FAST, HI

PEOPLE = [
    ["Name", "Phone"],
    ["Dana", "050-234-5678"],
    ["Michael", "054-765-4321"],
    ["Yossi", "052-345-6789"],
    ["Sarah", "053-123-4567"],
]
DANA, MICHAEL, YOSSI, SARAH = (f"972{p}@s.whatsapp.net" for p in
                                ("502345678", "547654321", "523456789", "531234567"))
ARGS = (*HI, *FAST)


def test_opt_out_lists_in_any_format_suppress_rows(
    cli, write_csv, write_xlsx, tmp_path: Path, sandbox, sandbox_env, results
):
    contacts = write_csv(PEOPLE)
    (tmp_path / "stop.txt").write_text("+972 50-234-5678\n", encoding="utf-8")  # no header
    optout = write_xlsx([["Phone"], [547654321]], name="optout.xlsx")  # a number cell, zero lost
    r = cli("send", contacts, *ARGS, "--suppress", "stop.txt", "--suppress", optout,
            env=sandbox_env)
    assert r.exit_code == 0, r.output
    assert {m.jid for m in sandbox.received} == {YOSSI, SARAH}
    rows = results(contacts.with_name("contacts-message.rehearsal.results.csv"))
    assert [row["status"] for row in rows] == ["suppressed", "suppressed", "sent", "sent"]
    assert rows[0]["error"] == "on opt-out list stop.txt (row 1)"
    assert rows[1]["error"] == "on opt-out list optout.xlsx (row 2)"


def test_dry_run_counts_suppressed_rows_and_says_why(cli, write_csv, tmp_path: Path):
    contacts = write_csv(PEOPLE)
    (tmp_path / "stop.csv").write_text("phone\n0523456789\n", encoding="utf-8")
    r = cli("send", contacts, *ARGS, "--suppress", "stop.csv", "--dry-run")
    assert r.exit_code == 0
    assert "row 4: suppressed: on opt-out list stop.csv (row 2)" in r.output
    assert "suppressed       1" in r.output


def test_a_number_added_to_the_list_between_runs_is_not_sent(
    cli, write_csv, tmp_path: Path, sandbox, sandbox_env, results
):
    contacts = write_csv(PEOPLE)
    stop = tmp_path / "stop.txt"
    stop.write_text("", encoding="utf-8")
    r = cli("send", contacts, *ARGS, "--suppress", stop, "--limit", "1", env=sandbox_env)
    assert r.exit_code == 0 and [m.jid for m in sandbox.received] == [DANA]
    stop.write_text("0531234567\n", encoding="utf-8")  # Sarah replied STOP meanwhile
    r = cli("send", contacts, *ARGS, "--suppress", stop, env=sandbox_env)
    assert r.exit_code == 0, r.output
    assert SARAH not in {m.jid for m in sandbox.received}
    rows = results(contacts.with_name("contacts-message.rehearsal.results.csv"))
    assert [row["status"] for row in rows] == ["sent", "sent", "sent", "suppressed"]


def test_skip_contacted_within_spans_campaigns_in_the_same_state_folder(
    cli, write_csv, sandbox, sandbox_env, results
):
    first = write_csv(PEOPLE[:3], name="october.csv")
    assert cli("send", first, *ARGS, env=sandbox_env).exit_code == 0
    second = write_csv(PEOPLE, name="november.csv")
    r = cli("send", second, *ARGS, "--skip-contacted-within", "7", env=sandbox_env)
    assert r.exit_code == 0, r.output
    jids = [m.jid for m in sandbox.received]
    assert sorted(jids) == sorted([DANA, MICHAEL, YOSSI, SARAH])  # nobody twice
    rows = results(second.with_name("november-message.rehearsal.results.csv"))
    assert [row["status"] for row in rows] == ["suppressed", "suppressed", "sent", "sent"]
    assert rows[0]["error"].startswith("campaign 'october-message' sent to this number on 20")
    # Without the option another campaign's history does not matter (unless it sent this very
    # message: issue 18, tests/test_identity.py).
    third = write_csv(PEOPLE[:2], name="december.csv")
    assert cli("send", third, "-m", "Happy holidays {{ name }}", *FAST, env=sandbox_env).exit_code == 0
    assert [m.jid for m in sandbox.received].count(DANA) == 2
