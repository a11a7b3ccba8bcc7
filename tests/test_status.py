"""`campaign status`, `pause`, `resume`, `cancel`: the registry of campaigns on this computer."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from campaign import control, status
from campaign.errors import InputError
from tests.helpers import FAST

PEOPLE = [["name", "phone"], ["Dana", "+972 52-555-0101"], ["Omer", "+972 52-555-0102"],
          ["Noa", "+972 52-555-0103"]]
ANY_TIME = (*FAST, "--window", "any")


def test_a_finished_campaign_is_listed_with_its_counts(cli, write_csv, sandbox_env, sandbox,
                                                       campaign_home: Path) -> None:
    contacts = write_csv(PEOPLE)
    assert cli("send", contacts, "-m", "Hi {{ name }}", "--name", "winter", "--dry-run",
               env=sandbox_env).exit_code == 0
    assert cli("status").output.startswith("No campaigns yet")  # a dry run is not a campaign yet
    assert cli("send", contacts, "-m", "Hi {{ name }}", "--name", "winter", *ANY_TIME,
               env=sandbox_env).exit_code == 0
    r = cli("status")
    assert r.exit_code == 0
    assert "winter  finished  3 of 3 sent" in r.output
    found = json.loads(cli("status", "winter", "--json").output)
    assert (found["state"], found["sent"], found["total"], found["pending"]) == ("finished", 3, 3, 0)
    assert found["senders"] == [{"label": "#1", "sent": 3, "failed": 0, "unknown": 0, "pending": 0}]
    assert sum(d["sent"] for d in found["per_day"]) == len(sandbox.received) == 3
    assert found["results"].endswith("winter.rehearsal.results.csv")
    assert found["preview"].endswith(".preview.html") and Path(found["preview"]).is_file()
    assert status.collect(campaign_home, name="winter")[0] == found


def test_the_library_api_answers_what_the_cli_prints(campaign_home: Path) -> None:
    assert status.collect(campaign_home) == []
    with pytest.raises(InputError, match="no campaign named 'x'"):
        status.collect(campaign_home, name="x")
    with pytest.raises(InputError, match="no campaign named 'x'"):
        control.request(campaign_home, "x", "pause")


def test_pause_of_a_finished_campaign_is_refused(cli, write_csv, sandbox_env) -> None:
    contacts = write_csv(PEOPLE)
    cli("send", contacts, "-m", "Hi", "--name", "done", *ANY_TIME, env=sandbox_env)
    r = cli("pause", "done")
    assert r.exit_code == 2
    assert "'done' is finished, not running: there is nothing to pause." in r.output
    r = cli("resume", "done")
    assert r.exit_code == 2 and "has finished" in r.output
    assert cli("status", "nothing").exit_code == 2


def _register(home: Path, tmp_path: Path, name: str, *, pid: int, request: str = "",
              argv: list[str] | None = None) -> None:
    from campaign.store.registry import Entry, connect, process_start, register

    db = connect(home)
    try:
        register(db, Entry(name=name, journal=str(tmp_path / f"{name}.journal"), campaign=name,
                           folder=str(tmp_path), contacts=str(tmp_path / "c.csv"),
                           cwd=str(tmp_path), namespace="ns", total=3,
                           argv=argv or ["campaign", "send", "c.csv", "-m", "Hi"], pid=pid,
                           proc_start=process_start(pid) if pid else "", request=request,
                           heartbeat=time.time(), started=time.time()))
    finally:
        db.close()


def test_resume_never_starts_a_second_process_beside_a_cancel_still_finishing(
        cli, tmp_path: Path, campaign_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The cancelled run's last send is still under way: its process lives on for a moment.
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        _register(campaign_home, tmp_path, "late", pid=alive.pid, request="cancel")
        shown = status.collect(campaign_home, name="late")[0]
        assert (shown["state"], shown["pid"]) == ("cancelling", alive.pid)
        assert "its last send is finishing" in shown["waiting_for"]
        monkeypatch.setattr(control, "EXIT_WAIT", 0.2)
        r = cli("resume", "late")
        assert r.exit_code == 2
        assert ("'late' is still finishing its last send after the cancel (process "
                f"{alive.pid}); run campaign resume late again in a moment.") in r.output
        after = status.collect(campaign_home, name="late")[0]  # the cancel still reaches it
        assert (after["state"], after["pid"]) == ("cancelling", alive.pid)
        assert cli("cancel", "late").output.startswith("'late' is already cancelled.")
    finally:
        alive.kill()
        alive.wait()


def test_a_run_that_dies_at_once_is_not_reported_as_started(cli, tmp_path: Path,
                                                            campaign_home: Path) -> None:
    # Its contacts are gone: the run started again ends at once with its reason in the log.
    _register(campaign_home, tmp_path, "gone", pid=0,
              argv=["campaign", "send", "nowhere.csv", "-m", "Hi", *FAST])
    r = cli("resume", "gone")
    assert r.exit_code == 2, r.output
    assert "Started" not in r.output
    assert "'gone' did not start again: " in r.output and "nowhere.csv" in r.output
    shown = status.collect(campaign_home, name="gone")[0]
    assert shown["state"] == "stopped" and "did not start again" in shown["waiting_for"]


def test_a_damaged_record_of_campaigns_is_said_in_words(cli, campaign_home: Path) -> None:
    campaign_home.mkdir(parents=True, exist_ok=True)
    (campaign_home / "state.sqlite3").write_bytes(b"this is not a database at all" * 200)
    for args in (("status",), ("status", "x"), ("pause", "x"), ("resume", "x")):
        r = cli(*args)
        assert r.exit_code == 2, (args, r.output)
        assert "state.sqlite3, cannot be read" in r.output and "Traceback" not in r.output
    with pytest.raises(InputError, match="Move the damaged file aside"):
        status.collect(campaign_home)


def test_a_deleted_journal_is_said_not_read_as_nothing_sent(cli, write_csv, sandbox_env,
                                                             campaign_home: Path) -> None:
    contacts = write_csv(PEOPLE)
    assert cli("send", contacts, "-m", "Hi", "--name", "lost", *ANY_TIME,
               env=sandbox_env).exit_code == 0
    found = status.collect(campaign_home, name="lost")[0]
    assert not found["journal_missing"] and "missing" not in found["waiting_for"]
    Path(found["journal"]).unlink()
    shown = status.collect(campaign_home, name="lost")[0]
    assert shown["journal_missing"]
    assert f"its progress file {found['journal']} is missing" in shown["waiting_for"]
    assert f"its progress file {found['journal']} is missing" in cli("status").output
