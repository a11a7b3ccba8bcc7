"""Issue 19, the attacks through files and options: templates, spreadsheets, the results path,
special files. Each through the real CLI in a subprocess, memory capped and measured, as made.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import NESTED
from tests.hostile import assert_no_secret, cli_env, run_cli

PEOPLE = [["Name", "Phone"], ["Dana", "0502345678"], ["Avi", "0502345679"]]
DRY = ["--dry-run", "--results", "out.csv"]


# --- 3. nested templates --------------------------------------------------------------------


@pytest.mark.parametrize("source", NESTED)
def test_nested_repetition_is_stopped_small_and_fast(
    source: str, tmp_path: Path, write_csv: Callable[..., Path]
) -> None:
    contacts = write_csv(PEOPLE)
    ran = run_cli(["send", str(contacts), "-m", source, *DRY], cwd=tmp_path,
                  env=cli_env(tmp_path / "home"))  # fmt: skip
    assert ran.code == 2, ran.out
    assert "--message: the template was stopped at row 2" in ran.out
    assert "over 65,536 characters" in ran.out
    assert ran.seconds < 5, ran.seconds
    assert ran.peak_mb < 500, ran.peak_mb
    assert not (tmp_path / "out.csv").exists()
    assert_no_secret(ran.out, tmp_path)


# --- 5. --results naming an input -----------------------------------------------------------


@pytest.mark.parametrize("target", ["template", "suppress", "config", "symlink", "dotdot"])
def test_results_never_replace_an_input(
    target: str, tmp_path: Path, write_csv: Callable[..., Path]
) -> None:
    contacts = write_csv(PEOPLE)
    template = tmp_path / "message.txt"
    template.write_text("Hi {{ name }}", encoding="utf-8")
    optout = write_csv([["Phone"], ["0502345679"]], "optout.csv")
    config = tmp_path / "settings.toml"
    config.write_text('pace = "fast"\n', encoding="utf-8")
    (tmp_path / "sub").mkdir()
    results = {"template": "message.txt", "suppress": "optout.csv", "config": "config.csv",
               "symlink": "link.csv", "dotdot": "sub/../optout.csv"}[target]  # fmt: skip
    if target == "config":
        config = config.rename(tmp_path / "config.csv")  # TOML under any name is read
    if target == "symlink":
        (tmp_path / "link.csv").symlink_to(optout)
    before = {p: p.read_bytes() for p in (template, optout, config)}
    ran = run_cli(["send", str(contacts), "-t", "message.txt", "--suppress", "optout.csv",
                   "--config", config.name, "--dry-run", "--results", results],
                  cwd=tmp_path, env=cli_env(tmp_path / "home"))  # fmt: skip
    assert ran.code == 2, ran.out
    what = {"template": "the template", "config": "the config file"}.get(target, "an opt-out list")
    assert f"--results {results} is {what}" in ran.out
    assert {p: p.read_bytes() for p in before} == before
    assert "Traceback" not in ran.out
