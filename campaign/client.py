"""The ibot-chat API over httpx: one request in, one classified Outcome out.

Every reply, whatever its HTTP status or body, becomes an Outcome the runner can act on
(SPEC "Errors and exit codes"). The token rides in the query string, so nothing built here
ever quotes a request URL: messages name the endpoint path only, and logs are redacted.
"""

from __future__ import annotations

import contextlib
import contextvars
import email.utils
import ipaddress
import json
import logging
import math
import os
import random
import re
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, quote_plus, urlencode, urlsplit

import httpcore
import httpx
import idna

from campaign.errors import InputError
from campaign.inputfiles import read_text_file
from campaign.vocabulary import MessageKind

DEFAULT_BASE_URL = "https://ibot-chat.com/api/v1"

# The service's own words for "stop everything" (reference, "Common Errors").
ABORT_MESSAGES = ("invalid token", "instance not connected")
# A Retry-After of days is a misconfigured server, not advice worth a stalled campaign.
MAX_RETRY_AFTER = 3600.0
SNIPPET = 200
# The API answers a few hundred bytes; anything past this is not its answer (issue 11: an
# endless 200 reply grew the process past 8 GB in 30 s).
MAX_REPLY_BYTES = 64 * 1024

# "interrupted": Ctrl-C during a retry wait; nothing was sent, the row stays pending.
OutcomeKind = Literal["sent", "failed", "unknown", "retry", "abort", "interrupted"]


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    message: str
    http_status: int | None = None
    retry_after: float | None = None
    response: str = ""


def build_params(kind: str, *, jid: str, text: str, media_url: str) -> dict[str, str]:
    """The message's query parameters, in the reference's order, without the credentials.

    Text sends `msg`; a media kind sends its caption (always present: the reference marks it
    required, "" allowed), except audio, which has none.
    """
    if kind not in set(MessageKind):
        raise ValueError(f"unknown message type {kind!r}; expected one of {', '.join(MessageKind)}")
    message_kind = MessageKind(kind)
    params = {"jid": jid}
    if message_kind.text_param is not None:
        params[message_kind.text_param] = text
    if message_kind.media_param is not None:
        params[message_kind.media_param] = media_url
    return params


def _endpoint_url(base_url: str, kind: str) -> str:
    return f"{base_url.rstrip('/')}/{MessageKind(kind).endpoint}"


def request_url(base_url: str, kind: str, params: Mapping[str, str]) -> httpx.URL:
    """The GET URL, with spaces as %20 like the reference's example (`msg=Hello%20World`).

    httpx's own `params=` writes spaces as '+', which only form decoders read as a space; %20
    is a space to every decoder. '@' stays readable in the JID, as in the reference.
    """
    query = urlencode(params, quote_via=quote, safe="@")
    return httpx.URL(f"{_endpoint_url(base_url, kind)}?{query}")


def encoded_url_length(
    base_url: str,
    kind: str,
    *,
    jid: str,
    text: str,
    media_url: str,
    token_length: int = 64,
    instance_id_length: int = 64,
) -> int:
    """Length of the GET URL exactly as httpx would encode it (Hebrew costs 6 chars a letter)."""
    params = {"token": "x" * token_length, "instance_id": "x" * instance_id_length}
    params |= build_params(kind, jid=jid, text=text, media_url=media_url)
    return len(str(request_url(base_url, kind, params)))


_QUERY_SECRET = re.compile(r"\b(token|instance_id)=[^&\s\"'#<>]+", re.IGNORECASE)


def redact(text: str, *secrets: str) -> str:
    """Hide each secret (raw and URL-encoded) and any token=/instance_id= query value.

    instance_id is hidden too: the dashboard's Instance ID doubles as the token.
    """
    forms = {f for s in secrets if s for f in (s, quote(s, safe=""), quote_plus(s))}
    for form in sorted(forms, key=len, reverse=True):  # longest first: no partial leftovers
        text = text.replace(form, "***")
    return _QUERY_SECRET.sub(r"\1=***", text)


class _RedactingFilter(logging.Filter):
    """Rewrites a record to its redacted text before any handler can format it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # a malformed record must not break logging, only lose its args
            text = str(record.msg)
        record.msg, record.args = redact(text), ()
        if record.exc_info:  # a traceback may quote the URL: keep only its redacted text
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_FILTER = _RedactingFilter()
# Logger filters only see records created on that very logger, not its children's.
_HTTP_LOGGERS = ("httpx", "httpcore", "httpcore.connection", "httpcore.http11",
                 "httpcore.http2", "httpcore.proxy", "httpcore.socks")


def silence_http_logs() -> None:
    """httpx logs every request URL (token included) at INFO: mute it, and redact what remains."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    for name in _HTTP_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


# The deadline (time.monotonic()) of the request being sent on this thread, if any.
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "campaign_deadline", default=None
)


def _remaining(timeout: float | None, error: type[Exception]) -> float | None:
    """A socket operation's timeout, shortened so it cannot outlast the request's deadline."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("deadline reached")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """Every read and write on the socket waits at most until the deadline.

    httpx's read timeout applies to each read: a server trickling one byte a second never
    trips it (issue 11: --timeout 3 ran for 1000 s). Checking between body chunks is not
    enough either, since the status line and headers can trickle too.
    """

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _remaining(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _remaining(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        timeout = _remaining(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


def resolve(host: str, port: int, timeout: float | None) -> list[str]:
    """The addresses of `host`, looked up within `timeout` seconds.

    getaddrinfo takes no timeout: a slow resolver held each request 20 s past `--timeout 2`
    (issue 19). The lookup runs in a daemon thread, abandoned (never joined) when late.
    """
    try:
        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        pass
    found: list[Any] = []
    done = threading.Event()

    def lookup() -> None:
        try:
            found.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except (OSError, UnicodeError) as error:
            found.append(error)
        finally:
            done.set()

    threading.Thread(target=lookup, name="campaign-resolve", daemon=True).start()
    if not done.wait(timeout):
        raise httpcore.ConnectTimeout("name lookup did not finish before the deadline")
    if isinstance(found[0], UnicodeError):
        raise found[0]
    if isinstance(found[0], OSError):  # "getaddrinfo" is what classify_error looks for
        raise httpcore.ConnectError(f"getaddrinfo failed ({type(found[0]).__name__})")
    return list(dict.fromkeys(str(info[4][0]) for info in found[0]))


class _DeadlineBackend(httpcore.NetworkBackend):
    """Connections whose name lookup and connect fit the deadline; `allow` may refuse an
    address after the lookup (media checks: no redirect into this machine or its network)."""

    def __init__(self, backend: httpcore.NetworkBackend,
                 allow: Callable[[str], str] | None = None) -> None:
        self._backend = backend
        self._allow = allow

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None, socket_options: Any = None
                    ) -> httpcore.NetworkStream:
        timeout = _remaining(timeout, httpcore.ConnectTimeout)
        addresses = resolve(host, port, timeout)
        if self._allow is not None:
            problems = [self._allow(a) for a in addresses]
            if all(problems):
                raise httpcore.ConnectError(f"refused: {problems[0]}")
            addresses = [a for a, p in zip(addresses, problems, strict=True) if not p]
        last: Exception | None = None
        for address in addresses:  # as socket.create_connection does, each in turn
            try:
                stream = self._backend.connect_tcp(
                    address, port, _remaining(timeout, httpcore.ConnectTimeout), local_address,
                    socket_options)
            except httpcore.ConnectError as error:
                last = error
                continue
            return _DeadlineStream(stream)
        raise last or httpcore.ConnectError("getaddrinfo returned no address")

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Any = None) -> httpcore.NetworkStream:
        timeout = _remaining(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._backend.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Within this block, requests on a client made by make_http_client/install_deadline end
    (ConnectTimeout, ReadTimeout, WriteTimeout) at most `seconds` from now."""
    token = _DEADLINE.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def install_deadline(client: httpx.Client, *, allow: Callable[[str], str] | None = None) -> None:
    # httpx has no public hook for httpcore's network backend; its connection pools keep it in
    # `_network_backend` (httpx 0.28, httpcore 1.0). tests/test_hostile.py fails if that moves.
    # `allow` judges direct connections only: through a proxy (a mount) the address connected
    # to is the proxy's, often private, and where the request goes is the proxy's to decide.
    transports = [(client._transport, allow), *((t, None) for t in client._mounts.values())]
    for transport, check in transports:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if backend is not None and not isinstance(backend, _DeadlineBackend):
            pool._network_backend = _DeadlineBackend(backend, check)  # type: ignore[union-attr]


def proxy_mounts(environ: Mapping[str, str]) -> dict[str, httpx.BaseTransport | None]:
    """The proxies a request to the API may use: only for https:// URLs, and never for this
    machine (issue 19: with HTTP_PROXY set, a loopback rehearsal sent its token to the proxy).

    Through a proxy an https:// request is a CONNECT tunnel: the proxy sees the host name, never
    the URL or its query (the token). A plain-http request would hand the proxy the whole URL,
    so http:// (only ever loopback, by check_base_url) always goes direct. HTTPS_PROXY (else
    ALL_PROXY) is used, NO_PROXY honoured; HTTP_PROXY is not used at all.
    """
    def get(name: str) -> str:
        return (environ.get(name) or environ.get(name.lower()) or "").strip()

    proxy = get("HTTPS_PROXY") or get("ALL_PROXY")
    if not proxy:
        return {}
    if "://" not in proxy:
        proxy = f"http://{proxy}"
    try:
        transport = httpx.HTTPTransport(proxy=proxy)
    except ImportError:
        problem = "it names a SOCKS proxy, which needs `pip install 'httpx[socks]'`"
    except (ValueError, httpx.InvalidURL) as error:
        problem = f"it is not a proxy URL ({type(error).__name__})"
    else:
        problem = ""
    if problem:
        raise InputError(f"HTTPS_PROXY/ALL_PROXY: {problem}. Fix or unset it (the API is "
                         "reached directly without it).")
    mounts: dict[str, httpx.BaseTransport | None] = {"https://": transport}
    for name in ("localhost", "127.0.0.1", "[::1]"):
        mounts[f"all://{name}"] = None
    for entry in get("NO_PROXY").split(","):
        entry = entry.strip()
        if entry == "*":
            return {}
        if not entry:
            continue
        host = entry.lstrip(".").lstrip("*.")
        with contextlib.suppress(ValueError):
            host = f"[{ipaddress.IPv6Address(host)}]"  # a bare IPv6 address: bracketed
        pattern = f"all://*{host}" if entry.startswith((".", "*")) else f"all://{host}"
        try:
            httpx.URL(pattern.replace("*", "w"))  # what httpx's mount pattern parses
        except (httpx.InvalidURL, ValueError):
            continue  # not a host name httpx can match: it proxies nothing away, so skip it
        mounts[pattern] = None
    return mounts


def make_http_client(*, timeout: float = 30.0, connect_timeout: float = 10.0,
                     environ: Mapping[str, str] | None = None) -> httpx.Client:
    """One client per sender for the whole run: keep-alive saves a TLS handshake per message.

    `timeout` is a deadline for a whole request (connect, send, the entire reply). Each lane of
    several senders has its own (a pool scanned by sixteen lanes costs more than the requests).
    """
    client = httpx.Client(
        timeout=httpx.Timeout(timeout, connect=min(connect_timeout, timeout)),
        # A redirect would resend the token to wherever Location points: report it instead.
        follow_redirects=False,
        # The reply is a few hundred bytes: compression would only let a small reply unpack
        # into a huge one past the size cap (the body is read raw and decoded here, capped).
        headers={"User-Agent": "campaign (ibot-chat sender)", "Accept-Encoding": "identity"},
        # Proxies only as proxy_mounts allows: never httpx's own reading of the environment.
        trust_env=False,
        mounts=proxy_mounts(os.environ if environ is None else environ),
    )
    install_deadline(client)
    return client


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value.strip())
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _snippet(text: str, secrets: tuple[str, ...]) -> str:
    text = " ".join(redact(text, *secrets).split())
    return text if len(text) <= SNIPPET else text[: SNIPPET - 1] + "…"


def _flag(value: object) -> bool | None:
    """The reply's `success`, tolerating PHP-style 1/0 and "true"/"false"; None if absent/odd."""
    if isinstance(value, bool | int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def classify_response(
    response: httpx.Response, path: str, secrets: tuple[str, ...], *, content: bytes | None = None
) -> Outcome:
    """Turn any HTTP reply into an Outcome, following SPEC's table.

    `content`: the body when it was read separately (streamed under a deadline and a size cap).
    """
    status = response.status_code
    where = f"HTTP {status} from /{path}"
    content = response.content if content is None else content
    body = _snippet(content.decode(response.encoding or "utf-8", errors="replace"), secrets)
    try:
        data = json.loads(content)
    except (ValueError, RecursionError):  # JSONDecodeError, undecodable bytes, [[[[... deep
        data = None
    success = _flag(data.get("success")) if isinstance(data, dict) else None
    api_message = ""
    if isinstance(data, dict) and data.get("message") is not None:
        api_message = _snippet(str(data["message"]), secrets)
    detail = api_message or body

    if 200 <= status < 300 and success is True:
        raw = data.get("response", "") if isinstance(data, dict) else ""
        raw = raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False)
        return Outcome("sent", api_message or "sent", status, response=redact(raw, *secrets))
    if status in (401, 403):
        return Outcome("abort", api_message or (f"{where}: {body}" if body else where), status)
    # Before the abort words: a 5xx saying "Instance not connected" may still have sent the
    # message, and retiring the sender would resend it through another at once (issue 19).
    if status >= 500:  # the server may have sent the message before failing
        return Outcome("unknown", f"{where}: {detail}" if detail else where, status)
    if any(m in detail.lower() for m in ABORT_MESSAGES):
        return Outcome("abort", api_message or (f"{where}: {body}" if body else where), status)
    if status == 429:
        wait = parse_retry_after(response.headers.get("Retry-After"))
        return Outcome("retry", f"{where}: {detail}" if detail else where, status, wait)
    if 300 <= status < 400:
        target = _redirect_target(response, secrets)
        return Outcome("failed", f"{where}: {target}; check the base URL", status)
    if success is False or status >= 400:
        if api_message:
            return Outcome("failed", api_message, status)
        return Outcome("failed", f"{where}: {body}" if body else where, status)
    # A 2xx we cannot read: it may well have been sent, so never call it failed.
    return Outcome("unknown", f"reply from /{path} not understood ({where}): {body!r}", status)


def _redirect_target(response: httpx.Response, secrets: tuple[str, ...] = ()) -> str:
    """Where a redirect points, resolved against the request, without its query, and with the
    credentials hidden wherever else they appear (issue 19: a Location path echoed the token)."""
    location = response.headers.get("Location", "").strip()
    if not location:
        return "redirected without saying where (no Location header)"
    try:
        base = response.request.url
    except RuntimeError:  # a Response built by hand (tests) has no request
        base = httpx.URL("https://api.invalid/")
    try:
        target = base.join(location)
    except (httpx.InvalidURL, ValueError, UnicodeError):
        return "redirected to an address that is not a valid URL"
    shown = f"{target.scheme}://{target.netloc.decode('ascii')}{target.path}"
    return "redirected to " + _snippet(shown, secrets)


def _after(seconds: float | None) -> str:
    return "" if seconds is None else f" after {seconds:g}s"  # None: the client set no limit


def classify_error(error: httpx.HTTPError, path: str, timeout: httpx.Timeout) -> Outcome:
    """Transport failures, split by whether the request can have reached the service.

    Built from the exception's type only: httpx messages may quote the URL and its token.
    """
    if isinstance(error, httpx.ConnectTimeout):
        return Outcome("retry", "connect timeout" + _after(timeout.connect))
    if isinstance(error, httpx.PoolTimeout):
        return Outcome("retry", "no free connection" + _after(timeout.pool))
    if isinstance(error, httpx.ConnectError):
        # Only matched against, never echoed: the text may quote the URL and its token.
        reason = str(error).lower()
        if "refused" in reason:
            return Outcome("retry", "connection refused")
        if any(s in reason for s in ("name or service", "nodename", "getaddrinfo", "resolution")):
            return Outcome("retry", "cannot resolve the API host name")
        if "ssl" in reason or "certificate" in reason:
            return Outcome("retry", "TLS handshake with the API failed")
        return Outcome("retry", "cannot connect to the API")
    if isinstance(error, httpx.ProxyError):  # the tunnel was refused: the request never left
        return Outcome("retry", "the proxy (HTTPS_PROXY/ALL_PROXY) would not connect to the API; "
                       "nothing was sent")
    if isinstance(error, httpx.UnsupportedProtocol):  # nothing can ever be sent to this URL
        return Outcome("abort", "the base URL must start with https:// or http://")
    if isinstance(error, httpx.ReadTimeout):
        return Outcome("unknown", "read timeout" + _after(timeout.read))
    if isinstance(error, httpx.WriteTimeout):
        return Outcome("unknown", "write timeout" + _after(timeout.write))
    if isinstance(error, httpx.RemoteProtocolError):
        return Outcome("unknown", f"connection dropped by the server during /{path}")
    if isinstance(error, httpx.ReadError):
        return Outcome("unknown", f"connection lost while reading the reply from /{path}")
    if isinstance(error, httpx.WriteError):
        return Outcome("unknown", f"connection lost while sending /{path}")
    return Outcome("unknown", f"{type(error).__name__} during /{path}")


def decode_body(raw: bytes, content_encoding: str, limit: int = MAX_REPLY_BYTES) -> bytes | None:
    """The body with its Content-Encoding undone, never more than `limit` bytes at any layer.

    None: it would unpack past `limit`. An encoding we cannot undo (br, zstd, a corrupt stream)
    gives b"": the reply is then classified by its status alone (a 2xx becomes `unknown`).
    """
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    if len(codings) > 4:
        return b""
    data = raw
    for coding in reversed(codings):  # the last applied is undone first
        if coding == "identity":
            continue
        if coding not in ("gzip", "x-gzip", "deflate"):
            return b""
        wbits = zlib.MAX_WBITS | 16 if coding != "deflate" else zlib.MAX_WBITS
        try:
            try:
                inflater = zlib.decompressobj(wbits)
                out = inflater.decompress(data, limit + 1)
            except zlib.error:
                if coding != "deflate":
                    raise
                inflater = zlib.decompressobj(-zlib.MAX_WBITS)  # deflate without its zlib header
                out = inflater.decompress(data, limit + 1)
        except zlib.error:
            return b""
        if len(out) > limit or inflater.unconsumed_tail:
            return None
        data = out
    return data


class IbotClient:
    """Sends messages; the single network seam (tests hand in an httpx.MockTransport client).

    `deadline`: seconds a whole request may take, connect to last byte of the reply (default:
    the http client's read timeout, which make_http_client sets from --timeout).
    """

    def __init__(self, http: httpx.Client, *, base_url: str, token: str, instance_id: str,
                 deadline: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._http = http
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._instance_id = instance_id
        self.deadline = deadline if deadline is not None else (http.timeout.read or 30.0)
        self._clock = clock
        try:  # a host name that cannot be encoded would only fail inside the socket layer
            netloc = urlsplit(self.base_url).netloc.rpartition("@")[2]
            host = netloc if netloc.endswith("]") else netloc.rsplit(":", 1)[0]
            self._host_problem = _host_problem(host)
        except ValueError as error:
            self._host_problem = type(error).__name__

    def __repr__(self) -> str:
        return f"IbotClient(base_url={self.base_url!r}, token=***, instance_id=***)"

    def send_once(self, kind: str, *, jid: str, text: str, media_url: str = "") -> Outcome:
        """One request, never raising: the answer, or what went wrong, is in the Outcome."""
        message = build_params(kind, jid=jid, text=text, media_url=media_url)
        params = {"token": self._token, "instance_id": self._instance_id} | message
        path = MessageKind(kind).endpoint
        secrets = (self._token, self._instance_id)
        # Before anything leaves: a URL or an encoding that cannot be built is "failed", never
        # "unknown" (issue 11: an IDNA error left the row 'attempting'). Only the exception's
        # type is used: its text may quote the URL and its token.
        try:
            # httpx.Request, not build_request: merging with the client's (empty) base URL parses
            # the whole URL a second time, the costliest step of a request with sixteen lanes.
            request = httpx.Request("GET", request_url(self.base_url, kind, params),
                                    headers=self._http.headers,
                                    extensions={"timeout": self._http.timeout.as_dict()})
        except (httpx.InvalidURL, UnicodeError, ValueError) as error:
            problem = type(error).__name__
        else:
            problem = self._host_problem
        if problem:
            return Outcome("failed", f"the request to /{path} could not be built ({problem}); "
                           "check --base-url and the credentials' characters. Nothing was sent.")
        started = self._clock()
        with deadline(self.deadline):
            return self._exchange(request, path, secrets, started)

    def _exchange(self, request: httpx.Request, path: str, secrets: tuple[str, ...],
                  started: float) -> Outcome:
        late = f"no complete reply from /{path} within the {self.deadline:g}s deadline (--timeout)"
        # Classify inside `except`, return after it: no httpx exception (whose request holds
        # the token) survives as a __context__ of anything raised later.
        try:
            response = self._http.send(request, stream=True)
            too_big = (f"the reply from /{path} is over {MAX_REPLY_BYTES // 1024} KB; not the "
                       "API's answer, cut off")
            encoding = response.headers.get("Content-Encoding", "")
            try:
                body = bytearray()
                # Raw bytes: httpx would decode any Content-Encoding, whatever we asked for, and
                # 6.7 KB of `gzip, gzip` unpacked to 4.2 GB before a cap could see it (issue 19).
                for chunk in response.iter_raw():
                    body += chunk
                    if len(body) > MAX_REPLY_BYTES:
                        return Outcome("unknown", too_big, response.status_code)
                    if self._clock() - started > self.deadline:
                        return Outcome("unknown", late, response.status_code)
            except httpx.StreamConsumed:  # a Response built in memory (MockTransport): decoded
                body, encoding = bytearray(response.content), ""
            finally:
                response.close()
            decoded = decode_body(bytes(body), encoding)
            if decoded is None:
                return Outcome("unknown", too_big + " (once decompressed)", response.status_code)
        except httpx.ConnectTimeout as error:
            outcome = classify_error(error, path, self._http.timeout)
        except httpx.TimeoutException as error:
            timed_out = self._clock() - started >= self.deadline * 0.999
            outcome = Outcome("unknown", late) if timed_out else (
                classify_error(error, path, self._http.timeout))
        except httpx.InvalidURL:
            outcome = Outcome("failed", "the base URL is not a valid URL; nothing was sent")
        except httpx.HTTPError as error:
            outcome = classify_error(error, path, self._http.timeout)
        except UnicodeError:  # IDNA at connect time (a 64-character label): nothing can leave
            outcome = Outcome("failed", "the API host name cannot be encoded (IDNA); check "
                              "--base-url. Nothing was sent.")
        except Exception as error:  # never a traceback, never a row stuck 'attempting'
            outcome = Outcome("unknown", f"{type(error).__name__} during /{path}")
        else:
            outcome = classify_response(response, path, secrets, content=decoded)
        return outcome

    def send(
        self,
        kind: str,
        *,
        jid: str,
        text: str,
        media_url: str = "",
        retries: int = 3,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
        backoff: float = 2.0,
        max_backoff: float = 60.0,
        should_stop: Callable[[], bool] | None = None,
    ) -> tuple[Outcome, int]:
        """Send, retrying only what provably never went out; returns (outcome, attempts).

        `should_stop` (Ctrl-C): a retry wait ends without its retry, as kind "interrupted".
        """
        attempts = max(0, retries) + 1
        for attempt in range(attempts):
            outcome = self.send_once(kind, jid=jid, text=text, media_url=media_url)
            if outcome.kind != "retry":
                return outcome, attempt + 1
            if attempt + 1 < attempts:
                stopped = should_stop is not None and should_stop()
                if not stopped:
                    sleep(_retry_delay(outcome, attempt, rand, backoff, max_backoff))
                    stopped = should_stop is not None and should_stop()
                if stopped:
                    return Outcome("interrupted", f"{outcome.message}; interrupted before the "
                                   "retry, nothing was sent", outcome.http_status), attempt + 1
        gave_up = f"{outcome.message} (gave up after {attempts} attempts)"
        return replace(outcome, kind="failed", message=gave_up), attempts


def _retry_delay(
    outcome: Outcome, attempt: int, rand: Callable[[], float], backoff: float, cap: float
) -> float:
    if outcome.retry_after is not None:  # the server said how long: believe it
        return outcome.retry_after
    base = min(backoff * 2**attempt, cap)
    return base + rand() * base  # jitter so restarted runs don't retry in lockstep


LOOPBACK_NAMES = ("localhost", "localhost.")


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: this machine (a rehearsal, plain http allowed)."""
    host = host.strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_problem(host: str) -> str:
    """Why `host` is not a usable host name or address, or ''."""
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1].split("%")[0])
        except ValueError:
            return f"'{host}' is not a valid IPv6 address"
        return ""
    name = host[:-1] if host.endswith(".") else host
    if not name:
        return "it has no host name"
    if re.fullmatch(r"[\d.]+", name):
        try:
            ipaddress.IPv4Address(name)
        except ValueError:
            return f"'{host}' is not a valid IPv4 address"
        return ""
    for label in name.split("."):
        if not label:
            return f"the host name '{host}' has an empty label (two dots in a row, or a dot first)"
    try:
        encoded = idna.encode(name, uts46=True)
    except (idna.IDNAError, UnicodeError, ValueError):
        return (f"'{host}' is not a valid host name (each label: letters, digits and hyphens, "
                "at most 63 characters)")
    if len(encoded) > 253:
        return f"the host name is {len(encoded)} characters long, over 253"
    return ""


def check_base_url(url: str) -> str:
    """The API root as given, checked before anything is sent; returns it without a final '/'.

    http(s)://host[:port]/path only: no query or fragment (they would corrupt the request's
    query, which holds the token), no user:password@, a valid host name, and plain http://
    only to this machine (the token would otherwise cross the network in clear).
    """
    fix = f"e.g. --base-url {DEFAULT_BASE_URL}, or http://127.0.0.1:8765/api/v1 for a local sandbox"
    shown = url if len(url) <= 120 else url[:117] + "..."

    def bad(why: str) -> InputError:
        return InputError(f"base URL {shown!r} (--base-url or IBOT_BASE_URL): {why}. Give the "
                          f"API root as http(s)://host/path ({fix}).")

    text = url.strip()
    if not text:
        raise bad("it is empty (an empty value does not mean the default)")
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in text):
        raise bad("it contains spaces or control characters")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as e:
        raise bad(f"it is not a valid URL ({e})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not text.lower().startswith(f"{scheme}://"):
        raise bad("it must start with https:// (or http:// for a local sandbox)")
    if parts.query or "?" in text:
        raise bad("it has a query ('?...'); the request's own query carries the message")
    if parts.fragment or "#" in text:
        raise bad("it has a fragment ('#...')")
    if "@" in parts.netloc:
        raise bad("it has a user name or password before the host ('...@')")
    if re.search(r"%(?:[01][0-9a-fA-F]|7[fF])", parts.path):
        raise bad("its path has a percent-encoded control character (such as %00)")
    host = parts.netloc.rsplit(":", 1)[0] if port is not None or parts.netloc.endswith(":") else (
        parts.netloc)
    problem = _host_problem(host)
    if problem:
        raise bad(problem)
    if port == 0:
        raise bad("port 0 is not a port")
    if scheme == "http" and not is_loopback(host):
        raise bad("plain http:// would send the token unencrypted; use https:// (http:// is "
                  "only for a sandbox on this machine: 127.0.0.1, ::1 or localhost)")
    return text.rstrip("/")


def resolve_base_url(option: str | None, environ: Mapping[str, str]) -> str:
    """--base-url, else IBOT_BASE_URL, else the real API; an empty value is an error, not a
    silent fallback to production (click treats an empty environment variable as unset)."""
    if option is None and "IBOT_BASE_URL" in environ:
        option = environ["IBOT_BASE_URL"]
    return check_base_url(DEFAULT_BASE_URL if option is None else option)


def check_credential(name: str, value: str) -> None:
    """A token or ID must be printable ASCII to ride in a URL; the message never echoes it."""
    for position, char in enumerate(value, 1):
        if not 0x20 <= ord(char) <= 0x7E:
            kind = "a control character" if ord(char) < 0x20 or ord(char) == 0x7F else (
                "a character that is not ASCII (or bytes that are not text)")
            raise InputError(
                f"{name} has {kind} at position {position} of {len(value)}; ibot-chat tokens "
                f"and instance IDs are plain ASCII. Copy {name} again from the dashboard (the "
                "value is not shown here, to keep it secret)."
            )


def _read_dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as python-dotenv reads them: comments, `export `, optional quotes."""
    try:
        lines = read_text_file(path, label="the credentials file").splitlines()
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as error:
        problem = type(error).__name__
    else:
        problem = ""
    if problem:  # raised outside `except` so the error carries no chained context
        raise InputError(f"cannot read {path} ({problem}); fix or remove it, or set IBOT_TOKEN "
                         "and IBOT_INSTANCE_ID in the environment instead")
    values: dict[str, str] = {}
    for line in lines:
        line = line.strip()
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = (part.strip() for part in line.split("=", 1))
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        else:
            value = re.split(r"\s+#", value, maxsplit=1)[0]  # an unquoted ` # comment`
        values[key] = value
    return values


def load_credentials(environ: Mapping[str, str], cwd: Path) -> tuple[str | None, str | None]:
    """(token, instance_id) from the environment, else `.env`; the token defaults to the ID."""
    dotenv: dict[str, str] | None = None

    def get(key: str) -> str | None:
        nonlocal dotenv
        value = (environ.get(key) or "").strip()
        if not value:
            if dotenv is None:
                dotenv = _read_dotenv(cwd / ".env")
            value = dotenv.get(key, "").strip()
        return value or None

    instance_id = get("IBOT_INSTANCE_ID")
    # The dashboard's Instance ID doubles as the API token (reference, "איך לקבל את הפרטים").
    token = get("IBOT_TOKEN") or instance_id
    # Checked here, before the first send: an undecodable byte used to surface as a traceback
    # with the row left 'attempting' (issue 11).
    for name, value in (("IBOT_INSTANCE_ID", instance_id), ("IBOT_TOKEN", token)):
        if value:
            check_credential(name, value)
    return token, instance_id
