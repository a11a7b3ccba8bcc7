"""`campaign status`, `pause`, `resume`, `cancel`: the registry of campaigns on this computer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from campaign import control, status
from campaign.errors import InputError
from tests.helpers import FAST

PEOPLE = [["name", "phone"], ["Dana", "+972 52-555-0101"], ["Omer", "+972 52-555-0102"],
          ["Noa", "+972 52-555-0103"]]
ANY_TIME = (*FAST, "--window", "any")


def test_a_finished_campaign_is_listed_with_its_counts(cli, write_csv, sandbox_env, sandbox,
                                                       campaign_home: Path) -> None:
    contacts = write_csv(PEOPLE)
    assert cli("send", contacts, "-m", "Hi {{ name }}", "--name", "winter", "--dry-run",
               env=sandbox_env).exit_code == 0
    assert cli("status").output.startswith("No campaigns yet")  # a dry run is not a campaign yet
    assert cli("send", contacts, "-m", "Hi {{ name }}", "--name", "winter", *ANY_TIME,
               env=sandbox_env).exit_code == 0
    r = cli("status")
    assert r.exit_code == 0
    assert "winter  finished  3 of 3 sent" in r.output
    found = json.loads(cli("status", "winter", "--json").output)
    assert (found["state"], found["sent"], found["total"], found["pending"]) == ("finished", 3, 3, 0)
    assert found["senders"] == [{"label": "#1", "sent": 3, "failed": 0, "unknown": 0, "pending": 0}]
    assert sum(d["sent"] for d in found["per_day"]) == len(sandbox.received) == 3
    assert found["results"].endswith("winter.rehearsal.results.csv")
    assert found["preview"].endswith(".preview.html") and Path(found["preview"]).is_file()
    assert status.collect(campaign_home, name="winter")[0] == found


def test_the_library_api_answers_what_the_cli_prints(campaign_home: Path) -> None:
    assert status.collect(campaign_home) == []
    with pytest.raises(InputError, match="no campaign named 'x'"):
        status.collect(campaign_home, name="x")
    with pytest.raises(InputError, match="no campaign named 'x'"):
        control.request(campaign_home, "x", "pause")


def test_pause_of_a_finished_campaign_is_refused(cli, write_csv, sandbox_env) -> None:
    contacts = write_csv(PEOPLE)
    cli("send", contacts, "-m", "Hi", "--name", "done", *ANY_TIME, env=sandbox_env)
    r = cli("pause", "done")
    assert r.exit_code == 2
    assert "'done' is finished, not running: there is nothing to pause." in r.output
    r = cli("resume", "done")
    assert r.exit_code == 2 and "has finished" in r.output
    assert cli("status", "nothing").exit_code == 2
