"""The journal: SQLite, one file per campaign, so a killed run resumes without a double send.

Every send is committed as `attempting` before its request leaves and its outcome is committed
before the next one (WAL, synchronous=FULL, explicit transactions: Python's implicit ones leave
a write uncommitted until the next statement, which a SIGKILL loses).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import socket
import sqlite3
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from campaign.errors import BusyError, InputError
from campaign.store.namespaces import describe_key
from campaign.store.sqlite import SQLITE_MAGIC, check_readable, is_damage, write_transaction
from campaign.vocabulary import Status

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
    sent_at TEXT NOT NULL DEFAULT '',
    sender TEXT NOT NULL DEFAULT ''
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
    sender: str = ""  # the sender's label (several senders)


def template_digest(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


# The columns of a Record, in its order (a salvage reads the same ones from a damaged file).
RECORD_COLUMNS = "jid, row_number, status, error, message, media, attempts, started_at, sent_at, sender"
Op = Callable[[sqlite3.Connection], object]  # one step of a journal transaction


class JournalDamaged(InputError):
    """The journal file could not be read; `salvage()` rebuilds it from what can be."""


class Journal:
    """One campaign's journal file. Use as a context manager; it holds the campaign's lock.

    The lock is an OS lock on the journal file itself (however it is reached: a symlink, another
    relative path) and on a lock file in the per-user state folder named after the journal's real
    path, so deleting a file beside the journal does not let a second run in.
    """

    def __init__(self, path: Path, *, campaign: str = "", namespace: str = "live",
                 locks: Path | None = None, identity: str = "") -> None:
        """`identity` (the campaign, its namespace and its contacts file) is locked too, so a
        copy of the journal, or a fresh one given by --state, cannot run the campaign twice."""
        self.path = Path(path)
        self.real = Path(os.path.realpath(self.path))
        self.campaign, self.namespace, self.locks = campaign, namespace, locks
        self.identity = identity
        self._lock_fds: list[int] = []
        self.db: sqlite3.Connection | None = None
        self._sync = ""
        self._request_ids: dict[str, int] = {}  # JID -> its request in flight (several lanes)

    def __enter__(self) -> Journal:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self, *, lock: bool = True) -> None:
        """Open for writing (with the lock) or, with lock=False, read-only if the file exists."""
        if not lock:
            if self.real.is_file() and self.real.stat().st_size:
                self._check_is_journal()
                try:
                    self.db = sqlite3.connect(f"file:{self.real}?mode=ro", uri=True, timeout=30,
                                              isolation_level=None)
                    self._check_readable()
                except sqlite3.DatabaseError as e:
                    self.close()
                    if not is_damage(e):
                        raise
                    raise JournalDamaged(
                        f"--state {self.path}: the progress file is damaged ({e}). Run the same command "
                        "without --dry-run: it keeps the damaged file aside and salvages what it can."
                    ) from None
                try:
                    self._check_identity()  # another campaign's journal: refused here too
                except BaseException:
                    self.close()
                    raise
            return
        try:
            self.real.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise InputError(f"--state {self.path}: cannot create its folder ({e.strerror}).") from None
        self._acquire_lock()
        self._connect()

    def reopen(self) -> None:
        """After `salvage()` replaced the file: lock the new file (the lock in the per-user folder
        is held throughout) and connect to it."""
        if self.db is not None:
            self.db.close()
            self.db = None
        if self._lock_fds and sys.platform != "win32":
            os.close(self._lock_fds.pop())  # the damaged file's; it is aside now
            fd = os.open(self.real, os.O_RDWR | os.O_CREAT, 0o644)
            _lock(fd)
            self._lock_fds.append(fd)
        self._connect()

    def _connect(self) -> None:
        self._check_is_journal()
        try:
            # isolation_level=None: no implicit transactions; we BEGIN and COMMIT ourselves.
            # Several lanes share the connection; the runner serialises every use with its lock.
            self.db = sqlite3.connect(self.real, isolation_level=None, timeout=30,
                                      check_same_thread=False)
            self._refuse_other_databases()
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self._sync = "FULL"
            self.db.executescript(SCHEMA)
            columns = {r[1] for r in self.db.execute("PRAGMA table_info(sends)")}
            if "sender" not in columns:  # a journal from before several senders
                self.db.execute("ALTER TABLE sends ADD COLUMN sender TEXT NOT NULL DEFAULT ''")
            self._check_readable()
        except sqlite3.DatabaseError as e:
            if self.db is not None:
                self.db.close()
                self.db = None
            if not is_damage(e):
                raise  # a full or read-only disk is the machine's failure, not a damaged journal
            raise JournalDamaged(str(e)) from None
        self._check_identity()

    def _check_is_journal(self) -> None:
        """Refuse a file that is not SQLite at all (a contacts sheet given to --state, say)."""
        try:
            with open(self.real, "rb") as f:
                head = f.read(100)
        except FileNotFoundError:
            return
        except OSError as e:
            raise InputError(f"--state {self.path}: cannot read it ({e.strerror}).") from None
        if head and not head.startswith(SQLITE_MAGIC) and head.strip(b"\x00") and \
                not self.path.name.endswith(".sqlite3"):
            raise InputError(
                f"--state {self.path} is not a campaign progress file (it is some other file). "
                "Point --state at a progress file of its own, e.g. .campaign/NAME.sqlite3."
            )

    def _refuse_other_databases(self) -> None:
        """Another SQLite file (the per-user state, some app's database) is not touched."""
        assert self.db is not None
        tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        journal_tables = {"meta", "sends", "requests"}
        row_number = "row_number" in {r[1] for r in self.db.execute("PRAGMA table_info(sends)")}
        if tables and (not tables <= journal_tables or ("sends" in tables and not row_number)):
            self.db.close()
            self.db = None
            raise InputError(
                f"--state {self.path} is an SQLite database, but not a campaign progress file (it has "
                f"tables {', '.join(sorted(tables))}). Point --state at a progress file of its own, "
                "e.g. .campaign/NAME.sqlite3."
            )

    def _check_readable(self) -> None:
        assert self.db is not None
        check_readable(self.db)
        self.db.execute("SELECT count(*), max(started_at) FROM sends").fetchone()

    def _check_identity(self) -> None:
        """The journal knows its campaign and namespace; another campaign's is refused."""
        meta = {k: self.get_meta(k) for k in ("campaign", "namespace")}
        if self.campaign and meta["campaign"] not in (None, self.campaign):
            raise InputError(
                f"--state {self.path} is the progress file of campaign '{meta['campaign']}', not "
                f"'{self.campaign}'. Using it would skip whoever that campaign reached. To carry on "
                f"that campaign, add --name '{meta['campaign']}'; for this one, drop --state (or "
                "give it a progress file of its own)."
            )
        if meta["namespace"] not in (None, self.namespace):
            raise InputError(
                f"--state {self.path} is the progress file of a {describe_key(meta['namespace'])}, "
                f"and this run sends to {describe_key(self.namespace)}. Rehearsals and real sends "
                "keep separate progress files: drop --state to use the right one."
            )
        if not self._lock_fds:
            return  # read-only (a dry run): checked, nothing written
        for key, value in (("campaign", self.campaign), ("namespace", self.namespace)):
            if value and meta[key] is None:
                self.set_meta(key, value)
        if self._lock_fds:  # for the refusal message of a second run, whichever lock refuses it
            self.set_meta("owner", _owner_line())

    def _acquire_lock(self) -> None:
        # OS file locks die with their process, so a SIGKILLed run cannot leave them stuck.
        owner = ""
        paths = []
        if self.locks is not None:
            for key in filter(None, (self.identity, str(self.real))):
                digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()
                paths.append(self.locks / f"{digest[:32]}.lock")
        if sys.platform == "win32":  # pragma: no cover - a byte lock on the journal blocks SQLite
            paths.append(Path(f"{self.real}.lock"))
        else:
            paths.append(self.real)
        for path in paths:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as e:
                self.close()
                raise InputError(f"--state {self.path}: cannot open {path} ({e.strerror}).") from None
            try:
                _lock(fd)
            except OSError:
                os.close(fd)
                owner = _read_owner(path) if path != self.real else _journal_owner(self.real)
                self.close()
                raise BusyError(
                    f"another run of this campaign is in progress{owner} (progress file {self.path} is "
                    "locked). Wait for it to finish or stop it; two runs at once could send twice."
                ) from None
            self._lock_fds.append(fd)
            if path != self.real:
                _write_owner(fd)

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None
        for fd in self._lock_fds:
            os.close(fd)
        self._lock_fds = []

    @contextlib.contextmanager
    def _tx(self, *, sync: str = "FULL") -> Iterator[sqlite3.Connection]:
        assert self.db is not None
        if sync != self._sync:
            self.db.execute(f"PRAGMA synchronous={sync}")
            self._sync = sync
        with write_transaction(self.db) as db:
            yield db

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
        cur = self.db.execute(f"SELECT {RECORD_COLUMNS} FROM sends")
        return {r[0]: Record(*r) for r in cur}

    def begin(self, jid: str, *, row_number: int, message: str, media: str, at: float,
              sender: str = "") -> int:
        """Commit `attempting` before the request leaves. Returns the attempts so far + 1."""
        op = self.begin_op(jid, row_number=row_number, message=message, media=media, at=at,
                           sender=sender)
        attempts = self.batch([op])[0]
        assert isinstance(attempts, int)
        return attempts

    def begin_op(self, jid: str, *, row_number: int, message: str, media: str, at: float,
                 sender: str = "") -> Op:
        """begin() as a step of a transaction (Committer groups the lanes' steps)."""

        def op(db: sqlite3.Connection) -> int:
            # One statement: a new row, or the earlier attempt's row again, never a sent one.
            row = db.execute(
                "INSERT INTO sends (jid, row_number, status, error, message, media, attempts,"
                " started_at, sent_at, sender) VALUES (?, ?, 'attempting', '', ?, ?, 1, ?, '', ?)"
                " ON CONFLICT (jid) DO UPDATE SET row_number = excluded.row_number,"
                " status = 'attempting', error = '', message = excluded.message,"
                " media = excluded.media, attempts = sends.attempts + 1,"
                " started_at = excluded.started_at, sent_at = '', sender = excluded.sender"
                " WHERE sends.status != 'sent' RETURNING attempts",
                (jid, row_number, message, media, at, sender),
            ).fetchall()  # all: a statement left unfinished would block the COMMIT
            if not row:
                raise RuntimeError(f"journal: {jid} was already sent")  # the runner's invariant
            attempts = int(row[0][0])
            cur = db.execute("INSERT INTO requests (jid, started_at) VALUES (?, ?)", (jid, at))
            self._request_ids[jid] = cur.lastrowid or 0
            return attempts

        return op

    def finish(self, jid: str, *, status: str, error: str, sent_at: str, attempts: int) -> None:
        # Committed without its own fsync: in WAL a commit survives a killed process at once, and
        # the next begin()'s FULL commit syncs it to disk before the next request leaves. A power
        # cut in between can only turn this outcome back into 'attempting', i.e. 'unknown', which
        # is never resent by default: exactly-once holds, at one fsync per message instead of two.
        self.batch([self.finish_op(jid, status=status, error=error, sent_at=sent_at,
                                   attempts=attempts)], durable=False)

    def finish_op(self, jid: str, *, status: str, error: str, sent_at: str, attempts: int) -> Op:
        def op(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE sends SET status = ?, error = ?, sent_at = ?, attempts = ? WHERE jid = ?",
                (status, error, sent_at, attempts, jid),
            )
            db.execute("UPDATE requests SET outcome = ? WHERE id = ?",
                       (status, self._request_ids.pop(jid, None)))

        return op

    def batch(self, ops: Sequence[Op], *, durable: bool = True) -> list[object]:
        """Several steps in one transaction: one commit (and with `durable`, one fsync) for all."""
        with self._tx(sync="FULL" if durable else "NORMAL") as db:
            return [op(db) for op in ops]

    def last_request(self) -> float | None:
        """When this journal's last request started (pacing holds across a restart)."""
        assert self.db is not None
        row = self.db.execute("SELECT max(started_at) FROM requests").fetchone()
        return row[0] if row else None

    def request_times(self, since: float) -> list[float]:
        """Start times of requests that may have delivered a message (for hourly/daily caps)."""
        assert self.db is not None
        cur = self.db.execute(
            "SELECT started_at FROM requests WHERE started_at >= ? AND outcome != 'failed'"
            " ORDER BY started_at",
            (since,),
        )
        return [r[0] for r in cur]


def _write_owner(fd: int) -> None:
    """Who holds the lock, for the refusal message of a second run."""
    data = f"{_owner_line()}\n".encode()
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)


def _read_owner(path: Path) -> str:
    try:
        return _owner_words(path.read_text())
    except (OSError, UnicodeDecodeError):
        return ""


def _owner_words(text: str) -> str:
    try:
        pid, host, since = text.split()[:3]
    except ValueError:
        return ""
    return f" (process {pid} on {host}, since {since})"


def _owner_line() -> str:
    since = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    return f"{os.getpid()} {socket.gethostname()} {since}"


def _journal_owner(path: Path) -> str:
    """Who holds the journal, as the holder wrote it into the journal itself."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
        try:
            row = db.execute("SELECT value FROM meta WHERE key = 'owner'").fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return ""
    return _owner_words(row[0]) if row else ""


def salvage(path: Path, *, sends: Mapping[str, tuple[str, float]], campaign: str,
            namespace: str, now: dt.datetime | None = None) -> tuple[Path, int, int]:
    """Rebuild a damaged journal from what SQLite can still read and from `sends` (the per-user
    history of this journal: JID -> (outcome, time)). The damaged file is kept aside.

    Returns (where the damaged file now is, records read from it, records added from `sends`).
    Call with the journal's lock held.
    """
    real = Path(os.path.realpath(path))
    read: dict[str, tuple[object, ...]] = {}
    meta: dict[str, str] = {}
    if real.exists() and real.stat().st_size:
        read, meta = _readable_rows(real)
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    aside = real.with_name(f"{real.name}.damaged-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        src = Path(f"{real}{suffix}")
        if src.exists():
            os.replace(src, f"{aside}{suffix}")
    db = sqlite3.connect(real, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(SCHEMA)
        db.execute("BEGIN IMMEDIATE")
        for key, value in {**meta, "campaign": campaign, "namespace": namespace}.items():
            if value:
                db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
        cols = RECORD_COLUMNS
        for values in read.values():
            db.execute(f"INSERT OR REPLACE INTO sends ({cols}) VALUES (?,?,?,?,?,?,?,?,?,?)", values)
        added = 0
        for jid, (outcome, at) in sends.items():
            prev = read.get(jid)
            if prev is not None and (prev[2] == Status.SENT or outcome != Status.SENT):
                continue
            status = outcome if outcome in (Status.SENT, Status.FAILED) else Status.UNKNOWN
            errors: dict[str, str] = {Status.SENT: "", Status.UNKNOWN: INTERRUPTED}
            error = errors.get(status, "earlier attempt failed")
            sent_at = dt.datetime.fromtimestamp(at).astimezone().isoformat(timespec="seconds")
            db.execute(f"INSERT OR REPLACE INTO sends ({cols}) VALUES (?,0,?,?,'','',1,?,?,'')",
                       (jid, status, error, at, sent_at if status == Status.SENT else ""))
            db.execute("INSERT INTO requests (jid, started_at, outcome) VALUES (?, ?, ?)", (jid, at, status))
            added += 1
        db.execute("COMMIT")
    finally:
        db.close()
    return aside, len(read), added


def _readable_rows(path: Path) -> tuple[dict[str, tuple[object, ...]], dict[str, str]]:
    """Every row of `sends` and `meta` SQLite can still read, one at a time past damage."""
    rows: dict[str, tuple[object, ...]] = {}
    meta: dict[str, str] = {}
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.DatabaseError:
        return rows, meta
    cols = RECORD_COLUMNS
    try:
        with contextlib.suppress(sqlite3.DatabaseError):
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        try:
            for r in db.execute(f"SELECT {cols} FROM sends"):
                rows[r[0]] = r
        except sqlite3.DatabaseError:
            misses, rowid = 0, 0
            while misses < 2000:  # past the damage, row by row
                rowid += 1
                try:
                    r = db.execute(f"SELECT {cols} FROM sends WHERE rowid = ?", (rowid,)).fetchone()
                except sqlite3.DatabaseError:
                    r = None
                if r is None:
                    misses += 1
                    continue
                misses = 0
                rows.setdefault(r[0], r)
    finally:
        db.close()
    return rows, meta


if sys.platform == "win32":  # pragma: no cover - the lock on Windows
    import msvcrt

    def _lock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
