"""The results workbook looks finished when opened: frozen header, filter, widths, status fills."""

from __future__ import annotations

import os
from pathlib import Path

import openpyxl

from campaign.contacts import Sheet
from campaign.plan import Row
from campaign.results import STATUS_STYLES, write_results


def sheet_of(path: Path) -> Sheet:
    return Sheet(path, ("Name", "Phone"), [], [], 1)


def test_styled_xlsx_has_frozen_header_filter_widths_and_status_fills(tmp_path: Path) -> None:
    rows = [Row(number=i + 2, values=(f"N{i}", "0502345678"), jid="972502345678@s.whatsapp.net",
                status=s, message="שלום") for i, s in enumerate(STATUS_STYLES)]
    out = write_results(tmp_path / "r.xlsx", sheet_of(tmp_path / "c.xlsx"), rows, "text")
    ws = openpyxl.load_workbook(out).active
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == f"A1:H{len(rows) + 1}"
    header = [c.value for c in ws[1]]
    assert header == ["Name", "Phone", "jid", "status", "error", "sent_at", "attempts", "message"]
    assert ws.column_dimensions["C"].width >= len("972502345678@s.whatsapp.net")
    fills = {ws.cell(row=r, column=4).value: ws.cell(row=r, column=4).fill.fgColor.rgb
             for r in range(2, len(rows) + 2)}
    assert fills["sent"].endswith("C6EFCE")  # green
    assert fills["failed"].endswith("FFC7CE")  # red
    assert fills["unknown"].endswith("FFEB9C")  # amber
    assert len(set(fills.values())) == len(STATUS_STYLES)  # every status its own colour
    phone = ws.cell(row=2, column=2)
    assert phone.value == "0502345678" and phone.data_type == "s"  # text, zero kept


def test_csv_results_have_a_bom_and_keep_the_input_delimiter(tmp_path: Path) -> None:
    sheet = Sheet(tmp_path / "c.csv", ("שם", "Phone"), [], [], 1, delimiter=";")
    rows = [Row(number=2, values=("דנה", "050"), status="ready", message="היי")]
    out = write_results(tmp_path / "r.csv", sheet, rows, "text")
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.decode("utf-8-sig").splitlines()[0] == "שם;Phone;jid;status;error;sent_at;attempts;message"


def test_results_file_is_an_ordinary_file_not_a_private_temp(tmp_path: Path) -> None:
    out = write_results(tmp_path / "r.csv", sheet_of(tmp_path / "c.csv"), [], "text")
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["r.csv"]  # no temp file left behind


def test_xlsm_results_are_macro_enabled_workbooks(tmp_path: Path) -> None:
    import zipfile

    out = write_results(tmp_path / "r.xlsm", sheet_of(tmp_path / "c.xlsm"), [], "text")
    types = zipfile.ZipFile(out).read("[Content_Types].xml")
    assert b"macroEnabled.main+xml" in types
    assert openpyxl.load_workbook(out, keep_vba=True).active["A1"].value == "Name"
