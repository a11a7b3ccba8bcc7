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
from typing import Any
from urllib.parse import unquote, urlsplit

from jinja2 import DictLoader, Environment, StrictUndefined
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

    @property
    def href(self) -> str:
        """The media URL if it is safe to link or load (never a javascript: URL)."""
        return self.media if urlsplit(self.media).scheme in ("http", "https") else ""

    @property
    def host(self) -> str:
        return urlsplit(self.href).netloc

    @property
    def file_name(self) -> str:
        path = urlsplit(self.media).path if self.href else self.media
        return unquote(path.rstrip("/").rsplit("/", 1)[-1]) or urlsplit(self.media).netloc


def _preview_bubble(row: Row, kind: MessageKind) -> _Bubble:
    return _Bubble(
        kind=kind,
        body=Markup(whatsapp_html(row.message) if kind.has_text else ""),
        media=row.media,
        meta=f"row {row.number} · {row.jid or '-'} · ",
        status=row.status,
        label=row.status,
        time=_clock(row.sent_at),
        error=row.error,
        row=row.number,
    )


def _clock(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).strftime("%H:%M") if iso else ""
    except ValueError:
        return ""


_PHONE_HINTS = ("phone", "mobile", "cell", "whatsapp", "jid", "טלפון", "נייד", "פלאפון")


def _phone_of(row: Row, columns: Sequence[str]) -> str:
    """What identifies a row that has no JID: its phone cell, found by the column's header."""
    if row.jid:
        return row.jid
    for header, value in zip(columns, row.values, strict=False):
        name = header.strip().lower()
        if name == "tel" or any(hint in name for hint in _PHONE_HINTS):
            return value
    return ""


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
    bubbles = [_preview_bubble(r, message_kind) for r in shown[:limit]]
    skipped = [(r.number, _phone_of(r, columns), r.status, r.error) for r in left_out[:limit]]
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
# Plain CSS, no web fonts: the page must look right offline and pass a CSP without 'self'.
_CSS = """
*{box-sizing:border-box}
html{background:#d1d7db}
body{margin:0;padding:28px 12px;color:#111b21;font:14.2px/1.45 "Segoe UI","Helvetica Neue",
 Helvetica,Arial,"Noto Sans","Noto Sans Hebrew","DejaVu Sans",sans-serif}
.app{max-width:480px;margin:0 auto;background:#efeae2;border-radius:14px;overflow:hidden;
 box-shadow:0 10px 30px rgba(11,20,26,.18),0 1px 3px rgba(11,20,26,.12)}
.top{background:#008069;color:#fff;padding:14px 16px 13px}
.top h1{margin:0;font-size:17px;font-weight:600;overflow-wrap:anywhere}
.top .sub{margin-top:2px;font-size:12.5px;opacity:.88}
.chips{display:flex;flex-wrap:wrap;gap:5px;margin-top:10px}
.chip{display:inline-flex;align-items:center;gap:5px;padding:1px 9px 1px 7px;
 border-radius:999px;background:#fff;color:#3b4a54;font-size:11.5px;line-height:19px}
.chip i{width:8px;height:8px;border-radius:50%;background:var(--c)}
.chip b{color:#111b21}
.chat{display:flex;flex-direction:column;align-items:flex-end;gap:8px;padding:14px 14px 18px;
 background:#efeae2 radial-gradient(rgba(11,20,26,.045) 1.2px,transparent 1.6px) 0 0/16px 16px}
.pill{align-self:center;margin:0 0 6px;padding:5px 12px;border-radius:8px;background:#ffeecd;
 color:#54656f;font-size:12px;box-shadow:0 1px .5px rgba(11,20,26,.13);text-align:center}
.bubble{position:relative;max-width:88%;min-width:150px;margin-right:8px;padding:6px 8px 4px 9px;
 background:#d9fdd3;border-radius:8px 0 8px 8px;box-shadow:0 1px .5px rgba(11,20,26,.13);
 overflow-wrap:anywhere}
.bubble.k-image{width:316px}
.bubble::after{content:"";position:absolute;top:0;right:-8px;width:8px;height:13px;
 background:#d9fdd3;clip-path:polygon(0 0,100% 0,0 100%)}
.text{white-space:pre-wrap}
.text a{color:#027eb5;text-decoration:none}
.text code{font-family:ui-monospace,Menlo,Consolas,"DejaVu Sans Mono",monospace;font-size:13px}
.text code.inline{padding:0 4px;border-radius:4px;background:rgba(11,20,26,.07)}
.thumb{position:relative;display:flex;flex-direction:column;align-items:center;
 justify-content:center;gap:4px;aspect-ratio:16/9;margin:-3px -5px 6px -6px;border-radius:6px;
 overflow:hidden;color:#54656f;font-size:12px;background:linear-gradient(135deg,#c6d5cb,#e6eee8)}
.thumb img{position:absolute;inset:0;width:100%;max-width:100%;height:100%;object-fit:cover}
/* Only a broken image gets an ::after box (the URL cannot load offline, or not yet): it covers
   Chromium's broken-image icon with the same placeholder a row without a URL shows. */
.thumb img::after{content:attr(data-name) "\\A" attr(data-host);position:absolute;inset:0;
 display:flex;align-items:center;justify-content:center;padding-top:60px;white-space:pre;
 text-align:center;line-height:1.45;color:#54656f;font-size:12px;
 background:url("PLACEHOLDER_SVG") center calc(50% - 16px)/40px no-repeat,
 linear-gradient(135deg,#c6d5cb,#e6eee8)}
.thumb span{max-width:90%;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.thumb small{color:#667781;font-size:11px}
.card{display:flex;align-items:center;gap:10px;min-width:250px;margin:-3px -5px 6px -6px;
 padding:9px 10px;border-radius:6px;background:rgba(11,20,26,.055);color:inherit;
 text-decoration:none}
.card .icon{flex:none;display:flex;align-items:center;justify-content:center;width:38px;
 height:38px;border-radius:50%;background:var(--c);color:#fff}
.card .name,.card .url{display:block;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.card .name{font-weight:600;font-size:13.5px}
.card .url{color:#667781;font-size:11.5px}
.card div{min-width:0}
.error{margin-top:4px;padding:3px 8px;border-radius:4px;border-inline-start:3px solid #ea0038;
 background:rgba(255,255,255,.6);color:#b0002a;font-size:12.5px}
.meta{display:flex;justify-content:flex-end;align-items:center;gap:4px;margin-top:2px;
 color:#667781;font-size:11px;line-height:15px;white-space:nowrap}
.meta .who{overflow:hidden;text-overflow:ellipsis}
.meta .st{font-weight:600;color:var(--c)}
.meta svg{flex:none}
.empty{align-self:center;margin:40px 0;padding:10px 14px;border-radius:8px;background:#fff;
 color:#54656f;text-align:center;box-shadow:0 1px .5px rgba(11,20,26,.13)}
.empty code{font-family:ui-monospace,Menlo,Consolas,"DejaVu Sans Mono",monospace;
 font-size:12.5px;color:#111b21}
.section{display:flex;flex-direction:column;align-items:flex-end;gap:6px;width:100%}
.who-head{display:flex;align-items:center;gap:10px;align-self:stretch;margin:6px 0 2px;
 padding:7px 10px;border-radius:8px;background:rgba(255,255,255,.85)}
.avatar{display:flex;align-items:center;justify-content:center;width:34px;height:34px;
 border-radius:50%;background:#dfe5e7}
.who-head b{display:block;font-size:14px}
.who-head small{color:#667781;font-size:11.5px}
.notsent{padding:14px 16px 16px;background:#fff}
.notsent h2{margin:0 0 8px;font-size:14.5px;font-weight:600}
table{width:100%;border-collapse:collapse;font-size:12.5px}
th{padding:5px 6px;border-bottom:1px solid #e9edef;color:#667781;font-weight:600;text-align:start}
td{padding:6px;border-bottom:1px solid #f0f2f5;vertical-align:top;overflow-wrap:anywhere}
td.num{color:#667781;white-space:nowrap}
.badge{display:inline-block;padding:0 7px;border-radius:999px;background:var(--c);color:#fff;
 font-size:11.5px;line-height:18px;white-space:nowrap}
"""

_PLACEHOLDER_SVG = (
    "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 24 24' "
    "fill='none' stroke='%23667781' stroke-width='1.4' stroke-linejoin='round'%3E"
    "%3Cpath d='M4 5h16v14H4z'/%3E%3Ccircle cx='9' cy='10' r='1.6' fill='%23667781'/%3E"
    "%3Cpath d='M5 17l4.5-4.5 3 3 2.5-2.5L19 17'/%3E%3C/svg%3E"
)

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


def _svg(width: int, height: int, label: str, *body: str) -> Markup:
    return Markup(
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'aria-label="{label}" role="img">{"".join(body)}</svg>'
    )


_LINE = 'fill="none" stroke-linecap="round" stroke-linejoin="round"'
# Footer ticks and media icons, drawn inline: no emoji or icon font needed.
_ICONS = {
    "sent": _svg(
        16,
        11,
        "sent",
        f'<path d="M1 5.8l2.9 2.9L10.2 2M6.6 8.1l.6.6L14.6 1.9" {_LINE}',
        ' stroke="#53bdeb" stroke-width="1.5"/>',
    ),
    "ready": _svg(
        12,
        11,
        "ready",
        f'<path d="M1.5 5.8l2.9 2.9L10.7 2" {_LINE}',
        ' stroke="#8696a0" stroke-width="1.5"/>',
    ),
    "pending": _svg(
        12,
        12,
        "pending",
        '<circle cx="6" cy="6" r="4.9" fill="none" ',
        'stroke="#8696a0" stroke-width="1.2"/>',
        f'<path d="M6 3.2V6l1.9 1.2" {_LINE} stroke="#8696a0" stroke-width="1.2"/>',
    ),
    "failed": _svg(
        13,
        13,
        "failed",
        '<circle cx="6.5" cy="6.5" r="6" fill="#ea0038"/>',
        '<path d="M6.5 3.3v3.9" stroke="#fff" stroke-width="1.6" stroke-linecap="round"/>',
        '<circle cx="6.5" cy="9.6" r=".95" fill="#fff"/>',
    ),
    "unknown": _svg(
        13,
        13,
        "unknown",
        '<circle cx="6.5" cy="6.5" r="6" fill="#e08a00"/>',
        f'<path d="M4.6 5.1a1.95 1.95 0 1 1 2.7 1.8c-.55.25-.8.6-.8 1.2" {_LINE}',
        ' stroke="#fff" stroke-width="1.4"/><circle cx="6.5" cy="10" r=".9" fill="#fff"/>',
    ),
    "video": _svg(18, 18, "video", '<path d="M6 4.2v9.6L13.8 9z" fill="#fff"/>'),
    "audio": _svg(
        18,
        18,
        "audio",
        '<path d="M7 12.6V4.4l7-1.6v8.2" fill="none" stroke="#fff" stroke-width="1.6"/>',
        '<circle cx="5.4" cy="12.8" r="2" fill="#fff"/>',
        '<circle cx="12.4" cy="11.2" r="2" fill="#fff"/>',
    ),
    "doc": _svg(
        18,
        18,
        "document",
        '<path d="M5 2h5.5L14 5.5V16H5z" fill="#fff"/>',
        '<path d="M10.5 2v3.5H14" fill="none" stroke="#5f66cd" stroke-width="1.2"/>',
    ),
    "image": _svg(
        40,
        40,
        "image",
        f'<g transform="scale(1.667)" {_LINE} stroke="#667781" ',
        'stroke-width="1.4"><path d="M4 5h16v14H4z"/><circle cx="9" cy="10" r="1.6" ',
        'fill="#667781"/><path d="M5 17l4.5-4.5 3 3 2.5-2.5L19 17"/></g>',
    ),
    "person": _svg(
        20,
        20,
        "contact",
        '<circle cx="10" cy="7" r="4" fill="#fff"/>',
        '<path d="M2.5 19c.8-4.2 3.8-6.5 7.5-6.5s6.7 2.3 7.5 6.5z" fill="#fff"/>',
    ),
}

# The one bubble both pages use. Whitespace inside .text is significant (pre-wrap): keep the
# body on the same line as its tags. dir="ltr" on the media and the footer keeps them out of
# the bubble's dir="auto" guess, so a Hebrew caption under a URL still reads right-to-left.
_MACROS = """
{% macro colour(key) %}--c:{{ colours.get(key, '#8696a0') }}{% endmacro %}

{% macro bubble(b) %}
<div class="bubble k-{{ b.kind }}" dir="auto"
 {%- if b.row is not none %} data-row="{{ b.row }}"{% endif %}
 {%- if b.seq is not none %} data-seq="{{ b.seq }}"{% endif %} data-status="{{ b.status }}">
{%- if b.kind == 'image' %}
<div class="thumb" dir="ltr">
{%- if b.href %}
<img src="{{ b.href }}" loading="lazy" data-name="{{ b.file_name }}" data-host="{{ b.host }}"
 alt="Image for {{ 'row %s' % b.row if b.row is not none else 'message' }}: {{ b.file_name }}">
{%- else %}
{{ icons.image }}<span>{{ b.media or 'no image URL' }}</span>
{%- if b.media %}<small>not an http(s) URL</small>{% endif %}
{%- endif %}
</div>
{%- elif b.kind in ('video', 'audio', 'doc') %}
<{{ 'a' if b.href else 'div' }} class="card" dir="ltr" style="{{ colour(b.kind) }}"
 {%- if b.href %} href="{{ b.href }}" rel="noopener noreferrer" target="_blank"{% endif %}>
<span class="icon">{{ icons[b.kind] }}</span>
<div><span class="name">{{ b.file_name or 'no %s URL' % b.kind }}</span>
<span class="url">{{ b.media }}</span></div>
</{{ 'a' if b.href else 'div' }}>
{%- endif %}
{%- if b.body %}
<div class="text">{{ b.body }}</div>
{%- endif %}
{%- if b.error %}
<div class="error" dir="auto">{{ b.error }}</div>
{%- endif %}
<div class="meta" dir="ltr"><span class="who">{{ b.meta }}
{%- if b.label %}<span class="st" style="{{ colour(b.status) }}">{{ b.label }}</span>{% endif -%}
</span>
{%- if b.time %}<span>{{ b.time }}</span>{% endif %}{{ icons.get(b.status, '') }}</div>
</div>
{%- endmacro %}
"""

_CSP = "default-src 'none'; img-src https: data:; style-src 'unsafe-inline'"

# No lang and no dir on <html>: the pages mix Hebrew and English; each bubble finds its own.
_BASE = """<!doctype html>
<html>
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{{ csp }}">
<meta name="viewport" content="width=device-width, initial-scale=1">
{% block head %}{% endblock %}
<title>{{ title }}</title>
<style>{{ css }}</style>
</head>
<body>
<main class="app">
{% block body %}{% endblock %}
</main>
</body>
</html>
"""

_PREVIEW = """{% extends "base.html" %}
{% from "macros.html" import bubble, colour %}
{% block body %}
<header class="top">
<h1 dir="auto">{{ title }}</h1>
{%- set total = bubbles|length + more_bubbles %}
<div class="sub">{{ total }} message{{ '' if total == 1 else 's' }}
 · {{ kind_label }}{% if duration %} · estimated duration {{ duration }}{% endif %}</div>
{%- if counts %}
<div class="chips">
{%- for status, n in counts %}
<span class="chip" data-status="{{ status }}" style="{{ colour(status) }}"><i></i>
{{- status }} <b>{{ n }}</b></span>
{%- endfor %}
</div>
{%- endif %}
</header>
<section class="chat">
<div class="pill">Each bubble is one recipient's message, exactly as rendered.</div>
{%- for b in bubbles %}
{{ bubble(b) }}
{%- else %}
<div class="empty">No message to show.</div>
{%- endfor %}
{%- if more_bubbles %}
<div class="pill">… and {{ more_bubbles }} more messages: the results sheet has every row.</div>
{%- endif %}
</section>
{%- if skipped %}
<section class="notsent">
<h2>Not sent ({{ skipped|length + more_skipped }})</h2>
<table>
<thead><tr><th>row</th><th>phone / jid</th><th>status</th><th>reason</th></tr></thead>
<tbody>
{%- for number, phone, status, reason in skipped %}
{%- set local, at, server = phone.partition('@') %}
<tr data-row="{{ number }}"><td class="num">{{ number }}</td>
<td dir="auto">{{ local }}{% if at %}<wbr>@{{ server }}{% endif %}</td>
<td><span class="badge" style="{{ colour(status) }}">{{ status }}</span></td>
<td dir="auto">{{ reason }}</td></tr>
{%- endfor %}
</tbody>
</table>
{%- if more_skipped %}
<p>… and {{ more_skipped }} more rows not sent: the results sheet has every row.</p>
{%- endif %}
</section>
{%- endif %}
{% endblock %}
"""

_CHAT = """{% extends "base.html" %}
{% from "macros.html" import bubble %}
{% block head %}<meta http-equiv="refresh" content="{{ refresh }}">{% endblock %}
{% block body %}
<header class="top">
<h1>{{ title }}</h1>
<div class="sub">{{ total }} message{{ '' if total == 1 else 's' }}
 · {{ sections|length }} chat{{ '' if sections|length == 1 else 's' }}
 · refreshes every {{ refresh }} s</div>
</header>
<section class="chat">
{%- for jid, name, bubbles in sections %}
<div class="section" data-jid="{{ jid }}">
<div class="who-head"><span class="avatar">{{ icons.person }}</span>
<div><b>{{ name }}</b><small>{{ jid }} · {{ bubbles|length }}
 message{{ '' if bubbles|length == 1 else 's' }}</small></div></div>
{%- for b in bubbles %}
{{ bubble(b) }}
{%- endfor %}
</div>
{%- else %}
<div class="empty">No messages yet. Send with:<br>
<code>campaign send ... --base-url {{ base_url }}</code></div>
{%- endfor %}
</section>
{% endblock %}
"""

_ENV = Environment(
    loader=DictLoader(
        {"base.html": _BASE, "macros.html": _MACROS, "preview.html": _PREVIEW, "chat.html": _CHAT}
    ),
    autoescape=True,
    undefined=StrictUndefined,
)
_ENV.globals.update(
    css=Markup(_CSS.replace("PLACEHOLDER_SVG", _PLACEHOLDER_SVG)),
    csp=Markup(_CSP),
    colours=_COLOURS,
    icons=_ICONS,
)
