"""Benchmark: the dry run of a 100k-row XLSX against its floor, in the same process.

The floor is what any tool must do: read the workbook (pandas + calamine) and write the same
results sheet. The dry run adds the phone column, JIDs, dedupe, rendering and checks. Machines
here are noisy, so the figure that matters is the ratio, measured alternately in one process.

    python bench/plan.py [--rows 100000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd
import xlsxwriter

from campaign.config import SendOptions
from campaign.contacts import Sheet
from campaign.plan import Row
from campaign.results import write_results
from campaign.session import run_send

TEMPLATE = "שלום {{ first_name }}! המבצע ב{{ city }} מתחיל מחר. הקופון שלך: *{{ coupon }}*"
CITIES = ["תל אביב", "Haifa", "ירושלים", "Eilat", "באר שבע", ""]


def build_xlsx(path: Path, rows: int) -> None:
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    ws = wb.add_worksheet("Contacts")
    ws.write_row(0, 0, ["First Name", "Last Name", "Phone", "City", "Coupon", "Email"])
    for i in range(rows):
        # Mixed formats like a real export; numeric cells where Excel would store numbers.
        n = 500000000 + i * 7
        phone: object = [f"0{n}", f"+972 {n}", 972000000000 + n, n][i % 4]
        ws.write_row(i + 1, 0, [f"Name{i}", "כהן", phone, CITIES[i % len(CITIES)],
                                f"C{i:06d}", f"user{i}@example.com"])
    wb.close()


class QuietUI:
    quiet = True

    def info(self, text: str = "") -> None: ...
    def warn(self, text: str) -> None: ...
    def is_interactive(self) -> bool:
        return False


def floor(path: Path, out: Path) -> float:
    t = time.perf_counter()
    frame = pd.read_excel(path, engine="calamine", dtype=str, keep_default_na=False)
    columns = tuple(frame.columns)
    values = [tuple(r) for r in frame.itertuples(index=False, name=None)]
    sheet = Sheet(path, columns, values, list(range(2, len(values) + 2)), 1)
    rows = [Row(number=i + 2, values=v, jid="972500000000@s.whatsapp.net", message=TEMPLATE)
            for i, v in enumerate(values)]
    write_results(out, sheet, rows, "text")
    return time.perf_counter() - t


def dry_run(path: Path, out: Path, state: Path) -> float:
    t = time.perf_counter()
    opts = SendOptions(contacts=path, message=TEMPLATE, dry_run=True, results=out, state=state,
                       quiet=True)
    code = run_send(opts, QuietUI(), argv=["campaign"])  # type: ignore[arg-type]
    assert code == 0
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "contacts.xlsx"
        t = time.perf_counter()
        build_xlsx(src, args.rows)
        print(f"built {args.rows:,}-row XLSX in {time.perf_counter() - t:.1f}s")
        floors, runs = [], []
        for i in range(args.rounds):  # alternate, so drift hits both alike
            floors.append(floor(src, Path(tmp) / f"floor{i}.xlsx"))
            runs.append(dry_run(src, Path(tmp) / f"dry{i}.xlsx", Path(tmp) / "state.sqlite3"))
        best_floor, best_run = min(floors), min(runs)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        ratio = best_run / best_floor
        print(f"floor (pandas+calamine read, write results): {best_floor:6.2f}s")
        print(f"campaign send --dry-run:                      {best_run:6.2f}s")
        print(f"ratio: {ratio:.2f} (target <= 1.5) {'PASS' if ratio <= 1.5 else 'FAIL'}")
        print(f"peak memory: {peak_mb:,.0f} MB (target < 1024) "
              f"{'PASS' if peak_mb < 1024 else 'FAIL'}")


if __name__ == "__main__":
    main()
