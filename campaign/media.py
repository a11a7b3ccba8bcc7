"""SPEC step 6, `--check-media`: fetch each distinct media URL once, before the first send.

The API fetches the media itself and answers "Media not accessible" for a dead link, halfway
through a blast; checking first turns those rows `invalid` while nothing has been sent yet.
"""

from __future__ import annotations

import contextvars
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import urlsplit

import httpx

from campaign.client import deadline, install_deadline
from campaign.plan import Row
from campaign.vocabulary import SENDABLE, Status

PAGE_WARNING = (
    "warning: the media URL returns a web page (text/html), not the file; "
    "use a direct download link"
)
MAX_URL_SHOWN = 120
# Servers that refuse HEAD itself rather than the file: ask again with GET.
HEAD_REFUSED = frozenset({403, 405, 501})
USER_AGENT = "campaign (media check)"


@dataclass(frozen=True)
class Probe:
    """What one URL answered: a problem when unreachable, else its Content-Type."""

    problem: str = ""
    content_type: str = ""


def check_media(
    rows: list[Row],
    *,
    timeout: float = 10.0,
    http: httpx.Client | None = None,
    progress: Callable[[int, int], None] | None = None,
    local_ok: bool = True,
) -> dict[str, str]:
    """Fetch each distinct media URL of the sendable rows once and mark the rows it fails.

    Unreachable media makes its rows `invalid`; a web page where a file should be only adds a
    warning. Returns {url: problem} for the unreachable URLs (problem as in "HTTP 404 Not Found").
    `local_ok=False` (a real run: WhatsApp fetches the media from the internet) refuses a URL
    at an address of this machine or a private network without fetching it; a rehearsal may
    serve its media from here, so there only a redirect's other host is held to that.
    """
    urls = list(dict.fromkeys(r.media for r in rows if r.status in SENDABLE and r.media))
    client = http or httpx.Client(
        follow_redirects=True, timeout=timeout, headers={"User-Agent": USER_AGENT},
        event_hooks={"response": [_guard_redirect]},
    )
    if http is None:
        # A server trickling its headers must not hold the check; a redirect may not lead into
        # this machine or its network (issue 19: https -> http://127.0.0.1 was followed).
        install_deadline(client, allow=_public_after_redirect)
    probes: dict[str, Probe] = {}
    token = _LOCAL_OK.set(local_ok)
    try:
        for done, url in enumerate(urls, 1):
            with deadline(timeout * 2):  # HEAD, then maybe GET
                probes[url] = probe(client, url, timeout=timeout)
            if progress is not None:
                progress(done, len(urls))
    finally:
        _LOCAL_OK.reset(token)
        if http is None:
            client.close()
    for row in rows:
        found = probes.get(row.media) if row.status in SENDABLE else None
        if found is None:
            continue
        if found.problem:
            row.status = Status.INVALID
            row.error = _join(
                f"media not reachable: {found.problem} ({shorten(row.media)})", row.error
            )
        elif _is_page(found.content_type, row.media) and PAGE_WARNING not in row.error:
            row.error = _join(row.error, PAGE_WARNING)
    return {url: p.problem for url, p in probes.items() if p.problem}


class RedirectRefused(Exception):
    """A redirect the media check will not follow; its text says why (shown in the row)."""


# Whether the request being made follows a redirect to another host than the user's URL: the
# user's host is the user's word (a local file server in a rehearsal is fine), another host a
# redirect leads to is the server's, and may not be this machine or its network.
_REDIRECTED: contextvars.ContextVar[bool] = contextvars.ContextVar("media_redirected", default=False)
_ORIGIN: contextvars.ContextVar[str] = contextvars.ContextVar("media_origin", default="")
# False on a real run: even the user's own URL may not be at this machine or its network (a
# contact-supplied https://127.0.0.1/admin or http://169.254.169.254 was fetched as given).
_LOCAL_OK: contextvars.ContextVar[bool] = contextvars.ContextVar("media_local_ok", default=True)
_LOCAL_NAMES = ("localhost", "localhost.", "ip6-localhost", "ip6-loopback")


def _guard_redirect(response: httpx.Response) -> None:
    if not response.has_redirect_location:
        return
    target = response.url.join(response.headers["Location"])
    if response.url.scheme == "https" and target.scheme != "https":
        shown = shorten(str(target.copy_with(query=None, fragment=None)))
        raise RedirectRefused(f"redirected to {shown}, not https://; not followed")
    if target.host == _ORIGIN.get():
        return
    _REDIRECTED.set(True)
    host = target.host.strip("[]")
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        return  # a name: its addresses are checked as the connection is made
    problem = _public_after_redirect(str(literal))
    if problem:
        raise RedirectRefused(problem)


def _public_after_redirect(address: str) -> str:
    """Why a request may not connect to `address` (loopback, private, link-local...), or ''.
    Only after a redirect to another host, unless this is a real run (_LOCAL_OK false)."""
    if not _REDIRECTED.get() and _LOCAL_OK.get():
        return ""
    if _is_public(address):
        return ""
    if not _REDIRECTED.get():
        return _LOCAL_PROBLEM.format(where=address)
    return (f"redirected to {address}, an address of this machine or a private network; "
            "not followed")


_LOCAL_PROBLEM = ("{where} is an address of this machine or a private network, which WhatsApp "
                  "cannot fetch media from; not fetched (use a public https:// link)")


def _is_public(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return True  # not an address: a name is judged by what it resolves to
    mapped = getattr(ip, "ipv4_mapped", None)
    return bool((mapped or ip).is_global)


def _local_target(url: str) -> str:
    """On a real run, why the user's own URL may not be fetched at all (its host is an address
    of this machine or a private network, or `localhost`), judged before any connection, so a
    proxy in the environment cannot be asked for it either; else ''."""
    if _LOCAL_OK.get():
        return ""
    host = (urlsplit(url).hostname or "").lower()
    if host in _LOCAL_NAMES or host.endswith(".localhost"):
        return _LOCAL_PROBLEM.format(where=host)
    return "" if _is_public(host) else _LOCAL_PROBLEM.format(where=host)


def probe(client: httpx.Client, url: str, *, timeout: float) -> Probe:
    """HEAD, then a streamed GET (headers only) when HEAD gives no clear answer."""
    try:
        local = _local_target(url)
    except ValueError:  # urlsplit: a bad port or IPv6 literal
        return Probe(problem="invalid URL")
    if local:
        return Probe(problem=local)
    hop, origin = _REDIRECTED.set(False), _ORIGIN.set(urlsplit(url).hostname or "")
    try:
        return _probe(client, url, timeout=timeout)
    except RedirectRefused as refused:
        return Probe(problem=str(refused))
    finally:
        _REDIRECTED.reset(hop)
        _ORIGIN.reset(origin)


def _probe(client: httpx.Client, url: str, *, timeout: float) -> Probe:
    try:
        head = client.head(url, follow_redirects=True)
    except (UnicodeError, ValueError):
        # IDNA: an empty or 64-character label fails inside the socket layer (issue 11).
        return Probe(problem="invalid host name in the URL")
    except (httpx.ConnectError, httpx.ConnectTimeout) as e:
        return Probe(problem=_describe_error(e, timeout))  # refused, DNS, TLS: GET would be too
    except (httpx.HTTPError, httpx.InvalidURL):
        head = None  # some servers drop a HEAD or time out on it, yet serve GET
    _REDIRECTED.set(False)  # the GET starts again from the user's URL
    if head is not None:
        content_type = _content_type(head)
        if head.status_code in (404, 410):
            return Probe(problem=_describe_status(head))
        if head.status_code < 400 and content_type:
            return Probe(content_type=content_type)
    try:
        # Never the body: a video may be hundreds of MB. Closing the stream drops the connection.
        with client.stream("GET", url, follow_redirects=True) as got:
            if got.status_code >= 400:
                return Probe(problem=_describe_status(got))
            return Probe(content_type=_content_type(got))
    except (httpx.HTTPError, httpx.InvalidURL) as e:
        return Probe(problem=_describe_error(e, timeout))
    except (UnicodeError, ValueError):
        return Probe(problem="invalid host name in the URL")


def shorten(url: str, limit: int = MAX_URL_SHOWN) -> str:
    return url if len(url) <= limit else url[: limit - 3] + "..."


def _content_type(response: httpx.Response) -> str:
    return response.headers.get("content-type", "").split(";")[0].strip().lower()


def _is_page(content_type: str, url: str) -> bool:
    # A Drive or Dropbox share link serves a viewer page, which WhatsApp would get as the
    # "file"; a URL that itself names an .html document is taken at its word.
    path = urlsplit(url).path.lower()
    return content_type in ("text/html", "application/xhtml+xml") and not path.endswith(
        (".html", ".htm", ".xhtml")
    )


def _describe_status(response: httpx.Response) -> str:
    reason = response.reason_phrase
    if not reason:
        try:
            reason = HTTPStatus(response.status_code).phrase
        except ValueError:
            reason = ""
    return f"HTTP {response.status_code} {reason}".rstrip()


def _describe_error(error: Exception, timeout: float) -> str:
    text = str(error)
    lowered = text.lower()
    if text.startswith("refused: "):  # the address check of a redirect (client.resolve)
        return text.removeprefix("refused: ")
    if isinstance(error, httpx.TimeoutException):
        return f"timed out after {timeout:g}s"
    if isinstance(error, httpx.TooManyRedirects):
        return "too many redirects"
    if isinstance(error, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return f"invalid URL ({text})"
    if "refused" in lowered:
        return "connection refused"
    if any(s in lowered for s in ("name or service not known", "nodename nor", "getaddrinfo")):
        return "host not found"
    if "certificate" in lowered:
        return "TLS certificate not trusted"
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)
