"""The words the whole package shares, each defined once: a row's status and a message's kind.

Both are `StrEnum`s, so a member is its SPEC string (`Status.SENT == "sent"`) in the journal, the
results sheet and JSON, while code names it instead of re-typing it. The click choice of `--type`,
the client's and the sandbox's endpoints and the preview's labels all derive from `MessageKind`.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """A row's status (SPEC "Results sheet"), in the order the summary lists them."""

    READY = "ready"
    SENT = "sent"
    FAILED = "failed"
    UNKNOWN = "unknown"
    PENDING = "pending"
    INVALID = "invalid"
    DUPLICATE = "duplicate"
    SUPPRESSED = "suppressed"


# Rows that a run may still send: not yet tried, or refused by the API (nothing went out).
SENDABLE = frozenset({Status.READY, Status.PENDING, Status.FAILED})


class MessageKind(StrEnum):
    """`--type`: one endpoint each (reference: send-text, send-image, ...)."""

    TEXT = "text"
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    DOC = "doc"

    @property
    def endpoint(self) -> str:
        return f"send-{self.value}"

    @property
    def media_param(self) -> str | None:
        """The query parameter of the media URL (`imageurl`, ...); None for text."""
        return None if self is MessageKind.TEXT else f"{self.value}url"

    @property
    def text_param(self) -> str | None:
        """Where the rendered text goes: `msg` for text, `caption` for media that has one.

        Audio has no caption in the reference, so sending one would be a guess: its text is
        neither sent, nor shown in the console, the preview or the results.
        """
        if self is MessageKind.TEXT:
            return "msg"
        return None if self is MessageKind.AUDIO else "caption"

    @property
    def has_caption(self) -> bool:
        return self.text_param == "caption"

    @property
    def has_text(self) -> bool:
        """Whether the recipient sees the rendered text at all (text, or a caption)."""
        return self.text_param is not None

    @property
    def label(self) -> str:
        """How the console and the preview name it: "text", "image + caption", "audio"."""
        return f"{self.value} + caption" if self.has_caption else self.value

    @classmethod
    def from_endpoint(cls, endpoint: str) -> MessageKind | None:
        return next((k for k in cls if k.endpoint == endpoint), None)
