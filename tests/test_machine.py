"""The machine failing under a run: one paragraph, the right exit code, every outcome kept."""

from __future__ import annotations

import resource
import signal
import subprocess
from collections import Counter
from pathlib import Path

from campaign.sandbox import Sandbox
from tests.helpers import FAST, SANDBOX_INSTANCE, SANDBOX_TOKEN, api_env, run_campaign


def run(contacts: Path, url: str, *args: str,
        max_file_bytes: int | None = None) -> subprocess.CompletedProcess[str]:
    def limit() -> None:  # a disk that fills up: writes past this size fail (EFBIG)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        if max_file_bytes is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))

    return run_campaign("send", contacts, *args, cwd=contacts.parent, env=api_env(url), preexec_fn=limit)


def test_a_disk_that_fills_up_mid_run_stops_with_every_outcome_kept(write_csv, results) -> None:  # type: ignore[no-untyped-def]
    people = [["Name", "Phone", "Note"]] + [[f"P{i}", f"0502346{i:03d}", "x" * 1500] for i in range(80)]
    contacts = write_csv(people)
    message = ("-m", "Hi {{ name }} {{ note }}")
    with Sandbox(token=SANDBOX_TOKEN, instance_id=SANDBOX_INSTANCE) as box:
        full = run(contacts, box.url, *message, *FAST, "--results", "out.csv", max_file_bytes=400_000)
        output = full.stdout + full.stderr
        assert full.returncode == 3, output
        assert "Traceback" not in output
        assert "the machine failed" in output
        reached = len(box.received)
        assert 0 < reached < 80
        again = run(contacts, box.url, *message, *FAST, "--results", "out.csv")
        assert again.returncode in (0, 1), again.stdout + again.stderr
        counts = Counter(m.jid for m in box.received)
    assert max(counts.values()) == 1  # nobody got it twice
    rows = results(contacts.with_name("out.csv"))
    unknown = sum(r["status"] == "unknown" for r in rows)  # cut off with its reply unrecorded
    assert unknown <= 1
    assert sum(r["status"] == "sent" for r in rows) + unknown == len(counts)


def test_a_state_folder_that_cannot_be_made_is_exit_2_without_a_traceback(write_csv, sandbox) -> None:  # type: ignore[no-untyped-def]
    contacts = write_csv([["Name", "Phone"], ["A", "0502345678"]])
    (contacts.parent / ".campaign").write_text("a file where the folder should be")
    r = run(contacts, sandbox.url, "-m", "Hi", *FAST)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    assert "cannot create its folder" in r.stderr
    assert sandbox.received == []


def test_a_results_path_that_is_a_folder_is_exit_2(write_csv, sandbox) -> None:  # type: ignore[no-untyped-def]
    contacts = write_csv([["Name", "Phone"], ["A", "0502345678"]])
    (contacts.parent / "out.csv").mkdir()
    r = run(contacts, sandbox.url, "-m", "Hi", *FAST, "--results", "out.csv")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    assert sandbox.received == []
