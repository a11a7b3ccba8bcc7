"""One `campaign send`, start to finish: plan, journal, confirm, run, report.

The CLI hands in a UI object (print, prompt, progress); everything else is decided here.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
import threading
import time
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from campaign import registry
from campaign.client import (
    DEFAULT_BASE_URL,
    IbotClient,
    load_credentials,
    make_http_client,
    resolve_base_url,
    silence_http_logs,
)
from campaign.config import SendOptions
from campaign.errors import InputError
from campaign.journal import (
    Journal,
    JournalDamaged,
    Record,
    campaign_name,
    default_state_dir,
    journal_path,
    salvage,
    template_digest,
)
from campaign.pacing import (
    DAY,
    Forecast,
    Pace,
    Pacer,
    Schedule,
    forecast,
    parse_skip_days,
    parse_timezone,
    parse_window,
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
    problems,
    results_line,
    show_counts,
    show_forecast,
    show_messages,
    show_plan,
    summary,
)
from campaign.results import (
    check_results_path,
    default_results_path,
    dry_run_results_path,
    remove_stale_temp_files,
    write_results,
)
from campaign.runner import (
    MACHINE_FAILURES,
    Claims,
    Clock,
    Lane,
    Runner,
    RunReport,
    merge_journal,
    send_test,
)
from campaign.senders import Sender, assign_all, choose, parse_senders
from campaign.state import Namespace, UserState, namespace_for
from campaign.state import home as state_home
from campaign.tracking import Tracker

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


def run_send(
    opts: SendOptions,
    ui: UI,
    *,
    argv: list[str],
    clock: Clock | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    silence_http_logs()
    environ = os.environ if environ is None else environ
    cwd = Path.cwd() if cwd is None else cwd
    tz = parse_timezone(opts.timezone)
    clock = clock or Clock(tz=tz)
    clock.tz = tz
    pace = resolve_pace(opts.pace, delay=opts.delay, jitter=opts.jitter, pause_every=opts.pause_every,
                        pause_for=opts.pause_for, max_per_hour=opts.max_per_hour,
                        max_per_day=opts.max_per_day, warm_up=opts.warm_up)  # fmt: skip
    window = parse_window(opts.window) if opts.window else None
    skip_days = parse_skip_days(opts.skip_days) if opts.skip_days else frozenset()

    def new_schedule() -> Schedule:  # one per sender: each number has its own caps and pauses
        return Schedule(tz=tz, window=window, skip_days=skip_days, max_per_hour=pace.max_per_hour,
                        max_per_day=pace.max_per_day, pause_every=pace.pause_every,
                        pause_for=pace.pause_for, warm_up=pace.warm_up)  # fmt: skip

    schedule = new_schedule()
    if opts.test_to and opts.dry_run:
        raise InputError("--test-to sends one real message; it cannot be combined with --dry-run.")
    base_url = resolve_base_url(opts.base_url, environ)  # exit 2 for a bad or empty URL
    namespace = namespace_for(base_url, sandbox=opts.sandbox)
    argv = with_destination(argv, base_url)
    name = campaign_name(opts.contacts, opts.template, opts.name)
    # --state is used as given (the journal refuses another namespace's or campaign's run); the
    # default journal gets the namespace's suffix, so a rehearsal never lands in the real one.
    state = opts.state or journal_path(default_state_dir(opts.contacts) / f"{name}.sqlite3",
                                       namespace.journal_suffix)  # fmt: skip

    with ExitStack() as stack:
        history = UserState(state_home(environ))
        history.open()
        stack.callback(history.close)
        identity = f"{name}\x1f{namespace.key}\x1f{opts.contacts.resolve()}"
        journal = Journal(state, campaign=name, namespace=namespace.key, locks=history.folder / "locks",
                          identity=identity)  # fmt: skip
        recent: dict[str, str] = {}
        if opts.skip_contacted_within is not None:
            since = clock.now() - opts.skip_contacted_within * DAY
            recent = history.contacted_since(namespace.key, since, exclude_journal=str(journal.real))
        plan = plan_campaign(opts, base_url=base_url, suppressed=recent)
        results_path = opts.results or default_results_path(opts.contacts, name,
                                                            rehearsal=namespace.rehearsal)  # fmt: skip
        check_results_path(results_path, opts.contacts)
        kept = None  # a sheet that records sends, which a dry run writes beside, never over
        if opts.dry_run and dry_run_results_path(results_path) != results_path:
            kept, results_path = results_path, dry_run_results_path(results_path)
        for notice in plan.notices:
            ui.warn(f"Note: {notice}")

        if opts.test_to:
            pass  # --test-to never reads or writes any journal: the campaign is untouched
        elif opts.dry_run:
            journal.open(lock=False)
            stack.callback(journal.close)
        else:
            _refuse_cancelled(state_home(environ), journal, argv)
            stack.callback(journal.close)
            _open_journal(journal, history, plan, ui)
            removed = remove_stale_temp_files(results_path)
            if removed:
                ui.warn(f"Note: removed {removed} temporary file(s) an interrupted run left beside "
                        f"{results_path.name}.")  # fmt: skip
        if journal.db is not None:
            _report_template_change(journal, plan, opts, ui, save=not opts.dry_run)
            records = _with_history(journal, history, ui)
            merge_journal(plan.rows, records, retry_unknown=opts.retry_unknown)

        if opts.check_media and plan.kind != "text":
            _check_media(plan, ui, timeout=min(opts.timeout, 10.0))

        describe(plan, ui)
        # Credentials are optional for a dry run (its estimate then counts the number's history).
        senders, configured = _senders(opts, environ, cwd, history, required=not opts.dry_run)
        # The sender column whenever several numbers are configured (even if --sender picks one).
        several = configured > 1 or len({r.sender for r in plan.rows if r.sender}) > 1
        if len(senders) > 1:
            ui.info(f"Through {len(senders)} senders at once: {', '.join(s.label for s in senders)}.")
            # The sender each row would go through (the runner decides again as it starts).
            todo_rows = [r for r in plan.rows if r.status in SENDABLE and r.jid]
            picks = assign_all([r.jid or "" for r in todo_rows], [s.key for s in senders])
            for row, pick in zip(todo_rows, picks, strict=True):
                row.sender = senders[pick].label
        target = [results_path]

        def write(rows: list[Row]) -> Path:
            # Once the sheet was open in Excel and a copy was written, keep writing that copy
            # rather than a new timestamped file every 30 seconds.
            target[0] = write_results(target[0], plan.sheet, rows, plan.kind, senders=several)
            return target[0]

        if senders:
            _load_history(schedule, history, namespace, senders[0].key, clock)
        if opts.dry_run:
            return _dry_run(plan, opts, ui, write, schedule, clock, namespace, pace,
                            lanes=max(1, len(senders)), asked=results_path, kept=kept)  # fmt: skip
        problems(plan, ui)  # the rows that will not be sent, and the warnings, before sending
        if opts.sandbox:
            from campaign.sandbox import Sandbox

            box = stack.enter_context(Sandbox(token=SANDBOX_CREDENTIAL,
                                              instance_id=[s.instance_id for s in senders]))  # fmt: skip
            base_url = box.url
            ui.info(f"Sandbox API started at {base_url}: a rehearsal, nothing goes to WhatsApp. "
                    "Its pace runs on a short clock: the same delays, pauses, caps and quiet "
                    "hours, an hour of them in a second.")  # fmt: skip
        elif namespace.rehearsal:
            ui.info(f"Rehearsal: sending to {namespace.description}, not WhatsApp; its journal and "
                    "history are its own, so the real run later still sends to everyone.")  # fmt: skip

        def http_client() -> Any:  # one per sender: a pool of one kept-alive connection each
            return stack.enter_context(
                make_http_client(timeout=opts.timeout, connect_timeout=min(10.0, opts.timeout)))

        if opts.test_to:
            first = senders[0]  # --test-to uses the first sender
            client = IbotClient(http_client(), base_url=base_url, token=first.token,
                                instance_id=first.instance_id)  # fmt: skip
            return _test_to(plan, opts, ui, client, clock, via=first.label if several else "")
        sendable = [r for r in plan.rows if r.status in SENDABLE]
        todo = len(sendable) if opts.limit is None else min(opts.limit, len(sendable))
        skip_within = None if opts.skip_contacted_within is None else opts.skip_contacted_within * DAY
        lanes = []
        for sender in senders:
            pacer = Pacer(delay=pace.delay, jitter=pace.jitter, rand=clock.rand)
            # The interval holds across a restart, and across campaigns sending through this number.
            last = history.last_send(namespace.key, sender.key)
            if len(senders) == 1:
                last = max((t for t in (last, journal.last_request()) if t is not None), default=None)
            if last is not None:
                pacer.started(last)
            lane_schedule = schedule  # the first sender's: its history is loaded above
            if sender is not senders[0]:
                lane_schedule = new_schedule()
                _load_history(lane_schedule, history, namespace, sender.key, clock)
            client = IbotClient(http_client(), base_url=base_url, token=sender.token,
                                instance_id=sender.instance_id)  # fmt: skip
            claims = Claims(history, namespace=namespace.key, sender=sender.key, campaign=name,
                            journal=str(journal.real), skip_within=skip_within)  # fmt: skip
            lanes.append(Lane(sender.label, client, pacer, lane_schedule, claims, key=sender.key))
        if todo and not opts.yes:
            if not ui.is_interactive():
                raise InputError(
                    f"about to send {todo} message(s), but there is no terminal to confirm on. "
                    "Add --yes to send without confirmation (try --dry-run first)."
                )
            when = _estimate(todo, lanes[0].pacer, schedule, clock, lanes=len(lanes))
            show_plan(plan, ui, todo, when, namespace, clock)
            if not ui.confirm(f"Send {todo} message(s) now?"):
                ui.info("Nothing sent.")
                return 0
        forecast_ = _estimate(todo, lanes[0].pacer, schedule, clock, lanes=len(lanes))
        tracker = Tracker.start_run(
            state_home(environ), ui, name=name, journal=str(journal.real), contacts=opts.contacts,
            cwd=cwd, namespace=namespace.key, argv=argv, total=_total(plan.rows), state="running",
            start_at=None, finish=clock.now() + forecast_.seconds, results=str(results_path.resolve()),
            senders=[{"label": s.label} for s in senders],
            caps={"max_per_day": pace.max_per_day, "max_per_hour": pace.max_per_hour},
        )  # fmt: skip
        stack.callback(tracker.close_db)
        stop = threading.Event()
        ui.install_signals(stop)
        clock.sleep = _interruptible(clock, stop)
        if opts.sandbox:  # the first look: the real pace, in order, an hour of it in a second
            sends = [journal.last_request(), *(history.last_send(namespace.key, s.key) for s in senders)]
            clock.shorten(SHORT_CLOCK, resume_from=max((t for t in sends if t is not None), default=None))
        runner = Runner(
            plan.rows, kind=plan.kind, lanes=lanes, journal=journal, write=write, clock=clock,
            stop=stop, progress=tracker, limit=opts.limit, retries=opts.retries,
            max_consecutive_failures=opts.max_consecutive_failures,
            stop_outside_window=opts.stop_outside_window,
            label="rehearsal" if namespace.rehearsal else "", control=tracker.request,
        )  # fmt: skip
        report = runner.run()
        if report.stopped == "cancelled":
            for row in plan.rows:
                if row.status == "pending":
                    row.error = "cancelled"
            with contextlib.suppress(*MACHINE_FAILURES):
                report.results = write(plan.rows)
        tracker.finish(state=_final_state(report), stopped=report.stopped,
                       exit_code=int(report.exit_code),
                       results=str(report.results.resolve()) if report.results else "")  # fmt: skip
        summary(report, plan, ui, argv, clock, namespace, asked=results_path)
        return report.exit_code


def _total(rows: list[Row]) -> int:
    """The rows this campaign sends or has sent (the 'of N' in status)."""
    return sum(r.status in SENDABLE or r.status in ("sent", "failed", "unknown") for r in rows)


def _final_state(report: RunReport) -> str:
    if report.stopped == "cancelled":
        return "cancelled"
    if report.counts.get("pending", 0) or report.stopped:
        return "stopped"
    return "finished"


def _refuse_cancelled(home: Path, journal: Journal, argv: list[str]) -> None:
    """A cancelled campaign is not started again by running its command: `resume` does that."""
    db = registry.connect_readonly(home)
    if db is None:
        return
    try:
        entry = registry.by_journal(db, str(journal.real))
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


def _load_history(schedule: Schedule, history: UserState, namespace: Namespace, sender: str,
                  clock: Clock) -> None:  # fmt: skip
    """The number's sends by every campaign on this computer: caps, pauses and warm-up count them."""
    schedule.history = history.send_times(namespace.key, sender, clock.now() - DAY)
    schedule.first_send = history.first_send(namespace.key, sender)


def _with_history(journal: Journal, history: UserState, ui: UI) -> dict[str, Record]:
    """The journal's records, plus whoever this computer's send history says the campaign sent
    to and the journal does not (a replaced, deleted or quietly damaged journal).

    Only 'sent' counts here: a send the history saw start but the journal never recorded as
    'attempting' never left (the request goes out only after that commit)."""
    records = journal.records()
    missing = 0
    for jid, (outcome, at) in history.journal_sends(str(journal.real)).items():
        known = records.get(jid)
        if outcome != "sent" or (known is not None and known.status == "sent"):
            continue
        when = dt.datetime.fromtimestamp(at).astimezone().isoformat(timespec="seconds")
        records[jid] = Record(jid, 0, "sent", "", "", "", 1, at, when)
        missing += 1
    if missing:
        ui.warn(f"Note: {missing} person(s) this campaign sent to are missing from its journal "
                "(was it replaced or damaged?); this computer's send history has them, so they are "
                "not messaged again.")  # fmt: skip
    return records


def _open_journal(journal: Journal, history: UserState, plan: Plan, ui: UI) -> None:
    """Open the journal under its lock; a damaged or lost one is rebuilt, and the run stops."""
    try:
        journal.open()
        lost = not journal.records() and bool(history.journal_sends(str(journal.real)))
        why = "it is empty, but this computer's send history has sends of this campaign"
    except JournalDamaged as e:
        lost, why = True, str(e)
    if lost:
        if journal.db is not None:
            journal.db.close()
            journal.db = None
        _salvage(journal, history, plan, why)
    recovered = journal.recover()
    history.recover(str(journal.real))
    if recovered:
        ui.warn(f"{recovered} send(s) were cut off by a crash and are now 'unknown'.")


def _salvage(journal: Journal, history: UserState, plan: Plan, why: str) -> None:
    sends = history.journal_sends(str(journal.real))
    aside, read, added = salvage(journal.path, sends=sends, campaign=journal.campaign,
                                 namespace=journal.namespace)  # fmt: skip
    journal.reopen()  # the rebuilt one, still under our lock
    records = journal.records()
    reached = sum(r.status in ("sent", "unknown") for r in records.values())
    again = [r.number for r in plan.rows
             if r.status in SENDABLE and r.jid not in records]  # fmt: skip
    rows = ", ".join(map(str, again[:20])) + (f" and {len(again) - 20} more" if len(again) > 20 else "")
    would = (f"{len(again)} row(s) are recorded nowhere and will be sent: rows {rows}. If some of them "
             "already got the message, put their numbers in an opt-out file and add --suppress FILE."
             if again else "Every sendable row is recorded, so nobody gets the message twice.")  # fmt: skip
    raise InputError(
        f"--state {journal.path}: the journal could not be read ({why}). Nothing was sent. The damaged "
        f"file is kept as {aside.name}; the journal was rebuilt from {read} record(s) SQLite could "
        f"still read and {added} more from this computer's send history ({history.path}): {reached} "
        f"people are recorded as reached and will not be messaged again. Run the same command again "
        f"to carry on (add --dry-run first to see who is left). {would}"
    )


def _interruptible(clock: Clock, stop: threading.Event) -> Any:
    if clock.sleep is not time.sleep:
        return clock.sleep  # an injected sleep (tests) stays as it is

    def sleep(seconds: float) -> None:
        stop.wait(seconds)

    return sleep


def _check_media(plan: Plan, ui: UI, *, timeout: float) -> None:
    """Fetch each distinct media URL once (after the journal merge: sent rows are not fetched)."""
    from campaign.media import check_media

    urls = {r.media for r in plan.rows if r.status in SENDABLE and r.media}
    ui.info(f"Checking {len(urls)} media URL(s)...")
    bad = check_media(plan.rows, timeout=timeout)
    if bad:
        ui.warn(f"{len(bad)} media URL(s) not reachable; their rows are now invalid:")
        for url, problem in bad.items():
            ui.warn(f"  {url}: {problem}")
    else:
        ui.info(f"All {len(urls)} media URL(s) are reachable.")


def _senders(opts: SendOptions, environ: Mapping[str, str], cwd: Path, history: UserState, *,
             required: bool) -> tuple[list[Sender], int]:  # fmt: skip
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
                             SANDBOX_CREDENTIAL, SANDBOX_CREDENTIAL) for label in labels]  # fmt: skip
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
    return [replace(s, key=history.sender_id(s.instance_id)) for s in chosen], len(configured)


# What a message is made of, each kept as a digest in the journal, so a change is named rightly
# (issue 18: another media URL was reported as "the template changed").
MESSAGE_PARTS = (("kind", "the message type"), ("text", "the template"), ("media", "the media URL"))


def _report_template_change(journal: Journal, plan: Plan, opts: SendOptions, ui: UI,
                            *, save: bool) -> None:  # fmt: skip
    source = opts.message if opts.template is None else opts.template.read_text("utf-8-sig")
    parts = {"kind": str(opts.kind), "text": source or "", "media": opts.media_url or ""}
    digest = template_digest(f"{opts.kind}\n{opts.media_url or ''}\n{source}")
    before = journal.get_meta("template")
    if before is not None and before != digest:
        changed = [label for key, label in MESSAGE_PARTS
                   if journal.get_meta(f"message.{key}") not in (None, template_digest(parts[key]))]
        what = " and ".join(changed) if changed else "the message (its type, text or media URL)"
        ui.warn(f"Note: {what} changed since the last run; rows already sent keep the message they "
                "got, the rest get the new one.")  # fmt: skip
    if save and before != digest:
        journal.set_meta("template", digest)
    if save:
        for key, _label in MESSAGE_PARTS:
            if journal.get_meta(f"message.{key}") != template_digest(parts[key]):
                journal.set_meta(f"message.{key}", template_digest(parts[key]))


def _estimate(todo: int, pacer: Pacer, schedule: Schedule, clock: Clock, *, lanes: int = 1) -> Forecast:
    """When `todo` messages would be sent: pacing, pauses, caps, warm-up, window (mean jitter)."""
    return forecast(todo, mean_interval=pacer.mean_interval, schedule=schedule, start=clock.now(),
                    lanes=lanes)  # fmt: skip


def _dry_run(plan: Plan, opts: SendOptions, ui: UI, write: Any, schedule: Schedule,
             clock: Clock, namespace: Namespace, pace: Pace, *, lanes: int,
             asked: Path, kept: Path | None = None) -> int:  # fmt: skip
    if not opts.quiet:
        show_messages(plan, ui, 3)
    problems(plan, ui)
    for notice in (same_text_notice(plan.rows), empty_cell_notice(plan.rows)):
        if notice:
            ui.warn(f"Note: {notice}")
    todo = sum(r.status == "ready" for r in plan.rows)
    if opts.limit is not None:
        todo = min(todo, opts.limit)
    pacer = Pacer(delay=pace.delay, jitter=pace.jitter, rand=clock.rand)
    when = _estimate(todo, pacer, schedule, clock, lanes=lanes)
    seconds = when.seconds
    counts = count_statuses(plan.rows)
    of = f" of a rehearsal to {namespace.description}" if namespace.rehearsal else ""
    ui.info(f"Dry run{of}: nothing was sent.")
    show_counts(counts, ui)
    show_forecast(todo, when, ui, clock, verb="Sending")
    ui.info(f"Pace: {describe_pace(opts.pace, pace)} (--pace careful|standard|fast; README, Pacing).")
    path = write(plan.rows)
    ui.info(f"Results: {results_line(path, asked=asked, kept=kept)}")
    try:
        from campaign.preview import render_preview
    except ImportError:  # pragma: no cover - the preview module ships with the package
        return 0
    html = render_preview(plan.rows, kind=plan.kind, title=f"{plan.sheet.path.name}: dry run",
                          counts=counts, duration=format_duration(seconds),
                          columns=plan.sheet.columns)  # fmt: skip
    preview = path.with_name(f"{path.name.rsplit('.', 1)[0]}.preview.html")
    preview.write_text(html, encoding="utf-8")
    ui.info(f"Preview: {preview}")
    return 0


def _test_to(plan: Plan, opts: SendOptions, ui: UI, client: IbotClient, clock: Clock, *,
             via: str = "") -> int:  # fmt: skip
    result = to_jid(opts.test_to or "", opts.country)
    if result.jid is None:
        raise InputError(f"--test-to {opts.test_to!r}: {result.problem}.")
    if not any(r.status in SENDABLE for r in plan.rows):
        raise InputError("--test-to: no sendable row to take the message from.")
    row, outcome = send_test(plan.rows, kind=plan.kind, client=client, to_jid=result.jid,
                             retries=opts.retries, clock=clock)  # fmt: skip
    through = f" through sender {via}" if via else ""
    if outcome.kind == "sent":
        ui.info(f"Test message (row {row.number}'s) sent to {result.jid}{through}. The campaign is "
                "untouched.")  # fmt: skip
        return 0
    ui.warn(f"Test message to {result.jid}{through} not sent: {outcome.message}")
    return 3 if outcome.kind == "abort" else 1

