"""Re-create the README's screenshots: docs/preview.png and docs/sandbox.png.

    python docs/make_screenshots.py            # both pages, from the demo data below
    python docs/make_screenshots.py --keep-html  # also write the .html beside each .png

Needs the `playwright` package and a Chromium (`.ci/install-browser` installs both; no browser
is downloaded by playwright itself). Uses Debian's chromium, or $CHROMIUM.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from campaign.plan import Row  # noqa: E402
from campaign.preview import render_chat, render_preview  # noqa: E402

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str | None:
    """$CHROMIUM, else chromium on PATH, else Debian's /usr/bin/chromium."""
    for candidate in (os.environ.get("CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def screenshot(pages: Sequence[tuple[str, Path]], *, width: int = 560, scale: float = 2) -> None:
    """Render each (html, png path) pair in headless Chromium as a full-page screenshot."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    if executable is None:
        raise SystemExit("No chromium found: run .ci/install-browser (or set $CHROMIUM).")
    with sync_playwright() as pw, tempfile.TemporaryDirectory() as tmp:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(
                viewport={"width": width, "height": 600}, device_scale_factor=scale
            )
            for i, (html, png) in enumerate(pages):
                source = Path(tmp) / f"page{i}.html"
                source.write_text(html, encoding="utf-8")
                page.goto(source.as_uri())
                png.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(png), full_page=True)
        finally:
            browser.close()


def _jid(number: str) -> str:
    return f"{number}@s.whatsapp.net"


def _skipped_rows() -> list[Row]:
    return [
        Row(
            6,
            ("Avi", "12345", "Eilat"),
            None,
            status="invalid",
            error="phone '12345' is not a possible number for IL",
        ),
        Row(
            7,
            ("Dana K", "0502345678", "Haifa"),
            _jid("972502345678"),
            status="duplicate",
            error="same number as row 2",
        ),
        Row(
            8,
            ("Ron", "052-111-2233", "Acre"),
            _jid("972521112233"),
            status="suppressed",
            error="on opt-out list optout.csv",
        ),
    ]


COLUMNS = ("Name", "Phone", "Branch", "Flyer")
COUNTS = {"sent": 2, "failed": 1, "invalid": 1, "duplicate": 1, "suppressed": 1}


def demo_preview_html() -> str:
    """An image campaign after a run: Hebrew and English captions, sent and failed rows,
    and the rows that will not be sent (the https images cannot load offline: a placeholder)."""
    flyer = "https://cdn.example.com/flyers/{}.jpg".format
    rows = [
        Row(
            2,
            ("דנה", "050-234-5678", "חיפה", flyer("haifa")),
            _jid("972502345678"),
            status="sent",
            media=flyer("haifa"),
            sent_at="2024-05-12T10:02:11+03:00",
            message="שלום *דנה*, המבצע בסניף חיפה מתחיל מחר ב-09:00.\nנתראה! _צוות הסניף_",
        ),
        Row(
            3,
            ("Dana", "+972 52 555 0123", "Tel Aviv", flyer("tel-aviv")),
            _jid("972525550123"),
            status="sent",
            media=flyer("tel-aviv"),
            sent_at="2024-05-12T10:02:44+03:00",
            message="Hi *Dana*, the spring sale starts tomorrow at ~10:00~ 09:00.\n"
            "Your code: ```SPRING24``` · https://example.com/sale",
        ),
        Row(
            4,
            ("Yossi", "054-777-1212", "Haifa", flyer("haifa")),
            _jid("972547771212"),
            status="failed",
            media=flyer("haifa"),
            attempts=1,
            error="API: Invalid JID",
            message="Hi *Yossi*, the spring sale starts tomorrow at 09:00.",
        ),
        *_skipped_rows(),
    ]
    return render_preview(
        rows,
        kind="image",
        title="spring-sale · contacts.xlsx",
        counts=COUNTS,
        duration="about 3 min",
        columns=COLUMNS,
    )


def demo_text_preview_html() -> str:
    """The same campaign as text messages, with a document link card row for comparison."""
    rows = [
        Row(
            2,
            ("דנה", "050-234-5678"),
            _jid("972502345678"),
            status="ready",
            message="שלום *דנה*, המבצע מתחיל מחר\nפרטים: https://example.com/sale",
        ),
        Row(
            3,
            ("Dana", "+972 52 555 0123"),
            _jid("972525550123"),
            status="ready",
            message="Hi _Dana_, ~old~ ```CODE``` and `inline`; snake_case_name, 2*3*4",
        ),
        Row(
            4,
            ("<script>alert(1)</script>", "054"),
            _jid("972547771212"),
            status="unknown",
            message="<script>alert(1)</script> <img src=x onerror=alert(2)>",
            error="read timeout: the message may have been sent",
        ),
        *_skipped_rows(),
    ]
    return render_preview(
        rows,
        kind="text",
        title="spring-sale (text)",
        counts={"ready": 2, "unknown": 1, "invalid": 1, "duplicate": 1, "suppressed": 1},
        columns=COLUMNS,
    )


@dataclass(frozen=True)
class FakeMessage:
    """What the sandbox records for each accepted request."""

    seq: int
    endpoint: str
    jid: str
    text: str
    media_url: str
    at: float


def demo_messages(now: float | None = None) -> list[Any]:
    now = 1_715_500_000.0 if now is None else now  # fixed, so a re-run gives the same PNG
    return [
        FakeMessage(
            1,
            "send-text",
            "972502345678@s.whatsapp.net",
            "שלום *דנה*, המבצע מתחיל מחר ב-09:00",
            "",
            now - 95,
        ),
        FakeMessage(
            2,
            "send-image",
            "972525550123@s.whatsapp.net",
            "Hi *Dana*, this week's flyer",
            "https://example.com/flyers/week-19.jpg",
            now - 62,
        ),
        FakeMessage(
            3,
            "send-doc",
            "972525550123@s.whatsapp.net",
            "The full _price list_",
            "https://example.com/files/price%20list%202024.pdf",
            now - 31,
        ),
        FakeMessage(
            4,
            "send-text",
            "972502345678@s.whatsapp.net",
            "נתראה! ~09:30~ 09:00 ```SPRING24```",
            "",
            now - 4,
        ),
    ]


def demo_sandbox_html(messages: Sequence[Any] | None = None) -> str:
    return render_chat(
        demo_messages() if messages is None else messages, base_url="http://127.0.0.1:8765/api/v1"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="folder for the PNGs")
    parser.add_argument("--keep-html", action="store_true", help="also write the HTML pages")
    parser.add_argument("--all", action="store_true", help="also a text-campaign preview")
    args = parser.parse_args(argv)
    pages = [
        (demo_preview_html(), args.out / "preview.png"),
        (demo_sandbox_html(), args.out / "sandbox.png"),
    ]
    if args.all:
        pages.append((demo_text_preview_html(), args.out / "preview-text.png"))
    screenshot(pages)
    for html, png in pages:
        if args.keep_html:
            png.with_suffix(".html").write_text(html, encoding="utf-8")
        print(f"wrote {png.relative_to(ROOT) if png.is_relative_to(ROOT) else png}")


if __name__ == "__main__":
    main()
