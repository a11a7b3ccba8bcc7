"""Issue 19, the network attacks, each made as it was: the real CLI in a subprocess (memory capped,
peak measured) against a hostile stand-in on loopback. What a user sees is asserted: the exit
code, the statuses in the results sheet, the wall time, and the token in no output or file.
"""

from __future__ import annotations

import contextlib
import json
import ssl
import zlib
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from campaign.sandbox import Sandbox
from tests.helpers import FAST, SANDBOX_INSTANCE, SANDBOX_TOKEN, read_results
from tests.hostile import Reply, assert_no_secret, cli_env, hostile, run_cli, url_of

PEOPLE = [["Name", "Phone"], ["Dana", "0502345678"], ["Avi", "0502345679"]]
OPTIONS = [*FAST, "--results", "out.csv"]
OK = (200, {"Content-Type": "application/json"},
      b'{"success": true, "message": "Message sent successfully!"}')


def send(contacts: Path, env: dict[str, str], *args: str, timeout: float = 120,
         preamble: str = ""):  # type: ignore[no-untyped-def]
    return run_cli(["send", str(contacts), "-m", "Hi {{ name }}", *OPTIONS, *args],
                   cwd=contacts.parent, env=env, timeout=timeout, preamble=preamble)


def statuses(folder: Path) -> list[tuple[str, str]]:
    return [(r["status"], r["error"]) for r in read_results(folder / "out.csv")]


# --- 2. the token through a proxy -----------------------------------------------------------


def test_a_loopback_rehearsal_never_goes_through_the_proxies_of_the_environment(
    tmp_path: Path, write_csv: Callable[..., Path]
) -> None:
    contacts = write_csv(PEOPLE)
    with hostile(lambda method, path: (502, {}, b"proxy")) as proxy, \
            Sandbox(token=SANDBOX_TOKEN, instance_id=SANDBOX_INSTANCE) as box:
        address = url_of(proxy, "")
        env = cli_env(tmp_path / "home", box.url, HTTP_PROXY=address, HTTPS_PROXY=address,
                      ALL_PROXY=address, http_proxy=address, all_proxy=address)
        ran = send(contacts, env)
        assert proxy.seen == []  # not one byte to the proxy, let alone the token
        assert len(box.received) == 2
    assert ran.code == 0, ran.out
    assert_no_secret(ran.out, tmp_path)


def test_a_real_https_run_uses_the_https_proxy_only_as_a_tunnel(
    tmp_path: Path, write_csv: Callable[..., Path]
) -> None:
    contacts = write_csv(PEOPLE[:2])
    with hostile(lambda method, path: (403, {}, b"no tunnel for you")) as proxy:
        address = url_of(proxy, "")
        env = cli_env(tmp_path / "home", "https://api.example.invalid/api/v1",
                      HTTPS_PROXY=address, HTTP_PROXY="http://127.0.0.1:9")
        ran = send(contacts, env, "--retries", "0")
    # The proxy saw where to connect, never the request (its URL holds the token).
    assert proxy.seen == ["CONNECT api.example.invalid:443 HTTP/1.1"]
    assert ran.code == 1, ran.out
    [(status, error)] = statuses(tmp_path)
    assert status == "failed" and "proxy" in error and "nothing was sent" in error
    assert_no_secret(ran.out, tmp_path)


def test_a_socks_proxy_without_its_package_is_exit_2_not_a_traceback(
    tmp_path: Path, write_csv: Callable[..., Path]
) -> None:
    pytest.importorskip("campaign.client")
    try:
        import socksio  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("socksio is installed: a SOCKS proxy is usable")
    contacts = write_csv(PEOPLE[:2])
    env = cli_env(tmp_path / "home", "https://api.example.invalid/api/v1",
                  ALL_PROXY="socks5://127.0.0.1:9")
    ran = send(contacts, env)
    assert ran.code == 2, ran.out
    assert "SOCKS" in ran.out and "httpx[socks]" in ran.out
    assert_no_secret(ran.out, tmp_path)


# --- 4. a compressed reply ------------------------------------------------------------------


def _gzip(data: Callable[[], list[bytes]], level: int = 9) -> bytes:
    packer = zlib.compressobj(level, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    return b"".join([*(packer.compress(chunk) for chunk in data()), packer.flush()])


@pytest.mark.slow
def test_a_gzip_bomb_reply_is_cut_off_small_and_fast(
    tmp_path: Path, write_csv: Callable[..., Path]
) -> None:
    # 768 MB of zeros, gzipped twice: a few KB on the wire.
    once = _gzip(lambda: [bytes(8 << 20)] * 96, level=1)  # level 1: built in ~2 s
    bomb = _gzip(lambda: [once])
    assert len(bomb) < 20_000
    contacts = write_csv(PEOPLE)
    reply = (200, {"Content-Type": "application/json", "Content-Encoding": "gzip, gzip"}, bomb)
    with hostile(lambda method, path: reply) as server:
        ran = send(contacts, cli_env(tmp_path / "home", url_of(server)), "--timeout", "3")
    assert ran.code == 1, ran.out
    assert [s for s, _ in statuses(tmp_path)] == ["unknown", "unknown"]  # 2xx: it may be sent
    assert "once decompressed" in statuses(tmp_path)[0][1]
    assert ran.seconds < 2 * 3 + 5, ran.seconds
    assert ran.peak_mb < 500, ran.peak_mb
    assert_no_secret(ran.out, tmp_path)


def test_a_gzipped_reply_within_the_cap_is_read(
    tmp_path: Path, write_csv: Callable[..., Path]
) -> None:
    contacts = write_csv(PEOPLE)
    body = _gzip(lambda: [OK[2]])
    reply = (200, {"Content-Type": "application/json", "Content-Encoding": "gzip"}, body)
    with hostile(lambda method, path: reply) as server:
        ran = send(contacts, cli_env(tmp_path / "home", url_of(server)))
    assert ran.code == 0, ran.out
    assert [s for s, _ in statuses(tmp_path)] == ["sent", "sent"]


# --- 8. a 5xx saying "instance not connected" -----------------------------------------------


def test_a_5xx_saying_not_connected_is_unknown_and_never_resent_through_another_sender(
    tmp_path: Path, write_csv: Callable[..., Path]
) -> None:
    contacts = write_csv(PEOPLE)
    jids: list[str] = []

    def reply(method: str, path: str) -> Reply:
        jids.append(parse_qs(urlsplit(path).query)["jid"][0])
        return 503, {"Content-Type": "application/json"}, json.dumps(
            {"success": False, "message": "Instance not connected"}).encode()

    with hostile(reply) as server:
        env = cli_env(tmp_path / "home", url_of(server),
                      IBOT_INSTANCE_ID=f"a={SANDBOX_INSTANCE},b=SECOND-INSTANCE")
        ran = send(contacts, env)
    assert ran.code == 1, ran.out  # some rows unknown, no sender stopped
    assert [s for s, _ in statuses(tmp_path)] == ["unknown", "unknown"]
    assert sorted(jids) == sorted(set(jids)) and len(jids) == 2  # each row once, no resend
    assert_no_secret(ran.out, tmp_path)


# --- 9. a redirect whose path holds the token -----------------------------------------------


def test_a_redirect_echoing_the_token_in_its_path_never_shows_it(
    tmp_path: Path, write_csv: Callable[..., Path]
) -> None:
    contacts = write_csv(PEOPLE)

    def reply(method: str, path: str) -> Reply:
        query = parse_qs(urlsplit(path).query)
        where = f"/moved/{query['token'][0]}/{query['instance_id'][0]}/send"
        return 302, {"Location": where}, b""

    with hostile(reply) as server:
        ran = send(contacts, cli_env(tmp_path / "home", url_of(server)))
        assert len(server.seen) == 2  # reported, never followed
    assert ran.code == 1, ran.out
    [(status, error), _] = statuses(tmp_path)
    assert status == "failed" and "redirected to http://127.0.0.1" in error and "/moved/***/***/send" in error
    assert_no_secret(ran.out, tmp_path)  # output, results, journal, history


# --- 10. a name lookup that takes its time --------------------------------------------------

SLOW_RESOLVER = """
import socket, time
_real = socket.getaddrinfo
def _slow(host, *args, **kwargs):
    if str(host).endswith('.invalid'):
        time.sleep(20)
        raise socket.gaierror(-2, 'Name or service not known')
    return _real(host, *args, **kwargs)
socket.getaddrinfo = _slow
"""


def test_a_slow_name_lookup_ends_at_the_deadline(
    tmp_path: Path, write_csv: Callable[..., Path]
) -> None:
    contacts = write_csv(PEOPLE)
    env = cli_env(tmp_path / "home", "https://api.slow.invalid/api/v1")
    ran = send(contacts, env, "--timeout", "2", "--retries", "0", "--max-consecutive-failures", "0",
               preamble=SLOW_RESOLVER)
    assert ran.code == 1, ran.out
    rows = statuses(tmp_path)
    assert [s for s, _ in rows] == ["failed", "failed"]  # nothing can have left: not unknown
    assert "connect timeout" in rows[0][1]
    assert ran.seconds < 2 * 2 + 8, ran.seconds  # two deadlines and start-up, not 2 x 20 s
    assert_no_secret(ran.out, tmp_path)


# --- 12. --check-media led by a redirect into this machine ------------------------------------


@pytest.mark.parametrize(("where", "reason"), [
    ("http://127.0.0.1:{canary}/admin", "not https://; not followed"),
    ("https://localhost:{canary}/admin", "an address of this machine or a private network"),
    ("https://[::ffff:127.0.0.1]:{canary}/admin", "an address of this machine or a private network"),
])
def test_check_media_never_follows_a_redirect_into_this_machine(
    where: str, reason: str, tmp_path: Path, write_csv: Callable[..., Path],
    request: pytest.FixtureRequest,
) -> None:
    cert, key = request.getfixturevalue("certificate")
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    secret = (200, {"Content-Type": "image/jpeg"}, b"secret")
    with hostile(lambda method, path: secret, tls if where.startswith("https") else None) as canary:
        target = where.format(canary=canary.server_address[1])
        with hostile(lambda method, path: (302, {"Location": target}, b""), tls) as media:
            pic = f"https://127.0.0.1:{media.server_address[1]}/pic.jpg"
            contacts = write_csv([["Name", "Phone", "pic"], ["Dana", "0502345678", pic]])
            env = cli_env(tmp_path / "home", SSL_CERT_FILE=str(cert))
            # A rehearsal (loopback API) may serve its media from here; a redirect may not.
            ran = run_cli(["send", str(contacts), "--type", "image", "--media-url", "{{ pic }}",
                           "-m", "Hi", "--dry-run", "--check-media", "--results", "out.csv",
                           "--base-url", "http://127.0.0.1:9/api/v1"],
                          cwd=tmp_path, env=env)
            assert media.seen  # the rehearsal's own URL was fetched
        assert canary.seen == []  # not one request reached this machine's other server
    assert ran.code == 0, ran.out  # a dry run: the row is reported, not a failure
    [(status, error)] = statuses(tmp_path)
    assert status == "invalid" and "media not reachable: redirected to" in error and reason in error


# A name the resolver answers with an address of the private network (as an intranet name does).
PRIVATE_RESOLVER = """
import socket
_real = socket.getaddrinfo
def _private(host, port, *args, **kwargs):
    if str(host) == 'intranet.example.com':
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, '', ('10.1.2.3', port or 443))]
    return _real(host, port, *args, **kwargs)
socket.getaddrinfo = _private
"""


@pytest.mark.parametrize(("first", "shown"), [
    ("https://127.0.0.1:{canary}/pic.jpg", "127.0.0.1 is an address of this machine"),
    ("https://localhost:{canary}/pic.jpg", "localhost is an address of this machine"),
    ("https://[::1]:{canary}/pic.jpg", "::1 is an address of this machine"),
    ("https://[::ffff:127.0.0.1]:{canary}/pic.jpg", "is an address of this machine"),
    ("https://169.254.169.254/latest/meta-data/", "169.254.169.254 is an address of this"),
    ("https://intranet.example.com:{canary}/pic.jpg", "10.1.2.3 is an address of this machine"),
])
def test_a_real_run_never_fetches_a_first_media_url_on_this_machine_or_its_network(
    first: str, shown: str, tmp_path: Path, write_csv: Callable[..., Path],
    request: pytest.FixtureRequest,
) -> None:
    cert, key = request.getfixturevalue("certificate")
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    with hostile(lambda method, path: (200, {"Content-Type": "image/jpeg"}, b"secret"),
                 tls) as canary:
        pic = first.format(canary=canary.server_address[1])
        contacts = write_csv([["Name", "Phone", "pic"], ["Dana", "0502345678", pic]])
        env = cli_env(tmp_path / "home", SSL_CERT_FILE=str(cert))
        # A dry run for the real API (no --sandbox, no loopback --base-url): the media is
        # WhatsApp's to fetch from the internet, so this machine's addresses are nobody's.
        ran = run_cli(["send", str(contacts), "--type", "image", "--media-url", "{{ pic }}",
                       "-m", "Hi", "--dry-run", "--check-media", "--results", "out.csv",
                       "--timeout", "3"],
                      cwd=tmp_path, env=env, preamble=PRIVATE_RESOLVER)
        assert canary.seen == []
    assert ran.code == 0, ran.out  # a dry run: the row is reported, not a failure
    assert ran.seconds < 10, ran.seconds  # refused, not timed out
    [(status, error)] = statuses(tmp_path)
    assert status == "invalid", error
    assert "media not reachable" in error and shown in error and "not fetched" in error, error
    assert "Traceback" not in ran.out


def test_no_proxy_is_honoured_and_odd_entries_never_crash() -> None:
    from campaign.client import make_http_client

    with hostile(lambda method, path: (403, {}, b"")) as proxy:
        environ = {"HTTPS_PROXY": url_of(proxy, ""),
                   "NO_PROXY": "::1, 10.0.0.0/8, a b, .corp.invalid, h:99999"}
        with make_http_client(timeout=2, environ=environ) as http:
            for url in ("https://api.example.invalid/x", "https://api.corp.invalid/x",
                        "http://127.0.0.1:9/x"):
                with contextlib.suppress(httpx.HTTPError):
                    http.get(url)
        assert proxy.seen == ["CONNECT api.example.invalid:443 HTTP/1.1"]  # the others: direct


# --- round four: a reply nested deeper than the JSON reader recurses -------------------------


@pytest.mark.parametrize(("status", "body", "expected"), [
    (200, b"[" * 30_000 + b"]" * 30_000, "unknown"),  # 60 KB: under the reply's size cap
    (400, b'{"a":' * 10_000 + b"1" + b"}" * 10_000, "failed"),
], ids=["200-lists", "400-objects"])
def test_a_deeply_nested_reply_is_classified_not_a_crash(
    status: int, body: bytes, expected: str, tmp_path: Path, write_csv: Callable[..., Path]
) -> None:
    contacts = write_csv(PEOPLE)
    with hostile(lambda method, path: (status, {"Content-Type": "application/json"}, body)) as srv:
        ran = send(contacts, cli_env(tmp_path / "home", url_of(srv)))
    assert ran.code == 1, ran.out  # was: a RecursionError traceback, the rows left pending
    assert [s for s, _ in statuses(tmp_path)] == [expected, expected]
    assert_no_secret(ran.out, tmp_path)
