"""The journal: SQLite, one file per campaign, so a killed run resumes without a double send.

Every send is committed as `attempting` before its request leaves and its outcome is committed
before the next one (WAL, synchronous=FULL, explicit transactions: Python's implicit ones leave
a write uncommitted until the next statement, which a SIGKILL loses).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sqlite3
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from campaign.errors import BusyError, InputError

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sends (
    jid TEXT PRIMARY KEY,
    row_number INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('attempting', 'sent', 'failed', 'unknown')),
    error TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL DEFAULT '',
    media TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    started_at REAL NOT NULL,
    sent_at TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY,
    jid TEXT NOT NULL,
    started_at REAL NOT NULL,
    outcome TEXT NOT NULL DEFAULT 'attempting'
);
CREATE INDEX IF NOT EXISTS requests_started ON requests (started_at);
"""
INTERRUPTED = (
    "interrupted while sending: the message may have gone out. "
    "Check with the recipient, or resend with --retry-unknown"
)


@dataclass(frozen=True)
class Record:
    jid: str
    row_number: int
    status: str
    error: str
    message: str
    media: str
    attempts: int
    started_at: float
    sent_at: str


def campaign_name(contacts: Path, template: Path | None, name: str | None = None) -> str:
    """The identity: --name, or the contacts and template file names (`contacts-welcome`).

    Made safe as a file name, since the journal is `<name>.sqlite3`.
    """
    if name is None:
        name = contacts.stem + ("-" + template.stem if template is not None else "-message")
    return re.sub(r"[^\w.-]+", "_", name).strip("_.") or "campaign"


def default_state_dir(contacts: Path) -> Path:
    """Journals live beside the contacts, so a folder of campaigns shares one history."""
    return contacts.resolve().parent / ".campaign"


def template_digest(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


class Journal:
    """One campaign's journal file. Use as a context manager; it holds the campaign's lock."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock_file: int | None = None
        self.db: sqlite3.Connection | None = None
        self._sync = ""
        self._request_id: int | None = None

    def __enter__(self) -> Journal:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self, *, lock: bool = True) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise InputError(f"--state {self.path}: cannot create its folder ({e.strerror}).") from None
        if lock:
            self._acquire_lock()
        try:
            # isolation_level=None: no implicit transactions; we BEGIN and COMMIT ourselves.
            self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self._sync = "FULL"
            self.db.executescript(SCHEMA)
        except sqlite3.DatabaseError as e:
            self.close()
            raise InputError(
                f"--state {self.path}: not a campaign journal ({e}). Point --state elsewhere."
            ) from None

    def _acquire_lock(self) -> None:
        # An OS file lock dies with its process, so a SIGKILLed run cannot leave it stuck.
        fd = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _lock(fd)
        except OSError:
            os.close(fd)
            raise BusyError(
                f"another run of this campaign is in progress (journal {self.path} is locked). "
                "Wait for it to finish or stop it; two runs at once could send twice."
            ) from None
        self._lock_file = fd

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None
        if self._lock_file is not None:
            os.close(self._lock_file)
            self._lock_file = None

    @contextlib.contextmanager
    def _tx(self, *, sync: str = "FULL") -> Iterator[sqlite3.Connection]:
        assert self.db is not None
        if sync != self._sync:
            self.db.execute(f"PRAGMA synchronous={sync}")
            self._sync = sync
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # --- meta -------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        assert self.db is not None
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # --- sends ------------------------------------------------------------------------------

    def recover(self) -> int:
        """Rows a crash left `attempting` become `unknown`: we cannot know if they went out."""
        with self._tx() as db:
            n = db.execute(
                "UPDATE sends SET status = 'unknown', error = ? WHERE status = 'attempting'",
                (INTERRUPTED,),
            ).rowcount
            db.execute("UPDATE requests SET outcome = 'unknown' WHERE outcome = 'attempting'")
        return n

    def records(self) -> dict[str, Record]:
        assert self.db is not None
        cur = self.db.execute(
            "SELECT jid, row_number, status, error, message, media, attempts, started_at, sent_at"
            " FROM sends"
        )
        return {r[0]: Record(*r) for r in cur}

    def begin(self, jid: str, *, row_number: int, message: str, media: str, at: float) -> int:
        """Commit `attempting` before the request leaves. Returns the attempts so far + 1."""
        with self._tx() as db:
            prev = db.execute("SELECT status, attempts FROM sends WHERE jid = ?", (jid,)).fetchone()
            if prev is not None and prev[0] == "sent":
                raise RuntimeError(f"journal: {jid} was already sent")  # the runner's invariant
            attempts = (prev[1] if prev else 0) + 1
            db.execute(
                "INSERT OR REPLACE INTO sends (jid, row_number, status, error, message, media,"
                " attempts, started_at, sent_at) VALUES (?, ?, 'attempting', '', ?, ?, ?, ?, '')",
                (jid, row_number, message, media, attempts, at),
            )
            cur = db.execute("INSERT INTO requests (jid, started_at) VALUES (?, ?)", (jid, at))
            self._request_id = cur.lastrowid
        return attempts

    def finish(self, jid: str, *, status: str, error: str, sent_at: str, attempts: int) -> None:
        # Committed without its own fsync: in WAL a commit survives a killed process at once, and
        # the next begin()'s FULL commit syncs it to disk before the next request leaves. A power
        # cut in between can only turn this outcome back into 'attempting', i.e. 'unknown', which
        # is never resent by default: exactly-once holds, at one fsync per message instead of two.
        with self._tx(sync="NORMAL") as db:
            db.execute(
                "UPDATE sends SET status = ?, error = ?, sent_at = ?, attempts = ? WHERE jid = ?",
                (status, error, sent_at, attempts, jid),
            )
            db.execute("UPDATE requests SET outcome = ? WHERE id = ?", (status, self._request_id))

    def request_times(self, since: float) -> list[float]:
        """Start times of requests that may have delivered a message (for hourly/daily caps)."""
        assert self.db is not None
        cur = self.db.execute(
            "SELECT started_at FROM requests WHERE started_at >= ? AND outcome != 'failed'"
            " ORDER BY started_at",
            (since,),
        )
        return [r[0] for r in cur]


def sent_since(state_dir: Path, since: float, *, exclude: Path | None = None) -> dict[str, str]:
    """JID -> 'campaign NAME on DATE', for every campaign journal in `state_dir`."""
    out: dict[str, tuple[float, str]] = {}
    if not state_dir.is_dir():
        return {}
    for path in sorted(state_dir.glob("*.sqlite3")):
        if exclude is not None and path.resolve() == exclude.resolve():
            continue
        try:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
            rows = db.execute(
                "SELECT jid, started_at, sent_at FROM sends WHERE status = 'sent' AND started_at >= ?",
                (since,),
            ).fetchall()
            db.close()
        except sqlite3.DatabaseError:
            continue  # not a journal, or being written: skip rather than block the campaign
        for jid, started, sent_at in rows:
            if jid not in out or started > out[jid][0]:
                out[jid] = (started, f"campaign '{path.stem}' sent to this number on {sent_at}")
    return {jid: why for jid, (_, why) in out.items()}


if sys.platform == "win32":  # pragma: no cover - the lock on Windows
    import msvcrt

    def _lock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
