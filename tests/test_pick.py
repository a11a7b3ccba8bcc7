"""pick() through the plan: seeded by the template's text and the recipient, not by the row's
position or the file names (issue 18: a renamed sheet or a copied folder chooses the same)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from campaign.contacts import load_sheet
from campaign.plan import Row, build_plan, same_text_notice
from campaign.render import MessageTemplate

PEOPLE = [["Name", "Phone"]] + [[f"P{i}", f"0502345{i:03d}"] for i in range(60)]
GREETING = "{{ pick('Hi', 'Hello', 'Hey') }} {{ name }}"


def plan_messages(path: Path, source: str = GREETING, origin: str = "m.txt") -> dict[str, str]:
    sheet = load_sheet(path)
    template = MessageTemplate(source, origin=origin, columns=sheet.columns)
    plan = build_plan(sheet, message=template)
    return {r.jid or "": r.message for r in plan.rows}


def test_pick_follows_the_recipient_not_the_row(write_csv: Callable[..., Path]) -> None:
    before = plan_messages(write_csv(PEOPLE))
    reordered = plan_messages(write_csv([PEOPLE[0], *reversed(PEOPLE[1:])], "again.csv"),
                              origin="renamed.txt")
    assert before == reordered
    assert len({m.split()[0] for m in before.values()}) == 3  # spread across the options


def test_another_text_chooses_afresh(write_csv: Callable[..., Path]) -> None:
    path = write_csv(PEOPLE)
    firsts = {jid: m.split()[0] for jid, m in plan_messages(path).items()}
    other = {jid: m.split()[0] for jid, m in plan_messages(path, GREETING + "!").items()}
    assert firsts != other


def test_template_notices_reach_the_plan(write_csv: Callable[..., Path]) -> None:
    sheet = load_sheet(write_csv([["Name", "Phone", "Name"], ["A", "0502345678", "B"]]))
    template = MessageTemplate("Hi {{ Name }}", origin="m.txt", columns=sheet.columns)
    plan = build_plan(sheet, message=template, phone_column="Phone")
    assert any("appears more than once" in n for n in plan.notices)


def rows(messages: list[str]) -> list[Row]:
    return [Row(number=i + 2, values=(), message=m) for i, m in enumerate(messages)]


def test_same_text_to_many_is_named_as_a_spam_signal() -> None:
    notice = same_text_notice(rows(["Sale tomorrow!"] * 10))
    assert notice is not None
    assert notice.startswith("all 10 messages are the same text. Identical text to many "
                             "recipients is a spam signal")
    assert "{{ pick('Hi', 'Hello', 'Hey') }}" in notice


def test_same_text_notice_stays_quiet_when_varied_or_few() -> None:
    assert same_text_notice(rows(["Sale tomorrow!"] * 9)) is None
    assert same_text_notice(rows(["Sale tomorrow!"] * 10 + ["Hi Dana"])) is None
    unsendable = rows(["x"] * 20)
    for r in unsendable[1:]:
        r.status = "invalid"
    assert same_text_notice(unsendable) is None
