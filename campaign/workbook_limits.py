"""Refuse a workbook whose size would overwhelm the reader, before calamine ever opens it.

A workbook is a zip of XML: a 4.9 KB file with one cell at XFD1048576 made calamine allocate
the whole 17-billion-cell grid and abort the process (exit 134); one at CV1000000 took 40 s and
4 GB for a 2-row sheet; a 300 KB file holding one 300 MB shared string took 1.3 GB (issue 19).
Each part is streamed (never read whole) and its true decompressed size counted, whatever the
zip's directory claims; the used range is read from the cell and row references.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
import zipfile
import zlib
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path

from campaign.errors import InputError

# The grid calamine builds runs from A1 to the last used cell: 100,000 rows x 50 columns fit.
MAX_CELLS = 5_000_000
# Decompressed XML per part: a 100,000-row contacts sheet is ~10-60 MB.
MAX_PART_BYTES = 256 * 1024**2
# Parts read whole into a tree here (display.read_styles): Excel allows 64,000 cell styles, a
# few MB of XML. A 555 KB file whose styles.xml unpacked to 230 MB took 3.9 GB (issue 19, round 4).
MAX_TREE_PART_BYTES = 32 * 1024**2
TREE_PARTS = frozenset({"xl/styles.xml", "xl/workbook.xml", "xl/_rels/workbook.xml.rels"})
# Text between two tags: Excel's own cells hold at most 32,767 characters (~200 KB as XML).
MAX_TEXT_BYTES = 1024**2
_CHUNK = 1024**2

# Not <dimension>: calamine sizes the grid by the cells themselves, and some writers' dimension
# tags are wrong, so a big one alone is harmless.
_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(row|c)(?=[\s>/])([^<>]*)>?")
_REF = re.compile(rb'\br="([A-Za-z]{0,4})(\d{0,9})"')
_ANY_REF = re.compile(rb' r="([A-Za-z]{0,4})(\d{1,9})"')
_PREFIX = re.compile(rb"<([A-Za-z_][\w.-]*:)?(?:worksheet|sst)\b")
# calamine reserves room for as many shared strings as the file claims: 4e9 aborted it too.
_SST = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?sst\b([^>]*)>")
_COUNT = re.compile(rb'\b(?:uniqueCount|count)="(\d{1,30})"')


@dataclass
class _Extent:
    rows: int = 0  # the highest row number seen (1-based)
    columns: int = 0  # the highest column number seen (1-based)
    cells: int = 0  # <c> elements
    row_cells: int = 0  # <c> elements in the current row (cells without an `r`)
    row_count: int = 0  # <row> elements (rows without an `r`)


def _column_number(letters: bytes) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ch - 64
    return n


def check_workbook(path: Path) -> None:
    """Exit 2 (InputError) when an .xlsx/.xlsm/.ods is too large to read safely; a file that
    is not a zip is left to the reader, whose own error says so."""
    try:
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                name = info.filename
                if not name.lower().endswith((".xml", ".rels")):
                    continue
                sheet = name.startswith("xl/worksheets/") and name.endswith(".xml")
                _scan(path, z, info, sheet)
            if path.suffix.lower() == ".ods" and "content.xml" in z.namelist():
                _check_ods(path, z)
    except InputError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError, EOFError,
            zlib.error, ET.ParseError):
        return  # not a workbook we can inspect: calamine gives the user its own message


_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"


def _repeat(element: ET.Element, attribute: str) -> int:
    try:
        return max(int(element.get(f"{_TABLE}{attribute}", "1")), 1)
    except ValueError:
        return 1


def _check_ods(path: Path, z: zipfile.ZipFile) -> None:
    """An ODS row or cell may say "repeated 1,000,000 times": an 851-byte file asked calamine
    for 90 million cells and aborted it. Only repeated cells holding something count: the empty
    tail LibreOffice writes to the sheet's edge is harmless."""
    extent = _Extent()
    row = column = repeat_rows = 0
    with z.open("content.xml") as part:
        for event, element in ET.iterparse(part, events=("start", "end")):
            tag = element.tag
            if event == "start":
                if tag == f"{_TABLE}table":
                    extent, row = _Extent(), 0
                elif tag == f"{_TABLE}table-row":
                    column, repeat_rows = 0, _repeat(element, "number-rows-repeated")
                continue
            if tag in (f"{_TABLE}table-cell", f"{_TABLE}covered-table-cell"):
                repeat = _repeat(element, "number-columns-repeated")
                if element.get(f"{_OFFICE}value-type") is not None or len(element):
                    extent.columns = max(extent.columns, column + repeat)
                    extent.rows = max(extent.rows, row + repeat_rows)
                    extent.cells = max(extent.cells, extent.rows * extent.columns)
                column += repeat
                element.clear()
            elif tag == f"{_TABLE}table-row":
                row += repeat_rows
                element.clear()
                _check_extent(path, "content.xml", extent)


def _scan(path: Path, z: zipfile.ZipFile, info: zipfile.ZipInfo, sheet: bool) -> None:
    extent = _Extent()
    size, carry, prefix = 0, b"", b""
    with z.open(info) as part:
        while chunk := part.read(_CHUNK):
            if not size:
                found = _PREFIX.search(chunk)
                prefix = found.group(1) or b"" if found else b""
                _check_claimed(path, info.filename, chunk)
            size += len(chunk)
            if info.filename in TREE_PARTS and size > MAX_TREE_PART_BYTES:
                raise InputError(
                    f"{path.name}: its part {info.filename} unpacks to more than "
                    f"{MAX_TREE_PART_BYTES // 1024**2} MB, far more than any workbook's styles or "
                    "sheet list. Open it in Excel and save it again, or export the contacts as CSV."
                )
            if size > MAX_PART_BYTES:
                raise InputError(
                    f"{path.name}: its part {info.filename} unpacks to more than "
                    f"{MAX_PART_BYTES // 1024**2} MB, far more than a contacts sheet holds. Open "
                    "it in Excel, delete what is not the contacts, and save again, or export the "
                    "contacts as CSV."
                )
            # Whole tags and text only: what follows the last '<' waits for the next chunk.
            data = carry + chunk
            cut = data.rfind(b"<")
            data, carry = (data[:cut], data[cut:]) if cut >= 0 else (b"", data)
            if len(carry) > MAX_TEXT_BYTES or _has_long_text(data):
                raise _long_text(path, info.filename)
            if sheet:
                _count(data, extent, prefix)
                _check_extent(path, info.filename, extent)
    if sheet:
        _count(carry, extent, prefix)
        _check_extent(path, info.filename, extent)


def _has_long_text(data: bytes) -> bool:
    """Any run of MAX_TEXT_BYTES without a '<'? Such a run covers a whole aligned window of
    half that size, so one find() per window answers (a regex took 0.8 s on 27 MB)."""
    half = MAX_TEXT_BYTES // 2
    for start in range(0, len(data) - half + 1, half):
        if data.find(b"<", start, start + half) < 0:
            left = data.rfind(b"<", 0, start) + 1
            right = data.find(b"<", start + half)
            if (len(data) if right < 0 else right) - left > MAX_TEXT_BYTES:
                return True
    return False


def _long_text(path: Path, part: str) -> InputError:
    return InputError(
        f"{path.name}: a cell or shared string in {part} holds more than "
        f"{MAX_TEXT_BYTES // 1024**2} MB of text (Excel's own cells hold at most 32,767 "
        "characters). Remove that cell, or export the contacts as CSV."
    )


def _check_claimed(path: Path, part: str, chunk: bytes) -> None:
    tag = _SST.search(chunk)
    claimed = max((int(n) for n in _COUNT.findall(tag.group(1))), default=0) if tag else 0
    if claimed > MAX_CELLS:
        raise InputError(
            f"{path.name}: its shared strings ({part}) claim {claimed:,} entries, more than "
            f"this tool reads ({MAX_CELLS:,}). Open it in Excel and save it again, or export "
            "the contacts as CSV."
        )


def _count(data: bytes, extent: _Extent, prefix: bytes) -> None:
    """Grow `extent` by whole tags of sheet XML, at C speed: a Python step per cell cost 2.5 s
    for 100,000 rows. Cells or rows placed by position (no `r`) are walked one by one."""
    cells = data.count(b"<" + prefix + b"c ") + data.count(b"<" + prefix + b"c>")
    rows = data.count(b"<" + prefix + b"row ") + data.count(b"<" + prefix + b"row>")
    refs = _ANY_REF.findall(data)
    extent.cells += cells
    if len(refs) < cells + rows:
        _walk(data, extent)
        return
    if not refs:
        return
    letters = set(map(itemgetter(0), refs))
    widest = max(letters, key=len)
    if widest:
        top = max(a.upper() for a in letters if len(a) == len(widest))
        extent.columns = max(extent.columns, _column_number(top))
    numbers = set(map(itemgetter(1), refs))
    longest = len(max(numbers, key=len))
    extent.rows = max(extent.rows, int(max(d for d in numbers if len(d) == longest)))


def _walk(data: bytes, extent: _Extent) -> None:
    for tag, attrs in _TAG.findall(data):
        ref = _REF.search(attrs)
        letters, digits = (ref.group(1), ref.group(2)) if ref else (b"", b"")
        if tag == b"c":
            extent.row_cells += 1
            extent.columns = max(extent.columns, extent.row_cells)
        elif tag == b"row":
            extent.row_count += 1
            extent.row_cells = 0
            extent.rows = max(extent.rows, extent.row_count)
        if letters:
            column = _column_number(letters)
            extent.columns = max(extent.columns, column)
            if tag == b"c":
                extent.row_cells = max(extent.row_cells, column)
        if digits:
            row = int(digits)
            extent.rows = max(extent.rows, row)
            if tag == b"row":
                extent.row_count = max(extent.row_count, row)


def _letters(column: int) -> str:
    """1 -> A, 27 -> AA, 16384 -> XFD."""
    text = ""
    while column > 0:
        column, rem = divmod(column - 1, 26)
        text = chr(65 + rem) + text
    return text


def _check_extent(path: Path, part: str, extent: _Extent) -> None:
    grid = extent.rows * extent.columns
    if grid <= MAX_CELLS and extent.cells <= MAX_CELLS:
        return
    corner = f"{_letters(extent.columns)}{extent.rows}"
    raise InputError(
        f"{path.name}: a sheet ({part}) is used down to cell {corner}: {extent.rows:,} rows by "
        f"{extent.columns:,} columns ({max(grid, extent.cells):,} cells), more than this tool "
        f"reads ({MAX_CELLS:,}). A stray value or format far below or right of the table does "
        "this: in Excel press Ctrl+End to find it, delete the rows and columns after the table, "
        "and save; or export the contacts as CSV."
    )


# --- .xls (BIFF in a Compound File) ----------------------------------------------------------
# A 5.6 KB .xls with one cell at IV65536 made calamine build the whole 16.7-million-cell grid:
# 1.2 GB and 9 s for a 2-row sheet (issue 19, round four). The cells' positions are read from
# the workbook stream's records before calamine opens the file.

MAX_XLS_BYTES = 256 * 1024**2
_CFB_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_END_OF_CHAIN = 0xFFFFFFFE
_FREE = 0xFFFFFFFF
# Records holding one cell, its row and column first (LABELSST, LABEL, NUMBER, RK, BOOLERR,
# FORMULA, RSTRING; BIFF5 and BIFF8). Blank cells are left out: calamine ignores them.
_CELL_RECORDS = frozenset({0x00FD, 0x0204, 0x0203, 0x027E, 0x0205, 0x0006, 0x0406, 0x00D6})
_MULRK = 0x00BD  # row, first column, ..., last column: one record for several cells
_BOF, _SST_RECORD = 0x0809, 0x00FC


class _NotCompound(Exception):
    """Not a compound file this check can walk: calamine's own error says what it is."""


def check_xls(path: Path) -> None:
    """Exit 2 (InputError) when a binary .xls holds cells that spread over more than MAX_CELLS,
    or claims more shared strings than that; a file this check cannot walk is left to calamine."""
    size = path.stat().st_size
    if size > MAX_XLS_BYTES:
        raise InputError(
            f"{path.name} is {size / 1024**2:,.0f} MB, far more than a contacts sheet holds "
            f"(this tool reads up to {MAX_XLS_BYTES // 1024**2} MB). Open it in Excel, delete "
            "what is not the contacts, and save it as .xlsx, or export the contacts as CSV."
        )
    try:
        stream = _workbook_stream(path.read_bytes())
    except _NotCompound:
        return
    _scan_biff(path, stream)


def _workbook_stream(data: bytes) -> bytes:
    """The `Workbook` (BIFF8) or `Book` (BIFF5) stream of a compound file, read by its FAT."""
    import struct

    if len(data) < 512 or data[:8] != _CFB_SIGNATURE:
        raise _NotCompound
    shift, mini_shift = struct.unpack_from("<HH", data, 0x1E)
    if not 7 <= shift <= 16 or not 2 <= mini_shift < shift:
        raise _NotCompound
    sector = 1 << shift
    fat_count, first_dir = struct.unpack_from("<II", data, 0x2C)
    cutoff, first_minifat, minifat_count, first_difat, difat_count = struct.unpack_from(
        "<IIIII", data, 0x38)
    sectors = (len(data) - sector) // sector  # how many the file holds: no chain is longer

    def at(n: int) -> bytes:
        if n >= sectors:
            raise _NotCompound
        return data[(n + 1) * sector : (n + 2) * sector]

    difat = list(struct.unpack_from("<109I", data, 0x4C))
    n = first_difat
    for _ in range(min(difat_count, sectors)):
        if n >= sectors:
            break
        words = struct.unpack(f"<{sector // 4}I", at(n))
        difat.extend(words[:-1])
        n = words[-1]
    fat: list[int] = []
    for n in difat[: min(fat_count, sectors)]:
        if n in (_FREE, _END_OF_CHAIN):
            continue
        fat.extend(struct.unpack(f"<{sector // 4}I", at(n)))

    def chain(start: int, table: list[int], limit: int) -> list[int]:
        found: list[int] = []
        n, seen = start, set()
        while n not in (_END_OF_CHAIN, _FREE) and len(found) < limit:
            if n >= len(table) or n in seen:
                raise _NotCompound  # a broken or looping chain
            seen.add(n)
            found.append(n)
            n = table[n]
        return found

    def read(start: int, length: int) -> bytes:
        return b"".join(at(n) for n in chain(start, fat, sectors))[:length]

    directory = read(first_dir, len(data))
    entries = {}
    root = None
    for offset in range(0, len(directory) - 127, 128):
        entry = directory[offset : offset + 128]
        name_length = struct.unpack_from("<H", entry, 0x40)[0]
        name = entry[: max(name_length - 2, 0)].decode("utf-16-le", "replace")
        kind, start, length = entry[0x42], *struct.unpack_from("<IQ", entry, 0x74)
        if shift == 9:
            length &= 0xFFFFFFFF  # version 3 files: the high word is undefined
        if kind == 5:
            root = (start, length)
        elif kind == 2:
            entries[name.casefold()] = (start, length)
    found = entries.get("workbook") or entries.get("book")
    if found is None or root is None:
        raise _NotCompound
    start, length = found
    length = min(length, len(data))
    if length >= cutoff:
        return read(start, length)
    mini = 1 << mini_shift  # a small stream lives in the root's mini stream, by the mini FAT
    minifat_bytes = read(first_minifat, minifat_count * sector)
    minifat = list(struct.unpack(f"<{len(minifat_bytes) // 4}I", minifat_bytes))
    ministream = read(root[0], root[1])
    return b"".join(ministream[n * mini : (n + 1) * mini]
                    for n in chain(start, minifat, len(minifat)))[:length]


def _scan_biff(path: Path, stream: bytes) -> None:
    import struct

    extent, sheet, offset = _Extent(), 0, 0
    end = len(stream)
    while offset + 4 <= end:
        kind, length = struct.unpack_from("<HH", stream, offset)
        body = offset + 4
        offset = body + length
        if offset > end:
            break  # a record cut off by the end of the stream: calamine's to judge
        if kind == _BOF:
            extent, sheet = _Extent(), sheet + 1
        elif kind in _CELL_RECORDS and length >= 4:
            row, column = struct.unpack_from("<HH", stream, body)
            _grow(extent, row, column, 1)
        elif kind == _MULRK and length >= 6:
            row, first = struct.unpack_from("<HH", stream, body)
            last = struct.unpack_from("<H", stream, body + length - 2)[0]
            _grow(extent, row, max(first, last), max(last - first + 1, 1))
        elif kind == _SST_RECORD and length >= 8:
            claimed = max(struct.unpack_from("<II", stream, body))
            if claimed > MAX_CELLS:
                raise InputError(
                    f"{path.name}: its shared strings claim {claimed:,} entries, more than this "
                    f"tool reads ({MAX_CELLS:,}). Open it in Excel and save it again, or export "
                    "the contacts as CSV."
                )
        else:
            continue
        _check_extent(path, f"sheet {max(sheet - 1, 1)}", extent)


def _grow(extent: _Extent, row: int, column: int, cells: int) -> None:
    extent.rows = max(extent.rows, row + 1)
    extent.columns = max(extent.columns, column + 1)
    extent.cells += cells
