"""The options of a campaign as one frozen value, and `--config FILE.toml` defaults."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from campaign.errors import InputError


@dataclass(frozen=True)
class SendOptions:
    """Everything `campaign send` was asked to do, after the CLI and the config file merged."""

    contacts: Path
    template: Path | None = None
    message: str | None = None
    kind: str = "text"
    media_url: str | None = None
    sheet: str | None = None
    header_row: int | None = None
    phone_column: tuple[str, ...] | str | None = None  # repeatable; None or () means detect
    country: str = "IL"
    strict_phones: bool = False
    suppress: tuple[Path, ...] = ()
    encoding: str | None = None
    skip_hidden: bool = False
    dry_run: bool = False
    limit: int | None = None
    delay: float = 8.0
    jitter: float = 7.0
    max_per_hour: int | None = None
    max_per_day: int | None = None
    window: str | None = None
    timezone: str | None = None
    skip_days: str | None = None
    stop_outside_window: bool = False
    skip_contacted_within: float | None = None
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
    quiet: bool = False
    extra: dict[str, str] = field(default_factory=dict)


def load_config(path: Path, known: Mapping[str, str]) -> dict[str, object]:
    """TOML keys are option names (`phone_column` or `phone-column`); unknown keys are errors."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise InputError(f"--config {path}: file not found.") from None
    except tomllib.TOMLDecodeError as e:
        raise InputError(
            f"--config {path}: not valid TOML ({e}). Write options as key = value, "
            'e.g. phone_column = "Phone".'
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
        out[known[name]] = value
    return out
