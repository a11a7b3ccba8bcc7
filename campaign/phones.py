"""Phone cells to WhatsApp JIDs: find the phone column, normalise, and say why a cell is unusable."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneMetadata, PhoneNumberFormat

from campaign.errors import InputError

USER_JID = "@s.whatsapp.net"
GROUP_JID = "@g.us"
# Header words that name a phone column, exact matches first, then "contains" (English and Hebrew).
PHONE_WORDS = (
    "phone", "mobile", "cell", "cellphone", "whatsapp", "jid", "tel", "telephone", "msisdn",
    "phone number", "mobile phone", "טלפון", "נייד", "פלאפון", "סלולרי", "טלפון נייד", "וואטסאפ",
    "מספר טלפון",
)  # fmt: skip
# Matched at the start of a word, in this order of trust: 'Mobile No.' yes, 'Cancelled' no.
CONTAINS_WORDS = ("phone", "mobile", "whatsapp", "טלפון", "נייד", "פלאפון", "סלולר", "וואטסאפ",
                  "cell")  # fmt: skip

# Bidi marks and invisible spaces that ride along when numbers are copied from RTL text.
_INVISIBLE = dict.fromkeys(
    map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff\u200b"), None
)
_SCIENTIFIC = re.compile(r"^[+-]?\d+(?:[.,]\d+)?[eE][+-]?\d+$")
_FLOAT_TAIL = re.compile(r"^\+?\d+\.0+$")
_ALLOWED = re.compile(r"^\+?[\d\s\-.()/]+$")
_JID_USER = re.compile(r"[0-9]{5,20}")
_GROUP_USER = re.compile(r"[0-9]+(?:-[0-9]+)*")
TEXT_HINT = "format the phone column as Text in Excel and export again"


@dataclass(frozen=True)
class PhoneResult:
    """`jid` is None when the cell is unusable; `problem` is the error, or a warning beside a jid."""

    jid: str | None
    problem: str = ""


def find_phone_column(columns: Sequence[str], explicit: str | None = None) -> int:
    """Index of the phone column: `explicit` by name, or detected from the header words."""
    folded = [c.strip().casefold() for c in columns]
    listing = ", ".join(f"'{c}'" for c in columns if c)
    if explicit is not None:
        want = explicit.strip().casefold()
        if want in folded:
            return folded.index(want)
        raise InputError(
            f"--phone-column '{explicit}' is not a column of the sheet. The columns are: {listing}."
        )
    for word in PHONE_WORDS:
        if word in folded:
            return folded.index(word)
    for word in CONTAINS_WORDS:
        for i, name in enumerate(folded):
            if re.search(rf"(?<![^\W\d_]){word}", name):
                return i
    raise InputError(
        f"no phone column found. The columns are: {listing}. "
        "Name the one that holds the numbers with --phone-column NAME."
    )


@lru_cache(maxsize=65536)
def to_jid(raw: str, country: str = "IL", strict: bool = False) -> PhoneResult:
    """One cell to a JID like 972502345678@s.whatsapp.net; existing user and group JIDs are kept."""
    text = raw.translate(_INVISIBLE).replace("\u00a0", " ").strip()
    if not text:
        return PhoneResult(None, "no phone number")
    if "@" in text:
        return _existing_jid(text)
    if _SCIENTIFIC.match(text):
        return PhoneResult(
            None, f"'{text}' is Excel scientific notation and its digits are lost: {TEXT_HINT}"
        )
    if _FLOAT_TAIL.match(text):
        return PhoneResult(
            None, f"'{text}' ends in '.0' (Excel stored it as a number): {TEXT_HINT}"
        )
    if not _ALLOWED.match(text):
        return PhoneResult(None, f"'{text}' is not a phone number")
    digits = "".join(str(int(c)) for c in text if c.isdecimal())  # any script's digits, as ASCII
    international = text.startswith("+") or digits.startswith("00")
    if international:
        digits = digits[2:] if not text.startswith("+") else digits
    fast = _fast_path(digits, country, international)
    if fast is not None:
        return PhoneResult(fast + USER_JID)
    if international:
        number = _parse("+" + digits, None)
    else:
        # National ('0502345678', or '502345678' after Excel ate the zero) or international
        # without its plus ('972502345678', '12025550123'): a valid reading beats a merely
        # possible one, and the national reading wins a tie.
        readings = [n for n in (_parse(digits, country), _parse("+" + digits, None)) if n]
        number = next((n for n in readings if phonenumbers.is_valid_number(n)), None) or next(
            (n for n in readings if phonenumbers.is_possible_number(n)), None
        )
    if number is None or not phonenumbers.is_possible_number(number):
        return PhoneResult(
            None, f"'{text}' is not a possible phone number for {country} (wrong length or prefix)"
        )
    jid = phonenumbers.format_number(number, PhoneNumberFormat.E164)[1:] + USER_JID
    if not phonenumbers.is_valid_number(number):
        region = phonenumbers.region_code_for_country_code(number.country_code or 0)
        warning = f"'{text}' is not in {region}'s known number ranges; check it"
        if strict:
            return PhoneResult(None, warning + " (rejected by --strict-phones)")
        return PhoneResult(jid, "warning: " + warning)
    return PhoneResult(jid)


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
             if d is not None and d.national_number_pattern]  # fmt: skip
    if not kinds or not md.general_desc.national_number_pattern:
        return None
    general = re.compile(md.general_desc.national_number_pattern)
    return str(md.country_code), prefix, general, re.compile("|".join(f"(?:{k})" for k in kinds))


def _fast_path(digits: str, country: str, international: bool) -> str | None:
    """E.164 digits for a number that is plainly valid in `country` (mobile or fixed line).

    phonenumbers.parse costs ~50 µs a cell; this regex check on its own metadata is ~2 µs and
    covers the common case of a sheet of local numbers. Anything else takes the full path.
    """
    info = _region_patterns(country)
    if info is None:
        return None
    code, prefix, general, valid = info
    if international:
        candidates = [digits[len(code):]] if digits.startswith(code) else []
    else:
        national = digits[len(prefix):] if prefix and digits.startswith(prefix) else digits
        candidates = [national] + ([digits[len(code):]] if digits.startswith(code) else [])
    for nsn in candidates:
        if nsn[:1] not in ("", "0") and general.fullmatch(nsn) and valid.fullmatch(nsn):
            return code + nsn
    return None


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
