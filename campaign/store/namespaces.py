"""Where sends go: the real API, the in-process sandbox, or one loopback URL.

Each namespace has a journal and a history of its own, so a rehearsal never counts toward a real
number and the real run after it still sends to everyone.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from urllib.parse import urlsplit

from campaign.client import is_loopback


@dataclass(frozen=True)
class Namespace:
    """Where sends go. `key` is stored; `rehearsal` is True for anything that is not WhatsApp."""

    key: str
    rehearsal: bool
    journal_suffix: str  # appended to the journal's stem: "" for the real API
    description: str

    @property
    def label(self) -> str:
        return "rehearsal" if self.rehearsal else "live"


LIVE = Namespace("live", False, "", "the ibot-chat API")
SANDBOX = Namespace("sandbox", True, ".rehearsal", "the built-in sandbox")


def namespace_for(base_url: str, *, sandbox: bool) -> Namespace:
    """The in-process sandbox, one loopback URL, or the real API (whatever its URL)."""
    if sandbox:
        return SANDBOX
    parts = urlsplit(base_url)
    host = (parts.hostname or "").rstrip(".").lower()
    if not is_loopback(host):
        return LIVE
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = parts.path.rstrip("/")
    key = f"{parts.scheme}://{host}:{port}{path}"
    suffix = f".rehearsal-{host.replace(':', '_')}-{port}"
    if path != "/api/v1":
        suffix += "-" + hashlib.sha256(path.encode()).hexdigest()[:6]
    return Namespace(f"loopback:{key}", True, suffix, f"the local API at {parts.netloc}")


def describe_key(key: str | None) -> str:
    """A stored namespace key in words, for a refusal ("the journal of a rehearsal (...)")."""
    if key == LIVE.key:
        return "real campaign (the ibot-chat API)"
    if key == SANDBOX.key:
        return "rehearsal (the built-in sandbox)"
    return f"rehearsal ({(key or '').removeprefix('loopback:')})"
