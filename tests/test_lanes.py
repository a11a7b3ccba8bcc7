"""Several senders: one campaign over many numbers, in parallel lanes, with failover.

The real CLI against the sandbox on loopback, which serves one instance per sender.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from campaign.sandbox import Faults, Sandbox
from campaign.senders import assign, parse_senders
from tests.helpers import FAST, HI, SANDBOX_TOKEN, api_env, run_campaign, start_campaign

IDS = {"shop": "INSTANCE-SHOP-1a", "promo": "INSTANCE-PROMO-2b", "vip": "INSTANCE-VIP-3c"}
PEOPLE = [["Name", "Phone"]] + [[f"P{i}", f"0502347{i:03d}"] for i in range(30)]
ARGS = (*HI, *FAST)


def env_for(box: Sandbox, labels: tuple[str, ...] = ("shop", "promo", "vip")) -> dict[str, str]:
    return api_env(box.url, IBOT_INSTANCE_ID=",".join(f"{label}={IDS[label]}" for label in labels))


def run(contacts: Path, box: Sandbox, *args: str, labels: tuple[str, ...] = ("shop", "promo", "vip"),
        ) -> subprocess.CompletedProcess[str]:
    return run_campaign("send", contacts, *ARGS, *args, cwd=contacts.parent, env=env_for(box, labels))


def start(contacts: Path, box: Sandbox, *args: str) -> subprocess.Popen[str]:
    return start_campaign("send", contacts, *ARGS, *args, cwd=contacts.parent, env=env_for(box))


def sandbox(faults: Faults | None = None) -> Sandbox:
    return Sandbox(token=SANDBOX_TOKEN, instance_id=list(IDS.values()), faults=faults)


def label_of(instance: str) -> str:
    return next(label for label, iid in IDS.items() if iid == instance)


def test_three_senders_reach_everyone_once_in_overlapping_lanes(write_csv, results) -> None:  # type: ignore[no-untyped-def]
    contacts = write_csv(PEOPLE)
    with sandbox(Faults(latency=0.05)) as box:
        r = run(contacts, box)
        received = box.received
        per_instance = box.max_concurrent_per_instance
        overall = box.max_concurrent
    assert r.returncode == 0, r.stdout + r.stderr
    counts = Counter(m.jid for m in received)
    assert len(counts) == 30 and set(counts.values()) == {1}
    assert set(per_instance) == set(IDS.values()) and set(per_instance.values()) == {1}
    assert overall >= 2  # the lanes send at the same time
    rows = results(contacts.with_name("contacts-message.rehearsal.results.csv"))
    by_jid = {m.jid: label_of(m.instance) for m in received}
    assert {row["sender"] for row in rows} == {"shop", "promo", "vip"}
    assert all(row["sender"] == by_jid[row["jid"]] for row in rows)
    assert "sender" in r.stdout and "shop" in r.stdout  # the summary's table per sender
    for iid in IDS.values():  # senders are named by label, never by ID
        assert iid not in r.stdout + r.stderr
        for f in contacts.parent.rglob("*"):
            if f.is_file():
                assert iid.encode() not in f.read_bytes(), f


def test_a_recipient_hears_from_the_same_number_in_every_campaign(write_csv, results) -> None:  # type: ignore[no-untyped-def]
    contacts = write_csv(PEOPLE)
    with sandbox() as box:
        assert run(contacts, box, "--name", "autumn").returncode == 0
        first = {m.jid: m.instance for m in box.received}
        # The same message again: --resend (without it nobody would get it twice: issue 18).
        assert run(contacts, box, "--name", "winter", "--resend").returncode == 0
        second = {m.jid: m.instance for m in box.received[30:]}
    assert first == second


def test_adding_a_sender_moves_only_its_share() -> None:
    senders = parse_senders("a=1,b=2,c=3,d=4", None)
    keys = [s.instance_id for s in senders]
    jids = [f"97250{n:07d}@s.whatsapp.net" for n in range(2000)]
    before = {j: keys[assign(j, keys[:3])] for j in jids}
    after = {j: keys[assign(j, keys)] for j in jids}
    moved = [j for j in jids if before[j] != after[j]]
    assert all(after[j] == "4" for j in moved)  # only to the new sender
    assert 350 < len(moved) < 650  # about a quarter


def test_failover_when_one_sender_disconnects(write_csv, results) -> None:  # type: ignore[no-untyped-def]
    contacts = write_csv(PEOPLE)
    with sandbox(Faults(latency=0.02, disconnect_instances={IDS["promo"]: 3})) as box:
        r = run(contacts, box)
        counts = Counter(m.jid for m in box.received)
        by_instance = Counter(m.instance for m in box.received)
    assert r.returncode == 0, r.stdout + r.stderr
    assert len(counts) == 30 and set(counts.values()) == {1}
    assert by_instance[IDS["promo"]] == 3
    assert "Sender promo was stopped: aborted by the API: Instance not connected" in r.stderr
    assert "stopped at" in r.stdout and "its rows went to the others" in r.stdout
    rows = results(contacts.with_name("contacts-message.rehearsal.results.csv"))
    assert [row["status"] for row in rows] == ["sent"] * 30


def test_exit_3_only_when_every_sender_is_stopped(write_csv) -> None:  # type: ignore[no-untyped-def]
    contacts = write_csv(PEOPLE)
    faults = Faults(disconnect_instances={iid: 2 for iid in IDS.values()})
    with sandbox(faults) as box:
        r = run(contacts, box)
        assert len(box.received) == 6
    assert r.returncode == 3, r.stdout + r.stderr
    assert "every sender was stopped" in r.stderr


def test_sender_option_limits_the_run(write_csv) -> None:  # type: ignore[no-untyped-def]
    contacts = write_csv(PEOPLE)
    with sandbox() as box:
        r = run(contacts, box, "--sender", "vip")
        assert {m.instance for m in box.received} == {IDS["vip"]}
        assert len(box.received) == 30
        bad = run(contacts, box, "--sender", "nope")
    assert r.returncode == 0, r.stdout + r.stderr
    assert bad.returncode == 2
    assert "--sender nope: no such sender. Configured: shop, promo, vip" in bad.stderr


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_sigkill_at_arbitrary_moments_with_three_lanes(write_csv, results, seed: int) -> None:  # type: ignore[no-untyped-def]
    contacts = write_csv(PEOPLE)
    rng = random.Random(seed)
    with sandbox(Faults(latency=0.03)) as box:
        for _ in range(3):
            proc = start(contacts, box)
            deadline = time.time() + rng.uniform(0.9, 1.8)  # interpreter start-up is ~0.7 s
            while time.time() < deadline and proc.poll() is None:
                threading.Event().wait(0.01)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        final = run(contacts, box)
        counts = Counter(m.jid for m in box.received)
    assert final.returncode in (0, 1), final.stdout + final.stderr
    assert max(counts.values()) == 1, counts  # nobody twice, whatever was killed where
    rows = results(contacts.with_name("contacts-message.rehearsal.results.csv"))
    unknown = [row for row in rows if row["status"] == "unknown"]
    assert len(unknown) <= 3 * 3  # at most one per lane per kill
    assert all(row["status"] in ("sent", "unknown") for row in rows)
    assert {row["jid"] for row in rows if row["status"] == "sent"} <= set(counts)


def test_the_dry_run_estimate_accounts_for_the_lanes(write_csv) -> None:  # type: ignore[no-untyped-def]
    contacts = write_csv(PEOPLE)

    def dry_run(*args: str) -> str:
        return run_campaign("send", contacts, *HI, "--dry-run", "--pace", "fast", "--jitter", "0",
                            "--window", "any", *args, cwd=contacts.parent,
                            env=env_for(box)).stdout

    with sandbox() as box:
        one, three = dry_run("--sender", "shop"), dry_run()
    assert "Sending 30 would take about 3m (" in one, one  # 29 x 8 s = 3m 52s
    assert "Sending 30 would take about 1m (" in three, three  # 9 x 8 s = 1m 12s in each lane


@pytest.mark.parametrize(
    ("ids", "tokens", "message"),
    [
        ("my shop=INSTAAA111", None, "a sender label is 1-32 letters"),
        ("shop=INSTAAA111 promo=INSTBBB222", None, "has a space in its instance ID"),
        ("shop=,promo=INSTBBB222", None, "entry 1 (shop=) has no instance ID"),
        ("shop=INSTAAA111,,promo=INSTBBB222", None, "has an empty entry"),
        ("shop=INSTAAA111,shop=INSTBBB222", None, "names the sender 'shop' twice"),
        ("shop=INSTAAA111,promo=INSTBBB222", "TOK1,", "IBOT_TOKEN has an empty entry"),
        ("shop=INSTAAA111,promo=INSTBBB222,vip=INSTCCC333", "T1,T2", "lists 2 tokens for 3 senders"),
    ],
)
def test_malformed_senders_are_exit_2_without_their_values(write_csv, ids: str, tokens: str | None,  # type: ignore[no-untyped-def]
                                                           message: str) -> None:
    contacts = write_csv(PEOPLE)
    env = {**os.environ, "IBOT_INSTANCE_ID": ids, "IBOT_BASE_URL": "http://127.0.0.1:9/api/v1"}
    if tokens is not None:
        env["IBOT_TOKEN"] = tokens
    r = run_campaign("send", contacts, *ARGS, cwd=contacts.parent, env=env, timeout=60)
    assert r.returncode == 2, r.stdout + r.stderr
    assert message in r.stderr
    assert "Traceback" not in r.stderr
    for secret in ("INSTAAA111", "INSTBBB222", "INSTCCC333", "TOK1"):
        assert secret not in r.stdout + r.stderr


def test_another_campaign_sending_through_the_number_holds_the_interval(tmp_path: Path) -> None:
    from campaign.store.history import ClaimRequest, History, Verdict, number_interval

    gap = [number_interval(4.0)]
    with History(tmp_path / "home") as history:
        first = history.claim(ClaimRequest("live", "n1", "1@s.whatsapp.net", "a", "/a", 100.0), gap)
        early = history.claim(ClaimRequest("live", "n1", "2@s.whatsapp.net", "b", "/b", 101.0), gap)
        later = history.claim(ClaimRequest("live", "n1", "2@s.whatsapp.net", "b", "/b", 104.0), gap)
        other_number = history.claim(ClaimRequest("live", "n2", "3@s.whatsapp.net", "b", "/b", 101.0), gap)
    assert first[0] is not None
    assert early == (None, Verdict(wait=True, other_send=100.0))  # wait: campaign a sent at 100
    assert later[0] is not None and other_number[0] is not None


def test_stopped_senders_rows_reach_the_healthy_one_when_none_were_its_own(  # type: ignore[no-untyped-def]
        write_csv, results, campaign_home) -> None:
    """Issue 19 item 1: a is healthy, b is not connected, c's token is refused, and every
    recipient hashes to b or c. a's lane has nothing queued at the start; it must still be there
    when b and c stop and hand their rows over (it used to end at once: 'pending 2', exit 0)."""
    from campaign.senders import assign_all
    from campaign.store.history import History

    ids = {"a": "INSTANCE-A-1", "b": "INSTANCE-B-2", "c": "INSTANCE-C-3"}
    with History(campaign_home) as history:  # the same per-user key the run will use
        keys = [history.sender_id(iid) for iid in ids.values()]
    phones = [f"0502348{i:03d}" for i in range(200)]
    jids = {p: f"972{p[1:]}@s.whatsapp.net" for p in phones}
    chosen = next([p, q] for p in phones for q in phones
                  if p < q and 0 not in assign_all([jids[p], jids[q]], keys))
    contacts = write_csv([["Name", "Phone"], ["P", chosen[0]], ["Q", chosen[1]]])
    # b is not among the instances the stand-in serves; c's token is not the one it accepts.
    with Sandbox(token=SANDBOX_TOKEN, instance_id=[ids["a"], ids["c"]]) as box:
        env = api_env(box.url, IBOT_INSTANCE_ID=",".join(f"{k}={v}" for k, v in ids.items()),
                      IBOT_TOKEN=f"{SANDBOX_TOKEN},{SANDBOX_TOKEN},WRONG-TOKEN")
        r = run_campaign("send", contacts, *ARGS, cwd=contacts.parent, env=env)
        received = box.received
    assert r.returncode == 0, r.stdout + r.stderr
    assert sorted(m.jid for m in received) == sorted(jids[p] for p in chosen)
    assert {m.instance for m in received} == {ids["a"]}  # every row through the healthy sender
    rows = results(contacts.with_name("contacts-message.rehearsal.results.csv"))
    assert [(row["status"], row["sender"]) for row in rows] == [("sent", "a"), ("sent", "a")]
