"""A rehearsal is not a delivery: namespaces, the journal's identity, --test-to, damaged journals."""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

import campaign.session
from campaign.config import SendOptions
from campaign.runner import Clock
from campaign.sandbox import Sandbox
from campaign.session import run_send
from campaign.store.namespaces import LIVE, namespace_for
from tests.helpers import FAST, SANDBOX_INSTANCE, SANDBOX_TOKEN, start_campaign

PEOPLE = [["Name", "Phone"]] + [[f"P{i}", f"05023456{i:02d}"] for i in range(8)]


@pytest.fixture
def real_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """A server the campaign takes for the real API (nothing on loopback is, to a user)."""
    with Sandbox(token=SANDBOX_TOKEN, instance_id=SANDBOX_INSTANCE) as box:
        def namespace(base_url: str, *, sandbox: bool):  # type: ignore[no-untyped-def]
            return LIVE if base_url.startswith(box.url) and not sandbox else namespace_for(
                base_url, sandbox=sandbox)

        monkeypatch.setattr(campaign.session, "namespace_for", namespace)
        yield box


def real_env(box: Sandbox) -> dict[str, str]:
    return {"IBOT_TOKEN": SANDBOX_TOKEN, "IBOT_INSTANCE_ID": SANDBOX_INSTANCE, "IBOT_BASE_URL": box.url}


def test_the_readme_flow_rehearse_then_send_reaches_everyone_once(cli, write_csv, results,  # type: ignore[no-untyped-def]
                                                                  real_api: Sandbox) -> None:
    contacts = write_csv(PEOPLE)
    rehearsal = cli("send", contacts, "-m", "Hi {{ name }}", "--sandbox", *FAST)
    assert rehearsal.exit_code == 0, rehearsal.output
    assert "Rehearsal: 8 of 8 rows sent to the built-in sandbox" in rehearsal.output
    rehearsed = results(contacts.with_name("contacts-message.rehearsal.results.csv"))
    assert {r["status"] for r in rehearsed} == {"sent"}
    assert not contacts.with_name("contacts-message.results.csv").exists()

    pilot = cli("send", contacts, "-m", "Hi {{ name }}", "--limit", "3", *FAST, env=real_env(real_api))
    assert pilot.exit_code == 0, pilot.output
    assert ("Sent 3 of 8 rows (3 tried this run). Sent means accepted by the API for delivery: it "
            "gives no delivery or read receipts.") in pilot.output
    rest = cli("send", contacts, "-m", "Hi {{ name }}", *FAST, env=real_env(real_api))
    assert rest.exit_code == 0, rest.output
    assert "Sent 8 of 8 rows (5 tried this run)" in rest.output

    counts = Counter(m.jid for m in real_api.received)
    assert len(counts) == 8 and set(counts.values()) == {1}
    rows = results(contacts.with_name("contacts-message.results.csv"))
    assert [r["status"] for r in rows] == ["sent"] * 8
    # The real sends' times, not the rehearsal's.
    assert all(r["sent_at"] >= max(x["sent_at"] for x in rehearsed) for r in rows)


def test_each_loopback_server_is_a_namespace_of_its_own(cli, write_csv, results) -> None:  # type: ignore[no-untyped-def]
    contacts = write_csv(PEOPLE)
    with Sandbox(token=SANDBOX_TOKEN, instance_id=SANDBOX_INSTANCE) as one, \
            Sandbox(token=SANDBOX_TOKEN, instance_id=SANDBOX_INSTANCE) as two:
        for box in (one, two):
            r = cli("send", contacts, "-m", "Hi", *FAST, env=real_env(box))
            assert r.exit_code == 0, r.output
            assert "Rehearsal: 8 of 8 rows sent to the local API" in r.output
        assert len(one.received) == len(two.received) == 8
    journals = sorted(p.name for p in (contacts.parent / ".campaign").glob("*.sqlite3"))
    assert len(journals) == 2 and all(".rehearsal-127.0.0.1-" in j for j in journals)


def test_state_naming_another_campaigns_journal_is_refused(cli, write_csv, sandbox_env) -> None:  # type: ignore[no-untyped-def]
    contacts = write_csv(PEOPLE)
    state = contacts.parent / "a.sqlite3"
    first = cli("send", contacts, "-m", "Hi", "--name", "autumn", "--state", state, *FAST, env=sandbox_env)
    assert first.exit_code == 0, first.output
    second = cli("send", contacts, "-m", "Hi", "--name", "winter", "--state", state, *FAST, env=sandbox_env)
    assert second.exit_code == 2
    assert f"--state {state} is the progress file" in second.output
    assert "is the progress file of campaign 'autumn', not 'winter'" in second.output
    assert "--name 'autumn'" in second.output


def test_test_to_leaves_the_journal_byte_identical(cli, write_csv, sandbox, sandbox_env) -> None:  # type: ignore[no-untyped-def]
    contacts = write_csv(PEOPLE)
    assert cli("send", contacts, "-m", "Hi {{ name }}", *FAST, env=sandbox_env).exit_code == 0
    folder = contacts.parent / ".campaign"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    r = cli("send", contacts, "-m", "Hi {{ name }}, new text", "--test-to", "0541234567", "--quiet",
            "--pace", "fast", "--delay", "0", "--jitter", "0", "--window", "any", env=sandbox_env)
    assert r.exit_code == 0, r.output
    assert "row 2's" in r.output  # every row was sent; the test still has a message to show
    assert sandbox.received[-1].jid == "972541234567@s.whatsapp.net"
    assert sandbox.received[-1].text == "Hi P0, new text"
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


class FakeTime:
    def __init__(self, start: float) -> None:
        self.t = start
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


class QuietUI:
    quiet = True

    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, text: str = "") -> None:
        self.lines.append(text)

    warn = info

    def is_interactive(self) -> bool:
        return False

    def confirm(self, question: str) -> bool:
        return False

    def install_signals(self, stop: threading.Event) -> None: ...
    def start(self, total: int, interval: float, label: str = "") -> None: ...
    def advance(self, row: object, counts: object) -> None: ...
    def waiting(self, until: float, reason: str) -> None: ...
    def note(self, text: str) -> None: ...
    def close(self) -> None: ...


def test_the_delay_holds_across_a_restart(write_csv, sandbox: Sandbox, sandbox_env) -> None:  # type: ignore[no-untyped-def]
    contacts = write_csv(PEOPLE)
    fake = FakeTime(dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC).timestamp())
    clock = Clock(now=fake.now, sleep=fake.sleep, rand=lambda: 0.0)
    opts = SendOptions(contacts=contacts, message="Hi", delay=10, jitter=0, yes=True, quiet=True, limit=2,
                       base_url=sandbox.url)
    assert run_send(opts, QuietUI(), argv=["campaign"], clock=clock, environ=sandbox_env) == 0
    assert sum(fake.slept) == pytest.approx(10)  # two sends, 10 s apart
    fake.slept.clear()
    fake.t += 3  # Ctrl-C, and the same command again three seconds later
    assert run_send(opts, QuietUI(), argv=["campaign"], clock=clock, environ=sandbox_env) == 0
    assert fake.slept and sum(fake.slept[:1]) == pytest.approx(7)  # waits out the rest of the 10 s
    assert len(sandbox.received) == 4


@pytest.mark.parametrize("damage", ["truncate", "zero", "empty"])
def test_a_damaged_journal_never_resends(cli, write_csv, sandbox, sandbox_env, results,  # type: ignore[no-untyped-def]
                                         damage: str) -> None:
    contacts = write_csv(PEOPLE)
    first = cli("send", contacts, "-m", "Hi", "--limit", "5", *FAST, env=sandbox_env)
    assert first.exit_code == 0, first.output
    journal = next((contacts.parent / ".campaign").glob("*.sqlite3"))
    size = journal.stat().st_size
    data = journal.read_bytes()
    if damage == "truncate":
        journal.write_bytes(data[: size // 2])
    elif damage == "zero":
        journal.write_bytes(data[:100] + b"\0" * (size - 100))
    else:
        journal.write_bytes(b"")
    stopped = cli("send", contacts, "-m", "Hi", *FAST, env=sandbox_env)
    assert stopped.exit_code == 2, stopped.output
    assert "the progress file could not be read" in stopped.output
    assert "5 people are recorded as reached and will not be messaged again" in stopped.output
    assert "3 row(s) are recorded nowhere and will be sent: rows 7, 8, 9" in stopped.output
    assert len(list(journal.parent.glob("*.damaged-*"))) >= 1
    assert len(sandbox.received) == 5
    again = cli("send", contacts, "-m", "Hi", *FAST, env=sandbox_env)
    assert again.exit_code == 0, again.output
    counts = Counter(m.jid for m in sandbox.received)
    assert len(counts) == 8 and set(counts.values()) == {1}
    rows = results(contacts.with_name("contacts-message.rehearsal.results.csv"))
    assert [r["status"] for r in rows] == ["sent"] * 8


def test_leftover_temp_files_of_a_killed_write_are_removed(cli, write_csv, sandbox_env) -> None:  # type: ignore[no-untyped-def]
    contacts = write_csv(PEOPLE)
    stale = contacts.with_name(f".contacts-message.rehearsal.results.csv.{2**22 + os.getpid()}.k2j4x9.tmp")
    stale.write_text("half a sheet")
    r = cli("send", contacts, "-m", "Hi", *FAST, env=sandbox_env)
    assert r.exit_code == 0, r.output
    assert not stale.exists()
    assert "removed 1 temporary file(s)" in r.output


def test_skip_contacted_within_holds_for_two_campaigns_running_at_once(write_csv, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import os

    from campaign.sandbox import Faults

    people = [["Name", "Phone"]] + [[f"P{i}", f"05023457{i:02d}"] for i in range(20)]
    contacts = write_csv(people)
    with Sandbox(token=SANDBOX_TOKEN, instance_id=SANDBOX_INSTANCE) as box:
        box.faults = Faults(latency=0.1)
        env = {**os.environ, **real_env(box)}
        procs = [start_campaign("send", contacts, "-m", f"Offer {n}", "--name", n,
                                "--skip-contacted-within", "1", *FAST, cwd=tmp_path, env=env)
                 for n in ("autumn", "winter")]
        outputs = [p.communicate(timeout=120)[0] for p in procs]
        counts = Counter(m.jid for m in box.received)
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert len(counts) == 20 and set(counts.values()) == {1}, counts
    # Both really ran at once: each reached some of the people, and skipped the others.
    by_text = Counter(m.text for m in box.received)
    assert by_text["Offer autumn"] and by_text["Offer winter"], by_text


def test_the_resume_command_keeps_off_switches_and_zeros(cli, write_csv) -> None:  # type: ignore[no-untyped-def]
    contacts = write_csv(PEOPLE)
    r = cli("send", contacts, "-m", "Hi", "--sandbox", "--yes", "--quiet", "--pace", "careful",
            "--no-warm-up", "--delay", "0", "--jitter", "0", "--pause-every", "0", "--max-per-hour", "0",
            "--limit", "1", "--window", "any")
    assert r.exit_code == 0, r.output
    resume = next(line for line in r.output.splitlines() if line.startswith("To go on, run:"))
    for part in ("--pace careful", "--no-warm-up", "--delay 0", "--jitter 0", "--pause-every 0",
                 "--max-per-hour 0", "--sandbox", "--limit 1"):
        assert part in resume, resume


def test_an_abort_under_limit_says_why(cli, write_csv, sandbox) -> None:  # type: ignore[no-untyped-def]
    contacts = write_csv(PEOPLE)
    env = {"IBOT_TOKEN": "wrong-token", "IBOT_INSTANCE_ID": SANDBOX_INSTANCE, "IBOT_BASE_URL": sandbox.url}
    r = cli("send", contacts, "-m", "Hi", *FAST, "--limit", "2", env=env)
    assert r.exit_code == 3
    assert "Stopped: aborted by the API: Invalid token" in r.output
    assert "--limit 2 reached" not in r.output


def test_first_runs_at_once_agree_on_the_sender_key(tmp_path: Path) -> None:
    from campaign.store.history import History

    folder = tmp_path / "home"
    ids: list[str] = []
    barrier = threading.Barrier(8)

    def open_one() -> None:
        barrier.wait()
        with History(folder) as state:
            ids.append(state.sender_id("INSTANCE"))

    threads = [threading.Thread(target=open_one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == 8 and len(set(ids)) == 1


def test_a_temp_file_of_a_running_writer_is_left_alone(cli, write_csv, sandbox_env) -> None:  # type: ignore[no-untyped-def]
    import os
    import subprocess
    import sys

    contacts = write_csv(PEOPLE)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:  # another campaign over the same contacts, in the middle of writing the same sheet
        live = contacts.with_name(f".contacts-message.rehearsal.results.csv.{other.pid}.abc123.tmp")
        live.write_text("being written")
        dead = contacts.with_name(f".contacts-message.rehearsal.results.csv.{2**22 + os.getpid()}.def456.tmp")
        dead.write_text("left by a killed run")
        r = cli("send", contacts, "-m", "Hi", *FAST, env=sandbox_env)
        assert r.exit_code == 0, r.output
        assert live.exists() and not dead.exists()
    finally:
        other.kill()
        other.wait()


def test_a_sent_row_keeps_its_planning_warning(cli, write_csv, results) -> None:  # type: ignore[no-untyped-def]
    contacts = write_csv([["Name", "Phone"], ["A", "050-2345678 ext. 5"], ["B", "0502345679"]])
    r = cli("send", contacts, "-m", "Hi {{ name }}", "--sandbox", *FAST)
    assert r.exit_code == 0, r.output
    assert "row 2: warning: extension 5 dropped" in r.output  # said before sending, too
    rows = results(contacts.with_name("contacts-message.rehearsal.results.csv"))
    assert [row["status"] for row in rows] == ["sent", "sent"]
    assert "extension 5 dropped" in rows[0]["error"] and rows[1]["error"] == ""
    again = cli("send", contacts, "-m", "Hi {{ name }}", "--sandbox", *FAST)  # a resume: still there
    sheet = contacts.with_name("contacts-message.rehearsal.results.csv")
    assert "extension 5 dropped" in results(sheet)[0]["error"]
    assert again.exit_code == 0


def test_a_config_file_that_is_not_utf8_is_exit_2(cli, write_csv, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    contacts = write_csv(PEOPLE)
    config = tmp_path / "cfg.toml"
    config.write_bytes(b"\xff\xfe p\x00")
    r = cli("send", contacts, "-m", "Hi", "--dry-run", "--config", config)
    assert r.exit_code == 2
    assert "not UTF-8 text" in r.output
