"""`campaign dashboard`: the page's content, who may use it, and what it serves."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import pytest

from campaign import status
from campaign.dashboard import Dashboard, card, day_chart, render_cards, render_page
from campaign.sandbox import Sandbox
from tests.helpers import HI, api_env, command, launch_chromium, start_campaign

NOW = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC).timestamp()
INJECTION = "<script>document.title='pwned'</script><img src=x onerror=alert(1)>"


def status_dict(name: str = "spring-sale", **over: Any) -> dict[str, Any]:
    """A dict shaped as `campaign status --json` prints one campaign."""
    base: dict[str, Any] = {
        "name": name, "folder": "/home/dana/spring", "state": "running", "sent": 120,
        "total": 400, "failed": 3, "unknown": 1, "pending": 276,
        "next_send": "2026-12-01T10:00:43+00:00", "waiting_for": "next send in 43 s",
        "finish": "2026-12-03T17:20:00+00:00",
        "senders": [{"label": "shop", "sent": 70, "failed": 2, "unknown": 1, "pending": 138},
                    {"label": "promo", "sent": 50, "failed": 1, "unknown": 0, "pending": 138}],
        "per_day": [{"date": "2026-11-30", "sent": 60, "cap": 300},
                    {"date": "2026-12-01", "sent": 60, "cap": 300}],
        "last_errors": [{"row": 7, "error": "Invalid JID"}],
        "results": None, "preview": None, "log": None,
    }
    base.update(over)
    return base


# --- what the page says ----------------------------------------------------------------------


def test_card_words_times_and_progress() -> None:
    c = card(status_dict(), NOW)
    assert c["state_word"] == "Sending"
    assert c["next_send"] == "today 10:00"  # how long is status's own words, shown beside it
    assert c["waiting_for"] == "next send in 43 s"
    assert c["finish"] == "Thu 03 Dec 17:20 (in 2d 7h 20m)"
    assert c["percent"] == "30%"
    assert [(s["key"], s["x"], s["width"]) for s in c["segments"]] == [
        ("sent", 0.0, 30.0), ("failed", 30.0, 0.75), ("unknown", 30.75, 0.25),
        ("pending", 31.0, 69.0)]
    assert c["actions"] == ["pause", "cancel"]
    assert card(status_dict(state="paused"), NOW)["actions"] == ["resume", "cancel"]
    assert card(status_dict(state="finished"), NOW)["actions"] == []
    assert c["errors"] == [{"row": 7, "error": "not a WhatsApp number, or written wrongly (Invalid JID)"}]


def test_chart_draws_each_day_against_its_cap() -> None:
    chart = day_chart([{"date": "2026-11-29", "sent": 20, "cap": 20},
                       {"date": "2026-11-30", "sent": 10, "cap": 30},
                       {"date": "2026-12-01", "sent": 30, "cap": None}])
    assert chart is not None
    heights = [b.height for b in chart.bars]
    assert heights[2] > heights[0] > heights[1] > 0
    first, second, third = chart.bars
    assert first.cap_y == first.y  # a full day: the bar reaches its cap
    assert second.cap_y is not None and second.cap_y < second.y
    assert third.cap_y is None
    assert [b.label for b in chart.bars] == ["29", "30", "1"]
    assert second.title == "Mon 30 Nov: 10 sent of 30 allowed"
    assert day_chart([]) is None
    assert len(day_chart([{"date": f"2026-11-{d:02d}", "sent": d, "cap": 50} for d in range(1, 31)]
                         ).bars) == 14


def test_every_value_from_a_campaign_is_escaped() -> None:
    evil = status_dict(INJECTION, folder=INJECTION, waiting_for=INJECTION,
                       senders=[{"label": INJECTION, "sent": 1, "failed": 0, "unknown": 0,
                                 "pending": 0}],
                       last_errors=[{"row": INJECTION, "error": INJECTION}])
    page = render_page([evil], now=NOW, csrf="TOKEN")
    assert "<img src=x" not in page
    assert re.findall(r"<script[^>]*>", page) == ['<script src="/static/dashboard.js" defer>']
    assert page.count("&lt;script&gt;document.title=") >= 6


def test_names_keep_their_direction_and_the_page_is_self_contained() -> None:
    page = render_page([status_dict("מבצע חנוכה"), status_dict("عرض الشتاء")], now=NOW, csrf="T")
    assert '<h2 dir="auto">מבצע חנוכה</h2>' in page
    assert '<h2 dir="auto">عرض الشتاء</h2>' in page
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    static = Path(__file__).parent.parent / "campaign" / "static"
    for text in (page, *(p.read_text(encoding="utf-8") for p in static.glob("dashboard.*"))):
        assert not re.search(r"https?://|@import|url\(", text)  # no CDN, no remote font


def test_each_poll_shows_the_campaigns_as_they_are_now() -> None:
    before = render_cards([status_dict(), status_dict("other")], now=NOW, csrf="T")
    after = render_cards([status_dict(sent=121, pending=275), status_dict("other")], now=NOW, csrf="T")
    first = [html.split('data-name="other"')[0] for html in (before, after)]
    assert ("<b>120</b> sent" in first[0], "<b>121</b> sent" in first[1]) == (True, True)
    assert ("<b>121</b> sent" in first[0], "<b>120</b> sent" in first[1]) == (False, False)
    assert before.split('data-name="other"')[1] == after.split('data-name="other"')[1]


def test_no_campaigns_says_how_to_start_one() -> None:
    from campaign.cli import main

    cards = render_cards([], now=NOW, csrf="T")
    assert "No campaigns yet" in cards
    example = re.search(r'<pre dir="ltr">(campaign send contacts.xlsx -t message.txt[^<]*)</pre>', cards)
    assert example, cards
    # the command it shows is one `campaign send` takes (--detach once it exists, not before)
    args = example.group(1).split()[1:]
    assert args[0] == "send" and "-t" in args
    send = main.commands["send"]
    flags = {o for p in send.params for o in getattr(p, "opts", [])}
    assert {a for a in args if a.startswith("-")} <= flags


# --- who may use it --------------------------------------------------------------------------


class Recorder:
    """Stands in for `status` and `control` in the HTTP tests of the server alone."""

    def __init__(self, campaigns: list[dict[str, Any]]) -> None:
        self.campaigns = campaigns
        self.actions: list[tuple[str, str]] = []

    def collect(self, home: Path) -> list[dict[str, Any]]:
        return self.campaigns

    def act(self, home: Path, name: str, action: str) -> str:
        self.actions.append((name, action))
        return f"{action} {name}: done"


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    results = tmp_path / "spring.results.csv"
    results.write_bytes("\ufeffName,status\nדנה,sent\n".encode())
    preview = tmp_path / "spring.preview.html"
    preview.write_text("<!doctype html><title>preview</title><p>bubbles</p>", encoding="utf-8")
    log = tmp_path / "spring.log"
    log.write_text("secret log", encoding="utf-8")
    return {"results": results, "preview": preview, "log": log}


@pytest.fixture
def recorder(files: dict[str, Path]) -> Recorder:
    return Recorder([status_dict(**{k: str(v) for k, v in files.items()})])


@pytest.fixture
def board(tmp_path: Path, recorder: Recorder) -> Iterator[Dashboard]:
    with Dashboard(tmp_path, collect=recorder.collect, act=recorder.act) as d:
        yield d


def client(board: Dashboard, *, keyed: bool = True) -> httpx.Client:
    cookies = {board.cookie_name: board.key} if keyed else {}
    return httpx.Client(base_url=board.origin, cookies=cookies, follow_redirects=False)


def post(board: Dashboard, path: str, **headers: str) -> httpx.Response:
    with client(board) as c:
        return c.post(path, headers={"X-CSRF-Token": board.csrf, **headers})


def test_the_printed_address_sets_a_cookie(board: Dashboard) -> None:
    with httpx.Client(follow_redirects=False) as c:
        first = c.get(board.url)
        assert first.status_code == 200 and "spring-sale" in first.text
        cookie = first.headers["set-cookie"]
        assert cookie == f"{board.cookie_name}={board.key}; Path=/; HttpOnly; SameSite=Strict"
        page = c.get(board.origin + "/")
    assert page.status_code == 200 and "set-cookie" not in page.headers
    assert "spring-sale" in page.text


@pytest.mark.parametrize("path", ["/", "/cards", "/status.json", "/static/dashboard.js",
                                  "/c/spring-sale/results", "/c/spring-sale/preview"])
def test_without_the_key_nothing_is_shown(board: Dashboard, path: str) -> None:
    other_port = f"campaign-dashboard-{board.port + 1}"  # another dashboard's cookie
    for cookies, params, said in (
        ({}, {}, "needs the key that `campaign dashboard` printed"),
        ({other_port: board.key}, {}, "needs the key that `campaign dashboard` printed"),
        # a key, but not this run's: a tab opened before a restart is told so
        ({}, {"key": "wrong"}, "not the one `campaign dashboard` printed when it last started"),
        ({board.cookie_name: "wrong"}, {}, "a page opened before a restart needs the new address"),
    ):
        with httpx.Client(base_url=board.origin, cookies=cookies) as c:
            reply = c.get(path, params=params)
        assert reply.status_code == 403
        assert "spring-sale" not in reply.text and "sent" not in reply.text
        assert said in reply.text


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1",
                                  "127.0.0.1:1", "localhost.evil.example:{port}", ""])
def test_another_host_is_refused_even_with_the_key(board: Dashboard, host: str) -> None:
    # DNS rebinding: a site whose name resolves to 127.0.0.1 sends its own name as Host.
    with client(board) as c:
        reply = c.get("/status.json", headers={"Host": host.format(port=board.port)})
    assert reply.status_code == 403
    assert "spring-sale" not in reply.text
    for fine in (f"127.0.0.1:{board.port}", f"localhost:{board.port}"):
        with client(board) as c:
            assert c.get("/status.json", headers={"Host": fine}).status_code == 200


def test_a_state_change_needs_the_pages_token_and_origin(board: Dashboard, recorder: Recorder) -> None:
    with client(board) as c:
        assert c.post("/c/spring-sale/pause").status_code == 403
        assert c.post("/c/spring-sale/pause", data={"csrf": "guess"}).status_code == 403
        assert c.post("/c/spring-sale/pause", headers={"X-CSRF-Token": ""}).status_code == 403
        assert c.get("/c/spring-sale/pause").status_code == 404  # GET never changes anything
    with client(board, keyed=False) as c:  # the token alone, without the key
        assert c.post("/c/spring-sale/pause", headers={"X-CSRF-Token": board.csrf}).status_code == 403
    for origin in ("http://evil.example", "null", f"http://127.0.0.1:{board.port + 1}"):
        assert post(board, "/c/spring-sale/pause", Origin=origin).status_code == 403
    assert recorder.actions == []

    ok = post(board, "/c/spring-sale/pause", Origin=board.origin)
    assert ok.status_code == 200
    assert ok.json() == {"message": "pause spring-sale: done"}
    assert recorder.actions == [("spring-sale", "pause")]


def test_the_token_is_on_the_page_and_a_plain_form_works(board: Dashboard, recorder: Recorder) -> None:
    with client(board) as c:
        page = c.get("/").text
        token = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
        assert token and token.group(1) == board.csrf
        assert f'<input type="hidden" name="csrf" value="{board.csrf}">' in page
        reply = c.post("/c/spring-sale/cancel", data={"csrf": board.csrf})
    assert (reply.status_code, reply.headers["location"]) == (303, "/")
    assert recorder.actions == [("spring-sale", "cancel")]


def test_every_reply_forbids_framing_sniffing_and_remote_sources(board: Dashboard) -> None:
    with client(board) as c:
        for reply in (c.get("/"), c.get("/cards"), c.get("/static/dashboard.css"),
                      c.get("/nothing"), client(board, keyed=False).get("/")):
            h = reply.headers
            assert "frame-ancestors 'none'" in h["content-security-policy"]
            assert "default-src 'none'" in h["content-security-policy"]
            assert "http" not in h["content-security-policy"]
            assert h["x-frame-options"] == "DENY"
            assert h["x-content-type-options"] == "nosniff"
            assert h["referrer-policy"] == "no-referrer"


def test_only_a_campaigns_preview_and_results_are_served(board: Dashboard, files: dict[str, Path]) -> None:
    with client(board) as c:
        results = c.get("/c/spring-sale/results")
        assert results.status_code == 200
        assert results.content == files["results"].read_bytes()
        assert results.headers["content-disposition"] == \
            "attachment; filename*=UTF-8''spring.results.csv"
        preview = c.get("/c/spring-sale/preview")
        assert preview.text == files["preview"].read_text(encoding="utf-8")
        assert "sandbox" in preview.headers["content-security-policy"]  # no script, own origin
        for path in ("/c/spring-sale/log", "/c/spring-sale/journal", "/c/nobody/results",
                     "/c/spring-sale/../../etc/passwd", "/c/..%2F..%2Fetc%2Fpasswd/results",
                     f"/c/{files['log']}/results", "/static/../dashboard.py", "/static/x.js"):
            reply = c.get(path)
            assert reply.status_code == 404, path
            assert "secret log" not in reply.text


def test_an_action_the_campaign_refuses_is_said(tmp_path: Path) -> None:
    from campaign.errors import InputError

    def refuse(home: Path, name: str, action: str) -> str:
        raise InputError(f"'{name}' has finished: there is nothing left to cancel.")

    with Dashboard(tmp_path, collect=lambda home: [status_dict(state="finished")], act=refuse) as board:
        reply = post(board, "/c/spring-sale/cancel")
    assert reply.status_code == 409
    assert reply.json() == {"error": "'spring-sale' has finished: there is nothing left to cancel."}


# --- in a real browser -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is not installed (run .ci/install-browser)")
    with sync_playwright() as pw:
        chromium = launch_chromium(pw)
        yield chromium
        chromium.close()


def test_the_address_opened_from_another_page_works_and_loses_its_key(browser: Any, tmp_path: Path) -> None:
    from campaign.dashboard import _opener

    with Dashboard(tmp_path, collect=lambda home: [status_dict()]) as board:
        # what --open hands the browser: a file of this user's that forwards to the address (a
        # cross-site start, after which the browser withholds SameSite=Strict cookies)
        forward = _opener(board.url)
        page = browser.new_page()
        try:
            page.goto(forward.as_uri())
            page.locator('article[data-name="spring-sale"]').wait_for(timeout=10_000)
            page.wait_for_url(f"{board.origin}/", timeout=5_000)  # the key is out of the address bar
            assert board.key not in page.url
            page.locator("#live").filter(has_text="live ·").wait_for(timeout=10_000)  # polls work
        finally:
            page.close()
            forward.unlink()
            forward.parent.rmdir()


def test_on_a_phone_nothing_overflows_and_names_read_right_to_left(browser: Any, tmp_path: Path) -> None:
    campaigns = [status_dict("מבצע חנוכה לכל הלקוחות בצפון", state="paused"),
                 status_dict("عرض الشتاء", folder="/home/dana/" + "x" * 120),
                 status_dict(INJECTION, last_errors=[{"row": 9, "error": INJECTION * 3}])]
    with Dashboard(tmp_path, collect=lambda home: campaigns) as board:
        page = browser.new_page(viewport={"width": 360, "height": 740}, device_scale_factor=1)
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(board.url)
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        direction = "e => getComputedStyle(e).direction"
        assert page.eval_on_selector(f'[data-name="{campaigns[0]["name"]}"] h2', direction) == "rtl"
        assert page.eval_on_selector(f'[data-name="{campaigns[1]["name"]}"] h2', direction) == "rtl"
        assert "pwned" not in page.title()
        assert page.evaluate("document.querySelectorAll('img').length") == 0
        assert page.locator(".card h2").nth(2).inner_text() == INJECTION
        page.close()
        assert {r.split("/", 3)[2] for r in requests} == {f"127.0.0.1:{board.port}"}  # no CDN


def people(n: int) -> list[list[str]]:
    return [["name", "phone"], *([f"Guest {i}", f"0502{100000 + i:06d}"] for i in range(n))]


def wait_until(check: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.mark.slow
def test_the_page_follows_a_running_campaign_and_steers_it(
    browser: Any, sandbox: Sandbox, write_csv: Any, tmp_path: Path, campaign_home: Path
) -> None:
    contacts = write_csv(people(400))
    run = start_campaign("send", contacts, *HI, "--name", "live", "--yes", "--pace", "fast",
                         "--delay", "0.25", "--jitter", "0", "--window", "any", "--quiet",
                         cwd=tmp_path, env=api_env(sandbox.url))
    try:
        wait_until(lambda: len(sandbox.received) >= 2)
        with Dashboard(campaign_home) as board:
            page = browser.new_page()
            page.goto(board.url)
            page.evaluate("window.sameDocument = true")  # gone if the page reloads
            card = '[data-name="live"]'

            def shown(what: str) -> int:
                return int(page.inner_text(f'{card} [data-count="{what}"]').split()[0].replace(",", ""))

            assert page.inner_text(f"{card} [data-role=state]") == "Sending"
            first = shown("sent")
            # Only what changed is replaced: the name and the buttons stay the same elements
            # (no flicker; a focused button keeps its focus).
            page.evaluate(f"""() => {{ document.querySelector('{card} [data-key=head]').kept = 1;
                document.querySelector('{card} [data-key=foot]').kept = 1; }}""")
            page.wait_for_function(f"""() => Number(document.querySelector('{card} [data-count="sent"] b')
                .textContent.replace(/,/g, '')) >= {first + 3}""", timeout=20_000)
            assert page.evaluate(f"""() => [document.querySelector('{card} [data-key=head]').kept,
                document.querySelector('{card} [data-key=foot]').kept]""") == [1, 1]

            page.click(f"{card} button[data-action=pause]")
            page.wait_for_selector(f"{card}[data-state=paused]", timeout=10_000)
            assert "Pausing 'live'" in page.inner_text("#notice")
            time.sleep(1)  # the send in flight finishes and is recorded
            paused_at = len(sandbox.received)
            time.sleep(2.5)
            assert len(sandbox.received) == paused_at  # no request while paused
            page.wait_for_function(f"""() => document.querySelector('{card} [data-count="sent"] b')
                .textContent.replace(/,/g, '') == '{paused_at}'""", timeout=10_000)

            page.click(f"{card} button[data-action=resume]")
            wait_until(lambda: len(sandbox.received) >= paused_at + 3)
            page.wait_for_selector(f"{card}[data-state=running], {card}[data-state=waiting]")

            asked: list[str] = []
            page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
            page.click(f"{card} button[data-action=cancel]")
            assert asked and asked[0].startswith("Cancel live for good?")
            going = len(sandbox.received)
            wait_until(lambda: len(sandbox.received) >= going + 2)  # not cancelled: still sending

            page.once("dialog", lambda d: d.accept())
            page.click(f"{card} button[data-action=cancel]")
            page.wait_for_selector(f"{card}[data-state=cancelled]", timeout=10_000)
            assert run.wait(timeout=20) is not None  # the run ends
            cancelled_at = len(sandbox.received)
            time.sleep(1.5)
            assert len(sandbox.received) == cancelled_at
            assert page.evaluate("window.sameDocument") is True  # all of it without a reload
            page.close()
    finally:
        if run.poll() is None:
            run.kill()
        run.communicate()


@pytest.mark.slow
def test_refused_requests_change_nothing_in_a_real_run(
    sandbox: Sandbox, write_csv: Any, tmp_path: Path, campaign_home: Path
) -> None:
    contacts = write_csv(people(400))
    run = start_campaign("send", contacts, *HI, "--name", "guarded", "--yes", "--pace", "fast",
                         "--delay", "0.2", "--jitter", "0", "--window", "any", "--quiet",
                         cwd=tmp_path, env=api_env(sandbox.url))
    try:
        wait_until(lambda: len(sandbox.received) >= 1)
        with Dashboard(campaign_home) as board:
            keyed = {board.cookie_name: board.key}
            token = {"X-CSRF-Token": board.csrf}
            attempts = [
                ({}, token),  # no key
                (keyed, {}),  # no token
                (keyed, {"X-CSRF-Token": "forged"}),
                (keyed, {**token, "Origin": "http://evil.example"}),
                (keyed, {**token, "Host": f"evil.example:{board.port}"}),  # DNS rebinding
            ]
            for cookies, headers in attempts:
                for action in ("pause", "cancel"):
                    with httpx.Client(base_url=board.origin, cookies=cookies) as c:
                        assert c.post(f"/c/guarded/{action}", headers=headers).status_code == 403
            before = len(sandbox.received)
            wait_until(lambda: len(sandbox.received) >= before + 3)  # it went on sending
            assert status.collect(campaign_home, name="guarded")[0]["state"] in ("running", "waiting")

            assert post(board, "/c/guarded/cancel", Origin=board.origin).status_code == 200
            # Its last send may still be under way: "cancelling" until the process has ended.
            assert status.collect(campaign_home, name="guarded")[0]["state"] in ("cancelling",
                                                                                  "cancelled")
        run.wait(timeout=20)
        assert status.collect(campaign_home, name="guarded")[0]["state"] == "cancelled"
    finally:
        if run.poll() is None:
            run.kill()
        run.communicate()


def test_the_command_prints_its_keyed_address(campaign_home: Path, tmp_path: Path) -> None:
    proc = subprocess.Popen(command("dashboard", "--port", "0"), cwd=tmp_path, env=dict(os.environ),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        found = re.fullmatch(r"Dashboard: (http://127\.0\.0\.1:\d+/)\?key=([\w-]{32})\n", first)
        assert found, first
        assert "Ctrl-C to stop" in proc.stdout.readline()
        with httpx.Client(follow_redirects=True) as c:
            assert c.get(found.group(1)).status_code == 403
            page = c.get(first.split(" ", 1)[1].strip())
        assert page.status_code == 200 and "No campaigns yet" in page.text
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0


def test_open_hands_the_keyed_address_to_the_browser(campaign_home: Path, tmp_path: Path) -> None:
    opened = tmp_path / "opened.txt"
    browser_cmd = f"{sys.executable} -c \"import sys; open(sys.argv[1], 'w').write(sys.argv[2])\" {opened} %s"
    proc = subprocess.Popen(command("dashboard", "--port", "0", "--open"), cwd=tmp_path,
                            env={**os.environ, "BROWSER": browser_cmd}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        address = proc.stdout.readline().split(" ", 1)[1].strip()
        wait_until(lambda: opened.exists() and opened.read_text() != "", timeout=10)
        # the browser's command line (readable by every user: ps) holds no key, only a page of
        # this user's own that forwards to the keyed address
        handed = opened.read_text()
        assert handed.startswith("file://") and "key=" not in handed
        forward = Path(unquote(urlsplit(handed).path))
        assert (forward.stat().st_mode & 0o777, forward.parent.stat().st_mode & 0o777) == (0o600, 0o700)
        text = forward.read_text(encoding="utf-8")
        assert f'<meta http-equiv="refresh" content="0;url={address}">' in text
        assert '<meta name="referrer" content="no-referrer">' in text
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
    assert not forward.exists()  # gone with the dashboard, its key with it


def test_a_busy_port_is_said_with_the_fix(cli: Any) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("dashboard", "--port", port)
    assert result.exit_code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
    assert "Pick another --port (0: any free port)." in result.output


def test_a_malformed_post_is_refused_and_changes_nothing(board: Dashboard, recorder: Recorder) -> None:
    for length in ("-1", "abc", str(10**9)):
        with socket.create_connection(("127.0.0.1", board.port), timeout=5) as raw:
            raw.sendall(f"POST /c/spring-sale/cancel HTTP/1.1\r\nHost: 127.0.0.1:{board.port}\r\n"
                        f"Cookie: {board.cookie_name}={board.key}\r\nX-CSRF-Token: {board.csrf}\r\n"
                        f"Content-Length: {length}\r\n\r\n".encode())
            assert raw.recv(100).startswith(b"HTTP/1.1 413")
    assert recorder.actions == []


# --- the red team's requests -----------------------------------------------------------------


def raw(board: Dashboard, request: bytes) -> str:
    """What the server answers to bytes an HTTP client library would not send."""
    with socket.create_connection(("127.0.0.1", board.port), timeout=5) as s:
        s.sendall(request)
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    return reply.decode("utf-8", "replace")


def test_one_host_one_origin_and_a_path_as_the_target(board: Dashboard) -> None:
    good, key = f"127.0.0.1:{board.port}", board.key
    for request in (
        # a second Host naming another site: which one a proxy or cache believes is anyone's guess
        f"GET /status.json?key={key} HTTP/1.1\r\nHost: {good}\r\nHost: evil.example\r\n",
        # an absolute URL names its own host, whatever the Host header says
        f"GET http://evil.example/status.json?key={key} HTTP/1.1\r\nHost: {good}\r\n",
        f"GET /status.json?key={key} HTTP/1.1\r\nHost: {good}\r\nOrigin: http://{good}\r\n"
        "Origin: http://evil.example\r\n",
    ):
        reply = raw(board, (request + "Connection: close\r\n\r\n").encode())
        assert reply.startswith("HTTP/1.1 403"), request
        assert "spring-sale" not in reply
    ok = raw(board, f"GET /status.json?key={key} HTTP/1.1\r\nHost: {good}\r\nConnection: close\r\n"
                    "\r\n".encode())
    assert ok.startswith("HTTP/1.1 200") and "spring-sale" in ok


def test_the_servers_own_refusals_are_plain_text_with_the_same_headers(board: Dashboard) -> None:
    good = f"127.0.0.1:{board.port}"
    # a request line no HTTP version can parse is answered as HTTP/0.9 would be: the body alone
    assert raw(board, b"GET /<script>alert(1)</script> HTTP/9\r\n\r\n") == "Refused: Bad Request.\n"
    too_many = "".join(f"X-{i}: y\r\n" for i in range(120))
    long = "a" * 70000
    for request, code in ((f"PUT /?key={board.key} HTTP/1.1\r\nHost: {good}\r\n\r\n", 501),
                          (f"GET / HTTP/1.1\r\nHost: {good}\r\n{too_many}\r\n", 431),
                          (f"GET / HTTP/1.1\r\nHost: {good}\r\nX: {long}\r\n\r\n", 431)):
        reply = raw(board, request.encode())
        head, _, body = reply.partition("\r\n\r\n")
        assert head.startswith(f"HTTP/1.1 {code}"), request[:30]
        assert "Content-Type: text/plain; charset=utf-8" in head
        assert "Content-Security-Policy: default-src 'none'" in head and "X-Frame-Options: DENY" in head
        assert body.startswith("Refused: ") and "<" not in body


def test_a_post_not_framed_by_one_length_is_refused(board: Dashboard, recorder: Recorder) -> None:
    good = f"127.0.0.1:{board.port}"
    body = f"csrf={board.csrf}"
    for framing in (f"Transfer-Encoding: chunked\r\n\r\n{len(body):x}\r\n{body}\r\n0\r\n\r\n",
                    f"Content-Length: {len(body)}\r\nContent-Length: 0\r\n\r\n{body}"):
        request = f"POST /c/spring-sale/pause?key={board.key} HTTP/1.1\r\nHost: {good}\r\n{framing}"
        assert raw(board, request.encode()).startswith("HTTP/1.1 413")
    assert recorder.actions == []


def test_a_symlink_in_place_of_the_results_is_never_followed(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:the secret", encoding="utf-8")
    results, preview = tmp_path / "spring.results.csv", tmp_path / "spring.preview.html"
    results.symlink_to(secret)
    preview.symlink_to(secret)
    campaigns = [status_dict(results=str(results), preview=str(preview))]
    with Dashboard(tmp_path, collect=lambda home: campaigns) as board, client(board) as c:
        page = c.get("/").text
        assert "/c/spring-sale/results" not in page and "/c/spring-sale/preview" not in page
        for what in ("results", "preview"):
            reply = c.get(f"/c/spring-sale/{what}")
            assert reply.status_code == 404
            assert "the secret" not in reply.text


def test_a_connection_that_never_finishes_its_headers_holds_up_nobody(board: Dashboard) -> None:
    stuck = [socket.create_connection(("127.0.0.1", board.port)) for _ in range(20)]
    try:
        for s in stuck:
            s.sendall(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{board.port}\r\nX-Slow: ".encode())
        started = time.monotonic()
        with client(board) as c:
            assert c.get("/cards", timeout=5).status_code == 200
        assert time.monotonic() - started < 2
    finally:
        for s in stuck:
            s.close()


# --- what the page says about what happens ---------------------------------------------------


def test_no_cap_is_not_drawn_in_the_legend_and_a_passed_estimate_is_not_shown() -> None:
    capped = render_cards([status_dict()], now=NOW, csrf="T")
    assert "the day's cap: 300" in capped
    free = render_cards([status_dict(per_day=[{"date": "2026-12-01", "sent": 9, "cap": None}])],
                        now=NOW, csrf="T")
    assert "cap:" not in free and "the day's cap" not in free and "no daily cap" in free
    # a run slower than its estimate (another campaign shares the number): no time in the past
    late = card(status_dict(finish="2026-12-01T09:30:00+00:00"), NOW)
    assert late["finish"] == ""


def test_a_resumed_run_that_dies_at_once_is_said_with_its_last_words(tmp_path: Path) -> None:
    log = tmp_path / "spring.log"
    log.write_text("--- started 2026-12-01 10:00:00 ---\ncontacts.csv: 40 rows\nError: no ibot-chat "
                   "credentials. Set IBOT_INSTANCE_ID\n", encoding="utf-8")
    states = iter(["stopped", "running", "running", "stopped"])
    clock = [NOW]

    def collect(home: Path) -> list[dict[str, Any]]:
        return [status_dict(state=next(states, "stopped"), log=str(log))]

    def act(home: Path, name: str, action: str) -> str:
        return f"Started '{name}' again in the background (process 4242)."

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    with Dashboard(tmp_path, collect=collect, act=act, clock=lambda: clock[0], sleep=sleep) as board:
        said = post(board, "/c/spring-sale/resume").json()["message"]
    assert said == ("'spring-sale' did not start again: its run ended at once: Error: no ibot-chat "
                    f"credentials. Set IBOT_INSTANCE_ID (its log: {log})")
    # one that keeps running is left alone once the watch is over
    with Dashboard(tmp_path, collect=lambda home: [status_dict(state="stopped")], act=act,
                   clock=lambda: clock[0], sleep=sleep) as board:
        states = iter(["stopped", *["running"] * 100])
        board._collect = lambda home: [status_dict(state=next(states))]
        started = clock[0]
        said = post(board, "/c/spring-sale/resume").json()["message"]
        assert said == "Started 'spring-sale' again in the background (process 4242)."
        assert clock[0] - started >= 5
        # one that sends is alive: no need to watch on
        seen = iter([{"state": "stopped", "sent": 120}, {"state": "running", "sent": 121}])
        board._collect = lambda home: [status_dict(**next(seen, {"state": "running", "sent": 122}))]
        started = clock[0]
        said = post(board, "/c/spring-sale/resume").json()["message"]
        assert said == "Started 'spring-sale' again in the background (process 4242)."
        assert clock[0] - started < 1


@pytest.mark.slow
def test_an_open_page_says_what_went_wrong_in_words(browser: Any, tmp_path: Path) -> None:
    import sqlite3

    broken = [False]

    def collect(home: Path) -> list[dict[str, Any]]:
        if broken[0]:
            raise sqlite3.DatabaseError("file is not a database")
        return [status_dict()]

    first = Dashboard(tmp_path, collect=collect, act=lambda home, name, action: "ok").start()
    port = first.port
    page = browser.new_page()
    try:
        page.goto(first.url)
        notice = page.locator("#notice")
        # the state cannot be read: the dashboard runs, and says why rather than "is it running?"
        broken[0] = True
        notice.filter(has_text="cannot be read: the database failed (file is not a database)"
                      ).wait_for(timeout=10_000)
        assert "is campaign dashboard still running" not in page.locator("#live").inner_text()
        broken[0] = False
        notice.wait_for(state="hidden", timeout=10_000)  # the trouble is over: so is its notice
        # restarted on the same port: a new key; the old tab says so, polling and on a click
        first.stop()
        with Dashboard(tmp_path, port=port, collect=collect) as second:
            assert second.port == port
            notice.filter(has_text="a page opened before a restart needs the new address"
                          ).wait_for(timeout=10_000)
            page.evaluate("document.getElementById('notice').textContent = ''")
            page.locator('button[data-action="pause"]').click()
            notice.filter(has_text="a page opened before a restart needs the new address"
                          ).wait_for(timeout=5_000)
            assert "HTTP 403" not in notice.inner_text()
    finally:
        page.close()
        first.stop()


def test_bidi_controls_are_shown_never_obeyed() -> None:
    # U+202E turns what follows around: "evil" would read "live", "fdp.exe" "exe.pdf"
    rlo, isolate = "\u202e", "\u2067"
    c = card(status_dict("spring" + isolate, folder=f"/home/dana/{rlo}fdp.exe", waiting_for=rlo,
                         senders=[{"label": f"shop{rlo}", "sent": 1, "failed": 0, "unknown": 0,
                                   "pending": 0}],
                         last_errors=[{"row": 2, "error": f"Invalid JID{rlo}x"}]), NOW)
    assert c["folder"] == "/home/dana/<U+202E>fdp.exe"
    assert (c["name"], c["waiting_for"], c["senders"][0]["label"]) == \
        ("spring<U+2067>", "<U+202E>", "shop<U+202E>")
    assert c["errors"][0]["error"].endswith("(Invalid JID<U+202E>x)")
    page = render_page([status_dict("spring" + rlo)], now=NOW, csrf="T")
    assert rlo not in page and "spring&lt;U+202E&gt;" in page
    assert "/c/spring%E2%80%AE/pause" in page  # the buttons still name the campaign itself
    # Hebrew and Arabic need no control character: untouched
    assert card(status_dict("מבצע חנוכה"), NOW)["name"] == "מבצע חנוכה"


def test_a_finished_campaign_is_a_short_card() -> None:
    done = status_dict(state="finished", sent=397, failed=3, unknown=0, pending=0, next_send=None,
                       waiting_for="", finish=None)
    html = render_cards([status_dict("running-one"), done], now=NOW, csrf="T")
    running, finished = html.split('data-name="spring-sale"')
    assert "Next send" in running and "<details" not in running
    # nothing to wait for: no row of dashes; its numbers one click away, its errors in view
    assert "Next send" not in finished and "Expected finish" not in finished
    assert '<details class="more" data-key="more"><summary>Per sender and per day</summary>' in finished
    assert finished.index("</details>") < finished.index("Last errors")


def test_a_browser_going_away_or_a_bug_prints_no_traceback(tmp_path: Path, capfd: Any) -> None:
    big = tmp_path / "big.results.csv"
    big.write_bytes(b"x" * 8_000_000)
    campaigns = [status_dict(results=str(big))]
    with Dashboard(tmp_path, collect=lambda home: campaigns) as board:
        for _ in range(3):  # a download cancelled after its first bytes
            s = socket.create_connection(("127.0.0.1", board.port))
            s.sendall(f"GET /c/spring-sale/results?key={board.key} HTTP/1.1\r\n"
                      f"Host: 127.0.0.1:{board.port}\r\n\r\n".encode())
            s.recv(1000)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # reset
            s.close()
        with client(board) as c:
            assert c.get("/cards").status_code == 200  # still serving

            def broken(home: Path) -> list[dict[str, Any]]:
                raise ZeroDivisionError("division by zero")

            board._collect = broken
            reply = c.get("/cards")
        assert reply.status_code == 500
        assert reply.text.startswith("The dashboard hit an unexpected error (ZeroDivisionError: "
                                     "division by zero); it goes on running.")
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Broken pipe" not in err and "reset" not in err


def test_a_campaign_whose_progress_file_is_gone_says_so(tmp_path: Path) -> None:
    journal = tmp_path / ".campaign" / "spring.sqlite3"
    gone = status_dict(state="finished", sent=0, failed=0, unknown=0, pending=400, journal=str(journal))
    html = render_cards([gone], now=NOW, csrf="T")
    assert f"Its progress file is missing ({journal})" in html
    assert "the numbers here read as nothing sent" in html
    journal.parent.mkdir()
    journal.write_bytes(b"")
    assert "missing" not in card(gone, NOW)["missing"]


def test_the_page_says_press_resume_where_the_terminal_says_the_command() -> None:
    stopped = status_dict(state="stopped", waiting_for="its process ended (killed, crashed or "
                          "rebooted?); to go on: campaign resume spring-sale")
    assert card(stopped, NOW)["waiting_for"] == \
        "its process ended (killed, crashed or rebooted?); to go on: press Resume"
    paused = status_dict(state="paused", waiting_for="paused; to go on: campaign resume spring-sale")
    assert card(paused, NOW)["waiting_for"] == "paused; to go on: press Resume"
    # no Resume button, no such words
    running = status_dict(waiting_for="window opens 09:00 (Tue); campaign resume spring-sale")
    assert card(running, NOW)["waiting_for"].endswith("campaign resume spring-sale")
