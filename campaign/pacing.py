"""When the next send may start: presets, the interval between starts, pauses, windows, caps and
warm-up.

Time is plain epoch seconds from an injected clock, so a ten-day schedule is tested in
milliseconds. Caps, pauses and warm-up count the number's sends in the per-user history (every
campaign on this computer), so they hold across restarts and across campaigns.
"""

from __future__ import annotations

import bisect
import copy
import datetime as dt
import functools
import itertools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from campaign.errors import InputError

HOUR = 3600.0
DAY = 86400.0
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Pace:
    """The pacing values of a run: a preset, with any value given explicitly put over it."""

    delay: float
    jitter: float
    pause_every: int | None  # None: no pauses
    pause_for: float
    max_per_hour: int | None
    max_per_day: int | None
    warm_up: bool


# Published guidance behind these (README, "Pacing"): WAHA (random 30-60 s, batches with breaks),
# baileys-antiban (8/min, 200/h, 1,500/day at most; new numbers from 20/day), the Mautic-Zender
# plugin (80-160 s, 300/day), Effess (80/h; a 50-200-500 ramp), and the 20-30 a day for a new
# number in its first week that several guides give.
PRESETS: dict[str, Pace] = {
    "careful": Pace(45, 45, 15, 15 * 60, 40, 100, True),
    "standard": Pace(30, 30, 30, 10 * 60, 60, 300, False),
    "fast": Pace(8, 7, None, 0, None, None, False),
}
DEFAULT_PACE = "standard"
WARM_UP_FIRST_DAY = 20
WARM_UP_GROWTH = 1.5


def resolve_pace(preset: str, **given: float | int | bool | None) -> Pace:
    """The preset's values, each replaced by the one given explicitly (None: not given).

    A cap or a pause count of 0 turns that limit off.
    """
    if preset not in PRESETS:
        raise InputError(f"--pace {preset!r}: choose careful, standard or fast.")
    values = {k: v for k, v in given.items() if v is not None}
    unknown = set(values) - set(Pace.__dataclass_fields__)
    if unknown:
        raise TypeError(f"not pacing options: {sorted(unknown)}")
    pace = replace(PRESETS[preset], **values)  # type: ignore[arg-type]
    return replace(
        pace,
        pause_every=pace.pause_every or None,
        max_per_hour=pace.max_per_hour or None,
        max_per_day=pace.max_per_day or None,
    )


# What the README's Pacing section cites: the reports behind the presets.
BAN_REPORTS = "300 messages at 2 s apart, banned; 150 at 13 s, banned"
FIRST_WEEK_DAILY = 30  # several guides: a new number sending more than 20-30 a day gets reviewed


def pace_risks(pace: Pace, *, first_send: float | None = None, now: float = 0.0) -> list[str]:
    """Warnings said before the risk is taken (issue 22): a pace faster than `fast`, no daily
    cap, or a number in its first week pushed past 30 a day. Empty when the pace is within them."""
    fast = PRESETS["fast"]
    interval = pace.delay + pace.jitter / 2
    if pace.max_per_hour:
        interval = max(interval, HOUR / pace.max_per_hour)  # the hourly cap sets the real speed
    reasons = []
    if interval < fast.delay + fast.jitter / 2:
        reasons.append(f"{pace.delay:g} s + up to {pace.jitter:g} s between sends (about "
                       f"{HOUR / max(interval, 0.1):,.0f} an hour) is faster than --pace fast "
                       f"({fast.delay:g} + {fast.jitter:g} s)")
    if not pace.max_per_day:
        reasons.append("there is no daily cap (--max-per-day)")
    risks = []
    if reasons:
        risks.append(
            f"Warning: {'; '.join(reasons)}. WhatsApp bans numbers that blast: users of bulk "
            f"senders report {BAN_REPORTS} (README, Pacing). Safer: --pace standard (30 + 30 s, "
            "at most 300 a day), or several sender numbers."
        )
    day = (now - first_send) / DAY if first_send is not None else None
    daily = pace.max_per_day
    if day is not None and 0 <= day < 7 and not pace.warm_up and (daily is None or daily > FIRST_WEEK_DAILY):
        cap = f"up to {daily} a day" if daily else "with no daily cap"
        risks.append(
            f"Warning: this number first sent on this computer {int(day)} day(s) ago and would "
            f"send {cap}: several guides say a number in its first week that sends more than "
            f"20-30 a day gets reviewed (README, Pacing). Add --warm-up (20 on day one, then "
            "about 1.5x a day) or --max-per-day 30."
        )
    return risks


def wait_words(seconds: float) -> str:
    """A wait as people say it: `43 s`, `12 min`, `3 h 05 min`."""
    seconds = max(0, int(seconds + 0.5))
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{(seconds + 30) // 60} min"
    hours, rest = divmod(seconds, 3600)
    return f"{hours} h {rest // 60:02d} min"


def warm_up_cap(day: int) -> int:
    """A new number's daily cap on its day `day` (0 = its first day): 20, 30, 45, 68, 101, ..."""
    return int(WARM_UP_FIRST_DAY * WARM_UP_GROWTH**day + 0.5)


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


# The zone of a country's number, where the country has several: its most populous one (the
# window is the recipient's local time; a number rarely says where in the country they are).
POPULOUS_ZONE = {
    "US": "America/New_York", "CA": "America/Toronto", "RU": "Europe/Moscow",
    "BR": "America/Sao_Paulo", "AU": "Australia/Sydney", "MX": "America/Mexico_City",
    "ID": "Asia/Jakarta", "KZ": "Asia/Almaty", "AR": "America/Argentina/Buenos_Aires",
    "CL": "America/Santiago", "CD": "Africa/Kinshasa", "ES": "Europe/Madrid",
    "PT": "Europe/Lisbon", "UA": "Europe/Kyiv", "UZ": "Asia/Tashkent", "NZ": "Pacific/Auckland",
    "MN": "Asia/Ulaanbaatar", "EC": "America/Guayaquil", "GL": "America/Nuuk",
    "CN": "Asia/Shanghai", "MY": "Asia/Kuala_Lumpur", "CY": "Asia/Nicosia", "DE": "Europe/Berlin",
    "GB": "Europe/London", "IT": "Europe/Rome", "FI": "Europe/Helsinki", "NO": "Europe/Oslo",
    "PG": "Pacific/Port_Moresby", "FM": "Pacific/Pohnpei", "MH": "Pacific/Majuro",
    "KI": "Pacific/Tarawa", "PF": "Pacific/Tahiti", "EG": "Africa/Cairo",
}


def recipient_zone(jid: str) -> dt.tzinfo | None:
    """The time zone of the country of a WhatsApp number (its most populous zone where it has
    several), from phonenumbers' data; None for a group or a number it cannot place."""
    digits, _, server = jid.partition("@")
    if server not in ("", "s.whatsapp.net", "c.us") or not digits.isdigit():
        return None
    return _zone_for_digits(digits)


_ZONE_BY_PREFIX: dict[str, dt.tzinfo | None] = {}


def _zone_for_digits(digits: str) -> dt.tzinfo | None:
    import phonenumbers

    for size in (1, 2, 3):  # the country code: one region for most, parse only where shared
        regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(int(digits[:size]))
        if regions:
            break
    else:
        return None
    # Where a code is shared (+1's area codes, +7, +44, ...) the next four digits tell the region.
    prefix = digits[: size + (4 if len(regions) > 1 else 0)]
    if prefix not in _ZONE_BY_PREFIX:
        _ZONE_BY_PREFIX[prefix] = _zone_of_region(digits, regions)
    return _ZONE_BY_PREFIX[prefix]


def _zone_of_region(digits: str, regions: tuple[str, ...]) -> dt.tzinfo | None:
    import phonenumbers
    from phonenumbers import timezone as number_zones

    number = None
    if len(regions) == 1:
        region = regions[0]
    else:
        try:
            number = phonenumbers.parse("+" + digits)
        except phonenumbers.NumberParseException:
            return None
        region = phonenumbers.region_code_for_number(number) or regions[0]
    name = POPULOUS_ZONE.get(region) or _first_zone(region)
    if name is None:  # not in tzdb's country table: phonenumbers' own zones for the number
        try:
            number = number or phonenumbers.parse("+" + digits)
        except phonenumbers.NumberParseException:
            return None
        zones = [z for z in number_zones.time_zones_for_number(number) if z != "Etc/Unknown"]
        name = zones[0] if zones else None
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


@functools.lru_cache(maxsize=1)
def _zone_table() -> dict[str, str]:
    """Country -> its first zone in tzdb's zone.tab (most populous first, where geography allows)."""
    import importlib.resources

    try:
        text = importlib.resources.files("tzdata").joinpath("zoneinfo/zone.tab").read_text("utf-8")
    except (ModuleNotFoundError, OSError):
        return {}
    out: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and not line.startswith("#"):
            out.setdefault(parts[0], parts[2])
    return out


def _first_zone(region: str) -> str | None:
    return _zone_table().get(region)


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


def parse_window(text: str) -> Window | None:
    """`HH:MM-HH:MM` (may cross midnight); `any`: no quiet hours (None)."""
    if text.strip().lower() == "any":
        return None
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


def parse_start_at(text: str, tz: dt.tzinfo, now: float) -> float:
    """`--start-at`: `2026-12-01 09:00`, `09:00` (its next occurrence), `tomorrow 09:00`, or an
    ISO time with an offset, in `tz` (this computer's zone, or --timezone's)."""
    words = text.strip().lower().replace("t", " ", 1) if re.match(r"\d{4}-\d\d-\d\dt", text.strip().lower()) \
        else text.strip().lower()
    today = dt.datetime.fromtimestamp(now, tz).date()
    m = re.fullmatch(r"(?:(today|tomorrow|\d{4}-\d{1,2}-\d{1,2})\s+)?(\d{1,2}):(\d{2})(?::(\d{2}))?", words)
    try:
        if m is None:
            moment = dt.datetime.fromisoformat(text.strip())  # with an offset: absolute
            if moment.tzinfo is None:
                raise ValueError
            return moment.timestamp()
        day_word, hh, mm, ss = m.groups()
        at = dt.time(int(hh), int(mm), int(ss or 0))
        if day_word is None or day_word == "today":
            day = today
        elif day_word == "tomorrow":
            day = today + dt.timedelta(days=1)
        else:
            day = dt.date.fromisoformat("-".join(f"{int(p):02d}" for p in day_word.split("-")))
        moment_t = _first_at(day, at, tz, float("-inf"))
        if day_word is None and moment_t <= now:  # a bare time: its next occurrence
            moment_t = _first_at(day + dt.timedelta(days=1), at, tz, float("-inf"))
        return moment_t
    except ValueError:
        raise InputError(
            f"--start-at {text!r}: expected a date and time such as '2026-12-01 09:00', a time "
            "such as '09:00' (its next occurrence) or 'tomorrow 09:00', in this computer's time "
            "zone (or --timezone's)."
        ) from None


DEFAULT_WINDOW = Window(dt.time(9, 0), dt.time(20, 0))  # quiet hours in every preset


def parse_timezone(name: str | None) -> dt.tzinfo:
    """An IANA zone; None or `recipient`: this computer's (the recipients' zones are per row)."""
    if not name or name.strip().lower() == "recipient":
        local = dt.datetime.now().astimezone().tzinfo
        assert local is not None
        return local
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(
            f"--timezone {name!r} is not a time zone name, e.g. Asia/Jerusalem or "
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
        pause_every: int | None = None,
        pause_for: float = 0.0,
        warm_up: bool = False,
        first_send: float | None = None,
        recipient: bool = False,
        start_at: float | None = None,
    ) -> None:
        if len(skip_days) == 7:
            raise InputError("--skip-days skips every day of the week: nothing could be sent.")
        self.tz, self.window, self.skip_days = tz, window, skip_days
        self.caps = [(n, span, label) for n, span, label in
                     ((max_per_hour, HOUR, "{n} this hour reached"),
                      (max_per_day, DAY, "{n} today reached")) if n]
        self.history = sorted(history)
        self.max_per_day = max_per_day
        self.pause_every: int | None = pause_every if pause_every and pause_for else None
        self.pause_for = pause_for if self.pause_every else 0.0
        # Warm-up: the day (in `tz`) of the number's first send seen on this computer; None: off.
        self.warm_up = warm_up
        self.first_send = first_send
        # The window and the days off are each recipient's local time (their number's zone);
        # `tz` still keeps the computer's days for the warm-up and says the times to the user.
        self.recipient = recipient
        self.start_at = start_at  # --start-at: nothing before it

    @property
    def counts_history(self) -> bool:
        """Whether the number's past sends matter (so the history is worth reading)."""
        return bool(self.caps or self.pause_every or self.warm_up)

    def record(self, at: float) -> None:
        bisect.insort(self.history, at)

    def next_allowed(self, t: float, zone: dt.tzinfo | None = None) -> tuple[float, str]:
        """(moment, reason); reason is "" when `t` itself is allowed. `zone`: the recipient's
        time zone for the window and the days off (default: the schedule's)."""
        reason = ""
        if self.start_at is not None and t < self.start_at:
            t, reason = self.start_at, f"starts {self._when(self.start_at, day=True)}"
        for _ in range(1000):  # each step moves forward; this bound is never reached in practice
            moved = False
            for n, span, label in self._caps_at(t):
                i = bisect.bisect_right(self.history, t - span)
                if len(self.history) - i >= n:
                    t, moved = self.history[-n] + span, True
                    reason = f"{label.format(n=n)}, next {self._when(t, day=span >= DAY)}"
            resume = self._pause_until()
            if resume > t:
                t, moved = resume, True
                reason = (f"pause of {self.pause_for / 60:g} min after {self.pause_every} sends, "
                          f"next {self._when(t)}")
            opened = self._open_at(t, zone or self.tz)
            if opened > t:
                reason = self._why_closed(t, opened, zone or self.tz)
                t, moved = opened, True
            if not moved:
                return t, reason
        return t, reason

    def _when(self, t: float, *, day: bool = False, tz: dt.tzinfo | None = None) -> str:
        local = dt.datetime.fromtimestamp(t, tz or self.tz)
        return f"{local:%a %H:%M}" if day else f"{local:%H:%M}"

    def rebase(self, now: float) -> float:
        """The clock went back: sends stamped after `now` count as made now (caps and pauses
        hold, and never wait for as long as the clock jumped). Returns how far it went back."""
        if not self.history or self.history[-1] <= now:
            return 0.0
        jump = self.history[-1] - now
        self.history = [min(h, now) for h in self.history]
        return jump

    def _caps_at(self, t: float) -> list[tuple[int, float, str]]:
        if not self.warm_up:
            return self.caps
        day = self.warm_up_day(t)
        cap = warm_up_cap(day)
        if self.max_per_day is not None and cap >= self.max_per_day:
            return self.caps
        others = [c for c in self.caps if c[1] != DAY]
        return [*others, (cap, DAY, f"warm-up day {day + 1}: {{n}} today reached")]

    def warm_up_day(self, t: float) -> int:
        """Days since the number's first send (0 on that day), in the schedule's time zone."""
        first = self.first_send if self.first_send is not None else (
            self.history[0] if self.history else t)
        start = dt.datetime.fromtimestamp(first, self.tz).date()
        return max(0, (dt.datetime.fromtimestamp(t, self.tz).date() - start).days)

    def _pause_until(self) -> float:
        """When the last `pause_every` sends had no break of `pause_for` among them, a break is due.

        Read from the history alone, so a restart in the middle of a pause still pauses.
        """
        n = self.pause_every
        if not n or len(self.history) < n:
            return float("-inf")
        recent = self.history[-n:]
        if all(b - a < self.pause_for for a, b in itertools.pairwise(recent)):
            return recent[-1] + self.pause_for
        return float("-inf")

    def _why_closed(self, t: float, opened: float, tz: dt.tzinfo) -> str:
        local, then = dt.datetime.fromtimestamp(t, tz), dt.datetime.fromtimestamp(opened, tz)
        where = f" {tz}" if self.recipient else ""
        if local.weekday() in self.skip_days:
            return f"{DAYS[local.weekday()]} is skipped{where}, window opens {then:%H:%M} ({then:%a})"
        return f"window opens {then:%H:%M} ({then:%a}){where}"

    def _open_at(self, t: float, tz: dt.tzinfo) -> float:
        """The first moment at or after `t` when the local clock of `tz` is inside the window on
        a day not skipped. Summer time included: a start the clock passes twice (fall back) opens
        at the first pass that is not before `t`; a start inside the spring-forward gap opens
        the moment the clock jumps past it."""
        if self.window is None and not self.skip_days:
            return t
        start = dt.time(0) if self.window is None else self.window.start
        for _ in range(30):
            local = dt.datetime.fromtimestamp(t, tz)
            if local.weekday() in self.skip_days:
                t = _first_at(local.date() + dt.timedelta(days=1), dt.time(0), tz, t)
                continue
            if self.window is None or self.window.contains(local.time().replace(microsecond=0)):
                return t
            day = local.date()
            opening = _first_at(day, start, tz, t)
            if opening <= t:  # today's start has passed: tomorrow's
                opening = _first_at(day + dt.timedelta(days=1), start, tz, t)
            t = opening
        return t


def _first_at(day: dt.date, time: dt.time, tz: dt.tzinfo, not_before: float) -> float:
    """The first moment, not before `not_before` if it can be, when the wall clock of `tz` reads
    `time` on `day` (or, inside a spring-forward gap, jumps past it); `not_before` - 1 if both
    passes of the wall time on that day are over."""
    naive = dt.datetime.combine(day, time)
    passes = sorted({naive.replace(tzinfo=tz, fold=f).timestamp() for f in (0, 1)})
    real = [p for p in passes if dt.datetime.fromtimestamp(p, tz).replace(tzinfo=None) == naive]
    if not real:  # the wall time does not exist that day: the moment the clock jumps over it
        lo, hi = passes[0], passes[-1]
        while hi - lo > 0.5:
            mid = (lo + hi) / 2
            if dt.datetime.fromtimestamp(mid, tz).replace(tzinfo=None) >= naive:
                hi = mid
            else:
                lo = mid
        real = [float(round(hi))]
    later = [p for p in real if p >= not_before]
    return later[0] if later else not_before - 1


@dataclass(frozen=True)
class Forecast:
    """When a campaign would send: total seconds, and per local day (date, sends, last send)."""

    seconds: float
    days: list[tuple[dt.date, int, float]]


SIMULATED_SENDS = 20000  # beyond this the forecast extrapolates (a 100k-row dry run stays fast)


def forecast(todo: int, *, mean_interval: float, schedule: Schedule, start: float,
             lanes: int = 1, zones: Mapping[dt.tzinfo | None, int] | None = None) -> Forecast:
    """Simulate the schedule at the mean interval: caps, pauses, warm-up, window, days off.

    Each of `lanes` senders takes an equal share and runs its own schedule at the same time.
    `zones` (recipients per time zone) when the window is each recipient's: a lane sends to
    whoever's window is open, as the runner does.
    """
    share = -(-todo // max(1, lanes))
    if share == 0:
        return Forecast(0.0, [])
    sim = copy.copy(schedule)  # every setting as it is; a history of its own to grow
    sim.history = list(schedule.history)
    per_day: dict[dt.date, list[float]] = {}
    t = start
    simulated = min(share, SIMULATED_SENDS)
    left: dict[dt.tzinfo | None, float] = {None: float(simulated)}
    if schedule.recipient and zones:
        total = sum(zones.values()) or 1
        left = {z: n * simulated / total for z, n in sorted(zones.items(), key=lambda kv: -kv[1])}
    for i in range(simulated):
        base = t + (mean_interval if i else 0.0)
        best: tuple[float, dt.tzinfo | None] | None = None
        for zone, n in left.items():
            if n <= 0:
                continue
            due, _ = sim.next_allowed(base, zone)
            if best is None or due < best[0]:
                best = (due, zone)
            if due <= base:
                break
        if best is None:
            break
        t = best[0]
        left[best[1]] -= 1
        sim.history.append(t)
        day = per_day.setdefault(dt.datetime.fromtimestamp(t, schedule.tz).date(), [0, t])
        day[0] += lanes
        day[1] = t
    seconds = (t - start) * share / simulated
    days = [(d, min(int(n), todo), last) for d, (n, last) in per_day.items()]
    return Forecast(seconds, days)
