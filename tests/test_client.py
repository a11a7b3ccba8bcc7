"""The API client: every reply the service can give becomes the right Outcome, and the
token never leaks. All traffic goes through httpx.MockTransport: no sockets, no real sleeps."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from campaign.client import (
    DEFAULT_BASE_URL,
    IbotClient,
    Outcome,
    build_params,
    check_base_url,
    encoded_url_length,
    load_credentials,
    make_http_client,
    parse_retry_after,
    redact,
    resolve_base_url,
    silence_http_logs,
)
from campaign.errors import CampaignError, InputError

TOKEN = "SENTINEL-TOKEN-12345"
INSTANCE = "SENTINEL-INSTANCE-67890"
JID = "972502345678@s.whatsapp.net"
Handler = Callable[[httpx.Request], httpx.Response]


def make_client(handler: Handler, *, token: str = TOKEN) -> IbotClient:
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return IbotClient(http, base_url=DEFAULT_BASE_URL, token=token, instance_id=INSTANCE)


def reply(status: int, body: object = None, *, text: str | None = None, headers=None) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if text is not None:
            return httpx.Response(status, text=text, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return handler


def raises(error: type[httpx.TransportError]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        # httpx-style messages can quote the whole URL, token and all.
        raise error(f"[Errno 111] Connection refused: {request.url}", request=request)

    return handler


def send_text(handler: Handler) -> Outcome:
    return make_client(handler).send_once("text", jid=JID, text="שלום")


# --- what each reply means ------------------------------------------------------------------

SENT = {"success": True, "message": "Message sent successfully!", "response": "3EB0ABC"}


@pytest.mark.parametrize(
    ("status", "body", "kind", "message"),
    [
        (200, SENT, "sent", "Message sent successfully!"),
        (200, {"success": False, "message": "Invalid token"}, "abort", "Invalid token"),
        (401, {"success": False, "message": "Invalid token"}, "abort", "Invalid token"),
        (200, {"success": False, "message": "Instance not connected"}, "abort",
         "Instance not connected"),
        (400, {"success": False, "message": "INSTANCE NOT CONNECTED yet"}, "abort",
         "INSTANCE NOT CONNECTED yet"),
        (403, {"success": False, "message": "Forbidden"}, "abort", "Forbidden"),
        (200, {"success": False, "message": "Invalid JID"}, "failed", "Invalid JID"),
        (400, {"success": False, "message": "Invalid JID"}, "failed", "Invalid JID"),
        (200, {"success": False, "message": "Media not accessible"}, "failed",
         "Media not accessible"),
        (400, {"success": False, "message": "Missing parameter: msg"}, "failed",
         "Missing parameter: msg"),
        (500, {"success": False, "message": "Internal error"}, "unknown",
         "HTTP 500 from /send-text: Internal error"),
        (500, SENT, "unknown", "HTTP 500 from /send-text: Message sent successfully!"),
        (200, {"ok": True}, "unknown", None),
        (200, ["success", True], "unknown", None),
    ],
)
def test_json_replies_are_classified(status, body, kind, message) -> None:
    outcome = send_text(reply(status, body))
    assert (outcome.kind, outcome.http_status) == (kind, status)
    if message is not None:
        assert outcome.message == message


def test_success_keeps_the_api_response() -> None:
    assert send_text(reply(200, SENT)).response == "3EB0ABC"


@pytest.mark.parametrize(
    ("status", "text", "kind", "message"),
    [
        (502, "<h1>Bad Gateway</h1>", "unknown", "HTTP 502 from /send-text: <h1>Bad Gateway</h1>"),
        (503, "", "unknown", "HTTP 503 from /send-text"),
        (404, "Not Found", "failed", "HTTP 404 from /send-text: Not Found"),
        (401, "", "abort", "HTTP 401 from /send-text"),
        (200, "Invalid token", "abort", "HTTP 200 from /send-text: Invalid token"),
        (301, "", "failed", "HTTP 301 from /send-text: redirected to "
                            "https://elsewhere.example/api; check the base URL"),
    ],
)
def test_non_json_replies_are_classified(status, text, kind, message) -> None:
    headers = {"Location": f"https://elsewhere.example/api?token={TOKEN}"}
    outcome = send_text(reply(status, text=text, headers=headers))
    assert (outcome.kind, outcome.message) == (kind, message)


def test_unreadable_2xx_is_unknown_never_failed() -> None:
    outcome = send_text(reply(200, text="<html>" + "x" * 1000 + "</html>"))
    assert outcome.kind == "unknown"
    assert outcome.message.startswith("reply from /send-text not understood (HTTP 200 ")
    assert len(outcome.message) < 300


def test_429_is_retried_with_its_retry_after() -> None:
    outcome = send_text(reply(429, {"success": False}, headers={"Retry-After": "7"}))
    assert (outcome.kind, outcome.retry_after) == ("retry", 7.0)


def test_retry_after_as_http_date() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Wed, 01 Jan 2025 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Wed, 01 Jan 2025 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after("nan") is None
    assert parse_retry_after("999999") == 3600.0


@pytest.mark.parametrize(
    ("error", "kind", "message"),
    [
        (httpx.ConnectError, "retry", "connection refused"),
        (httpx.ConnectTimeout, "retry", "connect timeout after 5s"),
        (httpx.PoolTimeout, "retry", "no free connection after 5s"),
        (httpx.ReadTimeout, "unknown", "read timeout after 5s"),
        (httpx.WriteTimeout, "unknown", "write timeout after 5s"),
        (httpx.RemoteProtocolError, "unknown",
         "connection dropped by the server during /send-text"),
        (httpx.ReadError, "unknown", "connection lost while reading the reply from /send-text"),
        (httpx.WriteError, "unknown", "connection lost while sending /send-text"),
        # A refused CONNECT tunnel: the request itself never left (issue 19).
        (httpx.ProxyError, "retry",
         "the proxy (HTTPS_PROXY/ALL_PROXY) would not connect to the API; nothing was sent"),
    ],
)
def test_transport_errors_are_classified_not_raised(error, kind, message) -> None:
    outcome = send_text(raises(error))
    assert (outcome.kind, outcome.message, outcome.http_status) == (kind, message, None)


# --- retries ------------------------------------------------------------------------------


class Script:
    """A transport that plays back a list of replies or errors, one per request."""

    def __init__(self, *steps: httpx.Response | type[httpx.TransportError]) -> None:
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.steps.pop(0)
        if isinstance(step, httpx.Response):
            return step
        raise step("boom", request=request)


def send_scripted(script: Script, **kwargs) -> tuple[tuple[Outcome, int], list[float]]:
    sleeps: list[float] = []
    result = make_client(script).send(
        "text", jid=JID, text="hi", sleep=sleeps.append, rand=lambda: 0.5, **kwargs
    )
    return result, sleeps


def test_connect_error_is_retried_then_sent() -> None:
    (outcome, attempts), sleeps = send_scripted(
        Script(httpx.ConnectError, httpx.Response(200, json=SENT))
    )
    assert (outcome.kind, attempts) == ("sent", 2)
    assert sleeps == [3.0]  # backoff 2s plus rand()=0.5 of it


def test_read_timeout_is_never_retried() -> None:
    script = Script(httpx.ReadTimeout, httpx.Response(200, json=SENT))
    (outcome, attempts), sleeps = send_scripted(script)
    assert (outcome.kind, attempts, sleeps) == ("unknown", 1, [])
    assert len(script.requests) == 1


def test_retries_run_out_as_failed() -> None:
    script = Script(*[httpx.ConnectError] * 4)
    (outcome, attempts), sleeps = send_scripted(script, retries=3, max_backoff=5.0)
    assert outcome.kind == "failed"
    assert outcome.message == "cannot connect to the API (gave up after 4 attempts)"
    assert attempts == 4
    assert sleeps == [3.0, 6.0, 7.5]  # 2, 4, then capped at 5; each plus half for jitter


def test_connection_refused_gives_up_with_its_reason() -> None:
    outcome, attempts = make_client(raises(httpx.ConnectError)).send(
        "text", jid=JID, text="hi", retries=1, sleep=lambda s: None
    )
    assert (outcome.message, attempts) == ("connection refused (gave up after 2 attempts)", 2)


def test_429_waits_for_retry_after() -> None:
    limited = httpx.Response(429, json={"success": False}, headers={"Retry-After": "12"})
    (outcome, attempts), sleeps = send_scripted(Script(limited, httpx.Response(200, json=SENT)))
    assert (outcome.kind, attempts, sleeps) == ("sent", 2, [12.0])


def test_zero_retries_means_one_attempt() -> None:
    (outcome, attempts), sleeps = send_scripted(Script(httpx.ConnectTimeout), retries=0)
    assert (outcome.kind, attempts, sleeps) == ("failed", 1, [])


# --- what goes on the wire -----------------------------------------------------------------

HEBREW = "שלום דנה, המבצע מתחיל מחר!"
MEDIA = "https://example.com/f.pdf?a=1&b=2"


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("text", [("jid", JID), ("msg", HEBREW)]),
        ("image", [("jid", JID), ("caption", HEBREW), ("imageurl", MEDIA)]),
        ("video", [("jid", JID), ("caption", HEBREW), ("videourl", MEDIA)]),
        ("audio", [("jid", JID), ("audiourl", MEDIA)]),
        ("doc", [("jid", JID), ("caption", HEBREW), ("docurl", MEDIA)]),
    ],
)
def test_exact_query_per_endpoint(kind, expected) -> None:
    script = Script(httpx.Response(200, json=SENT))
    make_client(script).send_once(kind, jid=JID, text=HEBREW, media_url=MEDIA)
    (request,) = script.requests
    assert request.method == "GET"
    assert request.url.path == f"/api/v1/send-{kind}"
    assert request.url.params.multi_items() == [("token", TOKEN), ("instance_id", INSTANCE),
                                                *expected]


def test_empty_caption_is_still_sent() -> None:
    assert build_params("doc", jid=JID, text="", media_url=MEDIA) == {
        "jid": JID, "caption": "", "docurl": MEDIA}
    script = Script(httpx.Response(200, json=SENT))
    make_client(script).send_once("image", jid=JID, text="", media_url=MEDIA)
    assert "caption=&" in str(script.requests[0].url)


def test_audio_has_no_caption() -> None:
    assert "caption" not in build_params("audio", jid=JID, text="ignored", media_url=MEDIA)


def test_unknown_kind_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown message type 'sticker'"):
        build_params("sticker", jid=JID, text="", media_url="")


def test_hebrew_triples_the_url() -> None:
    def length(text: str) -> int:
        return encoded_url_length(DEFAULT_BASE_URL, "text", jid=JID, text=text, media_url="")

    ascii_len, hebrew_len = length("a" * 3000), length("ש" * 3000)
    assert ascii_len < 8192 < hebrew_len
    assert hebrew_len - ascii_len == 3000 * 5  # one letter became "%D7%A9"


def test_encoded_url_length_matches_the_real_request() -> None:
    script = Script(httpx.Response(200, json=SENT))
    client = IbotClient(httpx.Client(transport=httpx.MockTransport(script)),
                        base_url=DEFAULT_BASE_URL, token="t" * 64, instance_id="i" * 64)
    client.send_once("video", jid=JID, text=HEBREW + " & = ?", media_url=MEDIA)
    assert len(str(script.requests[0].url)) == encoded_url_length(
        DEFAULT_BASE_URL, "video", jid=JID, text=HEBREW + " & = ?", media_url=MEDIA)


@given(st.text(max_size=200))
def test_any_text_survives_the_round_trip(text: str) -> None:
    script = Script(httpx.Response(200, json=SENT))
    make_client(script).send_once("text", jid=JID, text=text)
    assert script.requests[0].url.params["msg"] == text


def test_http_client_settings() -> None:
    with make_http_client(timeout=12.0, connect_timeout=3.0) as http:
        assert http.timeout == httpx.Timeout(12.0, connect=3.0)
        assert http.follow_redirects is False


# --- credentials ---------------------------------------------------------------------------


def test_environment_wins_over_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("IBOT_TOKEN=from-file\nIBOT_INSTANCE_ID=file-id\n")
    env = {"IBOT_TOKEN": "from-env", "IBOT_INSTANCE_ID": "env-id"}
    assert load_credentials(env, tmp_path) == ("from-env", "env-id")


def test_dotenv_parsing(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "\ufeff# ibot credentials\n\n"
        "export IBOT_TOKEN = \"tok # not a comment\"\n"
        "IBOT_INSTANCE_ID=abc123  # from the dashboard\n"
        "NOT A PAIR\n",
        encoding="utf-8",
    )
    assert load_credentials({}, tmp_path) == ("tok # not a comment", "abc123")
    (tmp_path / ".env").write_text("IBOT_INSTANCE_ID='quoted-id'\n")
    assert load_credentials({"IBOT_TOKEN": ""}, tmp_path) == ("quoted-id", "quoted-id")


def test_token_falls_back_to_instance_id(tmp_path: Path) -> None:
    assert load_credentials({"IBOT_INSTANCE_ID": "inst"}, tmp_path) == ("inst", "inst")
    assert load_credentials({}, tmp_path) == (None, None)
    (tmp_path / ".env").write_text("IBOT_INSTANCE_ID=file-id\n")
    assert load_credentials({"IBOT_TOKEN": "env-tok"}, tmp_path) == ("env-tok", "file-id")


# --- the token never leaks -----------------------------------------------------------------


def test_redact() -> None:
    assert redact("GET /send-text?token=abc&instance_id=xyz&jid=1") == (
        "GET /send-text?token=***&instance_id=***&jid=1")
    assert redact("a+b/c and a%2Bb%2Fc", "a+b/c") == "*** and ***"
    assert redact("nothing", "") == "nothing"


def leaks(text: str) -> bool:
    return TOKEN in text or INSTANCE in text


def every_reply() -> list[Handler]:
    handlers: list[Handler] = [
        reply(200, SENT),
        reply(200, {"success": True, "message": f"ok {TOKEN}", "response": {"echo": TOKEN}}),
        reply(200, {"success": False, "message": f"Invalid token {TOKEN}"}),
        reply(400, text=f"bad request for ?token={TOKEN}&instance_id={INSTANCE}"),
        reply(500, text=f"Traceback: token={TOKEN}"),
        reply(200, text=f"<pre>{TOKEN}</pre>"),
        reply(302, text="", headers={"Location": f"https://x.example/?token={TOKEN}"}),
    ]
    errors = (httpx.ConnectError, httpx.ConnectTimeout, httpx.ReadTimeout,
              httpx.RemoteProtocolError, httpx.ProxyError, httpx.UnsupportedProtocol)
    return handlers + [raises(error) for error in errors]


def test_sentinel_token_is_never_shown(caplog: pytest.LogCaptureFixture) -> None:
    silence_http_logs()
    silence_http_logs()  # idempotent: one filter, not two
    assert len(logging.getLogger("httpx").filters) == 1
    for name in ("httpx", "httpcore", None):
        caplog.set_level(logging.DEBUG, logger=name)  # undoes the WARNING: the filter must hold

    outcomes: list[Outcome] = []
    for handler in every_reply():
        client = make_client(handler)
        assert not leaks(repr(client) + str(client))
        outcomes.append(client.send_once("text", jid=JID, text="hi"))
        outcomes.append(client.send("image", jid=JID, text="", media_url=MEDIA,
                                    retries=1, sleep=lambda s: None)[0])
    for outcome in outcomes:
        assert not leaks(str(outcome) + repr(outcome)), outcome

    # What the runner does with an abort: the message becomes an exception and a traceback.
    abort = next(o for o in outcomes if o.kind == "abort")
    try:
        raise CampaignError(abort.message)
    except CampaignError as error:
        assert not leaks("".join(traceback.format_exception(error)))
    with pytest.raises(ValueError) as info:
        make_client(reply(200, SENT)).send_once("gif", jid=JID, text="")
    assert not leaks("".join(traceback.format_exception(info.value)))

    assert any("token=***" in r.getMessage() for r in caplog.records)  # httpx did log the URL
    formatter = logging.Formatter()
    for record in caplog.records:
        assert not leaks(formatter.format(record)), record.getMessage()
    assert not leaks(caplog.text)


def test_logged_exceptions_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    silence_http_logs()
    caplog.set_level(logging.DEBUG, logger="httpx")
    try:
        raise RuntimeError(f"GET {DEFAULT_BASE_URL}/send-text?token={TOKEN}")
    except RuntimeError:
        logging.getLogger("httpx").exception("request %s failed", f"?token={TOKEN}")
    assert caplog.records and not leaks(caplog.text)


def test_spaces_are_sent_as_percent_20_like_the_reference_and_plus_survives() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=SENT)

    make_client(handler).send_once("text", jid=JID, text="Hello World +972 & שלום")
    raw = seen[0].url.query.decode("ascii")
    assert "msg=Hello%20World%20%2B972%20%26%20%D7%A9" in raw
    assert f"jid={JID}" in raw  # '@' readable, as in the reference's example
    assert seen[0].url.params["msg"] == "Hello World +972 & שלום"


# --- issue 11: a deadline, a size cap, Ctrl-C in a retry wait, nothing stranded ---------------


class Clock:
    """Seconds that pass only when a test says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def streaming(chunks: Callable[[], object], *, status: int = 200) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=chunks())  # type: ignore[arg-type]

    return handler


def test_a_reply_still_arriving_at_the_deadline_is_unknown() -> None:
    clock = Clock()

    def trickle() -> object:
        for byte in b'{"success": true, "message": "Message sent successfully!"}':
            clock.now += 1.0  # a byte a second
            yield bytes([byte])

    http = httpx.Client(transport=httpx.MockTransport(streaming(trickle)))
    client = IbotClient(http, base_url=DEFAULT_BASE_URL, token=TOKEN, instance_id=INSTANCE,
                        deadline=5.0, clock=clock)
    outcome, attempts = client.send("text", jid=JID, text="hi", sleep=lambda s: None)
    assert outcome == Outcome(
        "unknown", "no complete reply from /send-text within the 5s deadline (--timeout)", 200
    )
    assert attempts == 1 and clock.now < 7


def test_an_endless_reply_is_cut_off_at_64_kb() -> None:
    pulled = []

    def endless() -> object:
        while True:
            pulled.append(1)
            yield b" " * 8192

    outcome = send_text(streaming(endless))
    assert outcome.kind == "unknown"
    assert outcome.message == "the reply from /send-text is over 64 KB; not the API's answer, cut off"
    assert len(pulled) <= 10


def test_ctrl_c_during_a_retry_wait_ends_it_without_the_retry() -> None:
    calls, stop = [], []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(429, json={"success": False, "message": "slow down"},
                              headers={"Retry-After": "30"})

    def sleep(seconds: float) -> None:
        assert seconds == 30
        stop.append(True)  # the user presses Ctrl-C during the wait

    outcome, attempts = make_client(handler).send(
        "text", jid=JID, text="hi", retries=3, sleep=sleep, should_stop=lambda: bool(stop)
    )
    assert len(calls) == 1 and attempts == 1
    assert outcome.kind == "interrupted"
    assert outcome.message == (
        "HTTP 429 from /send-text: slow down; interrupted before the retry, nothing was sent"
    )


def test_a_stop_before_the_wait_skips_the_wait_too() -> None:
    slept: list[float] = []
    outcome, _ = make_client(reply(429, {"success": False, "message": "x"})).send(
        "text", jid=JID, text="hi", sleep=slept.append, should_stop=lambda: True
    )
    assert outcome.kind == "interrupted" and slept == []


@pytest.mark.parametrize(
    ("base_url", "token"),
    [
        ("http://a..b/api/v1", TOKEN),
        ("https://" + "a" * 64 + ".example/api/v1", TOKEN),
        ("http://.invalid/api/v1", TOKEN),
        (DEFAULT_BASE_URL, "tok\udcff" + TOKEN),  # an undecodable byte from the environment
    ],
)
def test_a_request_that_cannot_be_built_is_failed_never_unknown(base_url: str, token: str) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"success": True})

    http = httpx.Client(transport=httpx.MockTransport(handler))
    client = IbotClient(http, base_url=base_url, token=token, instance_id=INSTANCE)
    outcome, attempts = client.send("text", jid=JID, text="hi", sleep=lambda s: None)
    assert outcome.kind == "failed" and attempts == 1 and not sent
    assert "Nothing was sent" in outcome.message or "nothing was sent" in outcome.message
    assert TOKEN not in outcome.message


def test_an_idna_error_at_connect_time_is_failed() -> None:
    # The real transport: the 64-character label only fails when the socket resolves it.
    with make_http_client(timeout=2.0) as http:
        client = IbotClient(http, base_url="https://" + "a" * 64 + ".example/api/v1",
                            token=TOKEN, instance_id=INSTANCE)
        outcome, _ = client.send("text", jid=JID, text="hi", retries=0)
    assert outcome.kind == "failed", outcome


@pytest.mark.parametrize(
    ("location", "shown"),
    [
        ("/elsewhere/api?token=" + TOKEN, "redirected to https://ibot-chat.com/elsewhere/api"),
        ("other", "redirected to https://ibot-chat.com/api/v1/other"),
        ("https://x.example:8443/a?token=" + TOKEN, "redirected to https://x.example:8443/a"),
        ("", "redirected without saying where (no Location header)"),
    ],
)
def test_redirects_name_where_they_point_without_the_query(location: str, shown: str) -> None:
    headers = {"Location": location} if location else {}
    outcome = send_text(reply(302, text="", headers=headers))
    assert outcome.message == f"HTTP 302 from /send-text: {shown}; check the base URL"


# --- the base URL and the credentials, checked before anything is sent ------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://ibot-chat.com/api/v1/", "https://ibot-chat.com/api/v1"),
        ("http://127.0.0.1:8765/api/v1", "http://127.0.0.1:8765/api/v1"),
        ("http://127.1.2.3/api", "http://127.1.2.3/api"),
        ("http://localhost:9000/api/v1", "http://localhost:9000/api/v1"),
        ("http://[::1]:8765/api/v1", "http://[::1]:8765/api/v1"),
        ("https://דוגמה.example/api", "https://דוגמה.example/api"),
    ],
)
def test_good_base_urls(url: str, expected: str) -> None:
    assert check_base_url(url) == expected


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("", "it is empty (an empty value does not mean the default)"),
        ("ftp://ibot-chat.com/api/v1", "it must start with https:// (or http:// for a local sandbox)"),
        ("127.0.0.1:80/api/v1", "it must start with https:// (or http:// for a local sandbox)"),
        ("http://[::1", "it is not a valid URL (Invalid IPv6 URL)"),
        ("http://a..b/api/v1", "the host name 'a..b' has an empty label (two dots in a row, or a "
         "dot first)"),
        ("http://.invalid/api/v1", "the host name '.invalid' has an empty label (two dots in a "
         "row, or a dot first)"),
        ("https://" + "a" * 64 + ".com/api", "is not a valid host name"),
        ("https://ibot-chat.com/api/v1?x=1", "it has a query ('?...')"),
        ("https://ibot-chat.com/api/v1#frag", "it has a fragment ('#...')"),
        ("https://user:pw@ibot-chat.com/api/v1", "it has a user name or password"),
        ("http://ibot-chat.com/api/v1", "plain http:// would send the token unencrypted"),
        ("https://ibot chat.com/api", "it contains spaces or control characters"),
    ],
)
def test_bad_base_urls_are_refused_before_anything_is_sent(url: str, why: str) -> None:
    with pytest.raises(InputError) as e:
        check_base_url(url)
    assert why in str(e.value)
    assert str(e.value).endswith(
        "Give the API root as http(s)://host/path (e.g. --base-url https://ibot-chat.com/api/v1, "
        "or http://127.0.0.1:8765/api/v1 for a local sandbox)."
    )


def test_an_empty_ibot_base_url_is_not_production() -> None:
    assert resolve_base_url(None, {}) == DEFAULT_BASE_URL
    with pytest.raises(InputError, match="it is empty"):
        resolve_base_url(None, {"IBOT_BASE_URL": ""})
    assert resolve_base_url("http://127.0.0.1:1/api", {"IBOT_BASE_URL": ""}) == (
        "http://127.0.0.1:1/api"
    )


@pytest.mark.parametrize("bad", ["tok\udcffen", "tök", "to\nken", "tok\x00"])
def test_credentials_that_cannot_ride_in_a_url_are_refused_unechoed(bad: str, tmp_path: Path
                                                                    ) -> None:
    with pytest.raises(InputError) as e:
        load_credentials({"IBOT_TOKEN": bad + "SECRETPART", "IBOT_INSTANCE_ID": "abc"}, tmp_path)
    assert "IBOT_TOKEN has" in str(e.value) and "SECRETPART" not in str(e.value)
