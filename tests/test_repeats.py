"""Message identity in the per-user history (issue 18), below the CLI: the digest recorded with
each send, the claim's check, the plan's lookup, and a history file from before it upgraded."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from campaign.store.history import MIGRATIONS, SCHEMA_VERSION, ClaimRequest, History
from campaign.store.journal import Journal
from campaign.store.ledger import Ledger
from campaign.store.repeats import WITHIN, already_got, message_digest, where

A, B = "972501111111@s.whatsapp.net", "972502222222@s.whatsapp.net"
DAY = 86_400.0


def ledger(tmp_path: Path, name: str, history: History, **options: object) -> Ledger:
    journal = Journal(tmp_path / name / ".campaign" / f"{name}.sqlite3", campaign=name)
    journal.path.parent.mkdir(parents=True)
    journal.open()
    return Ledger(journal, history, namespace="live", campaign=name, **options)  # type: ignore[arg-type]


def send(book: Ledger, jid: str, text: str, at: float, media: str = "") -> str:
    """A claim and a 'sent' outcome; '' if granted, else why it was refused."""
    account = book.account("n1")
    answer = book.claim(account, jid, row_number=2, message=text, media=media, at=at)
    if answer.granted:
        book.settle(account, jid, status="sent", error="", sent_at="t", attempts=1, next_at_once=False)
    return answer.refused


def test_the_same_message_from_another_journal_is_refused_in_the_claim(tmp_path: Path) -> None:
    with History(tmp_path / "home") as history:
        winter = ledger(tmp_path, "winter", history, repeat_within=WITHIN)
        copy = ledger(tmp_path, "copy", history, repeat_within=WITHIN)
        assert send(winter, A, "Hi A", at=1000.0) == ""
        why = send(copy, A, "Hi A", at=2000.0)
        assert why == already_got(1000.0, "winter", str(winter.journal_id))
        assert why.startswith("already got this message on ") and "campaign 'winter' in " in why
        assert why.endswith(str(tmp_path / "winter"))  # the folder, not its .campaign
        assert send(copy, A, "Hi A!", at=2000.0) == ""  # another text is another message
        assert send(copy, B, "Hi A", at=2000.0) == ""  # another person
        later = ledger(tmp_path, "later", history, repeat_within=WITHIN)
        assert send(later, A, "Hi A", at=1000.0 + WITHIN + 1) == ""  # 30 days on: again


def test_resend_turns_the_check_off_and_the_digest_is_still_recorded(tmp_path: Path) -> None:
    with History(tmp_path / "home") as history:
        winter = ledger(tmp_path, "winter", history, repeat_within=WITHIN)
        again = ledger(tmp_path, "again", history)  # --resend: repeat_within None
        assert send(winter, A, "Hi", at=1000.0) == ""
        assert send(again, A, "Hi", at=2000.0) == ""
        digests = {row[0] for row in history.db.execute("SELECT digest FROM sends")}  # type: ignore[union-attr]
        assert digests == {message_digest("text", "Hi", "")}


def test_type_text_and_media_each_make_another_message(tmp_path: Path) -> None:
    with History(tmp_path / "home") as history:
        first = ledger(tmp_path, "first", history, repeat_within=WITHIN, kind="image")
        assert send(first, A, "Look", at=1000.0, media="https://x.example/a.jpg") == ""
        other = ledger(tmp_path, "other", history, repeat_within=WITHIN, kind="image")
        found = other.repeats({A: ("Look", "https://x.example/a.jpg")}, now=2000.0)
        assert list(found) == [A]
        assert other.repeats({A: ("Look", "https://x.example/b.jpg")}, now=2000.0) == {}
        assert other.repeats({A: ("Look!", "https://x.example/a.jpg")}, now=2000.0) == {}
        doc = ledger(tmp_path, "doc", history, repeat_within=WITHIN, kind="doc")
        assert doc.repeats({A: ("Look", "https://x.example/a.jpg")}, now=2000.0) == {}


def test_the_plan_counts_who_heard_from_these_numbers_in_the_last_day(tmp_path: Path) -> None:
    with History(tmp_path / "home") as history:
        history.claim(ClaimRequest("live", "n1", A, "old", "/old", 1000.0))
        history.claim(ClaimRequest("live", "n2", B, "other", "/other", 1000.0 + DAY))
        book = ledger(tmp_path, "new", history, repeat_within=WITHIN)
        assert book.heard_recently(["n1"], [A, B], now=1000.0 + DAY / 2) == 1
        assert book.heard_recently(["n1", "n2"], [A, B], now=1000.0 + DAY - 10) == 2
        assert book.heard_recently(["n1"], [A, B], now=1000.0 + 2 * DAY) == 0


def test_a_history_from_before_message_identity_upgrades_in_place(tmp_path: Path) -> None:
    folder = tmp_path / "home"
    folder.mkdir()
    db = sqlite3.connect(folder / "state.sqlite3", isolation_level=None)
    MIGRATIONS[0](db)  # version 1, as an earlier release left it, with one send in it
    db.execute("PRAGMA user_version = 1")
    db.execute("INSERT INTO sends (namespace, sender, jid, campaign, journal, at, outcome)"
               " VALUES ('live', 'n1', ?, 'old', '/old', 1000, 'sent')", (A,))
    db.close()
    with History(folder) as history:
        assert history.db is not None
        assert history.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        book = ledger(tmp_path, "new", history, repeat_within=WITHIN)
        assert book.repeats({A: ("Hi", "")}, now=2000.0) == {}  # what it got is not known
        assert book.heard_recently(["n1"], [A], now=2000.0) == 1  # that it got something is


def test_where_names_the_folder_with_home_as_a_tilde() -> None:
    assert where(str(Path.home() / "shop" / ".campaign" / "winter.sqlite3")) == str(Path("~/shop"))
    assert where("/srv/state/winter.sqlite3") == "/srv/state"


def test_the_plan_looks_up_a_big_sheet_in_chunks(tmp_path: Path) -> None:
    people = [f"97250{n:07d}@s.whatsapp.net" for n in range(1200)]
    with History(tmp_path / "home") as history:
        for n, jid in enumerate(people[::2]):
            history.claim(ClaimRequest("live", "n1", jid, "old", "/old", 1000.0 + n,
                                       digest=message_digest("text", "Hi", "")))
        book = ledger(tmp_path, "new", history, repeat_within=WITHIN)
        found = book.repeats({jid: ("Hi", "") for jid in people}, now=5000.0)
    assert sorted(found) == sorted(people[::2])
