"""The exactly-once rules of campaign/store/ledger.py, one by one, in process on real SQLite.

Each test watches what another connection (another process would see the same) reads from the
two files between the ledger's calls, and which commits were full-sync. The kill tests
(test_resume, test_machine) check the same rules from outside, with SIGKILL.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from campaign.pacing import Schedule
from campaign.store.history import ClaimRequest, History, Verdict
from campaign.store.journal import Journal, Op, salvage
from campaign.store.ledger import Account, Ledger
from tests.helpers import TZ

A, B = "972501111111@s.whatsapp.net", "972502222222@s.whatsapp.net"


class WatchedJournal(Journal):
    """A journal that notes each transaction: how many steps, and whether it was full-sync."""

    commits: list[tuple[int, bool]]

    def batch(self, ops: Sequence[Op], *, durable: bool = True) -> list[object]:
        result = super().batch(ops, durable=durable)
        self.commits.append((len(ops), durable))
        return result


@pytest.fixture
def books(tmp_path: Path) -> Iterator[tuple[Ledger, WatchedJournal, History]]:
    journal = WatchedJournal(tmp_path / "c.sqlite3", campaign="c", namespace="live")
    journal.commits = []
    history = History(tmp_path / "home")
    with journal, history:
        yield Ledger(journal, history, namespace="live", campaign="c"), journal, history


def seen_journal(journal: Journal) -> dict[str, str]:
    """What another connection reads from the journal right now: JID -> status."""
    db = sqlite3.connect(journal.real)
    try:
        return dict(db.execute("SELECT jid, status FROM sends"))
    finally:
        db.close()


def seen_history(history: History) -> dict[str, str]:
    db = sqlite3.connect(history.path)
    try:
        return dict(db.execute("SELECT jid, outcome FROM sends"))
    finally:
        db.close()


def claim(ledger: Ledger, account: Account, jid: str, at: float = 100.0):  # type: ignore[no-untyped-def]
    return ledger.claim(account, jid, row_number=2, message="hi", media="", at=at)


def test_a_claim_is_committed_in_both_stores_with_a_full_sync_before_it_returns(books) -> None:  # type: ignore[no-untyped-def]
    ledger, journal, history = books
    account = ledger.account("n1")
    assert claim(ledger, account, A).granted
    assert seen_journal(journal) == {A: "attempting"}  # the request may leave now
    assert seen_history(history) == {A: "attempting"}
    assert journal.commits == [(1, True)]


def test_an_outcome_before_a_wait_is_committed_at_once_in_both_stores(books) -> None:  # type: ignore[no-untyped-def]
    ledger, journal, history = books
    account = ledger.account("n1")
    claim(ledger, account, A)
    ledger.settle(account, A, status="sent", error="", sent_at="t", attempts=1, next_at_once=False)
    assert seen_journal(journal) == {A: "sent"}
    assert seen_history(history) == {A: "sent"}
    assert journal.commits[-1] == (1, False)  # no fsync of its own: the next claim's syncs it


def test_an_outcome_followed_at_once_rides_in_the_next_claims_transaction(books) -> None:  # type: ignore[no-untyped-def]
    ledger, journal, history = books
    account = ledger.account("n1")
    claim(ledger, account, A)
    ledger.settle(account, A, status="sent", error="", sent_at="t", attempts=1, next_at_once=True)
    assert seen_journal(journal) == {A: "attempting"}  # held until the next send
    claim(ledger, account, B, at=101.0)
    assert seen_journal(journal) == {A: "sent", B: "attempting"}
    assert seen_history(history) == {A: "sent", B: "attempting"}  # settled in the claim's transaction
    assert journal.commits == [(1, True), (2, True)]  # one commit, one fsync, for both


def test_flush_commits_the_held_outcome_in_both_stores(books) -> None:  # type: ignore[no-untyped-def]
    ledger, journal, history = books
    account = ledger.account("n1")
    claim(ledger, account, A)
    ledger.settle(account, A, status="unknown", error="timeout", sent_at="", attempts=1, next_at_once=True)
    ledger.flush(account)
    assert seen_journal(journal) == {A: "unknown"}
    assert seen_history(history) == {A: "unknown"}
    ledger.flush(account)  # nothing held: nothing written
    assert len(journal.commits) == 2


def test_checks_run_inside_the_claims_transaction_and_a_refusal_writes_no_journal_row(books) -> None:  # type: ignore[no-untyped-def]
    seen: list[bool] = []

    def once_per_person(db: sqlite3.Connection, request: ClaimRequest) -> Verdict | None:
        seen.append(db.in_transaction)
        return Verdict(refused="already got it") if request.jid == B else None

    ledger, journal, history = books
    ledger.checks.append(once_per_person)
    account = ledger.account("n1")
    claim(ledger, account, A)
    ledger.settle(account, A, status="sent", error="", sent_at="t", attempts=1, next_at_once=True)
    refused = claim(ledger, account, B, at=101.0)
    assert (refused.granted, refused.refused, refused.wait) == (False, "already got it", False)
    assert seen == [True, True]
    assert seen_journal(journal) == {A: "sent"}  # B never claimed; A's held outcome written anyway
    assert seen_history(history) == {A: "sent"}


def test_a_wait_writes_nothing_and_names_the_other_campaigns_send(books) -> None:  # type: ignore[no-untyped-def]
    ledger, journal, history = books
    history.claim(ClaimRequest("live", "n1", B, "other", "/other", 99.0))
    account = ledger.account("n1", min_gap=5.0)
    answer = claim(ledger, account, A, at=100.0)
    assert (answer.granted, answer.wait, answer.other_send) == (False, True, 99.0)
    assert seen_journal(journal) == {}
    assert claim(ledger, account, A, at=104.0).granted


def test_a_journal_that_cannot_commit_leaves_the_history_saying_failed(books) -> None:  # type: ignore[no-untyped-def]
    ledger, journal, history = books
    account = ledger.account("n1")

    def broken(ops: Sequence[Op], *, durable: bool = True) -> list[object]:
        raise sqlite3.OperationalError("database or disk is full")

    journal.batch = broken  # type: ignore[method-assign]
    with pytest.raises(sqlite3.OperationalError):
        claim(ledger, account, A)
    assert seen_history(history) == {A: "failed"}  # it never left: caps do not count it


def test_every_claim_checks_the_per_user_state_is_still_the_file_it_opened(books) -> None:  # type: ignore[no-untyped-def]
    ledger, journal, history = books
    account = ledger.account("n1")
    held = []
    check = history.check_same_file

    def watched() -> None:
        held.append(ledger._history_lock.locked())
        check()

    history.check_same_file = watched  # type: ignore[method-assign]
    assert claim(ledger, account, A).granted
    ledger.settle(account, A, status="sent", error="", sent_at="t", attempts=1, next_at_once=False)
    history.path.unlink()  # deleted during the run: its caps and pacing could no longer hold
    with pytest.raises(sqlite3.OperationalError, match="deleted or replaced during the run"):
        claim(ledger, account, B)
    assert seen_journal(journal) == {A: "sent"}  # B was never claimed: its request never left
    # Checked at each claim, but not under the history's lock: a stat gives up the GIL, and the
    # other lanes' claims waited on that lock meanwhile (bench/send.py's lanes figure).
    assert held == [False, False]


def test_the_cap_is_checked_inside_the_claim(books) -> None:  # type: ignore[no-untyped-def]
    ledger, _, history = books
    for i in range(3):  # another campaign filled the hour through n1
        jid = f"97250000000{i}@s.whatsapp.net"
        history.claim(ClaimRequest("live", "n1", jid, "other", "/other", 90.0 + i))
    account = ledger.account("n1", schedule=Schedule(tz=TZ, max_per_hour=3))
    assert claim(ledger, account, A, at=100.0).wait
    assert claim(ledger, account, A, at=90.0 + 3600).granted


def test_several_lanes_share_one_group_commit(books) -> None:  # type: ignore[no-untyped-def]
    ledger, journal, _ = books
    accounts = [ledger.account(f"n{i}", f"L{i}") for i in range(4)]
    threads = [threading.Thread(target=claim, args=(ledger, a, f"97250300000{i}@s.whatsapp.net"))
               for i, a in enumerate(accounts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen_journal(journal)) == 4
    assert all(durable for _, durable in journal.commits)
    assert sum(n for n, _ in journal.commits) == 4


def test_records_add_whom_the_history_says_this_campaign_sent_to(books) -> None:  # type: ignore[no-untyped-def]
    ledger, journal, _ = books
    account = ledger.account("n1")
    claim(ledger, account, A)
    ledger.settle(account, A, status="sent", error="", sent_at="t", attempts=1, next_at_once=False)
    with journal._tx() as db:
        db.execute("DELETE FROM sends")  # a journal replaced or quietly damaged
    records, missing = ledger.records()
    assert missing == 1 and records[A].status == "sent"


def test_a_salvage_keeps_each_rows_sender(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    with Journal(path, campaign="c", namespace="live") as journal:
        journal.begin(A, row_number=2, message="hi", media="", at=1.0, sender="shop")
        journal.finish(A, status="sent", error="", sent_at="t", attempts=1)
    salvage(path, sends={}, campaign="c", namespace="live")
    with Journal(path, campaign="c", namespace="live") as journal:
        assert journal.records()[A].sender == "shop"


# --- issue 19, item 7: campaigns racing through one number never pass its cap together --------


def race(home: Path, folder: Path, campaigns: int, rows: int, cap: int) -> int:
    """`campaigns` runners at once, each with its own journal and its own connection to one
    per-user history, sending through number n1 with --delay 0; each stops at its first wait.
    Returns how many sends the history counts toward n1's hour."""
    import httpx

    from campaign.client import IbotClient
    from campaign.pacing import Pacer
    from campaign.runner import Clock, Runner
    from tests.helpers import make_rows

    start = threading.Barrier(campaigns)
    failures: list[BaseException] = []

    def one(i: int) -> None:
        stop = threading.Event()
        ok = httpx.Response(200, json={"success": True, "message": "Message sent successfully!"})
        http = httpx.Client(transport=httpx.MockTransport(lambda request: ok))
        client = IbotClient(http, base_url="https://api.test/v1", token="t", instance_id="i")
        clock = Clock(sleep=lambda seconds: stop.set(), rand=lambda: 0.0, tz=TZ)
        try:
            with Journal(folder / f"c{i}.sqlite3", campaign=f"c{i}") as journal, History(home) as history:
                ledger = Ledger(journal, history, namespace="live", campaign=f"c{i}")
                schedule = Schedule(tz=TZ, max_per_hour=cap)
                ledger.load_schedule(schedule, "n1", clock.now())
                runner = Runner(make_rows(rows, start=i * rows), kind="text", ledger=ledger,
                                client=client, pacer=Pacer(delay=0, jitter=0, rand=clock.rand),
                                schedule=schedule, write=lambda rs: folder / "unused", clock=clock,
                                stop=stop, account=ledger.account("n1", schedule=schedule))
                start.wait()
                runner.run()
        except BaseException as e:  # pragma: no cover - reported below
            failures.append(e)
        finally:
            http.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(campaigns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
    with History(home) as history:
        return len(history.send_times("live", "n1", 0))


def test_campaigns_racing_through_one_number_never_pass_its_hourly_cap(tmp_path: Path) -> None:
    counts = []
    for trial in range(50):
        folder = tmp_path / f"t{trial}"
        folder.mkdir()
        counts.append(race(folder / "home", folder, campaigns=4, rows=4, cap=5))
    assert max(counts) == 5, counts  # every race fills the cap, and none passes it


def test_only_the_ledger_writes_both_stores() -> None:
    """The runner, the session and the plan ask the ledger; none imports the journal's or the
    history's module (issue 16)."""
    import ast

    import campaign

    package = Path(campaign.__file__).parent
    for module in ("runner.py", "session.py", "plan.py"):
        tree = ast.parse((package / module).read_text(encoding="utf-8"))
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert not imported & {"campaign.store.history", "campaign.store.journal"}, module
