"""`campaign pause|resume|cancel NAME` and `resume --all`: requests to a campaign's run.

Pause and cancel are a word written into the campaign's registry row; the running process reads
it before each claim, so the request in flight finishes and is recorded, and nothing new starts.
A campaign whose process is gone (reboot, crash, kill) is started again in the background with
the options it had: its journal makes that exactly-once, as every resume is.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from campaign.errors import InputError
from campaign.status import state_of, unknown_campaign, unreadable_registry
from campaign.store.registry import (
    Entry,
    connect,
    entries,
    log_folder,
    process_start,
    update,
)

ACTIONS = ("pause", "resume", "cancel")
# The environment variable a background run finds its log path in (set by `spawn`).
LOG_ENV = "CAMPAIGN_LOG"
# How long `resume` waits for a cancelled run to finish its last send, and watches a run it
# started to see it live (its first registry write, or this long without dying).
EXIT_WAIT = 3.0
START_WATCH = 3.0


def request(home: Path, name: str, action: str) -> str:
    """Pause, resume or cancel the campaign `name`; the sentence to show the user.

    InputError for an unknown campaign or an action its state does not allow.
    """
    if action not in ACTIONS:
        raise InputError(f"'{action}': the actions are pause, resume and cancel.")
    try:
        db = connect(Path(home))
    except sqlite3.DatabaseError as e:
        raise InputError(unreadable_registry(Path(home), e)) from None
    try:
        found = entries(db, name)
        if not found:
            raise InputError(unknown_campaign(Path(home), name))
        entry = found[0]
        state = state_of(entry)
        if action == "pause":
            return _pause(db, entry, state)
        if action == "cancel":
            return _cancel(db, entry, state)
        return _resume(Path(home), db, entry, state)
    except sqlite3.DatabaseError as e:
        raise InputError(unreadable_registry(Path(home), e)) from None
    finally:
        db.close()


def _pause(db: object, entry: Entry, state: str) -> str:
    if state == "paused":
        return f"'{entry.name}' is already paused. To go on: campaign resume {entry.name}"
    if state not in ("scheduled", "running", "waiting"):
        raise InputError(f"'{entry.name}' is {state}, not running: there is nothing to pause."
                         + _go_on(entry, state))
    update(db, entry.name, request="pause")  # type: ignore[arg-type]
    return (f"Pausing '{entry.name}': a send already under way finishes and is recorded; nothing "
            f"new starts until `campaign resume {entry.name}`.")


def _cancel(db: object, entry: Entry, state: str) -> str:
    if state in ("cancelled", "cancelling"):
        return f"'{entry.name}' is already cancelled."
    if state == "finished":
        raise InputError(f"'{entry.name}' has finished: there is nothing left to cancel.")
    if state in ("scheduled", "running", "waiting", "paused"):
        update(db, entry.name, request="cancel")  # type: ignore[arg-type]
        return (f"Cancelling '{entry.name}': a send already under way finishes and is recorded; "
                "nothing more is sent, and the rest stay pending with 'cancelled' in the results. "
                f"To send them after all: campaign resume {entry.name}")
    update(db, entry.name, state="cancelled", request="", next_send=None,  # type: ignore[arg-type]
           waiting_for="")
    return (f"Cancelled '{entry.name}' (its process had already ended): nothing more is sent. To "
            f"send the rest after all: campaign resume {entry.name}")


def _resume(home: Path, db: sqlite3.Connection, entry: Entry, state: str) -> str:
    if state == "cancelling":  # its last send is finishing: let the process end first
        entry = _wait_for_exit(db, entry, EXIT_WAIT)
        state = state_of(entry)
        if entry.alive():
            raise InputError(f"'{entry.name}' is still finishing its last send after the cancel "
                             f"(process {entry.pid}); run campaign resume {entry.name} again in "
                             "a moment.")
    if state == "paused" and entry.alive():
        update(db, entry.name, request="")
        return f"Resuming '{entry.name}': it goes on with its next send."
    if state in ("scheduled", "running", "waiting"):
        raise InputError(f"'{entry.name}' is already {state} (process {entry.pid}); "
                         f"`campaign status {entry.name}` shows what it waits for.")
    if state == "finished":
        raise InputError(f"'{entry.name}' has finished: everyone was reached. To send it again as "
                         "a new campaign, run it with --name NEW.")
    if entry.alive():  # never a second process beside a live one (the journal lock refuses it)
        raise InputError(f"'{entry.name}' still has its process {entry.pid} running; run "
                         f"campaign resume {entry.name} again in a moment.")
    pid, log = start_again(home, db, entry)
    return (f"Started '{entry.name}' again in the background (process {pid}); it carries on where "
            f"it stopped, nobody gets the message twice. Log: {log}. "
            f"Status: campaign status {entry.name}")


def resume_all(home: Path) -> list[str]:
    """Every campaign that was scheduled, running or waiting when its process ended (a reboot):
    started again in the background. One sentence per campaign."""
    db = connect(Path(home))
    out = []
    try:
        for entry in entries(db):
            if entry.state in ("scheduled", "running", "waiting") and entry.request != "cancel" \
                    and not entry.alive():
                try:
                    pid, log = start_again(home, db, entry)
                except InputError as e:
                    out.append(str(e))
                    continue
                out.append(f"Started '{entry.name}' again in the background (process {pid}); "
                           f"log: {log}")
    finally:
        db.close()
    return out or ["Nothing to resume: no campaign was stopped while running."]


def start_again(home: Path, db: sqlite3.Connection, entry: Entry) -> tuple[int, str]:
    """Run the campaign's own command again, in the background, from the folder it ran in."""
    if not Path(entry.cwd).is_dir():
        raise InputError(f"'{entry.name}' ran in {entry.cwd}, which no longer exists. Run its "
                         "command again by hand from where its files are now.")
    log = entry.log or str(log_path(home, entry.name))
    size = Path(log).stat().st_size if Path(log).is_file() else 0
    proc = spawn(pin_start(entry.argv, entry.start_at), cwd=Path(entry.cwd), log=Path(log))
    pid = int(proc.pid)
    stamp = time.time()
    update(db, entry.name, pid=pid, proc_start=process_start(pid),
           heartbeat=stamp, state="running", request="", log=log, stopped="",
           exit_code=None)
    code = _watch(db, entry.name, proc, stamp, START_WATCH)
    if code is not None:
        last = _last_line(Path(log), size) or f"it ended with exit code {code}"
        update(db, entry.name, state="stopped", stopped=f"did not start again: {last}",
               exit_code=code)
        raise InputError(f"'{entry.name}' did not start again: {last} (log: {log})")
    return pid, log


def _watch(db: sqlite3.Connection, name: str, proc: subprocess.Popen[bytes], stamp: float,
           seconds: float) -> int | None:
    """The exit code of a run that died within `seconds`; None once it lives (it wrote its
    registry row itself) or is still running at the end."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            return code
        found = entries(db, name)
        if found and found[0].heartbeat > stamp:
            return None
        time.sleep(0.05)
    return proc.poll()


def _last_line(log: Path, start: int) -> str:
    """The last non-empty line the run wrote to its log (after byte `start`)."""
    try:
        with open(log, "rb") as f:
            f.seek(start)
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    said = [line.strip() for line in text.splitlines()
            if line.strip() and not line.startswith("--- started ")]
    return said[-1] if said else ""


def _wait_for_exit(db: sqlite3.Connection, entry: Entry, seconds: float) -> Entry:
    """The campaign's row once its process has ended, or as it is after `seconds`."""
    deadline = time.monotonic() + seconds
    while entry.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
        found = entries(db, entry.name)
        if found:
            entry = found[0]
    return entry


def pin_start(argv: list[str], start_at: float | None) -> list[str]:
    """`--start-at 09:00` means its next occurrence: a run started again keeps the moment it
    was given first (an ISO time with its offset), so a restart never waits another day."""
    if start_at is None:
        return argv
    when = dt.datetime.fromtimestamp(start_at).astimezone().isoformat(timespec="seconds")
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            out.append(when)
            skip = False
        elif arg == "--start-at":
            out.append(arg)
            skip = True
        elif arg.startswith("--start-at="):
            out.append(f"--start-at={when}")
        else:
            out.append(arg)
    return out


def log_path(home: Path, name: str) -> Path:
    return log_folder(home) / f"{name}.log"


def spawn(argv: list[str], *, cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    """`campaign send ...` as a background process of its own session, output to `log`.

    `argv` is the command as the user gave it (the resume command); it gets --yes (the plan was
    confirmed when it was first started) and loses --detach.
    """
    args = [a for a in argv[1:] if a != "--detach"]
    if "--yes" not in args and "-y" not in args:
        args.append("--yes")
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, LOG_ENV: str(log)}
    with open(log, "ab") as out:
        out.write(f"--- started {time.strftime('%Y-%m-%d %H:%M:%S')} ---\n".encode())
        out.flush()
        kwargs: dict[str, object] = {}
        if sys.platform == "win32":  # pragma: no cover
            kwargs["creationflags"] = 0x00000008 | 0x00000200  # DETACHED_PROCESS, NEW_GROUP
        else:
            kwargs["start_new_session"] = True
        proc = subprocess.Popen([sys.executable, "-m", "campaign", *args], cwd=cwd, env=env,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                **kwargs)  # type: ignore[call-overload]
    return proc


def _go_on(entry: Entry, state: str) -> str:
    if state in ("stopped", "cancelled"):
        return f" To start it again: campaign resume {entry.name}"
    return ""
