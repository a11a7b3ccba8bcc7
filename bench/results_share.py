"""Benchmark: the share of a paced run's wall time spent rewriting the results sheet.

A 100k-row campaign (XLSX results), sent by the real Runner with a real journal at the `fast`
preset's pace (8 + 7 s, the shortest waits and so the worst case). The pace is simulated: the
clock's sleeps advance simulated time instantly, while every real second spent working (above
all, writing the results sheet) is added to it, so the run's wall time is what a user would see.

    python bench/results_share.py [--rows 100000] [--sends 300]

Prints `results share X.X%` (target <= 5%), with the number and mean cost of the rewrites.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from campaign.client import Outcome
from campaign.contacts import Sheet
from campaign.pacing import Pacer, Schedule, parse_timezone
from campaign.plan import Row
from campaign.results import write_results
from campaign.runner import Clock, Runner
from campaign.store.journal import Journal
from campaign.store.ledger import Ledger

LATENCY = 0.3  # simulated seconds per API request


class SimulatedTime:
    """Simulated seconds from sleeps plus the real seconds spent working."""

    def __init__(self) -> None:
        self.slept = 0.0
        self.real0 = time.perf_counter()

    def now(self) -> float:
        return 1_800_000_000.0 + self.slept + (time.perf_counter() - self.real0)

    def sleep(self, seconds: float) -> None:
        self.slept += max(0.0, seconds)


class InstantClient:
    def __init__(self, sim: SimulatedTime) -> None:
        self.sim = sim

    def send(self, kind: str, **_: object) -> tuple[Outcome, int]:
        self.sim.sleep(LATENCY)
        return Outcome("sent", "ok"), 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000, help="rows in the campaign")
    ap.add_argument("--sends", type=int, default=300, help="messages sent in the measured run")
    args = ap.parse_args()

    columns = ("First Name", "Phone", "City", "Coupon")
    rows = [Row(number=i + 2, values=(f"Name{i}", f"0502{i:06d}", "תל אביב", f"C{i:05d}"),
                jid=f"9725020{i:05d}@s.whatsapp.net", message=f"שלום Name{i}! הקופון שלך: C{i:05d}")
            for i in range(args.rows)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sheet = Sheet(path=folder / "contacts.xlsx", columns=columns, rows=[r.values for r in rows],
                      numbers=[r.number for r in rows], header_row=1)
        writes: list[float] = []

        def write(rs: list[Row]) -> Path:
            began = time.perf_counter()
            path = write_results(folder / "contacts.results.xlsx", sheet, rs, "text")
            writes.append(time.perf_counter() - began)
            return path

        sim = SimulatedTime()
        clock = Clock(now=sim.now, sleep=sim.sleep, rand=lambda: 0.5, tz=parse_timezone("UTC"))
        with Journal(folder / "bench.sqlite3") as journal:
            runner = Runner(
                rows, kind="text", client=InstantClient(sim), ledger=Ledger(journal),  # type: ignore[arg-type]
                write=write, clock=clock, pacer=Pacer(delay=8, jitter=7, rand=clock.rand),
                schedule=Schedule(tz=clock.tz or parse_timezone("UTC")), stop=threading.Event(),
                limit=args.sends,
            )
            start = clock.now()
            report = runner.run()
            wall = clock.now() - start
    assert report.attempted == args.sends, report
    share = sum(writes) / wall
    print(f"{args.rows:,} rows, {args.sends} sends at 8 + 7 s: wall {wall / 60:.1f} min (simulated "
          f"pace + real work), {len(writes)} rewrites of {sum(writes) / len(writes):.2f} s each")
    print(f"results share {share:.1%}")


if __name__ == "__main__":
    main()
