"""Reading the small text files a run is given (template, --config, .env) without hanging or
filling memory: `-t /dev/zero` ended in a MemoryError traceback, and a FIFO as the template or
`.env` waited forever for a writer (issue 19).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from campaign.errors import InputError

# A template, a config or a .env is a few KB; this is far past any real one.
MAX_TEXT_FILE = 1024 * 1024


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def check_regular(path: Path, *, label: str) -> None:
    """Exit 2 when `path` exists but is not a regular file (a FIFO, a device, a folder)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return  # missing or unreadable: the reader's own message says so
    if not stat.S_ISREG(mode):
        raise InputError(f"{label} {path} is {_kind(mode)}, not a file; give the path of a file.")


def read_text_file(path: Path, *, label: str, limit: int = MAX_TEXT_FILE) -> str:
    """The UTF-8 text of a regular file of at most `limit` bytes.

    Opened without blocking (a FIFO would wait for a writer) and checked on the open file, so
    nothing can be swapped in between. Raises FileNotFoundError, UnicodeDecodeError and OSError
    as reading would; InputError (naming `label`) for a special file or one too large.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "rb") as f:
        mode = os.fstat(f.fileno()).st_mode
        if not stat.S_ISREG(mode):
            raise InputError(f"{label} {path} is {_kind(mode)}, not a file; give the path of a file.")
        data = f.read(limit + 1)
    if len(data) > limit:
        raise InputError(f"{label} {path} is larger than {limit // 1024:,} KB, far more than such "
                         "a file holds; check the path.")
    return data.decode("utf-8-sig")
