"""What people really hand over on their first day (issue 22): the template and the contacts
swapped, a file name given to --message, Excel's lock file (`~$customers.xlsx`) instead of the
workbook, and media "links" that are a path on this computer or a share page.

Each check returns plain words (or raises InputError); the plan decides where they go.
"""

from __future__ import annotations

import re
from pathlib import Path, PureWindowsPath
from urllib.parse import parse_qs, urlsplit

from campaign.errors import InputError

SHEET_SUFFIXES = frozenset({".csv", ".tsv", ".xlsx", ".xlsm", ".xls", ".ods"})
# The first bytes of a workbook: a ZIP (xlsx, xlsm, ods) or an OLE compound file (xls).
_WORKBOOK_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")
_TEMPLATE_MARKS = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
EXCEL_LOCK_PREFIX = "~$"


def _head(path: Path, size: int = 65_536) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(size)
    except OSError:
        return b""


def looks_like_sheet(path: Path) -> bool:
    return path.suffix.lower() in SHEET_SUFFIXES or _head(path, 4).startswith(_WORKBOOK_MAGIC)


def looks_like_template(path: Path) -> bool:
    head = _head(path)
    if head.startswith(_WORKBOOK_MAGIC):
        return False
    return bool(_TEMPLATE_MARKS.search(head.decode("utf-8", "replace")))


def _is_file(text: str) -> bool:
    try:
        return bool(Path(text).suffix) and Path(text).is_file()
    except (OSError, ValueError):
        return False


def check_files(contacts: Path, template: Path | None, message: str | None) -> list[str]:
    """Refuse the mix-ups that would otherwise read as a puzzle; return notes worth saying."""
    if message and "\n" not in message and len(message) < 200 and _is_file(message):
        raise InputError(
            f"--message {message}: that is a file name, and --message takes the text itself. "
            f"Give the file with -t {message}."
        )
    if contacts.name.startswith(EXCEL_LOCK_PREFIX):
        real = _locked_workbook(contacts)
        raise InputError(
            f"{contacts.name} is the lock file Excel keeps beside a workbook while it is open, not "
            f"a sheet of contacts. Give the workbook itself ({real}); save it in Excel first, as "
            "changes not saved are not in the file."
        )
    sheet_template = template if template is not None and template.is_file() and looks_like_sheet(
        template) else None
    swapped_contacts = contacts.is_file() and looks_like_template(contacts)
    if sheet_template is not None and swapped_contacts:
        raise InputError(
            f"{contacts.name} looks like a text template and {sheet_template.name} like a "
            f"spreadsheet: did you swap them? The contacts come first: campaign send "
            f"{sheet_template} -t {contacts}"
        )
    if sheet_template is not None:
        raise InputError(
            f"-t {sheet_template}: the template looks like a spreadsheet, not a text template: did "
            "you swap them? The contacts come first (campaign send CONTACTS -t TEMPLATE); the "
            "template is a text file such as welcome.txt."
        )
    if swapped_contacts:
        raise InputError(
            f"{contacts}: the contacts file looks like a text template ({{{{ ... }}}} inside), not "
            "a spreadsheet: did you swap them? The contacts come first: "
            "campaign send CONTACTS -t TEMPLATE."
        )
    owner = excel_owner_file(contacts)
    if owner is not None:
        return [
            f"{contacts.name} is open in Excel ({owner.name} is beside it): changes not saved "
            "there are not in the file and are not seen here. Save it in Excel first to include "
            "them."
        ]
    return []


def _locked_workbook(lock: Path) -> str:
    rest = lock.name[len(EXCEL_LOCK_PREFIX):]
    try:
        for sibling in sorted(lock.parent.iterdir()):
            if not sibling.name.startswith(EXCEL_LOCK_PREFIX) and sibling.name.endswith(rest):
                return sibling.name
    except OSError:
        pass
    return rest


def excel_owner_file(path: Path) -> Path | None:
    """Excel's `~$name` beside a workbook it has open (Office shortens long names to `~$me`)."""
    for name in (EXCEL_LOCK_PREFIX + path.name, EXCEL_LOCK_PREFIX + path.name[2:]):
        owner = path.with_name(name)
        if len(path.name) > 2 and owner.is_file():
            return owner
    return None


# --- media links --------------------------------------------------------------------------------

_DIRECT = "a direct https link to the file itself (it opens the picture or file, not a page about it)"


def media_hint(url: str) -> str:
    """Why this media URL will not work, and how to get one that does; '' when none applies."""
    text = url.strip()
    lowered = text.lower()
    if re.match(r"^[a-z]:[\\/]", lowered) or lowered.startswith(("\\\\", "/", "~", "file:", "./", "..")):
        name = PureWindowsPath(text).name if "\\" in text else Path(text).name
        return (
            f"'{text}' is a file on this computer, which the API cannot reach. Upload {name or 'it'} "
            "somewhere public (your website, a public cloud bucket, or a share link set to "
            f"'anyone with the link') and use {_DIRECT}."
        )
    parts = urlsplit(text)
    host = parts.netloc.lower()
    if host.endswith("drive.google.com") or host.endswith("docs.google.com"):
        file_id = re.search(r"/d/([\w-]+)", parts.path) or re.search(r"[?&]id=([\w-]+)", text)
        if "uc" in parts.path.split("/") or "export=download" in parts.query:
            return ""
        direct = (f" https://drive.google.com/uc?export=download&id={file_id.group(1)}"
                  if file_id else " https://drive.google.com/uc?export=download&id=FILE_ID")
        return (
            "a Google Drive 'view' link opens a page, not the file. Share the file as 'Anyone "
            f"with the link', then use the download form:{direct}"
        )
    if host.endswith("dropbox.com"):
        query = parse_qs(parts.query)
        if query.get("dl") == ["1"] or query.get("raw") == ["1"]:
            return ""
        fixed = re.sub(r"([?&])dl=0", r"\1dl=1", text) if "dl=0" in text else (
            text + ("&" if parts.query else "?") + "dl=1")
        return f"a Dropbox share link (?dl=0) opens a page, not the file; use {fixed}"
    if host.endswith(("1drv.ms", "onedrive.live.com", "sharepoint.com")):
        if "download=1" in parts.query or "/download" in parts.path:
            return ""
        return (
            "a OneDrive/SharePoint share link opens a page, not the file. In OneDrive choose "
            "Download (or add download=1 to a sharepoint.com link) and use that address: "
            f"{_DIRECT}."
        )
    return ""
