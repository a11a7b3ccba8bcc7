"""Read-only views of a campaign's journal for `campaign status` and the dashboard: opened
read-only, never a lock a run would wait on, never a write (WAL lets a reader see the last commit
while the run goes on)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from campaign.vocabulary import Status


@dataclass
class JournalSummary:
    """What a journal says about its campaign so far."""

    counts: dict[str, int] = field(default_factory=dict)  # status -> rows
    senders: list[dict[str, Any]] = field(default_factory=list)  # label, sent, failed, unknown
    per_day: list[tuple[str, int]] = field(default_factory=list)  # local date, messages sent
    errors: list[dict[str, Any]] = field(default_factory=list)  # row, error: the latest first


def journal_summary(path: Path, *, last_errors: int = 5, timeout: float = 2.0) -> JournalSummary:
    """The journal at `path`, summed up; empty when it does not exist (yet) or cannot be read
    right now (being created or salvaged: the next look has it)."""
    out = JournalSummary()
    if not path.is_file():
        return out
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=timeout, isolation_level=None)
    except sqlite3.Error:
        return out
    try:
        out.counts = dict(db.execute("SELECT status, count(*) FROM sends GROUP BY status"))
        per: dict[str, dict[str, Any]] = {}
        for sender, status, n in db.execute(
            "SELECT sender, status, count(*) FROM sends GROUP BY sender, status"
        ):
            s = per.setdefault(sender, {"label": sender, Status.SENT.value: 0, Status.FAILED.value: 0,
                                        Status.UNKNOWN.value: 0})
            if status in s:
                s[status] += n
        out.senders = list(per.values())
        out.per_day = db.execute(
            "SELECT date(started_at, 'unixepoch', 'localtime') AS day, count(*) FROM requests"
            " WHERE outcome = 'sent' GROUP BY day ORDER BY day"
        ).fetchall()
        out.errors = [{"row": r, "error": e} for r, e in db.execute(
            "SELECT row_number, error FROM sends WHERE status IN ('failed', 'unknown')"
            " ORDER BY started_at DESC LIMIT ?", (last_errors,))]
    except sqlite3.Error:
        pass  # a journal being created or salvaged right now: the counts come next time
    finally:
        db.close()
    return out
