"""Regenerate the parts of README.md that the code can say for itself; `--check` only compares.

    python docs/readme.py           # rewrite README.md's generated regions
    python docs/readme.py --check   # exit 1 and name the stale regions (tests/test_docs.py)

A region sits between two HTML comments (invisible on GitHub), the first naming what fills it:

    <!-- [[[help send]]] -->        `campaign send --help`, verbatim
    <!-- [[[run campaign send samples/contacts.xlsx -t templates/welcome-he.txt --dry-run]]] -->
                                    the command's whole output, run on a copy of samples/ and
                                    templates/ with an empty per-user state
    <!-- [[[modules]]] -->          one line per module of campaign/, from its docstring (--check
                                    compares the names: a module added or gone)
    <!-- [[[end]]] -->

The cog idea (sqlite-utils checks its CLI reference with `cog --check README.md`) without cog.
Only what legitimately varies between two runs (the clock, the sandbox's port) is compared loosely.
"""

from __future__ import annotations

import ast
import contextlib
import os
import re
import shlex
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
REGENERATE = "python docs/readme.py"
REGION = re.compile(r"(<!-- \[\[\[(?P<spec>.+?)\]\]\] -->\n)(?P<body>.*?)(<!-- \[\[\[end\]\]\] -->)", re.S)
# What differs between two honest runs: the forecast (its finish time, and with quiet hours in
# every preset its length and days depend on the hour it runs at), the sandbox's port.
VARIES = [
    (re.compile(r"\(finish ~\w{3} \d{2} \w{3} \d{2}:\d{2}\)"), "(finish ~<time>)"),
    (re.compile(r"would take about [^\n(]*\(finish"), "would take about <duration> (finish"),
    (re.compile(r"\n  \w{3} \d{2} \w{3}: \d+ message\(s\), the day's last ~\d{2}:\d{2}"), ""),
    (re.compile(r"http://127\.0\.0\.1:\d+"), "http://127.0.0.1:<port>"),
]
# Folders of package data (no Python in them): what each holds.
DATA_FOLDERS = {
    "templates": "The preview's and the sandbox page's Jinja2 markup (package data).",
    "static": "The pages' CSS, inlined into each page (package data).",
}


def normalise(text: str) -> str:
    for pattern, replacement in VARIES:
        text = pattern.sub(replacement, text)
    return text


def campaign(*args: str) -> str:
    """`campaign ARGS` in-process, as a terminal 80 columns wide shows it (stdout and stderr)."""
    from click.testing import CliRunner

    from campaign.cli import main

    # None removes a developer's own credentials: the README shows a fresh machine.
    env: dict[str, str | None] = {name: None for name in ("IBOT_TOKEN", "IBOT_INSTANCE_ID",
                                                          "IBOT_BASE_URL")}
    result = CliRunner().invoke(main, list(args), prog_name="campaign", env=env, terminal_width=80)
    return result.output


def run_region(command: str) -> str:
    """The command's output in a copy of the samples, with a per-user state of its own."""
    words = shlex.split(command)
    assert words[0] == "campaign", command
    with tempfile.TemporaryDirectory() as tmp:
        for folder in ("samples", "templates"):
            shutil.copytree(ROOT / folder, Path(tmp) / folder)
        old_home = os.environ.get("CAMPAIGN_HOME")
        os.environ["CAMPAIGN_HOME"] = str(Path(tmp) / "home")
        try:
            with contextlib.chdir(tmp):
                output = campaign(*words[1:])
        finally:
            if old_home is None:
                os.environ.pop("CAMPAIGN_HOME", None)
            else:
                os.environ["CAMPAIGN_HOME"] = old_home
    return f"```text\n$ {command}\n{output}```\n"


def help_region(command: str) -> str:
    args = command.split()
    return f"```text\n$ campaign {' '.join([*args, '--help'])}\n{campaign(*args, '--help')}```\n"


def modules_region(_: str = "") -> str:
    """A table row per module (its docstring's first sentence) and per folder of package data."""
    package = ROOT / "campaign"
    lines = ["| module | what it does |", "|---|---|"]
    for path in sorted(package.rglob("*")):
        relative = path.relative_to(package).as_posix()
        if "__pycache__" in relative or path.name in ("__init__.py", "__main__.py"):
            continue
        if path.is_dir() and (path / "__init__.py").exists():
            lines.append(f"| `{relative}/` | {_summary(path / '__init__.py')} |")
        elif path.is_dir():
            lines.append(f"| `{relative}/` | {DATA_FOLDERS.get(relative, 'package data')} |")
        elif path.suffix == ".py":
            lines.append(f"| `{relative}` | {_summary(path)} |")
    return "\n".join(lines) + "\n"


def _summary(path: Path) -> str:
    """The docstring's first sentence, on one line, with table pipes escaped."""
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    paragraph = " ".join(doc.split("\n\n", 1)[0].split())
    sentence = re.split(r"(?<=[.!?])\s+(?=[A-Z`])", paragraph, maxsplit=1)[0]
    return sentence.replace("|", "\\|")


GENERATORS: dict[str, Callable[[str], str]] = {"help": help_region, "run": run_region,
                                               "modules": modules_region}


def generate(spec: str) -> str:
    kind, _, argument = spec.partition(" ")
    return GENERATORS[kind](argument)


def regions(text: str) -> list[tuple[str, str, str]]:
    """(spec, what README.md holds, what the code says now) for each region."""
    return [(m["spec"], m["body"], generate(m["spec"])) for m in REGION.finditer(text)]


def current(spec: str, old: str, new: str) -> bool:
    """Whether a region still says what the code says. The module map is checked by its names
    (a module added or gone); its descriptions follow the docstrings when regenerated."""
    if spec == "modules":
        names = re.compile(r"^\| `([^`]+)` \|", re.M)
        return names.findall(old) == names.findall(new)
    return normalise(old) == normalise(new)


def stale(text: str) -> list[str]:
    return [spec for spec, old, new in regions(text) if not current(spec, old, new)]


def rewrite(text: str) -> str:
    """The README with each stale region regenerated; a region that differs only in what
    legitimately varies keeps its text (no churn of a finish time on every run)."""

    def fill(m: re.Match[str]) -> str:
        new = generate(m["spec"])
        body = m["body"] if normalise(m["body"]) == normalise(new) else new
        return f"{m.group(1)}{body}{m.group(4)}"

    return REGION.sub(fill, text)


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    text = README.read_text(encoding="utf-8")
    if "--check" in argv:
        out_of_date = stale(text)
        for spec in out_of_date:
            print(f"README.md is out of date: [[[{spec}]]]. Run: {REGENERATE}")
        return 1 if out_of_date else 0
    new = rewrite(text)
    if new != text:
        README.write_text(new, encoding="utf-8")
        print("README.md regenerated.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
