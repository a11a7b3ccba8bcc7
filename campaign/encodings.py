"""Which code page a CSV is in: BOM, strict UTF-8, then the legacy Windows code page that reads
as real words. A guess that could be wrong is refused rather than sent as garbled text.

Legacy code pages decode almost any bytes without error, so "it decodes" proves nothing: Hebrew
cp1255 bytes read as Cyrillic cp1251 or as accented Latin cp1252 just as well. What tells them
apart is what the letters look like: a word that mixes scripts ('Josי', 'Josй'), a vowel point
or symbol where a letter belongs ('Dana¹'), a Hebrew final letter inside a word, a Russian word
without a vowel, a Latin word made only of accented letters ('ùìåí'). Each reading is charged for
those, and the cheapest wins when no reading in another script comes close.
"""

from __future__ import annotations

import codecs
import itertools
import re
import unicodedata

from campaign.errors import InputError

BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
# The Windows code pages Excel writes as "CSV" on a machine set up for each language. The first
# four are the common ones; the rest are tried only when none of those reads as real words.
# Order is the tie-break among Latin readings that read equally well: Western first.
LEGACY = {
    "cp1252": "Windows-1252, Western European",
    "cp1255": "Windows-1255, Hebrew",
    "cp1256": "Windows-1256, Arabic",
    "cp1251": "Windows-1251, Cyrillic",
    "cp1250": "Windows-1250, Central European",
    "cp1253": "Windows-1253, Greek",
    "cp1254": "Windows-1254, Turkish",
    "cp1257": "Windows-1257, Baltic",
    "mac_roman": "Mac Roman, from Excel for Mac",
    "cp850": "DOS 850, Western European",
    "cp437": "DOS 437, US",
}
COMMON = ("cp1252", "cp1255", "cp1256", "cp1251")
# Words: runs of letters and any non-ASCII character (so a symbol inside a word is seen).
_WORD = re.compile(r"[^\s\x21-\x40\x5b-\x60\x7b-\x7e]*[^\x00-\x7f][^\s\x21-\x40\x5b-\x60\x7b-\x7e]*")
_ICELANDIC = set("þðýÞÐÝ")
_GREEK_VOWELS = set("αεηιουωάέήίόύώϊϋΐΰΑΕΗΙΟΥΩΆΈΉΊΌΎΏ")
_CYRILLIC_VOWELS = set("аеёиоуыэюяАЕЁИОУЫЭЮЯіїєІЇЄ")
_HEBREW_FINALS = set("ךםןףץ")
# The accented letters of the languages written in Latin letters, by language. A word whose
# accented letters no one language has together ('Dvoøák': Nordic ø with Czech á; 'Èerná') is a
# word read in the wrong code page: Czech cp1250 read as Western cp1252 looks just like that.
_LATIN_ALPHABETS = tuple(set(letters) for letters in (
    "àâæçéèêëîïôœùûüÿ",  # French
    "äöüß",  # German
    "áéíñóúü",  # Spanish
    "àáâãçéêíóôõú",  # Portuguese
    "àèéìíîòóù",  # Italian
    "àçèéíïòóúü",  # Catalan
    "éèëïóöü",  # Dutch
    "åæøé",  # Danish, Norwegian
    "åäöé",  # Swedish, Finnish
    "áæéíóöúýþð",  # Icelandic
    "áäčďéěíĺľňóôŕřšťúůýž",  # Czech, Slovak
    "ąćęłńóśźż",  # Polish
    "áéíóöőúüű",  # Hungarian
    "ăâîșşțţ",  # Romanian
    "çğıöşüâîû",  # Turkish
    "čćđšž",  # Croatian, Slovenian, Bosnian
    "ąčęėįšųūžāēģīķļņōŗõäöü",  # Baltic
))
_ANY_ALPHABET = set().union(*_LATIN_ALPHABETS) | set("ñåøæœßÿ")
# Letters of real alphabets that are rare in any list of names; what Mac Roman and DOS bytes
# often become when read as a Windows code page.
_RARE_LETTERS = set("źĺŕľťďŷ")
SAMPLE_WORDS = 3000


def decode(data: bytes, name: str, encoding: str | None = None) -> tuple[str, str]:
    """The text and the encoding it was read with ('utf-8', 'cp1255', ...)."""
    if encoding:
        return _forced(data, name, encoding), encoding
    for bom, enc in BOMS:
        if data.startswith(bom):
            try:
                return data.decode(enc), enc
            except UnicodeDecodeError as e:
                raise InputError(
                    f"{name}: starts with a {enc.upper()} byte-order mark but byte {e.start} is not "
                    f"{enc.upper()}. Save the file again as 'CSV UTF-8'."
                ) from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    return _legacy(data, name)


def describe(encoding: str) -> str:
    return LEGACY.get(encoding, encoding)


def _forced(data: bytes, name: str, encoding: str) -> str:
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise InputError(
            f"--encoding {encoding!r} is not an encoding Python knows. Use a name like utf-8, "
            "cp1255 (Hebrew), cp1252 (Western), cp1256 (Arabic) or cp1251 (Cyrillic)."
        ) from None
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as e:
        raise InputError(
            f"{name}: byte {e.start} is not valid {encoding}. Check --encoding, or in Excel use "
            "Save As → 'CSV UTF-8 (Comma delimited)'."
        ) from None


def _legacy(data: bytes, name: str) -> tuple[str, str]:
    # Keyed by the text's hash, never the text: a 63 MB file read in 15 code pages kept 15 texts
    # (1.2 GB, 40 s); the chosen one is decoded again at the end (issue 19, round four).
    readings: dict[tuple[int, int], tuple[float, str, str]] = {}  # text -> (cost, enc, script)
    for enc in LEGACY:
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        key = (len(text), hash(text))
        if key not in readings:
            cost, script = implausibility(text)
            readings[key] = (cost, enc, script)
        del text
    if not readings:
        raise InputError(
            f"{name}: the text is not UTF-8 and not in any of the Windows code pages "
            f"({', '.join(LEGACY)}). In Excel use Save As → 'CSV UTF-8 (Comma delimited)', "
            "or name the encoding with --encoding NAME."
        )
    order = list(LEGACY)
    common = {t: v for t, v in readings.items() if v[1] in COMMON}
    if common and min(v[0] for v in common.values()) <= min(v[0] for v in readings.values()):
        readings = common  # a rarer code page only when it reads better than all the common ones
    ranked = sorted(readings.items(), key=lambda kv: (kv[1][0], order.index(kv[1][1])))
    _, (cost, enc, script) = ranked[0]
    text = data.decode(enc)
    words = max(1, len(set(_WORD.findall(text[: 1 << 20]))))
    # A reading in another script within reach of the best: the bytes fit both, we cannot tell.
    rivals = [e for _, (c, e, s) in ranked[1:] if s != script and c <= cost + 1 + cost * 0.25]
    if cost > words * 2:
        raise InputError(
            f"{name}: the text is not UTF-8 and reads as garbled in every code page tried "
            f"({', '.join(LEGACY)}). Give the encoding with --encoding NAME, or in Excel use "
            "Save As → 'CSV UTF-8 (Comma delimited)'."
        )
    if rivals:
        options = [enc, *rivals]
        raise InputError(
            f"{name}: the text is not UTF-8, and its bytes read differently in several code "
            f"pages ({', '.join(options)}), so the names could come out garbled. Give the "
            f"encoding with --encoding NAME (e.g. --encoding {options[0]}), or in Excel use "
            "Save As → 'CSV UTF-8 (Comma delimited)'."
        )
    return text, enc


def _first_words(text: str, count: int) -> list[str]:
    """The first `count` distinct words with a non-ASCII letter, found a megabyte at a time:
    findall over a whole 63 MB text listed millions of words to keep 3,000."""
    seen: dict[str, None] = {}
    start = 0
    while start < len(text) and len(seen) < count:  # a megabyte at a time, cut at a line end
        end = text.find("\n", start + (1 << 20))
        end = len(text) if end < 0 else end
        seen.update(dict.fromkeys(_WORD.findall(text, start, end)))  # a word holds no newline
        start = end
    return list(seen)[:count]


def implausibility(text: str) -> tuple[float, str]:
    """What reading `text` as real words costs, and its main non-ASCII script."""
    cost = 0.0
    scripts_seen: dict[str, int] = {}
    for word in _first_words(text, SAMPLE_WORDS):
        scripts: set[str] = set()
        letters: list[str] = []
        for i in range(len(word)):
            cost += _char_cost(word, i, scripts, letters, scripts_seen)
        if len(scripts) > 1:
            cost += 5  # 'Josי', 'Josй'
        if letters:
            cost += _word_cost(scripts, letters)
    main = max(scripts_seen, key=lambda s: scripts_seen[s]) if scripts_seen else "LATIN"
    return cost, main


def _char_cost(word: str, i: int, scripts: set[str], letters: list[str],
               scripts_seen: dict[str, int]) -> float:
    """The cost of word[i]; a letter is noted in `scripts`, `letters` and `scripts_seen`."""
    ch = word[i]
    cat = unicodedata.category(ch)
    if ch.isascii():
        if ch.isalpha():
            scripts.add("LATIN")
            letters.append(ch)
        return 0.0
    if cat[0] == "L":
        script = unicodedata.name(ch, "UNKNOWN").split()[0]
        scripts.add(script)
        letters.append(ch)
        scripts_seen[script] = scripts_seen.get(script, 0) + 1
        return 0.0
    if cat[0] == "M":
        # A vowel point with no letter under it is garbage; under one, rare in a list.
        return 3 if i == 0 or not word[i - 1].isalpha() else 1
    if cat == "Cf":
        return 0.0  # bidi marks are at home in Hebrew and Arabic text
    # Between letters of the same word, even with another symbol between: 'Dvo¯·k'.
    inside = any(c.isalpha() for c in word[:i]) and any(c.isalpha() for c in word[i + 1:])
    return 3 if inside else 0.25  # 'Dana¹' vs a standalone '€''


def _word_cost(scripts: set[str], letters: list[str]) -> float:
    """What a word of one script's letters costs when it does not read like that script's words."""
    if scripts == {"CYRILLIC"}:
        return _cyrillic_cost(letters)
    if scripts == {"GREEK"}:
        return (2 if len(letters) >= 3 and not _GREEK_VOWELS & set(letters) else 0) + \
            (2 if "ς" in letters[:-1] else 0)  # final sigma inside a word
    if scripts == {"HEBREW"}:
        return 2 if any(ch in _HEBREW_FINALS for ch in letters[:-1]) else 0
    if scripts == {"LATIN"}:
        return _latin_cost(letters)
    return 0.0


def _cyrillic_cost(letters: list[str]) -> float:
    cost = 0.0
    if len(letters) >= 3 and not _CYRILLIC_VOWELS & set(letters):
        cost += 2
    if any(a.islower() and b.isupper() for a, b in itertools.pairwise(letters)):
        cost += 2
    if letters[0] in "ъьыЪЬЫ":
        cost += 2  # no Russian word starts so; Hebrew's ת and ש read as Cyrillic do
    return cost


def _latin_cost(letters: list[str]) -> float:
    cost = 0.0
    if _ICELANDIC & set(letters):
        cost += 1  # 'Þükrü Yýlmaz' is Turkish read as Western; Icelandic lists are rare here
    elif len(letters) >= 3 and not any(ch.isascii() for ch in letters):
        cost += 2  # 'ùìåí' is Hebrew read as Western
    elif any(a.islower() and b.isupper() for a, b in itertools.pairwise(letters)):
        cost += 1
    accented = {ch.lower() for ch in letters if not ch.isascii()}
    if len(accented) > 1 and not any(accented <= alphabet for alphabet in _LATIN_ALPHABETS):
        cost += 2  # 'Dvoøák', 'Èerná': Central European text read as Western
    if accented - _ANY_ALPHABET:
        cost += 2  # 'Jƒrgen': a letter no language writes names with
    elif accented & _RARE_LETTERS:
        cost += 1  # 'Jźrgen aus Mźnchen': Mac Roman's 'ü' read as Windows-1250
    if any(not ch.isascii() and ch.isupper() for ch in letters[1:]) and any(
        ch.islower() for ch in letters
    ):
        cost += 2  # 'JŸrgen', 'JosÈ': a capital inside a lower-case word
    return cost
