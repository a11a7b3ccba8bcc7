"""`campaign status` with 100 campaigns on this computer while 4 of them send.

    python bench/status.py [--campaigns 100] [--rows 1000] [--sending 4] [--rounds 5]

Makes a throw-away CAMPAIGN_HOME with --campaigns finished campaigns (each a real journal of
--rows sends and its registry row), starts --sending real `campaign send` processes against the
sandbox (one request every 50 ms each, so their journals and the registry are written all the
time), then times `python -m campaign status` in a subprocess, interpreter start-up included, as a
user would run it (and, for information, `campaign.status.collect()` in-process). Prints the
median as `status 100 campaigns X ms`; the target is under 1000 ms. Benchmarks inform, they
don't gate: the exit code is always 0.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from campaign.sandbox import Sandbox  # noqa: E402
from campaign.store.journal import Journal  # noqa: E402
from campaign.store.registry import Entry, connect, register  # noqa: E402


def make_campaigns(home: Path, folder: Path, n: int, rows: int) -> None:
    db = connect(home)
    now = time.time()
    for i in range(n):
        path = folder / f"c{i}" / ".campaign" / f"c{i}.sqlite3"
        with Journal(path, campaign=f"c{i}") as journal:
            assert journal.db is not None
            journal.db.execute("BEGIN")
            journal.db.executemany(
                "INSERT INTO sends (jid, row_number, status, message, attempts, started_at, sent_at)"
                " VALUES (?, ?, ?, 'hi', 1, ?, '')",
                [(f"9725{j:08d}@s.whatsapp.net", j + 2, "sent" if j % 50 else "failed",
                  now - (rows - j) * 60) for j in range(rows)],
            )
            journal.db.executemany("INSERT INTO requests (jid, started_at, outcome) VALUES (?, ?, ?)",
                                   [(f"9725{j:08d}@s.whatsapp.net", now - (rows - j) * 60, "sent")
                                    for j in range(rows)])
            journal.db.execute("COMMIT")
        register(db, Entry(name=f"c{i}", journal=str(path.resolve()), campaign=f"c{i}",
                           folder=str(path.parent.parent), contacts=str(path.parent.parent / "c.csv"),
                           cwd=str(path.parent.parent), namespace="live", argv=["campaign", "send"],
                           state="finished", total=rows, started=now - i,
                           caps={"max_per_day": 300, "max_per_hour": 60}))
    db.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--campaigns", type=int, default=100)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--sending", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Sandbox(token="t", instance_id="i") as box:
        home, folder = Path(tmp) / "home", Path(tmp) / "work"
        folder.mkdir()
        env = {**os.environ, "CAMPAIGN_HOME": str(home), "IBOT_TOKEN": "t", "IBOT_INSTANCE_ID": "i",
               "IBOT_BASE_URL": box.url, "PYTHONPATH": str(ROOT)}
        began = time.perf_counter()
        make_campaigns(home, folder, args.campaigns - args.sending, args.rows)
        print(f"made {args.campaigns - args.sending} finished campaigns of {args.rows} rows in "
              f"{time.perf_counter() - began:.1f} s")
        procs = []
        for k in range(args.sending):
            sheet = folder / f"live{k}.csv"
            with open(sheet, "w", newline="") as f:
                csv.writer(f).writerows([["name", "phone"]] + [[f"p{j}", f"+9725{k}{j:07d}"]
                                                               for j in range(2000)])
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "campaign", "send", str(sheet), "-m", "Hi {{ name }}", "--yes",
                 "--quiet", "--pace", "fast", "--delay", "0.05", "--jitter", "0", "--window", "any"],
                cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        try:
            deadline = time.monotonic() + 60
            while len(box.received) < 20 * args.sending and time.monotonic() < deadline:
                time.sleep(0.1)
            cli, lib = [], []
            from campaign.status import collect

            for _ in range(args.rounds):
                t = time.perf_counter()
                out = subprocess.run([sys.executable, "-m", "campaign", "status"], env=env,
                                     capture_output=True, text=True, check=True).stdout
                cli.append(time.perf_counter() - t)
                t = time.perf_counter()
                found = collect(home)
                lib.append(time.perf_counter() - t)
            running = sum(c["state"] == "running" for c in found)
            lines = len(out.splitlines())
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(30)
    print(f"({len(found)} campaigns listed, {running} running, {lines} lines; {len(box.received)} "
          f"messages sent meanwhile; collect() in-process median {statistics.median(lib) * 1000:.0f} ms)")
    print(f"status {len(found)} campaigns {statistics.median(cli) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
