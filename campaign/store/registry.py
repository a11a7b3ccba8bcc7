"""The campaigns this computer knows: one row per campaign in the per-user state.

A campaign that runs for days lives on the computer, not in a terminal, so `campaign status`,
`pause`, `resume`, `cancel` and the dashboard need to find it: its name, folder, contacts,
namespace, the options it was started with (never credentials: there is no credential option),
its process, its log, and what it last said it was doing. The running process writes its row;
`pause` and `cancel` write a request into it that the runner reads before each claim.

The table lives in the per-user history database (`state.sqlite3`), beside the sends the caps
count, so the request and the history's claim can be read in one transaction. Readers
(`campaign status`) open the file read-only and never wait on a writer (WAL).
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from campaign.store.history import ClaimRequest, Verdict
from campaign.store.sqlite import write_transaction

TABLE = """
CREATE TABLE IF NOT EXISTS campaigns (
    name TEXT PRIMARY KEY,
    journal TEXT NOT NULL UNIQUE,
    campaign TEXT NOT NULL,
    folder TEXT NOT NULL,
    contacts TEXT NOT NULL,
    cwd TEXT NOT NULL,
    namespace TEXT NOT NULL,
    argv TEXT NOT NULL,
    pid INTEGER NOT NULL DEFAULT 0,
    proc_start TEXT NOT NULL DEFAULT '',
    started REAL NOT NULL DEFAULT 0,
    heartbeat REAL NOT NULL DEFAULT 0,
    log TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT 'running',
    request TEXT NOT NULL DEFAULT '',
    total INTEGER NOT NULL DEFAULT 0,
    start_at REAL,
    next_send REAL,
    waiting_for TEXT NOT NULL DEFAULT '',
    finish REAL,
    results TEXT NOT NULL DEFAULT '',
    preview TEXT NOT NULL DEFAULT '',
    senders TEXT NOT NULL DEFAULT '[]',
    caps TEXT NOT NULL DEFAULT '{}',
    exit_code INTEGER,
    stopped TEXT NOT NULL DEFAULT ''
)
"""
# What a process says about itself. `stopped` is also what status calls a live state whose
# process is gone (killed, crashed, rebooted).
LIVE_STATES = ("scheduled", "running", "waiting", "paused")
ENDED_STATES = ("stopped", "finished", "cancelled")
REQUESTS = ("", "pause", "cancel")
# A process that has not written for this long, where its start time cannot be checked, is gone.
HEARTBEAT_STALE = 180.0


def database(home: Path) -> Path:
    return Path(home) / "state.sqlite3"


def log_folder(home: Path) -> Path:
    return Path(home) / "logs"


@dataclass
class Entry:
    """One campaign's row, as stored."""

    name: str
    journal: str
    campaign: str
    folder: str
    contacts: str
    cwd: str
    namespace: str
    argv: list[str]
    pid: int = 0
    proc_start: str = ""
    started: float = 0.0
    heartbeat: float = 0.0
    log: str = ""
    state: str = "running"
    request: str = ""
    total: int = 0
    start_at: float | None = None
    next_send: float | None = None
    waiting_for: str = ""
    finish: float | None = None
    results: str = ""
    preview: str = ""
    senders: list[dict[str, str]] = field(default_factory=list)
    caps: dict[str, int | None] = field(default_factory=dict)
    exit_code: int | None = None
    stopped: str = ""

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Entry:
        values = dict(row)
        values["argv"] = json.loads(values["argv"])
        values["senders"] = json.loads(values["senders"])
        values["caps"] = json.loads(values["caps"])
        return cls(**values)

    def alive(self) -> bool:
        return process_alive(self.pid, self.proc_start, self.heartbeat)


COLUMNS = tuple(Entry.__dataclass_fields__)


def connect(home: Path) -> sqlite3.Connection:
    """A writing connection to the registry (the table is made if it is not there yet)."""
    path = database(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
    db.row_factory = sqlite3.Row
    for attempt in range(50):  # two first runs at once: WAL and the table, once
        try:
            if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                db.execute("PRAGMA journal_mode=WAL")
            db.execute(TABLE)
            break
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or attempt == 49:
                db.close()
                raise
            time.sleep(0.1)
    db.execute("PRAGMA synchronous=NORMAL")
    return db


def connect_readonly(home: Path) -> sqlite3.Connection | None:
    """A read-only connection (never a lock a run waits on); None when nothing was ever run."""
    path = database(home)
    if not path.is_file():
        return None
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5, isolation_level=None)
    db.row_factory = sqlite3.Row
    return db


def entries(db: sqlite3.Connection, name: str | None = None) -> list[Entry]:
    try:
        if name is None:
            rows = db.execute("SELECT * FROM campaigns ORDER BY started DESC, name").fetchall()
        else:
            rows = db.execute("SELECT * FROM campaigns WHERE name = ?", (name,)).fetchall()
    except sqlite3.OperationalError as e:
        if "no such table" in str(e):
            return []
        raise
    return [Entry.from_row(r) for r in rows]


def by_journal(db: sqlite3.Connection, journal: str) -> Entry | None:
    row = db.execute("SELECT * FROM campaigns WHERE journal = ?", (journal,)).fetchone()
    return None if row is None else Entry.from_row(row)


def register(db: sqlite3.Connection, entry: Entry) -> Entry:
    """The campaign's row for this run: its name is kept; a new campaign whose name another
    folder's campaign has gets `name-2`, `name-3`, ... so every name picks one campaign."""
    with write_transaction(db):
        old = by_journal(db, entry.journal)
        if old is not None:
            entry.name = old.name
            if not entry.log and old.log and entry.pid == os.getpid() and old.pid == entry.pid:
                entry.log = old.log
        else:
            taken = {r[0] for r in db.execute("SELECT name FROM campaigns")}
            base, n = entry.name, 1
            while entry.name in taken:
                n += 1
                entry.name = f"{base}-{n}"
        values = _values(entry)
        db.execute(f"INSERT OR REPLACE INTO campaigns ({', '.join(COLUMNS)}) VALUES "
                   f"({', '.join('?' * len(COLUMNS))})", [values[c] for c in COLUMNS])
    return entry


def _values(entry: Entry) -> dict[str, object]:
    values: dict[str, object] = dict(entry.__dict__)
    values["argv"] = json.dumps(entry.argv)
    values["senders"] = json.dumps(entry.senders)
    values["caps"] = json.dumps(entry.caps)
    return values


def update(db: sqlite3.Connection, name: str, **changes: object) -> None:
    unknown = set(changes) - set(COLUMNS)
    if unknown:
        raise TypeError(f"not registry columns: {sorted(unknown)}")
    sets = ", ".join(f"{k} = ?" for k in changes)
    with write_transaction(db):
        db.execute(f"UPDATE campaigns SET {sets} WHERE name = ?", [*changes.values(), name])


def no_request(db: sqlite3.Connection, request: ClaimRequest) -> Verdict | None:
    """A claim's check: `campaign pause` or `cancel` stops the claim. It runs inside the claim's
    transaction, and the request is written in a transaction on the same database, so each send
    is either claimed before the request (and finishes, recorded) or not at all."""
    try:
        row = db.execute("SELECT request FROM campaigns WHERE journal = ?", (request.journal,)).fetchone()
    except sqlite3.OperationalError:  # no campaign registered on this computer yet
        return None
    return Verdict(wait=True) if row and row[0] else None


def request_of(db: sqlite3.Connection, journal: str) -> str:
    """What `pause`/`cancel` asked of the campaign with this journal ("" to go on)."""
    row = db.execute("SELECT request FROM campaigns WHERE journal = ?", (journal,)).fetchone()
    return row[0] if row else ""


# --- is a process still there ---------------------------------------------------------------


def process_start(pid: int) -> str:
    """Something that tells this process from a later one with the same id (Linux: its start
    time in clock ticks since boot); "" where the system does not say."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode("ascii", "replace")
    except OSError:
        return ""
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else ""


def _pid_exists(pid: int) -> bool:
    if pid <= 0:
        return False
    if sys.platform == "win32":  # pragma: no cover - os.kill(pid, 0) would end the process there
        import ctypes

        handle = ctypes.windll.kernel32.OpenProcess(0x1000, False, pid)  # type: ignore[attr-defined]
        if not handle:
            return False
        code = ctypes.c_ulong()
        ctypes.windll.kernel32.GetExitCodeProcess(handle, ctypes.byref(code))  # type: ignore[attr-defined]
        ctypes.windll.kernel32.CloseHandle(handle)  # type: ignore[attr-defined]
        return code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_alive(pid: int, proc_start: str, heartbeat: float, *, now: float | None = None) -> bool:
    """The process that wrote the row is still running (not a later one given the same id)."""
    if not _pid_exists(pid):
        return False
    if proc_start:
        current = process_start(pid)
        if current:
            return current == proc_start and not _zombie(pid)
    now = time.time() if now is None else now
    return now - heartbeat < HEARTBEAT_STALE


def _zombie(pid: int) -> bool:
    """A killed child its parent has not reaped yet is gone for our purposes."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().decode("ascii", "replace").rsplit(")", 1)[-1].split()[0] == "Z"
    except (OSError, IndexError):
        return False
