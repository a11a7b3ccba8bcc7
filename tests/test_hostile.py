"""Issue 11: hostile templates, servers and machines, through the real CLI.

Subprocess tests run `python -m campaign send` against the sandbox with its new faults and
check what a user would see: the exit code, the wall time against the deadline, peak memory,
no traceback, the statuses in the results sheet, and the token in no output and no file.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from campaign.render import MAX_TEXT
from campaign.sandbox import Faults, Sandbox
from tests.helpers import (
    ESCAPES,
    FAST,
    RUNAWAYS,
    SANDBOX_INSTANCE,
    SANDBOX_TOKEN,
    api_env,
    read_results,
    run_campaign,
    start_campaign,
)

PEOPLE = [["Name", "Phone"], ["Dana", "0502345678"], ["Avi", "0502345679"]]
OPTIONS = (*FAST, "--results", "out.csv")


def env_for(url: str, home: Path, **extra: str) -> dict[str, str]:
    return api_env(url, CAMPAIGN_HOME=str(home), **extra)


def start(contacts: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return start_campaign("send", contacts, "-m", "Hi {{ name }}", *OPTIONS, *args, cwd=contacts.parent,
                          env=env)


def run(contacts: Path, env: dict[str, str], *args: str, timeout: float = 60
        ) -> tuple[int, str, float]:
    began = time.monotonic()
    proc = start(contacts, env, *args)
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out, time.monotonic() - began


def assert_clean(out: str, folder: Path) -> None:
    """No traceback, and the sentinel token nowhere: not in the output, not in any file."""
    assert "Traceback" not in out, out
    assert SANDBOX_TOKEN not in out and SANDBOX_INSTANCE not in out
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert SANDBOX_TOKEN.encode() not in data, path
            assert SANDBOX_INSTANCE.encode() not in data, path


def peak_child_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KB on Linux


def statuses(folder: Path) -> list[str]:
    return [r["status"] for r in read_results(folder / "out.csv")]


# --- templates --------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ESCAPES + RUNAWAYS)
def test_every_known_escape_and_runaway_is_refused_with_exit_2(
    source: str, cli: Callable[..., Result], write_csv: Callable[..., Path], tmp_path: Path
) -> None:
    contacts = write_csv([["first_name", "Phone"], ["Dana", "0502345678"]])
    env = {"IBOT_TOKEN": SANDBOX_TOKEN, "CAMPAIGN_HOME": str(tmp_path / "home")}
    result = cli("send", contacts, "-m", source, "--dry-run", "--results", "out.csv", env=env)
    assert result.exit_code == 2, result.output
    assert "message" in result.output.lower() or "--message" in result.output
    assert SANDBOX_TOKEN not in result.output and "uid=" not in result.output
    assert not (tmp_path / "out.csv").exists()


def test_a_template_reading_the_token_or_looping_forever_stops_in_a_subprocess(
    tmp_path: Path, write_csv: Callable[..., Path]
) -> None:
    contacts = write_csv(PEOPLE)
    env = env_for("http://127.0.0.1:9/api/v1", tmp_path / "home")
    for source in ("{{ cycler.__init__.__globals__.os.environ['IBOT_TOKEN'] }}",
                   "{% for i in range(10**9) %}{{ i }}{% endfor %}", "{{ 'a' * 10**9 }}",
                   "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"):
        began = time.monotonic()
        proc = run_campaign("send", contacts, "-m", source, *OPTIONS, cwd=tmp_path, env=env, timeout=60)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 2, out
        assert "row 2" in out and "--message" in out
        assert time.monotonic() - began < 20
        assert_clean(out, tmp_path)
    assert peak_child_mb() < 400


# --- servers ----------------------------------------------------------------------------------


def test_a_trickling_reply_is_cut_off_at_the_deadline_and_the_run_goes_on(
    tmp_path: Path, write_csv: Callable[..., Path]
) -> None:
    contacts = write_csv(PEOPLE)
    with Sandbox(token=SANDBOX_TOKEN, instance_id=SANDBOX_INSTANCE,
                 faults=Faults(trickle=0.5)) as box:
        code, out, took = run(contacts, env_for(box.url, tmp_path / "home"), "--timeout", "1.5",
                              "--max-consecutive-failures", "0")
        accepted = len(box.received)
    assert code == 1, out  # rows unknown: something to look at
    assert accepted == 2  # both went out; neither answer came in time
    assert statuses(tmp_path) == ["unknown", "unknown"]
    assert "within the 1.5s deadline" in read_results(tmp_path / "out.csv")[0]["error"]
    assert took < 2 * 1.5 + 10, took  # two deadlines plus start-up, not 2 x 100 bytes x 0.5 s
    assert_clean(out, tmp_path)


def test_an_endless_reply_is_cut_off_with_memory_bounded(
    tmp_path: Path, write_csv: Callable[..., Path]
) -> None:
    contacts = write_csv(PEOPLE)
    with Sandbox(token=SANDBOX_TOKEN, instance_id=SANDBOX_INSTANCE,
                 faults=Faults(endless=True)) as box:
        code, out, took = run(contacts, env_for(box.url, tmp_path / "home"), "--timeout", "5")
    assert code == 1, out
    rows = read_results(tmp_path / "out.csv")
    assert [r["status"] for r in rows] == ["unknown", "unknown"]
    assert "over 64 KB" in rows[0]["error"]
    assert took < 20
    assert peak_child_mb() < 400
    assert_clean(out, tmp_path)


def test_ctrl_c_during_a_retry_after_wait_sends_nothing_more(
    tmp_path: Path, write_csv: Callable[..., Path]
) -> None:
    contacts = write_csv(PEOPLE)
    with Sandbox(token=SANDBOX_TOKEN, instance_id=SANDBOX_INSTANCE,
                 faults=Faults(rate_limited=100, retry_after=30)) as box:
        proc = start(contacts, env_for(box.url, tmp_path / "home"))
        deadline = time.monotonic() + 30
        while box.requests < 1 and time.monotonic() < deadline:
            threading.Event().wait(0.05)
        threading.Event().wait(0.5)  # well inside the 30 s wait
        proc.send_signal(signal.SIGINT)
        began = time.monotonic()
        out, _ = proc.communicate(timeout=20)
        took = time.monotonic() - began
        threading.Event().wait(0.3)
        requests = box.requests
    assert proc.returncode == 130, out
    assert requests == 1, out  # the retry never went out
    assert took < 5
    assert statuses(tmp_path) == ["pending", "pending"]
    assert_clean(out, tmp_path)
    # The resume sends both: the row was never 'attempting' or 'unknown'.
    with Sandbox(token=SANDBOX_TOKEN, instance_id=SANDBOX_INSTANCE) as box:
        code, out, _ = run(contacts, env_for(box.url, tmp_path / "home"))
        assert len(box.received) == 2
    assert code == 0, out
    assert statuses(tmp_path) == ["sent", "sent"]


# --- the base URL and the credentials ---------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["http://a..b/api/v1", "http://" + "a" * 64 + ".com/api/v1", "http://.invalid/api/v1",
     "ftp://127.0.0.1/api/v1", "127.0.0.1:80/api/v1", "http://[::1", "http://127.0.0.1:9/a?x=1",
     "http://127.0.0.1:9/a#frag", "http://example.com/api/v1", ""],
)
def test_a_bad_base_url_is_exit_2_before_anything_is_recorded(
    url: str, cli: Callable[..., Result], write_csv: Callable[..., Path], tmp_path: Path
) -> None:
    contacts = write_csv(PEOPLE)
    env = {"IBOT_TOKEN": SANDBOX_TOKEN, "IBOT_INSTANCE_ID": SANDBOX_INSTANCE,
           "CAMPAIGN_HOME": str(tmp_path / "home")}
    result = cli("send", contacts, "-m", "Hi", *OPTIONS, "--base-url", url, env=env)
    assert result.exit_code == 2, result.output
    assert "Give the API root as http(s)://host/path" in result.output
    assert not (tmp_path / ".campaign").exists() and not (tmp_path / "out.csv").exists()


def test_an_empty_ibot_base_url_is_exit_2_not_production(
    tmp_path: Path, write_csv: Callable[..., Path]
) -> None:
    contacts = write_csv(PEOPLE)
    code, out, _ = run(contacts, env_for("", tmp_path / "home"))
    assert code == 2, out
    assert "it is empty (an empty value does not mean the default)" in out
    assert_clean(out, tmp_path)


def test_a_token_with_a_non_utf8_byte_is_exit_2_unechoed(
    tmp_path: Path, write_csv: Callable[..., Path]
) -> None:
    contacts = write_csv(PEOPLE)
    with Sandbox(token=SANDBOX_TOKEN, instance_id=SANDBOX_INSTANCE) as box:
        env = env_for(box.url, tmp_path / "home", IBOT_TOKEN=SANDBOX_TOKEN + "\udcff")
        code, out, _ = run(contacts, env)
        assert box.requests == 0
    assert code == 2, out
    assert "IBOT_TOKEN has a character that is not ASCII" in out
    assert_clean(out, tmp_path)


def test_a_media_host_that_cannot_be_encoded_is_an_invalid_row(
    cli: Callable[..., Result], write_csv: Callable[..., Path], tmp_path: Path
) -> None:
    contacts = write_csv(PEOPLE)
    result = cli("send", contacts, "--type", "image", "--media-url", "https://a..b/x.jpg",
                 "--check-media", "--dry-run", "--results", "out.csv",
                 env={"CAMPAIGN_HOME": str(tmp_path / "home")})
    assert result.exit_code == 0, result.output
    rows = read_results(tmp_path / "out.csv")
    assert [r["status"] for r in rows] == ["invalid", "invalid"]
    assert "invalid host name" in rows[0]["error"]


# --- options and config -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value"),
    [("--delay", "inf"), ("--delay", "1e308"), ("--delay", "nan"), ("--jitter", "nan"),
     ("--jitter", "-inf"), ("--timeout", "nan"), ("--timeout", "inf"),
     ("--skip-contacted-within", "nan"), ("--skip-contacted-within", "1e308")],
)
def test_non_finite_numbers_are_exit_2(option: str, value: str, cli: Callable[..., Result],
                                       write_csv: Callable[..., Path]) -> None:
    result = cli("send", write_csv(PEOPLE), "-m", "Hi", "--dry-run", option, value)
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{option}'" in result.output


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("state = 7", "'state' must be text in quotes (e.g. state = \"...\"), not 7."),
        ("results = true", "'results' must be text in quotes (e.g. results = \"...\"), not true."),
        ("sandbox = 1", "'sandbox' must be true or false (e.g. sandbox = true), not 1."),
        ("quiet = 2", "'quiet' must be true or false (e.g. quiet = true), not 2."),
        ("delay = nan", "'delay' must be a number or a duration in quotes (e.g. delay = \"10m\"), not nan."),
        ("delay = inf", "'delay' must be a number or a duration in quotes (e.g. delay = \"10m\"), not inf."),
        ("limit = 2.5", "'limit' must be a whole number (e.g. limit = 50), not 2.5."),
        ("suppress = [1]", "'suppress' must be text or a list of texts"),
    ],
)
def test_config_values_of_the_wrong_type_are_exit_2_naming_the_key(
    line: str, message: str, cli: Callable[..., Result], write_csv: Callable[..., Path],
    tmp_path: Path,
) -> None:
    config = tmp_path / "campaign.toml"
    config.write_text(line + "\n", encoding="utf-8")
    result = cli("send", write_csv(PEOPLE), "-m", "Hi", "--dry-run", "--config", config)
    assert result.exit_code == 2, result.output
    assert f"--config {config}: {message}" in result.output
    assert "Traceback" not in result.output


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes in read-only folders")
def test_results_in_a_read_only_folder_is_exit_2_up_front(
    cli: Callable[..., Result], write_csv: Callable[..., Path], tmp_path: Path
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        result = cli("send", write_csv(PEOPLE), "-m", "Hi", "--dry-run", "--results",
                     locked / "out.csv")
    finally:
        locked.chmod(0o755)
    assert result.exit_code == 2, result.output
    assert "cannot write in the folder" in result.output


def test_the_limits_are_what_the_readme_says() -> None:
    assert MAX_TEXT == 65_536
