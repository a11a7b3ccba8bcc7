"""One error family: every error a user can meet, with the fix in its message."""

from __future__ import annotations

import errno
import sqlite3
from enum import IntEnum


class ExitCode(IntEnum):
    """SPEC "Errors and exit codes", named once for the runner, the session and the CLI (as
    httpie's ExitStatus): every error carries one, the session returns one, the CLI exits with it."""

    OK = 0
    ROWS_FAILED = 1  # the run finished but some rows are failed or unknown
    BAD_INPUT = 2  # bad usage or input; nothing was sent
    ABORTED = 3  # the API, the circuit breaker or the machine stopped the run
    INTERRUPTED = 130


class CampaignError(Exception):
    """Base of every error the CLI turns into a one-paragraph message (never a traceback)."""

    exit_code: ExitCode = ExitCode.BAD_INPUT


class InputError(CampaignError):
    """Bad input: a file, a sheet, a column, an option. Nothing was sent."""


class EmptySheetError(InputError):
    """The file or sheet has no rows at all (fine for an opt-out list, not for contacts)."""


class TemplateError(InputError):
    """The Jinja2 template cannot be used: syntax error or unknown variable."""


class BusyError(InputError):
    """Another run of the same campaign holds the journal's lock."""


_ERRNO_HINTS = {
    errno.ENOSPC: "the disk is full; free some space",
    errno.EFBIG: "a file grew past the size this system allows; free space or raise the limit",
    errno.EDQUOT: "the disk quota is used up; free some space",
    errno.EROFS: "the file system is read-only; use a writable folder",
    errno.EACCES: "permission denied; use a folder you can write to",
    errno.EPERM: "permission denied; use a folder you can write to",
    errno.EISDIR: "it is a folder, not a file; give a file name",
    errno.ENOENT: "it no longer exists (was its folder moved or deleted?)",
    errno.ENOTDIR: "a part of the path is not a folder",
}


def describe_failure(error: BaseException) -> str:
    """The machine failing under a run (an OSError, SQLite's errors) as one sentence with the fix.

    The one place these become words: the runner stops on them with every outcome kept, the CLI
    reports them before the first send. Never a traceback.
    """
    if isinstance(error, sqlite3.Error):
        text = str(error)
        if "full" in text:
            return f"the disk is full ({text}); free some space"
        if "readonly" in text or "read-only" in text:
            return f"a database file is read-only ({text}); make its folder writable"
        if "unable to open" in text:
            return (f"a database file cannot be opened ({text}); was its folder moved, deleted or "
                    "made read-only?")
        return f"the database failed ({text})"
    if isinstance(error, OSError):
        where = f" {error.filename}" if error.filename else ""
        hint = _ERRNO_HINTS.get(error.errno or 0, error.strerror or str(error))
        return f"cannot write or read{where}: {hint}"
    return str(error)
