"""When the next send may start: the interval between starts, sending windows, and caps.

Time is plain epoch seconds from an injected clock, so a three-day schedule is tested in
milliseconds. Caps count request start times read from the journal, so they hold across restarts.
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from campaign.errors import InputError

HOUR = 3600.0
DAY = 86400.0
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Pacer:
    """At least `delay` plus a uniform 0..`jitter` between the *starts* of two sends.

    The API's latency counts toward the interval rather than being added to it.
    """

    def __init__(self, *, delay: float, jitter: float, rand: Callable[[], float]) -> None:
        self.delay, self.jitter, self.rand = max(0.0, delay), max(0.0, jitter), rand
        self.last_start: float | None = None
        self.gap = 0.0

    def due(self) -> float:
        return float("-inf") if self.last_start is None else self.last_start + self.gap

    def started(self, at: float) -> None:
        self.last_start = at
        self.gap = self.delay + self.rand() * self.jitter

    @property
    def mean_interval(self) -> float:
        return self.delay + self.jitter / 2


@dataclass(frozen=True)
class Window:
    start: dt.time
    end: dt.time

    def contains(self, t: dt.time) -> bool:
        if self.start < self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end  # crosses midnight, e.g. 20:00-02:00

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def parse_window(text: str) -> Window:
    m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", text)
    try:
        if not m:
            raise ValueError
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        window = Window(dt.time(h1 % 24 if h1 == 24 else h1, m1), dt.time(h2 % 24, m2))
    except ValueError:
        raise InputError(
            f"--window {text!r}: expected HH:MM-HH:MM, e.g. 09:00-20:00 (22:00-02:00 crosses "
            "midnight)."
        ) from None
    if window.start == window.end:
        raise InputError(f"--window {text!r}: the start and end are the same; the window is empty.")
    return window


def parse_skip_days(text: str) -> frozenset[int]:
    days: set[int] = set()
    for part in re.split(r"[,\s]+", text.strip().lower()):
        if not part:
            continue
        if part[:3] not in DAYS:
            raise InputError(
                f"--skip-days {text!r}: '{part}' is not a day. Use mon,tue,wed,thu,fri,sat,sun."
            )
        days.add(DAYS.index(part[:3]))
    return frozenset(days)


def parse_timezone(name: str | None) -> dt.tzinfo:
    if not name:
        local = dt.datetime.now().astimezone().tzinfo
        assert local is not None
        return local
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(
            f"--timezone {name!r} is not an IANA time zone name, e.g. Asia/Jerusalem or "
            "Europe/London."
        ) from None


class Schedule:
    """The earliest moment at or after `t` when a send is allowed by window, days and caps."""

    def __init__(
        self,
        *,
        tz: dt.tzinfo,
        window: Window | None = None,
        skip_days: frozenset[int] = frozenset(),
        max_per_hour: int | None = None,
        max_per_day: int | None = None,
        history: Iterable[float] = (),
    ) -> None:
        if len(skip_days) == 7:
            raise InputError("--skip-days skips every day of the week: nothing could be sent.")
        self.tz, self.window, self.skip_days = tz, window, skip_days
        self.caps = [(n, span, label) for n, span, label in
                     ((max_per_hour, HOUR, "--max-per-hour"), (max_per_day, DAY, "--max-per-day"))
                     if n]  # fmt: skip
        self.history = sorted(history)

    def record(self, at: float) -> None:
        bisect.insort(self.history, at)

    def next_allowed(self, t: float) -> tuple[float, str]:
        """(moment, reason); reason is "" when `t` itself is allowed."""
        reason = ""
        for _ in range(1000):  # each step moves forward; this bound is never reached in practice
            moved = False
            for n, span, label in self.caps:
                i = bisect.bisect_right(self.history, t - span)
                if len(self.history) - i >= n:
                    t, reason, moved = self.history[-n] + span, f"{label} {n} reached", True
            opened = self._open_at(t)
            if opened > t:
                t, reason, moved = opened, self._why_closed(t), True
            if not moved:
                return t, reason
        return t, reason

    def _why_closed(self, t: float) -> str:
        local = dt.datetime.fromtimestamp(t, self.tz)
        if local.weekday() in self.skip_days:
            return f"{DAYS[local.weekday()]} is skipped"
        return f"outside the window {self.window}"

    def _open_at(self, t: float) -> float:
        if self.window is None and not self.skip_days:
            return t
        for _ in range(30):
            local = dt.datetime.fromtimestamp(t, self.tz)
            if local.weekday() in self.skip_days:
                t = _at(local.date() + dt.timedelta(days=1), dt.time(0), self.tz)
                continue
            if self.window is None or self.window.contains(local.time().replace(microsecond=0)):
                return t
            day = local.date()
            if local.time() >= self.window.start:
                day += dt.timedelta(days=1)
            t = _at(day, self.window.start, self.tz)
        return t


def _at(day: dt.date, time: dt.time, tz: dt.tzinfo) -> float:
    return dt.datetime.combine(day, time, tzinfo=tz).timestamp()
