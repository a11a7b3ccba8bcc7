"""The suite's toolbox: one set of fast options, one way to run the real CLI in a subprocess, and
the small fakes that several test modules share (import them from here, not from another test).

conftest.py holds the fixtures (sheets, templates, a running sandbox, the in-process `cli`).
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import openpyxl

from campaign.client import IbotClient
from campaign.plan import Row
from campaign.sandbox import Received

SANDBOX_TOKEN = "SENTINEL-TOKEN-5f3a9c"
SANDBOX_INSTANCE = "SENTINEL-INSTANCE-77e1"

# A run with no pauses, no quiet hours, no prompt and no progress bar: what every sending test
# passes (quiet hours would make a test depend on the hour it runs at).
FAST = ("--yes", "--pace", "fast", "--delay", "0", "--jitter", "0", "--window", "any", "--quiet")
HI = ("-m", "Hi {{ name }}")


def api_env(url: str, **extra: str) -> dict[str, str]:
    """The environment of a CLI subprocess that talks to the sandbox at `url` (plus `extra`)."""
    return {**os.environ, "IBOT_TOKEN": SANDBOX_TOKEN, "IBOT_INSTANCE_ID": SANDBOX_INSTANCE,
            "IBOT_BASE_URL": url, "PYTHONUNBUFFERED": "1", **extra}


def command(*args: object) -> list[str]:
    return [sys.executable, "-m", "campaign", *(str(a) for a in args)]


def start_campaign(*args: object, cwd: Path, env: Mapping[str, str]) -> subprocess.Popen[str]:
    """`campaign ARGS` started in a subprocess, stdout and stderr merged (`.communicate()[0]`)."""
    return subprocess.Popen(command(*args), cwd=cwd, env=dict(env), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def run_campaign(*args: object, cwd: Path, env: Mapping[str, str], timeout: float = 120,
                 **options: Any) -> subprocess.CompletedProcess[str]:
    """`campaign ARGS` run to the end in a subprocess, stdout and stderr apart."""
    return subprocess.run(command(*args), cwd=cwd, env=dict(env), capture_output=True, text=True,
                          timeout=timeout, **options)


def read_results(path: Path) -> list[dict[str, str]]:
    """The results sheet as the user would read it: CSV via csv, XLSX via openpyxl."""
    if path.suffix == ".csv":
        with open(path, encoding="utf-8-sig", newline="") as f:
            return list(csv.DictReader(f))
    wb = openpyxl.load_workbook(path, read_only=True)
    rows = [[("" if c is None else c) for c in r] for r in wb.active.iter_rows(values_only=True)]
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


class Gate:
    """Holds the sandbox's reply to the k-th accepted message until released."""

    def __init__(self, k: int | None) -> None:
        self.k, self.reached, self.release = k, threading.Event(), threading.Event()

    def __call__(self, item: Received) -> None:
        if self.k is not None and item.seq == self.k:
            self.reached.set()
            self.release.wait(10)


# --- an injected clock ------------------------------------------------------------------------

TZ = ZoneInfo("Asia/Jerusalem")


class FakeTime:
    """A clock whose sleep moves time forward instantly."""

    def __init__(self, start: dt.datetime) -> None:
        self.t = start.timestamp()
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += max(0.0, seconds)


def at(*args: int) -> float:
    return dt.datetime(*args, tzinfo=TZ).timestamp()


def local(t: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(t, TZ)


def recording_client(fake: FakeTime, sent: list[tuple[float, str]]) -> IbotClient:
    def handler(request: httpx.Request) -> httpx.Response:
        sent.append((fake.now(), request.url.params["jid"]))
        fake.t += 0.3  # the API's latency counts toward the interval
        return httpx.Response(200, json={"success": True, "message": "Message sent successfully!"})

    http = httpx.Client(transport=httpx.MockTransport(handler))
    return IbotClient(http, base_url="https://api.test/v1", token="t", instance_id="i")


def make_rows(n: int, start: int = 0) -> list[Row]:
    return [Row(number=i + 2, values=(str(i),), jid=f"97250{1000000 + i}@s.whatsapp.net",
                message=f"hello {i}") for i in range(start, start + n)]


# --- templates that try to escape the sandbox or run forever ------------------------------------

ESCAPES = [
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ cycler.__init__.__globals__.os.environ['IBOT_TOKEN'] }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ first_name.__class__.__mro__ }}",
    "{{ ''|attr('__class__')|attr('__mro__') }}",
    "{{ cycler|attr('__init__')|attr('__globals__') }}",
    "{{ '{0.__class__}'.format(first_name) }}",
    "{{ '{0.__init__.__globals__}'.format(cycler) }}",
    "{{ first_name.format_map.__self__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ self.__dict__ }}",
    "{{ config }}",
    "{{ environ }}",
    "{{ request.environ }}",
    "{{ range.__globals__ }}",
    "{{ pick.__globals__ }}",
    "{{ row.__class__.__base__.__subclasses__() }}",
    "{{ dict.__base__.__subclasses__() }}",
    "{% set l = [1] %}{{ l.append(2) }}",
    "{{ dict(a=1).update(b=2) }}",
    "{{ 'x'.encode() }}",
    "{% include '/etc/passwd' %}",
    "{% extends 'base.txt' %}",
    "{% import 'os' as os %}{{ os }}",
]

RUNAWAYS = [
    "{% for i in range(10**9) %}x{% endfor %}",
    "{{ 'a' * 10**9 }}",
    "{{ 10 ** 1000000 }}",
    "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
    "{% block b %}{{ self.b() }}{% endblock %}",
    "{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}",
    "{% for i in range(9999) %}{% for j in range(9999) %}{% endfor %}{% endfor %}",
    "{% for i in range(9999) %}{% for j in range(9999) %}x{% endfor %}{% endfor %}",
    "{% set ns = namespace(s='a') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
    "{% endfor %}{{ ns.s|length }}",
    "{% set ns = namespace(s='a') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}"
    "{% endfor %}",
    "{{ 'a'|center(10**9) }}",
    "{{ 'a'.ljust(10**9) }}",
    "{{ '%0100000000d' % 1 }}",
    "{{ '%*d'|format(10**9, 1) }}",
    "{{ '{:>1000000000}'.format(1) }}",
    "{{ ('a' * 60000).replace('', 'bbbbbb') }}",
    "{{ ('a' * 60000)|replace('a', 'bbbbbb') }}",
    "{{ ('a' * 60000).join('a' * 60000) }}",
    "{{ ['a' * 60000] * 60000 }}",
    "{{ 'x'|indent(10**9, true) }}",
    "{{ [1]|batch(10**9, 'x')|list }}",
    "{{ 'a\tb'.expandtabs(10**9) }}",
    "{{ lipsum(10**6) }}",
    # Issue 19: shared containers, counted once, reached GBs through filters that print them.
    *(f"{{{{ [[[[[range(10000)|list]*6]*6]*6]*6]*6{f} }}}}" for f in ("", "|tojson", "|pprint")),
    "{% set a = range(10000)|list %}{% set b = [a, a, a, a, a, a] %}{% set c = [b, b, b, b, b, b] %}"
    "{{ c|pprint }}",
    "{% set a = range(10000)|list %}{% set b = {'x': a, 'y': a, 'z': a, 'w': a, 'v': a, 'u': a, "
    "'t': a} %}{{ b|tojson }}",
    "{{ '{}'.format([[range(10000)|list] * 6] * 6) }}",
]
# The issue's own payloads, run through the CLI under memory and time limits.
NESTED = [f"{{{{ {'[' * n}range(10000)|list{']*6' * n}{f} }}}}"
          for n, f in ((5, ""), (5, "|tojson"), (5, "|pprint"), (6, "|pprint"))]


# --- a real browser ---------------------------------------------------------------------------

# Debian's Chromium, driven by Playwright (no browser download works here): the launch flags of
# tests/test_preview.py and docs/make_screenshots.py.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def launch_chromium(pw: Any) -> Any:
    """A headless Chromium, or a skip on a developer machine without one (a failure in CI)."""
    import shutil

    import pytest
    from playwright.sync_api import Error

    def unavailable(reason: str) -> None:
        reason += " (run .ci/install-browser)"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {reason}")
        pytest.skip(reason)

    executable = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(executable).exists():
        unavailable("no chromium browser found (looked on PATH and at /usr/bin/chromium)")
    try:
        return pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
    except Error as exc:
        unavailable(f"chromium at {executable} did not start: {exc}")
