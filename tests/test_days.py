"""Campaigns that run for days, end to end: the real CLI in subprocesses against the sandbox, and
a second process that asks `status`, `pause`, `resume`, `cancel` as a user would."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from campaign.sandbox import Sandbox
from campaign.status import collect
from campaign.store.registry import process_alive
from tests.helpers import HI, SANDBOX_INSTANCE, SANDBOX_TOKEN, Gate, api_env, run_campaign, start_campaign

pytestmark = pytest.mark.slow  # real processes on the real clock: each test takes seconds

N = 12
PEOPLE = [["Name", "Phone"]] + [[f"P{i}", f"05023456{i:02d}"] for i in range(N)]
# A campaign slow enough to act on while it runs, with no quiet hours (the test runs at any hour).
PACED = ("--yes", "--pace", "fast", "--delay", "0.4", "--jitter", "0", "--window", "any", "--quiet")


def wait_for(check: Callable[[], object], timeout: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or check}")


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with Sandbox(token=SANDBOX_TOKEN, instance_id=SANDBOX_INSTANCE) as sandbox:
        yield sandbox


@pytest.fixture(autouse=True)
def _no_process_left_behind(campaign_home: Path) -> Iterator[None]:
    """Background runs a test started end with it, whatever it asserted."""
    yield
    for c in collect(campaign_home):
        if c["pid"]:
            with_pid = int(c["pid"])
            if process_alive(with_pid, "", time.time()):
                os.kill(with_pid, signal.SIGKILL)


def cli(*args: object, contacts: Path, box: Sandbox) -> subprocess.CompletedProcess[str]:
    return run_campaign(*args, cwd=contacts.parent, env=api_env(box.url), timeout=60)


def status(name: str, contacts: Path, box: Sandbox) -> dict[str, object]:
    r = cli("status", name, "--json", contacts=contacts, box=box)
    assert r.returncode == 0, r.stderr
    found: dict[str, object] = json.loads(r.stdout)
    return found


def state(name: str, contacts: Path, box: Sandbox) -> str:
    """The campaign's state, or "" before its run registered it."""
    r = cli("status", name, "--json", contacts=contacts, box=box)
    return str(json.loads(r.stdout)["state"]) if r.returncode == 0 else ""


def start(contacts: Path, box: Sandbox, name: str, *args: str) -> subprocess.Popen[str]:
    return start_campaign("send", contacts, *HI, *PACED, "--name", name, *args, cwd=contacts.parent,
                          env=api_env(box.url))


def test_status_while_running_matches_what_the_sandbox_received(write_csv, tmp_path) -> None:
    contacts = write_csv(PEOPLE)
    gate = Gate(4)
    with Sandbox(token=SANDBOX_TOKEN, instance_id=SANDBOX_INSTANCE, on_accept=gate) as sandbox:
        proc = start(contacts, sandbox, "spring")
        assert gate.reached.wait(30), proc.communicate()[0]  # the 4th request is in flight
        now = status("spring", contacts, sandbox)
        gate.release.set()
        assert now["state"] == "running"
        assert (now["sent"], now["total"], now["pending"]) == (3, N, N - 3)
        assert len(sandbox.received) == 4  # the three sent, and the one in flight
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, out
        done = status("spring", contacts, sandbox)
        assert (done["state"], done["sent"], done["pending"]) == ("finished", N, 0)
        assert done["sent"] == len(sandbox.received)


def test_pause_sends_nothing_until_resumed(write_csv, box) -> None:
    contacts = write_csv(PEOPLE)
    proc = start(contacts, box, "summer")
    wait_for(lambda: len(box.received) >= 3, what="three sends")
    r = cli("pause", "summer", contacts=contacts, box=box)
    assert r.returncode == 0 and "Pausing 'summer'" in r.stdout, r.stderr
    at_pause = len(box.received)
    wait_for(lambda: state("summer", contacts, box) == "paused", what="paused")
    time.sleep(3)  # the pause's length: 7 sends' worth of time at this pace
    assert len(box.received) <= at_pause + 1  # at most the request that was in flight
    assert proc.poll() is None  # the process stays, paused
    shown = status("summer", contacts, box)
    assert "paused" in str(shown["waiting_for"]) and shown["next_send"] is None
    r = cli("resume", "summer", contacts=contacts, box=box)
    assert r.returncode == 0 and "Resuming 'summer'" in r.stdout, r.stderr
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert Counter(m.jid for m in box.received) == Counter({m.jid: 1 for m in box.received})
    assert len(box.received) == N


def test_cancel_stops_for_good_and_says_how_to_resume(write_csv, box, results) -> None:
    contacts = write_csv(PEOPLE)
    proc = start(contacts, box, "autumn")
    wait_for(lambda: len(box.received) >= 3, what="three sends")
    r = cli("cancel", "autumn", contacts=contacts, box=box)
    assert r.returncode == 0 and "Cancelling 'autumn'" in r.stdout, r.stderr
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    reached = len(box.received)
    assert reached < N
    shown = status("autumn", contacts, box)
    assert shown["state"] == "cancelled" and shown["sent"] == reached
    rows = results(next(contacts.parent.glob("*.rehearsal.results.csv")))
    pending = [row for row in rows if row["status"] == "pending"]
    assert len(pending) == N - reached and all(row["error"] == "cancelled" for row in pending)
    again = cli("send", contacts, *HI, *PACED, "--name", "autumn", contacts=contacts, box=box)
    assert again.returncode == 2
    assert "campaign 'autumn' was cancelled" in again.stderr and "campaign resume autumn" in again.stderr
    assert len(box.received) == reached  # nothing more was sent


def test_detach_goes_on_after_the_command_returned(write_csv, box) -> None:
    contacts = write_csv(PEOPLE)
    began = time.monotonic()
    r = cli("send", contacts, *HI, *PACED, "--name", "winter", "--detach", contacts=contacts, box=box)
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - began < 15
    assert "Campaign 'winter' goes on in the background" in r.stdout
    assert "campaign status winter" in r.stdout and "campaign pause winter" in r.stdout
    log = Path(next(line for line in r.stdout.splitlines() if line.startswith("Log: "))[5:])
    returned_with = len(box.received)
    assert returned_with < N
    wait_for(lambda: len(box.received) == N, what="every send")  # after the command returned
    wait_for(lambda: state("winter", contacts, box) == "finished", what="finished")
    assert log.is_file() and "sent" in log.read_text()
    assert max(Counter(m.jid for m in box.received).values()) == 1


def kill_detached(name: str, contacts: Path, box: Sandbox, after: int) -> None:
    wait_for(lambda: len(box.received) >= after, what=f"{after} sends")
    pid = status(name, contacts, box)["pid"]
    assert isinstance(pid, int)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: state(name, contacts, box) == "stopped", what="stopped")


def test_a_killed_detached_run_is_stopped_and_resume_finishes_it_once(write_csv, box) -> None:
    contacts = write_csv(PEOPLE)
    assert cli("send", contacts, *HI, *PACED, "--name", "kill", "--detach", contacts=contacts,
               box=box).returncode == 0
    kill_detached("kill", contacts, box, after=4)
    shown = status("kill", contacts, box)
    assert "campaign resume kill" in str(shown["waiting_for"]) and shown["resume"] == "campaign resume kill"
    r = cli("resume", "kill", contacts=contacts, box=box)
    assert r.returncode == 0 and "Started 'kill' again in the background" in r.stdout, r.stderr
    wait_for(lambda: state("kill", contacts, box) == "finished", what="finished", timeout=60)
    received = Counter(m.jid for m in box.received)
    assert max(received.values()) == 1, received  # nobody twice
    final = status("kill", contacts, box)
    assert final["sent"] + final["unknown"] == N  # one may have been cut off in flight: unknown


def test_resume_all_after_a_reboot_starts_every_stopped_run(write_csv, box, tmp_path) -> None:
    first = write_csv(PEOPLE, "first.csv")
    (tmp_path / "second").mkdir()
    second = write_csv(PEOPLE, "second/second.csv")
    for contacts, name in ((first, "one"), (second, "two")):  # two messages: two campaigns
        assert cli("send", contacts, "-m", f"{name}: hi {{{{ name }}}}", *PACED, "--name", name,
                   "--detach", contacts=contacts, box=box).returncode == 0
    kill_detached("one", first, box, after=2)
    kill_detached("two", second, box, after=len(box.received) + 1)
    r = cli("resume", "--all", contacts=first, box=box)
    assert r.returncode == 0, r.stderr
    assert "Started 'one' again" in r.stdout and "Started 'two' again" in r.stdout
    for contacts, name in ((first, "one"), (second, "two")):
        wait_for(lambda c=contacts, n=name: state(n, c, box) == "finished",  # type: ignore[misc]
                 what=f"{name} finished", timeout=60)
    per_campaign = Counter((m.text.split(":")[0], m.jid) for m in box.received)
    assert max(per_campaign.values()) == 1  # nobody twice, in either campaign
    assert len(per_campaign) + sum(status(n, c, box)["unknown"] for c, n in  # type: ignore[misc]
                                   ((first, "one"), (second, "two"))) >= 2 * N
    again = cli("resume", "--all", contacts=first, box=box)
    assert "Nothing to resume" in again.stdout


def test_nothing_is_sent_before_start_at(write_csv, box) -> None:
    contacts = write_csv(PEOPLE[:4])
    when = dt.datetime.now().astimezone() + dt.timedelta(seconds=12)
    proc = start(contacts, box, "later", "--start-at", when.isoformat(timespec="seconds"))
    wait_for(lambda: state("later", contacts, box) == "scheduled", what="scheduled")
    assert str(status("later", contacts, box)["waiting_for"]).startswith("starts ")
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert len(box.received) == 3
    assert min(m.at for m in box.received) >= when.replace(microsecond=0).timestamp()


def test_resume_right_after_cancel_never_runs_two_processes(write_csv, tmp_path) -> None:
    """The red team's case: Resume while the cancelled run's last send is still under way."""
    contacts = write_csv(PEOPLE)
    gate = Gate(4)  # the sandbox holds its reply to the 4th message: a send in flight
    with Sandbox(token=SANDBOX_TOKEN, instance_id=SANDBOX_INSTANCE, on_accept=gate) as box:
        proc = start(contacts, box, "late")
        try:
            assert gate.reached.wait(30), "the 4th send never came"
            assert cli("cancel", "late", contacts=contacts, box=box).returncode == 0
            shown = status("late", contacts, box)
            assert (shown["state"], shown["pid"]) == ("cancelling", proc.pid)
            r = cli("resume", "late", contacts=contacts, box=box)  # waits ~3 s, then refuses
            assert r.returncode == 2, r.stdout
            assert ("'late' is still finishing its last send after the cancel (process "
                    f"{proc.pid}); run campaign resume late again in a moment.") in r.stderr
        finally:
            gate.release.set()
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, out  # the old run saw the cancel and stopped
        assert len(box.received) == 4
        assert status("late", contacts, box)["state"] == "cancelled"
        r = cli("resume", "late", contacts=contacts, box=box)
        assert r.returncode == 0 and "Started 'late' again" in r.stdout, r.stderr
        wait_for(lambda: state("late", contacts, box) == "finished", timeout=60, what="finished")
        assert Counter(m.jid for m in box.received) == Counter({m.jid: 1 for m in box.received})
        assert len(box.received) == N
