"""Rows to messages and statuses: everything decided before the first request goes out."""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from campaign.client import DEFAULT_BASE_URL, encoded_url_length
from campaign.config import SendOptions
from campaign.contacts import Sheet, load_sheet
from campaign.countries import home_country, option_country
from campaign.errors import EmptySheetError, InputError, TemplateError
from campaign.habits import check_files, media_hint
from campaign.phones import (
    choose_phone_columns,
    find_phone_column,
    header_candidates,
    no_usable_message,
    row_jid,
    to_jid,
)
from campaign.render import CellTooLong, MessageTemplate, read_template
from campaign.vocabulary import SENDABLE, MessageKind, Status

STATUSES = tuple(Status)  # the summary's order


@dataclass
class Row:
    """One spreadsheet row and what happened to it. `number` is the spreadsheet row number."""

    number: int
    values: tuple[str, ...]
    jid: str | None = None
    status: str = Status.READY
    error: str = ""
    message: str = ""
    media: str = ""
    sent_at: str = ""
    attempts: int = 0
    sender: str = ""  # the label of the sender it went (or goes) through, with several senders
    warning: str = ""  # what planning noticed (the reading chosen, an extension dropped): kept in
    # `error` when the row is sent, so the results still say it
    phone_warning: bool = False  # sent (or ready) with a warning about its number: counted


# Many servers and proxies refuse request lines over 8 KB; Hebrew triples in percent-encoding.
MAX_URL_BYTES = 8192


@dataclass
class Plan:
    """The whole campaign as rows with statuses, before anything is sent."""

    sheet: Sheet
    kind: MessageKind
    phone_column: str
    rows: list[Row]
    notices: list[str] = field(default_factory=list)
    country: str = "IL"  # the home country: numbers written without + are read in it
    country_line: str = ""  # 'country GB (inferred: 25 of 27 local numbers are GB mobiles; ...)'

    def counts(self) -> dict[str, int]:
        return count_statuses(self.rows)


def count_statuses(rows: Iterable[Row]) -> dict[str, int]:
    counts = Counter(r.status for r in rows)
    return {s: counts[s] for s in STATUSES if counts[s]}


def build_plan(
    sheet: Sheet,
    *,
    message: MessageTemplate,
    media: MessageTemplate | None = None,
    kind: str = "text",
    country: str = "IL",
    strict_phones: bool = False,
    phone_column: str | Sequence[str] | None = None,
    suppressed: Mapping[str, str] | None = None,
    base_url: str = DEFAULT_BASE_URL,
    skip_hidden: bool = False,
) -> Plan:
    """SPEC steps 2-6: phone column, JIDs, dedupe, opt-outs, rendering and request checks."""
    kind = message_kind(kind)
    if kind.media_param is not None and media is None:
        raise InputError(
            f"--type {kind} needs --media-url (a public https:// URL, or a column like "
            "\"{{ brochure }}\")."
        )
    explicit = [phone_column] if isinstance(phone_column, str) else list(phone_column or ())
    try:
        phone = choose_phone_columns(sheet, explicit, country)
    except InputError as e:
        raise InputError(f"{sheet.label}: {e}") from None
    suppressed = suppressed or {}
    seed = hashlib.sha256(message.source.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    first_row: dict[str, int] = {}
    rows: list[Row] = []
    for number, values in zip(sheet.numbers, sheet.rows, strict=True):
        row = Row(number=number, values=values)
        rows.append(row)
        result = row_jid(values, phone, country, strict_phones)
        row.jid = result.jid
        # pick() is seeded by the template's text and the recipient: the same choice in the dry
        # run, the send, every resume and any copy of the campaign (a renamed sheet, a copied
        # folder: issue 18), whatever the row's position in the sheet.
        row_seed = f"{seed}\x1f{result.jid or number}"
        too_long = _render_row(row, message, media, kind, seed=row_seed)
        # An empty cell printed with no fallback ("Hi !"): sent, with a warning.
        empty_cell = message.warning if kind.has_text and not too_long else ""
        left_out = _left_out(result.jid, result.problem, number, skip_hidden and number in sheet.hidden,
                             first_row, suppressed)
        if left_out is not None:
            row.status, row.error = left_out
            continue
        problem = too_long or _request_problem(row, kind, base_url)
        if problem:
            row.status, row.error = Status.INVALID, problem
            continue
        warnings = [w for w in (result.problem, empty_cell, _url_warning(row, kind, base_url)) if w]
        row.phone_warning = bool(result.problem)
        row.error = row.warning = "; ".join(warnings)
    if rows and not any(r.jid for r in rows):
        problem = next((r.error for r in rows if r.error != "no phone number"), "no phone number")
        raise InputError(f"{sheet.label}: " + no_usable_message(sheet, phone, problem, country))
    notices = list(sheet.notices)
    for template in (message, media):
        notices += [n for n in (template.notices if template else []) if n not in notices]
    notices += [phone.notice] if phone.notice else []
    if phone.country is not None:
        notices.append(f"each row's number is read in the country its '{sheet.columns[phone.country]}' "
                       f"cell names; rows without one: {country}.")
    if phone.codes:
        notices.append(f"the country code of each number is taken from "
                       f"'{sheet.columns[phone.codes[0][1]]}'.")
    notices += [_hidden_notice(sheet, skip_hidden)] if sheet.hidden else []
    # The results keep the phone cells as text (Excel would show 9.72502E+11).
    sheet = replace(sheet, text_columns=frozenset(phone.indexes))
    return Plan(sheet, kind, phone.names[0], rows, notices, country=country)


def _left_out(jid: str | None, problem: str, number: int, hidden: bool, first_row: dict[str, int],
              suppressed: Mapping[str, str]) -> tuple[Status, str] | None:
    """Why a row is not sent whatever its message (no number, hidden, a duplicate, opted out);
    None for a row that goes on. Notes the first row of each number in `first_row`."""
    if jid is None:
        return Status.INVALID, problem
    if hidden:
        return Status.SUPPRESSED, "hidden row"
    if jid in first_row:
        return Status.DUPLICATE, f"same number as row {first_row[jid]}"
    first_row[jid] = number
    if jid in suppressed:
        return Status.SUPPRESSED, suppressed[jid]
    return None


def _render_row(row: Row, message: MessageTemplate, media: MessageTemplate | None, kind: MessageKind,
                *, seed: str) -> str:
    """The row's message and media URL rendered; a cell too long for any message is the row's
    problem (returned), not the template's: the other rows go on."""
    try:
        # Audio has no caption: its text is not sent, so it is not shown anywhere either.
        row.message = message.render(row.values, row_number=row.number, seed=seed) if kind.has_text else ""
        if media is not None:
            row.media = media.render(row.values, row_number=row.number, seed=seed)
    except CellTooLong as e:
        return str(e)
    return ""


def _url_warning(row: Row, kind: MessageKind, base_url: str) -> str:
    """A warning when the row's encoded request is over the size the API may take."""
    assert row.jid is not None
    # Percent-encoding at most triples the UTF-8 bytes: measure exactly only near the limit
    # (httpx's URL building is the slowest step of a 100k-row plan otherwise).
    bound = len(base_url) + 300 + 3 * len(f"{row.jid}{row.message}{row.media}".encode())
    if bound <= MAX_URL_BYTES:
        return ""
    length = encoded_url_length(base_url, kind, jid=row.jid, text=row.message, media_url=row.media)
    if length <= MAX_URL_BYTES:
        return ""
    return (f"warning: the encoded request is {length:,} bytes, over {MAX_URL_BYTES:,}: "
            "the API may refuse it; shorten the message")


def _hidden_notice(sheet: Sheet, skip_hidden: bool) -> str:
    hidden = sorted(sheet.hidden)
    n = len(hidden)
    listing = ", ".join(map(str, hidden[:10])) + (", ..." if n > 10 else "")
    what = f"{n} row{'' if n == 1 else 's'} hidden in the workbook (by hand or by a filter): {listing}"
    if skip_hidden:
        return f"{what}; left out (suppressed) as --skip-hidden asks."
    return f"{what}; they are sent like the others. Leave them out with --skip-hidden."


def message_kind(kind: str) -> MessageKind:
    """`kind` as a MessageKind, or the input error that names the choices."""
    if kind not in set(MessageKind):
        raise InputError(f"--type {kind!r} is not one of: {', '.join(MessageKind)}.")
    return MessageKind(kind)


def _request_problem(row: Row, kind: MessageKind, base_url: str) -> str:
    if kind is MessageKind.TEXT and not row.message:
        return "the message renders empty"
    if kind.media_param is not None:
        if not row.media:
            return "the media URL renders empty"
        hint = media_hint(row.media)
        if not row.media.lower().startswith("https://") or len(row.media) < 12:
            return (f"media URL '{row.media}' is not https:// (the API needs a public https URL)"
                    + (f": {hint}" if hint else ""))
        if hint:
            return f"media URL {row.media}: {hint}"
    return ""


def _check_one_media_url(url: str) -> None:
    hint = media_hint(url)
    if hint:
        raise InputError(f"--media-url {url}: {hint}")
    if not url.strip().lower().startswith("https://") or len(url.strip()) < 12:
        raise InputError(
            f"--media-url {url}: not an https:// address. The API fetches the file itself, so it "
            "needs a public https link to the file."
        )


# Below this many recipients, one text for all is an announcement to friends, not a blast.
SAME_TEXT_MIN = 10


def same_text_notice(rows: Iterable[Row], *, minimum: int = SAME_TEXT_MIN) -> str | None:
    """For the dry run: the warning when every message to be sent is the same text, or None.

    WhatsApp's spam systems look for the same text sent to many people (issue 12).
    """
    sendable = [(r.message, r.media) for r in rows if r.status in SENDABLE]
    count = len(sendable)
    if count < minimum or len(set(sendable)) != 1:
        return None
    return (
        f"all {count} messages are the same text. Identical text to many recipients is a spam "
        "signal to WhatsApp and puts the number at risk. Vary it per recipient: use their name "
        "({{ first_name }}) and let pick() choose among phrasings, e.g. "
        "{{ pick('Hi', 'Hello', 'Hey') }} {{ first_name }}, {{ pick('our sale starts "
        "tomorrow', 'the sale opens tomorrow') }}. pick() chooses once per recipient and keeps "
        "that choice in the dry run, the send and every resume."
    )


def empty_cell_notice(rows: Iterable[Row]) -> str | None:
    """For the dry run: how many messages print an empty cell with no fallback ("Hi !")."""
    hit = [r for r in rows if r.status in SENDABLE and "empty cell" in r.warning]
    if not hit:
        return None
    listing = ", ".join(str(r.number) for r in hit[:10]) + (", ..." if len(hit) > 10 else "")
    named = re.search(r"give it a fallback: (\{\{.*?\}\})", hit[0].warning)
    fallback = named.group(1).replace("'...'", "'there'") if named else "{{ name | default('there') }}"
    return (
        f"{len(hit)} message(s) print an empty cell as nothing (rows {listing}), e.g. "
        f"{hit[0].message[:60]!r}. They are sent so, with a warning in 'error'; to say something "
        f"instead, give a fallback: {fallback}, or wrap the words in "
        "{% if city %}...{% endif %}."
    )


def load_suppressions(paths: Iterable[Path], *, country: str) -> dict[str, str]:
    """JID -> reason, from opt-out files in any supported format (with or without a header)."""
    out: dict[str, str] = {}
    for path in paths:
        try:
            sheet = load_sheet(Path(path))
        except EmptySheetError:
            continue  # nobody has opted out yet

        try:
            cols = [find_phone_column(sheet.columns)]
        except InputError:
            cols = list(range(len(sheet.columns)))  # a bare list of numbers: every cell counts
        # The header itself may be a number when the file is a plain list.
        lines = [(sheet.header_row, sheet.columns), *zip(sheet.numbers, sheet.rows, strict=True)]
        for number, values in lines:
            for c in cols:
                jid = to_jid(values[c], country).jid if c < len(values) else None
                if jid and jid not in out:
                    out[jid] = f"on opt-out list {Path(path).name} (row {number})"
    return out


def plan_campaign(opts: SendOptions, *, base_url: str = DEFAULT_BASE_URL,
                  suppressed: Mapping[str, str] | None = None,
                  environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Plan:
    """Load the sheet and templates named by `opts` and build the plan (SPEC steps 1-6)."""
    kind = _check_message_options(opts)
    given = option_country(opts.country) if opts.country else None
    notes = check_files(opts.contacts, opts.template, opts.message)  # swapped, ~$, -m FILE
    if opts.media_url and kind.media_param is not None and "{" not in opts.media_url:
        _check_one_media_url(opts.media_url)  # one URL for all: one message, not one per row
    sheet = _load_contacts(opts)
    explicit = [opts.phone_column] if isinstance(opts.phone_column, str) else list(opts.phone_column or ())
    try:
        home = home_country(sheet, explicit, given, os.environ if environ is None else environ,
                            Path.cwd() if cwd is None else cwd)
    except InputError as e:
        raise InputError(f"{sheet.label}: {e}") from None
    country = home.country
    source, message, media = _templates(opts, sheet)
    all_suppressed = dict(load_suppressions(opts.suppress, country=country))
    all_suppressed.update(suppressed or {})
    plan = build_plan(
        sheet,
        message=message,
        media=media,
        kind=kind,
        country=country,
        strict_phones=opts.strict_phones,
        phone_column=opts.phone_column,
        suppressed=all_suppressed,
        base_url=base_url,
        skip_hidden=opts.skip_hidden,
    )
    plan.notices[:0] = notes
    plan.country_line = home.line()
    if not kind.has_text and source.strip():
        plan.notices.append(f"{kind} messages have no caption: the message text is not sent.")
    if kind is MessageKind.TEXT and opts.media_url:
        plan.notices.append("--media-url is ignored for --type text (use image, video, audio or doc).")
    return plan


def _check_message_options(opts: SendOptions) -> MessageKind:
    """--template or --message (one of them, and one at all for text): the message's kind."""
    if opts.template is not None and opts.message is not None:
        raise InputError("give the message as --template FILE or --message TEXT, not both.")
    kind = message_kind(opts.kind)
    if kind is MessageKind.TEXT and opts.template is None and opts.message is None:
        raise InputError(
            "no message: give it as --template FILE or --message TEXT (Jinja2, e.g. "
            "'Hi {{ first_name }}')."
        )
    return kind


def _load_contacts(opts: SendOptions) -> Sheet:
    sheet = load_sheet(opts.contacts, sheet=opts.sheet, header_row=opts.header_row,
                       encoding=opts.encoding, prefer=lambda columns: bool(header_candidates(columns)))
    if not sheet.rows:
        raise EmptySheetError(
            f"{sheet.label}: the column names are on row {sheet.header_row}, but no contact is "
            "below them. Check that this is the right file (or --sheet), or --header-row."
        )
    return sheet


def _templates(opts: SendOptions, sheet: Sheet) -> tuple[str, MessageTemplate, MessageTemplate | None]:
    """The message's source and template, and the --media-url template, checked against the
    sheet's columns."""
    if opts.template is not None:
        source, origin = read_template(opts.template), str(opts.template)
    else:
        source, origin = opts.message or "", "--message"  # media with no caption: ""
    try:
        message = MessageTemplate(source, origin=origin, columns=sheet.columns)
        media = None
        if opts.media_url is not None:
            media = MessageTemplate(opts.media_url, origin="--media-url", columns=sheet.columns,
                                    salt="media")
    except TemplateError as e:
        # A typo has a did-you-mean; no near name at all may mean the header is another row.
        if "unknown variable" not in str(e) or "Did you mean" in str(e) or opts.header_row is not None:
            raise
        named = ", ".join(f"'{c}'" for c in sheet.columns[:4] if c) or "no names"
        raise TemplateError(
            f"{e} The column names were read from row {sheet.header_row} ({named}); if they are "
            "on another row, give it with --header-row N."
        ) from None
    return source, message, media
