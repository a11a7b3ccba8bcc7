"""A local stand-in for the ibot-chat API: the five send endpoints on 127.0.0.1.

It answers exactly what the reference documents (`seed/ibot-chat-api.txt`), records every
accepted message, and injects faults (errors, latency, 500s, dropped connections, "not
connected" after N) so rehearsals and the test suite exercise real loopback HTTP.
Stdlib only, so `campaign sandbox` works on a fresh install with nothing else running.
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import shlex
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

from campaign.vocabulary import MessageKind

API_PREFIX = "/api/v1/"

USER_JID = re.compile(r"^\d{6,15}@s\.whatsapp\.net$")
GROUP_JID = re.compile(r"^[\d-]+@g\.us$")


@dataclass
class Faults:
    failure_rate: float = 0.0  # fraction answered HTTP 500 {"success":false,...}
    latency: float = 0.0  # seconds to wait before answering each request
    disconnect_after: int | None = None  # after N accepted messages: "Instance not connected"
    invalid_jids: frozenset[str] = frozenset()  # full JIDs or their digits: "Invalid JID"
    error_status: int = 200  # HTTP status of documented errors (the real API's is unknown)
    drop_rate: float = 0.0  # fraction whose connection is closed without any reply
    seed: int | None = None  # for the random draws
    # A server that never finishes its answer (issue 11): the reply, status line included,
    # one byte every `trickle` seconds, after the message was accepted.
    trickle: float = 0.0
    endless: bool = False  # accept, then a 200 chunked reply that never ends
    rate_limited: int = 0  # the first N API requests get HTTP 429 with Retry-After
    retry_after: float = 30.0  # the Retry-After seconds of those 429s
    # Several senders (issue 13): instance ID -> after N messages accepted through that instance,
    # it answers "Instance not connected" (one number of several dropping out mid-campaign).
    disconnect_instances: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Received:
    seq: int  # 1-based order of acceptance
    endpoint: str  # "send-text" | "send-image" | "send-video" | "send-audio" | "send-doc"
    jid: str
    text: str  # msg for send-text, caption otherwise ("" for audio)
    media_url: str  # "" for text
    at: float  # time.time() when accepted
    instance: str = ""  # the instance_id it came through (tests only; never echoed)


class _Reject(Exception):
    """A documented error reply: its text is the API's `message`."""


def _one_line(text: str) -> str:
    # A message's newlines would otherwise break the one-line-per-message console log.
    return text.replace("\r\n", "\n").replace("\n", " ⏎ ")


def echo_line(item: Received) -> str:
    """How the console shows an accepted message (never any credential)."""
    line = f"#{item.seq} {item.endpoint} → {item.jid}: {_one_line(item.text)}"
    return f"{line} [{item.media_url}]" if item.media_url else line


def page_html(received: list[Received], base_url: str = "") -> str:
    """The `/` page: the received messages as WhatsApp chats, by the preview's own renderer."""
    from campaign.preview import render_chat

    return render_chat(received, refresh_seconds=2, base_url=base_url)


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # an idle keep-alive connection must not block shutdown

    def __init__(self, address: tuple[str, int], sandbox: Sandbox) -> None:
        super().__init__(address, _Handler)
        self.sandbox = sandbox
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()

    def process_request(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        with self.sockets_lock:
            self.open_sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: socket.socket) -> None:  # type: ignore[override]
        with self.sockets_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        # A client that timed out and hung up is the rehearsal working, not a sandbox bug:
        # no traceback on the console for it.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def close_open_sockets(self) -> None:
        # Without this a client's pooled keep-alive connection would still be served by a
        # stopped sandbox, so "the API went away" could never be rehearsed.
        with self.sockets_lock:
            sockets = list(self.open_sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):  # already closed by the client
                sock.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as httpx's connection pool expects
    # Headers and body go out in two writes; with Nagle and the client's delayed ACK each
    # reply would stall ~40 ms on keep-alive connections.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        # The default access log prints the query string, and with it the token.
        pass

    def _reply(self, status: int, body: bytes, content_type: str,
               headers: dict[str, str] | None = None) -> None:
        faults = self.server.sandbox.faults
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if faults.trickle > 0 and self.path.startswith(API_PREFIX):
            buffered: list[bytes] = getattr(self, "_headers_buffer", [])  # what end_headers sends
            self._trickle(b"".join(buffered) + b"\r\n" + body, faults.trickle)
            buffered.clear()
            return
        self.end_headers()
        self.wfile.write(body)

    def _trickle(self, data: bytes, every: float) -> None:
        self.close_connection = True
        for i in range(len(data)):
            self.wfile.write(data[i : i + 1])
            self.wfile.flush()
            time.sleep(every)

    def _endless(self) -> None:
        """A 200 whose chunked body never ends: the client must stop reading, not the server."""
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b'{"success": true, "message": "Message sent successfully!", "pad": "' + (
            b" " * 65536)
        while True:  # ends when the client hangs up (BrokenPipeError, no traceback)
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            chunk = b" " * 65536

    def _json(self, status: int, payload: object, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self._reply(status, body, "application/json; charset=utf-8", headers)

    def do_GET(self) -> None:
        sandbox = self.server.sandbox
        parts = urlsplit(self.path)
        if parts.path in ("/", "/index.html"):
            page = page_html(sandbox.received, sandbox.url).encode("utf-8")
            self._reply(200, page, "text/html; charset=utf-8")
        elif parts.path == "/messages.json":
            # Without the instance: an instance ID doubles as a token, and is never shown.
            self._json(200, [{k: v for k, v in asdict(r).items() if k != "instance"}
                             for r in sandbox.received])
        elif parts.path == "/stats.json":  # for a sandbox in another process (bench/send.py)
            self._json(200, {"requests": sandbox.requests, "accepted": len(sandbox.received),
                             "max_concurrent": sandbox.max_concurrent,
                             "max_in_flight_per_instance": max(
                                 sandbox.max_concurrent_per_instance.values(), default=0)})
        elif parts.path.startswith(API_PREFIX) and MessageKind.from_endpoint(parts.path[len(API_PREFIX) :]):
            instance = parse_qs(parts.query).get("instance_id", [""])[0]
            with sandbox._track(instance):
                self._api(sandbox, parts.path[len(API_PREFIX) :], parts.query)
        else:
            self._json(404, {"success": False, "message": "Not found"})

    def _api(self, sandbox: Sandbox, endpoint: str, query: str) -> None:
        faults = sandbox.faults
        if faults.latency > 0:
            time.sleep(faults.latency)
        if sandbox._draw(faults.drop_rate):
            # No status line at all: the client sees the server hang up mid-request.
            self.close_connection = True
            return
        if sandbox._draw(faults.failure_rate):
            self._json(500, {"success": False, "message": "Internal server error"})
            return
        if sandbox._rate_limited(faults):
            self._json(429, {"success": False, "message": "Too many requests"},
                       {"Retry-After": f"{faults.retry_after:g}"})
            return
        # keep_blank_values: an empty caption is "present", as the reference allows.
        params = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
        try:
            item = sandbox._accept(endpoint, params, faults)
        except _Reject as reject:
            self._json(faults.error_status, {"success": False, "message": str(reject)})
            return
        if sandbox.on_accept is not None:
            # Tests hold the reply here to kill the client with a message out and no answer.
            sandbox.on_accept(item)
        if faults.endless:
            self._endless()
            return
        self._json(
            200,
            {
                "success": True,
                "message": "Message sent successfully!",
                "response": f"sandbox-{item.seq:06d}",
            },
        )


@dataclass
class _State:
    received: list[Received] = field(default_factory=list)
    requests: int = 0
    in_flight: int = 0
    max_concurrent: int = 0
    limited: int = 0  # API requests counted against Faults.rate_limited
    accepted_by: Counter[str] = field(default_factory=Counter)  # per instance
    in_flight_by: Counter[str] = field(default_factory=Counter)
    max_in_flight_by: dict[str, int] = field(default_factory=dict)


class Sandbox:
    """The API on 127.0.0.1 in a background thread. `faults` may be changed while it runs."""

    def __init__(
        self,
        *,
        port: int = 0,
        token: str | None = None,
        instance_id: str | Iterable[str] | None = None,
        faults: Faults | None = None,
        echo: Callable[[str], None] | None = None,
        on_accept: Callable[[Received], None] | None = None,
    ) -> None:
        """`instance_id`: the one instance accepted, several (one per sender), or None: any."""
        self.on_accept = on_accept
        self._requested_port = port
        self._token = token
        self._instances = None if instance_id is None else (
            frozenset([instance_id]) if isinstance(instance_id, str) else frozenset(instance_id))
        self._echo = echo
        self._lock = threading.Lock()
        self._state = _State()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.faults = faults if faults is not None else Faults()

    def __repr__(self) -> str:  # no token, even in a debugger or a test failure
        return f"Sandbox(url={self.url!r})"

    @property
    def faults(self) -> Faults:
        return self._faults

    @faults.setter
    def faults(self, faults: Faults) -> None:
        # A new Faults with a seed restarts the random draws, so a rehearsal is repeatable.
        self._faults = faults
        self._rng = random.Random(faults.seed)

    def start(self) -> Sandbox:
        self._server = _Server(("127.0.0.1", self._requested_port), self)
        # A short poll interval keeps stop() (and so every test using a sandbox) fast.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.close_open_sockets()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._server.server_address[1] if self._server else self._requested_port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1"

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._state.received)

    @property
    def requests(self) -> int:
        with self._lock:
            return self._state.requests

    @property
    def max_concurrent(self) -> int:
        with self._lock:
            return self._state.max_concurrent

    @property
    def max_concurrent_per_instance(self) -> dict[str, int]:
        """Instance ID -> the most requests it ever had in flight at once (1: one at a time)."""
        with self._lock:
            return dict(self._state.max_in_flight_by)

    # --- used by the handler threads ---

    @contextlib.contextmanager
    def _track(self, instance: str = "") -> Iterator[None]:
        """Count an API request for `requests` and the concurrency figures while it is handled."""
        with self._lock:
            state = self._state
            state.requests += 1
            state.in_flight += 1
            state.max_concurrent = max(state.max_concurrent, state.in_flight)
            state.in_flight_by[instance] += 1
            state.max_in_flight_by[instance] = max(state.max_in_flight_by.get(instance, 0),
                                                   state.in_flight_by[instance])
        try:
            yield
        finally:
            with self._lock:
                state.in_flight -= 1
                state.in_flight_by[instance] -= 1

    def _draw(self, rate: float) -> bool:
        if rate <= 0:  # no draw at all, so a seeded sequence only depends on active faults
            return False
        with self._lock:
            return self._rng.random() < rate

    def _accept(self, endpoint: str, params: dict[str, str], faults: Faults) -> Received:
        """Validate in the documented order; record and echo the message, or raise _Reject."""
        token = params.get("token", "")
        if not token or (self._token is not None and token != self._token):
            raise _Reject("Invalid token")
        instance = params.get("instance_id", "")
        if not instance or (self._instances is not None and instance not in self._instances):
            raise _Reject("Instance not connected")
        with self._lock:
            if self._disconnected(faults, instance):
                raise _Reject("Instance not connected")
        kind = MessageKind.from_endpoint(endpoint)
        assert kind is not None  # do_GET routes only the kinds' endpoints here
        media_param, text_param = kind.media_param, kind.text_param
        for name in ("jid", text_param, media_param):
            # Only a caption may be empty; an empty jid, msg or URL counts as missing.
            if name and (name not in params or (name != "caption" and not params[name])):
                raise _Reject(f"Missing parameter: {name}")
        jid = params["jid"]
        if not (USER_JID.match(jid) or GROUP_JID.match(jid)):
            raise _Reject("Invalid JID")
        if jid in faults.invalid_jids or jid.split("@", 1)[0] in faults.invalid_jids:
            raise _Reject("Invalid JID")
        media_url = params[media_param] if media_param else ""
        if media_param and not media_url.lower().startswith("https://"):
            raise _Reject("Media not accessible")
        text = params[text_param] if text_param else ""
        with self._lock:
            # Checked again under the lock: concurrent requests must not overshoot N.
            if self._disconnected(faults, instance):
                raise _Reject("Instance not connected")
            seq = len(self._state.received) + 1
            item = Received(seq, endpoint, jid, text, media_url, time.time(), instance)
            self._state.received.append(item)
            self._state.accepted_by[instance] += 1
            if self._echo is not None:  # under the lock, so the console shows seq order
                self._echo(echo_line(item))
        return item

    def _rate_limited(self, faults: Faults) -> bool:
        with self._lock:
            self._state.limited += 1
            return self._state.limited <= faults.rate_limited

    def _disconnected(self, faults: Faults, instance: str) -> bool:  # called with the lock held
        n = faults.disconnect_after
        if n is not None and len(self._state.received) >= n:
            return True
        mine = faults.disconnect_instances.get(instance)
        return mine is not None and self._state.accepted_by[instance] >= mine


def banner(url: str, port: int, *, token: bool, instance_id: bool) -> list[str]:
    """What `campaign sandbox` prints first: where it listens, and the settings that point a run
    at it for POSIX shells, PowerShell and cmd, each a line that works where it is pasted (issue
    18: a lone `set IBOT_BASE_URL=...` does nothing in bash). A token or instance ID it was started
    with is never printed (the dashboard's Instance ID doubles as the token): then the lines leave
    that variable to the user."""
    settings = {"IBOT_BASE_URL": url}
    if not token:
        settings["IBOT_TOKEN"] = "sandbox"  # any non-empty token is accepted
    if not instance_id:
        settings["IBOT_INSTANCE_ID"] = "sandbox"
    posix = "export " + " ".join(f"{k}={shlex.quote(v)}" for k, v in settings.items())
    powershell = "; ".join(f'$env:{k} = "{v}"' for k, v in settings.items())
    cmd = " & ".join(f'set "{k}={v}"' for k, v in settings.items())
    kept = [name for name, given in (("IBOT_TOKEN", token), ("IBOT_INSTANCE_ID", instance_id))
            if given]
    also = (f" ({' and '.join(kept)}: the one{'s' if len(kept) > 1 else ''} it was started with, "
            "not shown here)") if kept else ""
    return [
        f"Sandbox API at {url} (messages: http://127.0.0.1:{port}/); Ctrl-C to stop.",
        f"To point a run at it, set these in the shell that runs campaign send{also}:",
        f"  POSIX shells (bash, zsh):  {posix}",
        f"  PowerShell:                {powershell}",
        f"  cmd:                       {cmd}",
    ]


def serve(
    *,
    port: int,
    token: str | None,
    instance_id: str | Iterable[str] | None,
    faults: Faults,
    echo: Callable[[str], None],
) -> None:
    """Blocking: run until KeyboardInterrupt; for `campaign sandbox`."""
    sandbox = Sandbox(port=port, token=token, instance_id=instance_id, faults=faults, echo=echo)
    sandbox.start()
    try:
        for line in banner(sandbox.url, sandbox.port, token=token is not None,
                           instance_id=instance_id is not None):
            echo(line)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
