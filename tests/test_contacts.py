"""SPEC step 1: every sheet format loads as the text a user sees, with spreadsheet row numbers.

Files are written for real (openpyxl, pandas+odfpy, raw bytes): the quirks live in the bytes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from campaign.contacts import Sheet, load_sheet
from campaign.errors import InputError

HEBREW = "שם,טלפון,עיר\r\nדנה כהן,050-234-5678,תל אביב\r\nאבי לוי,0521234567,חיפה\r\n"
HEBREW_ROWS = [("דנה כהן", "050-234-5678", "תל אביב"), ("אבי לוי", "0521234567", "חיפה")]


def load(path: Path, **kw: object) -> Sheet:
    return load_sheet(path, **kw)  # type: ignore[arg-type]


# --- XLSX: numbers, text, empties, dates ----------------------------------------------------------


@pytest.fixture
def excel_sheet(write_xlsx: Callable[..., Path]) -> Sheet:
    path = write_xlsx(
        [
            ["Name", "Phone", "Code", "Note", "Joined"],
            ["Dana", 972501234567, "007", "NA", dt.date(2024, 3, 5)],
            [None, None, None, None, None],
            ["Avi", 502345678, None, "", dt.datetime(2024, 3, 5, 14, 30)],
            ["Rina", "0521234567", "0", None, None],
        ]
    )
    return load(path)


def test_xlsx_numeric_phone_cells_are_their_digits(excel_sheet: Sheet) -> None:
    phones = [r[1] for r in excel_sheet.rows]
    assert phones == ["972501234567", "502345678", "0521234567"]


def test_xlsx_text_cells_keep_leading_zeros_and_na(excel_sheet: Sheet) -> None:
    assert [r[2] for r in excel_sheet.rows] == ["007", "", "0"]
    assert excel_sheet.rows[0][3] == "NA"


def test_xlsx_empty_cells_are_empty_text_never_nan_or_none(excel_sheet: Sheet) -> None:
    assert excel_sheet.rows[1] == ("Avi", "502345678", "", "", "2024-03-05 14:30:00")
    assert excel_sheet.rows[2] == ("Rina", "0521234567", "0", "", "")
    for row in excel_sheet.rows:
        for cell in row:
            assert isinstance(cell, str)
            assert cell not in ("nan", "None", "NaN")


def test_xlsx_dates_are_iso_text(excel_sheet: Sheet) -> None:
    assert excel_sheet.rows[0][4] == "2024-03-05"


def test_xlsx_empty_row_dropped_and_rows_keep_spreadsheet_numbers(excel_sheet: Sheet) -> None:
    assert excel_sheet.columns == ("Name", "Phone", "Code", "Note", "Joined")
    assert excel_sheet.header_row == 1
    assert [r[0] for r in excel_sheet.rows] == ["Dana", "Avi", "Rina"]
    assert excel_sheet.numbers == [2, 4, 5]


def test_xlsx_title_row_above_header_is_found(write_xlsx: Callable[..., Path]) -> None:
    path = write_xlsx(
        [
            ["Spring campaign 2024"],
            ["Name", "Phone", "City"],
            ["Dana", "0502345678", "Tel Aviv"],
            [],
            ["Avi", 521234567, "Haifa"],
        ]
    )
    sheet = load(path)
    assert sheet.header_row == 2
    assert sheet.columns == ("Name", "Phone", "City")
    assert sheet.rows == [("Dana", "0502345678", "Tel Aviv"), ("Avi", "521234567", "Haifa")]
    assert sheet.numbers == [3, 5]


def test_xlsx_table_starting_lower_down_keeps_real_row_numbers(tmp_path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A3"], ws["B3"] = "Name", "Phone"
    ws["A4"], ws["B4"] = "Dana", "0502345678"
    ws["A6"], ws["B6"] = "Avi", 521234567
    path = tmp_path / "low.xlsx"
    wb.save(path)
    sheet = load(path)
    assert (sheet.header_row, sheet.numbers) == (3, [4, 6])
    assert sheet.rows == [("Dana", "0502345678"), ("Avi", "521234567")]


def test_header_row_option_picks_the_row(write_xlsx: Callable[..., Path]) -> None:
    path = write_xlsx(
        [
            ["Exported", "from", "CRM", "today"],
            ["Name", "Phone"],
            ["Dana", "0502345678"],
        ]
    )
    sheet = load(path, header_row=2)
    assert sheet.columns == ("Name", "Phone")
    assert sheet.rows == [("Dana", "0502345678")]
    assert sheet.numbers == [3]


def test_header_row_past_the_end_is_an_error(write_xlsx: Callable[..., Path]) -> None:
    path = write_xlsx([["Name", "Phone"], ["Dana", "0502345678"]])
    with pytest.raises(InputError) as e:
        load(path, header_row=9)
    assert str(e.value) == (
        "contacts.xlsx, sheet 'Contacts': --header-row 9 is past the end of the sheet "
        "(the sheet has 2 rows). Give the row number of the column names."
    )


# --- several sheets -------------------------------------------------------------------------------


@pytest.fixture
def workbook(write_xlsx: Callable[..., Path]) -> Path:
    return write_xlsx(
        [["Name", "Phone"], ["Dana", "0502345678"]],
        sheets={"VIP": [["Name", "Phone"], ["Avi", "0521234567"]], "Old": [["x"]]},
    )


def test_first_sheet_is_used_and_the_others_are_named(workbook: Path) -> None:
    sheet = load(workbook)
    assert sheet.sheet_name == "Contacts"
    assert sheet.rows == [("Dana", "0502345678")]
    assert sheet.notices == (
        "contacts.xlsx has 3 sheets; using 'Contacts' (others: VIP, Old). "
        "Pick one with --sheet NAME.",
    )


def test_sheet_option_picks_a_sheet(workbook: Path) -> None:
    sheet = load(workbook, sheet="VIP")
    assert sheet.sheet_name == "VIP"
    assert sheet.rows == [("Avi", "0521234567")]
    assert "others: Contacts, Old" in sheet.notices[0]


def test_unknown_sheet_lists_the_sheets(workbook: Path) -> None:
    with pytest.raises(InputError) as e:
        load(workbook, sheet="Leads")
    assert str(e.value) == (
        "contacts.xlsx: no sheet named 'Leads'. The sheets are: 'Contacts', 'VIP', 'Old'. "
        "Pass one of them to --sheet."
    )


def test_single_sheet_workbook_has_no_notice(write_xlsx: Callable[..., Path]) -> None:
    assert load(write_xlsx([["Name", "Phone"], ["Dana", "0502345678"]])).notices == ()


# --- CSV bytes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"\xef\xbb\xbf" + HEBREW.encode("utf-8"), id="utf-8-bom"),
        pytest.param(HEBREW.encode("utf-8"), id="utf-8"),
        pytest.param(HEBREW.encode("cp1255"), id="windows-1255"),
        pytest.param(HEBREW.encode("utf-16"), id="utf-16-bom"),
        pytest.param(b"\xfe\xff" + HEBREW.encode("utf-16-be"), id="utf-16-be-bom"),
    ],
)
def test_csv_encodings(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "contacts.csv"
    path.write_bytes(data)
    sheet = load(path)
    assert sheet.columns == ("שם", "טלפון", "עיר")
    assert sheet.rows == HEBREW_ROWS
    assert sheet.numbers == [2, 3]


def test_csv_garbled_in_every_code_page_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    # 'Da°±na', 'Da∞±na', 'Da░▒na': symbols inside a word in every code page, DOS and Mac too
    path.write_bytes(b"Name,Phone\r\nDa\xb0\xb1na,0502345678\r\n")
    with pytest.raises(InputError) as e:
        load(path)
    assert str(e.value) == (
        "contacts.csv: the text is not UTF-8 and reads as garbled in every code page tried "
        "(cp1252, cp1255, cp1256, cp1251, cp1250, cp1253, cp1254, cp1257, mac_roman, cp850, "
        "cp437). Give the encoding "
        "with --encoding NAME, or in Excel use Save As → 'CSV UTF-8 (Comma delimited)'."
    )


def test_csv_cells_are_text_as_written(write_csv: Callable[..., Path]) -> None:
    path = write_csv(
        [
            ["Name", "Phone", "Note", "Code"],
            ["NA", "0502345678", "nan", "007"],
            ["", "9.72501E+11", "", "1.0"],
            ["", "", "", ""],
        ]
    )
    sheet = load(path)
    assert sheet.rows == [("NA", "0502345678", "nan", "007"), ("", "9.72501E+11", "", "1.0")]
    assert sheet.numbers == [2, 3]


def test_semicolon_delimited_csv(write_csv: Callable[..., Path]) -> None:
    path = write_csv(
        [
            ["Name", "Phone", "Note"],
            ["Cohen, Dana", "0502345678", "a,b"],
            ["Levi, Avi", "052", "c"],
        ],
        delimiter=";",
    )
    sheet = load(path)
    assert sheet.delimiter == ";"
    assert sheet.columns == ("Name", "Phone", "Note")
    assert sheet.rows[0] == ("Cohen, Dana", "0502345678", "a,b")


def test_tab_delimited_tsv(write_csv: Callable[..., Path]) -> None:
    path = write_csv(
        [["Name", "Phone"], ["Cohen, Dana", "0502345678"]], "contacts.tsv", delimiter="\t"
    )
    sheet = load(path)
    assert sheet.delimiter == "\t"
    assert sheet.rows == [("Cohen, Dana", "0502345678")]


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_txt_delimited_file(write_csv: Callable[..., Path], delimiter: str) -> None:
    path = write_csv(
        [["Name", "Phone", "City"], ["Dana", "0502345678", "Haifa"]],
        "contacts.txt",
        delimiter=delimiter,
    )
    sheet = load(path)
    assert sheet.delimiter == delimiter
    assert sheet.rows == [("Dana", "0502345678", "Haifa")]


def test_multiline_quoted_cell_is_one_cell_and_one_row(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    path.write_text(
        'Name,Phone,Address\r\nDana,0502345678,"Herzl 1\r\nTel Aviv"\r\n,,\r\nAvi,0521234567,x\r\n',
        encoding="utf-8",
        newline="",
    )
    sheet = load(path)
    assert sheet.rows == [("Dana", "0502345678", "Herzl 1\r\nTel Aviv"), ("Avi", "0521234567", "x")]
    # Row numbers count records, as Excel shows them, not physical lines.
    assert sheet.numbers == [2, 4]


def test_csv_title_row_found_automatically(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    path.write_text("Spring campaign\n\nName,Phone,City\nDana,0502345678,Haifa\n", encoding="utf-8")
    sheet = load(path)
    assert (sheet.header_row, sheet.columns, sheet.numbers) == (3, ("Name", "Phone", "City"), [4])


def test_sheet_option_on_csv_is_a_notice(write_csv: Callable[..., Path]) -> None:
    sheet = load(write_csv([["Name", "Phone"], ["Dana", "050"]]), sheet="VIP")
    assert sheet.notices == ("--sheet 'VIP' ignored: contacts.csv is a delimited text file.",)


def test_empty_csv_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    path.write_text("\n,,\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        load(path)
    assert str(e.value) == (
        "contacts.csv: the sheet is empty. Export the contacts with a header row."
    )


# --- other workbook formats -----------------------------------------------------------------------


def test_ods_written_by_pandas(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("odf")
    path = tmp_path / "contacts.ods"
    frame = pd.DataFrame(
        {"Name": ["Dana", "Avi"], "Phone": [502345678, 972521234567], "Code": ["007", "NA"]}
    )
    frame.to_excel(path, engine="odf", index=False)
    sheet = load(path)
    assert sheet.columns == ("Name", "Phone", "Code")
    assert sheet.rows == [("Dana", "502345678", "007"), ("Avi", "972521234567", "NA")]
    assert sheet.numbers == [2, 3]


def test_xls_written_by_xlwt(tmp_path: Path) -> None:
    xlwt = pytest.importorskip("xlwt")
    book = xlwt.Workbook()
    ws = book.add_sheet("Contacts")
    for r, row in enumerate([["Name", "Phone"], ["Dana", 502345678], ["Avi", "0521234567"]]):
        for c, v in enumerate(row):
            ws.write(r, c, v)
    path = tmp_path / "contacts.xls"
    book.save(str(path))
    sheet = load(path)
    assert sheet.rows == [("Dana", "502345678"), ("Avi", "0521234567")]


def test_xlsm_loads_like_xlsx(write_xlsx: Callable[..., Path]) -> None:
    sheet = load(write_xlsx([["Name", "Phone"], ["Dana", 502345678]], "contacts.xlsm"))
    assert sheet.rows == [("Dana", "502345678")]


def test_unreadable_xlsx_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "contacts.xlsx"
    path.write_bytes(b"this is not a zip file at all")
    with pytest.raises(InputError) as e:
        load(path)
    message = str(e.value)
    assert message.startswith("contacts.xlsx: cannot be read as a .xlsx workbook (")
    assert message.endswith("Open it in Excel and save it again, or export it as CSV UTF-8.")


# --- the file itself ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "shown"),
    [("contacts.pdf", ".pdf"), ("contacts.JSON", ".json"), ("contacts", "(none)")],
)
def test_unsupported_extension(tmp_path: Path, name: str, shown: str) -> None:
    path = tmp_path / name
    path.write_text("Name,Phone\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        load(path)
    assert str(e.value) == (
        f"{path}: unsupported file type '{shown}'. "
        "Save the contacts as one of: .csv, .ods, .tsv, .txt, .xls, .xlsm, .xlsx."
    )


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"
    with pytest.raises(InputError) as e:
        load(path)
    assert str(e.value) == (
        f"{path}: no such file. Check the path (run from the folder that holds it)."
    )


def test_excel_sep_hint_line_names_the_delimiter_and_is_hidden(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    path.write_bytes(b"sep=;\r\nName;Phone\r\nDana, Tel Aviv;0502345678\r\n")
    sheet = load_sheet(path)
    assert sheet.columns == ("Name", "Phone")
    assert sheet.rows == [("Dana, Tel Aviv", "0502345678")]
    assert sheet.numbers == [2] and sheet.delimiter == ";"
