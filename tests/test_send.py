"""End to end: the real CLI sends to the sandbox over loopback HTTP (issue 3)."""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path

import pytest

from campaign.cli import ConsoleUI
from campaign.sandbox import Faults
from tests.helpers import FAST, SANDBOX_TOKEN

PEOPLE = [
    ["Name", "Phone", "City"],
    ["דנה", "050-234-5678", "תל אביב"],
    ["Michael", "+972 54 765 4321", "Haifa"],
    ["יוסי", "0523456789", ""],
    ["Sarah", "972531234567", "Eilat"],
]
JIDS = ["972502345678@s.whatsapp.net", "972547654321@s.whatsapp.net",
        "972523456789@s.whatsapp.net", "972531234567@s.whatsapp.net"]
TEXT = "שלום {{ name }}!{% if city %} נתראה ב{{ city }}.{% endif %}"


@pytest.fixture
def contacts(write_csv):
    return write_csv(PEOPLE)


def test_every_recipient_gets_exactly_one_message_with_its_text(
    cli, contacts, sandbox, sandbox_env, results
):
    r = cli("send", contacts, "-m", TEXT, *FAST, env=sandbox_env)
    assert r.exit_code == 0, r.output
    got = {m.jid: m.text for m in sandbox.received}
    assert len(sandbox.received) == 4
    assert got == {
        JIDS[0]: "שלום דנה! נתראה בתל אביב.",
        JIDS[1]: "שלום Michael! נתראה בHaifa.",
        JIDS[2]: "שלום יוסי!",
        JIDS[3]: "שלום Sarah! נתראה בEilat.",
    }
    rows = results(contacts.with_name("contacts-message.rehearsal.results.csv"))
    assert [row["status"] for row in rows] == ["sent"] * 4
    assert [row["attempts"] for row in rows] == ["1"] * 4
    assert all((row["sent_at"].startswith("20") and "+" in row["sent_at"][19:]) or
               row["sent_at"].endswith("Z") for row in rows)
    assert "sent" in r.output and "contacts-message.rehearsal.results.csv" in r.output


def test_one_request_in_flight_and_starts_at_least_delay_apart(
    cli, contacts, sandbox, sandbox_env
):
    sandbox.faults = Faults(latency=0.02)
    r = cli("send", contacts, "-m", TEXT, "--yes", "--delay", "0.06", "--jitter", "0",
            "--window", "any", env=sandbox_env)
    assert r.exit_code == 0, r.output
    assert sandbox.max_concurrent == 1
    # The starts the journal recorded (the sandbox's acceptance times jitter with thread
    # scheduling on a loaded machine).
    journal = next((contacts.parent / ".campaign").glob("*.sqlite3"))
    with sqlite3.connect(journal) as db:
        times = [t for (t,) in db.execute("SELECT started_at FROM requests ORDER BY id")]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(gaps) == 3
    assert min(gaps) >= 0.06 - 0.005, gaps


def test_invalid_jid_fails_that_row_and_the_run_goes_on(
    cli, contacts, sandbox, sandbox_env, results
):
    sandbox.faults = Faults(invalid_jids=frozenset({JIDS[1]}), error_status=400)
    r = cli("send", contacts, "-m", TEXT, *FAST, env=sandbox_env)
    assert r.exit_code == 1
    rows = results(contacts.with_name("contacts-message.rehearsal.results.csv"))
    assert [row["status"] for row in rows] == ["sent", "failed", "sent", "sent"]
    assert rows[1]["error"] == "Invalid JID"
    assert "row 3: failed: Invalid JID" in r.output
    assert {m.jid for m in sandbox.received} == {JIDS[0], JIDS[2], JIDS[3]}


def test_invalid_token_stops_after_one_request_with_exit_3(
    cli, contacts, sandbox, sandbox_env, results
):
    env = {**sandbox_env, "IBOT_TOKEN": "wrong-token"}
    r = cli("send", contacts, "-m", TEXT, *FAST, env=env)
    assert r.exit_code == 3
    assert sandbox.requests == 1
    assert sandbox.received == []
    assert "Invalid token" in r.output
    rows = results(contacts.with_name("contacts-message.rehearsal.results.csv"))
    assert [row["status"] for row in rows] == ["pending"] * 4
    assert "wrong-token" not in r.output


def test_server_errors_are_unknown_and_the_breaker_stops_the_run(
    cli, contacts, sandbox, sandbox_env, results
):
    sandbox.faults = Faults(failure_rate=1.0)
    r = cli("send", contacts, "-m", TEXT, *FAST, "--max-consecutive-failures", "2",
            env=sandbox_env)
    assert r.exit_code == 3
    assert sandbox.requests == 2
    rows = results(contacts.with_name("contacts-message.rehearsal.results.csv"))
    assert [row["status"] for row in rows] == ["unknown", "unknown", "pending", "pending"]
    assert "may have gone out" in rows[0]["error"]
    assert "2 failures in a row" in r.output


def test_limit_sends_a_pilot_batch_and_leaves_the_rest_pending(
    cli, contacts, sandbox, sandbox_env, results
):
    r = cli("send", contacts, "-m", TEXT, *FAST, "--limit", "2", env=sandbox_env)
    assert r.exit_code == 0
    assert len(sandbox.received) == 2
    rows = results(contacts.with_name("contacts-message.rehearsal.results.csv"))
    assert [row["status"] for row in rows] == ["sent", "sent", "pending", "pending"]
    assert "To go on, run: campaign send" in r.output


def test_test_to_sends_one_message_and_leaves_the_campaign_untouched(
    cli, contacts, sandbox, sandbox_env
):
    r = cli("send", contacts, "-m", TEXT, *FAST, "--test-to", "054-999-8877", env=sandbox_env)
    assert r.exit_code == 0, r.output
    assert [(m.jid, m.text) for m in sandbox.received] == [
        ("972549998877@s.whatsapp.net", "שלום דנה! נתראה בתל אביב.")
    ]
    assert not contacts.with_name("contacts-message.rehearsal.results.csv").exists()
    r = cli("send", contacts, "-m", TEXT, *FAST, env=sandbox_env)
    assert r.exit_code == 0
    assert len(sandbox.received) == 5  # the real run was not affected by the test send


def test_test_to_counts_toward_the_numbers_caps_like_any_send(cli, contacts, sandbox, sandbox_env):
    """Issue 19: --test-to ignored caps and pacing and was not recorded in the history."""
    args = ("send", contacts, "-m", TEXT, *FAST, "--max-per-hour", "1", "--test-to", "054-999-8877")
    first = cli(*args, env=sandbox_env)
    assert first.exit_code == 0, first.output
    second = cli(*args, env=sandbox_env)
    assert second.exit_code == 2, second.output
    assert "--test-to: nothing was sent" in second.output and "1 this hour reached" in second.output
    assert len(sandbox.received) == 1  # the second test message was held by the hourly cap
    r = cli("send", contacts, "-m", TEXT, *FAST, "--max-per-hour", "1", "--stop-outside-window",
            env=sandbox_env)
    assert r.exit_code == 0, r.output
    assert "Nothing sent this run" in r.output and "To go on after" in r.output
    assert len(sandbox.received) == 1  # the campaign's first send counts the test message too


def test_without_a_terminal_and_without_yes_nothing_is_sent(cli, contacts, sandbox, sandbox_env):
    r = cli("send", contacts, "-m", TEXT, env=sandbox_env)
    assert r.exit_code == 2
    assert "no terminal to confirm on" in r.output and "--yes" in r.output
    assert sandbox.requests == 0


def test_on_a_terminal_the_plan_is_shown_and_no_means_no(
    cli, contacts, sandbox, sandbox_env, monkeypatch
):
    monkeypatch.setattr(ConsoleUI, "is_interactive", lambda self: True)
    r = cli("send", contacts, "-m", TEXT, "--pace", "fast", "--delay", "0", "--jitter", "0",
            "--window", "any", env=sandbox_env, input="n\n")
    assert r.exit_code == 0
    assert "4 message(s) to send" in r.output
    assert "שלום דנה! נתראה בתל אביב." in r.output
    assert sandbox.requests == 0
    r = cli("send", contacts, "-m", TEXT, "--pace", "fast", "--delay", "0", "--jitter", "0",
            "--window", "any", env=sandbox_env, input="y\n")
    assert r.exit_code == 0 and len(sandbox.received) == 4


def test_media_sends_the_caption_and_rendered_url(cli, write_csv, sandbox, sandbox_env):
    path = write_csv([["Name", "Phone", "Pic"], ["Dana", "0502345678", "https://x.example/a.jpg"]])
    r = cli("send", path, "--type", "image", "--media-url", "{{ pic }}", "-m", "Hi {{ name }}",
            *FAST, env=sandbox_env)
    assert r.exit_code == 0, r.output
    (m,) = sandbox.received
    assert (m.endpoint, m.text, m.media_url) == ("send-image", "Hi Dana", "https://x.example/a.jpg")


def test_missing_credentials_is_a_clear_exit_2(cli, contacts, sandbox):
    r = cli("send", contacts, "-m", TEXT, *FAST, env={"IBOT_BASE_URL": sandbox.url})
    assert r.exit_code == 2
    assert "IBOT_INSTANCE_ID" in r.output and "--sandbox" in r.output
    assert sandbox.requests == 0


def test_dotenv_credentials_and_instance_id_doubles_as_token(
    cli, contacts, tmp_path: Path
):
    from campaign.sandbox import Sandbox

    with Sandbox(token="INST-42", instance_id="INST-42") as box:
        (tmp_path / ".env").write_text("IBOT_INSTANCE_ID=INST-42\n", encoding="utf-8")
        r = cli("send", contacts, "-m", TEXT, *FAST, env={"IBOT_BASE_URL": box.url})
        assert r.exit_code == 0, r.output
        assert len(box.received) == 4


def test_the_token_never_appears_in_output_results_or_journal(
    cli, contacts, sandbox, sandbox_env, tmp_path: Path
):
    sandbox.faults = Faults(invalid_jids=frozenset({JIDS[0]}), failure_rate=0.0)
    r = cli("send", contacts, "-m", TEXT, *FAST, env=sandbox_env)
    assert r.exit_code == 1
    # A dead port: connection refused, with no retries so nothing sleeps.
    dead = {**sandbox_env, "IBOT_BASE_URL": "http://127.0.0.1:9/api/v1"}
    r2 = cli("send", contacts, "-m", TEXT, *FAST, "--retries", "0", "--name", "other",
             "--max-consecutive-failures", "2", env=dead)
    assert r2.exit_code == 3
    assert "connection refused" in r2.output or "cannot connect" in r2.output
    for text in (r.output, r2.output):
        assert SANDBOX_TOKEN not in text
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert SANDBOX_TOKEN.encode() not in path.read_bytes(), path


def test_sandbox_flag_needs_no_credentials(cli, contacts, results):
    r = cli("send", contacts, "-m", TEXT, *FAST, "--sandbox")
    assert r.exit_code == 0, r.output
    assert "Sandbox API started" in r.output
    rows = results(contacts.with_name("contacts-message.rehearsal.results.csv"))
    assert [row["status"] for row in rows] == ["sent"] * 4
