"""What a send says: the plan, the dry run's forecast, the summary, the resume command.

Plain text through a `Say` (the CLI's console, or a test's list), so the session reads as steps.
"""

from __future__ import annotations

import datetime as dt
import shlex
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Protocol

from campaign.pacing import Forecast, Pace
from campaign.plan import SENDABLE, Plan, count_statuses
from campaign.preview import person_label
from campaign.runner import Clock, RunReport
from campaign.store.namespaces import Namespace
from campaign.store.repeats import ALREADY_GOT
from campaign.vocabulary import MessageKind, Status


class Say(Protocol):
    def info(self, text: str = "") -> None: ...
    def warn(self, text: str) -> None: ...


def describe(plan: Plan, ui: Say) -> None:
    sheet = plan.sheet
    where = f" (sheet '{sheet.sheet_name}')" if sheet.sheet_name else ""
    n = len(plan.rows)
    country = f", {plan.country_line}" if plan.country_line else ""
    ui.info(f"{sheet.path.name}{where}: {n} row{'' if n == 1 else 's'}, phone column "
            f"'{plan.phone_column}', header on row {sheet.header_row}{country}.")


def problems(plan: Plan, ui: Say, shown: int = 10) -> None:
    bad = [r for r in plan.rows if r.status in (Status.INVALID, Status.DUPLICATE, Status.SUPPRESSED)]
    warned = [r for r in plan.rows if r.status == Status.READY and r.error]
    # The same problem on many rows (one dead media link for all) is said once, with its rows.
    groups: dict[tuple[str, str], list[int]] = {}
    for r in bad:
        groups.setdefault((r.status, r.error), []).append(r.number)
    lines = 0
    for (status, error), numbers in groups.items():
        if lines == shown:
            left = sum(len(n) for n in list(groups.values())[lines:])
            ui.warn(f"  ... and {left} more (see the results sheet)")
            break
        lines += 1
        if len(numbers) < 3:
            for number in numbers:
                ui.warn(f"  row {number}: {status}: {error}")
            continue
        listing = ", ".join(map(str, numbers[:8])) + (", ..." if len(numbers) > 8 else "")
        ui.warn(f"  rows {listing} ({len(numbers)} rows): {status}: {error}")
    for r in warned[:shown]:
        ui.warn(f"  row {r.number}: {r.error}")
    if len(warned) > shown:
        ui.warn(f"  ... and {len(warned) - shown} more warnings (see the results sheet)")


def show_forecast(todo: int, plan: Forecast, ui: Say, clock: Clock, *, verb: str) -> None:
    if todo == 0:  # every row is invalid, suppressed or done: no "Sending 0 would take 0s"
        ui.info("Nothing would be sent: no row is left to send (see the rows above).")
        return
    finish = dt.datetime.fromtimestamp(clock.now() + plan.seconds, clock.tz)
    ui.info(f"{verb} {todo} would take about {format_duration(plan.seconds)} "
            f"(finish ~{finish:%a %d %b %H:%M}).")
    if len(plan.days) > 1:
        shown = plan.days if len(plan.days) <= 14 else [*plan.days[:12], plan.days[-1]]
        for i, (day, n, last) in enumerate(shown):
            if i == 12 and len(plan.days) > 14:
                ui.info(f"  ... {len(plan.days) - 13} more days ...")
            end = dt.datetime.fromtimestamp(last, clock.tz)
            ui.info(f"  {day:%a %d %b}: {n} message(s), the day's last ~{end:%H:%M}")


def format_duration(seconds: float) -> str:
    seconds = round(seconds)
    d, rem = divmod(seconds, 86400)
    h, rem = divmod(rem, 3600)
    m, s = divmod(rem, 60)
    parts = [f"{d}d"] * bool(d) + [f"{h}h"] * bool(h) + [f"{m}m"] * bool(m)
    return " ".join(parts) or f"{s}s"


def show_messages(plan: Plan, ui: Say, n: int) -> None:
    shown = [r for r in plan.rows if r.status in SENDABLE][:n]
    for r in shown:
        media = f"  [{plan.kind}: {r.media}]" if plan.kind is not MessageKind.TEXT else ""
        ui.info(f"--- row {r.number} → {person_label(r, plan.sheet.columns)}{media}")
        if plan.kind.has_text:  # audio has no caption: nothing of the text is sent
            ui.info(r.message)
    if shown:
        ui.info("---")


def show_plan(plan: Plan, ui: Say, todo: int, when: Forecast, namespace: Namespace,
              clock: Clock, *, recent: int = 0) -> None:
    show_messages(plan, ui, 1)
    show_counts(count_statuses(plan.rows), ui)
    what = f"a rehearsal to {namespace.description}" if namespace.rehearsal else "WhatsApp"
    ui.info(f"{todo} message(s) to send ({what}).")
    show_recent(recent, ui)
    show_forecast(todo, when, ui, clock, verb="Sending")


def show_recent(recent: int, ui: Say) -> None:
    """How many recipients heard from these numbers in the last day: another message now may
    annoy them (and a number that messages one person often is reported)."""
    if recent:
        ui.info(f"{recent} of them got a message from these numbers in the last 24 hours "
                "(any campaign on this computer).")


def phone_warnings(plan: Plan, ui: Say, *, status: str) -> None:
    """How many rows go (or went) out with a warning about their number: the reading chosen, an
    extension dropped, a number outside the known ranges. They are in the results' `error`."""
    n = sum(1 for r in plan.rows if r.status == status and r.phone_warning)
    if n:
        verb = "would be sent" if status == "ready" else "were sent"
        ui.info(f"  {n} of them {verb} with a phone warning (see 'error' in the results): "
                "check those numbers.")


def show_counts(counts: Mapping[str, int], ui: Say) -> None:
    width = max((len(s) for s in counts), default=6)
    for status, n in counts.items():
        ui.info(f"  {status:<{width}}  {n:>6}")


def describe_pace(name: str, pace: Pace) -> str:
    parts = [f"{name}: {pace.delay:g} s + up to {pace.jitter:g} s between sends"]
    if pace.pause_every:
        parts.append(f"a {pace.pause_for / 60:g} min pause every {pace.pause_every}")
    parts += [f"at most {n} per {span}" for n, span in ((pace.max_per_hour, "hour"),
                                                        (pace.max_per_day, "day")) if n]
    if pace.warm_up:
        parts.append("warm-up on")
    return ", ".join(parts)


def summary(report: RunReport, plan: Plan, ui: Say, argv: list[str], clock: Clock,
             namespace: Namespace, *, asked: Path | None = None) -> None:
    if report.stopped:
        ui.warn(f"Stopped: {report.stopped}.")
    sent = sum(1 for r in plan.rows if r.status == Status.SENT)
    if report.attempted == 0:
        ui.info(nothing_sent(plan, namespace))
    elif namespace.rehearsal:
        ui.info(f"Rehearsal: {sent} of {len(plan.rows)} rows sent to {namespace.description}, "
                f"nothing to WhatsApp ({report.attempted} tried this run). The real run keeps "
                "its own progress file and will send to everyone.")
    else:
        ui.info(f"Sent {sent} of {len(plan.rows)} rows ({report.attempted} tried this run). Sent "
                "means accepted by the API for delivery: it gives no delivery or read receipts.")
    show_counts(report.counts, ui)
    phone_warnings(plan, ui, status="sent")
    if len(report.lanes) > 1:
        lanes_table(report, ui, clock)
    if report.results_error:
        ui.warn(f"The results sheet could not be written: {report.results_error}. The progress "
                "file has every outcome: run the same command again to write it.")
    if report.results is not None:
        ui.info(f"Results: {results_line(report.results, asked=asked)}")
    bad = [r for r in plan.rows if r.status in (Status.FAILED, Status.UNKNOWN)]
    for r in bad[:10]:
        ui.warn(f"  row {r.number}: {r.status}: {r.error}")
    if report.counts.get(Status.PENDING):
        when = ""
        if report.resume_at:
            when = f" after {dt.datetime.fromtimestamp(report.resume_at, clock.tz):%a %H:%M}"
        ui.info(f"To go on{when}, run: {resume_command(argv)}")
    if report.counts.get(Status.UNKNOWN):
        ui.info("To resend the 'unknown' rows (they may get the message twice): "
                f"{resume_command(argv)} --retry-unknown")


def nothing_sent(plan: Plan, namespace: Namespace) -> str:
    """A run that sent nothing says why in plain words (issue 18: "(0 request(s) this run)")."""
    rows = plan.rows
    sent = [r for r in rows if r.status == Status.SENT]
    already = [r for r in rows if r.status == Status.SUPPRESSED and r.error.startswith(ALREADY_GOT)]
    left = sum(r.status in (Status.READY, Status.PENDING, Status.FAILED, Status.UNKNOWN) for r in rows)
    reh = f" (a rehearsal to {namespace.description})" if namespace.rehearsal else ""
    nothing = f"Nothing sent{reh}"
    what = "rehearse" if namespace.rehearsal else "send"
    if already and not left:
        details = {r.error.removeprefix(ALREADY_GOT) for r in already}
        detail = details.pop() if len(details) == 1 else "(see the rows above)"
        if sent:
            detail = f"{on_days(r.sent_at for r in sent)} or {detail}"
        return (f"{nothing}: all {len(sent) + len(already)} already got this message {detail}; "
                f"to {what} it again: --resend.")
    if sent and not left:
        return (f"{nothing}: all {len(sent)} already got this message "
                f"{on_days(r.sent_at for r in sent)}; to {what} it again as a new campaign: "
                "--name NEW --resend.")
    if not sent and not left:
        return f"{nothing}: no row can be sent (see the rows above and the results sheet)."
    earlier = f"; {len(sent)} already got this message earlier" if sent else ""
    return f"Nothing sent this run{reh}: {left} row(s) left to send{earlier}."


def on_days(stamps: Iterable[str]) -> str:
    """`on 30 Nov`, or `between 28 Nov and 30 Nov`, from ISO 8601 `sent_at` stamps."""
    days = sorted({dt.datetime.fromisoformat(s).date() for s in stamps if s})
    if not days:
        return "earlier"
    first, last = (f"{d.day} {d:%b}" for d in (days[0], days[-1]))
    return f"on {first}" if first == last else f"between {first} and {last}"


def results_line(written: Path, *, asked: Path | None, kept: Path | None = None) -> str:
    """Where the results went, and why when it is not where they were asked for."""
    if kept is not None:
        return (f"{written} ({kept.name} records this campaign's sends, and a dry run never "
                "overwrites it)")
    if asked is not None and written != asked:
        return (f"{written} ({asked.name} is open in Excel or another program, so the results "
                "went to this copy; close it and run the same command again to update it)")
    return str(written)


def lanes_table(report: RunReport, ui: Say, clock: Clock) -> None:
    """A line per sender: what it sent, and whether the API stopped it (when and why)."""
    width = max(len("sender"), *(len(lane.label) for lane in report.lanes))
    others_went_on = not all(lane.retired for lane in report.lanes)
    ui.info(f"  {'sender':<{width}}  {'sent':>6}  {'failed':>6}  {'unknown':>7}  state")
    for lane in report.lanes:
        state = "done" if not lane.left else f"{lane.left} row(s) left for it"
        if lane.retired:
            when = dt.datetime.fromtimestamp(lane.retired_at or clock.now(), clock.tz)
            state = f"stopped at {when:%H:%M:%S}: {lane.retired}"
            if others_went_on:
                state += "; its rows went to the others"
        ui.info(f"  {lane.label:<{width}}  {lane.sent:>6}  {lane.failed:>6}  {lane.unknown:>7}  {state}")
    for lane in report.lanes:
        if lane.retired:
            ui.warn(f"Sender {lane.label} was stopped: {lane.retired}.")


# Flags the resume line leaves out: one-shot ones, and --yes, so a pasted line always shows the
# plan and asks first (issue 18: a pasted rehearsal line sent for real, unasked).
NOT_RESUMED = frozenset({"--dry-run", "--retry-unknown", "--yes", "-y"})


def resume_command(argv: list[str]) -> str:
    """The command the user ran (with its destination: `session.with_destination`), minus
    one-shot flags and --yes, so a line copied after a rehearsal rehearses again."""
    return shlex.join(["campaign", *(a for a in argv[1:] if a not in NOT_RESUMED)])
