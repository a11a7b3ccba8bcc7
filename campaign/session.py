"""One `campaign send`, start to finish, in phases: settings, ledger, plan, senders and lanes,
run, report.

The CLI hands in a UI object (print, prompt, progress); everything else is decided here. The two
stores are the ledger's: this module never opens a database.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from campaign.client import (
    DEFAULT_BASE_URL,
    IbotClient,
    load_credentials,
    make_http_client,
    resolve_base_url,
    silence_http_logs,
)
from campaign.config import SendOptions
from campaign.errors import ExitCode, InputError
from campaign.pacing import (
    DAY,
    DEFAULT_WINDOW,
    Forecast,
    Pace,
    Pacer,
    Schedule,
    Window,
    forecast,
    pace_risks,
    parse_skip_days,
    parse_start_at,
    parse_timezone,
    parse_window,
    recipient_zone,
    resolve_pace,
)
from campaign.phones import to_jid
from campaign.plan import (
    SENDABLE,
    Plan,
    Row,
    count_statuses,
    empty_cell_notice,
    plan_campaign,
    same_text_notice,
)
from campaign.report import (
    describe,
    describe_pace,
    format_duration,
    phone_warnings,
    problems,
    results_line,
    show_counts,
    show_forecast,
    show_messages,
    show_plan,
    show_recent,
    summary,
)
from campaign.results import (
    check_results_path,
    default_results_path,
    dry_run_results_path,
    remove_stale_temp_files,
    write_results,
)
from campaign.runner import Clock, Lane, Runner, RunReport, send_test
from campaign.senders import Sender, assign_all, choose, parse_senders
from campaign.store import ATTEMPTING, registry
from campaign.store.ledger import MACHINE_FAILURES, Account, Ledger, Record
from campaign.store.namespaces import Namespace, namespace_for
from campaign.store.paths import campaign_name, default_journal_dir, home, journal_path
from campaign.store.repeats import WITHIN
from campaign.tracking import Tracker
from campaign.vocabulary import Status

SANDBOX_CREDENTIAL = "sandbox"
# --sandbox paces on a short clock, an hour to a second: at a minute to a second a night's quiet
# hours would still hold the README's first command for 13 minutes (issue 18). A loopback
# --base-url rehearsal is the dress rehearsal and keeps the real clock.
SHORT_CLOCK = 3600.0


class UI(Protocol):
    quiet: bool

    def info(self, text: str = "") -> None: ...
    def warn(self, text: str) -> None: ...
    def is_interactive(self) -> bool: ...
    def confirm(self, question: str) -> bool: ...
    def install_signals(self, stop: threading.Event) -> None: ...
    def start(self, total: int, interval: float, label: str = "") -> None: ...
    def advance(self, row: Row, counts: Mapping[str, int]) -> None: ...
    def waiting(self, until: float, reason: str) -> None: ...
    def note(self, text: str) -> None: ...
    def close(self) -> None: ...


@dataclass
class Settings:
    """What the options mean before any file is opened: the clock, the pace, where sends go."""

    clock: Clock
    tz: dt.tzinfo
    pace: Pace
    window: Window | None
    skip_days: frozenset[int]
    base_url: str
    namespace: Namespace
    name: str  # the campaign's identity
    journal: Path
    recipient: bool = True  # the window is each recipient's local time (--timezone recipient)
    start_at: float | None = None  # --start-at: nothing is sent before it

    def new_schedule(self) -> Schedule:
        """One per sender: each number has its own caps and pauses."""
        pace = self.pace
        return Schedule(tz=self.tz, window=self.window, skip_days=self.skip_days,
                        max_per_hour=pace.max_per_hour, max_per_day=pace.max_per_day,
                        pause_every=pace.pause_every, pause_for=pace.pause_for,
                        warm_up=pace.warm_up, recipient=self.recipient,
                        start_at=self.start_at)


def run_send(
    opts: SendOptions,
    ui: UI,
    *,
    argv: list[str],
    clock: Clock | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> ExitCode:
    silence_http_logs()
    environ = os.environ if environ is None else environ
    cwd = Path.cwd() if cwd is None else cwd
    settings = _settings(opts, environ, clock)
    argv = with_destination(argv, settings.base_url)
    with ExitStack() as stack:
        ledger = _ledger(opts, settings, environ, stack)
        plan, results_path, kept = _plan(opts, settings, ledger, ui, home=home(environ), argv=argv,
                                        environ=environ, cwd=cwd)
        # Credentials are optional for a dry run (its estimate then counts the number's history).
        senders, configured = _senders(opts, environ, cwd, ledger, required=not opts.dry_run)
        # The sender column whenever several numbers are configured (even if --sender picks one).
        several = configured > 1 or len({r.sender for r in plan.rows if r.sender}) > 1
        _show_senders(plan, senders, ui)
        target = [results_path]

        def write_rows(rows: list[Row]) -> Path:
            # Once the sheet was open in Excel and a copy was written, keep writing that copy
            # rather than a new timestamped file every 30 seconds.
            target[0] = write_results(target[0], plan.sheet, rows, plan.kind, senders=several)
            return target[0]

        schedule = settings.new_schedule()
        if senders:
            ledger.load_schedule(schedule, senders[0].key, settings.clock.now())
        if opts.dry_run:
            recent = _heard_recently(plan, ledger, [s.key for s in senders], settings.clock.now())
            return _dry_run(plan, opts, ui, write_rows, schedule, settings, lanes=max(1, len(senders)),
                            asked=results_path, kept=kept, recent=recent)
        problems(plan, ui)  # the rows that will not be sent, and the warnings, before sending
        base_url = _announce_target(opts, settings, senders, ui, stack)

        def http_client() -> Any:  # one per sender: a pool of one kept-alive connection each
            return stack.enter_context(
                make_http_client(timeout=opts.timeout, connect_timeout=min(10.0, opts.timeout)))

        if opts.test_to:
            first = senders[0]  # --test-to uses the first sender
            client = IbotClient(http_client(), base_url=base_url, token=first.token,
                                instance_id=first.instance_id)
            _short_clock(opts, ledger, [first.key], settings.clock)
            account = ledger.account(first.key, first.label, min_gap=settings.pace.delay,
                                     schedule=schedule, campaign_checks=False)
            return _test_to(plan, opts, ui, client, settings, ledger, (account, schedule),
                            via=first.label if several else "")
        lanes = _lanes(senders, settings, ledger, schedule, lambda s: IbotClient(
            http_client(), base_url=base_url, token=s.token, instance_id=s.instance_id))
        if not _confirm(plan, opts, ui, lanes, settings, ledger):
            return ExitCode.OK
        if opts.detach:
            return _detach(plan, opts, ui, ledger, lanes, settings, argv, home=home(environ), cwd=cwd,
                           results=results_path, senders=senders)
        tracker = _track(plan, opts, ui, ledger, lanes, settings, argv, home=home(environ), cwd=cwd,
                         results=results_path, senders=senders)
        stack.callback(tracker.close_db)
        return _run(plan, opts, ui, ledger, lanes, write_rows, settings, argv, tracker=tracker,
                    asked=results_path)


def _settings(opts: SendOptions, environ: Mapping[str, str], clock: Clock | None) -> Settings:
    """Phase 1: the options read, nothing opened (a bad value is exit 2 before any file)."""
    tz = parse_timezone(opts.timezone)
    clock = clock or Clock(tz=tz)
    clock.tz = tz
    pace = resolve_pace(opts.pace, delay=opts.delay, jitter=opts.jitter, pause_every=opts.pause_every,
                        pause_for=opts.pause_for, max_per_hour=opts.max_per_hour,
                        max_per_day=opts.max_per_day, warm_up=opts.warm_up)
    # Quiet hours in every preset: 09:00-20:00 in each recipient's own time unless told otherwise.
    window = DEFAULT_WINDOW if opts.window is None else parse_window(opts.window)
    skip_days = parse_skip_days(opts.skip_days) if opts.skip_days else frozenset()
    recipient = (opts.timezone or "recipient").strip().lower() == "recipient"
    start_at = None if opts.start_at is None else parse_start_at(opts.start_at, tz, clock.now())
    if opts.test_to and opts.dry_run:
        raise InputError("--test-to sends one real message; it cannot be combined with --dry-run.")
    base_url = resolve_base_url(opts.base_url, environ)  # exit 2 for a bad or empty URL
    namespace = namespace_for(base_url, sandbox=opts.sandbox)
    name = campaign_name(opts.contacts, opts.template, opts.name)
    # --state is used as given (the journal refuses another namespace's or campaign's run); the
    # default journal gets the namespace's suffix, so a rehearsal never lands in the real one.
    journal = opts.state or journal_path(default_journal_dir(opts.contacts) / f"{name}.sqlite3",
                                         namespace.journal_suffix)
    return Settings(clock, tz, pace, window, skip_days, base_url, namespace, name, journal,
                    recipient=recipient, start_at=start_at)


def _ledger(opts: SendOptions, settings: Settings, environ: Mapping[str, str],
            stack: ExitStack) -> Ledger:
    """Phase 2: the ledger, its per-user history open (the journal opens once the plan is made)."""
    namespace = settings.namespace
    skip_within = None if opts.skip_contacted_within is None else opts.skip_contacted_within * DAY
    identity = f"{settings.name}\x1f{namespace.key}\x1f{opts.contacts.resolve()}"
    ledger = Ledger.create(settings.journal, home=home(environ), campaign=settings.name,
                           namespace=namespace.key, skip_within=skip_within, identity=identity,
                           kind=opts.kind, repeat_within=None if opts.resend else WITHIN)
    stack.callback(ledger.close)
    ledger.checks.append(registry.no_request)  # `campaign pause`/`cancel`, inside each claim
    return ledger


def _plan(opts: SendOptions, settings: Settings, ledger: Ledger, ui: UI, *, home: Path,
          argv: list[str], environ: Mapping[str, str], cwd: Path
          ) -> tuple[Plan, Path, Path | None]:
    """Phase 3: the rows and their messages, with earlier runs' outcomes merged from the ledger.
    Returns the plan, where its results sheet goes, and (a dry run) the sheet it writes beside."""
    recent: dict[str, str] = {}
    if opts.skip_contacted_within is not None:
        recent = ledger.contacted_since(settings.clock.now() - opts.skip_contacted_within * DAY)
    plan = plan_campaign(opts, base_url=settings.base_url, suppressed=recent, environ=environ,
                         cwd=cwd)
    results_path = opts.results or default_results_path(opts.contacts, settings.name,
                                                         rehearsal=settings.namespace.rehearsal)
    check_results_path(results_path, opts.contacts)
    kept = None  # a sheet that records sends, which a dry run writes beside, never over
    if opts.dry_run and dry_run_results_path(results_path) != results_path:
        kept, results_path = results_path, dry_run_results_path(results_path)
    for notice in plan.notices:
        ui.warn(f"Note: {notice}")
    if opts.test_to:
        pass  # --test-to never reads or writes any journal: the campaign is untouched
    elif opts.dry_run:
        ledger.open_read_only()
    else:
        _refuse_cancelled(home, ledger.journal_id, argv)
        sendable = [(r.number, r.jid) for r in plan.rows if r.status in SENDABLE]
        recovered = ledger.open_for_send(sendable)
        if recovered:
            ui.warn(f"{recovered} send(s) were cut off by a crash and are now 'unknown'.")
        removed = remove_stale_temp_files(results_path)
        if removed:
            ui.warn(f"Note: removed {removed} temporary file(s) an interrupted run left beside "
                    f"{results_path.name}.")
    if ledger.is_open:
        _merge_ledger(plan, opts, ledger, ui)
    if not opts.test_to:
        _suppress_repeats(plan, ledger, settings.clock.now())
    if opts.check_media and plan.kind != "text":
        _check_media(plan, ui, timeout=min(opts.timeout, 10.0),
                     local_ok=settings.namespace.rehearsal)
    describe(plan, ui)
    return plan, results_path, kept


def _suppress_repeats(plan: Plan, ledger: Ledger, now: float) -> None:
    """Once per person (issue 18): a recipient who got this identical message from another
    campaign, or another journal of this one, in the last 30 days is suppressed, with when, which
    and where (not with --resend). The claim checks again, for campaigns running at once."""
    todo = [r for r in plan.rows if r.status in SENDABLE and r.jid]
    found = ledger.repeats({r.jid or "": (r.message, r.media) for r in todo}, now)
    for row in todo:
        if row.jid in found:
            row.status, row.error = Status.SUPPRESSED, found[row.jid or ""]


def _heard_recently(plan: Plan, ledger: Ledger, senders: Sequence[str], now: float) -> int:
    """How many of this run's recipients got any message through its numbers in the last day."""
    jids = [r.jid or "" for r in plan.rows if r.status in SENDABLE]
    return ledger.heard_recently(senders, jids, now)


def _merge_ledger(plan: Plan, opts: SendOptions, ledger: Ledger, ui: UI) -> None:
    source = opts.message if opts.template is None else opts.template.read_text("utf-8-sig")
    parts = {"kind": str(opts.kind), "text": source or "", "media": opts.media_url or ""}
    changed = ledger.message_changed(f"{opts.kind}\n{opts.media_url or ''}\n{source}", parts,
                                     save=not opts.dry_run)
    if changed is not None:
        labels = [label for key, label in MESSAGE_PARTS if key in changed]
        what = " and ".join(labels) if labels else "the message (its type, text or media URL)"
        ui.warn(f"Note: {what} changed since the last run; rows already sent keep the message they "
                "got, the rest get the new one.")
    records, missing = ledger.records()
    if missing:
        ui.warn(f"Note: {missing} person(s) this campaign sent to are missing from its progress file "
                "(was it replaced or damaged?); this computer's send history has them, so they are "
                "not messaged again.")
    merge_records(plan.rows, records, retry_unknown=opts.retry_unknown)


def merge_records(rows: list[Row], records: Mapping[str, Record], *, retry_unknown: bool) -> None:
    """Earlier runs' outcomes onto this run's rows, by JID (row order may have changed)."""
    for row in rows:
        rec = records.get(row.jid or "")
        if rec is None or row.status == Status.DUPLICATE:
            continue
        row.attempts = rec.attempts
        if rec.status == Status.SENT:
            row.status, row.error, row.sent_at = Status.SENT, row.warning, rec.sent_at
            row.message, row.media = rec.message, rec.media  # what they really received
            row.sender = rec.sender
        elif rec.status in (Status.UNKNOWN, ATTEMPTING) and not retry_unknown:
            row.status, row.error = Status.UNKNOWN, rec.error
            row.message, row.media, row.sender = rec.message, rec.media, rec.sender
        elif rec.status == Status.FAILED and row.status == Status.READY:
            row.error = f"earlier attempt failed: {rec.error}"


def _show_senders(plan: Plan, senders: list[Sender], ui: UI) -> None:
    """Phase 4a: with several senders, the one each row would go through (the runner decides
    again as it starts)."""
    if len(senders) <= 1:
        return
    ui.info(f"Through {len(senders)} senders at once: {', '.join(s.label for s in senders)}.")
    todo_rows = [r for r in plan.rows if r.status in SENDABLE and r.jid]
    picks = assign_all([r.jid or "" for r in todo_rows], [s.key for s in senders])
    for row, pick in zip(todo_rows, picks, strict=True):
        row.sender = senders[pick].label


def _announce_target(opts: SendOptions, settings: Settings, senders: list[Sender], ui: UI,
                     stack: ExitStack) -> str:
    """The API this run sends to: the in-process sandbox started here, a rehearsal said aloud."""
    if opts.sandbox:
        from campaign.sandbox import Sandbox

        box = stack.enter_context(Sandbox(token=SANDBOX_CREDENTIAL,
                                          instance_id=[s.instance_id for s in senders]))
        ui.info(f"Sandbox API started at {box.url}: a rehearsal, nothing goes to WhatsApp. "
                "Its pace runs on a short clock: the same delays, pauses, caps and quiet "
                "hours, an hour of them in a second.")
        return box.url
    if settings.namespace.rehearsal:
        ui.info(f"Rehearsal: sending to {settings.namespace.description}, not WhatsApp; its progress "
                "file and history are its own, so the real run later still sends to everyone.")
    return settings.base_url


def _lanes(senders: list[Sender], settings: Settings, ledger: Ledger, schedule: Schedule,
           client: Callable[[Sender], IbotClient]) -> list[Lane]:
    """Phase 4b: one lane per sender, its pacing picking up where this number last sent."""
    clock, pace = settings.clock, settings.pace
    lanes = []
    for sender in senders:
        pacer = Pacer(delay=pace.delay, jitter=pace.jitter, rand=clock.rand)
        # The interval holds across a restart, and across campaigns sending through this number.
        last = ledger.last_send(sender.key, only_sender=len(senders) == 1)
        if last is not None:
            pacer.started(last)
        lane_schedule = schedule  # the first sender's: its history is loaded already
        if sender is not senders[0]:
            lane_schedule = settings.new_schedule()
            ledger.load_schedule(lane_schedule, sender.key, clock.now())
        lanes.append(Lane(sender.label, client(sender), pacer, lane_schedule, key=sender.key))
    return lanes


def _confirm(plan: Plan, opts: SendOptions, ui: UI, lanes: list[Lane], settings: Settings,
             ledger: Ledger) -> bool:
    """Without --yes, the plan shown and a yes asked for (refused without a terminal)."""
    sendable = sum(r.status in SENDABLE for r in plan.rows)
    todo = sendable if opts.limit is None else min(opts.limit, sendable)
    if not todo or opts.yes:
        return True
    if not ui.is_interactive():
        raise InputError(
            f"about to send {todo} message(s), but there is no terminal to confirm on. "
            "Add --yes to send without confirmation (try --dry-run first)."
        )
    when = _estimate(todo, lanes[0].pacer, lanes[0].schedule, settings.clock, lanes=len(lanes),
                     rows=plan.rows)
    recent = _heard_recently(plan, ledger, [lane.key for lane in lanes], settings.clock.now())
    show_plan(plan, ui, todo, when, settings.namespace, settings.clock, recent=recent)
    risks = pace_risks(settings.pace, first_send=lanes[0].schedule.first_send,
                       now=settings.clock.now())
    for risk in risks:
        ui.warn(risk)
    if ui.confirm(_question(todo, settings.pace, opts.pace, settings.namespace, risky=bool(risks))):
        return True
    ui.info("Nothing sent.")
    return False


def _question(todo: int, pace: Pace, preset: str, namespace: Namespace, *, risky: bool) -> str:
    """The confirmation: how many, where to, at what pace, and whether against the guidance."""
    where = f"to {namespace.description}" if namespace.rehearsal else "to WhatsApp"
    against = ", faster than the guidance above" if risky else ""
    return f"Send {todo} message(s) {where} now (pace {describe_pace(preset, pace)}){against}?"


def _track(plan: Plan, opts: SendOptions, ui: UI, ledger: Ledger, lanes: list[Lane],
           settings: Settings, argv: list[str], *, home: Path, cwd: Path, results: Path,
           senders: list[Sender], pid: int | None = None) -> Tracker:
    """The run's row in the registry of campaigns (`campaign status`, pause, cancel)."""
    sendable = sum(r.status in SENDABLE for r in plan.rows)
    todo = sendable if opts.limit is None else min(opts.limit, sendable)
    clock, pace, start_at = settings.clock, settings.pace, settings.start_at
    forecast_ = _estimate(todo, lanes[0].pacer, lanes[0].schedule, clock, lanes=len(lanes),
                          rows=plan.rows)
    scheduled = start_at is not None and start_at > clock.now()
    return Tracker.start_run(
        home, ui, name=settings.name, journal=ledger.journal_id, contacts=opts.contacts,
        cwd=cwd, namespace=settings.namespace.key, argv=argv, total=_total(plan.rows),
        state="scheduled" if scheduled else "running", start_at=start_at,
        finish=clock.now() + forecast_.seconds, results=str(results.resolve()),
        senders=[{"label": s.label} for s in senders], preview=_preview_of(results),
        caps={"max_per_day": pace.max_per_day, "max_per_hour": pace.max_per_hour}, pid=pid,
    )


def _preview_of(results: Path) -> str:
    """The dry run's preview page of this campaign, when one was made."""
    for sheet in (dry_run_results_path(results), results):
        page = sheet.with_name(f"{sheet.name.rsplit('.', 1)[0]}.preview.html")
        if page.is_file():
            return str(page.resolve())
    return ""


def _detach(plan: Plan, opts: SendOptions, ui: UI, ledger: Ledger, lanes: list[Lane],
            settings: Settings, argv: list[str], *, home: Path, cwd: Path, results: Path,
            senders: list[Sender]) -> ExitCode:
    """--detach: after the plan and the confirmation, the same command goes on in a process of
    its own, in a new session, its output in a log in the per-user state."""
    from campaign import control

    tracker = _track(plan, opts, ui, ledger, lanes, settings, argv, home=home, cwd=cwd,
                     results=results, senders=senders, pid=0)
    try:
        ledger.close()  # the background run takes the journal's lock
        log = control.log_path(home, tracker.name)
        pid = control.spawn(control.pin_start(argv, settings.start_at), cwd=cwd, log=log).pid
        tracker.set_process(pid, str(log))
    finally:
        tracker.close_db()
    ui.info(f"Campaign '{tracker.name}' goes on in the background (process {pid}); this terminal "
            "can close.")
    ui.info(f"Log: {log}")
    ui.info(f"Status: campaign status {tracker.name}")
    ui.info(f"Pause: campaign pause {tracker.name}   (then: campaign resume {tracker.name})")
    return ExitCode.OK


def _run(plan: Plan, opts: SendOptions, ui: UI, ledger: Ledger, lanes: list[Lane],
         write: Callable[[list[Row]], Path], settings: Settings, argv: list[str], *,
         tracker: Tracker, asked: Path) -> ExitCode:
    """Phases 5 and 6: the runner, then the summary."""
    clock = settings.clock
    stop = threading.Event()
    ui.install_signals(stop)
    clock.sleep = _interruptible(clock, stop)
    _short_clock(opts, ledger, [lane.key for lane in lanes], clock)
    runner = Runner(
        plan.rows, kind=plan.kind, lanes=lanes, ledger=ledger, write=write, clock=clock,
        stop=stop, progress=tracker, limit=opts.limit, retries=opts.retries,
        max_consecutive_failures=opts.max_consecutive_failures,
        stop_outside_window=opts.stop_outside_window,
        label="rehearsal" if settings.namespace.rehearsal else "", control=tracker.request,
    )
    report = runner.run()
    if report.stopped == "cancelled":
        for row in plan.rows:
            if row.status == Status.PENDING:
                row.error = "cancelled"
        with contextlib.suppress(*MACHINE_FAILURES):
            report.results = write(plan.rows)
    tracker.finish(state=_final_state(report), stopped=report.stopped,
                   exit_code=int(report.exit_code),
                   results=str(report.results.resolve()) if report.results else "")
    summary(report, plan, ui, argv, clock, settings.namespace, asked=asked)
    return report.exit_code


def _total(rows: list[Row]) -> int:
    """The rows this campaign sends or has sent (the 'of N' in status)."""
    return sum(r.status in SENDABLE or r.status in (Status.SENT, Status.FAILED, Status.UNKNOWN) for r in rows)


def _final_state(report: RunReport) -> str:
    if report.stopped == "cancelled":
        return "cancelled"
    if report.counts.get(Status.PENDING, 0) or report.stopped:
        return "stopped"
    return "finished"


def _refuse_cancelled(home: Path, journal: str, argv: list[str]) -> None:
    """A cancelled campaign is not started again by running its command: `resume` does that."""
    db = registry.connect_readonly(home)
    if db is None:
        return
    try:
        entry = registry.by_journal(db, journal)
    except sqlite3.Error:
        entry = None
    finally:
        db.close()
    if entry is not None and entry.state == "cancelled":
        raise InputError(
            f"campaign '{entry.name}' was cancelled: nothing more is sent. To send the rest after "
            f"all: campaign resume {entry.name}"
        )


def with_destination(argv: list[str], base_url: str) -> list[str]:
    """The command line with where it sends: an address from IBOT_BASE_URL is not on it, and a
    resume line or `campaign resume` without it would send to WhatsApp (issue 18)."""
    if base_url == DEFAULT_BASE_URL or {"--base-url", "--sandbox"} & set(argv):
        return argv
    return [*argv, "--base-url", base_url]




def _interruptible(clock: Clock, stop: threading.Event) -> Any:
    if clock.sleep is not time.sleep:
        return clock.sleep  # an injected sleep (tests) stays as it is

    def sleep(seconds: float) -> None:
        stop.wait(seconds)

    return sleep


def _check_media(plan: Plan, ui: UI, *, timeout: float, local_ok: bool) -> None:
    """Fetch each distinct media URL once (after the journal merge: sent rows are not fetched)."""
    from campaign.media import check_media

    urls = {r.media for r in plan.rows if r.status in SENDABLE and r.media}
    ui.info(f"Checking {len(urls)} media URL(s)...")
    bad = check_media(plan.rows, timeout=timeout, local_ok=local_ok)
    if bad:
        ui.warn(f"{len(bad)} media URL(s) not reachable; their rows are now invalid:")
        for url, problem in bad.items():
            ui.warn(f"  {url}: {problem}")
    else:
        ui.info(f"All {len(urls)} media URL(s) are reachable.")


def _senders(opts: SendOptions, environ: Mapping[str, str], cwd: Path, ledger: Ledger, *,
             required: bool) -> tuple[list[Sender], int]:
    """The sender numbers of this run, each with its stable key (a digest of its instance ID).

    `--sandbox` rehearses the configured senders' lanes under their labels, with made-up IDs.
    """
    token, instance_id = load_credentials(environ, cwd)
    # load_credentials falls back to the ID for the token: then each ID is its own token.
    tokens = None if token == instance_id else token
    configured = parse_senders(instance_id, tokens) if instance_id or not opts.sandbox else []
    if opts.sandbox:
        labels = [s.label for s in configured] if len(configured) > 1 else ["sandbox"]
        configured = [Sender(label, f"{SANDBOX_CREDENTIAL}-{label}" if len(labels) > 1 else
                             SANDBOX_CREDENTIAL, SANDBOX_CREDENTIAL) for label in labels]
    if not configured:
        if required:
            raise InputError(
                "no ibot-chat credentials. Set IBOT_INSTANCE_ID (and IBOT_TOKEN, which defaults to "
                "the Instance ID) in the environment or in a .env file here; the dashboard shows "
                "the Instance ID once WhatsApp is connected. Several numbers: "
                "IBOT_INSTANCE_ID=\"shop=ID1,promo=ID2\". To rehearse without an account, add "
                "--sandbox."
            )
        return [], 0
    chosen = choose(configured, opts.sender)
    return [replace(s, key=ledger.sender_id(s.instance_id)) for s in chosen], len(configured)


# What a message is made of, each kept as a digest in the journal, so a change is named rightly
# (issue 18: another media URL was reported as "the template changed").
MESSAGE_PARTS = (("kind", "the message type"), ("text", "the template"), ("media", "the media URL"))


def _estimate(todo: int, pacer: Pacer, schedule: Schedule, clock: Clock, *, lanes: int = 1,
              rows: list[Row] | None = None) -> Forecast:
    """When `todo` messages would be sent: pacing, pauses, caps, warm-up, window (mean jitter),
    with each recipient's quiet hours in their own time zone."""
    zones: Counter[dt.tzinfo | None] = Counter()
    if schedule.recipient and (schedule.window is not None or schedule.skip_days):
        zones.update(recipient_zone(r.jid) or schedule.tz for r in rows or ()
                     if r.status in SENDABLE and r.jid)
    return forecast(todo, mean_interval=pacer.mean_interval, schedule=schedule, start=clock.now(),
                    lanes=lanes, zones=zones)


def _dry_run(plan: Plan, opts: SendOptions, ui: UI, write: Callable[[list[Row]], Path],
             schedule: Schedule, settings: Settings, *, lanes: int, asked: Path,
             kept: Path | None = None, recent: int = 0) -> ExitCode:
    clock, namespace, pace = settings.clock, settings.namespace, settings.pace
    if not opts.quiet:
        show_messages(plan, ui, 3)
    problems(plan, ui)
    for notice in (same_text_notice(plan.rows), empty_cell_notice(plan.rows)):
        if notice:
            ui.warn(f"Note: {notice}")
    todo = sum(r.status == Status.READY for r in plan.rows)
    if opts.limit is not None:
        todo = min(todo, opts.limit)
    pacer = Pacer(delay=pace.delay, jitter=pace.jitter, rand=clock.rand)
    when = _estimate(todo, pacer, schedule, clock, lanes=lanes, rows=plan.rows)
    seconds = when.seconds
    counts = count_statuses(plan.rows)
    of = f" of a rehearsal to {namespace.description}" if namespace.rehearsal else ""
    ui.info(f"Dry run{of}: nothing was sent.")
    show_counts(counts, ui)
    phone_warnings(plan, ui, status="ready")
    show_recent(recent, ui)
    show_forecast(todo, when, ui, clock, verb="Sending")
    ui.info(f"Pace: {describe_pace(opts.pace, pace)} (--pace careful|standard|fast; README, Pacing).")
    for risk in pace_risks(pace, first_send=schedule.first_send, now=clock.now()):
        ui.warn(risk)
    path = write(plan.rows)
    ui.info(f"Results: {results_line(path, asked=asked, kept=kept)}")
    from campaign.preview import render_preview

    html = render_preview(plan.rows, kind=plan.kind, title=f"{plan.sheet.path.name}: dry run",
                          counts=counts, duration=format_duration(seconds),
                          columns=plan.sheet.columns)
    preview = path.with_name(f"{path.name.rsplit('.', 1)[0]}.preview.html")
    preview.write_text(html, encoding="utf-8")
    ui.info(f"Preview: {preview}")
    return ExitCode.OK


def _test_turn(ui: UI, settings: Settings, ledger: Ledger, sender: tuple[Account, Schedule],
               jid: str, through: str) -> None:
    """Wait out the number's --delay since its last send, then claim the test send in the history;
    a cap, a pause or the window refuses it (nothing sent) with when the number may send again."""
    clock, pace = settings.clock, settings.pace
    account, schedule = sender
    pacer = Pacer(delay=pace.delay, jitter=pace.jitter, rand=clock.rand)
    told = False
    while True:
        now = clock.now()
        ledger.catch_up(account, pacer, schedule, now)
        due, reason = schedule.next_allowed(max(now, pacer.due()))
        if reason and due > now:
            when = dt.datetime.fromtimestamp(due, clock.tz).strftime("%a %d %b %H:%M")
            raise InputError(
                f"--test-to: nothing was sent{through}: {reason} (a test message counts toward the "
                f"number's pace and caps like any other). The number may send again at {when}."
            )
        if due > now:
            if not told:
                ui.info(f"Waiting {due - now:.0f} s: --delay holds since the number's last send.")
                told = True
            clock.sleep(due - now)
            continue
        claim = ledger.claim_test(account, jid, at=now)
        if claim.granted:
            return
        if claim.other_send is not None:
            pacer.started(claim.other_send)


def _short_clock(opts: SendOptions, ledger: Ledger, senders: list[str], clock: Clock) -> None:
    """--sandbox: the real pace, in order, an hour of it in a second, carrying on from the
    numbers' last sends (a short clock runs ahead of the wall clock)."""
    if opts.sandbox:
        sends = [ledger.last_send(key, only_sender=True) for key in senders]
        clock.shorten(SHORT_CLOCK, resume_from=max((t for t in sends if t is not None), default=None))


def _test_to(plan: Plan, opts: SendOptions, ui: UI, client: IbotClient, settings: Settings,
             ledger: Ledger, sender: tuple[Account, Schedule], *, via: str = "") -> ExitCode:
    """One real message to the user's own number. The campaign is untouched, but the number's
    pace and caps hold for it and count it, as for any send through the number."""
    result = to_jid(opts.test_to or "", plan.country)  # the sheet's home country (issue 17)
    if result.jid is None:
        raise InputError(f"--test-to {opts.test_to!r}: {result.problem}.")
    if not any(r.status in SENDABLE for r in plan.rows):
        raise InputError("--test-to: no sendable row to take the message from.")
    through = f" through sender {via}" if via else ""
    account = sender[0]
    _test_turn(ui, settings, ledger, sender, result.jid, through)
    clock = settings.clock
    row, outcome = send_test(plan.rows, kind=plan.kind, client=client, to_jid=result.jid,
                             retries=opts.retries, clock=clock)
    sent = {"sent": Status.SENT, "unknown": Status.UNKNOWN}.get(outcome.kind, Status.FAILED)
    ledger.settle_test(account, sent)
    if outcome.kind == "sent":
        ui.info(f"Test message (row {row.number}'s) sent to {opts.test_to}{through}. The campaign is "
                "untouched.")
        return ExitCode.OK
    ui.warn(f"Test message to {opts.test_to}{through} not sent: {outcome.message}")
    return ExitCode.ABORTED if outcome.kind == "abort" else ExitCode.ROWS_FAILED

