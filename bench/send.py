"""Send throughput and pacing accuracy against the local sandbox, in one process.

    python bench/send.py [--n 300] [--paced-n 100] [--paced-delay 0.05] [--rounds 3]
                         [--no-cli] [--breakdown] [--profile]

1. bare    - a plain httpx.Client sending N send-text requests one after another;
2. runner  - campaign.runner.Runner as `campaign send --delay 0 --jitter 0` builds it: real
             Journal (WAL, synchronous=FULL), IbotClient over make_http_client(), Pacer(0, 0),
             Schedule without limits, the CSV results sheet written by write_results;
3. paced   - Runner with --paced-delay and the real clock (time.time, time.sleep): first-to-last
             request start (journal) vs (n-1)*delay; once more, for information, with the
             threading.Event.wait sleep that `campaign send` really uses (session._interruptible);
4. cli     - information only: `python -m campaign send ... --delay 0 --jitter 0 --yes --quiet`
             in a subprocess (interpreter start-up included) and campaign.session.run_send
             in-process.

Rounds alternate bare/runner (order flipped each round) after a warm-up; the medians count and
the ratio is median(runner) / median(bare). --breakdown adds one instrumented runner run that
splits its time per message into the request, the ledger's claim/settle/flush (what the runner
calls) and results-sheet writes.
Every request carries a JID never used before, so the one sandbox accepts all of them (checked).
Benchmarks inform, they don't gate: the exit code is always 0.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import csv
import io
import itertools
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a clone without `pip install -e .`
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from campaign.cli import ConsoleUI  # noqa: E402
from campaign.client import IbotClient, Outcome, make_http_client, silence_http_logs  # noqa: E402
from campaign.config import SendOptions  # noqa: E402
from campaign.contacts import Sheet  # noqa: E402
from campaign.pacing import Pacer, Schedule, parse_timezone  # noqa: E402
from campaign.plan import Row  # noqa: E402
from campaign.results import write_results  # noqa: E402
from campaign.runner import Clock, Runner  # noqa: E402
from campaign.sandbox import Sandbox  # noqa: E402
from campaign.session import run_send  # noqa: E402
from campaign.store.journal import Journal  # noqa: E402
from campaign.store.ledger import Account, Claim, Ledger  # noqa: E402

TOKEN = "bench-token"
INSTANCE_ID = "bench-instance"
TEMPLATE = "שלום {{ Name }}! המבצע שלנו מחכה לך: קוד קופון AUTUMN10, בתוקף עד סוף החודש."
RATIO_TARGET = 0.5
OVERHEAD_TARGET = 2.0  # percent


def message(name: str) -> str:
    """What TEMPLATE renders to for `name`: the bare loop sends the runner's exact text."""
    return TEMPLATE.replace("{{ Name }}", name)


class Batches:
    """Hands out fresh batch numbers, so no JID is ever sent to the sandbox twice."""

    def __init__(self) -> None:
        self.next = 0

    def take(self) -> int:
        self.next += 1
        return self.next


def phone(batch: int, i: int) -> str:
    # 972 52 BBB IIII: a well-formed Israeli mobile, 12 digits, unique per (batch, i).
    return f"97252{batch:03d}{i:04d}"


def jid(batch: int, i: int) -> str:
    return f"{phone(batch, i)}@s.whatsapp.net"


def contacts(batch: int, n: int) -> list[tuple[str, str]]:
    return [(f"Person {batch}-{i}", phone(batch, i)) for i in range(n)]


def check_accepted(box: Sandbox, before: int, batch: int, n: int, what: str) -> None:
    got = box.received[before:]
    want = {jid(batch, i) for i in range(n)}
    if len(got) != n or {m.jid for m in got} != want:
        raise SystemExit(f"{what}: the sandbox accepted {len(got)} of {n} messages; "
                         "the figures would be meaningless")


# --- 1. bare httpx ---------------------------------------------------------------------------


def run_bare(box: Sandbox, n: int, batches: Batches) -> float:
    """Seconds for N sequential send-text GETs on one keep-alive httpx.Client."""
    batch = batches.take()
    people = contacts(batch, n)
    url = f"{box.url}/send-text"
    before = len(box.received)
    with httpx.Client() as http:
        t0 = time.perf_counter()
        for i, (name, _) in enumerate(people):
            params = {"token": TOKEN, "instance_id": INSTANCE_ID, "jid": jid(batch, i),
                      "msg": message(name)}
            r = http.get(url, params=params)
            if r.status_code != 200:
                raise SystemExit(f"bare: HTTP {r.status_code}")
        elapsed = time.perf_counter() - t0
    check_accepted(box, before, batch, n, "bare")
    return elapsed


# --- 2./3. the runner -------------------------------------------------------------------------


class Phases:
    """Seconds spent per phase of the runner, for --breakdown."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    @contextlib.contextmanager
    def timed(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0
            self.calls[name] = self.calls.get(name, 0) + 1


class TimedLedger(Ledger):
    """The three calls the runner makes to its ledger, timed."""

    def __init__(self, journal: Journal, phases: Phases) -> None:
        super().__init__(journal)
        self.phases = phases

    def claim(self, account: Account, jid: str, **kw: Any) -> Claim:
        with self.phases.timed("ledger.claim (commit 'attempting', full sync)"):
            return super().claim(account, jid, **kw)

    def settle(self, account: Account, jid: str, **kw: Any) -> None:
        with self.phases.timed("ledger.settle (the outcome, committed or held)"):
            super().settle(account, jid, **kw)

    def flush(self, account: Account) -> None:
        with self.phases.timed("ledger.flush (commit the held outcome)"):
            super().flush(account)


class TimedClient(IbotClient):
    def __init__(self, http: httpx.Client, phases: Phases, **kw: Any) -> None:
        super().__init__(http, **kw)
        self.phases = phases

    def send(self, kind: str, **kw: Any) -> tuple[Outcome, int]:
        with self.phases.timed("IbotClient.send (HTTP round trip)"):
            return super().send(kind, **kw)


@dataclass
class RunnerResult:
    elapsed: float  # seconds in Runner.run()
    starts: list[float]  # request start times from the journal (Runner's clock)


def campaign_rows(batches: Batches, n: int, tmp: Path, what: str) -> tuple[int, Path, Sheet, list[Row]]:
    """A fresh batch of n people as the plan would hand them to the runner, in a folder of its own."""
    batch = batches.take()
    folder = Path(tempfile.mkdtemp(prefix=f"{what}{batch}-", dir=tmp))
    people = contacts(batch, n)
    sheet = Sheet(path=folder / "contacts.csv", columns=("Name", "Phone"), rows=people,
                  numbers=list(range(2, n + 2)), header_row=1)
    rows = [Row(number=i + 2, values=p, jid=jid(batch, i), message=message(p[0]))
            for i, p in enumerate(people)]
    return batch, folder, sheet, rows


def run_runner(box: Sandbox, n: int, batches: Batches, tmp: Path, *, delay: float = 0.0,
               event_sleep: bool = False, profile: cProfile.Profile | None = None,
               phases: Phases | None = None) -> RunnerResult:
    batch, folder, sheet, rows = campaign_rows(batches, n, tmp, "runner")
    results = folder / "contacts.results.csv"

    def write(rows: list[Row]) -> Path:
        if phases is None:
            return write_results(results, sheet, rows, "text")
        with phases.timed("write_results (whole CSV sheet)"):
            return write_results(results, sheet, rows, "text")

    tz = parse_timezone(None)
    clock = Clock(tz=tz)  # time.time, time.sleep, random.random
    stop = threading.Event()
    if event_sleep:  # what session.run_send installs: a sleep that Ctrl-C cuts short
        clock.sleep = stop.wait  # type: ignore[assignment]
    journal = Journal(folder / "bench.sqlite3")
    ledger = Ledger(journal) if phases is None else TimedLedger(journal, phases)
    before = len(box.received)
    with journal, make_http_client() as http:
        journal.recover()
        credentials = {"base_url": box.url, "token": TOKEN, "instance_id": INSTANCE_ID}
        client = (IbotClient(http, **credentials) if phases is None
                  else TimedClient(http, phases, **credentials))
        runner = Runner(
            rows, kind="text", client=client, ledger=ledger, write=write, clock=clock,
            pacer=Pacer(delay=delay, jitter=0.0, rand=clock.rand), schedule=Schedule(tz=tz),
            stop=stop,
        )
        if profile is not None:
            profile.enable()
        t0 = time.perf_counter()
        report = runner.run()
        elapsed = time.perf_counter() - t0
        if profile is not None:
            profile.disable()
        assert journal.db is not None
        starts = [r[0] for r in journal.db.execute("SELECT started_at FROM requests ORDER BY id")]
    if report.exit_code != 0 or report.counts.get("sent") != n:
        raise SystemExit(f"runner: exit {report.exit_code}, counts {report.counts}")
    with open(results, encoding="utf-8-sig", newline="") as f:
        sheet_rows = list(csv.DictReader(f))
    if len(sheet_rows) != n or any(r["status"] != "sent" for r in sheet_rows):
        raise SystemExit("runner: the results sheet does not show every row sent")
    check_accepted(box, before, batch, n, "runner")
    return RunnerResult(elapsed, starts)


# --- 5. lanes: several senders at once --------------------------------------------------------

LANE_LATENCY = 0.05
LANES_TARGET = 0.8


@contextlib.contextmanager
def sandbox_process(ids: list[str], latency: float, tmp: Path) -> Iterator[str]:
    """`campaign sandbox` in a process of its own (as the real API is): yields its base URL."""
    log = tmp / f"sandbox-{len(ids)}.log"
    args = [sys.executable, "-m", "campaign", "sandbox", "--port", "0", "--latency", str(latency),
            "--token", TOKEN, *[a for iid in ids for a in ("--instance-id", iid)]]
    with open(log, "w") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        deadline = time.time() + 20
        while "/api/v1" not in log.read_text() and time.time() < deadline:
            time.sleep(0.05)
        url = log.read_text().split("Sandbox API at ", 1)[1].split()[0]
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def run_lanes(k: int, per_lane: int, batches: Batches, tmp: Path) -> float:
    """k senders against a sandbox answering in 50 ms, zero delay, as `campaign send` builds it
    (real journal and per-user history, claims, an IbotClient and an httpx.Client per sender).
    Returns the throughput as a ratio to the ideal k / 50 ms."""
    from campaign.runner import Lane
    from campaign.store.history import History

    n = k * per_lane
    _, folder, sheet, rows = campaign_rows(batches, n, tmp, f"lanes{k}")
    ids = [f"bench-instance-{i}" for i in range(k)]
    tz = parse_timezone(None)
    clock = Clock(tz=tz)
    stop = threading.Event()
    clock.sleep = stop.wait  # type: ignore[assignment]
    with sandbox_process(ids, LANE_LATENCY, folder) as url, \
            Journal(folder / "bench.sqlite3") as journal, History(folder / "home") as history, \
            contextlib.ExitStack() as stack:
        lanes = []
        for iid in ids:
            http = stack.enter_context(make_http_client())  # one per sender, as the CLI does
            key = history.sender_id(iid)
            client = IbotClient(http, base_url=url, token=TOKEN, instance_id=iid)
            lanes.append(Lane(iid[-3:], client, Pacer(delay=0, jitter=0, rand=clock.rand),
                              Schedule(tz=tz), key=key))
        ledger = Ledger(journal, history, namespace="bench", campaign="bench")
        runner = Runner(rows, kind="text", lanes=lanes, ledger=ledger, clock=clock, stop=stop,
                        write=lambda rs: write_results(folder / "r.csv", sheet, rs, "text",
                                                       senders=True))
        t0 = time.perf_counter()
        report = runner.run()
        elapsed = time.perf_counter() - t0
        stats = httpx.get(url.rsplit("/api/", 1)[0] + "/stats.json").json()
    if report.counts.get("sent") != n or stats["accepted"] != n:
        raise SystemExit(f"lanes k={k}: {report.counts}, {stats['accepted']} accepted")
    if stats["max_in_flight_per_instance"] != 1:
        raise SystemExit(f"lanes k={k}: two requests in flight for one sender")
    return (n / elapsed) / (k / LANE_LATENCY)


# --- 4. the CLI -------------------------------------------------------------------------------


def write_contacts(folder: Path, people: list[tuple[str, str]]) -> Path:
    path = folder / "contacts.csv"
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Name", "Phone"])
        w.writerows(people)
    return path


def journal_span(state: Path) -> float:
    """First to last request start, from a finished run's journal."""
    import sqlite3

    db = sqlite3.connect(state)
    try:
        first, last = db.execute("SELECT min(started_at), max(started_at) FROM requests").fetchone()
    finally:
        db.close()
    return last - first


def cli_args(path: Path, folder: Path, url: str) -> list[str]:
    # --window any: every preset keeps quiet hours, and after 20:00 the run waited for morning.
    return ["send", str(path), "-m", TEMPLATE, "--pace", "fast", "--delay", "0", "--jitter", "0",
            "--window", "any", "--yes", "--quiet", "--base-url", url,
            "--results", str(folder / "contacts.results.csv"),
            "--state", str(folder / "bench.sqlite3")]


def run_cli_subprocess(box: Sandbox, n: int, batches: Batches, tmp: Path) -> tuple[float, float]:
    """(wall seconds including interpreter start-up, first-to-last start) for `campaign send`."""
    batch = batches.take()
    folder = Path(tempfile.mkdtemp(prefix=f"cli{batch}-", dir=tmp))
    path = write_contacts(folder, contacts(batch, n))
    env = {**os.environ, "IBOT_TOKEN": TOKEN, "IBOT_INSTANCE_ID": INSTANCE_ID,
           "CAMPAIGN_HOME": str(folder / "home")}  # never the user's own per-user state
    env.pop("IBOT_BASE_URL", None)
    before = len(box.received)
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "campaign", *cli_args(path, folder, box.url)],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"cli: exit {done.returncode}\n{done.stdout}\n{done.stderr}")
    check_accepted(box, before, batch, n, "cli")
    return wall, journal_span(folder / "bench.sqlite3")


class QuietUI(ConsoleUI):
    """The CLI's own UI, minus the signal handlers (they would outlive the call here)."""

    def install_signals(self, stop: threading.Event) -> None:
        pass


def run_cli_inprocess(box: Sandbox, n: int, batches: Batches, tmp: Path) -> float:
    """Seconds for campaign.session.run_send (plan, journal, run, summary), no interpreter."""
    batch = batches.take()
    folder = Path(tempfile.mkdtemp(prefix=f"session{batch}-", dir=tmp))
    path = write_contacts(folder, contacts(batch, n))
    # The fast preset with no delay and no quiet hours, as cli_args (the standard pace pauses
    # 10 minutes after 30).
    opts = SendOptions(contacts=path, message=TEMPLATE, pace="fast", delay=0.0, jitter=0.0, window="any",
                       yes=True, quiet=True, base_url=box.url, results=folder / "contacts.results.csv",
                       state=folder / "bench.sqlite3")
    environ = {"IBOT_TOKEN": TOKEN, "IBOT_INSTANCE_ID": INSTANCE_ID, "CAMPAIGN_HOME": str(folder / "home")}
    before = len(box.received)
    out = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = run_send(opts, QuietUI(quiet=True), environ=environ, cwd=folder,
                        argv=["campaign", *cli_args(path, folder, box.url)])
    elapsed = time.perf_counter() - t0
    if code != 0:
        raise SystemExit(f"run_send: exit {code}\n{out.getvalue()}")
    check_accepted(box, before, batch, n, "run_send")
    return elapsed


# --- report -----------------------------------------------------------------------------------


@dataclass
class Paced:
    span: float  # first to last start
    overhead: float  # percent over the ideal
    gaps: str  # min / max interval, for the table


def pacing(result: RunnerResult, ideal: float) -> Paced:
    starts = result.starts
    span = starts[-1] - starts[0]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    overhead = (span - ideal) / ideal * 100 if ideal > 0 else float("nan")
    return Paced(span, overhead, f"gap min {min(gaps) * 1000:.2f} / max {max(gaps) * 1000:.2f} ms")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def table(lines: list[tuple[str, str, str, str]]) -> str:
    head = ("measure", "median", "runs", "target")
    widths = [max(len(r[c]) for r in [head, *lines]) for c in range(4)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    rule = "  ".join("-" * w for w in widths)
    return "\n".join(line.rstrip() for line in
                     [fmt.format(*head), rule, *(fmt.format(*r) for r in lines)])


def rates(n: int, seconds: list[float]) -> list[float]:
    return [n / s for s in seconds]


def runs(values: list[float], spec: str = "{:.0f}") -> str:
    return " ".join(spec.format(v) for v in values)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=300, help="messages per throughput run (300)")
    p.add_argument("--rounds", type=int, default=3, help="alternating bare/runner rounds (3)")
    p.add_argument("--paced-n", type=int, default=100, help="messages in the paced run (100)")
    p.add_argument("--paced-delay", type=float, default=0.05, help="paced --delay seconds (0.05)")
    p.add_argument("--no-cli", action="store_true", help="skip the end-to-end CLI runs")
    p.add_argument("--breakdown", action="store_true",
                   help="also time the runner's phases per message in one extra run")
    p.add_argument("--lanes", default="1,4,16", help="sender counts for the lanes figure (1,4,16)")
    p.add_argument("--lane-n", type=int, default=40, help="sends per lane in the lanes figure (40)")
    p.add_argument("--only-lanes", action="store_true", help="print only the lanes figure")
    p.add_argument("--profile", action="store_true",
                   help="also profile one runner run with cProfile and print the top entries")
    args = p.parse_args(argv)
    # Phones are 97252 BBB IIII (a valid Israeli mobile for the CLI runs): at most 9999 a run.
    n, rounds = min(max(2, args.n), 9999), max(1, args.rounds)
    silence_http_logs()
    batches = Batches()
    say: Callable[[str], None] = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731

    lane_counts = [int(k) for k in args.lanes.split(",") if k.strip()]
    if args.only_lanes:
        with tempfile.TemporaryDirectory(prefix="campaign-bench-") as tmp_name:
            print_lanes(lane_counts, args.lane_n, batches, Path(tmp_name), say)
        return 0

    with tempfile.TemporaryDirectory(prefix="campaign-bench-") as tmp_name, \
            Sandbox(token=TOKEN, instance_id=INSTANCE_ID) as box:
        tmp = Path(tmp_name)
        say(f"sandbox {box.url}; warm-up...")
        run_bare(box, 20, batches)
        run_runner(box, 20, batches, tmp)

        bare_s: list[float] = []
        runner_s: list[float] = []
        for r in range(rounds):
            order = ("bare", "runner") if r % 2 == 0 else ("runner", "bare")
            for which in order:
                if which == "bare":
                    bare_s.append(run_bare(box, n, batches))
                else:
                    runner_s.append(run_runner(box, n, batches, tmp).elapsed)
            say(f"round {r + 1}/{rounds}: bare {n / bare_s[-1]:.0f} msg/s, "
                f"runner {n / runner_s[-1]:.0f} msg/s")

        say(f"paced: {args.paced_n} sends at {args.paced_delay:g} s...")
        paced_n = min(max(2, args.paced_n), 9999)
        ideal = (paced_n - 1) * args.paced_delay
        paced = pacing(run_runner(box, paced_n, batches, tmp, delay=args.paced_delay), ideal)
        say("paced again with threading.Event.wait as the sleep (as the CLI)...")
        paced_event = pacing(run_runner(box, paced_n, batches, tmp, delay=args.paced_delay,
                                        event_sleep=True), ideal)

        cli_wall: list[float] = []
        cli_span: list[float] = []
        session_s: list[float] = []
        if not args.no_cli:
            say("cli: subprocess and in-process run_send...")
            for _ in range(rounds):
                wall, sent_span = run_cli_subprocess(box, n, batches, tmp)
                cli_wall.append(wall)
                cli_span.append(sent_span)
                session_s.append(run_cli_inprocess(box, n, batches, tmp))

        phases = None
        if args.breakdown:
            phases = Phases()
            phases_s = run_runner(box, n, batches, tmp, phases=phases).elapsed

        profile_text = ""
        if args.profile:
            prof = cProfile.Profile()
            run_runner(box, n, batches, tmp, profile=prof)
            buf = io.StringIO()
            stats = pstats.Stats(prof, stream=buf).strip_dirs()
            stats.sort_stats("tottime").print_stats(20)
            stats.sort_stats("cumulative").print_stats(25)
            profile_text = buf.getvalue()
        requests = box.requests

    bare_rate = statistics.median(rates(n, bare_s))
    runner_rate = statistics.median(rates(n, runner_s))
    ratios = [(n / r) / (n / b) for b, r in zip(bare_s, runner_s, strict=True)]
    ratio = runner_rate / bare_rate
    per_msg_extra = (1 / runner_rate - 1 / bare_rate) * 1000

    lines = [
        (f"bare httpx, {n} sends (msg/s)", f"{bare_rate:.0f}", runs(rates(n, bare_s)), ""),
        (f"runner, {n} sends (msg/s)", f"{runner_rate:.0f}", runs(rates(n, runner_s)), ""),
        ("runner extra per message (ms)", f"{per_msg_extra:.2f}", "", ""),
        ("ratio runner/bare", f"{ratio:.2f}", runs(ratios, "{:.2f}"),
         f">= {RATIO_TARGET}  {verdict(ratio >= RATIO_TARGET)}"),
        (f"paced {paced_n} x {args.paced_delay:g}s, time.sleep: first→last start (s)",
         f"{paced.span:.4f}", f"ideal {ideal:.4f}", ""),
        ("paced overhead, time.sleep (%)", f"{paced.overhead:+.2f}", paced.gaps,
         f"< {OVERHEAD_TARGET}%  {verdict(paced.overhead < OVERHEAD_TARGET)}"),
        ("paced overhead, Event.wait as the CLI (%)", f"{paced_event.overhead:+.2f}",
         paced_event.gaps, "info"),
    ]
    if cli_wall:
        cli_rate = n / statistics.median(cli_wall)
        lines += [
            (f"cli subprocess, {n} sends, incl. start-up (msg/s)", f"{cli_rate:.0f}",
             runs(rates(n, cli_wall)), f"info: {cli_rate / bare_rate:.2f} x bare"),
            ("cli subprocess wall / send phase (s)",
             f"{statistics.median(cli_wall):.2f} / {statistics.median(cli_span):.2f}",
             runs(cli_wall, "{:.2f}"), "info"),
            (f"run_send in-process, {n} sends (msg/s)",
             f"{n / statistics.median(session_s):.0f}", runs(rates(n, session_s)),
             f"info: {n / statistics.median(session_s) / bare_rate:.2f} x bare"),
        ]
    print()
    print(f"campaign send benchmark: Python {sys.version.split()[0]}, httpx {httpx.__version__}, "
          f"{os.cpu_count()} CPUs, {rounds} rounds, {requests} sandbox requests, all accepted")
    print(table(lines))
    if phases is not None:
        print(f"\nrunner breakdown, one instrumented run of {n} "
              f"({phases_s / n * 1000:.3f} ms/msg in all; bare {1000 / bare_rate:.3f} ms/msg):")
        for name, seconds in sorted(phases.seconds.items(), key=lambda kv: -kv[1]):
            print(f"  {name:<48} {seconds / n * 1000:7.3f} ms/msg  ({phases.calls[name]} calls)")
        rest = phases_s - sum(phases.seconds.values())
        print(f"  {'the rest (loop, pacing, counts)':<48} {rest / n * 1000:7.3f} ms/msg")
    if profile_text:
        print("\ncProfile of one runner run:\n" + profile_text)
    with tempfile.TemporaryDirectory(prefix="campaign-bench-") as tmp_name:
        print_lanes(lane_counts, args.lane_n, batches, Path(tmp_name), say)
    return 0


def print_lanes(counts: list[int], per_lane: int, batches: Batches, tmp: Path,
                say: Callable[[str], None]) -> None:
    """`lanes k=16 ratio 0.93`: throughput over the ideal k / 50 ms (target >= 0.8), best of 2."""
    print(f"\nlanes: k senders, {per_lane} sends each, sandbox latency {LANE_LATENCY * 1000:.0f} ms, "
          f"zero delay; ratio to the ideal k / {LANE_LATENCY:g} s (target >= {LANES_TARGET})")
    for k in counts:
        say(f"lanes k={k}...")
        ratio = max(run_lanes(k, per_lane, batches, tmp) for _ in range(2))
        print(f"lanes k={k} ratio {ratio:.2f}  {verdict(ratio >= LANES_TARGET)}", flush=True)


if __name__ == "__main__":
    try:
        main()
    except SystemExit as e:  # a broken run is reported, but never fails the caller
        if e.code not in (None, 0):
            print(f"bench: {e.code}", file=sys.stderr)
    sys.exit(0)
