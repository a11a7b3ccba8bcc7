"""Phone cells to WhatsApp JIDs: find the phone column, normalise, and say why a cell is unusable."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

from campaign.errors import InputError

USER_JID = "@s.whatsapp.net"
GROUP_JID = "@g.us"
# Header words that name a phone column, exact matches first, then "contains" (English and Hebrew).
PHONE_WORDS = (
    "phone", "mobile", "cell", "cellphone", "whatsapp", "jid", "tel", "telephone", "msisdn",
    "phone number", "mobile phone", "טלפון", "נייד", "פלאפון", "סלולרי", "טלפון נייד", "וואטסאפ",
    "מספר טלפון",
)  # fmt: skip
CONTAINS_WORDS = ("phone", "mobile", "whatsapp", "cell", "טלפון", "נייד", "פלאפון", "סלולר", "וואטסאפ")

# Bidi marks and invisible spaces that ride along when numbers are copied from RTL text.
_INVISIBLE = dict.fromkeys(
    map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff\u200b"), None
)
_SCIENTIFIC = re.compile(r"^[+-]?\d+(?:[.,]\d+)?[eE][+-]?\d+$")
_FLOAT_TAIL = re.compile(r"^\+?\d+\.0+$")
_ALLOWED = re.compile(r"^\+?[\d\s\-.()/]+$")
_JID_USER = re.compile(r"^\d{5,20}$")
_GROUP_USER = re.compile(r"^\d+(?:-\d+)*$")
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
    for i, name in enumerate(folded):
        if any(word in name for word in CONTAINS_WORDS):
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
    digits = re.sub(r"\D", "", text)
    if text.startswith("+"):
        number = _parse("+" + digits, None)
    elif digits.startswith("00"):
        number = _parse("+" + digits[2:], None)
    else:
        # National first ('0502345678', or '502345678' after Excel ate the zero), then as an
        # international number written without its plus ('972502345678').
        number = _parse(digits, country)
        if number is None or not phonenumbers.is_possible_number(number):
            alt = _parse("+" + digits, None)
            if alt is not None and phonenumbers.is_possible_number(alt):
                number = alt
    if number is None or not phonenumbers.is_possible_number(number):
        return PhoneResult(
            None, f"'{text}' is not a possible phone number for {country} (wrong length or prefix)"
        )
    jid = phonenumbers.format_number(number, PhoneNumberFormat.E164)[1:] + USER_JID
    if not phonenumbers.is_valid_number(number):
        region = phonenumbers.region_code_for_country_code(number.country_code)
        warning = f"'{text}' is not in {region}'s known number ranges; check it"
        if strict:
            return PhoneResult(None, warning + " (rejected by --strict-phones)")
        return PhoneResult(jid, "warning: " + warning)
    return PhoneResult(jid)


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
    if domain == USER_JID and _JID_USER.match(user):
        return PhoneResult(user + USER_JID)
    if domain == GROUP_JID and _GROUP_USER.match(user):
        return PhoneResult(user + GROUP_JID)
    return PhoneResult(None, f"'{text}' is not a WhatsApp JID (expected 972501234567{USER_JID})")
