"""What an install ships: the package data the preview and the sandbox page read at run time."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_a_non_editable_build_has_the_templates_and_renders_a_preview(tmp_path: Path) -> None:
    """setuptools' build_py (the step a wheel is made from) on a copy of the project, then the
    preview rendered from that build alone, as from a site-packages install."""
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "campaign", tmp_path / "campaign",
                    ignore=shutil.ignore_patterns("__pycache__"))
    built = tmp_path / "build-lib"
    subprocess.run([sys.executable, "-c", "from setuptools import setup; setup()", "-q", "build_py",
                    "--build-lib", str(built)], cwd=tmp_path, check=True, capture_output=True)
    shipped = {p.relative_to(ROOT).as_posix() for p in (ROOT / "campaign").rglob("*")
               if p.is_file() and "__pycache__" not in p.parts}
    assert shipped >= {"campaign/templates/preview.html", "campaign/static/preview.css"}
    assert {f for f in shipped if not (built / f).is_file()} == set()  # every module and asset

    script = ("from campaign.preview import render_chat; import sys; "
              "sys.stdout.write(render_chat([], base_url='http://x'))")
    env = {**os.environ, "PYTHONPATH": str(built)}
    page = subprocess.run([sys.executable, "-c", script], cwd=built, env=env, check=True,
                          capture_output=True, text=True).stdout
    assert "No messages yet." in page and ".bubble{" in page
