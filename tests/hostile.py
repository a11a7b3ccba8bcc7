"""Tools for attacks made from outside (issue 19): a hostile stand-in server on loopback, and
the real CLI in a subprocess under a memory ceiling, with its own peak memory and wall time.
"""

from __future__ import annotations

import os
import resource
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.conftest import SANDBOX_INSTANCE, SANDBOX_TOKEN

# The ceiling a failing attack hits instead of the machine (8 agents share it); the tests'
# own bound (500 MB of resident memory) is asserted on the child's measured peak.
ADDRESS_SPACE = 3 * 1024**3

Reply = tuple[int, dict[str, str], bytes]


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    seconds: float
    peak_mb: float


def run_cli(args: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 120,
            preamble: str = "") -> Ran:
    """`python -m campaign ARGS` (after `preamble`, Python run first in the child), with its
    exit code, output, wall time and peak resident memory (wait4: this child's alone)."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))

    code = f"{preamble}\nimport runpy\nrunpy.run_module('campaign', run_name='__main__')"
    with tempfile.TemporaryFile() as out:
        began = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-c", code, *args], cwd=cwd, env=env,
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                preexec_fn=limit)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        took = time.monotonic() - began
        proc.returncode = os.waitstatus_to_exitcode(status)  # so Popen does not wait again
        out.seek(0)
        text = out.read().decode("utf-8", errors="replace")
    return Ran(proc.returncode, text, took, usage.ru_maxrss / 1024)


def cli_env(home: Path, url: str = "", **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.upper().endswith("_PROXY") and not k.startswith("IBOT_")}
    env |= {"IBOT_TOKEN": SANDBOX_TOKEN, "IBOT_INSTANCE_ID": SANDBOX_INSTANCE,
            "CAMPAIGN_HOME": str(home), "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": os.pathsep.join(sys.path)}
    if url:
        env["IBOT_BASE_URL"] = url
    return env | extra


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    reply: Callable[[str, str], Reply]
    seen: list[str]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        self.server.seen.append(self.requestline)
        status, headers, body = self.server.reply(self.command, self.path)
        self.send_response(status)
        for name, value in {"Content-Length": str(len(body)), **headers}.items():
            self.send_header(name, value)
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.close_connection = True

    do_GET = do_HEAD = do_POST = do_CONNECT = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def hostile(reply: Callable[[str, str], Reply], tls: ssl.SSLContext | None = None
            ) -> Iterator[_Server]:
    """A server on 127.0.0.1 answering `reply(method, path)`; `.seen` holds its request lines."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.reply, server.seen = reply, []
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def url_of(server: _Server, path: str = "/api/v1") -> str:
    return f"http://127.0.0.1:{server.server_address[1]}{path}"


def assert_no_secret(out: str, folder: Path) -> None:
    """No traceback, and the sentinel credentials in no output and no file under `folder`."""
    assert "Traceback" not in out, out
    assert SANDBOX_TOKEN not in out and SANDBOX_INSTANCE not in out, out
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert SANDBOX_TOKEN.encode() not in data, path
            assert SANDBOX_INSTANCE.encode() not in data, path
