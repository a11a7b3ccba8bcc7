"""The send loop: one request in flight, paced, journaled before and after every request."""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from campaign.client import IbotClient, Outcome
from campaign.errors import ExitCode, InputError, describe_failure
from campaign.journal import Journal, Record
from campaign.pacing import DAY, Pacer, Schedule
from campaign.plan import SENDABLE, Row, count_statuses
from campaign.state import UserState

# Rewrite the results sheet this often during a run, so a crash loses little of the report (the
# journal is the durable record; the sheet is rebuilt from it on the next run). Not after every
# send: an XLSX of 100k rows takes ~5 s to write. Never more than WRITE_SHARE of the run's time
# goes to these rewrites; the sheet is still written before any long wait and at the end.
WRITE_EVERY_SECONDS = 30.0
WRITE_EVERY_ROWS = 50
WRITE_SHARE = 0.04


# What the machine can throw at a run: a full or read-only disk, a vanished folder.
MACHINE_FAILURES = (OSError, sqlite3.Error)


class Progress(Protocol):
    def start(self, total: int, interval: float, label: str = "") -> None: ...
    def advance(self, row: Row, counts: Mapping[str, int]) -> None: ...
    def waiting(self, until: float, reason: str) -> None: ...
    def close(self) -> None: ...


class NoProgress:
    def start(self, total: int, interval: float, label: str = "") -> None: ...
    def advance(self, row: Row, counts: Mapping[str, int]) -> None: ...
    def waiting(self, until: float, reason: str) -> None: ...
    def close(self) -> None: ...


@dataclass
class Clock:
    """Wall time, sleep and randomness in one injectable place."""

    now: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    rand: Callable[[], float] = random.random
    tz: dt.tzinfo | None = None

    def iso(self, t: float) -> str:
        return dt.datetime.fromtimestamp(t, self.tz).astimezone(self.tz).isoformat(
            timespec="seconds"
        )


@dataclass
class Claims:
    """Each send claimed in the per-user history just before it leaves: caps, warm-up and
    `--skip-contacted-within` of every campaign on this computer see it, even while running."""

    history: UserState
    namespace: str
    sender: str
    campaign: str
    journal: str
    skip_within: float | None = None

    def claim(self, jid: str, at: float) -> tuple[int | None, str]:
        since = None if self.skip_within is None else at - self.skip_within
        return self.history.claim(namespace=self.namespace, sender=self.sender, jid=jid,
                                  campaign=self.campaign, journal=self.journal, at=at,
                                  skip_since=since)  # fmt: skip

    def send_times(self, since: float) -> list[float]:
        return self.history.send_times(self.namespace, self.sender, since)

    def first_send(self) -> float | None:
        return self.history.first_send(self.namespace, self.sender)


@dataclass
class RunReport:
    exit_code: int
    stopped: str = ""  # why the loop ended early: interrupted, aborted, breaker, window, limit
    attempted: int = 0
    results: Path | None = None
    counts: dict[str, int] = field(default_factory=dict)
    resume_at: float | None = None
    results_error: str = ""  # the last results write failed (the journal still has everything)


def merge_journal(rows: list[Row], records: Mapping[str, Record], *, retry_unknown: bool) -> None:
    """Earlier runs' outcomes onto this run's rows, by JID (row order may have changed)."""
    for row in rows:
        rec = records.get(row.jid or "")
        if rec is None or row.status == "duplicate":
            continue
        row.attempts = rec.attempts
        if rec.status == "sent":
            row.status, row.error, row.sent_at = "sent", "", rec.sent_at
            row.message, row.media = rec.message, rec.media  # what they really received
        elif rec.status in ("unknown", "attempting") and not retry_unknown:
            row.status, row.error = "unknown", rec.error
            row.message, row.media = rec.message, rec.media
        elif rec.status == "failed" and row.status == "ready":
            row.error = f"earlier attempt failed: {rec.error}"


class Runner:
    def __init__(
        self,
        rows: list[Row],
        *,
        kind: str,
        client: IbotClient,
        journal: Journal,
        write: Callable[[list[Row]], Path],
        clock: Clock,
        pacer: Pacer,
        schedule: Schedule,
        stop: threading.Event,
        progress: Progress | None = None,
        limit: int | None = None,
        retries: int = 3,
        max_consecutive_failures: int = 5,
        stop_outside_window: bool = False,
        claims: Claims | None = None,
        label: str = "",
    ) -> None:
        self.rows, self.kind, self.client, self.journal = rows, kind, client, journal
        self.write, self.clock, self.pacer, self.schedule = write, clock, pacer, schedule
        self.stop, self.progress = stop, progress or NoProgress()
        self.limit, self.retries = limit, retries
        self.max_failures, self.stop_outside_window = max_consecutive_failures, stop_outside_window
        self.claims, self.label = claims, label
        self._written_at = 0.0
        self._since_write = 0
        self._write_cost = 0.0

    def run(self) -> RunReport:
        targets = [r for r in self.rows if r.status in SENDABLE]
        for r in targets:
            r.status = "pending"
        planned = targets if self.limit is None else targets[: self.limit]
        report = RunReport(exit_code=ExitCode.OK)
        self.progress.start(len(planned), self.pacer.mean_interval, self.label)
        try:
            self._save(report, force=True)
        except MACHINE_FAILURES as e:
            self.progress.close()
            raise InputError(f"nothing was sent: {describe_failure(e)}.") from None
        counts = count_statuses(self.rows)  # kept up to date per send: recounting is O(rows)
        consecutive = 0
        try:
            for row in planned:
                if not self._wait_turn(report):
                    break
                outcome = self._send(row)
                counts[row.status] = counts.get(row.status, 0) + 1
                counts["pending"] -= 1
                self.progress.advance(row, counts)
                if outcome is None:
                    continue  # another campaign reached them meanwhile: nothing was sent
                report.attempted += 1
                if outcome.kind == "abort":
                    report.stopped = f"aborted by the API: {outcome.message}"
                    report.exit_code = ExitCode.ABORTED
                    break
                if outcome.kind == "interrupted":
                    report.stopped = "interrupted"
                    break
                consecutive = consecutive + 1 if row.status in ("failed", "unknown") else 0
                if self.max_failures and consecutive >= self.max_failures:
                    report.stopped = (
                        f"stopped after {consecutive} failures in a row "
                        f"(--max-consecutive-failures {self.max_failures}); last: {row.error}"
                    )
                    report.exit_code = ExitCode.ABORTED
                    break
                self._save(report)
            else:
                if self.limit is not None and len(targets) > len(planned):
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
        if report.exit_code == ExitCode.OK and report.stopped.startswith("interrupted"):
            report.exit_code = ExitCode.INTERRUPTED
        if report.exit_code == ExitCode.OK and any(r.status in ("failed", "unknown") for r in self.rows):
            report.exit_code = ExitCode.ROWS_FAILED
        report.counts = count_statuses(self.rows)
        return report

    def _wait_turn(self, report: RunReport) -> bool:
        """Sleep until pacing, window and caps allow the next send. False: stop the loop."""
        while True:
            if self.stop.is_set():
                report.stopped = "interrupted"
                return False
            now = self.clock.now()
            if self.claims is not None and self.schedule.counts_history:
                # Other campaigns through this number count toward its caps and pauses, even while
                # running.
                self.schedule.history = self.claims.send_times(now - DAY)
                if self.schedule.first_send is None:  # day one of the warm-up, once it happened
                    self.schedule.first_send = self.claims.first_send()
            due, reason = self.schedule.next_allowed(max(now, self.pacer.due()))
            if due <= now:
                return True
            if reason and self.stop_outside_window:
                report.stopped, report.resume_at = f"paused: {reason}", due
                return False
            if reason:
                self.progress.waiting(due, reason)
                self._save(report, force=True)  # a long wait: make the sheet current first
            # The real sleep wakes at once on Ctrl-C; slices re-read the wall clock, which jumps
            # when a laptop wakes from suspend.
            self.clock.sleep(min(due - now, 60.0))

    def _send(self, row: Row) -> Outcome | None:
        assert row.jid is not None
        before = row.attempts
        started = self.clock.now()
        claim = None
        if self.claims is not None:
            claim, why = self.claims.claim(row.jid, started)
            if claim is None:
                row.status, row.error = "suppressed", why
                return None
        self.journal.begin(row.jid, row_number=row.number, message=row.message, media=row.media,
                           at=started)  # fmt: skip
        self.pacer.started(started)
        self.schedule.record(started)
        outcome, tries = self.client.send(
            self.kind, jid=row.jid, text=row.message, media_url=row.media,
            retries=self.retries, sleep=self.clock.sleep, rand=self.clock.rand,
            should_stop=self.stop.is_set,  # Ctrl-C ends a retry wait without its retry
        )  # fmt: skip
        row.attempts = before + tries
        if outcome.kind == "sent":
            row.status, row.error, row.sent_at = "sent", "", self.clock.iso(self.clock.now())
        elif outcome.kind == "unknown":
            row.status = "unknown"
            row.error = f"{outcome.message}: the message may have gone out; resend with --retry-unknown"
        elif outcome.kind in ("abort", "interrupted"):
            row.status, row.error = "pending", outcome.message  # nothing was sent
        else:
            row.status, row.error = "failed", outcome.message
        journal_status = "failed" if row.status == "pending" else row.status
        self.journal.finish(row.jid, status=journal_status, error=row.error,
                            sent_at=row.sent_at, attempts=row.attempts)  # fmt: skip
        if self.claims is not None and claim is not None:
            self.claims.history.finish(claim, journal_status)
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


def send_test(rows: list[Row], *, kind: str, client: IbotClient, to_jid: str,
              retries: int, clock: Clock) -> tuple[Row, Outcome]:
    """`--test-to`: the first sendable row's message to one number; the campaign is untouched."""
    row = next(r for r in rows if r.status in SENDABLE)
    outcome, _ = client.send(kind, jid=to_jid, text=row.message, media_url=row.media,
                             retries=retries, sleep=clock.sleep, rand=clock.rand)  # fmt: skip
    return row, outcome
