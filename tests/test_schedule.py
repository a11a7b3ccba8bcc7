"""Pacing, windows, skip days and caps on an injected clock: days of schedule in milliseconds."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from pathlib import Path

import pytest

from campaign.errors import InputError
from campaign.pacing import Pacer, Schedule, parse_skip_days, parse_window
from campaign.runner import Clock, Runner
from campaign.store.journal import Journal
from campaign.store.ledger import Ledger
from tests.helpers import TZ, FakeTime, at, local, make_rows, recording_client


def run(rows, fake, journal, schedule, *, delay=60.0, jitter=0.0, limit=None, stop_outside=False):
    sent: list[tuple[float, str]] = []
    runner = Runner(
        rows, kind="text", client=recording_client(fake, sent), ledger=Ledger(journal),
        write=lambda rows: Path("unused"), clock=Clock(now=fake.now, sleep=fake.sleep,
        rand=lambda: 0.5, tz=TZ), pacer=Pacer(delay=delay, jitter=jitter, rand=lambda: 0.5),
        schedule=schedule, stop=threading.Event(), limit=limit, stop_outside_window=stop_outside,
    )
    return runner.run(), sent


def test_pacer_counts_latency_toward_the_interval() -> None:
    fake = FakeTime(dt.datetime(2026, 11, 23, 10, 0, tzinfo=TZ))
    with Journal(Path(__import__("tempfile").mkdtemp()) / "j.sqlite3") as journal:
        report, sent = run(make_rows(5), fake, journal, Schedule(tz=TZ), delay=10, jitter=4)
    starts = [t for t, _ in sent]
    # delay 10 + jitter 4 * rand 0.5 = 12 s between starts, latency (0.3 s) included, not added.
    assert [round(b - a, 6) for a, b in itertools.pairwise(starts)] == [12.0] * 4
    assert report.exit_code == 0


def test_three_day_campaign_with_window_saturday_skip_and_hourly_cap(tmp_path: Path) -> None:
    # Thursday 2026-11-26 18:30 local; window 09:00-20:00, Saturday skipped, 20 per hour.
    fake = FakeTime(dt.datetime(2026, 11, 26, 18, 30, tzinfo=TZ))
    schedule = Schedule(tz=TZ, window=parse_window("09:00-20:00"),
                        skip_days=parse_skip_days("sat"), max_per_hour=20)
    with Journal(tmp_path / "j.sqlite3") as journal:
        report, sent = run(make_rows(300), fake, journal, schedule, delay=30)
    assert report.exit_code == 0 and len(sent) == 300
    times = [local(t) for t, _ in sent]
    for t in times:
        assert dt.time(9) <= t.time() < dt.time(20), t
        assert t.weekday() != 5, t  # never on Saturday
    starts = [t for t, _ in sent]
    for i in range(len(starts) - 20):
        assert starts[i + 20] - starts[i] >= 3600, "more than 20 in an hour"
    # Thursday: 20 sends 30 s apart from 18:30, the cap until 19:30, 20 more, the window closes
    # at 20:00; Friday 09:00-20:00 takes 220; Saturday is skipped; Sunday morning the last 40.
    per_day = {d: sum(t.date() == d for t in times) for d in sorted({t.date() for t in times})}
    assert per_day == {dt.date(2026, 11, 26): 40, dt.date(2026, 11, 27): 220,
                       dt.date(2026, 11, 29): 40}
    assert times[0] == dt.datetime(2026, 11, 26, 18, 30, tzinfo=TZ)
    assert times[20] == dt.datetime(2026, 11, 26, 19, 30, tzinfo=TZ)
    assert times[40] == dt.datetime(2026, 11, 27, 9, 0, tzinfo=TZ)
    assert times[260] == dt.datetime(2026, 11, 29, 9, 0, tzinfo=TZ)


def test_caps_hold_across_a_restart(tmp_path: Path) -> None:
    fake = FakeTime(dt.datetime(2026, 11, 23, 10, 0, tzinfo=TZ))
    path = tmp_path / "j.sqlite3"
    with Journal(path) as journal:
        run(make_rows(5), fake, journal, Schedule(tz=TZ, max_per_hour=8), delay=1)
    fake.t += 60  # a restart a minute later
    with Journal(path) as journal:
        history = journal.request_times(fake.now() - 86400)
        schedule = Schedule(tz=TZ, max_per_hour=8, history=history)
        _, sent = run(make_rows(6, start=5), fake, journal, schedule, delay=1)
    first = at(2026, 11, 23, 10, 0)
    # 3 more fit in the first hour; the 4th waits until an hour after the first send.
    assert [round(t - first) for t, _ in sent[:4]] == [64, 65, 66, 3600]


def test_stop_outside_window_exits_with_rows_pending(tmp_path: Path) -> None:
    fake = FakeTime(dt.datetime(2026, 11, 23, 19, 59, 0, tzinfo=TZ))
    schedule = Schedule(tz=TZ, window=parse_window("09:00-20:00"))
    rows = make_rows(5)
    with Journal(tmp_path / "j.sqlite3") as journal:
        report, sent = run(rows, fake, journal, schedule, delay=30, stop_outside=True)
    assert len(sent) == 2
    assert report.exit_code == 0
    assert report.stopped == "paused: window opens 09:00 (Tue)"
    assert local(report.resume_at) == dt.datetime(2026, 11, 24, 9, 0, tzinfo=TZ)
    assert [r.status for r in rows] == ["sent", "sent", "pending", "pending", "pending"]


def test_window_crossing_midnight() -> None:
    w = parse_window("22:00-02:00")
    assert w.contains(dt.time(23, 0)) and w.contains(dt.time(1, 59))
    assert not w.contains(dt.time(2, 0)) and not w.contains(dt.time(12, 0))
    s = Schedule(tz=TZ, window=w)
    t, reason = s.next_allowed(at(2026, 11, 23, 12, 0))
    assert local(t) == dt.datetime(2026, 11, 23, 22, 0, tzinfo=TZ) and "window" in reason


@pytest.mark.parametrize("bad", ["9-5", "25:00-26:00", "09:00-09:00", "nine to five"])
def test_bad_window_is_a_clear_error(bad: str) -> None:
    with pytest.raises(InputError, match="--window"):
        parse_window(bad)


def test_bad_skip_days() -> None:
    with pytest.raises(InputError, match="'shabbat' is not a day"):
        parse_skip_days("fri,shabbat")
    assert parse_skip_days("Fri, SAT") == {4, 5}
