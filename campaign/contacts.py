"""Load a contacts sheet (CSV/TSV/TXT, XLSX/XLSM/XLS/ODS) with every cell as the text stored."""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from campaign.display import format_value, general, read_styles
from campaign.encodings import LEGACY, decode, describe
from campaign.errors import EmptySheetError, InputError
from campaign.inputfiles import check_regular
from campaign.workbook_limits import MAX_CELLS, check_workbook, check_xls

DELIMITED = {".csv", ".tsv", ".txt"}
WORKBOOKS = {".xlsx", ".xlsm", ".xls", ".ods"}
SUPPORTED = sorted(DELIMITED | WORKBOOKS)
DELIMITERS = (",", ";", "\t")
# A CSV cell may be this long; csv's own default is 128 KB (a 70,000-character cell stopped the
# campaign), and a message is at most 65,536 characters, so a longer cell only makes its row
# invalid. Past 1 MB (as in a workbook) the file is refused.
MAX_CSV_FIELD = 1024 * 1024
# A delimited file is read whole: 64 MB is ~500,000 contacts of ten columns, years of sending.
# A 100 MB one-line file took 891 MB; 10 million empty lines (10 MB) 58 s and 836 MB (issue 19).
MAX_DELIMITED_BYTES = 64 * 1024 * 1024
# Rows kept (trailing empty ones never are: Excel may export a million of them) and lines read.
MAX_DELIMITED_ROWS = 1_000_000
MAX_DELIMITED_LINES = 2_000_000
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")
# How far down a title row, notes or blank lines may push the header before we stop looking.
HEADER_SEARCH_ROWS = 20


@dataclass(frozen=True)
class Sheet:
    """A table of text. `numbers[i]` is the spreadsheet row number of `rows[i]` (first row = 1).

    Workbooks also keep each cell's stored value in `raw` (numbers, dates) and its number format
    in `formats` (by row number and column), so the results can give cells back as they came.
    """

    path: Path
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]]
    numbers: list[int]
    header_row: int
    sheet_name: str | None = None
    delimiter: str = ","
    notices: tuple[str, ...] = field(default=())
    raw: list[tuple[object, ...]] | None = None
    formats: dict[tuple[int, int], str] = field(default_factory=dict)
    hidden: frozenset[int] = frozenset()  # row numbers hidden in the workbook (by hand or filter)
    other_sheets: tuple[str, ...] = ()
    header_found: bool = True  # False when --header-row named it
    above: tuple[tuple[str, ...], ...] = ()  # rows above the header (a title, a report preamble)
    encoding: str | None = None
    text_columns: frozenset[int] = frozenset()  # columns the results keep as text (phones)

    @property
    def label(self) -> str:
        """How error messages name this table: `contacts.xlsx, sheet 'Contacts'`."""
        return label(self.path, self.sheet_name)


def label(path: Path, sheet_name: str | None) -> str:
    return path.name + (f", sheet '{sheet_name}'" if sheet_name else "")


def load_sheet(
    path: Path,
    *,
    sheet: str | None = None,
    header_row: int | None = None,
    encoding: str | None = None,
    prefer: Callable[[Sequence[str]], bool] | None = None,
) -> Sheet:
    """Read `path` as text cells, find its header and drop fully empty rows.

    `prefer(columns)` says whether a sheet holds contacts: without --sheet the first sheet is
    used, unless it does not and exactly one other sheet does.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in DELIMITED and suffix not in WORKBOOKS:
        raise InputError(
            f"{path}: unsupported file type '{suffix or '(none)'}'. "
            f"Save the contacts as one of: {', '.join(SUPPORTED)}."
        )
    check_regular(path, label="the sheet")  # a FIFO or /dev/zero: never read
    if not path.is_file():
        raise InputError(f"{path}: no such file. Check the path (run from the folder that holds it).")
    if suffix in DELIMITED:
        notices = []
        if sheet is not None:
            notices.append(f"--sheet {sheet!r} ignored: {path.name} is a delimited text file.")
        grid, delimiter, used = _read_delimited(path, encoding)
        if used in LEGACY_NOTICE and not encoding:
            notices.append(
                f"{path.name} is not UTF-8: read it as {describe(used)}. If names look wrong, "
                "give the right code page with --encoding NAME."
            )
        table = _Table(grid, None, None, None)
        return _to_sheet(path, table, header_row, None, delimiter, tuple(notices), encoding=used)
    if encoding is not None:
        pass  # a workbook stores its own text encoding
    return _load_workbook(path, sheet, header_row, prefer)


LEGACY_NOTICE = frozenset(LEGACY)  # every legacy code page read is named


@dataclass
class _Table:
    grid: list[list[str]]
    raw: list[list[object]] | None
    formats: dict[tuple[int, int], str] | None  # by 0-based grid row and column
    hidden: set[int] | None


def _load_workbook(
    path: Path, sheet: str | None, header_row: int | None,
    prefer: Callable[[Sequence[str]], bool] | None,
) -> Sheet:
    wb, names = _open_workbook(path)
    chosen = _sheet_name(path, names, sheet) if sheet is not None else names[0]
    table = _read_table(path, wb, chosen)
    result = _to_sheet(path, table, header_row, chosen, ",", ())
    others = [n for n in names if n != chosen]
    notice = ""
    if sheet is None and prefer is not None and others and not prefer(result.columns):
        matches: list[Sheet] = []
        looked = 0  # cells of the other sheets read so far
        for name in others:
            # Only a single match is used: a second ends the search. And the other sheets are
            # read within half a sheet's worth of cells: a 2.9 MB workbook of six sheets at the
            # size limit took 35 s and 810 MB here, kept whole (issue 19, round four). Sheets
            # left unread may hold phones too, so no match is then taken as the only one.
            if len(matches) > 1 or looked > MAX_CELLS // 2:
                if len(matches) == 1:
                    matches.append(matches[0])  # not known to be the only one
                break
            try:
                table = _read_table(path, wb, name)
                looked += sum(map(len, table.grid))
                candidate = _to_sheet(path, table, header_row, name, ",", ())
            except InputError:
                continue
            if prefer(candidate.columns):
                matches.append(candidate)
        if len(matches) == 1:
            result, first = matches[0], chosen
            chosen = result.sheet_name or ""
            others = [n for n in names if n != chosen]
            notice = (f"{path.name} has {len(names)} sheets; using '{chosen}', the one with a phone "
                      f"column ('{first}' has none; others: {', '.join(others)}). "
                      "Pick another with --sheet NAME.")
    if others and not notice:
        notice = (f"{path.name} has {len(others) + 1} sheets; using '{chosen}' "
                  f"(others: {', '.join(others)}). Pick one with --sheet NAME.")
    notices = (notice,) if notice else ()
    return _replace(result, notices=notices + result.notices, other_sheets=tuple(others))


def _replace(sheet: Sheet, **changes: object) -> Sheet:
    from dataclasses import replace

    return replace(sheet, **changes)  # type: ignore[arg-type]


def _to_sheet(
    path: Path,
    table: _Table,
    header_row: int | None,
    sheet_name: str | None,
    delimiter: str,
    notices: tuple[str, ...],
    *,
    encoding: str | None = None,
) -> Sheet:
    grid = table.grid
    h = _header_index(grid, header_row, label(path, sheet_name))
    header = grid[h]
    body = grid[h + 1 :]
    width = _last_used(header)
    for r in body:
        width = max(width, _last_used(r))
    columns = tuple(c.strip() for c in _pad(header, width))
    footer = _report_footer(body, width)
    if footer:
        body = body[: len(body) - len(footer)]
        notices = (*notices, _footer_notice(footer))
    rows: list[tuple[str, ...]] = []
    numbers: list[int] = []
    raw: list[tuple[object, ...]] | None = [] if table.raw is not None else None
    for i, r in enumerate(body, start=h + 2):
        if not any(c.strip() for c in r):
            continue  # fully empty rows are dropped (Excel exports leave them at the end)
        rows.append(tuple(_pad(r, width)))
        numbers.append(i)
        if raw is not None and table.raw is not None:
            cells = table.raw[i - 1]
            raw.append(tuple(cells[:width]) + (None,) * (width - len(cells)))
    formats = {(r + 1, c): f for (r, c), f in (table.formats or {}).items() if r > h and c < width}
    hidden = frozenset(n for n in (table.hidden or ()) if n > h + 1 and n in set(numbers))
    above = tuple(tuple(r) for r in grid[:h] if any(c.strip() for c in r))
    return Sheet(path, columns, rows, numbers, h + 1, sheet_name, delimiter, notices, raw=raw,
                 formats=formats, hidden=hidden, header_found=header_row is None, above=above,
                 encoding=encoding)


def _header_index(grid: list[list[str]], header_row: int | None, where: str) -> int:
    """The grid index of the column names: --header-row's, or found."""
    if header_row is None:
        found = _find_header(grid)
        if found is None:
            raise EmptySheetError(f"{where}: the sheet is empty. Export the contacts with a header row.")
        return found
    if header_row < 1 or header_row > len(grid) or not any(c.strip() for c in grid[header_row - 1]):
        raise InputError(
            f"{where}: --header-row {header_row} is "
            + ("past the end of the sheet" if header_row > len(grid) or header_row < 1 else "empty")
            + f" (the sheet has {len(grid)} rows). Give the row number of the column names."
        )
    return header_row - 1


def _footer_notice(footer: list[list[str]]) -> str:
    shown = "', '".join(r[0].strip()[:40] for r in footer[:2])
    lines = "the line" if len(footer) == 1 else f"the {len(footer)} lines"
    return f"{lines} below the table ('{shown}') are a report's footer, not contacts: left out."


def _report_footer(body: list[list[str]], width: int) -> list[list[str]]:
    """The lines a report export puts below its table after an empty line, each a single text
    in the first cell (Salesforce: 'Contacts Report', 'Copyright (c) 2000-2026 salesforce.com',
    'Generated By: ...'), or [] when the sheet does not end so."""
    if width < 3:
        return []
    end = len(body)
    while end and not any(c.strip() for c in body[end - 1]):
        end -= 1
    start = end
    while start and _last_used(body[start - 1]) == 1 and body[start - 1][0].strip():
        start -= 1
    if start == end or start < 2 or any(c.strip() for c in body[start - 1]):
        return []
    if not any(c.strip() for r in body[: start - 1] for c in r[1:]):
        return []
    return body[start:]


def _last_used(row: list[str]) -> int:
    for i in range(len(row) - 1, -1, -1):
        if row[i].strip():
            return i + 1
    return 0


def _pad(row: list[str], width: int) -> list[str]:
    if len(row) >= width:
        return row[:width]
    return row + [""] * (width - len(row))


def _find_header(grid: list[list[str]]) -> int | None:
    """The first row about as wide as the rows below it that reads like column names.

    A title or report preamble above the header has one or two cells, and notes typed beside
    the data in unnamed columns make the data rows wider than the header, so the width to
    reach is the typical row's, not the widest's.
    """
    candidates = []
    for i, row in enumerate(grid):
        filled = sum(1 for c in row if c.strip())
        if filled:
            candidates.append((i, filled))
        if len(candidates) >= HEADER_SEARCH_ROWS:
            break
    if not candidates:
        return None
    widths = sorted(f for _, f in candidates)
    typical = widths[len(widths) // 2]
    # A row as wide as the data that names columns; a preamble of a title and a date is narrower.
    for i, filled in candidates:
        if filled >= typical and _names_columns(grid[i], numeric_share=0.0):
            return i
    need = typical if typical <= 2 else typical * 0.6
    for i, filled in candidates:
        if filled >= need and _names_columns(grid[i]):
            return i
    for i, filled in candidates:
        if filled >= need:
            return i
    return candidates[0][0]


def _names_columns(row: list[str], *, numeric_share: float = 0.3) -> bool:
    """Column names are short labels, mostly without digits (unlike a data row of phones)."""
    cells = [c.strip() for c in row if c.strip()]
    numeric = sum(1 for c in cells if sum(ch.isdigit() for ch in c) > len(c) / 2)
    return all(len(c) <= 80 for c in cells) and numeric <= len(cells) * numeric_share


# --- delimited text -------------------------------------------------------------------------

def sniff_delimiter(text: str, suffix: str) -> str:
    """Among `, ; TAB`: the one that splits the first lines into the most, most consistent fields."""
    sample = text[:65536]
    lines = sample.splitlines()[:50]
    if len(lines) > 1 and len(sample) == 65536:
        lines = lines[:-1]  # the last line may be cut short
    best, best_score = ("\t" if suffix == ".tsv" else ","), (0, 0.0)
    for d in DELIMITERS:
        try:
            counts = [len(r) for r in csv.reader(lines, delimiter=d) if any(c.strip() for c in r)]
        except csv.Error:
            continue
        if not counts:
            continue
        top = max(set(counts), key=counts.count)
        if top < 2:
            continue
        score = (counts.count(top), top)
        if score > best_score or (score == best_score and d == best):
            best, best_score = d, score
    return best


def _read_delimited(path: Path, encoding: str | None) -> tuple[list[list[str]], str, str]:
    data = _read_limited(path)
    if data.count(b"\n") > MAX_DELIMITED_LINES:  # known before any decoding
        raise _too_many(path, MAX_DELIMITED_LINES)
    text, used = decode(data, path.name, encoding)
    del data
    # Excel writes and reads a first line `sep=;` naming the delimiter, and hides it: so do we.
    hint = re.match(r"sep=([,;\t|])\r?\n", text)
    if hint:
        text, delimiter = text[hint.end():], hint.group(1)
    else:
        delimiter = sniff_delimiter(text, path.suffix.lower())
    # A cell over csv's 128 KB default stopped the whole campaign; it is read, and its row
    # alone is then invalid when a message would use it (issue 19).
    csv.field_size_limit(MAX_CSV_FIELD)
    # Lines as StringIO(newline="") gives them, without its copy of the text (4 bytes a char).
    lines = (m.group() for m in _LINE.finditer(text))
    reader = csv.reader(lines, delimiter=delimiter)
    grid: list[list[str]] = []
    blank = 0  # empty lines not yet kept: kept only when a line with something follows
    empty: list[str] = []  # one shared empty row for all of them
    try:
        for row in reader:
            if reader.line_num > MAX_DELIMITED_LINES:
                raise _too_many(path, reader.line_num)
            if not any(row):
                blank += 1
                continue
            if len(grid) + blank >= MAX_DELIMITED_ROWS:
                raise _too_many(path, reader.line_num)
            grid.extend([empty] * blank)
            blank = 0
            grid.append(row)
    except csv.Error as e:
        if "field limit" in str(e):
            raise InputError(
                f"{path.name}: a cell ending on line {reader.line_num} holds more than "
                f"{MAX_CSV_FIELD // 1024**2} MB of text, far more than any message (a quote "
                "left open makes the rest of the file one cell). Close the quote or remove that "
                "cell, and save again."
            ) from None
        raise InputError(f"{path.name}: not a readable delimited file ({e}).") from None
    return grid, delimiter, used


def _too_many(path: Path, line: int) -> InputError:
    return InputError(
        f"{path.name}: more than {MAX_DELIMITED_ROWS:,} rows (line {line:,} reached), more "
        "than this tool reads at once, or years of sending. Split the contacts into several "
        "files (one campaign each), or delete the empty lines."
    )


def _read_limited(path: Path) -> bytes:
    """The file's bytes, refused (exit 2) before reading when larger than MAX_DELIMITED_BYTES."""
    with path.open("rb") as f:
        size = os.fstat(f.fileno()).st_size
        data = f.read(MAX_DELIMITED_BYTES + 1) if size <= MAX_DELIMITED_BYTES else b""
    if size > MAX_DELIMITED_BYTES or len(data) > MAX_DELIMITED_BYTES:
        raise InputError(
            f"{path.name} is {max(size, len(data)) / 1024**2:,.0f} MB, more than this tool reads "
            f"({MAX_DELIMITED_BYTES // 1024**2} MB, about 500,000 contacts). Check that it is "
            "the contacts file; split a real list into several files, one campaign each."
        )
    return data


# --- workbooks --------------------------------------------------------------------------------

def _open_workbook(path: Path) -> tuple[object, list[str]]:
    from python_calamine import CalamineWorkbook

    if path.suffix.lower() in (".xlsx", ".xlsm", ".ods"):
        check_workbook(path)  # a tiny file can make calamine abort the process (issue 19)
    elif path.suffix.lower() == ".xls":
        check_xls(path)  # a 5.6 KB .xls asked calamine for 16.7 million cells
    try:
        wb = CalamineWorkbook.from_path(str(path))
    except Exception as e:  # calamine raises its own error types for corrupt/encrypted files
        raise InputError(
            f"{path.name}: cannot be read as a {path.suffix.lower()} workbook ({e}). "
            "Open it in Excel and save it again, or export it as CSV UTF-8."
        ) from None
    names = list(wb.sheet_names)
    if not names:
        raise InputError(f"{path.name}: the workbook has no sheets.")
    return wb, names


def _sheet_name(path: Path, names: list[str], sheet: str) -> str:
    if sheet in names:
        return sheet
    folded = {n.strip().casefold(): n for n in names}
    if sheet.strip().casefold() not in folded:
        raise InputError(
            f"{path.name}: no sheet named '{sheet}'. The sheets are: "
            + ", ".join(f"'{n}'" for n in names)
            + ". Pass one of them to --sheet."
        )
    return folded[sheet.strip().casefold()]


def _read_table(path: Path, wb: object, name: str) -> _Table:
    data = wb.get_sheet_by_name(name).to_python(skip_empty_area=False)  # type: ignore[attr-defined]
    styles = None
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        styles = read_styles(str(path), name)
    formats = styles.formats if styles else {}
    grid = []
    for r, row in enumerate(data):
        cells = []
        for c, v in enumerate(row):
            code = formats.get((r, c)) if formats else None
            shown = format_value(v, code) if code is not None and not isinstance(v, str) else None
            cells.append(cell_text(v) if shown is None else shown)
        grid.append(cells)
    return _Table(grid, data, formats, styles.hidden if styles else None)


def cell_text(v: object) -> str:
    """The text a user sees for a General cell: 972501234567 not 972501234567.0, 17.55 not
    17.549999999999997 (Excel shows 15 significant digits), dates as ISO."""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, int | float):
        return general(v)
    if isinstance(v, dt.datetime):
        if v.time() == dt.time(0):
            return v.date().isoformat()
        return v.isoformat(sep=" ")
    if isinstance(v, dt.date | dt.time):
        return v.isoformat()
    if v is None:
        return ""
    return str(v)
