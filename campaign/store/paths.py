"""Where the stores live: the campaign's journal beside its contacts, the history per user."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path


def home(environ: Mapping[str, str] | None = None) -> Path:
    """`CAMPAIGN_HOME`, else the platform's per-user state folder (~/.local/state/campaign)."""
    environ = os.environ if environ is None else environ
    if environ.get("CAMPAIGN_HOME"):
        return Path(environ["CAMPAIGN_HOME"]).expanduser()
    import platformdirs

    return Path(platformdirs.user_state_dir("campaign", appauthor=False))


def campaign_name(contacts: Path, template: Path | None, name: str | None = None) -> str:
    """The identity: --name, or the contacts and template file names (`contacts-welcome`).

    Made safe as a file name, since the journal is `<name>.sqlite3`.
    """
    if name is None:
        name = contacts.stem + ("-" + template.stem if template is not None else "-message")
    return re.sub(r"[^\w.-]+", "_", name).strip("_.") or "campaign"


def default_journal_dir(contacts: Path) -> Path:
    """Journals live beside the contacts, so a folder of campaigns shares one history."""
    return contacts.resolve().parent / ".campaign"


def journal_path(journal: Path, suffix: str) -> Path:
    """A namespace's journal beside the campaign's: `x.sqlite3` -> `x.rehearsal.sqlite3`."""
    if not suffix:
        return journal
    name = journal.name[: -len(".sqlite3")] if journal.name.endswith(".sqlite3") else journal.stem
    return journal.with_name(f"{name}{suffix}.sqlite3")
