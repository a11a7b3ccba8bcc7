"""The journal on real SQLite: round trips, crash recovery, names, and the lock."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaign.errors import BusyError
from campaign.store.journal import INTERRUPTED, Journal
from campaign.store.paths import campaign_name

JIDS = st.sampled_from([f"97250{n}@s.whatsapp.net" for n in range(1000000, 1000006)])
STEP = st.tuples(JIDS, st.sampled_from(["sent", "failed", "unknown", None]),
                 st.text(max_size=40), st.text(max_size=40))


@given(st.lists(STEP, max_size=25))
@settings(max_examples=60, deadline=None)
def test_round_trip_and_recovery(steps: list[tuple[str, str | None, str, str]]) -> None:
    """Whatever sequence of sends and crashes, the journal reads back what was committed."""
    expected: dict[str, tuple[str, str, int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "j.sqlite3"
        with Journal(path) as journal:
            for i, (jid, outcome, message, error) in enumerate(steps):
                if jid in expected and expected[jid][0] == "sent":
                    continue  # the runner never sends a sent JID again
                attempts = journal.begin(jid, row_number=i + 2, message=message, media="",
                                         at=float(i))
                status = "attempting"
                if outcome is not None:  # None: the process died with the request out
                    journal.finish(jid, status=outcome, error=error, sent_at="", attempts=attempts)
                    status = outcome
                expected[jid] = (status, message, attempts)
        with Journal(path) as journal:  # a new process
            assert journal.recover() == sum(s == "attempting" for s, _, _ in expected.values())
            records = journal.records()
        assert set(records) == set(expected)
        for jid, (status, message, attempts) in expected.items():
            rec = records[jid]
            assert rec.status == ("unknown" if status == "attempting" else status)
            assert (rec.message, rec.attempts) == (message, attempts)
            if status == "attempting":
                assert rec.error == INTERRUPTED


def test_a_sent_jid_cannot_begin_again(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite3") as journal:
        journal.begin("1@s.whatsapp.net", row_number=2, message="m", media="", at=0.0)
        journal.finish("1@s.whatsapp.net", status="sent", error="", sent_at="x", attempts=1)
        with pytest.raises(RuntimeError, match="already sent"):
            journal.begin("1@s.whatsapp.net", row_number=2, message="m", media="", at=1.0)


def test_the_lock_refuses_a_second_holder_and_dies_with_the_first(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    first = Journal(path)
    first.open()
    with pytest.raises(BusyError, match="another run of this campaign is in progress"):
        Journal(path).open()
    first.close()
    with Journal(path):
        pass


@pytest.mark.parametrize(
    ("name", "expected"),
    [(None, "contacts-welcome"), ("Autumn sale/2026", "Autumn_sale_2026"), ("../x", "x")],
)
def test_campaign_names_are_safe_file_names(name: str | None, expected: str) -> None:
    assert campaign_name(Path("contacts.xlsx"), Path("welcome.txt"), name) == expected
