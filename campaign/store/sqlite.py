"""What both SQLite stores share: explicit write transactions and telling damage from failure."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator

SQLITE_MAGIC = b"SQLite format 3\x00"


@contextlib.contextmanager
def write_transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any error (the connection has no implicit
    transactions: Python's leave a write uncommitted until the next statement)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


class Corrupt(sqlite3.DatabaseError):
    """PRAGMA quick_check found damage."""


def is_damage(error: sqlite3.DatabaseError) -> bool:
    """Damage to salvage (a corrupt or truncated file), as opposed to the machine failing."""
    code = getattr(error, "sqlite_errorcode", None)
    return isinstance(error, Corrupt) or code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


def check_readable(db: sqlite3.Connection) -> None:
    """Raise Corrupt unless SQLite's quick check passes."""
    problems = [r[0] for r in db.execute("PRAGMA quick_check(5)")]
    if problems != ["ok"]:
        raise Corrupt("; ".join(problems))
