"""The options of a campaign as one frozen value, and `--config FILE.toml` defaults."""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from campaign.errors import InputError
from campaign.inputfiles import read_text_file
from campaign.vocabulary import MessageKind


@dataclass(frozen=True)
class SendOptions:
    """Everything `campaign send` was asked to do, after the CLI and the config file merged."""

    contacts: Path
    template: Path | None = None
    message: str | None = None
    kind: str = MessageKind.TEXT
    media_url: str | None = None
    sheet: str | None = None
    header_row: int | None = None
    phone_column: tuple[str, ...] | str | None = None  # repeatable; None or () means detect
    country: str | None = None  # None: inferred from the sheet (SPEC step 3)
    strict_phones: bool = False
    suppress: tuple[Path, ...] = ()
    encoding: str | None = None
    skip_hidden: bool = False
    dry_run: bool = False
    limit: int | None = None
    pace: str = "standard"
    # None: the preset's value (campaign.pacing.resolve_pace); 0 turns a cap or pause off.
    delay: float | None = None
    jitter: float | None = None
    pause_every: int | None = None
    pause_for: float | None = None
    max_per_hour: int | None = None
    max_per_day: int | None = None
    warm_up: bool | None = None
    window: str | None = None
    timezone: str | None = None
    skip_days: str | None = None
    stop_outside_window: bool = False
    start_at: str | None = None  # --start-at WHEN: nothing is sent before it
    detach: bool = False  # --detach: after the plan and the confirmation, go on in the background
    skip_contacted_within: float | None = None
    resend: bool = False
    check_media: bool = False
    retries: int = 3
    timeout: float = 30.0
    max_consecutive_failures: int = 5
    retry_unknown: bool = False
    test_to: str | None = None
    results: Path | None = None
    name: str | None = None
    state: Path | None = None
    yes: bool = False
    base_url: str | None = None
    sandbox: bool = False
    sender: tuple[str, ...] = ()  # --sender LABEL (repeatable): only these senders
    quiet: bool = False
    extra: dict[str, str] = field(default_factory=dict)


# Units people write after a number (issue 22: `--delay 5s` was "not a valid float range").
_UNITS = {
    "s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0,
    "m": 60.0, "min": 60.0, "mins": 60.0, "minute": 60.0, "minutes": 60.0,
    "h": 3600.0, "hr": 3600.0, "hrs": 3600.0, "hour": 3600.0, "hours": 3600.0,
    "d": 86400.0, "day": 86400.0, "days": 86400.0,
    "w": 604800.0, "week": 604800.0, "weeks": 604800.0,
}
_DURATION_PART = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)", re.IGNORECASE)


def parse_duration(text: str, unit: float) -> float:
    """'5s', '10m', '1h30m', '7d', '2 weeks', or a bare number in `unit` seconds, as a number of
    `unit`s (`parse_duration("12h", 86400) == 0.5`). ValueError says what is written wrong."""
    text = text.strip().lower()
    try:
        return float(text)  # a bare number keeps the option's documented unit
    except ValueError:
        pass
    total, at = 0.0, 0
    while at < len(text):
        m = _DURATION_PART.match(text, at)
        if m is None or m.group(2) not in _UNITS:
            raise ValueError(f"{text!r} is not a duration: write a number with a unit, e.g. "
                             "30s, 10m, 2h, 7d (or 1h30m)")
        total += float(m.group(1)) * _UNITS[m.group(2)]
        at = m.end()
        while at < len(text) and text[at] in " ,":
            at += 1
    if not text:
        raise ValueError("an empty duration: write a number with a unit, e.g. 30s, 10m, 2h, 7d")
    return total / unit


# What a TOML value must be, by the kind of option it sets (cli.py says each option's kind).
CONFIG_KINDS: dict[str, tuple[str, str]] = {
    "flag": ("true or false", "true"),
    "int": ("a whole number", "50"),
    "float": ("a number", "30"),
    "duration": ("a number or a duration in quotes", '"10m"'),
    "text": ("text in quotes", '"..."'),
    "list": ("text or a list of texts", '["...", "..."]'),
}


def _fits(value: object, kind: str) -> bool:
    if kind == "flag":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":  # TOML allows inf and nan: neither is a number of seconds
        return isinstance(value, int | float) and not isinstance(value, bool) and (
            math.isfinite(value))
    if kind == "duration":  # 30, or "30s", "10m" (cli.Duration reads it)
        return isinstance(value, str) or _fits(value, "float")
    if kind == "list":
        return isinstance(value, str) or (
            isinstance(value, list) and all(isinstance(v, str) for v in value))
    return isinstance(value, str)


def load_config(path: Path, known: Mapping[str, str],
                kinds: Mapping[str, str] | None = None) -> dict[str, object]:
    """TOML keys are option names (`phone_column` or `phone-column`); unknown keys are errors.

    `kinds`: parameter name -> a key of CONFIG_KINDS; a value of another type is an error
    naming the key (issue 11: `state = 7` was a traceback).
    """
    try:
        data = tomllib.loads(read_text_file(Path(path), label="--config"))
    except FileNotFoundError:
        raise InputError(f"--config {path}: file not found.") from None
    except UnicodeDecodeError:
        raise InputError(f"--config {path}: not UTF-8 text. Save it as UTF-8 (TOML files are).") from None
    except OSError as e:
        raise InputError(f"--config {path}: cannot read it ({e.strerror}).") from None
    except tomllib.TOMLDecodeError as e:
        raise InputError(
            f"--config {path}: not valid TOML ({e}). Write options as key = value, "
            'e.g. phone_column = "Phone".'
        ) from None
    except RecursionError:  # `pace = [[[[...` 100,000 deep: tomllib recurses per level
        raise InputError(
            f"--config {path}: nested too deeply to read (brackets or braces inside each other "
            'thousands of times). Write options as key = value, e.g. phone_column = "Phone".'
        ) from None
    # A [send] table is accepted too, so one file can grow other sections later.
    if isinstance(data.get("send"), dict):
        data = {**{k: v for k, v in data.items() if k != "send"}, **data["send"]}
    out: dict[str, object] = {}
    for key, value in data.items():
        name = key.replace("-", "_")
        if name not in known:
            raise InputError(
                f"--config {path}: unknown option '{key}'. Known options: "
                + ", ".join(sorted(known)) + "."
            )
        kind = (kinds or {}).get(known[name])
        if kind in CONFIG_KINDS and not _fits(value, kind):
            what, example = CONFIG_KINDS[kind]
            shown = repr(value) if not isinstance(value, bool) else str(value).lower()
            raise InputError(
                f"--config {path}: '{key}' must be {what} (e.g. {key} = {example}), not {shown}. "
                "Fix the value in the file."
            )
        out[known[name]] = value
    return out
