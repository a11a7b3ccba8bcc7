"""The per-user history, shared by every campaign: who was messaged, through which number, when.

One SQLite file in the per-user folder (`CAMPAIGN_HOME`, else the platform's user state
directory), so campaigns in different folders see one history. It feeds the per-number caps and
warm-up, `--skip-contacted-within` (checked again inside each claim), pacing across campaigns,
and the salvage of a damaged journal. It is not a campaign's journal: exactly-once lives there,
and only the ledger (`campaign.store.ledger`) writes both.

Sends are kept per *namespace* (the real API, the in-process sandbox, each loopback URL), so a
rehearsal never counts toward a real number. A number is stored as a keyed digest of its instance
ID (the key is a random file beside the database), never the ID itself.

The schema grows by migrations: each one takes the file from version i to i + 1 (its
`CREATE TABLE IF NOT EXISTS`, its `add_column`), and `PRAGMA user_version` says which ran.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import hashlib
import hmac
import os
import secrets
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from campaign.errors import InputError
from campaign.pacing import DAY, Schedule
from campaign.store import ATTEMPTING
from campaign.store.sqlite import write_transaction
from campaign.vocabulary import Status

SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sends (
    id INTEGER PRIMARY KEY,
    namespace TEXT NOT NULL,
    sender TEXT NOT NULL,
    jid TEXT NOT NULL,
    campaign TEXT NOT NULL,
    journal TEXT NOT NULL,
    at REAL NOT NULL,
    outcome TEXT NOT NULL DEFAULT 'attempting'
);
CREATE INDEX IF NOT EXISTS sends_by_jid ON sends (namespace, jid, at);
CREATE INDEX IF NOT EXISTS sends_by_sender ON sends (namespace, sender, at);
CREATE INDEX IF NOT EXISTS sends_by_journal ON sends (journal);
CREATE TABLE IF NOT EXISTS senders (
    namespace TEXT NOT NULL,
    sender TEXT NOT NULL,
    first_send REAL NOT NULL,
    PRIMARY KEY (namespace, sender)
);
"""
# Outcomes that may have reached the person: a send in flight right now counts too.
REACHED = (Status.SENT, ATTEMPTING, Status.UNKNOWN)
_REACHED_SQL = "(" + ", ".join(f"'{outcome}'" for outcome in REACHED) + ")"


def run_script(db: sqlite3.Connection, script: str) -> None:
    """Each statement of `script` inside the caller's transaction (executescript would commit)."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def add_column(db: sqlite3.Connection, table: str, definition: str) -> None:
    """`ALTER TABLE table ADD COLUMN definition`, unless the column is there already."""
    name = definition.split()[0]
    if name not in {r[1] for r in db.execute(f"PRAGMA table_info({table})")}:
        db.execute(f"ALTER TABLE {table} ADD COLUMN {definition}")


# Migration i takes the file from version i to i + 1, inside one transaction. A new feature
# appends one (new tables with CREATE TABLE IF NOT EXISTS, new columns with add_column and a
# DEFAULT) and never edits an earlier one: a file written by an older version then upgrades.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    lambda db: run_script(db, SCHEMA_V1),
    # Version 2, message identity (issue 18): what each recipient got, as a digest
    # (`campaign.store.repeats.message_digest`); '' for sends recorded before it.
    lambda db: add_column(db, "sends", "digest TEXT NOT NULL DEFAULT ''"),
]
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True)
class ClaimRequest:
    """A send about to leave, as the claim's checks see it."""

    namespace: str
    sender: str  # the number's key (a digest of its instance ID)
    jid: str
    campaign: str
    journal: str  # the journal's real path: this campaign's own sends are told apart by it
    at: float
    message: str = ""
    media: str = ""
    digest: str = ""  # what the recipient gets (type, text or caption, media), as stored


@dataclass(frozen=True)
class Verdict:
    """A check's no: the row is refused (`refused` says why; it becomes 'suppressed'), or it must
    wait (`wait`; `other_send` is another campaign's send through the number, for the pacer)."""

    refused: str = ""
    wait: bool = False
    other_send: float | None = None


# A check runs inside the claim's write transaction (no other campaign can claim meanwhile):
# None lets the send go, a Verdict stops it. Later features add theirs (once per person, ...).
ClaimCheck = Callable[[sqlite3.Connection, ClaimRequest], "Verdict | None"]


def number_interval(min_gap: float) -> ClaimCheck:
    """--delay is per number: another campaign sent through it less than `min_gap` s ago."""

    def check(db: sqlite3.Connection, req: ClaimRequest) -> Verdict | None:
        if min_gap <= 0:
            return None
        last = db.execute(
            "SELECT MAX(at) FROM sends WHERE namespace = ? AND sender = ? AND journal != ?",
            (req.namespace, req.sender, req.journal),
        ).fetchone()[0]
        if last is not None and req.at < last + min_gap:
            return Verdict(wait=True, other_send=last)
        return None

    return check


def not_contacted_since(within: float) -> ClaimCheck:
    """--skip-contacted-within: another campaign reached this person in the last `within` s."""

    def check(db: sqlite3.Connection, req: ClaimRequest) -> Verdict | None:
        found = db.execute(
            "SELECT campaign, at FROM sends WHERE namespace = ? AND jid = ? AND at >= ?"
            f" AND journal != ? AND outcome IN {_REACHED_SQL} ORDER BY at DESC LIMIT 1",
            (req.namespace, req.jid, req.at - within, req.journal),
        ).fetchone()
        return Verdict(refused=contacted(found[0], found[1])) if found else None

    return check


def within_caps(schedule: Schedule) -> ClaimCheck:
    """The number's caps, pauses, warm-up and window, counted from the history inside the
    claim: several campaigns racing through one number never pass a cap together."""

    def check(db: sqlite3.Connection, req: ClaimRequest) -> Verdict | None:
        if not schedule.counts_history:
            return None
        now = copy.copy(schedule)
        now.history = send_times(db, req.namespace, req.sender, req.at - DAY)
        if now.first_send is None:
            now.first_send = first_send(db, req.namespace, req.sender)
        due, _ = now.next_allowed(req.at)
        return Verdict(wait=True) if due > req.at else None

    return check


def send_times(db: sqlite3.Connection, namespace: str, sender: str, since: float) -> list[float]:
    """Start times of sends through one number that may have delivered (caps count these)."""
    cur = db.execute(
        "SELECT at FROM sends WHERE namespace = ? AND sender = ? AND at >= ?"
        " AND outcome != 'failed' ORDER BY at",
        (namespace, sender, since),
    )
    return [r[0] for r in cur]


def first_send(db: sqlite3.Connection, namespace: str, sender: str) -> float | None:
    """The number's first send seen on this computer (day one of its warm-up)."""
    row = db.execute("SELECT first_send FROM senders WHERE namespace = ? AND sender = ?",
                     (namespace, sender)).fetchone()
    return row[0] if row else None


class History:
    """The per-user history database. Open it with `with History(folder) as history:`."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / "state.sqlite3"
        self.db: sqlite3.Connection | None = None
        self._key = b""
        self._known_senders: set[tuple[str, str]] = set()
        self._file: tuple[int, int] | None = None  # (device, inode) of the file opened

    def __enter__(self) -> History:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._key = self._read_key()
            self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30,
                                      check_same_thread=False)
            self.db.execute("PRAGMA synchronous=NORMAL")
            if self.db.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                self._migrate()
            self._file = self._identity()
        except sqlite3.DatabaseError as e:
            self.close()
            raise InputError(
                f"the per-user state {self.path} cannot be used ({e}). Move it aside (it holds "
                "the send history that caps and --skip-contacted-within read), or set "
                "CAMPAIGN_HOME to another folder."
            ) from None
        except OSError as e:
            self.close()
            raise InputError(
                f"cannot use the per-user state folder {self.folder} ({e.strerror}). Make it "
                "writable, or set CAMPAIGN_HOME to a folder you can write to."
            ) from None

    def _migrate(self) -> None:
        """The missing migrations, each in one transaction. Two first runs at once may race here:
        SQLite answers one of them 'locked' at once (switching to WAL does not wait), so that one
        tries again (and then finds the work done)."""
        assert self.db is not None
        for attempt in range(50):
            try:
                self.db.execute("PRAGMA journal_mode=WAL")
                with self._tx() as db:
                    version = db.execute("PRAGMA user_version").fetchone()[0]
                    for migrate in MIGRATIONS[version:]:
                        migrate(db)
                    db.execute(f"PRAGMA user_version = {max(version, SCHEMA_VERSION)}")
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or attempt == 49:
                    raise
                time.sleep(0.1)

    def _read_key(self) -> bytes:
        """The per-computer key of the sender digests, made once. Two first runs at once agree:
        the key is written whole to a temp file and linked into place (only one link wins)."""
        path = self.folder / "sender.key"
        try:
            key = path.read_bytes()
            if len(key) == 32:
                return key
        except FileNotFoundError:
            pass
        tmp = self.folder / f".sender.key.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(32))
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # fails if another run's key is already in place: use that one
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
        return path.read_bytes()

    def _identity(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return st.st_dev, st.st_ino

    def check_same_file(self) -> None:
        """Raise (a machine failure: the run stops, its outcomes kept) when the file was deleted
        or replaced since it was opened: this connection's sends would be invisible to every
        other campaign, and theirs to it, so caps and --delay would no longer hold."""
        if self._file is not None and self._identity() != self._file:
            raise sqlite3.OperationalError(
                f"the per-user state {self.path} was deleted or replaced during the run; the "
                "caps and pacing of the numbers could no longer be kept. Run the same command "
                "again to carry on"
            )

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None

    def _tx(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        assert self.db is not None
        return write_transaction(self.db)

    def sender_id(self, instance_id: str) -> str:
        """A number's stored identity: a keyed digest of its instance ID, never the ID."""
        return hmac.new(self._key, instance_id.encode("utf-8", "surrogatepass"),
                        hashlib.sha256).hexdigest()[:24]

    # --- before and after each send ---------------------------------------------------------

    def claim(self, request: ClaimRequest, checks: Sequence[ClaimCheck] = (), *,
              settle: tuple[int, str] | None = None) -> tuple[int | None, Verdict | None]:
        """Record a send about to leave, unless a check says no. One transaction, so two
        campaigns running at once cannot both pass the checks; `settle` (an earlier send's id and
        outcome) is recorded in it too, saving a commit per message.

        Returns (the send's id, None), or (None, the first check's Verdict against it).
        """
        with self._tx() as db:
            if settle is not None:
                db.execute("UPDATE sends SET outcome = ? WHERE id = ?", (settle[1], settle[0]))
            for check in checks:
                verdict = check(db, request)
                if verdict is not None:
                    return None, verdict
            req = request
            cur = db.execute(
                "INSERT INTO sends (namespace, sender, jid, campaign, journal, at, digest)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (req.namespace, req.sender, req.jid, req.campaign, req.journal, req.at, req.digest),
            )
            if (req.namespace, req.sender) not in self._known_senders:  # day one of its warm-up
                db.execute("INSERT OR IGNORE INTO senders VALUES (?, ?, ?)",
                           (req.namespace, req.sender, req.at))
                self._known_senders.add((req.namespace, req.sender))
            return cur.lastrowid, None

    def finish(self, send_id: int, outcome: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE sends SET outcome = ? WHERE id = ?", (outcome, send_id))

    def recover(self, journal: str) -> None:
        """A crashed run's sends in flight: they may have gone out."""
        with self._tx() as db:
            db.execute("UPDATE sends SET outcome = 'unknown' WHERE journal = ? AND outcome = 'attempting'",
                       (journal,))

    # --- reading ----------------------------------------------------------------------------

    def contacted_since(self, namespace: str, since: float, *, exclude_journal: str) -> dict[str, str]:
        """JID -> why, for every number another campaign may have reached since `since`."""
        assert self.db is not None
        out: dict[str, str] = {}
        cur = self.db.execute(
            "SELECT jid, campaign, MAX(at) FROM sends WHERE namespace = ? AND at >= ? AND journal != ?"
            f" AND outcome IN {_REACHED_SQL} GROUP BY jid",
            (namespace, since, exclude_journal),
        )
        for jid, campaign, at in cur:
            out[jid] = contacted(campaign, at)
        return out

    def send_times(self, namespace: str, sender: str, since: float) -> list[float]:
        """Start times of sends through one number that may have delivered (caps count these)."""
        assert self.db is not None
        return send_times(self.db, namespace, sender, since)

    def last_send(self, namespace: str, sender: str) -> float | None:
        assert self.db is not None
        row = self.db.execute("SELECT MAX(at) FROM sends WHERE namespace = ? AND sender = ?",
                              (namespace, sender)).fetchone()
        return row[0] if row else None

    def first_send(self, namespace: str, sender: str) -> float | None:
        assert self.db is not None
        return first_send(self.db, namespace, sender)

    def journal_sends(self, journal: str) -> dict[str, tuple[str, float]]:
        """JID -> (best outcome, time) of one campaign journal's sends: the salvage's second source."""
        assert self.db is not None
        rank = {Status.SENT: 3, Status.UNKNOWN: 2, ATTEMPTING: 2, Status.FAILED: 1}
        out: dict[str, tuple[str, float]] = {}
        for jid, outcome, at in self.db.execute(
            "SELECT jid, outcome, at FROM sends WHERE journal = ? ORDER BY at", (journal,)
        ):
            outcome = Status.UNKNOWN if outcome == ATTEMPTING else outcome
            if jid not in out or rank.get(outcome, 0) >= rank.get(out[jid][0], 0):
                out[jid] = (outcome, at)
        return out


def contacted(campaign: str, at: float) -> str:
    when = dt.datetime.fromtimestamp(at).astimezone().isoformat(timespec="minutes")
    return f"campaign '{campaign}' sent to this number on {when}"
