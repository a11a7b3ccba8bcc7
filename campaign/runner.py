"""The send loop: one request in flight per sender, paced, claimed and settled in the ledger.

The runner never writes a store itself: the ledger (`campaign.store.ledger`) keeps the journal and
the per-user history in step, and the order of its calls here is the exactly-once protocol:
`claim` before each request, `settle` after it, `flush` before any wait and at the end.
"""

from __future__ import annotations

import copy
import datetime as dt
import random
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from campaign.client import IbotClient, Outcome
from campaign.errors import ExitCode, InputError, describe_failure
from campaign.pacing import DAY, Pacer, Schedule, recipient_zone, wait_words
from campaign.plan import SENDABLE, Row, count_statuses
from campaign.senders import assign_all
from campaign.store.ledger import MACHINE_FAILURES, Account, Ledger
from campaign.vocabulary import Status

# Rewrite the results sheet this often during a run, so a crash loses little of the report (the
# journal is the durable record; the sheet is rebuilt from it on the next run). Not after every
# send: an XLSX of 100k rows takes ~5 s to write. Never more than WRITE_SHARE of the run's time
# goes to these rewrites; the sheet is still written before any long wait and at the end.
WRITE_EVERY_SECONDS = 30.0
WRITE_EVERY_ROWS = 50
WRITE_SHARE = 0.04
PAUSE_POLL = 1.0  # seconds between two looks at a paused campaign's registry row
CLOCK_SLACK = 5.0  # a clock stepped back by more than this is said out loud


class Progress(Protocol):
    def start(self, total: int, interval: float, label: str = "") -> None: ...
    def advance(self, row: Row, counts: Mapping[str, int]) -> None: ...
    def waiting(self, until: float, reason: str) -> None: ...
    def note(self, text: str) -> None: ...
    def close(self) -> None: ...


class NoProgress:
    def start(self, total: int, interval: float, label: str = "") -> None: ...
    def advance(self, row: Row, counts: Mapping[str, int]) -> None: ...
    def waiting(self, until: float, reason: str) -> None: ...
    def note(self, text: str) -> None: ...
    def close(self) -> None: ...


SHORTEST_SLEEP = 0.02  # seconds: a short clock's sleeps are scaled down to no less than this


def real_elapsed() -> float:
    """Seconds on a clock that counts a suspend and is never set: Linux's boot time, the
    monotonic clock of macOS's clock_gettime (its time.monotonic stops in sleep), else Python's."""
    for name in ("CLOCK_BOOTTIME", "CLOCK_MONOTONIC"):
        clock_id = getattr(time, name, None)
        if clock_id is not None and sys.platform != "win32":
            return time.clock_gettime(clock_id)
    return time.monotonic()


@dataclass
class Clock:
    """Wall time, sleep and randomness in one injectable place."""

    now: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    rand: Callable[[], float] = random.random
    tz: dt.tzinfo | None = None
    wall: Callable[[], float] | None = None  # the wall clock, when `now` runs short (shorten)
    # Real time passed, suspend included, never stepped: tells a wall clock set forward from a
    # night of sleep. None: not watched (an injected `now` without one, a short clock).
    elapsed: Callable[[], float] | None = None

    def __post_init__(self) -> None:
        if self.elapsed is None and self.now is time.time:
            self.elapsed = real_elapsed

    def shorten(self, scale: float, *, resume_from: float | None = None) -> None:
        """Time runs `scale` times faster from now on: `now()` reads it, `sleep(s)` waits s/scale
        (at least a few milliseconds, so a paused run polls rather than spins). `--sandbox`'s
        short clock: the pace keeps its delays, pauses, caps and windows in order, in seconds.
        `resume_from`: the last send an earlier short run recorded, ahead of the wall clock; time
        carries on from there rather than waiting for the wall clock to catch up."""
        real_now, real_sleep, origin = self.now, self.sleep, self.now()
        start = max(origin, resume_from or origin)
        self.wall, self.elapsed = real_now, None
        self.now = lambda: start + (real_now() - origin) * scale
        self.sleep = lambda seconds: real_sleep(min(seconds, max(seconds / scale, SHORTEST_SLEEP)))

    def stamp(self) -> str:
        """The moment for `sent_at`: the wall clock's, even on a short clock."""
        return self.iso((self.wall or self.now)())

    def iso(self, t: float) -> str:
        return dt.datetime.fromtimestamp(t, self.tz).astimezone(self.tz).isoformat(
            timespec="seconds"
        )


@dataclass
class RunReport:
    exit_code: ExitCode
    stopped: str = ""  # why the loop ended early: interrupted, aborted, breaker, window, limit
    attempted: int = 0
    results: Path | None = None
    counts: dict[str, int] = field(default_factory=dict)
    resume_at: float | None = None
    results_error: str = ""  # the last results write failed (the journal still has everything)
    lanes: list[LaneReport] = field(default_factory=list)


class _Wait:
    """The number's interval has not passed: another campaign sent through it meanwhile."""


WAIT = _Wait()


@dataclass
class Lane:
    """One sender: its own request in flight, pacing, pauses, caps and warm-up."""

    label: str
    client: IbotClient
    pacer: Pacer
    schedule: Schedule
    account: Account | None = None  # its page in the ledger (the runner opens one if None)
    key: str = ""  # the sender's stable identity, for sticky assignment
    queue: deque[Row] = field(default_factory=deque)
    sent: int = 0
    failed: int = 0
    unknown: int = 0
    consecutive: int = 0
    retired: str = ""  # why the API (or the breaker) stopped this sender for the run
    retired_at: float | None = None
    busy: bool = False  # a row taken, its outcome not yet recorded
    running: bool = False  # its loop has not ended
    clock_back: bool = False  # the clock was seen stepped back (said once per jump)
    seen: tuple[float, float] | None = None  # (wall, real elapsed) when the lane last looked
    forward: list[tuple[float, float]] = field(default_factory=list)  # (when, how far) it jumped

    @property
    def book(self) -> Account:
        assert self.account is not None
        return self.account


@dataclass(frozen=True)
class LaneReport:
    label: str
    sent: int
    failed: int
    unknown: int
    retired: str
    retired_at: float | None
    left: int = 0  # rows still queued for it (a stop, a cap, a window)


class Runner:
    """Sends the plan's sendable rows through one lane per sender, the lanes at the same time.

    Each row is in exactly one lane's queue; it is claimed in the journal (`attempting`,
    committed) before its request leaves, so exactly-once holds across lanes and kills. A lane the
    API stops is retired and its queue goes to the others (the same rendezvous rule, minus it).
    """

    def __init__(
        self,
        rows: list[Row],
        *,
        kind: str,
        ledger: Ledger,
        write: Callable[[list[Row]], Path],
        clock: Clock,
        stop: threading.Event,
        client: IbotClient | None = None,
        pacer: Pacer | None = None,
        schedule: Schedule | None = None,
        lanes: list[Lane] | None = None,
        progress: Progress | None = None,
        limit: int | None = None,
        retries: int = 3,
        max_consecutive_failures: int = 5,
        stop_outside_window: bool = False,
        account: Account | None = None,
        label: str = "",
        control: Callable[[], str] | None = None,
    ) -> None:
        if lanes is None:
            assert client is not None and pacer is not None and schedule is not None
            lanes = [Lane("", client, pacer, schedule, account)]
        for lane in lanes:
            if lane.account is None:
                lane.account = ledger.account(lane.key, lane.label, min_gap=lane.pacer.delay,
                                              schedule=lane.schedule)
        self.rows, self.kind, self.ledger, self.lanes = rows, kind, ledger, lanes
        self.write, self.clock, self.stop = write, clock, stop
        self.progress = progress or NoProgress()
        self.limit, self.retries = limit, retries
        self.max_failures, self.stop_outside_window = max_consecutive_failures, stop_outside_window
        self.label = label
        # `campaign pause`/`cancel` from another process: "" to go on, "pause" or "cancel".
        self.control = control or (lambda: "")
        self._lock = threading.RLock()  # the queues, the counts, the report
        self._idle = threading.Condition(self._lock)
        self._wake = threading.Event()  # for the thread that rewrites the results (lanes)
        self._save_requested = False
        self._written_at = 0.0
        self._since_write = 0
        self._write_cost = 0.0
        self._counts: dict[str, int] = {}
        self._failure: BaseException | None = None
        self._zones: dict[str, dt.tzinfo | None] = {}  # JID -> its country's zone

    # --- the run ----------------------------------------------------------------------------

    def run(self) -> RunReport:
        targets = [r for r in self.rows if r.status in SENDABLE]
        for r in targets:
            r.status = Status.PENDING
        planned = targets if self.limit is None else targets[: self.limit]
        self._assign(planned)
        report = RunReport(exit_code=ExitCode.OK)
        self._start(len(planned), report)
        try:
            if len(self.lanes) == 1:
                self._lane_loop(self.lanes[0], report, inline_saves=True)
            else:
                self._run_lanes(report)
            if self._failure is not None:
                raise self._failure
            if not report.stopped and not self._all_retired() and len(targets) > len(planned):
                report.stopped = f"--limit {self.limit} reached"
        except MACHINE_FAILURES as e:
            # The disk filled up, a folder vanished: stop with every outcome so far kept (the
            # journal has them; a send cut off here is 'unknown' on the next run, never resent).
            report.stopped = f"the machine failed: {describe_failure(e)}"
            report.exit_code = ExitCode.ABORTED
        finally:
            self.progress.close()
            try:
                self._save(report, force=True)
            except MACHINE_FAILURES as e:
                report.results_error = describe_failure(e)
                report.exit_code = report.exit_code or ExitCode.ABORTED
        self._conclude(report)
        return report

    def _start(self, planned: int, report: RunReport) -> None:
        """The progress started and the sheet written before the first send (a disk that cannot
        take it stops the run here, nothing sent)."""
        mean = max(lane.pacer.mean_interval for lane in self.lanes) / len(self.lanes)
        self.progress.start(planned, mean, self.label)
        try:
            self._save(report, force=True)
        except MACHINE_FAILURES as e:
            self.progress.close()
            raise InputError(f"nothing was sent: {describe_failure(e)}.") from None
        self._counts = count_statuses(self.rows)  # kept up to date per send: recounting is O(rows)
        for lane in self.lanes:
            # Every lane counts as running before any starts: a lane with nothing queued waits
            # while another may still retire and hand it rows (else those rows would be stranded).
            lane.running = True

    def _conclude(self, report: RunReport) -> None:
        """The report's lanes, counts and exit code once every lane has stopped."""
        report.lanes = [LaneReport(lane.label, lane.sent, lane.failed, lane.unknown, lane.retired,
                                   lane.retired_at, len(lane.queue)) for lane in self.lanes]
        report.counts = count_statuses(self.rows)
        if report.exit_code != ExitCode.OK:
            return
        if self._all_retired():
            report.exit_code = ExitCode.ABORTED
            if not report.stopped:
                report.stopped = self.lanes[0].retired if len(self.lanes) == 1 else \
                    "every sender was stopped: " + "; ".join(
                        f"{lane.label}: {lane.retired}" for lane in self.lanes)
        elif report.stopped.startswith("interrupted"):
            report.exit_code = ExitCode.INTERRUPTED
        elif report.counts.get(Status.FAILED) or report.counts.get(Status.UNKNOWN):
            report.exit_code = ExitCode.ROWS_FAILED

    def _all_retired(self) -> bool:
        return all(lane.retired for lane in self.lanes)

    def _run_lanes(self, report: RunReport) -> None:
        """One thread per lane; this thread rewrites the results sheet now and then."""
        threads = [threading.Thread(target=self._lane_thread, args=(lane, report), daemon=True,
                                    name=f"lane {lane.label}") for lane in self.lanes]
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            self._wake.wait(1.0)  # a lane asked for a save, or ended
            self._wake.clear()
            forced, self._save_requested = self._save_requested, False
            if not any(t.is_alive() for t in threads):
                break  # the final save follows
            try:
                self._save(report, force=forced)
            except MACHINE_FAILURES as e:
                with self._lock:
                    self._failure = self._failure or e
                    self.stop.set()
        for t in threads:
            t.join()

    def _lane_thread(self, lane: Lane, report: RunReport) -> None:
        try:
            self._lane_loop(lane, report, inline_saves=False)
        except MACHINE_FAILURES as e:
            with self._lock:
                self._failure = self._failure or e
                self.stop.set()  # the other lanes finish their request in flight and stop
                self._idle.notify_all()

    def _lane_loop(self, lane: Lane, report: RunReport, *, inline_saves: bool) -> None:
        try:
            while True:
                row = self._next_row(lane)
                if row is None:
                    return
                picked = self._wait_turn(lane, report, row, inline_saves=inline_saves)
                if picked is None:
                    return
                row = picked
                outcome = self._send(lane, row)
                if isinstance(outcome, _Wait):  # not this lane's turn after all: wait, then again
                    self._put_back(lane, row)
                    continue
                with self._lock:
                    lane.busy = False
                    if row.status != Status.PENDING:  # stopped by the API or Ctrl-C: not done yet
                        self._counts[row.status] = self._counts.get(row.status, 0) + 1
                        self._counts[Status.PENDING] -= 1
                        self.progress.advance(row, self._counts)
                    if outcome is not None:
                        report.attempted += 1
                        self._after(lane, row, outcome, report)
                if self.stop.is_set():
                    with self._lock:
                        report.stopped = report.stopped or "interrupted"
                    return
                if inline_saves and not lane.retired:
                    self._save(report)
        finally:
            try:
                self.ledger.flush(lane.book)
            finally:
                with self._lock:
                    lane.running = False
                    self._idle.notify_all()
                self._wake.set()

    def _put_back(self, lane: Lane, row: Row) -> None:
        with self._lock:
            lane.queue.appendleft(row)
            lane.busy = False

    def _after(self, lane: Lane, row: Row, outcome: Outcome, report: RunReport) -> None:
        """Count the outcome; retire the lane on an abort or its breaker. Called with the lock."""
        if outcome.kind == "interrupted":
            report.stopped = "interrupted"
            return
        lane.sent += row.status == Status.SENT
        lane.failed += row.status == Status.FAILED
        lane.unknown += row.status == Status.UNKNOWN
        if outcome.kind == "abort":
            self._retire(lane, f"aborted by the API: {outcome.message}", row)
            return
        lane.consecutive = lane.consecutive + 1 if row.status in (Status.FAILED, Status.UNKNOWN) else 0
        if self.max_failures and lane.consecutive >= self.max_failures:
            self._retire(lane, f"stopped after {lane.consecutive} failures in a row (--max-consecutive"
                               f"-failures {self.max_failures}); last: {row.error}")

    def _retire(self, lane: Lane, why: str, row: Row | None = None) -> None:
        """This sender is done for the run; its rows (and the one the API refused) go to the
        others. Called with the lock held."""
        lane.retired, lane.retired_at = why, self.clock.now()
        rows = ([row] if row is not None and row.status == Status.PENDING else []) + list(lane.queue)
        lane.queue.clear()
        self._assign(rows)
        if len(self.lanes) > 1:
            left = [other.label for other in self.lanes if not other.retired]
            then = f"its {len(rows)} row(s) go to {', '.join(left)}" if left else "no sender is left"
            self.progress.note(f"Sender {lane.label} stopped: {why}; {then}.")
        self._idle.notify_all()

    def _assign(self, rows: list[Row]) -> None:
        """Rows into the active lanes' queues (rendezvous hashing with bounded loads)."""
        active = [lane for lane in self.lanes if not lane.retired]
        if not active:
            return  # every sender stopped: the rows stay pending
        picks = [0] * len(rows)
        if len(active) > 1:
            picks = assign_all([r.jid or "" for r in rows], [a.key for a in active],
                               loads=[len(a.queue) for a in active])
        for row, pick in zip(rows, picks, strict=True):
            active[pick].queue.append(row)
            if len(self.lanes) > 1:
                row.sender = active[pick].label

    def _next_row(self, lane: Lane) -> Row | None:
        """The lane's next row; an idle lane waits while others may still hand it work."""
        with self._lock:
            while True:
                if lane.retired or self.stop.is_set() or self._failure is not None:
                    return None
                if lane.queue:
                    lane.busy = True
                    return lane.queue.popleft()
                # Another lane still at work may retire and hand its rows over: wait for it.
                if not any(o.running and not o.retired and (o.busy or o.queue)
                           for o in self.lanes if o is not lane):
                    return None
                self._idle.wait(0.5)

    def _wait_turn(self, lane: Lane, report: RunReport, row: Row, *,
                   inline_saves: bool) -> Row | None:
        """Sleep until pacing, caps and a recipient's window allow the lane's next send; the row
        to send (with recipients' windows, the first in the queue whose window is open), or None
        to stop the lane (its row is back in the queue)."""
        schedule = lane.schedule
        while True:
            if self.stop.is_set():
                with self._lock:
                    report.stopped = report.stopped or "interrupted"
                self._put_back(lane, row)
                return None
            now = self.clock.now()
            asked = self._asked(report)
            if asked == "cancel":
                self._put_back(lane, row)
                return None
            if asked == "pause":  # the request in flight was recorded; nothing new starts
                self.ledger.flush(lane.book)
                self.progress.waiting(now, "paused")
                self.clock.sleep(PAUSE_POLL)
                continue
            # Other campaigns sending through this number meanwhile hold its --delay and count
            # toward its caps and pauses, even while running.
            self.ledger.catch_up(lane.book, lane.pacer, schedule, now)
            self._rebase(lane, now)
            view, pacer_due = self._as_of(lane)
            base = max(now, pacer_due)
            if schedule.recipient:
                row, due, reason = self._pick(lane, row, base, view)
            else:
                due, reason = view.next_allowed(base)
            if due <= now:
                return row
            if reason and self.stop_outside_window:
                with self._lock:
                    if report.resume_at is None or due < report.resume_at:
                        report.stopped, report.resume_at = f"paused: {reason}", due
                self._put_back(lane, row)
                return None
            self.ledger.flush(lane.book)  # the last outcome is on disk before any wait
            who = f"{lane.label}: " if len(self.lanes) > 1 else ""
            self.progress.waiting(due, who + (reason or f"next send in {wait_words(due - now)}"))
            if reason:
                if inline_saves:
                    self._save(report, force=True)  # a long wait: make the sheet current first
                else:
                    self._save_requested = True
                    self._wake.set()
            # The real sleep wakes at once on Ctrl-C; slices re-read the wall clock, which jumps
            # when a laptop wakes from suspend. Measured from the clock as it reads now: the
            # looks above (the registry, the history behind another lane's claim, a flush, a save)
            # took time, and `due - now` would oversleep the delay by that much.
            self.clock.sleep(max(0.0, min(due - self.clock.now(), 60.0)))

    def _rebase(self, lane: Lane, now: float) -> None:
        """A clock stepped back (by hand, NTP, a dead battery): sends stamped after now count as
        made now, so the run never waits for as long as the clock jumped, and says so once. A
        clock set forward (not a suspend: real time did not pass) makes earlier sends look older
        than they are: they count at their real age, so no cap is passed."""
        self._forward(lane, now)
        jump = lane.schedule.rebase(now)
        if lane.pacer.last_start is not None and lane.pacer.last_start > now:
            jump = max(jump, lane.pacer.last_start - now)
            lane.pacer.last_start = now
        if jump > CLOCK_SLACK and not lane.clock_back:
            who = f"sender {lane.label}: " if len(self.lanes) > 1 else ""
            self.progress.note(f"The computer's clock went back {wait_words(jump)} ({who}a send is "
                               "stamped later than now): pacing, pauses and caps go on from the "
                               "new time, counting those sends as made now.")
        lane.clock_back = jump > CLOCK_SLACK

    def _as_of(self, lane: Lane) -> tuple[Schedule, float]:
        """The lane's schedule and next interval, with sends made before the clock was set
        forward counted at their real age (moved forward by as much as the clock jumped)."""
        if not lane.forward:
            return lane.schedule, lane.pacer.due()
        view = copy.copy(lane.schedule)
        history, due = list(lane.schedule.history), lane.pacer.due()
        for at, ahead in lane.forward:
            history = [h + ahead if h < at else h for h in history]
            if lane.pacer.last_start is not None and lane.pacer.last_start < at:
                due += ahead
        view.history = sorted(history)
        return view, due

    def _forward(self, lane: Lane, now: float) -> None:
        """Notice the wall clock moving further than real time did since the lane last looked."""
        if self.clock.elapsed is None:
            return
        real = self.clock.elapsed()
        if lane.seen is not None:
            ahead = (now - lane.seen[0]) - (real - lane.seen[1])
            if ahead > CLOCK_SLACK:
                lane.forward.append((now, ahead))
                who = f"sender {lane.label}: " if len(self.lanes) > 1 else ""
                self.progress.note(f"The computer's clock went forward {wait_words(ahead)} ({who}"
                                   "more than time passed): earlier sends count at their real "
                                   "age, so the caps hold.")
        lane.seen = (now, real)
        lane.forward = [(at, ahead) for at, ahead in lane.forward if at > now - DAY - 3600]

    def _pick(self, lane: Lane, row: Row, base: float, schedule: Schedule) -> tuple[Row, float, str]:
        """The first row of the lane (`row`, then its queue) whose recipient's window is open at
        `base`, or the one whose window opens first; (row, when, why it waits)."""
        with self._lock:
            lane.queue.appendleft(row)
            seen: dict[object, tuple[float, str]] = {}
            best: tuple[int, float, str] | None = None
            for i, candidate in enumerate(lane.queue):
                zone = self._zone(candidate)
                if zone not in seen:
                    seen[zone] = schedule.next_allowed(base, zone)
                due, why = seen[zone]
                if best is None or due < best[1]:
                    best = (i, due, why)
                if due <= base:
                    break
            assert best is not None
            i, due, why = best
            chosen = lane.queue[i]
            del lane.queue[i]
            return chosen, due, why

    def _zone(self, row: Row) -> dt.tzinfo | None:
        jid = row.jid or ""
        if jid not in self._zones:
            self._zones[jid] = recipient_zone(jid)
        return self._zones[jid]

    def _asked(self, report: RunReport) -> str:
        asked = self.control()
        if asked == "cancel":
            with self._lock:
                report.stopped = "cancelled"
                self.stop.set()  # every lane stops after its request in flight
                self._idle.notify_all()
        return asked

    def _send(self, lane: Lane, row: Row) -> Outcome | _Wait | None:
        """One row through one lane: claimed, sent, settled (the ledger keeps the order)."""
        assert row.jid is not None
        before = row.attempts
        started = self.clock.now()
        if self.control():  # asked to pause or cancel since the wait: not this one
            return WAIT
        claim = self.ledger.claim(lane.book, row.jid, row_number=row.number, message=row.message,
                                  media=row.media, at=started)
        if claim.wait:  # another campaign sent through this number just now, or filled a cap
            if claim.other_send is not None:
                lane.pacer.started(claim.other_send)
            return WAIT
        if not claim.granted:
            row.status, row.error = Status.SUPPRESSED, claim.refused
            return None
        lane.pacer.started(started)
        lane.schedule.record(started)
        outcome, tries = lane.client.send(
            self.kind, jid=row.jid, text=row.message, media_url=row.media,
            retries=self.retries, sleep=self.clock.sleep, rand=self.clock.rand,
            should_stop=self.stop.is_set,  # Ctrl-C ends a retry wait without its retry
        )
        row.attempts = before + tries
        if len(self.lanes) > 1:
            row.sender = lane.label
        _apply(row, outcome, self.clock)
        # Nothing was sent when the API or Ctrl-C stopped it: 'failed' in the stores, and the row
        # stays pending for another lane or run.
        status = Status.FAILED if row.status == Status.PENDING else row.status
        next_at_once = outcome.kind == "sent" and lane.pacer.due() <= self.clock.now()
        self.ledger.settle(lane.book, row.jid, status=status, error=row.error, sent_at=row.sent_at,
                           attempts=row.attempts, next_at_once=next_at_once)
        with self._lock:
            self._since_write += 1
        return outcome

    def _save(self, report: RunReport, *, force: bool = False) -> None:
        now = self.clock.now()
        since = now - self._written_at
        due = self._since_write >= WRITE_EVERY_ROWS or since >= WRITE_EVERY_SECONDS
        # A big sheet is rewritten less often, so rewriting stays a small share of the run.
        if force or (due and since * WRITE_SHARE >= self._write_cost):
            began = time.perf_counter()
            report.results = self.write(self.rows)
            self._write_cost = time.perf_counter() - began
            self._written_at, self._since_write = self.clock.now(), 0


def _apply(row: Row, outcome: Outcome, clock: Clock) -> None:
    """The row's status and error after its request."""
    if outcome.kind == "sent":
        row.status, row.error, row.sent_at = Status.SENT, row.warning, clock.stamp()
    elif outcome.kind == "unknown":
        row.status = Status.UNKNOWN
        row.error = f"{outcome.message}: the message may have gone out; resend with --retry-unknown"
    elif outcome.kind in ("abort", "interrupted"):
        row.status, row.error = Status.PENDING, outcome.message  # nothing was sent
    else:
        row.status, row.error = Status.FAILED, outcome.message


def send_test(rows: list[Row], *, kind: str, client: IbotClient, to_jid: str,
              retries: int, clock: Clock) -> tuple[Row, Outcome]:
    """`--test-to`: the first sendable row's message to one number; the campaign is untouched."""
    row = next(r for r in rows if r.status in SENDABLE)
    outcome, _ = client.send(kind, jid=to_jid, text=row.message, media_url=row.media,
                             retries=retries, sleep=clock.sleep, rand=clock.rand)
    return row, outcome
