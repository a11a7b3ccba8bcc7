"""`campaign dashboard`: every campaign on one local page, live, with Pause, Resume and Cancel.

A view over `status.collect` and `control.request`, never a second way to change state: the
page shows what `campaign status` says and its buttons do what `campaign pause|resume|cancel`
do. Served by the standard library's ThreadingHTTPServer on 127.0.0.1 (one local user, a
handful of routes: no web framework is worth its weight here; threads so that a results
download never holds up the page's polling).

Only the person who started it can use it, even from a browser that visits hostile sites:
- every request needs the random key printed with the address (the first visit carries it in
  the URL; an HttpOnly, SameSite=Strict cookie carries it after that);
- the Host must be 127.0.0.1:PORT or localhost:PORT, so a DNS-rebinding site that resolves its
  own name to 127.0.0.1 is refused; an Origin, when sent, must be this page's own;
- a state change (POST) also needs the page's CSRF token, which only the page itself knows;
- files are served by campaign name, and only the two a campaign names (its preview page and
  its results sheet), never a path taken from the request;
- a strict Content-Security-Policy (nothing from elsewhere, no inline scripts), no framing,
  no MIME sniffing, no referrer (the key must not leak through a link).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import hmac
import html
import json
import os
import secrets
import shutil
import socket
import sqlite3
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from markupsafe import Markup

from campaign.errors import CampaignError, describe_failure
from campaign.preview import _ENV as PAGES
from campaign.report import format_duration
from campaign.vocabulary import Status

ACTIONS = ("pause", "resume", "cancel")
REFRESH_SECONDS = 3
RESUME_WATCH = 5.0  # seconds a resumed stopped run is watched for dying at once
CHART_DAYS = 14
MAX_BODY = 4096  # a POST carries one token; anything bigger is not from the page
# What a page from an earlier run of the dashboard is told (its key and token are the old run's).
STALE_KEY = ("this key is not the one `campaign dashboard` printed when it last started (each "
             "start makes a new key, so a page opened before a restart needs the new address): "
             "open the address it printed.")

Collect = Callable[[Path], list[dict[str, Any]]]
Act = Callable[[Path, str, str], str]

# The page's own script and style sheet, served from the package; nothing else is static.
_STATIC = {"dashboard.css": "text/css; charset=utf-8",
           "dashboard.js": "text/javascript; charset=utf-8"}
_RESULTS_TYPES = {
    ".csv": "text/csv; charset=utf-8",
    ".tsv": "text/tab-separated-values; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".xlsm": "application/vnd.ms-excel.sheet.macroEnabled.12",
}
_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
# The preview is a page the dashboard did not write: no scripts, a unique origin (sandbox),
# and its https images (the campaign's media) allowed, as when it is opened from disk.
_PREVIEW_CSP = ("default-src 'none'; img-src https: data:; style-src 'unsafe-inline'; "
                "frame-ancestors 'none'; sandbox allow-popups allow-popups-to-escape-sandbox")

# The package's page templates (campaign/templates, autoescaped, strict): one Environment for
# the preview, the sandbox page and this one.
_ENV = PAGES.overlay(trim_blocks=True, lstrip_blocks=True)

# --- what the page shows ---------------------------------------------------------------------

# Colours of the progress bar's parts, in the order they are drawn.
PARTS = ((Status.SENT, "#1fa855"), (Status.FAILED, "#ea0038"), (Status.UNKNOWN, "#e08a00"),
         (Status.PENDING, "#c9d1d6"))
STATE_WORDS = {
    "scheduled": "Scheduled",
    "running": "Sending",
    "waiting": "Waiting",
    "paused": "Paused",
    "stopped": "Stopped",
    "finished": "Finished",
    "cancelling": "Cancelling",
    "cancelled": "Cancelled",
}


# The API's documented errors (reference, "Common Errors") in the words of the person running the
# campaign; the API's own words stay beside them.
PLAIN_ERRORS = {
    "invalid jid": "not a WhatsApp number, or written wrongly",
    "media not accessible": "WhatsApp could not fetch the media: it must be a public https link",
    "instance not connected": "the sending WhatsApp number is not connected: reconnect it",
    "invalid token": "the token was refused: check IBOT_TOKEN",
}


def plain_error(text: str) -> str:
    """'Invalid JID' as 'not a WhatsApp number, or written wrongly (Invalid JID)'."""
    low = text.lower()
    words = next((w for phrase, w in PLAIN_ERRORS.items() if phrase in low), None)
    return f"{words} ({text})" if words else text


@dataclass(frozen=True)
class Bar:
    """One day of the chart, in the SVG's own units."""

    x: float
    y: float
    width: float
    height: float
    label: str
    title: str
    sent: int
    cap_y: float | None


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    base: float
    bars: list[Bar]
    cap: str  # the day's cap when every day shown has the same one, for the legend
    capped: bool = False  # some day shown has a cap (else the legend names no cap line)


def day_chart(per_day: Sequence[Mapping[str, Any]], *, days: int = CHART_DAYS) -> Chart | None:
    """Sends per day against the day's cap, the last `days` days, as bars for an SVG."""
    shown = list(per_day)[-days:]
    if not shown:
        return None
    # room: the height of the tallest bar or cap, leaving space above it for its number
    width, height, base, gap, room = 300, 100, 82.0, 6.0, 64.0
    top = max([int(d.get("sent") or 0) for d in shown] + [int(d.get("cap") or 0) for d in shown] + [1])
    slot = width / max(len(shown), 7)
    bars = []
    for i, d in enumerate(shown):
        sent, cap = int(d.get("sent") or 0), d.get("cap")
        h = room * sent / top
        date = _date(str(d.get("date", "")))
        label = f"{date.day}" if date else str(d.get("date", ""))[-2:]
        name = f"{date:%a %d %b}" if date else str(d.get("date", ""))
        title = f"{name}: {sent} sent" + (f" of {cap} allowed" if cap else " (no cap)")
        cap_y = None if not cap else round(base - room * int(cap) / top, 2)
        bars.append(Bar(x=round(i * slot + gap / 2, 2), y=round(base - h, 2),
                        width=round(slot - gap, 2), height=round(h, 2), label=label, title=title,
                        sent=sent, cap_y=cap_y))
    caps = {d.get("cap") for d in shown}
    same = caps.pop() if len(caps) == 1 else None
    return Chart(width=width, height=height, base=base, bars=bars,
                 cap=f"{int(same):,}" if same else "",
                 capped=any(b.cap_y is not None for b in bars))


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None


def _moment(iso: str | None, now: float, *, ahead: bool = True) -> str:
    """An ISO time as people say it, in this computer's time: 'today 14:05 (in 2h 5m)'."""
    if not iso:
        return ""
    try:
        when = dt.datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if when.tzinfo is None:
        when = when.astimezone()
    local = when.astimezone(dt.datetime.fromtimestamp(now).astimezone().tzinfo)
    today = dt.datetime.fromtimestamp(now, local.tzinfo).date()
    if local.date() == today:
        day = "today"
    elif local.date() == today + dt.timedelta(days=1):
        day = "tomorrow"
    else:
        day = f"{local:%a %d %b}"
    left = when.timestamp() - now
    if ahead and left >= 60:
        return f"{day} {local:%H:%M} (in {format_duration(left)})"
    return f"{day} {local:%H:%M}"


# Bidi controls that reorder the text after them (a folder named "<U+202E>fdp.exe" shows as
# "exe.pdf"): shown as their code, never obeyed. The page's dir="auto" keeps real Hebrew and
# Arabic right to left without them.
_BIDI_CONTROLS = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])


def visible(text: str) -> str:
    """`text` with its bidi control characters written out as <U+202E>."""
    if not any(ord(ch) in _BIDI_CONTROLS for ch in text):
        return text
    return "".join(f"<U+{ord(ch):04X}>" if ord(ch) in _BIDI_CONTROLS else ch for ch in text)


def _page_words(why: str, name: str, state: str) -> str:
    """status's words for the terminal ("to go on: campaign resume NAME") as the page's, where
    the Resume button is beside them."""
    if "resume" in _actions(state):
        why = why.replace(f"campaign resume {name}", "press Resume")
    return why


def _missing_journal(journal: object) -> str:
    """Words for a campaign whose progress file (its journal) is gone: its counts read as zero
    then, which must not pass for 'nothing sent'."""
    if not journal or Path(str(journal)).exists():
        return ""
    return (f"Its progress file is missing ({visible(str(journal))}): what was sent cannot be "
            "counted, so the numbers here read as nothing sent. Its results sheet still says who "
            "got the message; if the file was moved, put it back.")


def _passed(iso: str | None, now: float) -> bool:
    try:
        when = dt.datetime.fromisoformat(iso) if iso else None
    except ValueError:
        return False
    return when is not None and when.astimezone().timestamp() < now


def _link(name: str, what: str) -> str:
    return f"/c/{quote(name, safe='')}/{what}"


def _existing(path: object) -> Path | None:
    """The file a campaign names, if it is a plain file there now. Never a symlink: the run
    writes its results and preview itself (by replacing them), so a link in their place was put
    there by someone else, pointing at what they want served (/etc/passwd, ~/.ssh/id_rsa)."""
    if not path:
        return None
    p = Path(str(path))
    return p if p.is_file() and not p.is_symlink() else None


def _read_plain(path: Path) -> bytes | None:
    """The bytes of `path` if it is, when opened, a plain file and not a symlink (no swap
    between the check and the read); None otherwise."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) \
        | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return f.read()


def card(c: Mapping[str, Any], now: float) -> dict[str, Any]:
    """One campaign's status dict as the page's template wants it (counts, words, links)."""
    name = str(c["name"])
    total = int(c.get("total") or 0)
    counts = {k: int(c.get(k) or 0) for k, _ in PARTS}
    whole = max(total, sum(counts.values()), 1)
    segments, x = [], 0.0
    for key, colour in PARTS:
        w = 100 * counts[key] / whole
        if w > 0:
            segments.append({"key": key, "x": round(x, 3), "width": round(w, 3), "colour": colour})
        x += w
    state = str(c.get("state") or "")
    return {
        "name": visible(name),
        "key": hashlib.sha256(name.encode("utf-8")).hexdigest()[:16],
        "folder": visible(str(c.get("folder") or "")),
        "state": state,
        "state_word": STATE_WORDS.get(state, state.capitalize()),
        "total": total,
        "counts": counts,
        "percent": f"{100 * counts[Status.SENT] / total:.0f}%" if total else "",
        "segments": segments,
        # status's own words say how long ("next send in 43 s"): the time alone here
        "next_send": _moment(c.get("next_send"), now, ahead=False)
        or ("now" if state == "running" else ""),
        "waiting_for": _page_words(visible(str(c.get("waiting_for") or "")), name, state),
        # A paused or stopped run's estimate went stale when it stopped sending; so did one
        # that has passed (a run slower than it thought: another campaign shares its number).
        "finish": _moment(c.get("finish"), now)
        if state in ("running", "waiting", "scheduled") and not _passed(c.get("finish"), now) else "",
        "senders": [{**s, "label": visible(str(s.get("label", "")))} for s in c.get("senders") or []],
        "chart": day_chart(c.get("per_day") or []),
        "errors": [{"row": e.get("row"), "error": visible(plain_error(str(e.get("error") or "")))}
                   for e in list(c.get("last_errors") or [])[:5]],
        "preview": _link(name, "preview") if _existing(c.get("preview")) else "",
        "results": _link(name, "results") if _existing(c.get("results")) else "",
        "missing": _missing_journal(c.get("journal")),
        "actions": _actions(state),
        "urls": {a: _link(name, a) for a in ACTIONS},
    }


def _actions(state: str) -> list[str]:
    """The buttons that make sense in a state (as `campaign status` words them); the CLI's
    `control.request` has the last word, and says why when it refuses."""
    if state in ("running", "waiting", "scheduled"):
        return ["pause", "cancel"]
    if state in ("paused", "stopped"):
        return ["resume", "cancel"]
    if state == "cancelled":  # `campaign resume` sends the rest after all
        return ["resume"]
    return []


# Rendered cards by what they show: with a hundred campaigns, most of them finished or paused,
# the page's poll every few seconds renders only the ones that moved.
_RENDERED: dict[str, Markup] = {}
_RENDERED_MAX = 1000


def _card_html(c: dict[str, Any], csrf: str) -> Markup:
    key = repr((c, csrf))
    html = _RENDERED.get(key)
    if html is None:
        if len(_RENDERED) >= _RENDERED_MAX:
            _RENDERED.clear()
        page = _ENV.get_template("dashboard_card.html").render(c=c, csrf=csrf, parts=PARTS)
        html = _RENDERED[key] = Markup(page)
    return html


@functools.cache
def example_command() -> str:
    """The empty page's example: a campaign that goes on in the background, where `send` can."""
    from campaign.cli import send

    detach = any(getattr(p, "name", "") == "detach" for p in send.params)
    return "campaign send contacts.xlsx -t message.txt" + (" --detach" if detach else "")


def render_cards(campaigns: Sequence[Mapping[str, Any]], *, now: float, csrf: str) -> str:
    """The list of campaigns: the page's body, and what its script fetches to update it."""
    cards = [_card_html(card(c, now), csrf) for c in campaigns]  # status lists them newest first
    updated = dt.datetime.fromtimestamp(now).astimezone()
    return _ENV.get_template("dashboard_cards.html").render(
        cards=cards, updated=f"{updated:%H:%M:%S}", refresh=REFRESH_SECONDS,
        example="" if cards else example_command(),
    )


def render_page(campaigns: Sequence[Mapping[str, Any]], *, now: float, csrf: str) -> str:
    return _ENV.get_template("dashboard.html").render(
        cards_html=Markup(render_cards(campaigns, now=now, csrf=csrf)), csrf=csrf, refresh=REFRESH_SECONDS
    )


# --- the server ------------------------------------------------------------------------------


def _real_collect(home: Path) -> list[dict[str, Any]]:
    from campaign.status import collect

    return collect(home)


def _real_act(home: Path, name: str, action: str) -> str:
    from campaign.control import request

    return request(home, name, action)


def _last_words(log: object) -> str:
    """The last error (else the last line) a background run wrote to its log, for the page."""
    body = _read_plain(Path(str(log))) if log else None
    if not body:
        return ""
    lines = [line.strip() for line in body[-4096:].decode("utf-8", "replace").splitlines()]
    lines = [line for line in lines if line and not line.startswith("---")]
    said = next((line for line in reversed(lines) if line.startswith("Error")), lines[-1] if lines else "")
    return "".join(ch if ch.isprintable() else " " for ch in said)[:600]


class Dashboard:
    """The page on 127.0.0.1 in a background thread; `url` carries the key."""

    def __init__(self, home: Path, *, port: int = 0, collect: Collect | None = None,
                 act: Act | None = None, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.home = home
        self.key = secrets.token_urlsafe(24)
        self.csrf = secrets.token_urlsafe(24)
        self._requested_port = port
        self._collect = collect or _real_collect
        self._act = act or _real_act
        self.clock = clock
        self.sleep = sleep
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:  # no key, even in a traceback
        return f"Dashboard(port={self.port})"

    def start(self) -> Dashboard:
        self._server = _Server(("127.0.0.1", self._requested_port), self)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server.close_connections()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> Dashboard:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._server.server_address[1] if self._server else self._requested_port

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The address to open: the key is in it."""
        return f"{self.origin}/?key={self.key}"

    @property
    def cookie_name(self) -> str:
        # Cookies are per host, not per port: two dashboards (or a restart) must not mix keys.
        return f"campaign-dashboard-{self.port}"

    def campaigns(self) -> list[dict[str, Any]]:
        return self._collect(self.home)

    def find(self, name: str) -> dict[str, Any] | None:
        return next((c for c in self.campaigns() if c.get("name") == name), None)

    def act(self, name: str, action: str) -> str:
        before = self.find(name) if action == "resume" else None
        said = self._act(self.home, name, action)
        if before is not None and before.get("state") in ("stopped", "cancelled"):
            return self._started_or_not(name, int(before.get("sent") or 0)) or said
        return said

    def _started_or_not(self, name: str, sent: int) -> str:
        """A stopped run resumed from here starts as a new process with this dashboard's
        environment: if that dies at once (no credentials in it, a moved file), say so with its
        last words, instead of "Started again" over a card that says Stopped. "" when it lives
        (it sends, or is still there after a few seconds)."""
        deadline = self.clock() + RESUME_WATCH
        while self.clock() < deadline:
            self.sleep(0.25)
            now = self.find(name)
            if now is None or int(now.get("sent") or 0) > sent:
                return ""
            if now.get("state") != "stopped":
                continue
            last = _last_words(now.get("log"))
            return (f"'{name}' did not start again: its run ended at once"
                    + (f": {last}" if last else ".")
                    + (f" (its log: {now['log']})" if now.get("log") else ""))
        return ""


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # an idle keep-alive connection must not block shutdown

    def __init__(self, address: tuple[str, int], dashboard: Dashboard) -> None:
        super().__init__(address, _Handler)
        self.dashboard = dashboard
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """No traceback in the terminal of the person running it: a browser that goes away in
        the middle of a reply (a download cancelled, a tab closed) is nothing to report, and
        anything else is one line."""
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            return
        sys.stderr.write(f"campaign dashboard: a request failed: {type(error).__name__}: {error}\n")

    def close_connections(self) -> None:
        """A stopped dashboard answers nothing more, not even on a browser's kept-alive
        connection (whose thread would otherwise go on serving with the old key)."""
        with self._open_lock:
            for conn in list(self._open):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)


def _unexpected(error: BaseException) -> str:
    return (f"The dashboard hit an unexpected error ({type(error).__name__}: {error}); it goes on "
            "running. Please report it, with what you did.")


class _Refused(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60  # a connection that sends nothing does not keep its thread for ever
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        # The default access log prints the query string, and with it the key.
        pass

    # Replies ---------------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, content_type: str, *,
              headers: Mapping[str, str] | None = None, csp: str = _CSP) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", csp)
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (a malformed request, PUT, a header too long) as plain text
        with the same headers as every other reply, never its HTML page without them."""
        self.close_connection = True
        try:
            phrase = self.responses[code][0]
        except KeyError:
            phrase = "Error"
        self._text(code, f"Refused: {phrase}.")

    def _text(self, status: int, text: str) -> None:
        self._send(status, (text + "\n").encode("utf-8"), "text/plain; charset=utf-8")

    def _json(self, status: int, payload: object) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self._send(status, body, "application/json; charset=utf-8")

    # Checks -----------------------------------------------------------------------------------
    def _check_host(self) -> None:
        board = self.server.dashboard
        allowed = {f"127.0.0.1:{board.port}", f"localhost:{board.port}"}
        # Exactly one Host, and a request target that is a path: a second Host header or an
        # absolute URL (`GET http://evil.example/`) would name another host than the one checked.
        hosts = self.headers.get_all("Host") or []
        if len(hosts) != 1 or hosts[0].lower() not in allowed or not self.path.startswith("/"):
            raise _Refused(403, "Refused: open the dashboard at the address it printed "
                                f"(http://127.0.0.1:{board.port}/...).")
        origins = self.headers.get_all("Origin") or []
        if len(origins) > 1 or any(o.lower() not in {f"http://{h}" for h in allowed} for o in origins):
            raise _Refused(403, "Refused: this request comes from another site.")

    def _cookie_key(self) -> str:
        try:
            jar = SimpleCookie(self.headers.get("Cookie", ""))
        except CookieError:
            return ""
        morsel = jar.get(self.server.dashboard.cookie_name)
        return morsel.value if morsel else ""

    def _keyed(self, query: Mapping[str, list[str]]) -> bool | None:
        """The key from the URL (the first visit) or the cookie (every request after it): True;
        None when no key came at all; False when one came but not this run's (a restart)."""
        key = self.server.dashboard.key.encode()
        given = [g for g in (*query.get("key", []), self._cookie_key()) if g]
        if not given:
            return None
        return any(hmac.compare_digest(g.encode(), key) for g in given)

    def _guard(self) -> tuple[str, dict[str, list[str]]] | None:
        """The path and query of an allowed request; None after replying with a refusal."""
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        try:
            self._check_host()
            keyed = self._keyed(query)
            if keyed is False:
                raise _Refused(403, f"Refused: {STALE_KEY}")
            if not keyed:
                raise _Refused(403, "Refused: this address needs the key that `campaign dashboard` "
                                    "printed (open the full address it showed).")
        except _Refused as refused:
            self.close_connection = True  # and a refused POST's body is never read
            self._text(refused.status, str(refused))
            return None
        return parts.path, query

    # Routes -----------------------------------------------------------------------------------
    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        guarded = self._guard()
        if guarded is None:
            return
        path, query = guarded
        board = self.server.dashboard
        try:
            if path == "/":
                # The first visit sets the cookie, and the page's script takes the key out of the
                # address bar. Served here, not by a redirect to "/": when the address is opened
                # from another page (a file, a link elsewhere, --open's forwarding page) the
                # browser withholds a SameSite=Strict cookie for the whole cross-site chain, so
                # the redirected request would come without it.
                keyed = {"Set-Cookie": f"{board.cookie_name}={board.key}; Path=/; HttpOnly; "
                                       "SameSite=Strict"} if "key" in query else {}
                page = render_page(board.campaigns(), now=board.clock(), csrf=board.csrf)
                self._send(200, page.encode("utf-8"), "text/html; charset=utf-8", headers=keyed)
            elif path == "/cards":
                cards = render_cards(board.campaigns(), now=board.clock(), csrf=board.csrf)
                self._send(200, cards.encode("utf-8"), "text/html; charset=utf-8")
            elif path == "/status.json":
                self._json(200, board.campaigns())
            elif path.startswith("/static/") and path[len("/static/") :] in _STATIC:
                name = path[len("/static/") :]
                body = resources.files("campaign").joinpath("static", name).read_bytes()
                self._send(200, body, _STATIC[name])
            elif path.startswith("/c/") and path.count("/") == 3:
                _, _, quoted, what = path.split("/")
                self._campaign_file(unquote(quoted), what)
            else:
                self._text(404, "Not found.")
        except CampaignError as e:
            self._text(500, f"The campaigns (in {board.home}) cannot be read: {e}")
        except ConnectionError:
            raise  # the browser went away (a download cancelled): nobody to answer
        except (OSError, sqlite3.Error) as e:  # the state folder or a file went away meanwhile
            self._text(500, f"The campaigns (in {board.home}) cannot be read: {describe_failure(e)}.")
        except Exception as e:  # a bug: said on the page in one line, and the dashboard goes on
            self._text(500, _unexpected(e))

    def _campaign_file(self, name: str, what: str) -> None:
        """A campaign's preview page or results sheet: found by its name, nothing else."""
        campaign = self.server.dashboard.find(name)
        if campaign is None or what not in ("preview", "results"):
            self._text(404, "Not found.")
            return
        path = _existing(campaign.get(what))
        body = None if path is None else _read_plain(path)
        if path is None or body is None:
            self._text(404, f"The {what} of {name} is not there (yet).")
            return
        if what == "preview":
            self._send(200, body, "text/html; charset=utf-8", csp=_PREVIEW_CSP)
            return
        kind = _RESULTS_TYPES.get(path.suffix.lower(), "application/octet-stream")
        disposition = f"attachment; filename*=UTF-8''{quote(path.name, safe='')}"
        self._send(200, body, kind, headers={"Content-Disposition": disposition})

    def do_POST(self) -> None:
        guarded = self._guard()
        if guarded is None:
            return
        path, _ = guarded
        board = self.server.dashboard
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if "Transfer-Encoding" in self.headers or len(self.headers.get_all("Content-Length") or []) > 1:
            length = -1  # its body would be left unread and taken for the next request
        if not 0 <= length <= MAX_BODY:
            self.close_connection = True
            self._text(413, "Refused: not a request the page sends.")
            return
        form = parse_qs(self.rfile.read(length).decode("utf-8", "replace")) if length else {}
        scripted = "X-CSRF-Token" in self.headers  # the page's script; else a plain form
        token = self.headers.get("X-CSRF-Token") or next(iter(form.get("csrf", [])), "")
        if not hmac.compare_digest(token.encode(), board.csrf.encode()):
            self._json(403, {"error": "Refused: this change did not come from the dashboard page "
                                      "(reload it and try again)."})
            return
        pieces = path.split("/")
        if len(pieces) != 4 or pieces[1] != "c" or pieces[3] not in ACTIONS:
            self._json(404, {"error": "Not found."})
            return
        try:
            said = board.act(unquote(pieces[2]), pieces[3])
        except CampaignError as e:
            self._json(409, {"error": str(e)})
            return
        except (OSError, sqlite3.Error) as e:
            self._json(500, {"error": f"{pieces[3].capitalize()} failed: {describe_failure(e)}."})
            return
        except Exception as e:  # a bug: said in one line, and the dashboard goes on
            self._json(500, {"error": _unexpected(e)})
            return
        if not scripted:  # without JavaScript the button still works: back to the page
            self._send(303, b"", "text/plain", headers={"Location": "/"})
            return
        self._json(200, {"message": said})


def serve(home: Path, *, port: int, open_browser: bool, echo: Callable[[str], None]) -> None:
    """Blocking: run until KeyboardInterrupt; for `campaign dashboard`."""
    board = Dashboard(home, port=port).start()
    opener: Path | None = None
    try:
        echo(f"Dashboard: {board.url}")
        echo("Open that address (it holds this run's key); Ctrl-C to stop.")
        if open_browser:
            import webbrowser

            opener = _opener(board.url)
            webbrowser.open(opener.as_uri())
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        board.stop()
        if opener is not None:
            shutil.rmtree(opener.parent, ignore_errors=True)


def _opener(url: str) -> Path:
    """A page that forwards the browser to `url`, in a folder only this user can read.

    The browser is handed this file rather than the keyed address itself: a command line is
    readable by every user of the computer (ps, /proc/PID/cmdline), and a browser started by
    `--open` keeps its command line for as long as it runs."""
    folder = Path(tempfile.mkdtemp(prefix="campaign-dashboard-"))  # mode 0700
    page = folder / "open.html"
    target = html.escape(url, quote=True)
    fd = os.open(page, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(f'<!doctype html><meta charset="utf-8"><meta name="referrer" content="no-referrer">'
                f'<meta http-equiv="refresh" content="0;url={target}"><title>campaign dashboard</title>'
                f'<p><a href="{target}">Open the dashboard</a></p>\n')
    return page
