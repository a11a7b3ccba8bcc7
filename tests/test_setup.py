"""The README's set-up, as a new user pastes it (issue 22): it works where the system's pip is
externally managed (Debian 12, Ubuntu 23.04+, Homebrew), and its test command is what CI runs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def setup_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("## Set up")
    return text[start : text.index("\n## ", start + 1)]


def blocks(language: str) -> list[str]:
    return [b.strip() for b in re.findall(rf"```{language}\n(.*?)```", setup_section(), re.S)]


def test_the_readme_gives_clone_two_commands_a_windows_form_and_the_new_terminal() -> None:
    clone, install, tests = blocks("bash")
    assert clone.splitlines()[0].startswith("git clone ") and clone.splitlines()[1] == "cd campaign"
    for command in (install, tests):  # two commands, each one line, each making its venv first
        assert "\n" not in command and command.startswith("python3 -m venv .venv && . .venv/bin/activate")
    windows = blocks("powershell")
    assert len(windows) == 2 and all(c.startswith("py -m venv .venv; ") for c in windows)
    assert "**In a new terminal**" in setup_section() and "Activate.ps1" in setup_section()


def test_the_readme_test_command_is_what_ci_runs() -> None:
    tests = blocks("bash")[2]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert tests in ci, "README's test command and .ci/run differ: keep them identical"


def test_the_venv_is_ignored_by_git_and_the_tools() -> None:
    assert ".venv/" in (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'testpaths = ["tests"]' in pyproject and 'packages = ["campaign"]' in pyproject


def externally_managed_python(prefix: Path) -> Path:
    """A copy of this Python whose stdlib folder holds the EXTERNALLY-MANAGED marker, as
    Debian's does: the interpreter copied, the standard library linked, no packages but pip."""
    stdlib = Path(sysconfig.get_path("stdlib"))
    purelib = Path(sysconfig.get_path("purelib", vars={"base": sys.base_prefix}))
    executable = Path(getattr(sys, "_base_executable", sys.executable)).resolve()
    lib = prefix / "lib" / stdlib.name
    (prefix / "bin").mkdir(parents=True)
    (lib / "site-packages").mkdir(parents=True)
    shutil.copy2(executable, prefix / "bin" / "python3")
    for entry in stdlib.iterdir():
        if entry.name != "site-packages":
            (lib / entry.name).symlink_to(entry)
    for shared in (Path(sys.base_prefix) / "lib").glob("libpython*"):  # a binary linked by $ORIGIN
        (prefix / "lib" / shared.name).symlink_to(shared)
    if not (purelib / "pip").is_dir():
        pytest.skip(f"this Python has no pip in {purelib} to refuse with")
    (lib / "site-packages" / "pip").symlink_to(purelib / "pip")
    (lib / "EXTERNALLY-MANAGED").write_text(
        "[externally-managed]\nError=To install Python packages system-wide, use apt; "
        "otherwise a virtual environment (python3 -m venv).\n", encoding="utf-8")
    return prefix / "bin" / "python3"


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="copies a Linux interpreter")
def test_the_readme_set_up_works_where_system_pip_is_externally_managed(tmp_path: Path) -> None:
    python = externally_managed_python(tmp_path / "system")
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"
    env["CAMPAIGN_HOME"] = str(tmp_path / "home")
    # The simulation is the real thing: this Python's pip refuses, as Debian's does.
    refused = subprocess.run([python, "-m", "pip", "install", "click"], env=env, capture_output=True,
                             text=True, timeout=120)
    assert refused.returncode != 0 and "externally-managed-environment" in refused.stderr
    # A fresh clone: the tracked files only.
    repo = tmp_path / "campaign"
    shutil.copytree(ROOT, repo, ignore=shutil.ignore_patterns(
        ".git", ".venv", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis", ".campaign",
        "*.results.*", "build"))
    install = blocks("bash")[1]
    first = subprocess.run(["bash", "-c", install], cwd=repo, env=env, capture_output=True, text=True,
                           timeout=1200)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert ("Rehearsal: 5 of 8 rows sent to the built-in sandbox, nothing to WhatsApp (5 tried this "
            "run).") in first.stdout
    # A new terminal: `campaign` is found once the venv is activated again, and not before.
    again = subprocess.run(["bash", "-c", ". .venv/bin/activate && campaign --version"], cwd=repo,
                           env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and again.stdout.startswith("campaign, version"), again.stderr
