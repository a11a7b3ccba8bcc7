"""A run's own row in the registry: registered as it starts, kept current as it sends and
waits, closed with how it ended. It also carries `pause`/`cancel` requests to the runner.

It wraps the UI's progress calls, so the runner says what it does once and both the progress
line and `campaign status` hear it.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from campaign.store.registry import Entry, connect, process_start, register, request_of, update

HEARTBEAT_EVERY = 20.0  # seconds between the registry writes of a run that is sending


class ProgressUI(Protocol):
    def start(self, total: int, interval: float, label: str = "") -> None: ...
    def advance(self, row: Any, counts: Mapping[str, int]) -> None: ...
    def waiting(self, until: float, reason: str) -> None: ...
    def note(self, text: str) -> None: ...
    def close(self) -> None: ...


class Tracker:
    """The registry row of the run in this process; a Progress for the runner."""

    def __init__(self, home: Path, entry: Entry, ui: ProgressUI) -> None:
        self.home, self.ui = Path(home), ui
        self.db: sqlite3.Connection | None = connect(self.home)
        self.entry = register(self.db, entry)
        self.name = self.entry.name
        self._written = time.time()
        self._waiting = False

    @classmethod
    def start_run(cls, home: Path, ui: ProgressUI, *, name: str, journal: str, contacts: Path,
                  cwd: Path, namespace: str, argv: list[str], total: int, state: str,
                  start_at: float | None, finish: float | None, results: str,
                  senders: list[dict[str, str]], caps: dict[str, int | None],
                  pid: int | None = None, preview: str = "") -> Tracker:
        pid = os.getpid() if pid is None else pid
        entry = Entry(name=name, journal=journal, campaign=name, folder=str(contacts.resolve().parent),
                      contacts=str(contacts.resolve()), cwd=str(cwd), namespace=namespace,
                      argv=argv, pid=pid, proc_start=process_start(pid) if pid else "",
                      started=time.time(), heartbeat=time.time(),
                      log=os.environ.get("CAMPAIGN_LOG", ""), state=state, request="",
                      total=total, start_at=start_at, finish=finish, results=results, preview=preview,
                      senders=senders, caps=caps)
        return cls(home, entry, ui)

    def _set(self, **changes: object) -> None:
        if self.db is None:
            return
        # The registry is for status: a busy or full disk here never stops the sending.
        with contextlib.suppress(sqlite3.Error):
            update(self.db, self.name, heartbeat=time.time(), **changes)
        self._written = time.time()

    # --- Progress ----------------------------------------------------------------------------
    def start(self, total: int, interval: float, label: str = "") -> None:
        self.ui.start(total, interval, label)

    def advance(self, row: Any, counts: Mapping[str, int]) -> None:
        self.ui.advance(row, counts)
        if self._waiting or time.time() - self._written >= HEARTBEAT_EVERY:
            self._waiting = False
            self._set(state="running", next_send=None, waiting_for="")

    def waiting(self, until: float, reason: str) -> None:
        self.ui.waiting(until, reason)
        # A wait for the next interval is still running; a window, cap, pause or start time is
        # waiting.
        state = "paused" if reason == "paused" else \
            "running" if reason.startswith("next send in") else \
            "scheduled" if reason.startswith("starts") else "waiting"
        self._waiting = True
        self._set(state=state, next_send=None if state == "paused" else until, waiting_for=reason)

    def note(self, text: str) -> None:
        self.ui.note(text)

    def close(self) -> None:
        self.ui.close()

    # --- requests ----------------------------------------------------------------------------
    def request(self) -> str:
        """What `campaign pause`/`cancel` asked ("" to go on); also a heartbeat now and then."""
        if self.db is None:
            return ""
        try:
            asked = request_of(self.db, self.entry.journal)
        except sqlite3.Error:
            return ""
        if time.time() - self._written >= HEARTBEAT_EVERY:
            self._set()
        return asked

    def finish(self, *, state: str, stopped: str = "", exit_code: int | None = None,
               results: str = "", preview: str = "") -> None:
        changes: dict[str, object] = {"state": state, "stopped": stopped, "exit_code": exit_code,
                                      "next_send": None, "waiting_for": "", "request": ""}
        if results:
            changes["results"] = results
        if preview:
            changes["preview"] = preview
        self._set(**changes)

    def set_process(self, pid: int, log: str) -> None:
        """A background run was started for this campaign (--detach)."""
        self._set(pid=pid, proc_start=process_start(pid), log=log)

    def close_db(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None
