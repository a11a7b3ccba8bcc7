"""The ibot-chat API over httpx: one request in, one classified Outcome out.

Every reply, whatever its HTTP status or body, becomes an Outcome the runner can act on
(SPEC "Errors and exit codes"). The token rides in the query string, so nothing built here
ever quotes a request URL: messages name the endpoint path only, and logs are redacted.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal
from urllib.parse import quote, quote_plus, urlencode, urlsplit

import httpx

from campaign.errors import InputError

DEFAULT_BASE_URL = "https://ibot-chat.com/api/v1"

# kind -> (path, media parameter, has caption). Text sends `msg` instead of a caption;
# audio has no caption at all in the reference, so sending one would be a guess.
ENDPOINTS: dict[str, tuple[str, str | None, bool]] = {
    "text": ("send-text", None, False),
    "image": ("send-image", "imageurl", True),
    "video": ("send-video", "videourl", True),
    "audio": ("send-audio", "audiourl", False),
    "doc": ("send-doc", "docurl", True),
}

# The service's own words for "stop everything" (reference, "Common Errors").
ABORT_MESSAGES = ("invalid token", "instance not connected")
# A Retry-After of days is a misconfigured server, not advice worth a stalled campaign.
MAX_RETRY_AFTER = 3600.0
SNIPPET = 200

OutcomeKind = Literal["sent", "failed", "unknown", "retry", "abort"]


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    message: str
    http_status: int | None = None
    retry_after: float | None = None
    response: str = ""


def build_params(kind: str, *, jid: str, text: str, media_url: str) -> dict[str, str]:
    """The message's query parameters, in the reference's order, without the credentials."""
    if kind not in ENDPOINTS:
        raise ValueError(f"unknown message type {kind!r}; expected one of {', '.join(ENDPOINTS)}")
    _, media_param, has_caption = ENDPOINTS[kind]
    params = {"jid": jid}
    if media_param is None:
        params["msg"] = text
        return params
    if has_caption:
        params["caption"] = text  # always present: the reference marks it required, "" allowed
    params[media_param] = media_url
    return params


def _endpoint_url(base_url: str, kind: str) -> str:
    return f"{base_url.rstrip('/')}/{ENDPOINTS[kind][0]}"


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


def make_http_client(*, timeout: float = 30.0, connect_timeout: float = 10.0) -> httpx.Client:
    """One client for the whole run: keep-alive saves a TLS handshake per message."""
    return httpx.Client(
        timeout=httpx.Timeout(timeout, connect=connect_timeout),
        # A redirect would resend the token to wherever Location points: report it instead.
        follow_redirects=False,
        headers={"User-Agent": "campaign (ibot-chat sender)"},
    )


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


def classify_response(response: httpx.Response, path: str, secrets: tuple[str, ...]) -> Outcome:
    """Turn any HTTP reply into an Outcome, following SPEC's table."""
    status = response.status_code
    where = f"HTTP {status} from /{path}"
    body = _snippet(response.text, secrets)
    try:
        data = json.loads(response.content)
    except ValueError:  # covers JSONDecodeError and undecodable bytes
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
    if status in (401, 403) or any(m in detail.lower() for m in ABORT_MESSAGES):
        return Outcome("abort", api_message or (f"{where}: {body}" if body else where), status)
    if status == 429:
        wait = parse_retry_after(response.headers.get("Retry-After"))
        return Outcome("retry", f"{where}: {detail}" if detail else where, status, wait)
    if status >= 500:  # the server may have sent the message before failing
        return Outcome("unknown", f"{where}: {detail}" if detail else where, status)
    if 300 <= status < 400:
        target = urlsplit(response.headers.get("Location", ""))  # its query may hold the token
        moved = f"{target.scheme}://{target.netloc}{target.path}" if target.netloc else "?"
        return Outcome("failed", f"{where}: redirected to {moved}; check the base URL", status)
    if success is False or status >= 400:
        if api_message:
            return Outcome("failed", api_message, status)
        return Outcome("failed", f"{where}: {body}" if body else where, status)
    # A 2xx we cannot read: it may well have been sent, so never call it failed.
    return Outcome("unknown", f"reply from /{path} not understood ({where}): {body!r}", status)


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


class IbotClient:
    """Sends messages; the single network seam (tests hand in an httpx.MockTransport client)."""

    def __init__(self, http: httpx.Client, *, base_url: str, token: str, instance_id: str) -> None:
        self._http = http
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._instance_id = instance_id

    def __repr__(self) -> str:
        return f"IbotClient(base_url={self.base_url!r}, token=***, instance_id=***)"

    def send_once(self, kind: str, *, jid: str, text: str, media_url: str = "") -> Outcome:
        """One request, never raising for network trouble: the answer is in the Outcome."""
        message = build_params(kind, jid=jid, text=text, media_url=media_url)
        params = {"token": self._token, "instance_id": self._instance_id} | message
        path = ENDPOINTS[kind][0]
        secrets = (self._token, self._instance_id)
        # Classify inside `except`, return after it: no httpx exception (whose request holds
        # the token) survives as a __context__ of anything raised later.
        try:
            response = self._http.get(request_url(self.base_url, kind, params))
        except httpx.InvalidURL:
            outcome = Outcome("abort", "the base URL is not a valid URL")
        except httpx.HTTPError as error:
            outcome = classify_error(error, path, self._http.timeout)
        else:
            outcome = classify_response(response, path, secrets)
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
    ) -> tuple[Outcome, int]:
        """Send, retrying only what provably never went out; returns (outcome, attempts)."""
        attempts = max(0, retries) + 1
        for attempt in range(attempts):
            outcome = self.send_once(kind, jid=jid, text=text, media_url=media_url)
            if outcome.kind != "retry":
                return outcome, attempt + 1
            if attempt + 1 < attempts:
                sleep(_retry_delay(outcome, attempt, rand, backoff, max_backoff))
        gave_up = f"{outcome.message} (gave up after {attempts} attempts)"
        return replace(outcome, kind="failed", message=gave_up), attempts


def _retry_delay(
    outcome: Outcome, attempt: int, rand: Callable[[], float], backoff: float, cap: float
) -> float:
    if outcome.retry_after is not None:  # the server said how long: believe it
        return outcome.retry_after
    base = min(backoff * 2**attempt, cap)
    return base + rand() * base  # jitter so restarted runs don't retry in lockstep


def _read_dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as python-dotenv reads them: comments, `export `, optional quotes."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
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
    return token, instance_id
