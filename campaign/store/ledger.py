"""The ledger: the one owner of the two stores every send is written to.

The per-campaign journal (`journal.py`) makes a send exactly-once; the per-user history
(`history.py`) lets every campaign on this computer see it (caps, warm-up, pacing across
campaigns, --skip-contacted-within). Nothing else writes both: the runner asks the ledger to
`claim`, `settle` and `flush`, and the session asks it to open, salvage and read them.

The rules, each kept in this file (tests/test_ledger.py checks them one by one):

1. **Claim before the request.** A send is claimed in the history first (its checks run inside
   that one transaction, so two campaigns cannot both pass them), then written `attempting` to
   the journal and committed with synchronous=FULL before the request may leave. A kill after
   that commit leaves `attempting`, which the next run reads as `unknown`: never resent by
   default. If the journal's commit fails, the history's claim is marked failed (nothing left).
2. **Outcome before the next send or any wait.** `settle` holds the outcome; it rides in the
   lane's next claim (one commit, one fsync per message), or `flush` commits it at once: before
   any wait, on a stop, at the end. Its own commit needs no fsync: in WAL it survives a killed
   process, and the next FULL commit syncs it; a power cut can only turn it back into
   `attempting`, i.e. `unknown`.
3. **History settled with it.** The history's outcome rides in the next claim's transaction
   (`settle=`), or is written by the same `flush`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from campaign.errors import InputError
from campaign.pacing import DAY, Pacer, Schedule
from campaign.store.history import (
    ClaimCheck,
    ClaimRequest,
    History,
    not_contacted_since,
    number_interval,
    within_caps,
)
from campaign.store.journal import Journal, JournalDamaged, Op, Record, salvage, template_digest
from campaign.store.repeats import RECENT, heard_recently, message_digest, not_repeated, repeats
from campaign.vocabulary import MessageKind, Status

__all__ = ["MACHINE_FAILURES", "Account", "Claim", "Ledger", "Record"]  # Record: the journal's row

# What the machine can throw at a store: a full or read-only disk, a vanished folder.
MACHINE_FAILURES = (OSError, sqlite3.Error)
# How the history names the journal of a --test-to send: not the campaign's own, so the campaign's
# sends and the test hold the number's --delay for each other.
TEST_SEND = "\x1ftest-to"


@dataclass
class Account:
    """One sender number's page in the ledger: its claim checks and what its lane has not
    written yet (the last outcome, until the next claim or a flush)."""

    sender: str  # the number's key (a digest of its instance ID), "" with one unnamed sender
    label: str  # how the journal and the results name it ("" with one sender)
    checks: list[ClaimCheck] = field(default_factory=list)
    unsaved: Op | None = None  # the journal's outcome step
    unsettled: tuple[int, str] | None = None  # the history's send id and outcome
    claimed: int | None = None  # the history's id of the send in flight

    def take_unsaved(self) -> list[Op]:
        step, self.unsaved = self.unsaved, None
        return [step] if step is not None else []


@dataclass(frozen=True)
class Claim:
    """The ledger's answer to a claim: go (`granted`), skip the row (`refused` says why), or not
    yet (`wait`; `other_send` is another campaign's send through the number, for the pacer)."""

    granted: bool
    refused: str = ""
    wait: bool = False
    other_send: float | None = None


class Ledger:
    """The journal and the history, written together. Build it with `Ledger.create` (the session)
    or around stores already open (tests, benchmarks; `history=None`: the journal alone)."""

    def __init__(self, journal: Journal, history: History | None = None, *, namespace: str = "live",
                 campaign: str = "", skip_within: float | None = None,
                 checks: Sequence[ClaimCheck] = (), kind: str = MessageKind.TEXT,
                 repeat_within: float | None = None) -> None:
        """`skip_within` (seconds): --skip-contacted-within, checked again in each claim.
        `checks` run in every claim's transaction after the built-in ones (later features).
        `kind`: the campaign's message type, part of what each recipient got (its digest is
        recorded with each send). `repeat_within` (seconds): refuse a recipient who got this
        identical message from another journal that recently (None: --resend)."""
        self.journal, self.history = journal, history
        self.namespace, self.campaign = namespace, campaign or journal.campaign
        self.skip_within, self.checks = skip_within, list(checks)
        self.kind, self.repeat_within = str(kind), repeat_within
        self._accounts: list[Account] = []
        self._commit = Committer(journal, alone=True)
        self._history_lock = threading.Lock()  # one history connection, shared by the lanes

    @classmethod
    def create(cls, journal: Path, *, home: Path, campaign: str, namespace: str, identity: str,
               skip_within: float | None = None, kind: str = MessageKind.TEXT,
               repeat_within: float | None = None) -> Ledger:
        """The history opened (it is read from the start); the journal not yet (`open_*`)."""
        history = History(home)
        history.open()
        try:
            book = Journal(journal, campaign=campaign, namespace=namespace,
                           locks=history.folder / "locks", identity=identity)
        except BaseException:
            history.close()
            raise
        return cls(book, history, namespace=namespace, campaign=campaign, skip_within=skip_within,
                   kind=kind, repeat_within=repeat_within)

    def close(self) -> None:
        self.journal.close()
        if self.history is not None:
            self.history.close()

    @property
    def journal_id(self) -> str:
        """How the history names this campaign's journal: its real path."""
        return str(self.journal.real)

    # --- opening ------------------------------------------------------------------------------

    def open_read_only(self) -> None:
        """A dry run: the journal read if it exists, nothing written, no lock."""
        self.journal.open(lock=False)

    def open_for_send(self, sendable: Sequence[tuple[int, str | None]]) -> int:
        """Open the journal under its lock; a damaged or lost one is rebuilt (and the run stops
        with InputError: see `_salvage`). `sendable` is (row number, JID) of the rows this run
        may send, named in that message. Returns the sends a crash cut off (now 'unknown')."""
        try:
            self.journal.open()
            lost = not self.journal.records() and self._history_has_sends()
            why = "it is empty, but this computer's send history has sends of this campaign"
        except JournalDamaged as e:
            lost, why = True, str(e)
        if lost:
            if self.journal.db is not None:
                self.journal.db.close()
                self.journal.db = None
            self._salvage(why, sendable)
        recovered = self.journal.recover()
        if self.history is not None:
            self.history.recover(self.journal_id)
        return recovered

    def _history_has_sends(self) -> bool:
        return self.history is not None and bool(self.history.journal_sends(self.journal_id))

    def _salvage(self, why: str, sendable: Sequence[tuple[int, str | None]]) -> None:
        sends = {} if self.history is None else self.history.journal_sends(self.journal_id)
        journal = self.journal
        aside, read, added = salvage(journal.path, sends=sends, campaign=journal.campaign,
                                     namespace=journal.namespace)
        journal.reopen()  # the rebuilt one, still under our lock
        records = journal.records()
        reached = sum(r.status in (Status.SENT, Status.UNKNOWN) for r in records.values())
        again = [number for number, jid in sendable if jid not in records]
        rows = ", ".join(map(str, again[:20])) + (f" and {len(again) - 20} more" if len(again) > 20 else "")
        would = (f"{len(again)} row(s) are recorded nowhere and will be sent: rows {rows}. If some of "
                 "them already got the message, put their numbers in an opt-out file and add "
                 "--suppress FILE." if again else
                 "Every sendable row is recorded, so nobody gets the message twice.")
        where = "" if self.history is None else f" ({self.history.path})"
        raise InputError(
            f"--state {journal.path}: the progress file could not be read ({why}). Nothing was sent. The "
            f"damaged file is kept as {aside.name}; the progress file was rebuilt from {read} record(s) "
            f"SQLite could still read and {added} more from this computer's send history{where}: "
            f"{reached} people are recorded as reached and will not be messaged again. Run the same "
            f"command again to carry on (add --dry-run first to see who is left). {would}"
        )

    # --- reading ------------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self.journal.db is not None

    def records(self) -> tuple[dict[str, Record], int]:
        """The journal's records, plus whoever the history says this campaign sent to and the
        journal does not (a replaced, deleted or quietly damaged journal); and how many of those.

        Only 'sent' counts from the history: a send it saw start but the journal never recorded
        as 'attempting' never left (the request goes out only after that commit)."""
        records = self.journal.records()
        missing = 0
        history = {} if self.history is None else self.history.journal_sends(self.journal_id)
        for jid, (outcome, at) in history.items():
            known = records.get(jid)
            if outcome != Status.SENT or (known is not None and known.status == Status.SENT):
                continue
            when = dt.datetime.fromtimestamp(at).astimezone().isoformat(timespec="seconds")
            records[jid] = Record(jid, 0, Status.SENT, "", "", "", 1, at, when)
            missing += 1
        return records, missing

    def message_changed(self, whole: str, parts: Mapping[str, str], *, save: bool) -> list[str] | None:
        """Whether the message differs from the last run's: None if not (or on the first run),
        else the keys of `parts` whose digest changed ([] when the journal predates the parts).
        `whole` is the message's source in one string; everything is saved unless a dry run."""
        journal = self.journal
        digest = template_digest(whole)
        before = journal.get_meta("template")
        changed = None
        if before is not None and before != digest:
            changed = [key for key, value in parts.items()
                       if journal.get_meta(f"message.{key}") not in (None, template_digest(value))]
        if save and before != digest:
            journal.set_meta("template", digest)
        if save:
            for key, value in parts.items():
                if journal.get_meta(f"message.{key}") != template_digest(value):
                    journal.set_meta(f"message.{key}", template_digest(value))
        return changed

    def contacted_since(self, since: float) -> dict[str, str]:
        """JID -> why, for everyone another campaign may have reached since `since`."""
        if self.history is None:
            return {}
        return self.history.contacted_since(self.namespace, since, exclude_journal=self.journal_id)

    def repeats(self, messages: Mapping[str, tuple[str, str]], now: float) -> dict[str, str]:
        """JID -> why, for each recipient (JID -> their text or caption and media) whom another
        journal reached with this identical message in the last `repeat_within` seconds (none
        with --resend). The plan's check; the claim checks again."""
        if self.history is None or self.history.db is None or self.repeat_within is None:
            return {}
        wanted = {jid: message_digest(self.kind, text, media) for jid, (text, media) in messages.items()}
        with self._history_lock:
            return repeats(self.history.db, namespace=self.namespace, wanted=wanted,
                           since=now - self.repeat_within, journal=self.journal_id)

    def heard_recently(self, senders: Sequence[str], jids: Iterable[str], now: float) -> int:
        """How many of `jids` got any message through these numbers in the last 24 hours, from
        another journal (for the plan: one more may be one too many)."""
        if self.history is None or self.history.db is None:
            return 0
        with self._history_lock:
            return heard_recently(self.history.db, namespace=self.namespace, senders=senders,
                                  jids=jids, since=now - RECENT, journal=self.journal_id)

    def sender_id(self, instance_id: str) -> str:
        assert self.history is not None
        return self.history.sender_id(instance_id)

    def last_send(self, sender: str, *, only_sender: bool) -> float | None:
        """The number's last send by any campaign here (with one sender, this journal's too: the
        interval holds across a restart)."""
        times = [] if self.history is None else [self.history.last_send(self.namespace, sender)]
        if only_sender and self.journal.db is not None:
            times.append(self.journal.last_request())
        return max((t for t in times if t is not None), default=None)

    def load_schedule(self, schedule: Schedule, sender: str, now: float) -> None:
        """The number's sends by every campaign on this computer: caps, pauses and warm-up count them."""
        if self.history is None:
            return
        with self._history_lock:
            schedule.history = self.history.send_times(self.namespace, sender, now - DAY)
            if schedule.first_send is None:  # day one of the warm-up, once it happened
                schedule.first_send = self.history.first_send(self.namespace, sender)

    # --- sending ------------------------------------------------------------------------------

    def account(self, sender: str = "", label: str = "", *, min_gap: float = 0.0,
                schedule: Schedule | None = None, campaign_checks: bool = True) -> Account:
        """A lane's account. Its claims check, in one transaction: another campaign's send through
        the number less than `min_gap` s ago (wait), the same message (refuse: issue 18),
        --skip-contacted-within (refuse), the schedule's caps (wait), then the ledger's own checks.
        `campaign_checks=False` (a --test-to send, to the sender's own phone): the number's pace
        and caps alone."""
        checks = [number_interval(min_gap)]
        if self.repeat_within is not None and campaign_checks:
            checks.append(not_repeated(self.repeat_within))
        if self.skip_within is not None and campaign_checks:
            checks.append(not_contacted_since(self.skip_within))
        if schedule is not None:
            checks.append(within_caps(schedule))
        account = Account(sender, label, checks + (self.checks if campaign_checks else []))
        self._accounts.append(account)
        self._commit.alone = len(self._accounts) == 1  # several lanes: group commits
        return account

    def catch_up(self, account: Account, pacer: Pacer, schedule: Schedule, now: float) -> None:
        """Other campaigns sending through this number meanwhile: their sends hold --delay from
        their last one, and count toward its caps, pauses and warm-up."""
        if self.history is None:
            return
        if pacer.delay or pacer.jitter:
            with self._history_lock:
                last = self.history.last_send(self.namespace, account.sender)
            if last is not None and (pacer.last_start is None or last > pacer.last_start):
                pacer.started(last)
        if schedule.counts_history:
            self.load_schedule(schedule, account.sender, now)

    def claim(self, account: Account, jid: str, *, row_number: int, message: str, media: str,
              at: float) -> Claim:
        """Rule 1: the history's claim (and its checks), then `attempting` committed with a full
        sync, with the lane's last outcome in the same transaction (rules 2 and 3)."""
        send_id = None
        if self.history is not None:
            request = ClaimRequest(self.namespace, account.sender, jid, self.campaign,
                                   self.journal_id, at, message, media,
                                   message_digest(self.kind, message, media))
            # Outside the lock: a stat releases the GIL, and with sixteen lanes getting it back
            # while holding the history's lock kept the other lanes waiting for milliseconds.
            self.history.check_same_file()
            with self._history_lock:
                send_id, verdict = self.history.claim(request, account.checks, settle=account.unsettled)
                account.unsettled = None
            if verdict is not None:
                if verdict.refused:
                    self.flush(account)  # no send follows at once
                return Claim(False, verdict.refused, verdict.wait, verdict.other_send)
        begin = self.journal.begin_op(jid, row_number=row_number, message=message, media=media,
                                      at=at, sender=account.label)
        try:
            self._commit.submit(*account.take_unsaved(), begin)
        except BaseException:
            if send_id is not None and self.history is not None:  # it never left: say so if we can
                with self._history_lock, contextlib.suppress(*MACHINE_FAILURES):
                    self.history.finish(send_id, Status.FAILED)
            raise
        account.claimed = send_id
        return Claim(True)

    def claim_test(self, account: Account, jid: str, *, at: float) -> Claim:
        """--test-to: one message outside the campaign's journal, through the number's pace and
        caps all the same, and recorded in the history so that they count it (`settle_test`)."""
        if self.history is None:
            return Claim(True)
        request = ClaimRequest(self.namespace, account.sender, jid, self.campaign,
                               self.journal_id + TEST_SEND, at)
        with self._history_lock:
            send_id, verdict = self.history.claim(request, account.checks)
        if verdict is not None:
            return Claim(False, verdict.refused, verdict.wait, verdict.other_send)
        account.claimed = send_id
        return Claim(True)

    def settle_test(self, account: Account, status: str) -> None:
        """The --test-to send's outcome in the history (sent, failed or unknown)."""
        if account.claimed is not None and self.history is not None:
            with self._history_lock:
                self.history.finish(account.claimed, status)
        account.claimed = None

    def settle(self, account: Account, jid: str, *, status: str, error: str, sent_at: str,
               attempts: int, next_at_once: bool) -> None:
        """Rule 2: the outcome of the send in flight, committed now unless the lane's next send
        follows at once (then it rides in that claim's transaction). `status` is the journal's:
        sent, failed or unknown."""
        account.unsaved = self.journal.finish_op(jid, status=status, error=error, sent_at=sent_at,
                                                 attempts=attempts)
        account.unsettled = None if account.claimed is None else (account.claimed, status)
        account.claimed = None
        if not next_at_once:
            self.flush(account)

    def flush(self, account: Account) -> None:
        """Commit the lane's last outcome now, in both stores (before a wait, at the end, on a stop)."""
        steps = account.take_unsaved()
        if steps:
            self._commit.submit(*steps, durable=False)
        if account.unsettled is not None and self.history is not None:
            with self._history_lock:
                self.history.finish(*account.unsettled)
        account.unsettled = None


class Committer:
    """Group commit for the lanes: steps submitted while a commit is under way ride together in
    the next one, so sixteen lanes pay about one fsync per round instead of sixteen in a row."""

    def __init__(self, journal: Journal, *, alone: bool = False) -> None:
        self.journal, self.alone = journal, alone
        self._cv = threading.Condition()
        self._pending: list[dict[str, object]] = []
        self._busy = False

    def submit(self, *ops: Op, durable: bool = True) -> object:
        """Commit `ops` (in one transaction, with whatever else is pending); the last one's result."""
        if self.alone:  # one lane: nobody to wait for or to group with
            return self.journal.batch(ops, durable=durable)[-1]
        slot: dict[str, object] = {"ops": ops, "durable": durable}
        with self._cv:
            self._pending.append(slot)
            while "done" not in slot:
                if self._busy:
                    self._cv.wait()
                    continue
                self._busy = True  # this thread commits everything pending, its own step too
                batch, self._pending = self._pending, []
                self._cv.release()
                try:
                    steps = [op for s in batch for op in s["ops"]]  # type: ignore[attr-defined]
                    results = self.journal.batch(steps, durable=any(s["durable"] for s in batch))
                    at = 0
                    for s in batch:
                        at += len(s["ops"])  # type: ignore[arg-type]
                        s["result"] = results[at - 1]
                except BaseException as e:  # the transaction rolled back: every step failed
                    for s in batch:
                        s["error"] = e
                finally:
                    self._cv.acquire()
                    for s in batch:
                        s["done"] = True
                    self._busy = False
                    self._cv.notify_all()
        if "error" in slot:
            raise slot["error"]  # type: ignore[misc]
        return slot.get("result")
