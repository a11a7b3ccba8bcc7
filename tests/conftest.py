"""Fixtures shared by the suite: real sheets on disk, templates, a running sandbox, the CLI."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner, Result

from campaign.cli import main
from campaign.sandbox import Sandbox
from tests.helpers import SANDBOX_INSTANCE, SANDBOX_TOKEN, read_results

Cells = Sequence[Sequence[object]]


@pytest.fixture(autouse=True)
def _no_real_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's own IBOT_* variables must never reach a test (or the real service).
    for name in ("IBOT_TOKEN", "IBOT_INSTANCE_ID", "IBOT_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _no_machine_country(monkeypatch: pytest.MonkeyPatch) -> None:
    # The home country is inferred from the locale and CAMPAIGN_COUNTRY too (issue 17): no test
    # depends on the machine's. A test sets LANG or CAMPAIGN_COUNTRY to try them.
    for name in ("LC_ALL", "LC_MESSAGES", "CAMPAIGN_COUNTRY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")


@pytest.fixture(autouse=True)
def campaign_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The per-user state folder of every test (and of the CLI subprocesses it starts)."""
    home = tmp_path_factory.mktemp("campaign-home")
    monkeypatch.setenv("CAMPAIGN_HOME", str(home))
    return home


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[..., Path]:
    """Write rows as a delimited file with the given encoding and delimiter."""

    def write(rows: Cells, name: str = "contacts.csv", *, encoding: str = "utf-8-sig",
              delimiter: str = ",") -> Path:
        path = tmp_path / name
        with open(path, "w", encoding=encoding, newline="") as f:
            csv.writer(f, delimiter=delimiter).writerows([[str(c) for c in r] for r in rows])
        return path

    return write


@pytest.fixture
def write_xlsx(tmp_path: Path) -> Callable[..., Path]:
    """Write rows with openpyxl as Excel would store them (ints stay numeric cells)."""

    def write(rows: Cells, name: str = "contacts.xlsx", *, sheets: dict[str, Cells] | None = None
              ) -> Path:
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = "Contacts"
        for r in rows:
            ws.append(list(r))
        for title, extra in (sheets or {}).items():
            other = wb.create_sheet(title)
            for r in extra:
                other.append(list(r))
        path = tmp_path / name
        wb.save(path)
        return path

    return write


@pytest.fixture
def template(tmp_path: Path) -> Callable[[str], Path]:
    def write(text: str, name: str = "message.txt") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(token=SANDBOX_TOKEN, instance_id=SANDBOX_INSTANCE) as box:
        yield box


@pytest.fixture
def sandbox_env(sandbox: Sandbox) -> dict[str, str]:
    return {"IBOT_TOKEN": SANDBOX_TOKEN, "IBOT_INSTANCE_ID": SANDBOX_INSTANCE,
            "IBOT_BASE_URL": sandbox.url}


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """Run `campaign ...` in-process from tmp_path; returns click's Result (exit code, output)."""
    monkeypatch.chdir(tmp_path)

    def run(*args: object, env: dict[str, str] | None = None, input: str | None = None) -> Result:
        return CliRunner().invoke(main, [str(a) for a in args], env=env, input=input,
                                  catch_exceptions=False)

    return run


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1 (openssl), for the tests' own HTTPS servers."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not on PATH")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
        check=True, capture_output=True,
    )
    return cert, key


@pytest.fixture
def results() -> Callable[[Path], list[dict[str, str]]]:
    return read_results


os.environ.setdefault("TZ", "UTC")
