"""State on this computer, shared by every campaign: who was messaged, through which number, when.

One SQLite file in the per-user state folder (`CAMPAIGN_HOME`, else the platform's user state
directory), so campaigns in different folders see one history. It feeds the per-number caps and
warm-up, `--skip-contacted-within` (checked again just before each send), pacing across campaigns,
and the salvage of a damaged journal. It is not a campaign's journal: exactly-once lives there.

Sends are kept per *namespace* (the real API, the in-process sandbox, each loopback URL), so a
rehearsal never counts toward a real number. A number is stored as a keyed digest of its instance
ID (the key is a random file beside the database), never the ID itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from campaign.client import is_loopback
from campaign.errors import InputError
from campaign.journal import write_transaction

SCHEMA_VERSION = 1  # PRAGMA user_version; a new version adds its tables and columns
SCHEMA = """
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
REACHED = ("sent", "attempting", "unknown")


def home(environ: Mapping[str, str] | None = None) -> Path:
    """`CAMPAIGN_HOME`, else the platform's per-user state folder (~/.local/state/campaign)."""
    environ = os.environ if environ is None else environ
    if environ.get("CAMPAIGN_HOME"):
        return Path(environ["CAMPAIGN_HOME"]).expanduser()
    import platformdirs

    return Path(platformdirs.user_state_dir("campaign", appauthor=False))


@dataclass(frozen=True)
class Namespace:
    """Where sends go. `key` is stored; `rehearsal` is True for anything that is not WhatsApp."""

    key: str
    rehearsal: bool
    journal_suffix: str  # appended to the journal's stem: "" for the real API
    description: str

    @property
    def label(self) -> str:
        return "rehearsal" if self.rehearsal else "live"


LIVE = Namespace("live", False, "", "the ibot-chat API")
SANDBOX = Namespace("sandbox", True, ".rehearsal", "the in-process sandbox")


def namespace_for(base_url: str, *, sandbox: bool) -> Namespace:
    """The in-process sandbox, one loopback URL, or the real API (whatever its URL)."""
    if sandbox:
        return SANDBOX
    parts = urlsplit(base_url)
    host = (parts.hostname or "").rstrip(".").lower()
    if not is_loopback(host):
        return LIVE
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = parts.path.rstrip("/")
    key = f"{parts.scheme}://{host}:{port}{path}"
    suffix = f".rehearsal-{host.replace(':', '_')}-{port}"
    if path != "/api/v1":
        suffix += "-" + hashlib.sha256(path.encode()).hexdigest()[:6]
    return Namespace(f"loopback:{key}", True, suffix, f"the local API at {parts.netloc}")


class UserState:
    """The per-user history database. Open it with `with UserState(folder) as state:`."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / "state.sqlite3"
        self.db: sqlite3.Connection | None = None
        self._key = b""
        self._known_senders: set[tuple[str, str]] = set()

    def __enter__(self) -> UserState:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._key = self._read_key()
            self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30,
                                      check_same_thread=False)  # fmt: skip
            self.db.execute("PRAGMA synchronous=NORMAL")
            if self.db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                self._create()
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

    def _create(self) -> None:
        """The schema, once. Two first runs at once may race here: SQLite answers one of them
        'locked' at once (switching to WAL does not wait), so that one tries again."""
        assert self.db is not None
        for attempt in range(50):
            try:
                self.db.execute("PRAGMA journal_mode=WAL")
                with self._tx() as db:
                    for statement in SCHEMA.split(";"):
                        if statement.strip():
                            db.execute(statement)
                    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
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
                        hashlib.sha256).hexdigest()[:24]  # fmt: skip

    # --- before and after each send ---------------------------------------------------------

    def claim(self, *, namespace: str, sender: str, jid: str, campaign: str, journal: str,
              at: float, skip_since: float | None = None, settle: tuple[int, str] | None = None,
              min_gap: float = 0.0) -> tuple[int | None, str, float | None]:  # fmt: skip
        """Record a send about to leave, unless another campaign reached `jid` since `skip_since`,
        or sent through this number less than `min_gap` seconds ago (--delay is per number).

        One transaction, so two campaigns running at once cannot both pass the checks; `settle`
        (an earlier send's id and outcome) is recorded in it too, saving a commit per message.
        Returns (send id, "", None), (None, why it was skipped, None), or (None, "", the other
        campaign's last send through the number) when the interval has not passed yet.
        """
        with self._tx() as db:
            if settle is not None:
                db.execute("UPDATE sends SET outcome = ? WHERE id = ?", (settle[1], settle[0]))
            if min_gap > 0:
                last = db.execute(
                    "SELECT MAX(at) FROM sends WHERE namespace = ? AND sender = ? AND journal != ?",
                    (namespace, sender, journal),
                ).fetchone()[0]
                if last is not None and at < last + min_gap:
                    return None, "", last
            if skip_since is not None:
                found = db.execute(
                    "SELECT campaign, at FROM sends WHERE namespace = ? AND jid = ? AND at >= ?"
                    " AND journal != ? AND outcome IN ('sent', 'attempting', 'unknown')"
                    " ORDER BY at DESC LIMIT 1",
                    (namespace, jid, skip_since, journal),
                ).fetchone()
                if found:
                    return None, contacted(found[0], found[1]), None
            cur = db.execute(
                "INSERT INTO sends (namespace, sender, jid, campaign, journal, at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (namespace, sender, jid, campaign, journal, at),
            )
            if (namespace, sender) not in self._known_senders:  # day one of its warm-up, once
                db.execute("INSERT OR IGNORE INTO senders VALUES (?, ?, ?)", (namespace, sender, at))
                self._known_senders.add((namespace, sender))
            return cur.lastrowid, "", None

    def finish(self, send_id: int, outcome: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE sends SET outcome = ? WHERE id = ?", (outcome, send_id))

    def recover(self, journal: str) -> None:
        """A crashed run's sends in flight: they may have gone out."""
        with self._tx() as db:
            db.execute("UPDATE sends SET outcome = 'unknown' WHERE journal = ? AND outcome = 'attempting'",
                       (journal,))  # fmt: skip

    # --- reading ----------------------------------------------------------------------------

    def contacted_since(self, namespace: str, since: float, *, exclude_journal: str) -> dict[str, str]:
        """JID -> why, for every number another campaign may have reached since `since`."""
        assert self.db is not None
        out: dict[str, str] = {}
        cur = self.db.execute(
            "SELECT jid, campaign, MAX(at) FROM sends WHERE namespace = ? AND at >= ? AND journal != ?"
            " AND outcome IN ('sent', 'attempting', 'unknown') GROUP BY jid",
            (namespace, since, exclude_journal),
        )
        for jid, campaign, at in cur:
            out[jid] = contacted(campaign, at)
        return out

    def send_times(self, namespace: str, sender: str, since: float) -> list[float]:
        """Start times of sends through one number that may have delivered (caps count these)."""
        assert self.db is not None
        cur = self.db.execute(
            "SELECT at FROM sends WHERE namespace = ? AND sender = ? AND at >= ?"
            " AND outcome != 'failed' ORDER BY at",
            (namespace, sender, since),
        )
        return [r[0] for r in cur]

    def last_send(self, namespace: str, sender: str) -> float | None:
        assert self.db is not None
        row = self.db.execute("SELECT MAX(at) FROM sends WHERE namespace = ? AND sender = ?",
                              (namespace, sender)).fetchone()  # fmt: skip
        return row[0] if row else None

    def first_send(self, namespace: str, sender: str) -> float | None:
        """The number's first send seen on this computer (day one of its warm-up)."""
        assert self.db is not None
        row = self.db.execute("SELECT first_send FROM senders WHERE namespace = ? AND sender = ?",
                              (namespace, sender)).fetchone()  # fmt: skip
        return row[0] if row else None

    def journal_sends(self, journal: str) -> dict[str, tuple[str, float]]:
        """JID -> (best outcome, time) of one campaign journal's sends: the salvage's second source."""
        assert self.db is not None
        rank = {"sent": 3, "unknown": 2, "attempting": 2, "failed": 1}
        out: dict[str, tuple[str, float]] = {}
        for jid, outcome, at in self.db.execute(
            "SELECT jid, outcome, at FROM sends WHERE journal = ? ORDER BY at", (journal,)
        ):
            outcome = "unknown" if outcome == "attempting" else outcome
            if jid not in out or rank.get(outcome, 0) >= rank.get(out[jid][0], 0):
                out[jid] = (outcome, at)
        return out


def contacted(campaign: str, at: float) -> str:
    import datetime as dt

    when = dt.datetime.fromtimestamp(at).astimezone().isoformat(timespec="minutes")
    return f"campaign '{campaign}' sent to this number on {when}"
