"""Once per person, not only per journal (issue 18): a recipient who got the identical message
from any campaign in this namespace in the last 30 days is `suppressed`, whatever was renamed,
copied or started afresh; `--resend` sends it once more. Through the real CLI and the sandbox."""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from campaign.sandbox import Faults, Sandbox
from tests.helpers import FAST, SANDBOX_TOKEN, start_campaign

PEOPLE = [
    ["Name", "Phone"],
    ["Dana", "050-234-5678"],
    ["Michael", "+972 54 765 4321"],
    ["Yossi", "0523456789"],
]
TEXT = "Hi {{ name }}, the winter sale starts today"


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """A campaign folder: a sheet and a template, sent once to everyone."""
    folder = tmp_path / "shop"
    folder.mkdir()
    import csv

    with open(folder / "customers.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(PEOPLE)
    (folder / "winter.txt").write_text(TEXT, encoding="utf-8")
    return folder


def first_send(cli: Callable[..., object], shop: Path, env: dict[str, str]) -> None:
    r = cli("send", shop / "customers.csv", "-t", shop / "winter.txt", *FAST, env=env)
    assert r.exit_code == 0, r.output  # type: ignore[attr-defined]


# Each ordinary action that used to start a new campaign and send to everyone again (the issue's
# table): the command's arguments, and the results sheet it writes.
def renamed_contacts(shop: Path) -> tuple[list[object], Path]:
    shutil.copy(shop / "customers.csv", shop / "clients.csv")
    return [shop / "clients.csv", "-t", shop / "winter.txt"], shop / "clients-winter"


def renamed_template(shop: Path) -> tuple[list[object], Path]:
    shutil.copy(shop / "winter.txt", shop / "winter2.txt")
    return [shop / "customers.csv", "-t", shop / "winter2.txt"], shop / "customers-winter2"


def inline_message(shop: Path) -> tuple[list[object], Path]:
    return [shop / "customers.csv", "-m", TEXT], shop / "customers-message"


def copied_folder(shop: Path) -> tuple[list[object], Path]:
    copy = shop.with_name("shop-copy")
    shutil.copytree(shop, copy, ignore=shutil.ignore_patterns(".campaign", "*.results.*"))
    return [copy / "customers.csv", "-t", copy / "winter.txt"], copy / "customers-winter"


def fresh_state(shop: Path) -> tuple[list[object], Path]:
    return ([shop / "customers.csv", "-t", shop / "winter.txt", "--state", shop / "fresh.sqlite3"],
            shop / "customers-winter")


@pytest.mark.parametrize("action", [renamed_contacts, renamed_template, inline_message,
                                    copied_folder, fresh_state])
def test_the_same_message_is_never_sent_twice_and_resend_sends_it_once_more(
    cli, shop, sandbox, sandbox_env, results, action
) -> None:
    first_send(cli, shop, sandbox_env)
    args, stem = action(shop)
    r = cli("send", *args, *FAST, env=sandbox_env)
    assert r.exit_code == 0, r.output
    assert len(sandbox.received) == 3  # nobody twice
    rows = results(stem.with_name(f"{stem.name}.rehearsal.results.csv"))
    assert [row["status"] for row in rows] == ["suppressed"] * 3
    for row in rows:
        assert row["error"].startswith("already got this message on "), row
        assert row["error"].endswith(f", campaign 'customers-winter' in {shop}"), row
    assert (f"Nothing sent (a rehearsal to the local API at 127.0.0.1:{sandbox.port}): all 3 already "
            "got this message on ") in r.output
    assert "it again: --resend." in r.output
    # --resend: exactly once more, and that campaign's journal keeps it at once.
    for _ in range(2):
        r = cli("send", *args, *FAST, "--resend", env=sandbox_env)
        assert r.exit_code == 0, r.output
    assert Counter(m.jid for m in sandbox.received) == Counter(
        {jid: 2 for jid in {m.jid for m in sandbox.received}})
    assert len(sandbox.received) == 6


def test_a_changed_text_in_a_copied_folder_goes_to_everyone(cli, shop, sandbox, sandbox_env) -> None:
    first_send(cli, shop, sandbox_env)
    args, _ = copied_folder(shop)
    (shop.with_name("shop-copy") / "winter.txt").write_text(TEXT + "!", encoding="utf-8")
    r = cli("send", *args, *FAST, env=sandbox_env)
    assert r.exit_code == 0, r.output
    assert [m.text for m in sandbox.received[3:]] == [
        "Hi Dana, the winter sale starts today!", "Hi Michael, the winter sale starts today!",
        "Hi Yossi, the winter sale starts today!"]


def test_the_dry_run_and_the_plan_say_who_already_got_it(cli, shop, sandbox, sandbox_env,
                                                         monkeypatch) -> None:
    from campaign.cli import ConsoleUI

    first_send(cli, shop, sandbox_env)
    (shop / "more.csv").write_text("Name,Phone\nDana,050-234-5678\nRina,0531234567\n", encoding="utf-8")
    r = cli("send", shop / "more.csv", "-t", shop / "winter.txt", "--dry-run", env=sandbox_env)
    assert r.exit_code == 0, r.output
    assert "row 2: suppressed: already got this message on " in r.output
    monkeypatch.setattr(ConsoleUI, "is_interactive", lambda self: True)
    r = cli("send", shop / "more.csv", "-m", "Another message to {{ name }}", "--pace", "fast",
            "--delay", "0", "--jitter", "0", env=sandbox_env, input="n\n")
    assert r.exit_code == 0, r.output
    assert "1 of them got a message from these numbers in the last 24 hours" in r.output
    assert len(sandbox.received) == 3


def test_two_campaigns_at_once_with_one_message_through_two_senders_reach_each_person_once(
    write_csv, tmp_path: Path
) -> None:
    people = [["Name", "Phone"]] + [[f"P{i}", f"05023457{i:02d}"] for i in range(20)]
    contacts = write_csv(people)
    with Sandbox(token=SANDBOX_TOKEN, instance_id=["shop-id", "promo-id"]) as box:
        box.faults = Faults(latency=0.1)
        procs = [start_campaign("send", contacts, "-m", "Offer for {{ name }}", "--name", name,
                                *FAST, cwd=tmp_path,
                                env={**os.environ, "IBOT_TOKEN": SANDBOX_TOKEN,
                                     "IBOT_INSTANCE_ID": instance, "IBOT_BASE_URL": box.url})
                 for name, instance in (("autumn", "shop-id"), ("winter", "promo-id"))]
        outputs = [p.communicate(timeout=120)[0] for p in procs]
        counts = Counter(m.jid for m in box.received)
        through = Counter(m.instance for m in box.received)
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert len(counts) == 20 and set(counts.values()) == {1}, counts
    assert through["shop-id"] and through["promo-id"], through  # both really sent at once
