"""The sandbox honours the reference's contract over real loopback HTTP, and its faults do
what rehearsals rely on. No mocks: every test talks to a running server through httpx."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from campaign.sandbox import Faults, Received, Sandbox, banner, page_html, serve

TOKEN = "SENTINEL-TOKEN-12345"
INSTANCE = "SENTINEL-INSTANCE-67890"
JID = "972501234567@s.whatsapp.net"
SUCCESS = {"success": True, "message": "Message sent successfully!"}

# endpoint -> the message parameters of a valid request (credentials added by `send`).
VALID: dict[str, dict[str, str]] = {
    "send-text": {"jid": JID, "msg": "Hello Dana"},
    "send-image": {"jid": JID, "imageurl": "https://example.com/a.jpg", "caption": "Pic"},
    "send-video": {"jid": JID, "videourl": "https://example.com/v.mp4", "caption": "Vid"},
    "send-audio": {"jid": JID, "audiourl": "https://example.com/a.mp3"},
    "send-doc": {"jid": JID, "docurl": "https://example.com/f.pdf", "caption": ""},
}


@pytest.fixture
def echoed() -> list[str]:
    return []


@pytest.fixture
def sandbox(echoed: list[str]) -> Iterator[Sandbox]:
    with Sandbox(token=TOKEN, instance_id=INSTANCE, echo=echoed.append) as sb:
        yield sb


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=2.0) as client:
        yield client


def send(http: httpx.Client, sb: Sandbox, endpoint: str, **params: str) -> httpx.Response:
    query = {"token": TOKEN, "instance_id": INSTANCE} | params
    return http.get(f"{sb.url}/{endpoint}", params=query)


@pytest.mark.parametrize("endpoint", list(VALID))
def test_each_endpoint_accepts_a_valid_request(
    http: httpx.Client, sandbox: Sandbox, endpoint: str
) -> None:
    reply = send(http, sandbox, endpoint, **VALID[endpoint])
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "application/json; charset=utf-8"
    body = reply.json()
    assert set(body) == {"success", "message", "response"}
    assert {k: body[k] for k in SUCCESS} == SUCCESS
    assert isinstance(body["response"], str) and body["response"]
    [item] = sandbox.received
    params = VALID[endpoint]
    media = next((v for k, v in params.items() if k.endswith("url")), "")
    assert (item.seq, item.endpoint, item.jid) == (1, endpoint, JID)
    assert (item.text, item.media_url) == (params.get("msg", params.get("caption", "")), media)


def test_group_jid_is_accepted(http: httpx.Client, sandbox: Sandbox) -> None:
    reply = send(http, sandbox, "send-text", jid="120363012345-1612345678@g.us", msg="hi")
    assert reply.json()["success"] is True


@pytest.mark.parametrize(
    ("endpoint", "params", "reason"),
    [
        ("send-text", {"token": "wrong"}, "Invalid token"),
        ("send-text", {"token": ""}, "Invalid token"),
        ("send-text", {"instance_id": "other"}, "Instance not connected"),
        ("send-text", {"msg": None}, "Missing parameter: msg"),
        ("send-text", {"jid": None}, "Missing parameter: jid"),
        ("send-image", {"caption": None}, "Missing parameter: caption"),
        ("send-video", {"videourl": None}, "Missing parameter: videourl"),
        ("send-text", {"jid": "0501234567"}, "Invalid JID"),
        ("send-text", {"jid": "972501234567@c.us"}, "Invalid JID"),
        ("send-image", {"imageurl": "http://example.com/a.jpg"}, "Media not accessible"),
        ("send-doc", {"docurl": "file:///etc/passwd"}, "Media not accessible"),
    ],
)
def test_documented_errors(
    http: httpx.Client,
    sandbox: Sandbox,
    endpoint: str,
    params: dict[str, str | None],
    reason: str,
) -> None:
    query = {"token": TOKEN, "instance_id": INSTANCE} | VALID[endpoint] | params
    clean = {k: v for k, v in query.items() if v is not None}
    reply = http.get(f"{sandbox.url}/{endpoint}", params=clean)
    assert reply.status_code == 200
    assert reply.json() == {"success": False, "message": reason}
    assert sandbox.received == []
    assert sandbox.requests == 1


def test_invalid_jids_match_the_full_jid_or_its_digits(
    http: httpx.Client, sandbox: Sandbox
) -> None:
    sandbox.faults.invalid_jids = frozenset({"972509999999", "972508888888@s.whatsapp.net"})
    for number in ("972509999999", "972508888888"):
        reply = send(http, sandbox, "send-text", jid=f"{number}@s.whatsapp.net", msg="x")
        assert reply.json() == {"success": False, "message": "Invalid JID"}
    assert send(http, sandbox, "send-text", jid=JID, msg="x").json()["success"] is True


def test_disconnect_after_n_accepted(http: httpx.Client, sandbox: Sandbox) -> None:
    sandbox.faults.disconnect_after = 2
    replies = [send(http, sandbox, "send-text", **VALID["send-text"]).json() for _ in range(4)]
    assert [r["success"] for r in replies] == [True, True, False, False]
    assert replies[2] == {"success": False, "message": "Instance not connected"}
    assert len(sandbox.received) == 2


def test_error_status_is_configurable(http: httpx.Client, sandbox: Sandbox) -> None:
    sandbox.faults.error_status = 400
    reply = send(http, sandbox, "send-text", jid="123", msg="x")
    assert reply.status_code == 400
    assert reply.json() == {"success": False, "message": "Invalid JID"}
    assert send(http, sandbox, "send-text", **VALID["send-text"]).status_code == 200


def test_any_credentials_accepted_when_none_configured(http: httpx.Client) -> None:
    with Sandbox() as sb:
        reply = http.get(
            f"{sb.url}/send-text", params={"token": "t", "instance_id": "i"} | VALID["send-text"]
        )
        assert reply.json()["success"] is True
        reply = http.get(f"{sb.url}/send-text", params={"instance_id": "i"} | VALID["send-text"])
        assert reply.json() == {"success": False, "message": "Invalid token"}


def test_hebrew_round_trips_exactly(
    http: httpx.Client, sandbox: Sandbox, echoed: list[str]
) -> None:
    text = "שלום דנה 👋\nline2 & a+b=c %20"
    assert send(http, sandbox, "send-text", jid=JID, msg=text).json()["success"] is True
    assert sandbox.received[0].text == text
    assert echoed == [f"#1 send-text → {JID}: שלום דנה 👋 ⏎ line2 & a+b=c %20"]
    listed = http.get(sandbox.url.removesuffix("/api/v1") + "/messages.json").json()
    assert listed[0]["text"] == text


def test_failure_rate_answers_500_and_records_nothing(http: httpx.Client, sandbox: Sandbox) -> None:
    sandbox.faults.failure_rate = 1.0
    reply = send(http, sandbox, "send-text", **VALID["send-text"])
    assert reply.status_code == 500
    assert reply.json() == {"success": False, "message": "Internal server error"}
    assert sandbox.received == []
    assert sandbox.requests == 1


def test_drop_rate_hangs_up_without_reply_and_records_nothing(
    http: httpx.Client, sandbox: Sandbox
) -> None:
    sandbox.faults.drop_rate = 1.0
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        send(http, sandbox, "send-text", **VALID["send-text"])
    assert sandbox.received == []
    sandbox.faults.drop_rate = 0.0  # faults change at runtime; the next request goes through
    assert send(http, sandbox, "send-text", **VALID["send-text"]).json()["success"] is True
    assert sandbox.requests == 2


def test_seeded_faults_repeat(http: httpx.Client) -> None:
    def pattern() -> list[int]:
        with Sandbox(faults=Faults(failure_rate=0.5, seed=7)) as sb:
            creds = {"token": "t", "instance_id": "i"} | VALID["send-text"]
            return [http.get(f"{sb.url}/send-text", params=creds).status_code for _ in range(12)]

    first = pattern()
    assert first == pattern()
    assert set(first) == {200, 500}


def test_latency_delays_each_reply(http: httpx.Client, sandbox: Sandbox) -> None:
    sandbox.faults.latency = 0.05
    started = time.perf_counter()
    send(http, sandbox, "send-text", **VALID["send-text"])
    assert time.perf_counter() - started >= 0.05


def test_max_concurrent_counts_requests_in_flight(http: httpx.Client, sandbox: Sandbox) -> None:
    for _ in range(3):
        send(http, sandbox, "send-text", **VALID["send-text"])
    assert sandbox.max_concurrent == 1
    # And it does notice overlap, so `== 1` above proves something.
    sandbox.faults.latency = 0.1
    threads = [
        threading.Thread(target=send, args=(http, sandbox, "send-text"), kwargs=VALID["send-text"])
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sandbox.max_concurrent == 2
    assert [r.seq for r in sandbox.received] == [1, 2, 3, 4, 5]


def test_token_never_echoed_nor_shown(
    http: httpx.Client, sandbox: Sandbox, echoed: list[str]
) -> None:
    for endpoint, params in VALID.items():
        send(http, sandbox, endpoint, **params)
    rejected = send(http, sandbox, "send-text", token=TOKEN + "x", jid=JID, msg="x")
    assert rejected.json()["message"] == "Invalid token"
    assert len(echoed) == 5  # only accepted messages are echoed
    root = sandbox.url.removesuffix("/api/v1")
    shown = "\n".join(echoed) + http.get(root + "/").text + http.get(root + "/messages.json").text
    assert TOKEN not in shown and INSTANCE not in shown
    assert TOKEN not in repr(sandbox)


def test_pages_and_unknown_paths(http: httpx.Client, sandbox: Sandbox) -> None:
    send(http, sandbox, "send-text", jid=JID, msg="<script>alert(1)</script>")
    root = sandbox.url.removesuffix("/api/v1")
    page = http.get(root + "/")
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert '<meta http-equiv="refresh" content="2">' in page.text
    assert "&lt;script&gt;" in page.text and "<script>" not in page.text
    missing = http.get(f"{sandbox.url}/send-sticker")
    assert missing.status_code == 404 and missing.json()["success"] is False
    assert sandbox.requests == 1  # pages and 404s are not API requests


def test_page_shows_each_chat_in_order_with_the_most_recent_chat_last() -> None:
    other = "972547654321@s.whatsapp.net"
    items = [Received(1, "send-text", JID, "msg 1", "", 0.0),
             Received(2, "send-text", other, "msg 2", "", 0.0),
             Received(3, "send-text", JID, "msg 3", "", 0.0)]
    page = page_html(items)
    assert page.index("msg 2") < page.index("msg 1") < page.index("msg 3")


def test_stop_closes_keep_alive_connections(http: httpx.Client) -> None:
    sb = Sandbox().start()
    creds = {"token": "t", "instance_id": "i"} | VALID["send-text"]
    assert http.get(f"{sb.url}/send-text", params=creds).status_code == 200
    sb.stop()
    with pytest.raises(httpx.TransportError):
        http.get(f"{sb.url}/send-text", params=creds)


def test_serve_prints_url_and_no_credentials() -> None:
    lines: list[str] = []

    def echo(line: str) -> None:
        lines.append(line)
        if line.lstrip().startswith("cmd:"):
            raise KeyboardInterrupt  # stands in for Ctrl-C once the banner is out

    serve(port=0, token=TOKEN, instance_id=INSTANCE, faults=Faults(), echo=echo)
    banner = "\n".join(lines)
    assert "http://127.0.0.1:" in banner and "/api/v1" in banner
    assert "IBOT_BASE_URL=" in banner
    assert "(IBOT_TOKEN and IBOT_INSTANCE_ID: the ones it was started with, not shown here)" in banner
    assert TOKEN not in banner and INSTANCE not in banner


def test_the_banner_has_a_line_for_each_shell_that_works_there() -> None:
    """Issue 18: the banner's `set IBOT_BASE_URL=...` did nothing in bash."""
    url = "http://127.0.0.1:8765/api/v1"
    lines = banner(url, 8765, token=False, instance_id=False)
    posix, powershell, cmd = (line.split(":", 1)[1].strip() for line in lines[2:])
    assert lines[2].startswith("  POSIX shells") and lines[3].startswith("  PowerShell")
    assert lines[4].startswith("  cmd")
    shell = subprocess.run(["bash", "-c", f"{posix}; env"], capture_output=True, text=True, check=True,
                           env={"PATH": os.environ.get("PATH", "")})
    got = dict(line.split("=", 1) for line in shell.stdout.splitlines() if line.startswith("IBOT_"))
    assert got == {"IBOT_BASE_URL": url, "IBOT_TOKEN": "sandbox", "IBOT_INSTANCE_ID": "sandbox"}
    assert powershell == (f'$env:IBOT_BASE_URL = "{url}"; $env:IBOT_TOKEN = "sandbox"; '
                          '$env:IBOT_INSTANCE_ID = "sandbox"')
    # cmd's quoted form: `set A=x & set B=y` would give A a trailing space.
    assert cmd == (f'set "IBOT_BASE_URL={url}" & set "IBOT_TOKEN=sandbox" & '
                   'set "IBOT_INSTANCE_ID=sandbox"')
