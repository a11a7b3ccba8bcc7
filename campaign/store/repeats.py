"""Once per person, not only per journal (issue 18): whether a recipient already got this
identical message from any campaign on this computer.

A campaign's journal makes it exactly-once, but its identity is its file names: a renamed or
copied sheet, a renamed template, the same text given with -m, a copied folder or a fresh --state
is a new campaign, and would send to everyone again. So the per-user history records, with each
send, a digest of what the recipient got (type, text or caption, media); a recipient who got the
identical message in the last `WITHIN` seconds, in this namespace, is suppressed: when planning,
and again inside the claim's transaction (two campaigns at once). `--resend` turns it off.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path

from campaign.store.history import REACHED, ClaimCheck, ClaimRequest, Verdict

WITHIN = 30 * 86_400.0  # seconds: the same message within 30 days is a repeat
RECENT = 86_400.0  # the plan counts recipients who heard from these numbers in the last day
CHUNK = 500  # JIDs per lookup (SQLite allows 999 parameters in older builds)
ALREADY_GOT = "already got this message "  # how a row suppressed as a repeat is explained
_REACHED_SQL = "('" + "', '".join(map(str, REACHED)) + "')"  # may have reached the person


def message_digest(kind: str, text: str, media: str) -> str:
    """What the recipient got, as stored: the type, the text or caption, and the media URL."""
    return hashlib.sha256(f"{kind}\x1f{text}\x1f{media}".encode("utf-8", "surrogatepass")).hexdigest()[:32]


def where(journal: str) -> str:
    """The campaign's folder, from its journal's path (`<folder>/.campaign/<name>.sqlite3` by
    default), with the home folder as `~`."""
    folder = Path(journal).parent
    if folder.name == ".campaign":
        folder = folder.parent
    try:
        return str(Path("~") / folder.relative_to(Path.home()))
    except ValueError:
        return str(folder)


def already_got(at: float, campaign: str, journal: str) -> str:
    """Why a row is suppressed: `already got this message on 30 Nov, campaign 'winter' in ~/shop`."""
    day = dt.datetime.fromtimestamp(at).astimezone()
    return f"{ALREADY_GOT}on {day.day} {day:%b}, campaign '{campaign}' in {where(journal)}"


def last_same(db: sqlite3.Connection, *, namespace: str, jid: str, digest: str, since: float,
              journal: str) -> str | None:
    """Why `jid` must not get this message again (another journal reached them with it since
    `since`), or None. Read inside the claim's transaction."""
    found = db.execute(
        "SELECT at, campaign, journal FROM sends WHERE namespace = ? AND jid = ? AND at >= ?"
        f" AND digest = ? AND journal != ? AND outcome IN {_REACHED_SQL} ORDER BY at DESC LIMIT 1",
        (namespace, jid, since, digest, journal),
    ).fetchone()
    return None if found is None else already_got(found[0], found[1], found[2])


def not_repeated(within: float) -> ClaimCheck:
    """The claim's check: refuse a recipient whom another journal reached with this identical
    message in the last `within` seconds (two campaigns at once cannot both pass it)."""

    def check(db: sqlite3.Connection, req: ClaimRequest) -> Verdict | None:
        why = last_same(db, namespace=req.namespace, jid=req.jid, digest=req.digest,
                        since=req.at - within, journal=req.journal)
        return Verdict(refused=why) if why else None

    return check


def repeats(db: sqlite3.Connection, *, namespace: str, wanted: Mapping[str, str], since: float,
            journal: str) -> dict[str, str]:
    """JID -> why, for each recipient in `wanted` (JID -> the digest of their message) whom
    another journal reached with that identical message since `since`. For the plan: looked up
    by JID (the history's index), a few hundred at a time, so it costs the sheet's size, not the
    history's."""
    out: dict[str, str] = {}
    jids = list(wanted)
    for start in range(0, len(jids), CHUNK):
        chunk = jids[start : start + CHUNK]
        cur = db.execute(
            "SELECT jid, digest, at, campaign, journal FROM sends WHERE namespace = ?"
            f" AND jid IN ({', '.join('?' * len(chunk))}) AND at >= ? AND journal != ?"
            f" AND digest != '' AND outcome IN {_REACHED_SQL} ORDER BY at",
            (namespace, *chunk, since, journal),
        )
        for jid, digest, at, campaign, other in cur:
            if wanted[jid] == digest:
                out[jid] = already_got(at, campaign, other)  # the latest wins (ordered by time)
    return out


def heard_recently(db: sqlite3.Connection, *, namespace: str, senders: Iterable[str],
                   jids: Iterable[str], since: float, journal: str) -> int:
    """How many of `jids` got any message through these sender numbers since `since`, from
    another journal (this campaign's own sends are not news to it)."""
    numbers = list(senders)
    if not numbers:
        return 0
    marks = ", ".join("?" * len(numbers))
    cur = db.execute(
        f"SELECT DISTINCT jid FROM sends WHERE namespace = ? AND sender IN ({marks}) AND at >= ?"
        f" AND journal != ? AND outcome IN {_REACHED_SQL}",
        (namespace, *numbers, since, journal),
    )
    reached = {row[0] for row in cur}
    return len(reached & set(jids))
