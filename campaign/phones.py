"""Phone cells to WhatsApp JIDs: find the phone column, normalise, and say why a cell is unusable."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cache, lru_cache

import phonenumbers
from phonenumbers import (
    COUNTRY_CODE_TO_REGION_CODE,
    NumberParseException,
    PhoneMetadata,
    PhoneNumberFormat,
    PhoneNumberType,
)

from campaign.contacts import Sheet
from campaign.countries import country_column
from campaign.errors import InputError

USER_JID = "@s.whatsapp.net"
GROUP_JID = "@g.us"
TEXT_HINT = "format the phone column as Text in Excel and export again"


def _fold(text: str) -> str:
    """Case and accents folded, so 'Téléphone', 'TELEPHONE' and 'telephone' compare equal."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).strip()


def _words(*groups: str) -> frozenset[str]:
    return frozenset(_fold(w) for g in groups for w in g.split())


# Header words, by how likely the column is to reach someone on WhatsApp. They are matched as
# whole words (after folding), so 'Phonetic First Name' and 'Cancelled' are not phone columns.
WHATSAPP_WORDS = _words("whatsapp wa jid וואטסאפ ווטסאפ واتساب واتس ватсап вотсап")
MOBILE_WORDS = _words(
    "mobile mobil mobiel mob cell cellphone cellular handy portable celular movil móvil telemovel sms "
    "telemóvel cellulare gsm cep נייד פלאפון סלולרי סלולר جوال الجوال موبايل محمول мобильный "
    "мобильного сотовый mobilní komórkowy 手机 携帯"
)
PHONE_WORDS = _words(
    "phone phones telephone tel telefon telefono teléfono téléphone telefone telefoon telefonnummer "
    "msisdn טלפון هاتف الهاتف телефон телефона тел 电话 電話"
)
# Whole headers that name a phone column without a phone word ('Number', 'Tel No' has one).
NUMBER_HEADERS = frozenset(_fold(h) for h in (
    "number", "contact number", "contact no", "numero", "número", "nummer", "מספר", "رقم",
    "номер", "номер телефона",
))
# A phone word that also says the line is not a personal mobile: tried after the others.
LANDLINE_WORDS = _words(
    "home work business office landline fixed festnetz privat domicile bureau casa trabajo oficina "
    "fijo fixo assistant assistant's company main other address car radio בית עבודה משרד منزل عمل "
    "домашний рабочий"
)
# A phone word next to one of these names something that is not a number to message.
NOT_PHONE_WORDS = _words(
    "type label fax pager yomi phonetic ext extension tty tdd telex isdn code country prefix "
    "verified consent opt status carrier count valid marketing blacklisted blacklist blocked "
    "unsubscribed optin optout פקס فاكس факс"
)
# A column of someone else's number (issue 17: a participant without a phone of their own was
# messaged at their father's 'Emergency Contact Phone'): never used unless named.
ROLE_WORDS = _words(
    "emergency ice guardian guardians parent parents parental mother father mom mum dad spouse "
    "partner husband wife kin nok assistant assistants asst secretary referrer referral referred "
    "referee fax office reception receptionist manager supervisor doctor "
    "notfall notfallkontakt notruf erziehungsberechtigter erziehungsberechtigte eltern vater "
    "mutter ehepartner partnerin assistent assistentin sekretariat buro büro empfang "
    "urgence tuteur tutrice pere père mere mère conjoint conjointe epoux époux epouse épouse "
    "secretaire secrétaire accueil "
    "emergencia emergencias tutor tutora padre madre padres conyuge cónyuge esposo esposa "
    "asistente secretaria recepcion recepción oficina acudiente apoderado "
    "emergência responsável responsavel pai mae mãe cônjuge assistente escritorio escritório "
    "emergenza genitore genitori coniuge "
    "noodgeval nood ouder ouders voogd "
    "acil veli "
    "חירום לחירום בחירום אפוטרופוס הורה הורים אבא אמא אב אם זוג עוזר עוזרת מזכירה "
    "מזכירות פקס משרד קבלה "
    "طوارئ الطوارئ ولي الأمر الأب الأم الاب الام الزوج الزوجة مساعد السكرتير فاكس مكتب المكتب "
    "استقبال الاستقبال "
    "экстренный экстренная экстренного опекун родитель родителя родители отец мать мама папа "
    "супруг супруга помощник секретарь факс офис приемная приёмная"
)
# 'Handynummer', 'Telefonnr', 'Mobiltelefon': a word glued to a suffix, German style.
_SUFFIXES = ("nummer", "number", "numero", "nr", "no", "num", "telefon", "phone")
_TOKEN = re.compile(r"[^\W_]+")

# Bidi marks and invisible characters that ride along when numbers are copied from RTL text,
# the soft hyphen, and look-alikes of '-' and '+' (iOS's non-breaking hyphen, Word's en dash).
_INVISIBLE = (
    "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff\u200b\u200c\u200d\u00ad\u2060"
)
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
_CLEAN = {
    **dict.fromkeys(map(ord, _INVISIBLE), None),
    **dict.fromkeys(map(ord, _DASHES), "-"),
    **dict.fromkeys(map(ord, "\u00a0\u2007\u2009\u202f\u3000"), " "),
    ord("\uff0b"): "+",
}
_SCIENTIFIC = re.compile(r"^[+-]?\d+(?:[.,]\d+)?[eE][+-]?\d+$")
_FLOAT_TAIL = re.compile(r"^\+?\d+\.0+$")
_ALLOWED = re.compile(r"^\+?[\d\s\-.()/]+$")
_FORMULA = re.compile(r'^=\s*"(.*)"$')  # Excel's CSV trick to keep zeros: ="0547654321"
_EXTENSION = re.compile(
    r"\s*(?:;\s*ext\s*=\s*|,?\s*(?:ext(?:ension)?\.?|x|#)\s*)(\d{1,7})\s*$", re.IGNORECASE
)
# Separators between several numbers in one cell: Google's ' ::: ', lines, ';', ',', ' or '.
_SEVERAL = re.compile(r"\s*(?::::|\n|\||;(?!\s*ext)|,(?=\s*[+(\d])|\s(?:or|או|או:)\s)\s*", re.IGNORECASE)
_SLASH = re.compile(r"\s*/\s*")
_DATE = re.compile(
    r"^(?:(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
    r"|(\d{1,2})[./-](\d{1,2})[./-](\d{4})|(\d{1,2})[./](\d{1,2})[./](\d{2}))$"
)
# A WhatsApp click-to-chat link holds the number with its country code and without '+'.
_LINK = re.compile(
    r"^(?:https?://)?(?:www\.)?wa\.me/\+?(\d{6,15})/?(?:[?#].*)?$"
    r"|^(?:(?:https?://)?(?:api|web|www)\.whatsapp\.com/send/?|whatsapp://send/?)\?(?:.*&)?"
    r"phone=(?:%2B|\+|%20|\s)*(\d{6,15})(?:&.*)?$",
    re.IGNORECASE,
)
_PREFIX = re.compile(r"^(?:tel|p|callto|sms|whatsapp|phone)\s*:\s*(?://)?", re.IGNORECASE)
_TRUNK_AFTER_CODE = re.compile(r"\(\s*0\s*\)")  # '+44 (0)7911 123456'
_JID_USER = re.compile(r"[0-9]{5,20}")
_GROUP_USER = re.compile(r"[0-9]+(?:-[0-9]+)*")
_MOBILE_TYPES = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)


@dataclass(frozen=True)
class PhoneResult:
    """`jid` is None when the cell is unusable; `problem` is the error, or a warning beside a jid."""

    jid: str | None
    problem: str = ""


# --- the phone column ---------------------------------------------------------------------------


def is_role_column(name: str) -> bool:
    """Whether the header names someone else's number: Emergency Contact, Guardian, Fax, ..."""
    tokens = _TOKEN.findall(_fold(name))
    return any(t in ROLE_WORDS for t in tokens) or "next of kin" in " ".join(tokens)


def header_rank(name: str) -> int:
    """How much a header looks like a phone column: 4 WhatsApp, 3 mobile, 2 phone, 1 landline, 0 not."""
    folded = _fold(name)
    if not folded:
        return 0
    tokens = [t for t in _TOKEN.findall(folded) if not t.isdigit() and t != "value"]
    if not tokens:
        return 0
    if any(t in NOT_PHONE_WORDS or t in ROLE_WORDS for t in tokens):
        return 0
    kinds = {_word_kind(t) for t in tokens}
    if 4 in kinds:
        return 4
    if 3 in kinds:
        return 3
    if 2 in kinds:
        return 1 if any(t in LANDLINE_WORDS for t in tokens) else 2
    if " ".join(tokens) in NUMBER_HEADERS:
        return 2
    return 0


@cache
def _word_kind(token: str) -> int:
    for kind, words in ((4, WHATSAPP_WORDS), (3, MOBILE_WORDS), (2, PHONE_WORDS)):
        if token in words:
            return kind
        for w in words:
            if len(w) > 2 and token.startswith(w) and token[len(w):] in _SUFFIXES:
                return kind
    return 0


def header_candidates(columns: Sequence[str]) -> list[int]:
    """Columns whose header names a phone, best first: WhatsApp, mobile, phone, then landlines.

    Among equals an exact word ('Phone') beats a header that contains one ('Phone (old)'), then
    the leftmost wins.
    """
    ranked = []
    for i, c in enumerate(columns):
        rank = header_rank(c)
        if rank:
            exact = _fold(c) in WHATSAPP_WORDS | MOBILE_WORDS | PHONE_WORDS
            ranked.append((-rank, not exact, i))
    return [i for *_, i in sorted(ranked)]


def explicit_columns(columns: Sequence[str], names: Sequence[str]) -> list[int]:
    """`--phone-column` names (case-insensitive) to indexes, in the order given."""
    folded = [c.strip().casefold() for c in columns]
    out: list[int] = []
    for name in names:
        want = name.strip().casefold()
        if want not in folded:
            listing = ", ".join(f"'{c}'" for c in columns if c)
            raise InputError(
                f"--phone-column '{name}' is not a column of the sheet. The columns are: {listing}."
            )
        if folded.index(want) not in out:
            out.append(folded.index(want))
    return out


def find_phone_column(columns: Sequence[str], explicit: str | None = None) -> int:
    """Index of the phone column: `explicit` by name, or the best header (no cells looked at)."""
    if explicit is not None:
        return explicit_columns(columns, [explicit])[0]
    found = header_candidates(columns)
    if found:
        return found[0]
    listing = ", ".join(f"'{c}'" for c in columns if c)
    raise InputError(
        f"no phone column found. The columns are: {listing}. "
        "Name the one that holds the numbers with --phone-column NAME."
    )


def usable_share(cells: Sequence[str], country: str) -> tuple[int, int]:
    """(non-empty cells, cells that give a JID): how much a column reads as phone numbers."""
    filled = [c for c in cells if c.strip()]
    return len(filled), sum(1 for c in filled if to_jid(c, country).jid is not None)


def is_mobile_label(text: str) -> bool:
    """Google's `Phone 1 - Label` cell says 'Mobile', '* Mobile', 'Cell' or 'WhatsApp'."""
    return header_rank(text.replace("*", " ")) >= 3


def label_column(columns: Sequence[str], index: int) -> int | None:
    """Google's `Phone 1 - Value` has its kind in `Phone 1 - Type` (old) or `- Label` (2024)."""
    name = columns[index]
    m = re.fullmatch(r"(.*\S)\s*-\s*value", name.strip(), re.IGNORECASE)
    if not m:
        return None
    for kind in ("Type", "Label"):
        want = f"{m.group(1)} - {kind}".casefold()
        for j, c in enumerate(columns):
            if c.strip().casefold() == want:
                return j
    return None


CONTENT_SAMPLE = 200


@dataclass(frozen=True)
class PhoneColumns:
    """The columns to take a row's number from, in order, and Google's kind column of each."""

    names: tuple[str, ...]
    indexes: tuple[int, ...]
    labels: tuple[tuple[int, int], ...] = ()  # (value column, its 'Phone 1 - Label' column)
    notice: str = ""
    codes: tuple[tuple[int, int], ...] = ()  # (phone column, its 'Country Code' column)
    country: int | None = None  # the column that gives each row its own country


def choose_phone_columns(sheet: Sheet, explicit: Sequence[str], country: str) -> PhoneColumns:
    """`--phone-column` names, or the columns whose header names a phone and whose cells hold
    phone numbers (best first), or else the one column whose cells read as phone numbers.
    Also found: a 'Country Code' column beside them, and a column of each row's country."""
    columns = sheet.columns
    sample = sheet.rows[:CONTENT_SAMPLE]
    own = country_column(columns, sample)
    if explicit:
        found = explicit_columns(columns, explicit)
        codes = _code_pairs(sheet, found)
        return PhoneColumns(tuple(columns[i] for i in found), tuple(found), codes=codes, country=own)
    named = header_candidates(columns)
    chosen = []
    for i in named:
        filled, usable = usable_share([r[i] for r in sample], country)
        if usable or not filled or dial_code_column(sheet, [i]) is not None:
            chosen.append(i)  # a column of 'Mobile', 'Home' is not the phone column
    if named and not chosen:
        chosen = named[:1]  # named so, but no usable number: the plan says so and stops
    notice = ""
    if not chosen:
        best = _content_column(sheet, country)
        if best is None:
            raise InputError(_no_column_message(sheet, country))
        chosen = [best]
        notice = (f"no column is named like a phone column; using '{columns[best]}', whose cells "
                  "read as phone numbers. Name another with --phone-column NAME.")
    elif len(chosen) > 1:
        rest = ", ".join(f"'{columns[i]}'" for i in chosen[1:])
        notice = (f"phone numbers are taken from '{columns[chosen[0]]}'; a row without a usable one "
                  f"there takes it from {rest}. Choose with --phone-column NAME (repeatable).")
    labels = tuple((i, j) for i in chosen if (j := label_column(columns, i)) is not None)
    return PhoneColumns(tuple(columns[i] for i in chosen), tuple(chosen), labels, notice,
                        codes=_code_pairs(sheet, chosen), country=own)


def candidate_columns(sheet: Sheet, explicit: Sequence[str], countries: Sequence[str]) -> list[int]:
    """The columns whose cells the home country is inferred from: the named or explicit phone
    columns, else the columns whose cells read as phones under one of `countries`."""
    if explicit:
        return explicit_columns(sheet.columns, explicit)
    named = header_candidates(sheet.columns)
    if named:
        return named
    found = []
    for c in countries:
        best = _content_column(sheet, c)
        if best is not None and best not in found:
            found.append(best)
    return found


# Header words of a column that holds the country calling code of the phone beside it.
_CODE_WORDS = _words("dial dialing dialling calling isd indicatif ddi prefix prefijo prefixo "
                     "קידומת ländervorwahl landervorwahl")
_CODE_GENERIC = _words("code codigo código код كود رمز")
_CODE_OF = _words("country phone tel telephone mobile cell whatsapp pais país pays land страны "
                  "الدولة البلد")
_NOT_CODE = _words("postal post zip area promo coupon discount voucher product iso alpha currency")
_DIAL_CELL = re.compile(r"^\s*(?:\+|00)?\s*(\d{1,4})\s*$|\(\s*\+\s*(\d{1,4})\s*\)")


def dial_code_column(sheet: Sheet, phones: Sequence[int]) -> int | None:
    """A 'Country Code' / 'Dial Code' / 'Prefix' column whose cells are calling codes (44, +91,
    'United Kingdom (+44)'), to combine with the phone column (Interakt's layout)."""
    sample = sheet.rows[:CONTENT_SAMPLE]
    for i, name in enumerate(sheet.columns):
        if i in phones:
            continue
        tokens = set(_TOKEN.findall(_fold(name)))
        if tokens & _NOT_CODE:
            continue
        if not (tokens & _CODE_WORDS or (tokens & _CODE_GENERIC and tokens & _CODE_OF)):
            continue
        cells = [r[i] for r in sample if r[i].strip()]
        codes = sum(1 for c in cells if dial_code(c) is not None)
        if cells and codes * 2 > len(cells):
            return i
    return None


def _code_pairs(sheet: Sheet, phones: Sequence[int]) -> tuple[tuple[int, int], ...]:
    code = dial_code_column(sheet, phones)
    return tuple((i, code) for i in phones) if code is not None else ()


def dial_code(cell: str) -> int | None:
    """'+44', '44', '0044', 'United Kingdom (+44)' -> 44; None when the cell is not a code."""
    m = _DIAL_CELL.search(_clean(cell))
    if not m:
        return None
    code = int(m.group(1) or m.group(2))
    return code if code in COUNTRY_CODE_TO_REGION_CODE else None


# Headers that are never a phone column, whatever their cells hold.
_NOT_CONTENT = frozenset({"country code", "dial code", "calling code", "prefix", "code", "id"})


def _content_column(sheet: Sheet, country: str) -> int | None:
    """The column most of whose cells read as phone numbers (at least 80% of the filled ones),
    and mostly mobiles: a column of 9-digit ID numbers reads as landlines, and WhatsApp is on
    mobiles, so without a header saying "phone" such a column is not taken for one."""
    sample = sheet.rows[:CONTENT_SAMPLE]
    best, best_usable = None, 0
    for i, name in enumerate(sheet.columns):
        if is_role_column(name) or (header_rank(name) == 0 and _fold(name) in _NOT_CONTENT):
            continue  # someone else's number, or a code or country column
        filled, usable = usable_share([r[i] for r in sample], country)
        if filled and usable >= 0.8 * filled and usable > best_usable:
            jids = [to_jid(r[i], country).jid for r in sample if r[i].strip()]
            mobiles = sum(1 for j in jids if j and _is_mobile(j))
            if mobiles >= 0.5 * usable:
                best, best_usable = i, usable
    return best


def phone_like(sheet: Sheet, country: str, *, besides: Sequence[int] = ()) -> list[str]:
    """Columns that look like phones, by header or by cells, for error messages."""
    sample = sheet.rows[:CONTENT_SAMPLE]
    out = []
    for i, name in enumerate(sheet.columns):
        if i in besides:
            continue
        if header_rank(name) or usable_share([r[i] for r in sample], country)[1]:
            out.append(f"'{name}'" if name else f"column {i + 1} (no name)")
    return out


def _no_column_message(sheet: Sheet, country: str) -> str:
    listing = ", ".join(f"'{c}'" for c in sheet.columns if c)
    roles = [c for c in sheet.columns if c and is_role_column(c)]
    others = ""
    if roles:
        named = ", ".join(f"'{c}'" for c in roles)
        others = (f" {named} hold{'s' if len(roles) == 1 else ''} someone else's number (an "
                  "emergency contact, a parent, an office), never used unless named: to message "
                  f"those people, give --phone-column '{roles[0]}'.")
    return (f"no phone column found. The columns are: {listing}." + others +
            " Name the one that holds the numbers with --phone-column NAME." + where_else(sheet))


def where_else(sheet: Sheet) -> str:
    """Where the real header or contacts may be: another row (--header-row), another sheet."""
    hint = ""
    offset = sheet.header_row - len(sheet.above)
    lines = [(n, r) for n, r in enumerate(sheet.above, start=offset)]
    lines += list(zip(sheet.numbers[:20], sheet.rows[:20], strict=False))
    for number, row in lines:
        named = [c for c in row if header_rank(c)]
        if named and number != sheet.header_row:
            hint = (f" Row {number} looks like the column names ('{named[0]}'): "
                    f"give it with --header-row {number}.")
            break
    if not hint and sheet.header_found and (sheet.header_row != 1 or sheet.above):
        hint = (f" The column names were read from row {sheet.header_row}; if they are on another "
                "row, give it with --header-row N.")
    if sheet.other_sheets:
        hint += (" The workbook's other sheets: " + ", ".join(f"'{n}'" for n in sheet.other_sheets)
                 + "; pick one with --sheet NAME.")
    return hint


def no_usable_message(sheet: Sheet, phone: PhoneColumns, first_problem: str, country: str) -> str:
    """Every row of the phone column(s) is unusable: say which columns do look like phones."""
    cols = " or ".join(f"'{n}'" for n in phone.names)
    others = phone_like(sheet, country, besides=phone.indexes)
    also = (f" Columns that look like phones: {', '.join(others)}." if others
            else " No other column looks like phones.")
    return (f"no row of {cols} holds a usable phone number (row {sheet.numbers[0]}: "
            f"{first_problem}).{also} Name the right one with --phone-column NAME."
            + where_else(sheet))


def row_jid(values: Sequence[str], phone: PhoneColumns, country: str, strict: bool) -> PhoneResult:
    """The row's JID from its first phone column with a usable number (a mobile first, where
    Google's label column says which is which), read in the row's own country when a column
    says it, with the country code of a 'Country Code' column beside the phone."""
    if phone.country is not None:
        own = row_country(values[phone.country], country)
        if own != country:
            result = row_jid(values, replace(phone, country=None), own, strict)
            if result.jid is None:
                # A billing country that is not where the phone is: a clean home reading stands,
                # when it is a mobile (a typo'd US number is never a German landline).
                home = row_jid(values, replace(phone, country=None), country, strict)
                if (home.jid is not None and not home.problem and _is_mobile(home.jid)
                        and not _near_miss_of(values, phone, own, result.problem)):
                    return PhoneResult(home.jid, f"warning: read as a {country} number; as a "
                                       f"number of the row's country, {own}: {result.problem}")
            return result
    order: Sequence[int] = phone.indexes
    codes = dict(phone.codes)
    if len(order) == 1:
        return _cell_jid(values, order[0], codes, country, strict)
    if phone.labels:
        kinds = dict(phone.labels)
        order = sorted(order, key=lambda i: 0 if i in kinds and is_mobile_label(values[kinds[i]]) else 1)
    first: PhoneResult | None = None
    for i in order:
        result = _cell_jid(values, i, codes, country, strict)
        if result.jid is not None:
            return result
        if first is None or (first.problem == "no phone number" and values[i].strip()):
            first = result
    return first or PhoneResult(None, "no phone number")


def _near_miss_of(values: Sequence[str], phone: PhoneColumns, own: str, problem: str) -> bool:
    """The row's country's number a digit or two off ('07400 12345' in a GB row), never sent to
    whoever has it at home; a number that cannot begin so there ('0412 345 678' in a US row: no
    US number starts with 0) is not one."""
    if "too short for" not in problem and "too long for" not in problem:
        return False
    cell = next((values[i] for i in phone.indexes if values[i].strip()), "")
    digits = _digits(_clean(cell))
    trunk = phonenumbers.PhoneMetadata.metadata_for_region(own)
    prefix = (trunk.national_prefix if trunk is not None else None) or ""
    return not (digits.startswith("0") and prefix != "0")


def row_country(cell: str, home: str) -> str:
    """The country a row's country cell names ('United States', 'DE', 'ישראל'), else `home`."""
    from campaign.countries import country_code

    return (country_code(cell) if cell.strip() else None) or home


def _cell_jid(values: Sequence[str], i: int, codes: dict[int, int], country: str,
              strict: bool) -> PhoneResult:
    cell = values[i]
    if i in codes:
        code = dial_code(values[codes[i]])
        if code is not None:
            return _with_code(code, cell, country, strict)
    return to_jid(cell, country, strict)


def _with_code(code: int, cell: str, country: str, strict: bool) -> PhoneResult:
    """'Country Code' 44 + 'Phone Number' 07911 123456 -> 447911123456 (a number already
    written with its '+', or with the code in front, is taken as it is)."""
    text = _clean(cell)
    if not text or text.startswith("+") or text.startswith("00") or "@" in text:
        return to_jid(cell, country, strict)
    combined = to_jid(f"+{code} {text}", country, strict)
    if combined.jid is None or combined.problem:
        digits = _digits(text)
        if digits.startswith(str(code)):
            whole = to_jid("+" + text, country, strict)
            if whole.jid is not None and (not whole.problem or combined.jid is None):
                return whole
    return combined


# --- one cell to a JID --------------------------------------------------------------------------


@lru_cache(maxsize=65536)
def to_jid(raw: str, country: str = "IL", strict: bool = False) -> PhoneResult:
    """One cell to a JID like 972502345678@s.whatsapp.net; existing user and group JIDs are kept."""
    text = _clean(raw)
    if not text:
        return PhoneResult(None, "no phone number")
    if "@" in text:
        return _existing_jid(text)
    if _SCIENTIFIC.match(text):
        return PhoneResult(
            None, f"'{text}' is Excel scientific notation and its digits are lost: {TEXT_HINT}"
        )
    if _FLOAT_TAIL.match(text):
        return PhoneResult(None, f"'{text}' ends in '.0' (Excel stored it as a number): {TEXT_HINT}")
    parts = _several(text)
    if len(parts) == 1:
        return _one(parts[0], country, strict)
    return _pick(parts, country, strict)


def clean(raw: str) -> str:
    """The cell as a number is written: look-alike characters, wrappers and prefixes gone."""
    return _clean(raw)


def _clean(raw: str) -> str:
    text = raw.translate(_CLEAN)
    if not text.isascii():
        # Full-width '＋０５０' and Arabic-Indic digits become ASCII: NFKC, then digit values.
        text = unicodedata.normalize("NFKC", text)
        text = "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in text)
    text = text.strip()
    m = _FORMULA.match(text)
    if m:
        text = m.group(1).strip()
    if text[:1] in ("'", "\u2019", "\u2018"):
        text = text[1:].strip()  # Excel's 'keep as text' apostrophe, written out by some tools
    link = _LINK.match(text)
    if link:
        return "+" + (link.group(1) or link.group(2))  # the number in a link is international
    prefix = _PREFIX.match(text)
    if prefix:
        text = text[prefix.end():].strip()  # tel:, Meta lead forms' p:+966..., callto:, sms:
    return text


def _several(text: str) -> list[str]:
    """A cell with several numbers as a list; shorthand '050-5556667/8' as two full numbers."""
    parts = [p for p in _SEVERAL.split(text) if p.strip()]
    out: list[str] = []
    for part in parts:
        pieces = _SLASH.split(part)
        # Only split at '/' when the left side is a number by itself: '030/1234567' is one number.
        if len(pieces) == 1 or not _digits(pieces[0]) or len(_digits(pieces[0])) < 7:
            out.append(part)
            continue
        out.append(pieces[0])
        previous = _digits(pieces[0])
        for piece in pieces[1:]:
            digits = _digits(piece)
            if digits and len(digits) <= 4 and piece.strip().isdigit():
                previous = previous[: len(previous) - len(digits)] + digits
                out.append(("+" if pieces[0].lstrip().startswith("+") else "") + previous)
            else:
                out.append(piece)
                previous = digits
    return out or [text]


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def _pick(parts: list[str], country: str, strict: bool) -> PhoneResult:
    """The first mobile number of several (else the first usable), naming the others."""
    results = [(p, _one(p, country, strict)) for p in parts]
    usable = [(p, r) for p, r in results if r.jid]
    if not usable:
        return PhoneResult(None, f"none of the {len(parts)} numbers in the cell is usable: "
                           + "; ".join(r.problem for _, r in results))
    chosen = next((pr for pr in usable if _is_mobile(pr[1].jid or "")), usable[0])
    others = ", ".join(p for p, _ in results if p is not chosen[0])
    note = f"warning: the cell holds {len(parts)} numbers: used {chosen[0]}, not {others}"
    own = chosen[1].problem
    return PhoneResult(chosen[1].jid, note + (f"; {own}" if own else ""))


def _is_mobile(jid: str) -> bool:
    number = _parse("+" + jid.partition("@")[0], None)
    return number is not None and phonenumbers.number_type(number) in _MOBILE_TYPES


def _one(text: str, country: str, strict: bool) -> PhoneResult:
    if _is_date(text):
        return PhoneResult(None, f"'{text}' is a date, not a phone number")
    warnings = []
    ext = _EXTENSION.search(text)
    if ext and ext.start() > 0:
        warnings.append(f"extension {ext.group(1)} dropped (WhatsApp numbers have none)")
        text = text[: ext.start()].strip()
    if not _ALLOWED.match(text):
        return PhoneResult(None, f"'{text}' is not a phone number")
    digits = "".join(c for c in text if c.isdecimal())
    international = text.startswith("+") or digits.startswith("00")
    if international:
        # The trunk zero never follows a country code: '+44 (0)7911...', '0044 07911...'.
        digits = "".join(c for c in _TRUNK_AFTER_CODE.sub(" ", text) if c.isdecimal())
        if not text.startswith("+"):
            digits = digits[2:]
    fast = _fast_path(digits, country, international)
    if fast is not None:
        return PhoneResult(fast + USER_JID, _warn(warnings))
    try:
        if international and not text.startswith("+"):
            number = _double_zero(digits, country)
        elif international:
            number = _international(digits)
        else:
            number, ambiguity = _read_without_plus(digits, country, text)
            if ambiguity:
                warnings.append(ambiguity)
    except Refused as refused:
        return PhoneResult(None, f"'{text}' {refused}")
    if number is None or not _possible(number):
        region, rest = country, digits
        if international:
            code, rest = split_country_code(digits)
            region = phonenumbers.region_code_for_country_code(code or 0)
        miss = near_miss(rest, region)
        if miss:
            return PhoneResult(None, f"'{text}' {_too(miss, region)}")
        return PhoneResult(
            None, f"'{text}' is not a possible phone number for {country} (wrong length or prefix)"
        )
    jid = phonenumbers.format_number(number, PhoneNumberFormat.E164)[1:] + USER_JID
    if not phonenumbers.is_valid_number(number):
        region = phonenumbers.region_code_for_country_code(number.country_code or 0)
        miss = near_miss(str(number.national_number), region)
        if miss:
            return PhoneResult(None, f"'{text}' {_too(miss, region)}")
        warning = f"'{text}' is not in {region}'s known number ranges; check it"
        if strict:
            return PhoneResult(None, warning + " (rejected by --strict-phones)")
        warnings.append(warning)
    return PhoneResult(jid, _warn(warnings))


class Refused(Exception):
    """A reading that must not become a JID: the text is why (after the cell's own text)."""


def _international(digits: str) -> phonenumbers.PhoneNumber | None:
    """'+' and `digits`: the country's own rules applied, and a trunk zero after the code dropped."""
    code, rest = split_country_code(digits)
    if code is None:
        return _parse("+" + digits, None)
    region = phonenumbers.region_code_for_country_code(code)
    rule = COUNTRY_RULES.get(region)
    if rule is not None:
        rest = rule(rest)
    number = _parse(f"+{code}{rest}", None)
    md = PhoneMetadata.metadata_for_region(region)
    if rest.startswith("0") and md is not None and md.national_prefix == "0" and _score(number) < 2:
        without = _parse(f"+{code}{rest[1:]}", None)
        if _score(without) >= _score(number):
            number = without
    return number


def _double_zero(digits: str, country: str) -> phonenumbers.PhoneNumber | None:
    """'00' + `digits`: dialled abroad, or a home number with its trunk zero typed twice
    ('0015123456789' in DE: +1 512-345-6789, or 0151 23456789?). Both valid: refused."""
    abroad = _international(digits)
    md = PhoneMetadata.metadata_for_region(country)
    if md is None or md.national_prefix != "0":
        return abroad
    home = _national("0" + digits, country)
    if _score(home) < 3:
        return abroad
    if abroad is not None and home is not None and _score(abroad) >= 2 and abroad != home:
        raise Refused(f"is either {_show(abroad)} dialled with 00, or the {country} number "
                      f"{_show(home)} with its 0 typed twice: write it with + or without the "
                      "extra 0")
    return home


def split_country_code(digits: str) -> tuple[int | None, str]:
    """'447911123456' -> (44, '7911123456'); (None, digits) when no country code starts it."""
    for k in (1, 2, 3):
        if len(digits) > k and digits[0] != "0" and int(digits[:k]) in COUNTRY_CODE_TO_REGION_CODE:
            return int(digits[:k]), digits[k:]
    return None, digits


def _national(digits: str, country: str) -> phonenumbers.PhoneNumber | None:
    """`digits` as a number written the way `country` writes its own, with its rules applied."""
    rule = COUNTRY_RULES.get(country)
    if rule is not None:
        digits = rule(digits)
    return _parse(digits, country)


def national_digits(digits: str, country: str) -> str:
    """The digits without the country's trunk prefix ('07911123456' -> '7911123456' in GB)."""
    md = PhoneMetadata.metadata_for_region(country)
    prefix = md.national_prefix if md is not None else None
    return digits[len(prefix):] if prefix and digits.startswith(prefix) else digits


# --- near misses ------------------------------------------------------------------------------


@cache
def _mobile_shape(region: str) -> tuple[re.Pattern[str], tuple[int, ...]] | None:
    md = PhoneMetadata.metadata_for_region(region)
    if md is None or md.mobile is None or not md.mobile.national_number_pattern:
        return None
    general = md.general_desc.possible_length if md.general_desc is not None else None
    lengths = tuple(md.mobile.possible_length or ()) or tuple(general or ())
    lengths = tuple(n for n in lengths if n > 0)
    return (re.compile(md.mobile.national_number_pattern), lengths) if lengths else None


def near_miss(nsn: str, region: str, *, tight: bool = False) -> str:
    # `nsn`: the digits as written at home (a trunk prefix is dropped here) or after the code.
    """'short' or 'long' when `nsn` is a mobile of `region` a digit or two short or long (starts
    like one, or is one digit away from one), else ''. A typo'd home number is never another
    country's: '532 123 45 6' under TR is a TR mobile missing a digit, not +53 2123456 in Cuba.

    `tight` (the digits also read as another country's mobile, in full): only a digit short or
    long at the end, so '447400123456' stays a GB number under US rather than a US typo."""
    shape = _mobile_shape(region)
    if shape is None or not nsn.isdigit():
        return ""
    mobile, lengths = shape
    written, nsn = nsn, national_digits(nsn, region)
    if len(written) > 1 and mobile.fullmatch(national_digits(written[1:], region)):
        return "long"  # a stray digit before the number: '2' + '0502345678'
    n = len(nsn)
    if n in lengths:
        return ""
    digits = "0123456789"
    for length in lengths:
        gap = length - n
        if tight and abs(gap) != 1:
            continue
        if gap == 1:
            if any(mobile.fullmatch(nsn[:i] + d + nsn[i:]) for i in range(n + 1) for d in digits):
                return "short"
        elif gap == 2:
            if any(mobile.fullmatch(nsn + a + b) for a in digits for b in digits):
                return "short"
        elif gap == -1:
            if any(mobile.fullmatch(nsn[:i] + nsn[i + 1:]) for i in range(n)):
                return "long"
        elif gap == -2 and mobile.fullmatch(nsn[:length]):
            return "long"
    return ""


def _too(miss: str, region: str) -> str:
    shape = _mobile_shape(region)
    lengths = " or ".join(str(n) for n in sorted(set(shape[1]))) if shape else "?"
    md = PhoneMetadata.metadata_for_region(region)
    trunk = md.national_prefix if md is not None and md.national_prefix else ""
    without = f" without the leading {trunk}" if trunk else ""
    typo = "missing" if miss == "short" else "too many"
    return (f"is too {miss} for {region} (a digit or two {typo}: {region} mobiles have {lengths} "
            f"digits{without}); check it")


# --- country rules phonenumbers leaves to the caller ------------------------------------------
# Each rule takes the national digits (after the country code, or as written at home) and gives
# them back as phonenumbers expects, or raises Refused. To add one: a function here, its entry in
# COUNTRY_RULES, and a case in tests/test_phones.py::test_country_rules.


def _mexico(national: str) -> str:
    """Mexico dropped the mobile '1' after +52 (and the 044/045 and 01 prefixes) in 2019."""
    for old, length in (("044", 13), ("045", 13), ("01", 12)):
        if national.startswith(old) and len(national) == length:
            return national[len(old):]
    if national.startswith("1") and len(national) == 11:
        return national[1:]
    return national


def _argentina(national: str) -> str:
    """An Argentine mobile is area code + 15 + number; '15-...' alone lacks the area code."""
    bare = national[1:] if national.startswith("0") else national
    if bare.startswith("15") and 8 <= len(bare) <= 10:
        raise Refused("is an Argentine mobile without its area code (write it as e.g. "
                      "11 15-1234-5678 for Buenos Aires, or +54 9 11 1234-5678)")
    return national


COUNTRY_RULES: dict[str, Callable[[str], str]] = {"MX": _mexico, "AR": _argentina}


def _warn(warnings: list[str]) -> str:
    return "warning: " + "; ".join(warnings) if warnings else ""


def _is_date(text: str) -> bool:
    m = _DATE.match(text)
    if not m:
        return False
    g = [x for x in m.groups() if x is not None]
    if len(g[0]) == 4:
        month, day = int(g[1]), int(g[2])
    else:
        first, second = int(g[0]), int(g[1])
        day, month = (first, second) if second <= 12 else (second, first)
    return 1 <= month <= 12 and 1 <= day <= 31


def _possible(number: phonenumbers.PhoneNumber) -> bool:
    """Possible as a whole number: a 'local only' length (7 digits after +1) cannot be messaged."""
    reason = phonenumbers.is_possible_number_with_reason(number)
    return bool(reason == phonenumbers.ValidationResult.IS_POSSIBLE)


def _score(number: phonenumbers.PhoneNumber | None) -> int:
    if number is None or not _possible(number):
        return 0
    if not phonenumbers.is_valid_number(number):
        return 1
    return 3 if phonenumbers.number_type(number) in _MOBILE_TYPES else 2


def _read_without_plus(
    digits: str, country: str, text: str
) -> tuple[phonenumbers.PhoneNumber | None, str]:
    """National ('0502345678', or '502345678' after Excel ate the zero) or international without
    its '+' (Excel drops a typed '+': '4915123456789'). A mobile reading beats a landline one,
    a valid one a merely possible one; when both readings are equally plausible the national one
    wins, unless the digits start with the home country's own code, and the row says so.

    The international reading needs a valid number: a home number a digit or two off is refused
    (Refused), never read as another country's ('718-350-46' in the US is not +7 18 35046)."""
    national = _national(digits, country)
    foreign = _international(digits)
    a, b = _score(national), _score(foreign)
    if foreign is None or b == 0 or (national is not None and national == foreign):
        return national, ""
    home = str(phonenumbers.country_code_for_region(country))
    own = foreign.country_code == int(home)
    if a == 2 and b == 3 and not own and near_miss(digits, country, tight=True):
        # A home landline, or a home mobile with a stray digit, or a foreign mobile: refused.
        raise Refused(f"{_too('long' if len(digits) > 9 else 'short', country)}; if it is "
                      f"{_show(foreign)}, write it with its + in front")
    if a < 2 and not (own and b >= 2):
        miss = near_miss(digits, country, tight=b == 3)
        if miss:
            also = ""
            if b >= 2:
                also = f"; if it is {_show(foreign)}, write it with its + in front"
            raise Refused(_too(miss, country) + also)
        if b < 2:
            return national, ""  # a possible foreign number is not enough to leave home
    if national is None or a == 0:
        return foreign, ""
    if a != b:
        return (national, "") if a > b else (foreign, "")
    if a < 2:
        return national, ""
    chosen, other = (foreign, national) if digits.startswith(home) else (national, foreign)
    how = "an international number" if other is foreign else f"a {country} number"
    return chosen, (
        f"'{digits}' read as {_show(chosen)}; as {how} it would be {_show(other)}: check it"
    )


def _show(number: phonenumbers.PhoneNumber) -> str:
    region = phonenumbers.region_code_for_number(number) or "?"
    return f"{phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)} ({region})"


@cache
def _region_patterns(country: str) -> tuple[str, str, re.Pattern[str], re.Pattern[str]] | None:
    """The country's code, trunk prefix and valid-number patterns, from phonenumbers' metadata.

    Only for countries whose national prefix is a plain prefix (no transform rules).
    """
    md = PhoneMetadata.metadata_for_region(country.upper())
    if md is None or md.national_prefix_transform_rule or not md.general_desc:
        return None
    prefix = md.national_prefix or ""
    if (md.national_prefix_for_parsing or prefix) != prefix:
        return None
    kinds = [d.national_number_pattern for d in (md.mobile, md.fixed_line)
             if d is not None and d.national_number_pattern]
    if not kinds or not md.general_desc.national_number_pattern:
        return None
    general = re.compile(md.general_desc.national_number_pattern)
    return str(md.country_code), prefix, general, re.compile("|".join(f"(?:{k})" for k in kinds))


@cache
def _possible_lengths(code: int) -> frozenset[int]:
    """Every length a national number may have under country calling code `code`."""
    lengths: set[int] = set()
    for region in COUNTRY_CODE_TO_REGION_CODE.get(code, ()):
        md = (PhoneMetadata.metadata_for_nongeo_region(code) if region == "001"
              else PhoneMetadata.metadata_for_region(region))
        if md is not None and md.general_desc is not None:
            lengths.update(md.general_desc.possible_length or ())
    return frozenset(lengths)


def _foreign_possible(digits: str) -> bool:
    """Could these digits, read with a '+', be a possible number of some country?"""
    for k in (1, 2, 3):
        code = int(digits[:k]) if digits[:k].isdigit() and digits[0] != "0" else 0
        if code in COUNTRY_CODE_TO_REGION_CODE and len(digits) - k in _possible_lengths(code):
            return True
    return False


def _fast_path(digits: str, country: str, international: bool) -> str | None:
    """E.164 digits for a number that is plainly valid in `country` and has no other reading.

    phonenumbers.parse costs ~50 µs a cell; this regex check on its own metadata is ~2 µs and
    covers the common case of a sheet of local numbers. Anything else takes the full path.
    """
    info = _region_patterns(country)
    if info is None:
        return None
    code, prefix, general, valid = info

    def ok(nsn: str) -> bool:
        return nsn[:1] not in ("", "0") and bool(general.fullmatch(nsn)) and bool(valid.fullmatch(nsn))

    if international:
        return code + digits[len(code):] if digits.startswith(code) and ok(digits[len(code):]) else None
    national = digits[len(prefix):] if prefix and digits.startswith(prefix) else digits
    readings = [(national, True)] if ok(national) else []
    if digits.startswith(code) and ok(digits[len(code):]):
        readings.append((digits[len(code):], False))
    if len(readings) != 1:
        return None
    nsn, is_national = readings[0]
    if is_national and _foreign_possible(digits):
        return None  # '4915123456789' under DE: a German number, or +49 1512...?
    return code + nsn


def _parse(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(text, region)
    except NumberParseException:
        return None


def _existing_jid(text: str) -> PhoneResult:
    user, _, domain = text.lower().partition("@")
    domain = "@" + domain
    if domain == "@c.us":
        domain = USER_JID  # the older whatsapp-web.js spelling of the same address
    if domain == USER_JID and _JID_USER.fullmatch(user):
        return PhoneResult(user + USER_JID)
    if domain == GROUP_JID and _GROUP_USER.fullmatch(user):
        return PhoneResult(user + GROUP_JID)
    return PhoneResult(None, f"'{text}' is not a WhatsApp JID (expected 972501234567{USER_JID})")
