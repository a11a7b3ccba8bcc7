"""Cells as Excel shows them: number formats ('₪1,500.00', '15%', '05/03/2024', '00123') and the
rows a workbook hides, read from the XLSX parts themselves.

python-calamine gives values but no styles. openpyxl would give both, but loading a 100k-row
workbook with it takes seconds; the styles part is small, and the sheet part only needs scanning
for `hidden` rows and for the few cells whose style has a number format.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from xml.etree import ElementTree as ET

NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
# Excel's built-in formats (ECMA-376 18.8.30). 14 and 22 follow the reader's locale in Excel;
# we show them unambiguously as ISO dates, since the locale of the sheet's author is unknown.
BUILTIN = {
    1: "0", 2: "0.00", 3: "#,##0", 4: "#,##0.00", 9: "0%", 10: "0.00%", 11: "0.00E+00",
    14: "yyyy-mm-dd", 15: "d-mmm-yy", 16: "d-mmm", 17: "mmm-yy", 18: "h:mm AM/PM",
    19: "h:mm:ss AM/PM", 20: "h:mm", 21: "h:mm:ss", 22: "yyyy-mm-dd h:mm", 37: "#,##0 ;(#,##0)",
    38: "#,##0 ;[Red](#,##0)", 39: "#,##0.00;(#,##0.00)", 40: "#,##0.00;[Red](#,##0.00)",
    45: "mm:ss", 46: "[h]:mm:ss", 47: "mm:ss.0", 48: "##0.0E+0", 49: "@",
}
_ROW = re.compile(rb"<(?:\w+:)?row\b([^>]*)>")
_CELL = re.compile(rb"<(?:\w+:)?c\b([^>]*?)/?>")
_ATTR_R = re.compile(rb'\br="([A-Z]+)(\d+)"')
_ATTR_S = re.compile(rb'\bs="(\d+)"')
_HIDDEN = re.compile(rb'\bhidden="(?:1|true)"')
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


@dataclass
class SheetStyles:
    """Spreadsheet row numbers hidden, and the number format of each formatted cell (0-based)."""

    hidden: set[int] = field(default_factory=set)
    formats: dict[tuple[int, int], str] = field(default_factory=dict)


def read_styles(path: str, sheet_name: str) -> SheetStyles:
    """Hidden rows and cell number formats of one XLSX sheet; empty if the parts are unusual."""
    out = SheetStyles()
    try:
        with zipfile.ZipFile(path) as z:
            part = _sheet_part(z, sheet_name)
            if part is None:
                return out
            xf_formats = _xf_formats(z)
            wanted = {str(i).encode() for i in xf_formats}
            # A megabyte of whole tags at a time: the part may unpack to 256 MB (read whole, a
            # 245 KB file of empty tags took 534 MB; issue 19, round four).
            with z.open(part) as stream:
                carry = b""
                while chunk := stream.read(1 << 20):
                    data = carry + chunk
                    cut = data.rfind(b"<")
                    data, carry = (data[:cut], data[cut:]) if cut >= 0 else (data, b"")
                    _styles_of(data, xf_formats, wanted, out)
                _styles_of(carry, xf_formats, wanted, out)
    except (KeyError, OSError, zipfile.BadZipFile, ET.ParseError):
        return SheetStyles()
    return out


def _styles_of(data: bytes, xf_formats: dict[int, str], wanted: set[bytes],
               out: SheetStyles) -> None:
    """Hidden rows and formatted cells found in `data`, a run of whole tags of a sheet part."""
    if _HIDDEN.search(data):
        for m in _ROW.finditer(data):
            attrs = m.group(1)
            if _HIDDEN.search(attrs):
                r = re.search(rb'\br="(\d+)"', attrs)
                if r:
                    out.hidden.add(int(r.group(1)))
    if xf_formats:
        for m in _CELL.finditer(data):
            attrs = m.group(1)
            s = _ATTR_S.search(attrs)
            if s is None or s.group(1) not in wanted:
                continue
            r = _ATTR_R.search(attrs)
            if r:
                out.formats[(int(r.group(2)) - 1, _column_index(r.group(1)))] = xf_formats[
                    int(s.group(1))
                ]


def _column_index(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n - 1


def _sheet_part(z: zipfile.ZipFile, sheet_name: str) -> str | None:
    book = ET.fromstring(z.read("xl/workbook.xml"))
    rid = None
    for s in book.iter(f"{NS}sheet"):
        if s.get("name") == sheet_name:
            rid = s.get(f"{REL_NS}id")
    if rid is None:
        return None
    rels = ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    for rel in rels:
        if rel.get("Id") == rid:
            target = rel.get("Target", "")
            if target.startswith("/"):
                return target[1:]
            return str(PurePosixPath("xl") / target)
    return None


def _xf_formats(z: zipfile.ZipFile) -> dict[int, str]:
    """Cell style index -> number format code, for styles with a format other than General."""
    try:
        styles = ET.fromstring(z.read("xl/styles.xml"))
    except KeyError:
        return {}
    custom = {int(f.get("numFmtId", "0")): f.get("formatCode", "")
              for f in styles.iter(f"{NS}numFmt")}
    xfs = styles.find(f"{NS}cellXfs")
    out: dict[int, str] = {}
    for i, xf in enumerate(xfs if xfs is not None else []):
        fid = int(xf.get("numFmtId", "0"))
        code = custom.get(fid) or BUILTIN.get(fid)
        if fid and code and code.lower() != "general":
            out[i] = code
    return out


# --- rendering --------------------------------------------------------------------------------


def general(v: float | int) -> str:
    """Excel's General format: at most 15 significant digits (17.55, not 17.549999999999997)."""
    if isinstance(v, int):
        return str(v)
    if math.isnan(v) or math.isinf(v):
        return str(v)
    if v.is_integer() and abs(v) < 1e16:
        return str(int(v))
    text = f"{v:.15g}"
    if "e" in text:
        mantissa, _, exp = text.partition("e")
        return f"{mantissa}E{'+' if int(exp) >= 0 else '-'}{abs(int(exp)):02d}"
    return text


def format_value(v: object, code: str) -> str | None:
    """`v` shown with number format `code`, or None when the format is not one we render."""
    section = _section(code, v)
    if section is None:
        return None
    literal_free = re.sub(r'"[^"]*"|\\.|\[[^\]]*\]', "", section)
    if "@" in literal_free and not isinstance(v, (int, float)):
        return None
    if isinstance(v, dt.datetime | dt.date | dt.time | dt.timedelta):
        return _format_date(v, section) if re.search(r"[dmyhs]", literal_free, re.I) else None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    if re.search(r"[dmyhs]", literal_free, re.I) and not re.search(r"[0#?]", literal_free):
        return _format_date(_from_serial(float(v)), section)
    negative_section = v < 0 and len(_split_sections(code)) >= 2
    return _format_number(float(v), section, negative_section=negative_section)


def _section(code: str, v: object) -> str | None:
    sections = _split_sections(code)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if len(sections) >= 2 and v < 0:
            return sections[1]
        if len(sections) >= 3 and v == 0:
            return sections[2]
    first = sections[0]
    if re.search(r"\[[<>=]", first):
        return None  # conditional sections: left to General
    return first


def _split_sections(code: str) -> list[str]:
    out, cur, quoted, i = [], "", False, 0
    while i < len(code):
        ch = code[i]
        if ch == '"':
            quoted = not quoted
        elif ch == "\\" and i + 1 < len(code):
            cur += code[i : i + 2]
            i += 2
            continue
        elif ch == ";" and not quoted:
            out.append(cur)
            cur = ""
            i += 1
            continue
        cur += ch
        i += 1
    out.append(cur)
    return out


def _literal(piece: str) -> str:
    """Text parts of a format: "quoted", \\x, [$₪-40D] currency, _x spacing, *x fill, colours."""
    piece = re.sub(r"\[\$([^\]-]*)(?:-[0-9A-Fa-f]+)?\]", lambda m: m.group(1), piece)
    piece = re.sub(r"\[[^\]]*\]", "", piece)
    piece = re.sub(r"_.", " ", piece)
    piece = re.sub(r"\*.", "", piece)
    piece = re.sub(r'"([^"]*)"', lambda m: m.group(1), piece)
    return re.sub(r"\\(.)", lambda m: m.group(1), piece)


_NUMBER_PART = re.compile(r'(?:"[^"]*"|\\.|\[[^\]]*\]|_.|\*.)|([#0?,.]*[0#?][#0?,.]*(?:[eE][+-][0#]+)?)')


def _round_half_up(value: float, decimals: int) -> str:
    """`value` to `decimals` places as Excel shows it: from its 15 significant digits, halves up
    (2.5 -> 3, 1.005 -> 1.01), not Python's binary half-to-even."""
    exact = decimal.Decimal(f"{abs(value):.15g}")
    return f"{exact.quantize(decimal.Decimal(1).scaleb(-decimals), rounding=decimal.ROUND_HALF_UP):f}"


def _digit_template(v: float, section: str, groups: list[re.Match[str]]) -> str | None:
    """A whole number laid into placeholders split by literals, as Excel does for a phone
    format like 000-0000000 (502345671 -> 050-2345671)."""
    if any("." in g.group(1) or "e" in g.group(1).lower() for g in groups) or "%" in section:
        return None
    digits = _round_half_up(v, 0)
    slots = "".join(g.group(1).replace(",", "") for g in groups)
    digits = digits.zfill(slots.count("0")) if len(digits) < slots.count("0") else digits
    out: list[str] = []
    pos = len(digits)
    end = len(section)
    for g in reversed(groups):
        out.append(_literal(section[g.end() : end]))
        placed = []
        for ch in reversed(g.group(1).replace(",", "")):
            if pos > 0:
                pos -= 1
                placed.append(digits[pos])
            elif ch == "0":
                placed.append("0")
        out.append("".join(reversed(placed)))
        end = g.start()
    head = _literal(section[:end])
    rest = digits[:pos]  # more digits than placeholders: they go in front
    sign = "-" if v < 0 else ""
    return f"{sign}{head}{rest}{''.join(reversed(out))}".strip()


def _format_number(v: float, section: str, *, negative_section: bool) -> str | None:
    groups = [m for m in _NUMBER_PART.finditer(section) if m.group(1)]
    if len(groups) > 1:
        return _digit_template(abs(v) if negative_section else v, section, groups)
    number = groups[0] if groups else None
    if number is None:
        return _literal(section).replace("%", "")
    pattern = number.group(1)
    if "e" in pattern.lower() or "?" in pattern:
        return None
    before, after = _literal(section[: number.start()]), _literal(section[number.end():])
    percent = "%" in before + after
    value = abs(v) if negative_section else v
    if percent:
        value *= 100
    integer, _, fraction = pattern.partition(".")
    scale = len(integer) - len(integer.rstrip(","))  # '#,##0,' shows thousands
    integer = integer.rstrip(",")
    value /= 1000**scale
    decimals = len(fraction.replace(",", ""))
    min_digits = integer.replace(",", "").replace("#", "").count("0")
    whole, _, frac = _round_half_up(value, decimals).partition(".")
    if "," in integer and len(whole) >= min_digits:
        whole = f"{int(whole):,}"
    whole = whole.zfill(min_digits) if min_digits else whole.lstrip("0")
    if "#" in fraction:
        required = fraction.count("0")
        frac = frac.rstrip("0").ljust(required, "0")
    sign = "-" if value < 0 and not negative_section and float(_round_half_up(value, decimals)) else ""
    return f"{sign}{before}{whole}{'.' if frac else ''}{frac}{after}".strip() or "0"


_DATE_TOKEN = re.compile(
    r'"[^"]*"|\\.|\[[^\]]*\]|_.|\*.|yyyy|yy|mmmmm|mmmm|mmm|mm|m|dddd|ddd|dd|d|hh|h|ss(?:\.0+)?|s'
    r"|AM/PM|am/pm|A/P|a/p|.",
    re.IGNORECASE,
)


def _from_serial(serial: float) -> dt.datetime:
    return dt.datetime(1899, 12, 30) + dt.timedelta(days=serial)


def _format_date(v: object, section: str) -> str | None:
    if isinstance(v, dt.timedelta):
        v = dt.datetime(1899, 12, 31) + v
    if isinstance(v, dt.time):
        v = dt.datetime.combine(dt.date(1899, 12, 31), v)
    if not isinstance(v, dt.datetime):
        assert isinstance(v, dt.date)
        v = dt.datetime.combine(v, dt.time())
    tokens = [m.group(0) for m in _DATE_TOKEN.finditer(section)]
    twelve = any(t.upper() in ("AM/PM", "A/P") for t in tokens)
    out = []
    for i, tok in enumerate(tokens):
        low = tok.lower()
        if low.startswith("m") and low in ("m", "mm"):
            # 'm' is minutes right after an hour or right before seconds, else the month.
            prev = next((t.lower() for t in reversed(tokens[:i]) if t.strip() and t not in ":"), "")
            nxt = next((t.lower() for t in tokens[i + 1:] if t.strip() and t not in ":"), "")
            if prev.startswith("h") or nxt.startswith("s"):
                out.append(f"{v.minute:02d}" if low == "mm" else str(v.minute))
            else:
                out.append(f"{v.month:02d}" if low == "mm" else str(v.month))
            continue
        out.append(_date_part(tok, low, v, twelve))
    return "".join(out)


def _date_part(tok: str, low: str, v: dt.datetime, twelve: bool) -> str:
    hour = (v.hour % 12 or 12) if twelve else v.hour
    parts = {
        "yyyy": f"{v.year:04d}", "yy": f"{v.year % 100:02d}", "mmmmm": _MONTHS[v.month - 1][0],
        "mmmm": _MONTHS[v.month - 1], "mmm": _MONTHS[v.month - 1][:3],
        "dddd": _DAYS[v.weekday()], "ddd": _DAYS[v.weekday()][:3], "dd": f"{v.day:02d}",
        "d": str(v.day), "hh": f"{hour:02d}", "h": str(hour), "ss": f"{v.second:02d}",
        "s": str(v.second), "am/pm": "AM" if v.hour < 12 else "PM",
        "a/p": "A" if v.hour < 12 else "P",
    }
    if low in parts:
        return parts[low]
    if low.startswith("ss."):
        places = len(low) - 3
        return f"{v.second:02d}." + f"{v.microsecond:06d}"[:places]
    if tok.startswith("[") and re.fullmatch(r"\[h+\]", low):
        return str(hour)
    return _literal(tok)
