"""`--check-media` (SPEC step 6) against a real file server on loopback: each distinct URL is
fetched once, HEAD then GET, and rows whose media the API could not fetch become `invalid`.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from click.testing import Result

from campaign.media import PAGE_WARNING, check_media
from campaign.plan import Row

PIC = b"\xff\xd8\xff\xe0" + b"\0" * 2048  # enough of a JPEG for a server to serve
SHARE_PAGE = b"<!doctype html><title>Google Drive</title><p>pic.jpg</p>"


class Files(BaseHTTPRequestHandler):
    """One file, a missing one, and the awkward servers a campaign meets in the wild."""

    server: FileServer

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def do_GET(self) -> None:
        self._answer(body=True)

    def _answer(self, *, body: bool) -> None:
        self.server.requests.append((self.command, self.path))
        path = self.path
        if path == "/slow.jpg":
            self.server.release.wait(5)
            return
        if path.startswith("/old/"):  # a CDN moving the file
            return self._send(301, headers={"Location": "/files/pic.jpg"})
        if path == "/no-head/pic.jpg" and not body:  # S3 presigned URLs, some app servers
            return self._send(405, headers={"Allow": "GET"})
        if path in ("/files/pic.jpg", "/no-head/pic.jpg"):
            return self._send(200, "image/jpeg", PIC if body else b"", len(PIC))
        if path in ("/share/pic.jpg", "/about.html"):  # a share link's viewer page
            return self._send(200, "text/html; charset=utf-8", SHARE_PAGE if body else b"")
        self._send(404, "text/html", b"<h1>Not Found</h1>" if body else b"")

    def _send(self, code: int, content_type: str = "", data: bytes = b"", length: int = -1,
              headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        for name, value in {"Content-Type": content_type, **(headers or {})}.items():
            if value:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data) if length < 0 else length))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep pytest's output for assertions


class FileServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Files)
        self.requests: list[tuple[str, str]] = []
        self.release = threading.Event()
        self.scheme = "http"

    def url(self, path: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server_address[1]}{path}"

    def fetches(self, path: str) -> list[str]:
        return [method for method, p in self.requests if p == path]


def serve(tls: ssl.SSLContext | None = None) -> Iterator[FileServer]:
    server = FileServer()
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
        server.scheme = "https"
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def files() -> Iterator[FileServer]:
    yield from serve()


def rows_for(*urls: str, status: str = "ready") -> list[Row]:
    return [Row(number=n, values=(), jid=f"97250000000{n}@s.whatsapp.net", status=status,
                media=url) for n, url in enumerate(urls, 2)]


def refused_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/pic.jpg"  # nothing listens there any more


# --- check_media ----------------------------------------------------------------------------------


def test_reachable_file_stays_ready_and_shared_url_is_fetched_once(files: FileServer) -> None:
    rows = rows_for(*[files.url("/files/pic.jpg")] * 3)
    assert check_media(rows) == {}
    assert [(r.status, r.error) for r in rows] == [("ready", "")] * 3
    assert files.fetches("/files/pic.jpg") == ["HEAD"]


def test_missing_file_makes_every_row_sharing_it_invalid(files: FileServer) -> None:
    missing, pic = files.url("/missing.jpg"), files.url("/files/pic.jpg")
    rows = rows_for(missing, pic, missing, missing)
    assert check_media(rows) == {missing: "HTTP 404 Not Found"}
    assert [r.status for r in rows] == ["invalid", "ready", "invalid", "invalid"]
    assert rows[0].error == f"media not reachable: HTTP 404 Not Found ({missing})"
    assert files.fetches("/missing.jpg") == ["HEAD"]  # a 404 is an answer: no GET after it


def test_head_refused_falls_back_to_get(files: FileServer) -> None:
    rows = rows_for(files.url("/no-head/pic.jpg"))
    assert check_media(rows) == {}
    assert (rows[0].status, rows[0].error) == ("ready", "")
    assert files.fetches("/no-head/pic.jpg") == ["HEAD", "GET"]


def test_redirect_to_the_file_is_followed(files: FileServer) -> None:
    rows = rows_for(files.url("/old/pic.jpg"))
    assert check_media(rows) == {}
    assert rows[0].status == "ready"
    assert files.fetches("/files/pic.jpg") == ["HEAD"]


def test_web_page_instead_of_file_is_a_warning_not_a_rejection(files: FileServer) -> None:
    rows = rows_for(files.url("/share/pic.jpg"), files.url("/about.html"))
    rows[0].error = "warning: +972 50-000-0002 is not a valid number"
    assert check_media(rows) == {}
    assert [r.status for r in rows] == ["ready", "ready"]
    assert rows[0].error == f"warning: +972 50-000-0002 is not a valid number; {PAGE_WARNING}"
    assert rows[1].error == ""  # a URL that names an .html page asked for one


def test_connection_refused_and_timeout(files: FileServer) -> None:
    refused, slow = refused_url(), files.url("/slow.jpg")
    rows = rows_for(refused, slow)
    assert check_media(rows, timeout=0.2) == {
        refused: "connection refused",
        slow: "timed out after 0.2s",
    }
    assert rows[0].error == f"media not reachable: connection refused ({refused})"
    assert rows[1].error == f"media not reachable: timed out after 0.2s ({slow})"
    assert [r.status for r in rows] == ["invalid", "invalid"]


def test_only_rows_that_would_be_sent_are_checked(files: FileServer) -> None:
    gone = files.url("/missing.jpg")
    rows = [*rows_for(gone, status="duplicate"), *rows_for(gone, status="sent"),
            *rows_for(gone, status="suppressed"), *rows_for("")]
    assert check_media(rows) == {}
    assert [r.status for r in rows] == ["duplicate", "sent", "suppressed", "ready"]
    assert files.requests == []
    pending = rows_for(gone, status="pending") + rows_for(gone, status="failed")
    assert check_media(pending) == {gone: "HTTP 404 Not Found"}
    assert [r.status for r in pending] == ["invalid", "invalid"]


def test_long_urls_are_shortened_in_the_error(files: FileServer) -> None:
    url = files.url("/missing/" + "a" * 200 + ".jpg")
    rows = rows_for(url)
    check_media(rows)
    assert rows[0].error == f"media not reachable: HTTP 404 Not Found ({url[:117]}...)"


def test_progress_is_reported_per_distinct_url(files: FileServer) -> None:
    calls: list[tuple[int, int]] = []
    pic, missing = files.url("/files/pic.jpg"), files.url("/missing.jpg")
    check_media(rows_for(pic, missing, pic), progress=lambda *a: calls.append(a))
    assert calls == [(1, 2), (2, 2)]


def test_a_given_client_is_used_follows_redirects_and_stays_open(files: FileServer) -> None:
    with httpx.Client(timeout=2) as http:  # follow_redirects=False, as the API client has
        rows = rows_for(files.url("/old/pic.jpg"))
        assert check_media(rows, http=http) == {}
        assert rows[0].status == "ready"
        assert not http.is_closed


# --- the CLI, over HTTPS with a certificate made for the test -------------------------------------


@pytest.fixture
def https_files(certificate: tuple[Path, Path]) -> Iterator[FileServer]:
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(*certificate)
    yield from serve(tls)


def test_cli_dry_run_check_media_marks_unreachable_rows(
    cli: Callable[..., Result],
    write_csv: Callable[..., Path],
    results: Callable[[Path], list[dict[str, str]]],
    https_files: FileServer,
    certificate: tuple[Path, Path],
) -> None:
    pic, missing = https_files.url("/files/pic.jpg"), https_files.url("/missing.jpg")
    contacts = write_csv([["Name", "Phone", "pic"], ["Dana", "050-234-5678", pic],
                          ["Avi", "0531234567", missing]])
    # httpx trusts SSL_CERT_FILE instead of certifi's bundle (trust_env is on by default).
    # A loopback API: a rehearsal, which may serve its media from this machine (a real run
    # refuses such URLs: tests/test_hostile_network.py).
    r = cli("send", contacts, "--type", "image", "--media-url", "{{ pic }}", "-m", "Hi",
            "--dry-run", "--check-media", "--base-url", "http://127.0.0.1:9/api/v1",
            env={"SSL_CERT_FILE": str(certificate[0])})
    assert r.exit_code == 0, r.output
    got = results(contacts.with_name("contacts-message.rehearsal.results.csv"))
    assert [(row["status"], row["error"], row["media"]) for row in got] == [
        ("ready", "", pic),
        ("invalid", f"media not reachable: HTTP 404 Not Found ({missing})", missing),
    ]
    assert f"row 3: invalid: media not reachable: HTTP 404 Not Found ({missing})" in r.stderr
    assert https_files.fetches("/files/pic.jpg") == ["HEAD"]


def test_cli_without_check_media_fetches_nothing(
    cli: Callable[..., Result], write_csv: Callable[..., Path], https_files: FileServer
) -> None:
    contacts = write_csv([["Phone", "pic"], ["050-234-5678", https_files.url("/missing.jpg")]])
    r = cli("send", contacts, "--type", "image", "--media-url", "{{ pic }}", "-m", "Hi",
            "--dry-run")
    assert r.exit_code == 0, r.output
    assert https_files.requests == []
