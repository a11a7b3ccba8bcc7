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
