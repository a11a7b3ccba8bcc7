"""Docs that cannot drift: every option of `campaign send` is in the README's table, and back."""

from __future__ import annotations

import re
from pathlib import Path

import click

from campaign.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"


def send_options() -> set[str]:
    command = main.commands["send"]
    flags: set[str] = set()
    for param in command.params:
        if isinstance(param, click.Option):
            flags.update(o for o in [*param.opts, *param.secondary_opts] if o.startswith("--"))
    return flags - {"--help"}


def readme_table() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Options of `campaign send CONTACTS`")
    return text[start : text.index("\n## ", start + 1)]


def test_every_send_option_is_in_the_readme_table_and_back() -> None:
    table = readme_table()
    documented = set(re.findall(r"(--[a-z][a-z0-9-]*)", table)) - {"--help"}
    # --warm-up/--no-warm-up is written as one entry
    assert send_options() - documented == set()
    assert documented - send_options() == set()


def test_every_send_option_has_help_text() -> None:
    for param in main.commands["send"].params:
        if isinstance(param, click.Option):
            assert param.help, param.name
