"""Exactly once across kills: the real CLI in a subprocess, killed at many points, then resumed."""

from __future__ import annotations

import signal
import subprocess
import threading
from collections import Counter
from pathlib import Path

import pytest

from campaign.sandbox import Faults, Sandbox
from tests.helpers import FAST, HI, SANDBOX_INSTANCE, SANDBOX_TOKEN, Gate, api_env, start_campaign

N = 6
PEOPLE = [["Name", "Phone"]] + [[f"P{i}", f"05023456{i:02d}"] for i in range(N)]
ARGS = (*HI, *FAST)


def start_cli(contacts: Path, url: str, *args: str) -> subprocess.Popen[str]:
    return start_campaign("send", contacts, *ARGS, *args, cwd=contacts.parent, env=api_env(url))


def kill_in_flight(contacts: Path, box: Sandbox, gate: Gate) -> None:
    """Start the CLI, SIGKILL it while the gate holds the k-th reply, then let the reply go."""
    proc = start_cli(contacts, box.url)
    assert gate.reached.wait(30), proc.communicate()[0]
    proc.send_signal(signal.SIGKILL)  # the worst moment: message k went out, no reply yet
    proc.wait(10)
    gate.release.set()


def signal_in_flight(contacts: Path, box: Sandbox, gate: Gate, signum: int) -> tuple[int, str]:
    """Start the CLI, send `signum` while the gate holds a reply, release it; (exit code, output)."""
    proc = start_cli(contacts, box.url)
    assert gate.reached.wait(30)
    proc.send_signal(signum)
    threading.Event().wait(0.2)
    gate.release.set()  # the reply arrives after the signal
    out, _ = proc.communicate(timeout=30)
    return proc.returncode, out


def run_cli(contacts: Path, url: str, *args: str) -> tuple[int, str]:
    proc = start_cli(contacts, url, *args)
    out, _ = proc.communicate(timeout=60)
    return proc.returncode, out


@pytest.mark.parametrize("k", range(1, N + 1))
def test_sigkill_while_the_kth_reply_is_in_flight_then_resume(tmp_path, write_csv, results, k):
    contacts = write_csv(PEOPLE)
    gate = Gate(k)
    with Sandbox(token=SANDBOX_TOKEN, instance_id=SANDBOX_INSTANCE, on_accept=gate) as box:
        kill_in_flight(contacts, box, gate)
        code, out = run_cli(contacts, box.url)
        received = Counter(m.jid for m in box.received)
    assert max(received.values()) == 1, received  # nobody got two messages
    rows = results(contacts.with_name("contacts-message.rehearsal.results.csv"))
    statuses = Counter(r["status"] for r in rows)
    assert statuses == {"sent": N - 1, "unknown": 1}, (statuses, out)
    assert rows[k - 1]["status"] == "unknown"  # exactly the one in flight
    assert "may have gone out" in rows[k - 1]["error"]
    assert code == 1  # an unknown row is something to look at
    assert {r["jid"] for r in rows if r["status"] == "sent"} | {rows[k - 1]["jid"]} == set(received)


@pytest.mark.parametrize("delay_ms", [0, 3, 7, 12, 20, 35])
def test_sigkill_at_arbitrary_moments_never_double_sends(tmp_path, write_csv, results, delay_ms):
    contacts = write_csv(PEOPLE)
    with Sandbox(token=SANDBOX_TOKEN, instance_id=SANDBOX_INSTANCE,
                 faults=Faults(latency=0.004)) as box:
        for _ in range(3):  # three kills in a row, each at a different point of the run
            proc = start_cli(contacts, box.url, "--delay", "0.01")
            threading.Event().wait(0.35 + delay_ms / 1000)  # interpreter start-up, then a bit
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        code, out = run_cli(contacts, box.url)
        received = Counter(m.jid for m in box.received)
    assert code in (0, 1), out
    assert not received or max(received.values()) == 1, received
    rows = results(contacts.with_name("contacts-message.rehearsal.results.csv"))
    statuses = Counter(r["status"] for r in rows)
    assert set(statuses) <= {"sent", "unknown"}, statuses
    assert statuses["unknown"] <= 3  # at most one per kill
    for r in rows:
        if r["status"] == "sent":
            assert received[r["jid"]] == 1


def test_retry_unknown_resends_only_the_unknown_row(tmp_path, write_csv, results):
    contacts = write_csv(PEOPLE)
    gate = Gate(2)
    with Sandbox(token=SANDBOX_TOKEN, instance_id=SANDBOX_INSTANCE, on_accept=gate) as box:
        kill_in_flight(contacts, box, gate)
        code, out = run_cli(contacts, box.url)
        assert code == 1 and "--retry-unknown" in out
        assert len(box.received) == N
        code, out = run_cli(contacts, box.url, "--retry-unknown")
        assert code == 0, out
        received = Counter(m.jid for m in box.received)
    assert received[f"9725023456{1:02d}@s.whatsapp.net"] == 2  # only the row asked for
    assert sum(received.values()) == N + 1
    rows = results(contacts.with_name("contacts-message.rehearsal.results.csv"))
    assert [r["status"] for r in rows] == ["sent"] * N
    assert rows[1]["attempts"] == "2"


def test_ctrl_c_finishes_the_request_in_flight_then_exits_130(tmp_path, write_csv, results):
    contacts = write_csv(PEOPLE)
    gate = Gate(3)
    with Sandbox(token=SANDBOX_TOKEN, instance_id=SANDBOX_INSTANCE, on_accept=gate) as box:
        code, out = signal_in_flight(contacts, box, gate, signal.SIGINT)
        assert code == 130, out
        assert "campaign send" in out and "To go on" in out
        rows = results(contacts.with_name("contacts-message.rehearsal.results.csv"))
        assert [r["status"] for r in rows] == ["sent"] * 3 + ["pending"] * 3
        code, out = run_cli(contacts, box.url)
        assert code == 0, out
        received = Counter(m.jid for m in box.received)
    assert sorted(received.values()) == [1] * N
    rows = results(contacts.with_name("contacts-message.rehearsal.results.csv"))
    assert [r["status"] for r in rows] == ["sent"] * N


def test_sigterm_is_handled_like_ctrl_c(tmp_path, write_csv, results):
    contacts = write_csv(PEOPLE)
    gate = Gate(1)
    with Sandbox(token=SANDBOX_TOKEN, instance_id=SANDBOX_INSTANCE, on_accept=gate) as box:
        code, out = signal_in_flight(contacts, box, gate, signal.SIGTERM)
    assert code == 130, out
    rows = results(contacts.with_name("contacts-message.rehearsal.results.csv"))
    assert [r["status"] for r in rows] == ["sent"] + ["pending"] * (N - 1)


def test_a_second_run_while_one_is_running_is_refused(tmp_path, write_csv, cli):
    contacts = write_csv(PEOPLE)
    gate = Gate(1)
    with Sandbox(token=SANDBOX_TOKEN, instance_id=SANDBOX_INSTANCE, on_accept=gate) as box:
        proc = start_cli(contacts, box.url)
        assert gate.reached.wait(30)
        env = {"IBOT_TOKEN": SANDBOX_TOKEN, "IBOT_INSTANCE_ID": SANDBOX_INSTANCE,
               "IBOT_BASE_URL": box.url}
        r = cli("send", contacts, *ARGS, env=env)
        assert r.exit_code == 2
        assert "another run of this campaign is in progress" in r.output
        gate.release.set()
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out
        assert len(box.received) == N


def test_killed_run_leaves_no_stuck_lock(tmp_path, write_csv):
    contacts = write_csv(PEOPLE)
    gate = Gate(1)
    with Sandbox(token=SANDBOX_TOKEN, instance_id=SANDBOX_INSTANCE, on_accept=gate) as box:
        kill_in_flight(contacts, box, gate)
        code, out = run_cli(contacts, box.url)
    assert code == 1 and "in progress" not in out


def test_rows_appended_to_the_sheet_are_sent_on_the_next_run(
    tmp_path, write_csv, cli, sandbox, sandbox_env, results
):
    contacts = write_csv(PEOPLE)
    assert cli("send", contacts, *ARGS, env=sandbox_env).exit_code == 0
    first = read_sent_at(results(contacts.with_name("contacts-message.rehearsal.results.csv")))
    # The marketer re-exports with new rows at the top and at the end: order must not matter.
    write_csv([PEOPLE[0], ["New0", "0547654300"], *PEOPLE[1:], ["New1", "0547654301"]])
    r = cli("send", contacts, *ARGS, env=sandbox_env)
    assert r.exit_code == 0, r.output
    received = Counter(m.jid for m in sandbox.received)
    assert len(received) == N + 2 and max(received.values()) == 1
    rows = results(contacts.with_name("contacts-message.rehearsal.results.csv"))
    assert [r["status"] for r in rows] == ["sent"] * (N + 2)
    # Earlier sends keep their original time in the results.
    assert {k: v for k, v in read_sent_at(rows).items() if k in first} == first


def test_a_changed_template_is_allowed_and_reported(tmp_path, write_csv, cli, sandbox, sandbox_env):
    contacts = write_csv(PEOPLE)
    tpl = tmp_path / "t.txt"
    tpl.write_text("Hi {{ name }}", encoding="utf-8")
    base = ("--yes", "--pace", "fast", "--delay", "0", "--jitter", "0", "--window", "any", "--quiet")
    assert cli("send", contacts, "-t", tpl, *base, "--limit", "2", env=sandbox_env).exit_code == 0
    tpl.write_text("Hello {{ name }}!", encoding="utf-8")
    r = cli("send", contacts, "-t", tpl, *base, env=sandbox_env)
    assert r.exit_code == 0
    assert "the template changed since the last run" in r.output
    texts = [m.text for m in sandbox.received]
    assert texts == ["Hi P0", "Hi P1", "Hello P2!", "Hello P3!", "Hello P4!", "Hello P5!"]


def test_locked_results_file_gets_a_timestamped_copy(
    tmp_path, write_xlsx, cli, sandbox, sandbox_env, results
):
    contacts = write_xlsx(PEOPLE)
    target = contacts.with_name("contacts-message.rehearsal.results.xlsx")
    target.write_bytes(b"old")
    lock = target.with_name("~$" + target.name)  # what Excel leaves while it is open
    lock.write_bytes(b"")
    r = cli("send", contacts, *ARGS, env=sandbox_env)
    assert r.exit_code == 0, r.output
    copies = sorted(tmp_path.glob("contacts-message.rehearsal.results.2*.xlsx"))
    assert len(copies) == 1
    assert f"Results: {copies[0]}" in r.output
    assert target.read_bytes() == b"old"  # the open file is left alone
    assert [row["status"] for row in results(copies[0])] == ["sent"] * N


def read_sent_at(rows: list[dict[str, str]]) -> dict[str, str]:
    return {r["jid"]: r["sent_at"] for r in rows}
