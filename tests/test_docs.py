"""Docs that cannot drift: every option of `campaign send` is in the README's table, and back;
the README's generated regions (docs/readme.py) are what the code says today."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import click
import pytest

from campaign.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("readme", README.parent / "docs" / "readme.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "spec",
    ["help send", "run campaign send samples/contacts.xlsx -t templates/welcome-he.txt --dry-run", "modules"],
    ids=["option reference", "quickstart dry run, whole output", "module map"],
)
def test_a_generated_readme_region_is_what_the_code_says_today(spec: str) -> None:
    readme = generator()
    found = {s: (old, new) for s, old, new in readme.regions(README.read_text(encoding="utf-8"))}
    assert spec in found, f"README.md has no [[[{spec}]]] region"
    old, new = found[spec]
    # Only the forecast's finish time (and a sandbox's port) may differ from the README; the
    # module map must name every module of campaign/ and no other.
    assert readme.current(spec, old, new), (
        f"README.md's [[[{spec}]]] region is out of date. Regenerate it: {readme.REGENERATE}"
    )


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
