"""Re-create the README's docs/dashboard.png from a real run against the sandbox.

    python docs/make_dashboard_screenshot.py            # about 40 seconds
    python docs/make_dashboard_screenshot.py --width 390 --out /tmp/phone.png

Two real campaigns in a throwaway CAMPAIGN_HOME, sent by `campaign send` processes to an
in-process sandbox: "spring-sale" through two senders (two of its numbers answer "Invalid JID"),
left running, and "מבצע-חנוכה" through one, paused with the same call the Pause button makes.
Then `campaign dashboard`'s page is opened in headless Chromium and photographed, and both
campaigns are cancelled. Needs the `playwright` package and Debian's chromium (or $CHROMIUM), as
docs/make_screenshots.py does.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from campaign import control, status  # noqa: E402
from campaign.dashboard import Dashboard  # noqa: E402
from campaign.errors import CampaignError  # noqa: E402
from campaign.sandbox import Faults, Sandbox  # noqa: E402
from docs.make_screenshots import CHROMIUM_ARGS, chromium_path  # noqa: E402

FIRST = ["Dana", "Omer", "Noa", "Yossi", "Maya", "Avi", "Tamar", "Eitan", "Shira", "Ron"]
HEBREW = ["דנה", "עומר", "נועה", "יוסי", "מאיה", "אבי", "תמר", "איתן", "שירה", "רון"]
INVALID = ("972502100003", "972502100011")  # the sandbox answers "Invalid JID" for these


def write_contacts(path: Path, names: Sequence[str], n: int, first_number: int) -> Path:
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        out = csv.writer(f)
        out.writerow(["name", "phone"])
        for i in range(n):
            out.writerow([names[i % len(names)], f"0502{first_number + i:06d}"])
    return path


def start(folder: Path, contacts: Path, name: str, message: str, env: dict[str, str],
          *pace: str) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "campaign", "send", str(contacts), "-m", message, "--name", name,
            "--yes", "--quiet", "--window", "any", *pace]
    return subprocess.Popen(args, cwd=folder, env=env, stdout=subprocess.DEVNULL,
                            stderr=open(folder / f"{name}.log", "wb"))


def wait_for(check: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit("the campaigns did not get going; is the sandbox reachable?")
        time.sleep(0.2)


def sent(home: Path, name: str) -> int:
    found = [c for c in status.collect(home) if c["name"] == name]  # not there until it starts
    return int(found[0]["sent"]) if found else 0


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "dashboard.png")
    parser.add_argument("--width", type=int, default=900, help="viewport width in CSS pixels")
    args = parser.parse_args(argv)
    executable = chromium_path()
    if executable is None:
        raise SystemExit("No chromium found: run .ci/install-browser (or set $CHROMIUM).")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, Sandbox(faults=Faults(
            invalid_jids=frozenset(INVALID), latency=0.05, seed=1)) as sandbox:
        folder, home = Path(tmp) / "campaigns", Path(tmp) / "home"
        folder.mkdir()
        base = {**os.environ, "CAMPAIGN_HOME": str(home), "IBOT_BASE_URL": sandbox.url,
                "PYTHONPATH": str(ROOT)}
        os.environ["CAMPAIGN_HOME"] = str(home)
        spring = write_contacts(folder / "spring.csv", FIRST, 480, 100000)
        hanukkah = write_contacts(folder / "hanukkah.csv", HEBREW, 150, 200000)
        runs = [
            start(folder, spring, "spring-sale", "Hi {{ name }}, the spring sale starts tomorrow!",
                  {**base, "IBOT_INSTANCE_ID": "shop=shop-id,promo=promo-id",
                   "IBOT_TOKEN": "shop-token,promo-token"},
                  "--pace", "standard", "--delay", "0.5", "--jitter", "0.4", "--pause-every", "0",
                  "--max-per-day", "60"),
            start(folder, hanukkah, "מבצע-חנוכה", "שלום {{ name }}, חג שמח!",
                  {**base, "IBOT_INSTANCE_ID": "store-id", "IBOT_TOKEN": "store-token"},
                  "--pace", "standard", "--delay", "0.3", "--jitter", "0.2", "--pause-every", "0",
                  "--max-per-day", "100"),
        ]
        try:
            wait_for(lambda: sent(home, "מבצע-חנוכה") >= 36)
            print(control.request(home, "מבצע-חנוכה", "pause"))
            wait_for(lambda: sent(home, "spring-sale") >= 70)
            with Dashboard(home) as board, sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": args.width, "height": 700},
                                        device_scale_factor=2)
                page.goto(board.url)
                page.wait_for_selector('[data-name="מבצע-חנוכה"][data-state="paused"]')
                args.out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(args.out), full_page=True)
                browser.close()
            print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
        finally:
            for name in ("spring-sale", "מבצע-חנוכה"):
                with contextlib.suppress(CampaignError):  # one that never got going
                    control.request(home, name, "cancel")
            for run in runs:
                try:
                    run.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    run.kill()


if __name__ == "__main__":
    main()
