"""Messages as WhatsApp chat bubbles: one self-contained HTML page, no scripts, works offline.

`render_preview` shows a campaign's rows (what each recipient would see, or saw), `render_chat`
the sandbox's inbox. Both pages share one bubble macro. Every cell is data: the page is rendered
with autoescape on, and only `whatsapp_html`'s output (escaped before it is formatted) is trusted.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files
from typing import Any
from urllib.parse import unquote, urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from campaign.plan import STATUSES, Row
from campaign.vocabulary import MessageKind, Status

# Rows shown as bubbles: what was or will be sent; the others are listed under "Not sent".
BUBBLE_STATUSES = frozenset({Status.READY, Status.SENT, Status.PENDING, Status.FAILED, Status.UNKNOWN})

# --- WhatsApp formatting -------------------------------------------------------------------

_MARKERS = {"*": "b", "_": "i", "~": "s", "`": "code"}
_MONO = re.compile(r"```(.+?)```", re.S)
# Runs on escaped text: a URL stops at whitespace and at the entities html.escape produced.
_URL = re.compile(r"(?:https?://|www\.)(?:(?!&(?:lt|gt|quot|#x27);)[^\s<>\"'])+", re.I)
_ENTITY_END = re.compile(r"&#?\w+;$")


def whatsapp_html(text: str) -> str:
    """WhatsApp's formatting as HTML: *bold*, _italic_, ~strike~, ```mono```, `code`, links.

    The text is escaped first, so nothing in it can become markup. Like WhatsApp, a marker only
    opens after a non-letter and closes before one, so snake_case_name and 2*3*4 stay as typed.
    """
    escaped = html.escape(text.replace("\r\n", "\n").replace("\r", "\n"))
    parts: list[str] = []
    pos = 0
    for m in _MONO.finditer(escaped):
        parts.append(_inline(escaped[pos : m.start()]))
        parts.append(f"<code>{m.group(1)}</code>")
        pos = m.end()
    parts.append(_inline(escaped[pos:]))
    return "".join(parts).replace("\n", "<br>")


def _inline(s: str) -> str:
    out: list[str] = []
    i = start = 0
    # Where a search for a closing marker already failed: later openers of the same marker on
    # that line cannot close either, so a long line of lone "*" stays linear, not quadratic.
    hopeless: dict[str, int] = {}
    while i < len(s):
        url = _url_at(s, i)
        if url:
            href = url if url.lower().startswith("http") else f"https://{url}"
            out += [
                s[start:i],
                f'<a href="{href}" rel="noopener noreferrer" target="_blank">{url}</a>',
            ]
            i = start = i + len(url)
            continue
        char = s[i]
        if char in _MARKERS and i >= hopeless.get(char, 0) and _opens(s, i):
            j = _closing(s, i)
            if j is None:
                line_end = s.find("\n", i)
                hopeless[char] = len(s) if line_end < 0 else line_end
            else:
                inner = s[i + 1 : j]
                tag = _MARKERS[char]
                if char == "`":
                    out += [s[start:i], f'<code class="inline">{inner}</code>']
                else:
                    out += [s[start:i], f"<{tag}>{_inline(inner)}</{tag}>"]
                i = start = j + 1
                continue
        i += 1
    out.append(s[start:])
    return "".join(out)


def _url_at(s: str, i: int) -> str:
    if s[i] not in "hHwW" or (i and s[i - 1].isalnum()):
        return ""
    m = _URL.match(s, i)
    if not m:
        return ""
    url = m.group()
    # "see https://x.com/a." ends the sentence, not the URL; "&amp;" is part of it.
    while url and url[-1] in ".,;:!?)]}*_~" and not _ENTITY_END.search(url):
        url = url[:-1]
    return url if url.rstrip("/").lower() not in ("http:", "https:", "www") else ""


def _opens(s: str, i: int) -> bool:
    char = s[i]
    before = s[i - 1] if i else " "
    after = s[i + 1] if i + 1 < len(s) else " "
    return not before.isalnum() and before != char and not after.isspace() and after != char


def _closing(s: str, i: int) -> int | None:
    char = s[i]
    j = i + 2
    while j < len(s):
        if s[j - 1] == "\n":
            return None
        url = "" if char == "`" else _url_at(s, j)
        if url:
            j += len(url)
            continue
        after = s[j + 1] if j + 1 < len(s) else " "
        if s[j] == char and not s[j - 1].isspace() and not after.isalnum():
            return j
        j += 1
    return None


# --- bubbles shared by both pages -----------------------------------------------------------


@dataclass(frozen=True)
class _Bubble:
    kind: str
    body: Markup
    media: str
    meta: str
    status: str
    label: str = ""  # the status word shown in the footer (the sandbox shows ticks only)
    time: str = ""
    error: str = ""
    row: int | None = None
    seq: int | None = None
    name: str = ""  # the recipient's name, before `meta` (isolated: a Hebrew name reorders digits)
    who: str = ""  # the recipient, in the image's alt text

    @property
    def href(self) -> str:
        """The media URL if it is safe to link (never a javascript: URL)."""
        return self.media if urlsplit(self.media).scheme in ("http", "https") else ""

    @property
    def image_src(self) -> str:
        """The URL an <img> may load: https only, as the API takes (the CSP allows no other)."""
        return self.media if urlsplit(self.media).scheme == "https" else ""

    @property
    def host(self) -> str:
        return urlsplit(self.href).netloc

    @property
    def file_name(self) -> str:
        path = urlsplit(self.media).path if self.href else self.media
        return unquote(path.rstrip("/").rsplit("/", 1)[-1]) or urlsplit(self.media).netloc


def _preview_bubble(row: Row, kind: MessageKind, columns: Sequence[str]) -> _Bubble:
    name, phone = _name_of(row, columns), _phone_of(row, columns)
    # The console's label (person_label), with the name isolated: a Hebrew name reorders digits.
    after = f" ({phone})" if name and phone else phone or ("" if name else f"row {row.number}")
    return _Bubble(
        kind=kind,
        body=Markup(whatsapp_html(row.message) if kind.has_text else ""),
        media=row.media,
        name=name,
        meta=f"{after} · ",
        status=row.status,
        label=row.status,
        time=_clock(row.sent_at),
        error=row.error,
        row=row.number,
        who=person_label(row, columns) or f"row {row.number}",
    )


def _clock(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).strftime("%H:%M") if iso else ""
    except ValueError:
        return ""


# Issue 22: a bubble is labelled by the person's name and phone as the sheet has them, not by
# the JID (the results sheet keeps the jid column).
_PHONE_HINTS = ("phone", "mobile", "cell", "whatsapp", "jid", "טלפון", "נייד", "פלאפון")
_FULL_NAME = ("name", "full name", "contact name", "customer name", "display name", "שם", "שם מלא",
              "nombre", "nom", "имя", "اسم")
_FIRST_NAME = ("first name", "firstname", "given name", "שם פרטי", "vorname", "prénom")
_LAST_NAME = ("last name", "lastname", "family name", "surname", "שם משפחה", "nachname")


def _phone_of(row: Row, columns: Sequence[str]) -> str:
    """The row's phone as the sheet has it: the cell whose digits end its JID's number, else
    the cell under a phone-like header, else the JID's number with a +."""
    if row.jid:
        number = row.jid.partition("@")[0]
        for value in row.values:
            digits = re.sub(r"\D", "", value).lstrip("0")
            if len(digits) >= 6 and number.endswith(digits):
                return value.strip()
    for header, value in zip(columns, row.values, strict=False):
        name = header.strip().lower()
        if name == "tel" or any(hint in name for hint in _PHONE_HINTS):
            return value
    return _chat_name(row.jid) if row.jid else ""


def _name_of(row: Row, columns: Sequence[str]) -> str:
    """The row's name: a Name column, else first and last name joined."""
    cells: dict[str, str] = {}
    for header, value in zip(columns, row.values, strict=False):
        cells.setdefault(" ".join(header.lower().replace("_", " ").replace("-", " ").split()), value.strip())

    def first(names: Sequence[str]) -> str:
        return next((cells[n] for n in names if cells.get(n)), "")

    return first(_FULL_NAME) or " ".join(p for p in (first(_FIRST_NAME), first(_LAST_NAME)) if p)


def _ordered_counts(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    order = [s for s in STATUSES if s in counts] + [s for s in counts if s not in STATUSES]
    return [(s, counts[s]) for s in order if counts[s]]


def render_preview(
    rows: Sequence[Row],
    *,
    kind: str,
    title: str,
    counts: Mapping[str, int],
    duration: str = "",
    columns: Sequence[str] = (),
    limit: int = 1000,
) -> str:
    """The campaign as the recipients will see it, then the rows that will not be sent.

    At most `limit` bubbles and `limit` skipped rows: a 100k-row page helps nobody and takes
    a browser minutes to open; the results sheet has every row.
    """
    if kind not in set(MessageKind):
        raise ValueError(f"kind must be one of {', '.join(MessageKind)}, not {kind!r}")
    message_kind = MessageKind(kind)
    shown = [r for r in rows if r.status in BUBBLE_STATUSES]
    left_out = [r for r in rows if r.status not in BUBBLE_STATUSES]
    bubbles = [_preview_bubble(r, message_kind, columns) for r in shown[:limit]]
    skipped = [(r.number, _name_of(r, columns), _phone_of(r, columns), r.status, r.error)
               for r in left_out[:limit]]
    return _ENV.get_template("preview.html").render(
        more_bubbles=max(0, len(shown) - limit),
        more_skipped=max(0, len(left_out) - limit),
        title=title,
        kind_label=message_kind.label,
        counts=_ordered_counts(counts),
        duration=duration,
        bubbles=bubbles,
        skipped=skipped,
    )


def render_chat(messages: Sequence[Any], *, refresh_seconds: int = 2, base_url: str = "") -> str:
    """The sandbox's inbox: one section per JID, the most recently active last."""
    chats: dict[str, list[Any]] = {}
    for msg in sorted(messages, key=lambda m: m.seq):
        chats.setdefault(msg.jid, []).append(msg)
    sections = [
        (jid, _chat_name(jid), [_chat_bubble(m) for m in msgs])
        for jid, msgs in sorted(chats.items(), key=lambda kv: kv[1][-1].seq)
    ]
    return _ENV.get_template("chat.html").render(
        title="Sandbox inbox",
        refresh=max(1, int(refresh_seconds)),
        sections=sections,
        total=len(messages),
        base_url=base_url or "<this url>",
    )


def _chat_bubble(msg: Any) -> _Bubble:
    kind = MessageKind.from_endpoint(msg.endpoint) or MessageKind.TEXT
    return _Bubble(
        kind=kind,
        body=Markup(whatsapp_html(msg.text or "")),
        media=msg.media_url or "",
        meta=f"#{msg.seq} · {msg.endpoint}",
        status=Status.SENT,
        time=time.strftime("%H:%M:%S", time.localtime(msg.at)),
        seq=msg.seq,
    )


def _chat_name(jid: str) -> str:
    local, _, server = jid.partition("@")
    if server in ("s.whatsapp.net", "c.us") and local.isdigit():
        return f"+{local}"
    return "Group" if server == "g.us" else local or jid


# --- templates ------------------------------------------------------------------------------
# The markup is package data: campaign/templates/*.html (Jinja2) and campaign/static/preview.css,
# which each page inlines so that it works offline, as one file, under a CSP without 'self'.

# One colour per status, used by chips, footers and badges; one per media card.
_COLOURS = {
    Status.READY: "#027eb5",
    Status.SENT: "#1fa855",
    Status.PENDING: "#8696a0",
    Status.FAILED: "#ea0038",
    Status.UNKNOWN: "#e08a00",
    Status.INVALID: "#c2410c",
    Status.DUPLICATE: "#7c3aed",
    Status.SUPPRESSED: "#54656f",
    MessageKind.VIDEO: "#e5396c",
    MessageKind.AUDIO: "#f08a24",
    MessageKind.DOC: "#5f66cd",
}

_CSP = "default-src 'none'; img-src https: data:; style-src 'unsafe-inline'"

_ENV = Environment(
    loader=PackageLoader("campaign", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
)
_ENV.globals.update(
    css=Markup((files("campaign") / "static" / "preview.css").read_text(encoding="utf-8")),
    csp=Markup(_CSP),
    colours=_COLOURS,
)


def person_label(row: Row, columns: Sequence[str]) -> str:
    """Who a row is, as the sheet writes it: 'Dana Levi (050-234-5678)', or the phone alone.
    Console lines use it too: people know their contacts by name, not by JID (issue 22)."""
    name, phone = _name_of(row, columns), _phone_of(row, columns)
    return f"{name} ({phone})" if name and phone else name or phone
