"""The home country of a sheet's numbers, and each row's own country (SPEC step 3).

Numbers written without `+`/`00` are read in a home country. `--country` names it; without it,
it is inferred: each candidate (the countries of the sheet's international numbers, the
computer's locale region, `CAMPAIGN_COUNTRY`, and IL) is scored by how many local-format numbers
are valid mobiles under it, and the output says which won and by how much. A column of countries
(Country, Mailing Country, Land, País, ארץ, البلد, ...) gives each row its own.
"""

from __future__ import annotations

import gettext
import locale
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import phonenumbers
from phonenumbers import PhoneNumberType

from campaign.contacts import Sheet
from campaign.errors import InputError

FALLBACK = "IL"  # the country this tool was first written for: the last candidate
SAMPLE = 500  # local numbers scored per candidate; enough to tell, cheap on 100k rows
MIN_DIGITS = 6  # fewer digits is not a phone number written locally
_MOBILE_TYPES = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)

# Names people use that are not ISO's (ISO says 'United Kingdom', the sheet says 'UK', 'England').
ALIASES = {
    "UK": "GB", "U.K.": "GB", "England": "GB", "Scotland": "GB", "Wales": "GB",
    "Northern Ireland": "GB", "Great Britain": "GB", "Britain": "GB", "United Kingdom": "GB",
    "USA": "US", "U.S.A.": "US", "U.S.": "US", "America": "US", "United States of America": "US",
    "United States": "US", "EEUU": "US", "EE.UU.": "US", "Estados Unidos": "US", "ארה\"ב": "US",
    "ארהב": "US", "אמריקה": "US",
    "בריטניה": "GB", "אנגליה": "GB", "רוסיה": "RU", "Holland": "NL", "The Netherlands": "NL", "Russia": "RU",
    "South Korea": "KR", "Korea": "KR", "North Korea": "KP", "Iran": "IR", "Vietnam": "VN",
    "Czech Republic": "CZ", "Czechia": "CZ", "Turkey": "TR", "Türkiye": "TR", "Turkiye": "TR",
    "Ivory Coast": "CI", "Palestine": "PS", "UAE": "AE", "U.A.E.": "AE", "Emirates": "AE",
    "KSA": "SA", "Saudi": "SA", "Macedonia": "MK", "Swaziland": "SZ", "Bolivia": "BO",
    "Venezuela": "VE", "Tanzania": "TZ", "Syria": "SY", "Laos": "LA", "Moldova": "MD",
    "Taiwan": "TW", "Hong Kong": "HK", "Macau": "MO", "Brunei": "BN", "Cape Verde": "CV",
    "Vatican": "VA", "Kosovo": "XK", "Deutschland": "DE", "Österreich": "AT", "Schweiz": "CH",
    "Suisse": "CH", "Svizzera": "CH", "España": "ES", "México": "MX", "Brasil": "BR",
    "Perú": "PE", "Italia": "IT", "Sverige": "SE", "Norge": "NO", "Danmark": "DK", "Suomi": "FI",
    "Polska": "PL", "Nederland": "NL", "België": "BE", "Belgique": "BE", "Ελλάδα": "GR",
    "Россия": "RU", "Україна": "UA", "ישראל": "IL", "מדינת ישראל": "IL", "فلسطين": "PS",
    "السعودية": "SA", "الإمارات": "AE", "مصر": "EG", "الأردن": "JO", "لبنان": "LB",
    "المغرب": "MA", "تونس": "TN", "الجزائر": "DZ", "العراق": "IQ", "الكويت": "KW", "قطر": "QA",
    "البحرين": "BH", "عمان": "OM", "اليمن": "YE", "سوريا": "SY", "ليبيا": "LY", "السودان": "SD",
    "Česko": "CZ", "Magyarország": "HU", "România": "RO", "Ireland": "IE", "Éire": "IE",
    "日本": "JP", "中国": "CN", "한국": "KR", "대한민국": "KR", "भारत": "IN", "Bharat": "IN",
}
# Cells that say "no country": 'NA' is "not available" in a sheet far more often than Namibia.
NO_COUNTRY = frozenset({"na", "n/a", "none", "unknown", "other", "-", "--", "?", "null", "nan"})
# Languages whose country names are read (pycountry's ISO 3166 translations).
LANGUAGES = (
    "he", "ar", "es", "fr", "de", "pt", "pt_BR", "it", "nl", "ru", "uk", "tr", "pl", "sv", "da",
    "nb", "fi", "cs", "sk", "ro", "hu", "el", "bg", "hr", "sr", "ja", "zh_CN", "zh_TW", "ko",
    "id", "ms", "vi", "th", "fa", "hi", "ca",
)
# Header words of a column of countries; 'Country Code' is one when its cells are letters.
COUNTRY_WORDS = frozenset({
    "country", "countries", "land", "pais", "pays", "paese", "ארץ", "מדינה", "بلد", "البلد",
    "الدولة", "دولة", "страна", "ulke", "kraj", "zeme", "maa", "nation", "staat",
    "cc",  # Mailchimp's audience export: the ISO code of where the subscriber signed up
})
# A header that names a country of something else than where the person lives and is reached.
NOT_COUNTRY_WORDS = frozenset({"birth", "origin", "nationality", "citizenship", "passport",
                               "issue", "issuing", "language", "currency"})
_TOKEN = re.compile(r"[^\W_]+")


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(c for c in decomposed if not unicodedata.combining(c))
    text = re.sub(r"[.\u200e\u200f'\"׳״]", "", text)
    text = re.sub(r"[\s\-_,()]+", " ", text).strip()
    return text[4:] if text.startswith("the ") else text


@cache
def _names() -> dict[str, str]:
    """Folded country name or code (any language) -> ISO 3166 alpha-2."""
    import pycountry

    index: dict[str, str] = {}

    def add(name: str | None, code: str) -> None:
        if name:
            index.setdefault(_fold(name), code)

    countries = list(pycountry.countries)
    for alias, code in ALIASES.items():
        add(alias, code)
    for c in countries:
        for name in (c.alpha_2, c.alpha_3, c.name, getattr(c, "common_name", None),
                     getattr(c, "official_name", None)):
            add(name, c.alpha_2)
        if ", " in c.name:  # 'Korea, Republic of' -> also 'Republic of Korea'
            head, _, tail = c.name.partition(", ")
            add(f"{tail} {head}", c.alpha_2)
    for language in LANGUAGES:
        try:
            tr = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[language])
        except OSError:
            continue
        for c in countries:
            for name in (c.name, getattr(c, "common_name", None), getattr(c, "official_name", None)):
                if name:
                    add(tr.gettext(name), c.alpha_2)
    return index


def country_code(text: str) -> str | None:
    """'United Kingdom', 'UK', 'GBR', 'gb', 'Royaume-Uni', 'בריטניה' -> 'GB'; None if unknown."""
    folded = _fold(text)
    if not folded:
        return None
    if folded in NO_COUNTRY:
        return None
    code = _names().get(folded)
    return code if code in phonenumbers.SUPPORTED_REGIONS else None


def option_country(value: str) -> str:
    """`--country` / `CAMPAIGN_COUNTRY`: an ISO code ('UK' is taken as 'GB') or a name."""
    upper = value.strip().upper()
    if upper == "UK":
        return "GB"
    if upper in phonenumbers.SUPPORTED_REGIONS:
        return upper
    code = country_code(value)
    if code is None:
        raise InputError(
            f"--country {value!r} is not a two-letter country code (e.g. IL, US, GB, DE)."
        )
    return code


# --- the column of countries ------------------------------------------------------------------


def country_column(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> int | None:
    """The column that gives each row its country (names or ISO codes), or None.

    Named like one (Country, Mailing Country, Land, País, ארץ, البلد, 'Country Code' holding
    letters) and at least half its filled cells name a country; the plainest name wins.
    """
    sample = rows[:200]
    ranked = []
    for i, name in enumerate(columns):
        tokens = _TOKEN.findall(_fold(name))
        if not any(t in COUNTRY_WORDS for t in tokens) or any(t in NOT_COUNTRY_WORDS for t in tokens):
            continue
        cells = [r[i] for r in sample if i < len(r) and r[i].strip()]
        known = sum(1 for c in cells if country_code(c))
        if cells and known * 2 >= len(cells):
            ranked.append((len(tokens), i))
    return min(ranked)[1] if ranked else None


# --- the home country -------------------------------------------------------------------------


def locale_region(environ: Mapping[str, str]) -> str | None:
    """The region of this computer's locale (`LANG=en_GB.UTF-8` -> GB), or None."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name, "")
        if value:
            return _region_of(value)
    try:
        value = locale.getlocale()[0] or ""
    except ValueError:
        return None
    return _region_of(value)


def _region_of(value: str) -> str | None:
    m = re.match(r"^[A-Za-z]{2,3}[_-]([A-Za-z]{2})(?:[.@]|$)", value)
    if m:
        region = m.group(1).upper()
        return region if region in phonenumbers.SUPPORTED_REGIONS else None
    if "_" in value:  # Windows: 'English_United Kingdom'
        return country_code(value.split("_", 1)[1].split(".")[0])
    return None


def configured_country(environ: Mapping[str, str], cwd: Path) -> str | None:
    """`CAMPAIGN_COUNTRY` from the environment, else from `.env` in the working directory."""
    from campaign.client import _read_dotenv

    value = (environ.get("CAMPAIGN_COUNTRY") or "").strip()
    if not value:
        try:
            value = _read_dotenv(cwd / ".env").get("CAMPAIGN_COUNTRY", "").strip()
        except InputError:
            value = ""
    if not value:
        return None
    try:
        return option_country(value)
    except InputError:
        raise InputError(
            f"CAMPAIGN_COUNTRY={value!r} is not a country code phonenumbers knows. Set it to the "
            "two-letter ISO code of your numbers' country (GB, US, IL, DE, ...)."
        ) from None


@dataclass(frozen=True)
class Home:
    """The home country and how it was decided, as the output says it."""

    country: str
    how: str  # 'inferred: 25 of 27 local numbers are GB mobiles; --country to change'

    def line(self) -> str:
        return f"country {self.country} ({self.how})"


def is_local(cell: str) -> bool:
    """A number written without '+'/'00' (and not a JID or a link, which say their country)."""
    from campaign.phones import clean

    text = clean(cell)
    if not text or text.startswith("+") or "@" in text:
        return False
    digits = sum(c.isdigit() for c in text)
    return digits >= MIN_DIGITS and not text.lstrip("(").startswith("00")


def international_regions(cells: Sequence[str]) -> Counter[str]:
    """The countries of the cells written with '+'/'00' (or as links), by how often."""
    from campaign.phones import clean

    seen: Counter[str] = Counter()
    for cell in cells:
        text = clean(cell)
        if not text or "@" in text:
            continue
        if text.startswith("+") or text.startswith("00"):
            digits = "".join(c for c in text if c.isdigit())
            digits = digits[2:] if text.startswith("00") else digits
            try:
                number = phonenumbers.parse("+" + digits, None)
            except phonenumbers.NumberParseException:
                continue
            # Outside every known range ('+44 7700 900123'): still its calling code's country.
            region = phonenumbers.region_code_for_number(number) or (
                phonenumbers.region_code_for_country_code(number.country_code or 0))
            if region and region not in ("001", "ZZ"):
                seen[region] += 1
    return seen


@dataclass(frozen=True)
class Score:
    country: str
    mobiles: int
    valid: int


def score(cells: Sequence[str], country: str) -> Score:
    """How many of `cells` (local-format) read as valid numbers, and as mobiles, of `country`."""
    from campaign.phones import to_jid

    code = phonenumbers.country_code_for_region(country)
    mobiles = valid = 0
    for cell in cells:
        jid = to_jid(cell, country).jid
        if not jid or not jid.endswith("@s.whatsapp.net"):
            continue
        try:
            number = phonenumbers.parse("+" + jid.partition("@")[0], None)
        except phonenumbers.NumberParseException:
            continue
        if number.country_code != code or not phonenumbers.is_valid_number(number):
            continue
        # By calling code: GB and Guernsey, US and Canada read the same numbers the same way.
        valid += 1
        if phonenumbers.number_type(number) in _MOBILE_TYPES:
            mobiles += 1
    return Score(country, mobiles, valid)


# Among countries that read a sheet equally well, the ones more sheets come from are named first:
# the main region of each calling code, then roughly by how many people use WhatsApp there.
_LIKELY = ("IN", "BR", "ID", "US", "MX", "RU", "PH", "TR", "DE", "IT", "ES", "GB", "FR", "AR",
           "CO", "NG", "PK", "EG", "ZA", "SA", "IL", "AE", "NL", "PL", "KE", "MY", "PE", "CL",
           "AU", "CA", "UA", "VN", "TH", "MA", "DZ", "SG", "PT", "BE", "CH", "AT", "SE", "GR",
           "JP", "KR", "CN", "BD", "IR", "IQ", "VE", "EC", "GT", "KZ", "UZ", "GH", "ET", "TZ",
           "NZ", "IE", "DK", "NO", "FI", "CZ", "RO", "HU", "JO", "LB", "KW", "QA", "OM", "BH")


def _prior(country: str) -> int:
    code = phonenumbers.country_code_for_region(country)
    main = phonenumbers.region_code_for_country_code(code) == country
    rank = _LIKELY.index(country) if country in _LIKELY else len(_LIKELY)
    return rank + (0 if main else 1000)


def best_countries(cells: Sequence[str], *, limit: int = 5) -> list[Score]:
    """Every country phonenumbers knows, scored on a small sample: for naming the right one."""
    sample = list(cells[:60])
    scores = [score(sample, r) for r in sorted(phonenumbers.SUPPORTED_REGIONS)]
    scores = [s for s in scores if s.valid * 2 > len(sample)]
    # Equal mobiles: the country more sheets come from first (a TR sheet whose one short number
    # FI also calls valid is named TR, not FI); valid numbers only then.
    scores.sort(key=lambda s: (-s.mobiles, _prior(s.country), -s.valid, s.country))
    scores = _one_per_code(scores)
    return [s for s in scores if s.mobiles * 2 >= scores[0].mobiles][:limit] if scores else []


def _one_per_code(scores: list[Score]) -> list[Score]:
    """US, CA, and 20 other +1 regions read a US sheet alike: name the first of each code."""
    out, codes = [], set()
    for s in scores:
        code = phonenumbers.country_code_for_region(s.country)
        if code not in codes:
            codes.add(code)
            out.append(s)
    return out


def _names_of(scores: Sequence[Score], total: int) -> str:
    return ", ".join(f"{s.country} ({s.mobiles} of {total} mobiles)" for s in scores)


def _read_best(found: Sequence[Score], total: int) -> str:
    """The end of every 'cannot tell the country' message: the likely ones and how to say it."""
    return (f"They read best as {_names_of(found, total)}. Give it with --country "
            f"{found[0].country} (or set CAMPAIGN_COUNTRY={found[0].country} in .env).")


def decide_home(
    cells: Sequence[str],
    *,
    given: str | None,
    configured: str | None,
    locale_country: str | None,
    row_countries: Sequence[str] = (),
    sample_of_more: bool = False,
) -> Home:
    """The home country for the numbers in `cells` (the phone cells of the rows without a
    country of their own). Exit 2 when no candidate reads most local numbers as valid, or when
    the given or inferred country reads most of them as invalid."""
    sample = [c for c in cells if is_local(c)][:SAMPLE]
    if given is not None:
        _check_given(cells, sample, given)
        return Home(given, "--country")
    abroad = international_regions(cells[: SAMPLE * 4])
    candidates = _candidates(configured, locale_country, row_countries, abroad)
    # Digits that carry their country code without the '+' ('33612345678' in Brevo's SMS column)
    # read the same under every candidate: they name a candidate, and are no local number.
    bare = [r for c in sample if (r := _bare_international(c, candidates))]
    if bare:
        sample = [c for c in sample if not _bare_international(c, candidates)]
        candidates += [m for r, _ in Counter(bare).most_common() if (m := _main(r)) not in candidates]
    total = len(sample)
    if not total:
        return Home(candidates[0], "no local number to infer it from: each is written with its "
                                   "country code or in a row that names its country; --country "
                                   "to change")
    scores = [score(sample, c) for c in candidates]
    best = _best(scores, candidates, configured, abroad, row_countries, total)
    if best.valid * 2 <= total or best.mobiles * 2 <= total:
        home = _like_their_numbers(sample, best, abroad)  # may ask: 'did you mean --country GB?'
        if home is not None:
            return home
    if best.valid * 2 <= total:
        return _few_valid(sample, best, scores)
    if best.mobiles * 2 <= total:
        _mobiles_elsewhere(sample, best, scores)
    return Home(best.country, _inferred_line(best, scores, total, sample_of_more=sample_of_more))


def _check_given(cells: Sequence[str], sample: Sequence[str], given: str) -> None:
    """--country reading most local numbers as invalid stops the run ('did you mean')."""
    total = len(sample)
    if not total:
        return
    got = score(sample, given)
    # Outside the known ranges like the sheet's own '+44 7700 900123': not a wrong country.
    like_theirs = given in {_main(r) for r in international_regions(cells[: SAMPLE * 4])}
    if got.valid * 2 <= total and not (like_theirs and _possible(sample, given) * 2 > total):
        _wrong_country(sample, given, got, "--country")


def _candidates(configured: str | None, locale_country: str | None,
                row_countries: Sequence[str], abroad: Counter[str]) -> list[str]:
    """SPEC step 3's candidates, in the order that breaks the last tie."""
    candidates: list[str] = []
    around = [r for r, _ in Counter(row_countries).most_common()]
    for c in (configured, locale_country, *around, *(_main(r) for r, _ in abroad.most_common()),
              FALLBACK):
        if c and c not in candidates:
            candidates.append(c)
    return candidates


def _best(scores: Sequence[Score], candidates: Sequence[str], configured: str | None,
          abroad: Counter[str], row_countries: Sequence[str], total: int) -> Score:
    """The most mobiles wins; then CAMPAIGN_COUNTRY; then, among those reading most as mobiles,
    the country the sheet's own numbers with a code and rows' countries name most ('312 345
    6485' is a Chicago number and an Italian mobile: beside '+39 ...' numbers it is Italian,
    whatever the computer's locale); then the most valid numbers; then the candidate order."""
    said = Counter(_main(r) for r in abroad.elements()) + Counter(row_countries)
    return max(scores, key=lambda s: (s.mobiles, s.country == configured,
                                      said[s.country] if s.mobiles * 2 > total else 0, s.valid,
                                      -candidates.index(s.country)))


def _like_their_numbers(sample: Sequence[str], best: Score, abroad: Counter[str]) -> Home | None:
    """Local numbers outside the known ranges like the sheet's own international ones: the
    home country when the best candidate reads at most half of them as valid."""
    total = len(sample)
    theirs = [_main(r) for r, _ in abroad.most_common()]
    possible = _possible_in_their_country(sample, best, theirs)
    if not possible or best.valid * 2 > total:
        return None
    return Home(best.country, f"inferred: {possible} of {total} local numbers are possible "
                              f"{best.country} numbers, like the ones written with its "
                              f"code; --country to change")


def _few_valid(sample: Sequence[str], best: Score, scores: Sequence[Score]) -> Home:
    """The best candidate reads at most half the local numbers as valid: no country at all,
    or exit 2 naming the likely ones."""
    total = len(sample)
    found = best_countries(sample)
    if not found:
        # No country reads them: not a question of country (the plan names the bad cells).
        return Home(best.country, f"inferred: {best.mobiles} of {total} local numbers are "
                                  f"{best.country} mobiles; --country to change")
    tried = ", ".join(f"{s.country} {s.valid}" for s in sorted(scores, key=lambda s: -s.valid))
    raise InputError(
        f"cannot tell the country of the {total} phone numbers written without a country "
        f"code: none of the countries tried reads most of them as valid (valid numbers: "
        f"{tried}). {_read_best(found, total)}"
    )


def _inferred_line(best: Score, scores: Sequence[Score], total: int, *, sample_of_more: bool) -> str:
    kind = "mobiles" if best.mobiles * 2 > total else "valid numbers"
    count = best.mobiles if kind == "mobiles" else best.valid
    of = f"the first {total}" if sample_of_more else str(total)
    code = phonenumbers.country_code_for_region(best.country)
    also = [s.country for s in scores if s.mobiles == best.mobiles and s.mobiles * 2 > total
            and phonenumbers.country_code_for_region(s.country) != code]
    too = f" ({' and '.join(also)} reads them as mobiles too)" if also else ""
    return f"inferred: {count} of {of} local numbers are {best.country} {kind}{too}; --country to change"


# Not read otherwise under these either (a US number that IL alone reads abroad is not bare).
_PROBES = ("US", "GB", "IN", "BR", "DE")


def _main(region: str) -> str:
    """The country a number's region belongs to: '+44 7911 123456' is in Guernsey's block
    of the UK's numbering, and the sheet is GB's (NANP's and +7's countries are their own)."""
    code = phonenumbers.country_code_for_region(region)
    main = phonenumbers.region_code_for_country_code(code)
    return region if code in (1, 7) or main in ("ZZ", "001") else main


def _bare_international(cell: str, candidates: Sequence[str]) -> str | None:
    """The country of a number written with its country code but no '+', when every candidate
    reads it so (and as none of theirs), else None."""
    from campaign.phones import to_jid

    jids = {to_jid(cell, c).jid for c in candidates}
    if len(jids) != 1 or not (jid := jids.pop()) or not jid.endswith("@s.whatsapp.net"):
        return None
    if any(to_jid(cell, c).jid not in (jid, None) for c in _PROBES):
        return None
    try:
        number = phonenumbers.parse("+" + jid.partition("@")[0], None)
    except phonenumbers.NumberParseException:
        return None
    region = phonenumbers.region_code_for_number(number)
    codes = {phonenumbers.country_code_for_region(c) for c in candidates}
    return region if region and region != "001" and number.country_code not in codes else None


def _possible_in_their_country(sample: Sequence[str], best: Score, theirs: Sequence[str]) -> int:
    """No candidate reads most local numbers as mobiles, but the country of the sheet's own
    international numbers reads them as possible numbers of its own ('07700 900123' beside
    '+44 7700 900123': not in GB's known ranges, yet valid German landlines): ask for it.
    The count when that country is the best candidate already, else 0."""
    total = len(sample)
    for country in dict.fromkeys(theirs):
        possible = _possible(sample, country)
        if possible * 2 > total and country == best.country:
            return possible
        if possible * 2 > total:
            raise InputError(
                f"cannot tell the country of the {total} phone numbers written without a country "
                f"code: {best.country} reads {best.valid} of them as valid numbers but only "
                f"{best.mobiles} as mobiles, and the sheet's numbers written with a country code "
                f"are {country}'s, under which {possible} of them are possible numbers. Did you "
                f"mean --country {country}? (Or set CAMPAIGN_COUNTRY={country} in .env.)"
            )
    return 0


def _possible(sample: Sequence[str], country: str) -> int:
    """How many of `sample` read as numbers of `country`'s code (possible, valid or not)."""
    from campaign.phones import to_jid

    prefix = str(phonenumbers.country_code_for_region(country))
    return sum(1 for c in sample if (to_jid(c, country).jid or "").startswith(prefix))


def _mobiles_elsewhere(sample: Sequence[str], best: Score, scores: Sequence[Score]) -> None:
    """Valid but not mobiles here, mobiles there ('071 123 4567': Stuttgart landlines in DE,
    South African mobiles): a WhatsApp sheet is the other country's, so ask rather than guess."""
    total = len(sample)
    found = [s for s in best_countries(sample)
             if s.mobiles * 2 > total and s.mobiles > best.mobiles and s.mobiles >= best.valid]
    if not found:
        return
    tried = ", ".join(f"{s.country} {s.mobiles}" for s in sorted(scores, key=lambda s: -s.mobiles))
    raise InputError(
        f"cannot tell the country of the {total} phone numbers written without a country code: "
        f"{best.country} reads {best.valid} of them as valid but only {best.mobiles} as mobiles "
        f"(mobiles: {tried}). {_read_best(found, total)}"
    )


def _wrong_country(sample: Sequence[str], country: str, got: Score, source: str) -> None:
    found = [s for s in best_countries(sample) if s.country != country]
    total = len(sample)
    if not found or found[0].valid <= got.valid:
        return  # no country reads them better: the plan names the bad cells row by row
    raise InputError(
        f"{source} {country}: only {got.valid} of the {total} phone numbers written without a "
        f"country code are valid {country} numbers. Did you mean --country {found[0].country}? "
        f"They read best as {_names_of(found, total)}."
    )


def home_country(sheet: Sheet, explicit: Sequence[str], given: str | None,
                 environ: Mapping[str, str], cwd: Path) -> Home:
    """SPEC step 3 for a sheet: the phone cells of the rows without a country of their own
    (nor a country code beside the phone), and the candidates, to `decide_home`."""
    from campaign.phones import candidate_columns, dial_code, dial_code_column

    configured = configured_country(environ, cwd)
    here = locale_region(environ)
    tried = [c for c in (given, configured, here, FALLBACK) if c]
    try:
        columns = candidate_columns(sheet, explicit, list(dict.fromkeys(tried)))
    except InputError:
        columns = []  # the plan says what is wrong with --phone-column
    own = country_column(sheet.columns, sheet.rows[:200])
    code = dial_code_column(sheet, columns) if columns else None
    cells: list[str] = []
    named: list[str] = []
    more = False
    for row in sheet.rows:
        if len(cells) >= SAMPLE * 4:
            more = True
            break  # a sample: 100k rows are not read twice
        if own is not None and (theirs := country_code(row[own])):
            named.append(theirs)
            continue
        if code is not None and dial_code(row[code]) is not None:
            continue
        cells.extend(row[i] for i in columns if row[i].strip())
    return decide_home(cells, given=given, configured=configured, locale_country=here,
                       row_countries=named, sample_of_more=more)
