"""Once per person (issue 18): the results named by campaign, a dry run that keeps a sheet of
sends, the resume line that rehearses again, plain words when nothing is sent."""

from __future__ import annotations

import datetime as dt
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from campaign.cli import ConsoleUI
from campaign.runner import SHORTEST_SLEEP, Clock
from tests.helpers import FAST, SANDBOX_INSTANCE, SANDBOX_TOKEN

PEOPLE = [
    ["Name", "Phone"],
    ["Dana", "050-234-5678"],
    ["Michael", "+972 54 765 4321"],
    ["Yossi", "0523456789"],
]


@pytest.fixture
def contacts(write_csv):
    return write_csv(PEOPLE, "customers.csv")


# --- the results sheet: one per campaign ----------------------------------------------------------


def test_two_campaigns_on_one_sheet_keep_two_records(cli, contacts, template, sandbox, sandbox_env,
                                                     results):
    welcome, reminder = template("Hi {{ name }}", "welcome.txt"), template("Bye {{ name }}", "bye.txt")
    assert cli("send", contacts, "-t", welcome, *FAST, env=sandbox_env).exit_code == 0
    r = cli("send", contacts, "-t", reminder, *FAST, env=sandbox_env)
    assert r.exit_code == 0, r.output
    first = results(contacts.with_name("customers-welcome.rehearsal.results.csv"))
    second = results(contacts.with_name("customers-bye.rehearsal.results.csv"))
    assert [row["message"] for row in first] == ["Hi Dana", "Hi Michael", "Hi Yossi"]
    assert [row["message"] for row in second] == ["Bye Dana", "Bye Michael", "Bye Yossi"]
    assert {row["status"] for row in first + second} == {"sent"}
    assert f"Results: {contacts.with_name('customers-bye.rehearsal.results.csv')}\n" in r.output


def test_a_dry_run_never_overwrites_a_sheet_that_records_sends(cli, contacts, sandbox, sandbox_env,
                                                               results):
    out = contacts.with_name("march.csv")
    assert cli("send", contacts, "-m", "Hi {{ name }}", *FAST, "--limit", "2", "--results", out,
               env=sandbox_env).exit_code == 0
    before = out.read_bytes()
    r = cli("send", contacts, "-m", "Hi {{ name }}", "--dry-run", "--results", out, env=sandbox_env)
    assert r.exit_code == 0, r.output
    assert out.read_bytes() == before  # the record of the sends is kept
    beside = contacts.with_name("march.dry-run.csv")
    assert (f"Results: {beside} (march.csv records this campaign's sends, and a dry run never "
            "overwrites it)\n") in r.output
    assert [row["status"] for row in results(beside)] == ["sent", "sent", "ready"]
    # The default sheet too: `<name>.rehearsal.results.csv` -> `<name>.rehearsal.dry-run.results.csv`
    assert cli("send", contacts, "-m", "Hi {{ name }}", *FAST, env=sandbox_env).exit_code == 0
    sheet = contacts.with_name("customers-message.rehearsal.results.csv")
    before = sheet.read_bytes()
    r = cli("send", contacts, "-m", "Hi {{ name }}", "--dry-run", env=sandbox_env)
    assert r.exit_code == 0, r.output
    assert sheet.read_bytes() == before
    assert contacts.with_name("customers-message.rehearsal.dry-run.results.csv").exists()


def test_a_dry_run_replaces_its_own_sheet(cli, contacts, results):
    for text in ("Hi {{ name }}", "Hello {{ name }}"):
        r = cli("send", contacts, "-m", text, "--dry-run", "--name", "promo")
        assert r.exit_code == 0, r.output
        assert f"Results: {contacts.with_name('promo.results.csv')}\n" in r.output
    assert results(contacts.with_name("promo.results.csv"))[0]["message"] == "Hello Dana"
    assert not list(contacts.parent.glob("*dry-run*"))


def test_a_sheet_open_in_excel_gets_a_copy_that_says_why(cli, contacts, sandbox, sandbox_env):
    sheet = contacts.with_name("customers-message.rehearsal.results.csv")
    sheet.write_text("held by Excel\n")
    sheet.with_name("~$" + sheet.name).write_text("")  # Excel's lock file beside an open sheet
    r = cli("send", contacts, "-m", "Hi {{ name }}", *FAST, env=sandbox_env)
    assert r.exit_code == 0, r.output
    assert sheet.read_text() == "held by Excel\n"
    line = next(x for x in r.output.splitlines() if x.startswith("Results: "))
    assert line.endswith(f"({sheet.name} is open in Excel or another program, so the results went "
                         "to this copy; close it and run the same command again to update it)")
    assert Path(line.split()[1]).exists()


# --- the resume line ------------------------------------------------------------------------------


def test_the_pasted_resume_line_rehearses_again(cli, contacts, sandbox, tmp_path, monkeypatch):
    """Issue 18: after a loopback rehearsal whose address came from the environment, the printed
    line had no address and had --yes: pasted, it sent for real with the .env's credentials."""
    (tmp_path / ".env").write_text(f"IBOT_TOKEN={SANDBOX_TOKEN}\nIBOT_INSTANCE_ID={SANDBOX_INSTANCE}\n")
    r = cli("send", contacts, "-m", "Hi {{ name }}", *FAST, "--limit", "1",
            env={"IBOT_BASE_URL": sandbox.url})
    assert r.exit_code == 0, r.output
    line = next(x for x in r.output.splitlines() if x.startswith("To go on, run: "))
    pasted = line.removeprefix("To go on, run: ")
    args = shlex.split(pasted)
    assert args[0] == "campaign" and "--yes" not in args and "-y" not in args, pasted
    assert args[args.index("--base-url") + 1] == sandbox.url, pasted
    # Pasted into a shell without IBOT_BASE_URL and without a terminal: it asks, so it refuses.
    env = {k: v for k, v in os.environ.items() if not k.startswith("IBOT_")}
    shell = subprocess.run(["bash", "-c", f"{shlex.quote(sys.executable)} -m {pasted}"], cwd=tmp_path,
                           env=env, capture_output=True, text=True, timeout=60)
    assert shell.returncode == 2, shell.stdout + shell.stderr
    assert "no terminal to confirm on" in shell.stderr
    assert len(sandbox.received) == 1
    # On a terminal it shows the plan as a rehearsal, and yes rehearses again: the sandbox gets it.
    monkeypatch.setattr(ConsoleUI, "is_interactive", lambda self: True)
    r = cli(*args[1:], input="y\n")
    assert r.exit_code == 0, r.output
    assert f"1 message(s) to send (a rehearsal to the local API at 127.0.0.1:{sandbox.port})" in r.output
    assert [m.text for m in sandbox.received] == ["Hi Dana", "Hi Michael"]
    assert "Rehearsal: 2 of 3 rows sent to the local API" in r.output


def test_the_resume_line_names_the_config_file(cli, contacts, tmp_path):
    config = tmp_path / "shop.toml"
    config.write_text('pace = "fast"\ndelay = 0\njitter = 0\nlimit = 1\nwindow = "any"\n')
    r = cli("send", contacts, "-m", "Hi", "--sandbox", "--yes", "--config", config)
    assert r.exit_code == 0, r.output
    line = next(x for x in r.output.splitlines() if x.startswith("To go on, run: "))
    assert line.endswith(f"--sandbox --config {config}"), line


# --- --sandbox on a short clock -------------------------------------------------------------------


def test_the_sandbox_keeps_the_standard_pace_in_order_on_a_short_clock(cli, write_csv, results):
    """The standard preset (30 s + up to 30 s, a 10 min pause every 30) for 40 people is half an
    hour of pacing: on the short clock it takes seconds, and the sends keep its shape."""
    people = [["Name", "Phone"]] + [[f"P{i}", f"05023457{i:02d}"] for i in range(40)]
    contacts = write_csv(people)
    began = time.monotonic()
    r = cli("send", contacts, "-m", "Hi {{ name }}", "--sandbox", "--yes", "--window", "any")
    took = time.monotonic() - began
    assert r.exit_code == 0, r.output
    assert took < 20, took
    assert "Its pace runs on a short clock" in r.output
    rows = results(contacts.with_name("contacts-message.rehearsal.results.csv"))
    assert [row["status"] for row in rows] == ["sent"] * 40
    # The pause after 30 sends, said as it happens; sent_at is the wall clock's, never the future.
    assert r.output.count("Pause of 10 min after 30 sends, next ") == 1, r.output
    assert max(dt.datetime.fromisoformat(row["sent_at"]) for row in rows) <= dt.datetime.now(dt.UTC)


def test_a_short_clock_scales_time_and_carries_on_from_earlier_runs() -> None:
    real = [1000.0]
    clock = Clock(now=lambda: real[0], sleep=lambda s: real.__setitem__(0, real[0] + s))
    clock.shorten(3600)
    clock.sleep(3600)  # an hour of waiting is a second of the wall clock
    assert real[0] == 1001.0 and clock.now() == 1000.0 + 3600
    clock.sleep(1)  # a short wait still waits a little: a paused run polls rather than spins
    assert real[0] == pytest.approx(1001.0 + SHORTEST_SLEEP)
    later = Clock(now=lambda: real[0], sleep=lambda s: None)
    later.shorten(3600, resume_from=real[0] + 7200)  # an earlier short run got two hours ahead
    assert later.now() == real[0] + 7200


# --- plain words when nothing is sent ------------------------------------------------------------


def test_a_run_that_sends_nothing_says_why_in_plain_words(cli, contacts, sandbox, sandbox_env,
                                                          results):
    assert cli("send", contacts, "-m", "Hi {{ name }}", *FAST, env=sandbox_env).exit_code == 0
    r = cli("send", contacts, "-m", "Hi {{ name }}", *FAST, env=sandbox_env)
    assert r.exit_code == 0, r.output
    sheet = results(contacts.with_name("customers-message.rehearsal.results.csv"))
    today = dt.datetime.fromisoformat(sheet[0]["sent_at"]).date()
    assert (f"Nothing sent (a rehearsal to the local API at 127.0.0.1:{sandbox.port}): all 3 "
            f"already got this message on {today.day} {today:%b}; to rehearse it again as a new "
            "campaign: --name NEW --resend.\n") in r.output
    assert "request(s) this run" not in r.output
    assert len(sandbox.received) == 3


def test_another_media_url_is_named_as_what_changed(cli, contacts, sandbox, sandbox_env):
    image = ("--type", "image", "-m", "Look {{ name }}")
    assert cli("send", contacts, *image, "--media-url", "https://x.example/a.jpg", *FAST,
               "--limit", "1", env=sandbox_env).exit_code == 0
    r = cli("send", contacts, *image, "--media-url", "https://x.example/b.jpg", *FAST, env=sandbox_env)
    assert r.exit_code == 0, r.output
    assert ("Note: the media URL changed since the last run; rows already sent keep the message "
            "they got, the rest get the new one.") in r.output
    assert "the template changed" not in r.output
    assert [m.media_url for m in sandbox.received] == ["https://x.example/a.jpg"] + [
        "https://x.example/b.jpg"] * 2
