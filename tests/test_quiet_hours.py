"""Quiet hours in each recipient's own time, summer time, and a clock that jumps, on an injected
clock: nothing here sleeps or depends on the hour or the zone it runs in."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from campaign.client import IbotClient
from campaign.errors import InputError
from campaign.pacing import (
    DEFAULT_WINDOW,
    Pacer,
    Schedule,
    forecast,
    parse_start_at,
    parse_window,
    recipient_zone,
)
from campaign.plan import Row
from campaign.runner import Clock, Runner
from campaign.store.journal import Journal
from campaign.store.ledger import Ledger
from tests.helpers import TZ, FakeTime

NEW_YORK, LONDON, TOKYO = ZoneInfo("America/New_York"), ZoneInfo("Europe/London"), ZoneInfo("Asia/Tokyo")
UTC = dt.UTC


class Wall(FakeTime):
    """The computer's wall clock (which can be stepped) and the real time that passed."""

    def __init__(self, start: dt.datetime) -> None:
        super().__init__(start)
        self.real = 0.0

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        self.real += max(0.0, seconds)


class Heard:
    """What the runner says on the progress line."""

    def __init__(self) -> None:
        self.waits: list[str] = []
        self.notes: list[str] = []

    def start(self, total: int, interval: float, label: str = "") -> None: ...
    def advance(self, row: Row, counts: Mapping[str, int]) -> None: ...

    def waiting(self, until: float, reason: str) -> None:
        self.waits.append(reason)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def close(self) -> None: ...


def rows_for(*numbers: str) -> list[Row]:
    return [Row(number=i + 2, values=(n,), jid=f"{n}@s.whatsapp.net", message=f"hello {i}")
            for i, n in enumerate(numbers)]


def run(rows: list[Row], wall: Wall, schedule: Schedule, tmp: Path, *, delay: float = 60.0,
        on_send: Any = None, heard: Heard | None = None) -> list[tuple[float, float, str]]:
    """Send `rows` on the injected clock; (wall time, real time, JID) of each request."""
    sent: list[tuple[float, float, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append((wall.t, wall.real, request.url.params["jid"]))
        wall.t += 0.3
        wall.real += 0.3
        if on_send is not None:
            on_send(len(sent))
        return httpx.Response(200, json={"success": True, "message": "Message sent successfully!"})

    client = IbotClient(httpx.Client(transport=httpx.MockTransport(handler)),
                        base_url="https://api.test/v1", token="t", instance_id="i")
    with Journal(tmp / "j.sqlite3") as journal:
        Runner(rows, kind="text", client=client, ledger=Ledger(journal), write=lambda r: tmp / "unused",
               clock=Clock(now=wall.now, sleep=wall.sleep, rand=lambda: 0.5, tz=TZ,
                           elapsed=lambda: wall.real),
               pacer=Pacer(delay=delay, jitter=0, rand=lambda: 0.5), schedule=schedule,
               stop=threading.Event(), progress=heard).run()
    return sent


# --- whose clock ------------------------------------------------------------------------------


@pytest.mark.parametrize(("number", "zone"), [
    ("972525550101", "Asia/Jerusalem"), ("12125550101", "America/New_York"),
    ("14155550101", "America/New_York"),  # the US's most populous zone, not the area code's
    ("16135550101", "America/Toronto"), ("447911123456", "Europe/"), ("5511987654321", "America/Sao_Paulo"),
    ("79161234567", "Europe/Moscow"), ("61412345678", "Australia/Sydney"), ("819012345678", "Asia/Tokyo"),
    ("919812345678", "Asia/Kolkata"), ("5215512345678", "America/Mexico_City"),
    ("6281234567890", "Asia/Jakarta"), ("4915123456789", "Europe/Berlin"),
])
def test_the_zone_of_a_number_is_its_countrys_most_populous(number: str, zone: str) -> None:
    found = recipient_zone(f"{number}@s.whatsapp.net")
    assert found is not None and str(found).startswith(zone)


def test_a_group_has_no_zone_of_its_own() -> None:
    assert recipient_zone("120363012345678901@g.us") is None


def test_a_lane_sends_to_those_whose_window_is_open_while_others_wait(tmp_path: Path) -> None:
    # 08:00 UTC: 10:00 in Jerusalem and 17:00 in Tokyo (open), 03:00 in New York (closed).
    wall = Wall(dt.datetime(2026, 11, 23, 8, 0, tzinfo=UTC))
    rows = rows_for("12125550101", "972525550101", "12125550102", "819012345678", "972525550102")
    heard = Heard()
    sent = run(rows, wall, Schedule(tz=TZ, window=DEFAULT_WINDOW, recipient=True), tmp_path,
               heard=heard)
    order = [jid.split("@")[0] for _, _, jid in sent]
    assert order[:3] == ["972525550101", "819012345678", "972525550102"]  # New York sleeps
    assert sorted(order[3:]) == ["12125550101", "12125550102"]
    for t, _, jid in sent:  # every message in its recipient's 09:00-20:00
        local = dt.datetime.fromtimestamp(t, recipient_zone(jid))
        assert dt.time(9) <= local.time() < dt.time(20), (jid, local)
    assert dt.datetime.fromtimestamp(sent[3][0], NEW_YORK).time() == dt.time(9, 0)
    assert "window opens 09:00 (Mon) America/New_York" in heard.waits
    assert all(r.status == "sent" for r in rows)


def test_the_forecast_knows_the_recipients_windows() -> None:
    start = dt.datetime(2026, 11, 23, 8, 0, tzinfo=UTC).timestamp()  # New York at 03:00
    schedule = Schedule(tz=TZ, window=DEFAULT_WINDOW, recipient=True)
    israel = forecast(10, mean_interval=60, schedule=schedule, start=start,
                      zones={ZoneInfo("Asia/Jerusalem"): 10})
    america = forecast(10, mean_interval=60, schedule=schedule, start=start, zones={NEW_YORK: 10})
    assert israel.seconds < 15 * 60
    assert 6 * 3600 <= america.seconds < 6 * 3600 + 15 * 60  # waits for 09:00 in New York


def test_quiet_hours_are_in_every_preset_and_any_turns_them_off() -> None:
    assert str(DEFAULT_WINDOW) == "09:00-20:00"
    assert parse_window("any") is None and parse_window("ANY") is None


# --- summer time ------------------------------------------------------------------------------


def wall_at(zone: ZoneInfo, *args: int, fold: int = 0) -> float:
    return dt.datetime(*args, tzinfo=zone, fold=fold).timestamp()


@pytest.mark.parametrize(("zone", "day"), [(NEW_YORK, (2026, 11, 1)), (LONDON, (2026, 10, 25)),
                                           (TZ, (2026, 10, 25))])
def test_a_start_the_clock_passes_twice_opens_on_the_pass_still_ahead(
        zone: ZoneInfo, day: tuple[int, int, int]) -> None:
    schedule = Schedule(tz=zone, window=parse_window("01:30-20:00"))
    # 01:05 on the second pass (after the clock fell back): not open, and not 25 minutes ago.
    second = wall_at(zone, *day, 1, 5, fold=1)
    t, reason = schedule.next_allowed(second)
    assert t == wall_at(zone, *day, 1, 30, fold=1) and t - second == 25 * 60
    assert reason == f"window opens 01:30 ({dt.date(*day):%a})"
    # On the first pass it opens at the first 01:30, and stays open through the repeated hour's
    # 01:30-02:00.
    first = wall_at(zone, *day, 1, 5)
    assert schedule.next_allowed(first)[0] == wall_at(zone, *day, 1, 30)
    assert schedule.next_allowed(wall_at(zone, *day, 1, 45, fold=1))[0] == wall_at(zone, *day, 1, 45, fold=1)


@pytest.mark.parametrize(("zone", "day", "gap"), [
    (NEW_YORK, (2026, 3, 8), (2, 30)), (LONDON, (2026, 3, 29), (1, 30)), (TZ, (2026, 3, 27), (2, 30)),
])
def test_a_start_inside_the_spring_forward_gap_opens_as_the_clock_jumps(
        zone: ZoneInfo, day: tuple[int, int, int], gap: tuple[int, int]) -> None:
    schedule = Schedule(tz=zone, window=parse_window(f"{gap[0]:02d}:{gap[1]:02d}-20:00"))
    before = wall_at(zone, *day, gap[0] - 1, 50)
    t, _ = schedule.next_allowed(before)
    opened = dt.datetime.fromtimestamp(t, zone)
    assert (opened.hour, opened.minute) == (gap[0] + 1, 0)  # the first moment past the gap
    assert t - before == 10 * 60  # ten minutes of wall time later, not an hour and ten


def test_days_and_windows_follow_the_wall_clock_across_summer_time(tmp_path: Path) -> None:
    # Three days around New York's fall-back, one message an hour: always 09:00-20:00 local.
    wall = Wall(dt.datetime(2026, 10, 31, 18, 0, tzinfo=NEW_YORK))
    rows = rows_for(*(f"121255501{i:02d}" for i in range(30)))
    sent = run(rows, wall, Schedule(tz=NEW_YORK, window=DEFAULT_WINDOW, recipient=True), tmp_path,
               delay=3600)
    hours = [dt.datetime.fromtimestamp(t, NEW_YORK).time() for t, _, _ in sent]
    assert all(dt.time(9) <= h < dt.time(20) for h in hours)
    assert hours[2] == dt.time(9, 0)  # Sunday the 1st: the first send at 09:00 EST, not 08:00


# --- a clock that jumps -----------------------------------------------------------------------


@pytest.mark.parametrize("hours", [1, 3])
def test_a_clock_stepped_back_never_waits_as_long_as_it_jumped(tmp_path: Path, hours: int) -> None:
    wall = Wall(dt.datetime(2026, 11, 23, 12, 0, tzinfo=TZ))

    def step_back(n: int) -> None:
        if n == 3:
            wall.t -= hours * 3600  # the wall clock only: no real time passes

    heard = Heard()
    rows = rows_for(*(f"9725255501{i:02d}" for i in range(12)))
    schedule = Schedule(tz=TZ, max_per_hour=5)
    sent = run(rows, wall, schedule, tmp_path, delay=60, on_send=step_back, heard=heard)
    assert len(sent) == 12
    assert max(wall.slept) <= 3600  # the cap's hour at most, never the jump on top of it
    assert sent[3][1] - sent[2][1] <= 61  # the next send follows at the normal interval
    assert any(f"clock went back {hours} h 00 min" in n for n in heard.notes), heard.notes
    # The cap holds in real time: no six sends within any real hour.
    reals = [real for _, real, _ in sent]
    assert all(b - a >= 3600 for a, b in zip(reals, reals[5:], strict=False))


def test_a_clock_set_forward_passes_no_cap(tmp_path: Path) -> None:
    wall = Wall(dt.datetime(2026, 11, 23, 12, 0, tzinfo=TZ))

    def step_forward(n: int) -> None:
        if n == 5:
            wall.t += 3 * 3600  # the wall clock only: no real time passes

    heard = Heard()
    rows = rows_for(*(f"9725255501{i:02d}" for i in range(12)))
    sent = run(rows, wall, Schedule(tz=TZ, max_per_hour=5), tmp_path, delay=60, on_send=step_forward,
               heard=heard)
    assert len(sent) == 12
    reals = [real for _, real, _ in sent]
    assert all(b - a >= 3600 for a, b in zip(reals, reals[5:], strict=False))  # in real time too
    assert min(b - a for a, b in itertools.pairwise(reals)) >= 60  # and no burst
    assert any("clock went forward 3 h 00 min" in n for n in heard.notes), heard.notes


def test_a_night_of_suspend_brings_no_burst_and_caps_hold(tmp_path: Path) -> None:
    wall = Wall(dt.datetime(2026, 11, 23, 19, 0, tzinfo=TZ))

    def suspend(n: int) -> None:
        if n == 2:
            wall.t += 10 * 3600  # the lid closes until 05:00; time passes for the caps too
            wall.real += 10 * 3600

    rows = rows_for(*(f"9725255501{i:02d}" for i in range(8)))
    sent = run(rows, wall, Schedule(tz=TZ, window=DEFAULT_WINDOW, recipient=True, max_per_hour=3),
               tmp_path, delay=60, on_send=suspend)
    times = [t for t, _, _ in sent]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 60  # no burst after the wake
    assert dt.datetime.fromtimestamp(times[2], TZ).time() == dt.time(9, 0)  # waits for the window
    assert all(b - a >= 3600 for a, b in zip(times, times[3:], strict=False))  # 3 an hour at most


# --- waits in words, and the start time -------------------------------------------------------


def test_waits_are_said_in_words() -> None:
    monday = dt.datetime(2026, 11, 23, 15, 0, tzinfo=TZ).timestamp()
    day = Schedule(tz=TZ, max_per_day=300, history=[monday - 3600 + i for i in range(300)])
    assert day.next_allowed(monday)[1] == "300 today reached, next Tue 14:00"
    hour = Schedule(tz=TZ, max_per_hour=60, history=[monday - 600 + i for i in range(60)])
    assert hour.next_allowed(monday)[1] == "60 this hour reached, next 15:50"
    night = Schedule(tz=TZ, window=DEFAULT_WINDOW)
    assert night.next_allowed(monday + 6 * 3600)[1] == "window opens 09:00 (Tue)"
    paused = Schedule(tz=TZ, pause_every=2, pause_for=600, history=[monday - 20, monday - 10])
    assert paused.next_allowed(monday)[1] == "pause of 10 min after 2 sends, next 15:09"


def test_nothing_is_sent_before_start_at(tmp_path: Path) -> None:
    wall = Wall(dt.datetime(2026, 11, 23, 16, 0, tzinfo=TZ))
    start = parse_start_at("tomorrow 09:30", TZ, wall.t)
    heard = Heard()
    sent = run(rows_for("972525550101", "972525550102"), wall,
               Schedule(tz=TZ, window=DEFAULT_WINDOW, recipient=True, start_at=start), tmp_path,
               heard=heard)
    assert sent[0][0] == start == dt.datetime(2026, 11, 24, 9, 30, tzinfo=TZ).timestamp()
    assert "starts Tue 09:30" in heard.waits


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-12-01 09:00", dt.datetime(2026, 12, 1, 9, 0)), ("09:00", dt.datetime(2026, 11, 24, 9, 0)),
    ("17:00", dt.datetime(2026, 11, 23, 17, 0)), ("tomorrow 09:00", dt.datetime(2026, 11, 24, 9, 0)),
    ("2026-12-01T09:00:00+00:00", dt.datetime(2026, 12, 1, 11, 0)),
])
def test_start_at_reads_as_people_write_it(text: str, expected: dt.datetime) -> None:
    now = dt.datetime(2026, 11, 23, 16, 0, tzinfo=TZ).timestamp()
    assert parse_start_at(text, TZ, now) == expected.replace(tzinfo=TZ).timestamp()


def test_a_bad_start_at_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="--start-at 'next week'"):
        parse_start_at("next week", TZ, 0.0)
