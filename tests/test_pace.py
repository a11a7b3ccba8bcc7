"""Protect the number: presets, pauses, warm-up and caps per number, on an injected clock."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from campaign.pacing import PRESETS, Pace, Pacer, Schedule, forecast, resolve_pace, warm_up_cap
from campaign.plan import Row
from campaign.runner import Clock, Runner
from campaign.store.history import ClaimRequest, History
from campaign.store.journal import Journal
from campaign.store.ledger import Account, Ledger
from tests.helpers import (
    FAST,
    SANDBOX_INSTANCE,
    SANDBOX_TOKEN,
    TZ,
    FakeTime,
    Gate,
    api_env,
    at,
    local,
    make_rows,
    recording_client,
    start_campaign,
)


def test_each_preset_has_its_published_values() -> None:
    assert resolve_pace("careful") == Pace(45, 45, 15, 900, 40, 100, True)
    assert resolve_pace("standard") == Pace(30, 30, 30, 600, 60, 300, False)
    assert resolve_pace("fast") == Pace(8, 7, None, 0, None, None, False)


def test_an_explicit_option_overrides_just_that_value() -> None:
    assert resolve_pace("standard", delay=10) == Pace(10, 30, 30, 600, 60, 300, False)
    assert resolve_pace("careful", warm_up=False, max_per_day=None) == Pace(45, 45, 15, 900, 40, 100, False)
    assert resolve_pace("standard", max_per_day=0, pause_every=0) == Pace(30, 30, None, 600, 60, None, False)
    assert resolve_pace("fast", max_per_hour=80) == Pace(8, 7, None, 0, 80, None, False)


def test_warm_up_ramps_about_one_and_a_half_times_a_day() -> None:
    assert [warm_up_cap(d) for d in range(7)] == [20, 30, 45, 68, 101, 152, 228]


def run(rows: list[Row], fake: FakeTime, journal: Journal, schedule: Schedule, *, pace: Pace,
        claims: tuple[History, str, str] | None = None) -> list[tuple[float, str]]:
    """`claims`: (the history, the number, the campaign) when the run counts the history."""
    sent: list[tuple[float, str]] = []
    ledger, account = Ledger(journal), None
    if claims is not None:
        ledger, account = book(claims[0], claims[1], journal, claims[2], pace=pace, schedule=schedule)
    runner = Runner(
        rows, kind="text", client=recording_client(fake, sent), ledger=ledger,
        write=lambda rows: Path("unused"), clock=Clock(now=fake.now, sleep=fake.sleep,
        rand=lambda: 0.5, tz=TZ), pacer=Pacer(delay=pace.delay, jitter=pace.jitter, rand=lambda: 0.5),
        schedule=schedule, stop=threading.Event(), account=account,
    )
    runner.run()
    return sent


def schedule_for(pace: Pace, history: History | None = None, sender: str = "") -> Schedule:
    schedule = Schedule(tz=TZ, max_per_hour=pace.max_per_hour, max_per_day=pace.max_per_day,
                        pause_every=pace.pause_every, pause_for=pace.pause_for,
                        warm_up=pace.warm_up)
    if history is not None:
        schedule.history = history.send_times("live", sender, 0)
        schedule.first_send = history.first_send("live", sender)
    return schedule


def claims(history: History, sender: str, journal: Journal, campaign: str) -> tuple[History, str, str]:
    del journal  # the run's own
    return history, sender, campaign


def book(history: History, sender: str, journal: Journal, campaign: str, *, pace: Pace,
         schedule: Schedule) -> tuple[Ledger, Account]:
    ledger = Ledger(journal, history, namespace="live", campaign=campaign)
    return ledger, ledger.account(sender, min_gap=pace.delay, schedule=schedule)


def test_standard_pauses_ten_minutes_after_every_thirty_sends(tmp_path: Path) -> None:
    fake = FakeTime(dt.datetime(2026, 11, 23, 9, 0, tzinfo=TZ))
    pace = resolve_pace("standard", max_per_hour=0)  # the pause alone
    with Journal(tmp_path / "j.sqlite3") as journal:
        sent = run(make_rows(65), fake, journal, schedule_for(pace), pace=pace)
    gaps = [round(b - a, 3) for (a, _), (b, _) in itertools.pairwise(sent)]
    assert gaps[:29] == [45.0] * 29  # 30 + 30 * 0.5
    assert gaps[29] == 600.0 and gaps[59] == 600.0  # the 31st and the 61st wait out a pause
    assert set(gaps) == {45.0, 600.0}


def test_a_restart_in_the_middle_of_a_pause_still_pauses(tmp_path: Path) -> None:
    fake = FakeTime(dt.datetime(2026, 11, 23, 9, 0, tzinfo=TZ))
    pace = resolve_pace("careful", warm_up=False, max_per_hour=0, max_per_day=0)
    with History(tmp_path / "home") as history:
        with Journal(tmp_path / "j.sqlite3") as journal:
            sent = run(make_rows(15), fake, journal, schedule_for(pace), pace=pace,
                       claims=claims(history, "n1", journal, "a"))
        last = sent[-1][0]
        fake.t = last + 120  # killed; the same command again two minutes into the pause
        with Journal(tmp_path / "j.sqlite3") as journal:
            more = run(make_rows(3, start=15), fake, journal, schedule_for(pace, history, "n1"), pace=pace,
                       claims=claims(history, "n1", journal, "a"))
    assert round(more[0][0] - last) == 900  # the 15-minute pause holds from the last send


def test_warm_up_caps_a_new_number_day_by_day(tmp_path: Path) -> None:
    fake = FakeTime(dt.datetime(2026, 11, 23, 0, 0, 30, tzinfo=TZ))
    pace = resolve_pace("fast", delay=60, jitter=0, warm_up=True, max_per_day=50)
    with History(tmp_path / "home") as history, Journal(tmp_path / "j.sqlite3") as journal:
        sent = run(make_rows(150), fake, journal, schedule_for(pace), pace=pace,
                   claims=claims(history, "n1", journal, "a"))
    per_day = [len(list(g)) for _, g in itertools.groupby(local(t).date() for t, _ in sent)]
    # 20 on day one, then 30, 45, and --max-per-day 50 from then on (sliding 24 hours).
    assert per_day[:3] == [20, 30, 45]
    assert max(per_day) == 50 and sum(per_day) == 150


def test_caps_are_shared_by_two_campaigns_through_one_number_not_by_two_numbers(tmp_path: Path) -> None:
    pace = resolve_pace("fast", delay=1, jitter=0, max_per_hour=10)
    with History(tmp_path / "home") as history:
        for name, sender in (("autumn", "n1"), ("winter", "n1"), ("spring", "n2")):
            fake = FakeTime(dt.datetime(2026, 11, 23, 10, 0, tzinfo=TZ))
            with Journal(tmp_path / f"{name}.sqlite3") as journal:
                sent = run(make_rows(8), fake, journal, schedule_for(pace, history, sender), pace=pace,
                           claims=claims(history, sender, journal, name))
            offsets = [round(t - at(2026, 11, 23, 10, 0)) for t, _ in sent]
            if name == "autumn":
                assert offsets == list(range(8))
            elif name == "winter":  # the same number: its pace goes on from autumn's last send,
                # 2 more fit this hour, the rest wait for it
                assert offsets[:2] == [8, 9] and offsets[2] == 3600
            else:  # another number: its own caps
                assert offsets == list(range(8))


def run_beside_another_campaign(tmp_path: Path, pace: Pace, rows: int, meanwhile) -> list[int]:  # type: ignore[no-untyped-def]
    """Run campaign 'a' through number n1 while `meanwhile(other, fake)` makes campaign 'other'
    claim sends through n1 right after a's first send; a's send offsets in seconds."""
    fake = FakeTime(dt.datetime(2026, 11, 23, 10, 0, tzinfo=TZ))
    with History(tmp_path / "home") as history, Journal(tmp_path / "a.sqlite3") as journal:
        def other(jid: str, at: float) -> None:  # campaign 'other' claims a send through n1
            history.claim(ClaimRequest("live", "n1", jid, "other", "/other", at))

        sent: list[tuple[float, str]] = []
        client = recording_client(fake, sent)
        original = client.send

        def send_and_meanwhile(*args, **kwargs):  # type: ignore[no-untyped-def]
            result = original(*args, **kwargs)
            if len(sent) == 1:
                meanwhile(other, fake)
            return result

        client.send = send_and_meanwhile  # type: ignore[method-assign]
        schedule = schedule_for(pace, history, "n1")
        ledger, account = book(history, "n1", journal, "a", pace=pace, schedule=schedule)
        runner = Runner(make_rows(rows), kind="text", client=client, ledger=ledger,
                        write=lambda rows: Path("unused"), clock=Clock(now=fake.now, sleep=fake.sleep,
                        rand=lambda: 0.5, tz=TZ), pacer=Pacer(delay=pace.delay, jitter=pace.jitter,
                        rand=lambda: 0.5), schedule=schedule, stop=threading.Event(),
                        account=account)
        runner.run()
    return [round(t - at(2026, 11, 23, 10, 0)) for t, _ in sent]


def test_a_campaign_running_meanwhile_counts_toward_the_cap(tmp_path: Path) -> None:
    """The history is read again before each send, not only at the start."""

    def three_sends(other: Callable[[str, float], None], fake: FakeTime) -> None:
        for i in range(3):
            other(f"97259{i:07d}@s.whatsapp.net", fake.now())

    offsets = run_beside_another_campaign(tmp_path, resolve_pace("fast", delay=1, jitter=0,
                                                                 max_per_hour=5), 4, three_sends)
    assert offsets[:2] == [0, 1] and offsets[2] >= 3600  # 1 + 3 + 1 = 5 in the hour


def test_a_3000_row_campaign_at_the_default_pace_takes_about_ten_days() -> None:
    pace = PRESETS["standard"]
    start = at(2026, 11, 25, 9, 0)
    plan = forecast(3000, mean_interval=pace.delay + pace.jitter / 2, schedule=schedule_for(pace),
                    start=start)
    assert 9 * 86400 < plan.seconds < 10 * 86400
    assert len(plan.days) == 10 and all(n <= 300 for _, n, _ in plan.days)
    assert sum(n for _, n, _ in plan.days) == 3000


# --- end to end, the real CLI against the sandbox -------------------------------------------------

GREETING = "{{ pick('Hi', 'Hello', 'Hey') }} {{ name }}, {{ pick('see you soon', 'talk soon') }}"


def cli_process(contacts: Path, url: str, *args: str):  # type: ignore[no-untyped-def]
    return start_campaign("send", contacts, *args, cwd=contacts.parent, env=api_env(url))


def test_pick_is_the_same_in_the_dry_run_the_send_and_after_a_kill(write_csv, results) -> None:  # type: ignore[no-untyped-def]
    import signal
    from collections import Counter

    from campaign.sandbox import Sandbox

    people = [["Name", "Phone"]] + [[f"P{i}", f"05023458{i:02d}"] for i in range(12)]
    contacts = write_csv(people)
    fast = ("-m", GREETING, *FAST)
    gate = Gate(5)
    with Sandbox(token=SANDBOX_TOKEN, instance_id=SANDBOX_INSTANCE, on_accept=gate) as box:
        dry = cli_process(contacts, box.url, *fast, "--dry-run")
        assert dry.wait(60) == 0, dry.communicate()[0]
        dry_results = results(contacts.with_name("contacts-message.rehearsal.results.csv"))
        planned = {r["jid"]: r["message"] for r in dry_results}
        first = cli_process(contacts, box.url, *fast)
        assert gate.reached.wait(30)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        gate.release.set()
        again = cli_process(contacts, box.url, *fast, "--retry-unknown")
        assert again.wait(60) == 0, again.communicate()[0]
        received = {m.jid: m.text for m in box.received}
        counts = Counter(m.jid for m in box.received)
    assert received == planned  # every recipient got the dry run's text, across the kill
    assert max(counts.values()) <= 2  # the one in flight at the kill may be resent (--retry-unknown)
    assert len({text.split()[0] for text in planned.values()}) == 3  # the options are spread
    assert len({text.split(", ")[1] for text in planned.values()}) == 2


@pytest.mark.slow
def test_the_default_pace_leaves_at_least_30_seconds_between_sends(write_csv) -> None:  # type: ignore[no-untyped-def]
    """The one real-time test of pacing (30-60 s): everything else runs on an injected clock."""
    from campaign.sandbox import Sandbox

    contacts = write_csv([["Name", "Phone"], ["A", "0502345671"], ["B", "0502345672"]])
    with Sandbox(token=SANDBOX_TOKEN, instance_id=SANDBOX_INSTANCE) as box:
        # The preset's quiet hours off: the test runs at any hour.
        proc = cli_process(contacts, box.url, "-m", "Hi {{ name }}", "--yes", "--quiet", "--window", "any")
        out, _ = proc.communicate(timeout=120)
        times = [m.at for m in box.received]
    assert proc.returncode == 0, out
    assert len(times) == 2
    assert 30 <= times[1] - times[0] <= 61


def test_the_delay_holds_between_two_campaigns_sending_through_one_number(tmp_path: Path) -> None:
    """--delay is per number: another campaign's send through it counts as the last send."""

    def one_send_at_4s(other: Callable[[str, float], None], fake: FakeTime) -> None:
        other("972599999999@s.whatsapp.net", fake.now() + 3.7)

    offsets = run_beside_another_campaign(tmp_path, resolve_pace("fast", delay=10, jitter=0), 2,
                                          one_send_at_4s)
    assert offsets == [0, 14]  # 10 s after the other campaign's send at 4 s, not at 10 s


def test_the_wait_for_the_next_send_ends_when_it_is_due_however_long_the_looks_before_it_took(
        tmp_path: Path) -> None:
    """The delay is a minimum, and the wait is no longer than it: a slow look at the registry
    (pause/cancel) before the wait is not slept again on top of the delay."""
    fake = FakeTime(local(at(2026, 3, 2, 10, 0)))
    sent: list[tuple[float, str]] = []

    def slow_registry() -> str:  # `campaign pause`/`cancel` asked? a busy disk answers slowly
        fake.t += 0.25
        return ""

    with Journal(tmp_path / "c.sqlite3") as journal:
        Runner(
            make_rows(4), kind="text", client=recording_client(fake, sent), ledger=Ledger(journal),
            write=lambda rows: Path("unused"), clock=Clock(now=fake.now, sleep=fake.sleep, tz=TZ),
            pacer=Pacer(delay=2.0, jitter=0, rand=lambda: 0.5), schedule=Schedule(tz=TZ),
            stop=threading.Event(), control=slow_registry,
        ).run()
        starts = [r.started_at for r in sorted(journal.records().values(), key=lambda r: r.row_number)]
    # Each start is 2 s after the last plus the one look at the registry after waking (0.25 s);
    # a wait measured from before the look before it slept 0.25 s more each time.
    assert [b - a for a, b in itertools.pairwise(starts)] == pytest.approx([2.25] * 3)
    assert len(sent) == 4
