"""A lock is a lock: a second run of a campaign is refused however it reaches the journal.

The real CLI in subprocesses: run A is held with a reply in flight by the sandbox while run B
tries the attack; then A finishes and nobody has received two messages.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections import Counter
from pathlib import Path

from campaign.sandbox import Sandbox
from tests.helpers import (
    FAST,
    HI,
    SANDBOX_INSTANCE,
    SANDBOX_TOKEN,
    Gate,
    api_env,
    run_campaign,
    start_campaign,
)

PEOPLE = [["Name", "Phone"]] + [[f"P{i}", f"05023456{i:02d}"] for i in range(6)]


def start_cli(contacts: Path, url: str) -> subprocess.Popen[str]:
    """Run A, from the contacts' folder."""
    return start_campaign("send", contacts, *HI, *FAST, cwd=contacts.parent, env=api_env(url))


def run_b(contacts: Path, url: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The second run, from the contacts' folder or another working directory (relative path)."""
    cwd = cwd or contacts.parent
    return run_campaign("send", os.path.relpath(contacts, cwd), *HI, *FAST, *args, cwd=cwd,
                        env=api_env(url), timeout=60)


def attack(tmp_path: Path, write_csv, prepare, *b_args: str, cwd: Path | None = None) -> str:  # type: ignore[no-untyped-def]
    contacts = write_csv(PEOPLE)
    gate = Gate(2)
    with Sandbox(token=SANDBOX_TOKEN, instance_id=SANDBOX_INSTANCE, on_accept=gate) as box:
        a = start_cli(contacts, box.url)
        try:
            assert gate.reached.wait(30), "run A never reached its second message"
            prepare(contacts)
            b = run_b(contacts, box.url, *b_args, cwd=cwd)
        finally:
            gate.release.set()
        a_out, _ = a.communicate(timeout=60)
        assert a.returncode == 0, a_out
        counts = Counter(m.jid for m in box.received)
    assert b.returncode == 2, b.stdout + b.stderr
    assert len(counts) == len(PEOPLE) - 1 and set(counts.values()) == {1}, counts
    output = b.stdout + b.stderr
    assert "another run of this campaign is in progress" in output
    assert "Traceback" not in output
    return output


def test_deleting_the_lock_files_does_not_let_a_second_run_in(tmp_path: Path, write_csv,  # type: ignore[no-untyped-def]
                                                               campaign_home: Path) -> None:
    def delete_locks(contacts: Path) -> None:
        for lock in contacts.parent.rglob("*.lock"):
            lock.unlink()
        shutil.rmtree(campaign_home / "locks", ignore_errors=True)

    attack(tmp_path, write_csv, delete_locks)


def test_a_second_run_is_told_which_process_holds_the_lock(tmp_path: Path, write_csv) -> None:  # type: ignore[no-untyped-def]
    output = attack(tmp_path, write_csv, lambda contacts: None)
    assert "(process " in output and " since 20" in output


def test_a_symlinked_state_reaches_the_same_lock(tmp_path: Path, write_csv) -> None:  # type: ignore[no-untyped-def]
    link = tmp_path / "elsewhere" / "j.sqlite3"

    def make_link(contacts: Path) -> None:
        link.parent.mkdir()
        link.symlink_to(next((contacts.parent / ".campaign").glob("*.rehearsal-*.sqlite3")))

    attack(tmp_path, write_csv, make_link, "--state", str(link))


def test_a_copy_of_the_journal_does_not_run_the_campaign_twice(tmp_path: Path, write_csv) -> None:  # type: ignore[no-untyped-def]
    copy = tmp_path / "elsewhere" / "copy.sqlite3"

    def make_copy(contacts: Path) -> None:
        copy.parent.mkdir()
        shutil.copy(next((contacts.parent / ".campaign").glob("*.rehearsal-*.sqlite3")), copy)

    attack(tmp_path, write_csv, make_copy, "--state", str(copy))


def test_a_fresh_state_does_not_run_the_campaign_twice(tmp_path: Path, write_csv) -> None:  # type: ignore[no-untyped-def]
    attack(tmp_path, write_csv, lambda contacts: None, "--state", str(tmp_path / "fresh.sqlite3"))


def test_the_same_campaign_from_another_working_directory(tmp_path: Path, write_csv) -> None:  # type: ignore[no-untyped-def]
    other = tmp_path / "sub" / "dir"
    other.mkdir(parents=True)
    attack(tmp_path, write_csv, lambda contacts: None, cwd=other)


def test_a_killed_holder_releases_the_lock(tmp_path: Path, write_csv) -> None:  # type: ignore[no-untyped-def]
    contacts = write_csv(PEOPLE)
    gate = Gate(2)
    with Sandbox(token=SANDBOX_TOKEN, instance_id=SANDBOX_INSTANCE, on_accept=gate) as box:
        a = start_cli(contacts, box.url)
        assert gate.reached.wait(30)
        a.send_signal(signal.SIGKILL)
        a.wait(10)
        gate.release.set()
        b = start_cli(contacts, box.url)
        out, _ = b.communicate(timeout=60)
        counts = Counter(m.jid for m in box.received)
    assert b.returncode == 1, out  # the in-flight row is 'unknown': reported, not resent
    assert "1 send(s) were cut off by a crash" in out
    assert set(counts.values()) == {1} and len(counts) == len(PEOPLE) - 1


def test_deleting_the_journal_and_every_lock_mid_run_never_resends(tmp_path: Path, write_csv,  # type: ignore[no-untyped-def]
                                                                   campaign_home: Path) -> None:
    contacts = write_csv(PEOPLE)
    gate = Gate(2)
    with Sandbox(token=SANDBOX_TOKEN, instance_id=SANDBOX_INSTANCE, on_accept=gate) as box:
        a = start_cli(contacts, box.url)
        try:
            assert gate.reached.wait(30)
            shutil.rmtree(contacts.parent / ".campaign")  # a cleanup script, a sync tool
            shutil.rmtree(campaign_home / "locks")
            b = run_b(contacts, box.url)
        finally:
            gate.release.set()
        a.communicate(timeout=60)
        c = run_b(contacts, box.url)  # the next run: the rebuilt journal plus the history
        counts = Counter(m.jid for m in box.received)
    assert b.returncode == 2, b.stdout + b.stderr  # it found the journal gone and rebuilt it
    assert "Traceback" not in b.stderr + c.stderr
    assert c.returncode in (0, 1), c.stdout + c.stderr
    assert len(counts) == len(PEOPLE) - 1 and set(counts.values()) == {1}, counts


def test_a_run_whose_per_user_state_is_deleted_stops_rather_than_pass_its_caps(  # type: ignore[no-untyped-def]
        write_csv, results, campaign_home) -> None:
    """Issue 19: with the per-user state deleted mid-run, the run went on in a file nobody else
    sees (another campaign then starts from an empty history): now it stops, every outcome kept,
    and the same command carries on without a double send."""
    contacts = write_csv(PEOPLE)
    gate = Gate(2)
    with Sandbox(token=SANDBOX_TOKEN, instance_id=SANDBOX_INSTANCE, on_accept=gate) as box:
        a = start_cli(contacts, box.url)
        try:
            assert gate.reached.wait(30), "the run never reached its second message"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{campaign_home / 'state.sqlite3'}{suffix}").unlink(missing_ok=True)
        finally:
            gate.release.set()
        out, _ = a.communicate(timeout=60)
        stopped_at = len(box.received)
        again = run_campaign("send", contacts, *HI, *FAST, cwd=contacts.parent, env=api_env(box.url))
        counts = Counter(m.jid for m in box.received)
    assert a.returncode == 3, out
    assert "was deleted or replaced during the run" in out
    assert stopped_at == 2  # nothing sent after the state went
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(counts) == len(PEOPLE) - 1 and set(counts.values()) == {1}, counts
