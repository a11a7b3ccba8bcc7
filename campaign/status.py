"""`campaign status`: every campaign this computer knows, read-only and lock-free.

The registry (per-user state) says what each run last said it was doing; each campaign's journal
says what was sent. Both are opened read-only (`mode=ro`): status never takes the journal's lock
and never waits for a run, so it answers at once while campaigns send. The dashboard calls
`collect()` and shows the same dicts `campaign status --json` prints.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from pathlib import Path
from typing import Any

from campaign.errors import InputError
from campaign.pacing import wait_words
from campaign.store.reader import journal_summary
from campaign.store.registry import LIVE_STATES, Entry, connect_readonly, database, entries

LAST_ERRORS = 5


def collect(home: Path, *, name: str | None = None, now: float | None = None) -> list[dict[str, Any]]:
    """One dict per campaign (newest first): state, counts, the next send and why it waits, the
    expected finish, per sender, per day against the caps, the last errors and the paths.

    With `name`, that campaign only (InputError when no campaign has that name).
    """
    now = time.time() if now is None else now
    found = read_entries(Path(home), name)
    if name is not None and not found:
        raise InputError(unknown_campaign(Path(home), name))
    return [_describe(entry, now) for entry in found]


def read_entries(home: Path, name: str | None = None) -> list[Entry]:
    """The registry's rows (read-only); InputError in words when the file cannot be read."""
    try:
        db = connect_readonly(home)
        if db is None:
            return []
        try:
            return entries(db, name)
        finally:
            db.close()
    except sqlite3.DatabaseError as e:
        raise InputError(unreadable_registry(home, e)) from None


def unreadable_registry(home: Path, error: Exception) -> str:
    """Why the campaigns on this computer cannot be listed, and what to do about it."""
    path = database(home)
    return (f"the record of campaigns on this computer, {path}, cannot be read ({error}): it is "
            "damaged or is not a campaign file. Each campaign's own progress (its .journal file "
            "beside the contacts) is untouched. Move the damaged file aside (rename it) and run "
            "each campaign's send command again from its folder: it carries on where it stopped "
            "and nobody gets the message twice.")


def unknown_campaign(home: Path, name: str) -> str:
    names = [e.name for e in read_entries(home)]
    known = f" Known campaigns: {', '.join(sorted(names))}." if names else \
        " No campaign has run on this computer yet (with this CAMPAIGN_HOME)."
    return f"no campaign named '{name}' on this computer.{known} `campaign status` lists them."


def state_of(entry: Entry, *, alive: bool | None = None) -> str:
    """What the campaign is doing now: a live state whose process is gone is `stopped`; a cancel
    its process has not finished honouring yet (its last send under way) is `cancelling`."""
    if entry.state in LIVE_STATES:
        if not (entry.alive() if alive is None else alive):
            return "stopped"
        if entry.request == "pause":
            return "paused"
        if entry.request == "cancel":
            return "cancelling"
    return entry.state


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    return dt.datetime.fromtimestamp(t).astimezone().isoformat(timespec="seconds")


def _describe(entry: Entry, now: float) -> dict[str, Any]:
    state = state_of(entry)
    journal = _read_journal(Path(entry.journal))
    missing = bool(entry.total) and not Path(entry.journal).is_file()
    counts = journal["counts"]
    sent, failed, unknown = (counts.get(k, 0) for k in ("sent", "failed", "unknown"))
    pending = max(0, entry.total - sent - failed - unknown)
    senders = journal["senders"]
    labels = [s.get("label", "") for s in entry.senders] or [""]
    by_label = {s["label"]: s for s in senders}
    share = -(-pending // max(1, len(labels)))
    sender_rows = []
    for label in labels:
        s = by_label.get(label, {"label": label, "sent": 0, "failed": 0, "unknown": 0})
        sender_rows.append({"label": label or "#1", "sent": s["sent"], "failed": s["failed"],
                            "unknown": s["unknown"], "pending": min(pending, share)})
    day_cap = entry.caps.get("max_per_day")
    cap = None if not day_cap else day_cap * len(labels)
    next_send, waiting = _next(entry, state, now)
    if missing:  # counts of 0 would read as nobody reached: say the progress is unknown
        waiting = (f"its progress file {entry.journal} is missing (deleted or moved), so what was "
                   "sent is unknown; put it back to see and go on from it"
                   + (f"; {waiting}" if waiting else ""))
    resume = None
    if state in ("stopped", "paused", "cancelled") and pending:
        resume = f"campaign resume {entry.name}"
    return {
        "name": entry.name,
        "campaign": entry.campaign,
        "folder": entry.folder,
        "contacts": entry.contacts,
        "namespace": entry.namespace,
        "state": state,
        "sent": sent,
        "total": entry.total,
        "failed": failed,
        "unknown": unknown,
        "pending": pending,
        "next_send": _iso(next_send),
        "waiting_for": waiting,
        "finish": _iso(entry.finish) if state in LIVE_STATES else None,
        "started": _iso(entry.started) if entry.started else None,
        "pid": entry.pid if state in (*LIVE_STATES, "cancelling") else None,
        "senders": sender_rows,
        "per_day": [{"date": d, "sent": n, "cap": cap} for d, n in journal["per_day"]],
        "last_errors": journal["errors"],
        "results": entry.results,
        "preview": entry.preview,
        "log": entry.log,
        "journal": entry.journal,
        "resume": resume,
        "journal_missing": missing,
    }


def _next(entry: Entry, state: str, now: float) -> tuple[float | None, str]:
    """When the next send may start and why not sooner, in words."""
    if state == "stopped":
        if not entry.total or (entry.exit_code == 0 and not entry.stopped):
            return None, "its process ended"
        why = f" ({entry.stopped})" if entry.stopped else " (killed, crashed or rebooted?)"
        return None, f"its process ended{why}; to go on: campaign resume {entry.name}"
    if state == "paused":
        return None, f"paused; to go on: campaign resume {entry.name}"
    if state == "cancelling":
        return None, ("cancelled; its last send is finishing (process "
                      f"{entry.pid}), then it stops")
    if state == "cancelled":
        return None, f"cancelled; to send the rest after all: campaign resume {entry.name}"
    if state == "finished":
        return None, ""
    if entry.next_send is None:
        return None, entry.waiting_for
    if entry.next_send <= now:
        return entry.next_send, "sending"
    if not entry.waiting_for or entry.waiting_for.startswith("next send in"):  # said afresh
        return entry.next_send, f"next send in {wait_words(entry.next_send - now)}"
    return entry.next_send, entry.waiting_for


def _read_journal(path: Path) -> dict[str, Any]:
    """Counts, per sender, per day and the last errors, from the journal opened read-only."""
    summary = journal_summary(path, last_errors=LAST_ERRORS)
    return {"counts": summary.counts, "senders": summary.senders, "per_day": summary.per_day,
            "errors": summary.errors}


def lines(found: list[dict[str, Any]]) -> list[str]:
    """`campaign status` without a name: one line per campaign."""
    if not found:
        return ["No campaigns yet. `campaign send CONTACTS ...` starts one."]
    out = []
    for c in found:
        counts = f"{c['sent']} of {c['total']} sent"
        if c["failed"] or c["unknown"]:
            counts += f", {c['failed']} failed, {c['unknown']} unknown"
        tail = f"; {c['waiting_for']}" if c["waiting_for"] else ""  # each reason says its time
        if c["finish"] and c["pending"]:
            tail += f"; done ~{_short(c['finish'])}"
        out.append(f"{c['name']}  {c['state']}  {counts}{tail}  [{c['folder']}]")
    return out


def details(c: dict[str, Any]) -> list[str]:
    """`campaign status NAME`: the same, per sender and per day, with the last errors and paths."""
    out = lines([c])
    if len(c["senders"]) > 1 or c["senders"][0]["label"] != "#1":
        out.append("Per sender:")
        out += [f"  {s['label']}: {s['sent']} sent, {s['failed']} failed, {s['unknown']} unknown"
                for s in c["senders"]]
    if c["per_day"]:
        out.append("Sends per day:")
        out += [f"  {d['date']}: {d['sent']}" + (f" of {d['cap']} (cap)" if d["cap"] else "")
                for d in c["per_day"]]
    if c["last_errors"]:
        out.append("Last errors:")
        out += [f"  row {e['row']}: {e['error']}" for e in c["last_errors"]]
    for key in ("results", "preview", "log"):
        if c[key]:
            out.append(f"{key.capitalize()}: {c[key]}")
    if c["resume"]:
        out.append(f"To go on: {c['resume']}")
    return out


def _short(iso: str) -> str:
    t = dt.datetime.fromisoformat(iso)
    return f"{t:%a %d %b %H:%M}"
