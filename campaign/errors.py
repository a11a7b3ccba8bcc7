"""One error family: every error a user can meet, with the fix in its message."""

from __future__ import annotations


class CampaignError(Exception):
    """Base of every error the CLI turns into a one-paragraph message (never a traceback)."""

    exit_code = 2


class InputError(CampaignError):
    """Bad input: a file, a sheet, a column, an option. Nothing was sent."""


class EmptySheetError(InputError):
    """The file or sheet has no rows at all (fine for an opt-out list, not for contacts)."""


class TemplateError(InputError):
    """The Jinja2 template cannot be used: syntax error or unknown variable."""


class ApiError(CampaignError):
    """The API stopped the run (auth, disconnected) or the circuit breaker tripped."""

    exit_code = 3


class BusyError(InputError):
    """Another run of the same campaign holds the journal's lock."""
