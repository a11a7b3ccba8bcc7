"""Load a contacts sheet (CSV/TSV/TXT, XLSX/XLSM/XLS/ODS) with every cell as the text stored."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from campaign.errors import EmptySheetError, InputError

DELIMITED = {".csv", ".tsv", ".txt"}
WORKBOOKS = {".xlsx", ".xlsm", ".xls", ".ods"}
SUPPORTED = sorted(DELIMITED | WORKBOOKS)
DELIMITERS = (",", ";", "\t")
# How far down a title row, notes or blank lines may push the header before we stop looking.
HEADER_SEARCH_ROWS = 20


@dataclass(frozen=True)
class Sheet:
    """A table of text. `numbers[i]` is the spreadsheet row number of `rows[i]` (first row = 1)."""

    path: Path
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]]
    numbers: list[int]
    header_row: int
    sheet_name: str | None = None
    delimiter: str = ","
    notices: tuple[str, ...] = field(default=())

    @property
    def label(self) -> str:
        """How error messages name this table: `contacts.xlsx, sheet 'Contacts'`."""
        return label(self.path, self.sheet_name)


def label(path: Path, sheet_name: str | None) -> str:
    return path.name + (f", sheet '{sheet_name}'" if sheet_name else "")


def load_sheet(path: Path, *, sheet: str | None = None, header_row: int | None = None) -> Sheet:
    """Read `path` as text cells, find its header and drop fully empty rows."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in DELIMITED and suffix not in WORKBOOKS:
        raise InputError(
            f"{path}: unsupported file type '{suffix or '(none)'}'. "
            f"Save the contacts as one of: {', '.join(SUPPORTED)}."
        )
    if not path.is_file():
        raise InputError(f"{path}: no such file. Check the path (run from the folder that holds it).")
    notices: list[str] = []
    delimiter = ","
    sheet_name = None
    if suffix in DELIMITED:
        if sheet is not None:
            notices.append(f"--sheet {sheet!r} ignored: {path.name} is a delimited text file.")
        grid, delimiter = _read_delimited(path)
    else:
        grid, sheet_name, others = _read_workbook(path, sheet)
        if others:
            notices.append(
                f"{path.name} has {len(others) + 1} sheets; using '{sheet_name}' "
                f"(others: {', '.join(others)}). Pick one with --sheet NAME."
            )
    return _to_sheet(path, grid, header_row, sheet_name, delimiter, tuple(notices))


def _to_sheet(
    path: Path,
    grid: list[list[str]],
    header_row: int | None,
    sheet_name: str | None,
    delimiter: str,
    notices: tuple[str, ...],
) -> Sheet:
    where = label(path, sheet_name)
    if header_row is not None:
        if header_row < 1 or header_row > len(grid) or not any(c.strip() for c in grid[header_row - 1]):
            raise InputError(
                f"{where}: --header-row {header_row} is "
                + ("past the end of the sheet" if header_row > len(grid) or header_row < 1 else "empty")
                + f" (the sheet has {len(grid)} rows). Give the row number of the column names."
            )
        h = header_row - 1
    else:
        found = _find_header(grid)
        if found is None:
            raise EmptySheetError(f"{where}: the sheet is empty. Export the contacts with a header row.")
        h = found
    header = grid[h]
    body = grid[h + 1 :]
    width = _last_used(header)
    for r in body:
        width = max(width, _last_used(r))
    columns = tuple(c.strip() for c in _pad(header, width))
    rows: list[tuple[str, ...]] = []
    numbers: list[int] = []
    for i, r in enumerate(body, start=h + 2):
        if not any(c.strip() for c in r):
            continue  # fully empty rows are dropped (Excel exports leave them at the end)
        rows.append(tuple(_pad(r, width)))
        numbers.append(i)
    return Sheet(path, columns, rows, numbers, h + 1, sheet_name, delimiter, notices)


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
    """The first row that is about as wide as the table: a title row above it has one or two cells."""
    candidates = []
    for i, row in enumerate(grid):
        filled = sum(1 for c in row if c.strip())
        if filled:
            candidates.append((i, filled))
        if len(candidates) >= HEADER_SEARCH_ROWS:
            break
    if not candidates:
        return None
    widest = max(f for _, f in candidates)
    # A narrow table's header is complete; a wide one's may have a few unnamed columns.
    need = widest if widest <= 3 else widest * 0.75
    for i, filled in candidates:
        if filled >= need:
            return i
    return candidates[0][0]


# --- delimited text -------------------------------------------------------------------------

def decode(data: bytes, name: str) -> str:
    """BOM first, then strict UTF-8, then Windows-1255 (Hebrew Excel's "CSV" export)."""
    for bom, enc in (
        (b"\xef\xbb\xbf", "utf-8-sig"),
        (b"\xff\xfe\x00\x00", "utf-32"),
        (b"\x00\x00\xfe\xff", "utf-32"),
        (b"\xff\xfe", "utf-16"),
        (b"\xfe\xff", "utf-16"),
    ):
        if data.startswith(bom):
            try:
                return data.decode(enc)
            except UnicodeDecodeError as e:
                raise InputError(
                    f"{name}: starts with a {enc.upper()} byte-order mark but byte {e.start} is not "
                    f"{enc.upper()}. Save the file again as 'CSV UTF-8'."
                ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1255")
    except UnicodeDecodeError as e:
        raise InputError(
            f"{name}: the text is neither UTF-8 nor Windows-1255 (byte {e.start}). "
            "In Excel use Save As → 'CSV UTF-8 (Comma delimited)'."
        ) from None


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


def _read_delimited(path: Path) -> tuple[list[list[str]], str]:
    text = decode(path.read_bytes(), path.name)
    # Excel writes and reads a first line `sep=;` naming the delimiter, and hides it: so do we.
    hint = re.match(r"sep=([,;\t|])\r?\n", text)
    if hint:
        text, delimiter = text[hint.end():], hint.group(1)
    else:
        delimiter = sniff_delimiter(text, path.suffix.lower())
    try:
        grid = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as e:
        raise InputError(f"{path.name}: not a readable delimited file ({e}).") from None
    return grid, delimiter


# --- workbooks --------------------------------------------------------------------------------

def _read_workbook(path: Path, sheet: str | None) -> tuple[list[list[str]], str, list[str]]:
    from python_calamine import CalamineWorkbook

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
    if sheet is None:
        chosen = names[0]
    elif sheet in names:
        chosen = sheet
    else:
        folded = {n.strip().casefold(): n for n in names}
        if sheet.strip().casefold() not in folded:
            raise InputError(
                f"{path.name}: no sheet named '{sheet}'. The sheets are: "
                + ", ".join(f"'{n}'" for n in names)
                + ". Pass one of them to --sheet."
            )
        chosen = folded[sheet.strip().casefold()]
    data = wb.get_sheet_by_name(chosen).to_python(skip_empty_area=False)
    grid = [[cell_text(v) for v in row] for row in data]
    return grid, chosen, [n for n in names if n != chosen]


def cell_text(v: object) -> str:
    """The text a user sees for a stored cell: 972501234567 not 972501234567.0, dates as ISO."""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 1e16:
            return str(int(v))
        return repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, dt.datetime):
        if v.time() == dt.time(0):
            return v.date().isoformat()
        return v.isoformat(sep=" ")
    if isinstance(v, dt.date | dt.time):
        return v.isoformat()
    if v is None:
        return ""
    return str(v)
