"""The results sheet: original columns untouched, then what happened to each row. Atomic writes."""

from __future__ import annotations

import csv
import datetime as dt
import glob
import math
import os
import re
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from campaign.contacts import Sheet
from campaign.errors import InputError
from campaign.plan import Row
from campaign.vocabulary import MessageKind, Status

RESULT_COLUMNS = ("jid", "status", "error", "sent_at", "attempts", "message")
# Fills like Excel's own "Good / Bad / Neutral" cell styles, so the sheet reads at a glance.
STATUS_STYLES: dict[str, tuple[str, str]] = {
    Status.SENT: ("#C6EFCE", "#006100"),
    Status.READY: ("#DDEBF7", "#1F4E79"),
    Status.FAILED: ("#FFC7CE", "#9C0006"),
    Status.UNKNOWN: ("#FFEB9C", "#9C5700"),
    Status.PENDING: ("#EDEDED", "#404040"),
    Status.INVALID: ("#F8CBAD", "#833C0B"),
    Status.DUPLICATE: ("#E7E6E6", "#595959"),
    Status.SUPPRESSED: ("#E4DFEC", "#5B3C88"),
}


def default_results_path(contacts: Path, name: str, *, rehearsal: bool = False) -> Path:
    """`<campaign name>.results.<ext>` beside the contacts, so two campaigns on one sheet keep
    two records (issue 18: both wrote `customers.results.xlsx`, and the first record was lost)."""
    suffix = contacts.suffix.lower()
    if suffix in (".xls", ".ods"):
        suffix = ".xlsx"  # we write XLSX only; .xls/.ods writers would add dependencies for no gain
    kind = ".rehearsal" if rehearsal else ""
    return contacts.with_name(f"{name}{kind}.results{suffix}")


# Statuses only a run that sent writes; a dry run writes ready, invalid, duplicate, suppressed.
SEND_STATUSES = frozenset({Status.SENT, Status.FAILED, Status.UNKNOWN, Status.PENDING})


def dry_run_results_path(path: Path) -> Path:
    """Where a dry run writes: `path`, unless that sheet records sends, which a dry run never
    overwrites; then `<name>.dry-run.results.<ext>` beside it."""
    if not records_sends(path):
        return path
    stem = path.name[: len(path.name) - len(path.suffix)]
    if stem.endswith(".results"):
        return path.with_name(f"{stem[: -len('.results')]}.dry-run.results{path.suffix}")
    return path.with_name(f"{stem}.dry-run{path.suffix}")


def records_sends(path: Path) -> bool:
    """Whether the sheet at `path` holds a run's outcomes (a status column with sent, failed,
    unknown or pending rows). A file that cannot be read as a results sheet counts as one: a
    dry run has no business replacing it."""
    if not path.exists():
        return False
    from campaign.contacts import load_sheet

    try:
        sheet = load_sheet(path, header_row=1)
    except Exception:  # unreadable as a sheet, whatever the reason: keep it
        return True
    if "status" not in sheet.columns:
        return True
    at = sheet.columns.index("status")
    return any(len(values) > at and values[at] in SEND_STATUSES for values in sheet.rows)


def remove_stale_temp_files(path: Path) -> int:
    """Temp files a killed write left beside the results (`.<name>.<pid>.XXXX.tmp`), whose
    writer is gone: another campaign writing the same sheet right now keeps its own."""
    removed = 0
    # Only names write_results makes (tempfile's random part, of this sheet or its timestamped
    # copy): `.<stem>*.tmp` also deleted other programs' files (issue 19).
    ours = re.compile(rf"\.{re.escape(path.stem)}(?:\.\d{{8}}-\d{{6}})?{re.escape(path.suffix)}"
                      r"\.(\d+)\.[a-z0-9_]{6,16}\.(?:tmp|xlsm-tmp)")
    for tmp in path.parent.glob(f".{glob.escape(path.stem)}*tmp"):
        pid = ours.fullmatch(tmp.name)
        if pid is None or _alive(int(pid.group(1))):
            continue
        try:
            tmp.unlink()
            removed += tmp.suffix == ".tmp"
        except OSError:
            pass  # not ours to fight over; it does no harm
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # ours, from before: this run has not written yet
    if sys.platform == "win32":  # pragma: no cover - os.kill(pid, 0) would end it there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists, owned by someone else
    return True


def _same_file(a: Path, b: Path) -> bool:
    """One file, whatever the path: symlinks, `..`, another relative path, a hard link."""
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except OSError:
        return False


def preview_path(results: Path) -> Path:
    """The preview page written beside the results: out.csv -> out.preview.html."""
    return results.with_name(f"{results.name.rsplit('.', 1)[0]}.preview.html")


def check_state_path(state: Path, inputs: Sequence[tuple[str, Path]]) -> None:
    """Refuse a --state that is an input (exit 2): an empty opt-out list given as --state was
    turned into a progress file (issue 19, round four)."""
    for what, path in inputs:
        if _same_file(state, path):
            raise InputError(
                f"--state {state} is {what} ({path}); the progress file never replaces an "
                "input. Point --state at a file of its own, e.g. .campaign/NAME.sqlite3."
            )


def check_results_path(results: Path, contacts: Path, *,
                       inputs: Sequence[tuple[str, Path]] = ()) -> None:
    """Refuse a results path that is an input (exit 2). `inputs`: (what, path) of the other
    files the run reads (issue 19: --results naming an opt-out list replaced it, and the
    opted-out number was gone)."""
    if _same_file(results, contacts):
        raise InputError(
            f"--results {results} is the contacts file itself; the results never overwrite it. "
            "Choose another path."
        )
    for what, path in inputs:
        if _same_file(results, path):
            raise InputError(
                f"--results {results} is {what} ({path}); the results never overwrite an input. "
                "Choose another path, such as the default beside the contacts (leave out --results)."
            )
        if _same_file(preview_path(results), path):  # `-t out.preview.html --results out.csv`
            raise InputError(
                f"--results {results} would write its preview page {preview_path(results).name} "
                f"over {what} ({path}); the results never overwrite an input. Choose another "
                "path, or rename the input."
            )
    if results.suffix.lower() not in (".csv", ".tsv", ".txt", ".xlsx", ".xlsm"):
        raise InputError(
            f"--results {results}: write the results as .xlsx or .csv (or .tsv/.txt)."
        )
    if not results.parent.is_dir():
        raise InputError(f"--results {results}: the folder {results.parent} does not exist.")
    try:  # a read-only folder would otherwise only fail once sending has begun (issue 11)
        with tempfile.NamedTemporaryFile(dir=results.parent, prefix=".campaign-check-"):
            pass
    except OSError as e:
        raise InputError(
            f"--results {results}: cannot write in the folder {results.parent} ({e.strerror}). "
            "Choose a writable place with --results."
        ) from None


def result_header(columns: Sequence[str], kind: str, *, senders: bool = False) -> list[str]:
    return [*columns, *RESULT_COLUMNS, *(["media"] if kind != MessageKind.TEXT else []),
            *(["sender"] if senders else [])]


def result_cells(row: Row, kind: str, *, senders: bool = False) -> list[str]:
    cells = [*row.values, row.jid or "", row.status, row.error, row.sent_at,
             str(row.attempts), row.message]
    if kind != MessageKind.TEXT:
        cells.append(row.media)
    if senders:
        cells.append(row.sender)
    return cells


def is_locked(path: Path) -> bool:
    """Excel keeps `~$name` beside an open workbook, LibreOffice `.~lock.name#`."""
    return (path.with_name("~$" + path.name).exists()
            or path.with_name(f".~lock.{path.name}#").exists())


def write_results(
    path: Path, sheet: Sheet, rows: Sequence[Row], kind: str, *, now: dt.datetime | None = None,
    senders: bool = False,
) -> Path:
    """Write atomically; if `path` is open in Excel, write a timestamped copy. Returns the path.

    `senders`: add the `sender` column (several sender numbers)."""
    target = path
    if is_locked(path):
        target = _timestamped(path, now)
    with tempfile.NamedTemporaryFile(
        dir=target.parent, prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", delete=False
    ) as tmp:
        pass
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp.name, 0o666 & ~umask)  # a temp file is 0600; the results are an ordinary file
    try:
        if target.suffix.lower() in (".xlsx", ".xlsm"):
            _write_xlsx(Path(tmp.name), sheet, rows, kind, senders)
            if target.suffix.lower() == ".xlsm":
                _mark_macro_enabled(Path(tmp.name))
        else:
            _write_delimited(Path(tmp.name), sheet, rows, kind, target.suffix.lower(), senders)
        try:
            os.replace(tmp.name, target)
        except PermissionError:
            # Windows refuses to replace a file open in Excel: keep the work in a copy beside it.
            target = _timestamped(path, now)
            os.replace(tmp.name, target)
    finally:
        if os.path.exists(tmp.name):
            os.unlink(tmp.name)
    return target


def _timestamped(path: Path, now: dt.datetime | None) -> Path:
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    return path.with_name(f"{path.stem}.{stamp}{path.suffix}")


def _write_delimited(path: Path, sheet: Sheet, rows: Sequence[Row], kind: str, suffix: str,
                     senders: bool = False) -> None:
    delimiter = "\t" if suffix == ".tsv" else sheet.delimiter
    # UTF-8 with BOM: Excel opens Hebrew correctly only with it (plain UTF-8 shows mojibake).
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f, delimiter=delimiter)
        w.writerow([as_text(c) for c in result_header(sheet.columns, kind, senders=senders)])
        w.writerows([as_text(c) for c in result_cells(r, kind, senders=senders)] for r in rows)


# What a spreadsheet runs as a formula when a cell starts with it (OWASP, "CSV Injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def as_text(cell: str) -> str:
    """A delimited cell that a spreadsheet shows as text, never runs: a leading apostrophe, as
    OWASP advises (`=HYPERLINK(...)` from a contact cell, or `+972...` that Excel would turn into
    9.72502E+11). The apostrophe is visible in the CSV; the XLSX results need none."""
    return "'" + cell if cell.startswith(FORMULA_START) else cell


def _write_xlsx(path: Path, sheet: Sheet, rows: Sequence[Row], kind: str, senders: bool = False) -> None:
    import xlsxwriter

    header = result_header(sheet.columns, kind, senders=senders)
    # constant_memory streams rows to disk: 100k rows stay far below the memory of a full model.
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False,
                                         "strings_to_formulas": False, "strings_to_urls": False})
    ws = wb.add_worksheet("results")
    head = wb.add_format({"bold": True, "bg_color": "#075E54", "font_color": "#FFFFFF",
                          "border": 1, "text_wrap": False})
    styles = {s: wb.add_format({"bg_color": bg, "font_color": fg, "bold": True})
              for s, (bg, fg) in STATUS_STYLES.items()}
    text = wb.add_format({"num_format": "@"})  # phones and our columns stay text in Excel
    status_col = len(sheet.columns) + 1
    typed = _TypedCells(wb, sheet)
    widths = [min(max(len(h), 6) + 2, 60) for h in header]
    ws.write_row(0, 0, header, head)
    for r, row in enumerate(rows, start=1):
        cells = _fit_excel(result_cells(row, kind, senders=senders), header, status_col + 1)
        if r <= 500:
            for c, v in enumerate(cells):
                longest = max((len(line) for line in v.split("\n")), default=0)
                widths[c] = min(max(widths[c], longest + 2), 60)
        raw = typed.raw.get(row.number)
        for c, v in enumerate(cells):
            if c == status_col:
                ws.write_string(r, c, v, styles.get(v, text))
            elif raw is None or c >= len(raw) or not typed.write(ws, r, c, raw[c], row.number):
                ws.write_string(r, c, v, text)
    for c, w in enumerate(widths):
        ws.set_column(c, c, w)
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, max(len(rows), 1), len(header) - 1)
    wb.close()


# Excel's limit for a cell; xlsxwriter cuts longer text silently (issue 19).
XLSX_CELL_MAX = 32_767


def _fit_excel(cells: list[str], header: Sequence[str], error_col: int) -> list[str]:
    """Cells cut to what Excel holds, the row's `error` saying which were cut."""
    cut = [header[c] for c, v in enumerate(cells) if len(v) > XLSX_CELL_MAX]
    if not cut:
        return cells
    note = (f"{', '.join(cut)} cut to {XLSX_CELL_MAX:,} characters in this sheet (Excel's limit "
            "per cell); a .csv results file keeps them whole")
    cells = [v[:XLSX_CELL_MAX] for v in cells]
    cells[error_col] = "; ".join(x for x in (cells[error_col], note) if x)[:XLSX_CELL_MAX]
    return cells


_DATE_DEFAULTS = {dt.datetime: "yyyy-mm-dd hh:mm:ss", dt.date: "yyyy-mm-dd", dt.time: "hh:mm:ss"}


class _TypedCells:
    """Original cells back in the type they came in (issue 10.13): numbers as numbers, dates as
    dates, with their number format, so Excel does not flag "number stored as text". Phone
    columns stay text: as numbers Excel would show 9.72502E+11 and drop leading zeros."""

    def __init__(self, wb: Any, sheet: Sheet) -> None:
        self.wb = wb
        self.raw = dict(zip(sheet.numbers, sheet.raw, strict=True)) if sheet.raw is not None else {}
        self.text_columns = sheet.text_columns
        self.formats = sheet.formats
        self._cache: dict[str | None, Any] = {None: None}

    def _format(self, code: str | None) -> Any:
        if code not in self._cache:
            self._cache[code] = self.wb.add_format({"num_format": code})
        return self._cache[code]

    def write(self, ws: Any, r: int, c: int, value: object, number: int) -> bool:
        if value is None or isinstance(value, str) or c in self.text_columns:
            return False
        code = self.formats.get((number, c))
        if isinstance(value, bool):
            ws.write_boolean(r, c, value)
        elif isinstance(value, int | float):
            if not math.isfinite(value):
                return False
            ws.write_number(r, c, value, self._format(code))
        elif isinstance(value, dt.datetime | dt.date | dt.time):
            ws.write_datetime(r, c, value, self._format(code or _DATE_DEFAULTS[type(value)]))
        else:
            return False
        return True


def _mark_macro_enabled(path: Path) -> None:
    """An .xlsm needs the macro-enabled content type or Excel refuses to open it."""
    tmp = path.with_suffix(".xlsm-tmp")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "[Content_Types].xml":
                data = data.replace(
                    b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                    b"application/vnd.ms-excel.sheet.macroEnabled.main+xml",
                )
            dst.writestr(item, data)
    os.replace(tmp, path)
