"""The command line: parse options, print, prompt and exit. The work happens in the library."""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from campaign import __version__
from campaign.errors import CampaignError, ExitCode, InputError, describe_failure
from campaign.vocabulary import MessageKind, Status

DRY_RUN_SHOWN = 3
LOG_EVERY = 30.0  # seconds between progress lines when stderr is not a terminal


class Finite(click.FloatRange):
    """A FloatRange that also refuses nan, which passes every bound (`--delay nan` turned pacing
    off, issue 11); the upper bounds keep out inf and 1e308, which overflow time arithmetic."""

    name = "number"  # click says "'x' is not a valid float range" otherwise

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, bool):  # TOML `delay = true` is not a number of seconds
            self.fail(f"{value!r} is not a number", param, ctx)
        number = super().convert(value, param, ctx)
        if math.isnan(number):
            self.fail(f"{value!r} is not a number", param, ctx)
        return number


    def _describe_range(self) -> str:  # "0 to 1", not click's "0<=x<=1"
        return f"{self.min:g} to {self.max:g}"


class Count(click.IntRange):
    """A whole number in plain words: `--limit N` and "'abc' is not a whole number", "at least
    1", never click's "INTEGER RANGE", "not a valid integer range" or "x>=1"."""

    name = "whole number"

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "N"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter as e:
            if "is not in the range" not in e.message:
                raise
            self.fail(f"{value} is out of range: give a whole number, {self._describe_range()}.",
                      param, ctx)

    def _describe_range(self) -> str:
        if self.max is None:
            return f"{self.min} or more" if self.min == 0 else f"at least {self.min}"
        return f"{self.min} to {self.max}"


DAY_SECONDS = 86_400.0


class Duration(Finite):
    """A number of `unit`s (seconds, or days), or a duration with its unit: `--delay 5s`,
    `--pause-for 10m`, `--skip-contacted-within 7d`; bounds are in `unit`s."""

    name = "duration"

    def __init__(self, low: float, high: float, *, unit: float = 1.0) -> None:
        super().__init__(low, high)
        self.unit = unit

    def _describe_range(self) -> str:
        unit = "days" if self.unit == DAY_SECONDS else "seconds"
        return f"{self.min:g} to {self.max:g} {unit}"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from campaign.config import parse_duration

        if isinstance(value, str):
            try:
                value = parse_duration(value, self.unit)
            except ValueError as e:
                self.fail(str(e), param, ctx)
        return super().convert(value, param, ctx)


class CampaignExit(click.ClickException):
    """What click prints (one paragraph on stderr, no traceback) and exits with: an ExitCode."""

    def __init__(self, message: str, code: ExitCode) -> None:
        super().__init__(message)
        # click declares exit_code a ClassVar (8.5): this instance's code shadows it.
        vars(self)["exit_code"] = int(code)


def cli_error(error: CampaignError) -> click.ClickException:
    """A CampaignError as one paragraph on stderr, with its exit code and no traceback."""
    return CampaignExit(terminal_safe(str(error)), error.exit_code)


# Control characters other than newline and tab: a contact's name holding ESC sequences could
# retitle the window, clear the screen or rewrite earlier lines (issue 19). C1 included.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def terminal_safe(text: str) -> str:
    """`text` with control characters shown as escapes (`\\x1b`), never sent to the terminal."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _apply_config(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    # Eager, so the TOML values become defaults before the other options are read: flags win.
    if value is None:
        return
    ctx.meta["campaign.config"] = value  # the resume line names the file again
    from campaign.config import load_config

    # Keys are the option names users read in --help (`type`, `phone_column`), mapped to
    # click's parameter names (`kind`).
    known: dict[str, str] = {"contacts": "contacts"}
    for p in ctx.command.params:
        for opt in p.opts:
            if opt.startswith("--") and p.name != "config":
                known[opt[2:].replace("-", "_")] = p.name or ""
    try:
        values = load_config(Path(value), known, {p.name or "": _kind(p) for p in ctx.command.params})
    except CampaignError as e:
        raise cli_error(e) from None
    for p in ctx.command.params:  # phone_column = "Mobile" means one value of a repeatable option
        if isinstance(p, click.Option) and p.multiple and isinstance(values.get(p.name or ""), str):
            values[p.name or ""] = [values[p.name or ""]]
    ctx.default_map = {**(ctx.default_map or {}), **values}


def _kind(param: click.Parameter) -> str:
    """What a --config value must be for this option (config.CONFIG_KINDS)."""
    if isinstance(param, click.Option) and param.multiple:
        return "list"
    if isinstance(param, click.Option) and param.is_flag:
        return "flag"
    if isinstance(param.type, Duration):
        return "duration"
    if isinstance(param.type, click.types.IntParamType):
        return "int"
    if isinstance(param.type, click.types.FloatParamType):
        return "float"
    return "text"


def _quote_hint(command: click.Command, argv: list[str]) -> str:
    """`--phone-column טלפון נייד` unquoted: the shell split the value, and click sees an extra
    argument (issue 22). Say which value to quote, as it should be typed."""
    takes_value = {o for p in command.params if isinstance(p, click.Option) and not p.is_flag
                   and not p.count for o in p.opts}
    arguments = sum(isinstance(p, click.Argument) for p in command.params)
    positional: list[str] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        if token in takes_value and i + 1 < len(argv):
            words, j = [], i + 2
            while j < len(argv) and not argv[j].startswith("-"):
                words.append(argv[j])
                j += 1
            if words and len(positional) < arguments and "." in words[-1]:
                words = words[:-1]  # the contacts file after the option, as it may well be
            if words:
                return f'Quote a value with spaces: {token} "{" ".join([argv[i + 1], *words])}"'
            i += 2
            continue
        if not token.startswith("-"):
            positional.append(token)
        i += 1
    if len(positional) > arguments:
        return f'Quote a file name with spaces: "{" ".join(positional)}"'
    return ""


def _safe_usage(error: click.UsageError) -> click.UsageError:
    """click's own usage errors quote what was typed (`Got unexpected extra argument (...)`):
    the same message with control characters escaped, so an argument never reaches the
    terminal raw (issue 19)."""
    text = error.format_message()
    safe = terminal_safe(text)
    return error if safe == text else click.UsageError(safe, error.ctx)


class _HintedCommand(click.Command):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        given = list(args)
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as e:
            hint = _quote_hint(self, given) if "unexpected extra argument" in e.message else ""
            if hint:
                raise _safe_usage(click.UsageError(f"{e.message}. {hint}", e.ctx)) from None
            raise _safe_usage(e) from None


class _SafeGroup(click.Group):
    """The group's own usage errors (an unknown command or option) escaped as well."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as e:
            raise _safe_usage(e) from None

    def resolve_command(self, ctx: click.Context, args: list[str]
                        ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as e:
            raise _safe_usage(e) from None


@click.group(cls=_SafeGroup,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="campaign")
def main() -> None:
    """Send a personalised WhatsApp message to every row of a spreadsheet (ibot-chat API)."""


main.command_class = _HintedCommand  # every command says which value to quote


@main.command()
@click.argument("contacts", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--config", type=click.Path(dir_okay=False), is_eager=True, expose_value=False,
              callback=_apply_config, help="TOML file with any of these options as keys "
              '(phone_column = "Phone"); flags on the command line win.')
@click.option("-t", "--template", type=click.Path(path_type=Path, dir_okay=False),
              help="Jinja2 file with the message text (or the caption for media).")
@click.option("-m", "--message", help="The message text (Jinja2) given inline instead of --template.")
@click.option("--type", "kind", type=click.Choice([k.value for k in MessageKind]),
              default=MessageKind.TEXT.value, show_default=True,
              help="What to send: the API endpoint to use.")
@click.option("--media-url", help='Media URL for image/video/audio/doc; a Jinja2 template, so a '
              'column can hold it: "{{ brochure }}". Must be https://.')
@click.option("--sheet", help="Workbook sheet to read (default: the first; others are listed).")
@click.option("--header-row", type=Count(min=1),
              help="Row number of the column names (default: found automatically).")
@click.option("--phone-column", multiple=True, help="Column holding the phone numbers (default: "
              "detected from headers like Phone, Mobile, WhatsApp, טלפון, נייד, and from the "
              "cells). Repeatable: a row whose first column has no usable number takes the next.")
@click.option("--country", help="Country of numbers written without a country code (ISO code, "
              "e.g. GB, US, IL; UK is GB). Default: inferred from the sheet's numbers (and "
              "CAMPAIGN_COUNTRY, the computer's locale), and named in the output.")
@click.option("--strict-phones", is_flag=True,
              help="Reject numbers outside the country's known ranges instead of warning.")
@click.option("--suppress", multiple=True, type=click.Path(path_type=Path, dir_okay=False),
              help="Opt-out list (any supported format); matching rows are not sent. Repeatable.")
@click.option("--encoding", metavar="NAME", help="Text encoding of a CSV/TSV/TXT file, e.g. "
              "cp1255, cp1252, utf-8 (default: detected, and named in the output).")
@click.option("--skip-hidden", is_flag=True, help="Leave out rows hidden in the workbook (by hand "
              "or by a filter): they become 'suppressed'.")
@click.option("--dry-run", is_flag=True,
              help="Do everything but send: write the results sheet with 'ready' rows and show "
              "the first messages.")
@click.option("--limit", type=Count(min=1),
              help="Send at most N messages in this run (a pilot batch); the rest stay pending.")
@click.option("--pace", type=click.Choice(["careful", "standard", "fast"]), default="standard",
              show_default=True, help="A preset of the pacing options below, from published "
              "guidance (README, Pacing): careful 45+45 s, a 15 min pause every 15, 40/h, 100/day, "
              "warm-up; standard 30+30 s, 10 min every 30, 60/h, 300/day; fast 8+7 s, no pauses "
              "or caps. Any pacing option given explicitly overrides just that value.")
@click.option("--delay", type=Duration(0, DAY_SECONDS),
              help="Minimum seconds (or 5s, 2m) between the starts of two sends by one number (API latency "
              "counts toward it; holds across a restart). Default: from --pace.")
@click.option("--jitter", type=Duration(0, DAY_SECONDS),
              help="Random extra 0..S seconds (or 30s, 1m) added to each interval, so sends don't "
              "look robotic. Default: from --pace.")
@click.option("--pause-every", type=Count(min=0), metavar="N",
              help="After every N sends by one number, a longer pause (--pause-for); 0: never. "
              "Default: from --pace.")
@click.option("--pause-for", type=Duration(0, DAY_SECONDS), metavar="S",
              help="Seconds (or 10m, 1h) of the pause after --pause-every sends; 0: no pauses. "
              "Default: from --pace.")
@click.option("--max-per-hour", type=Count(min=0),
              help="At most N sends through this number in any 60 minutes, by every campaign on "
              "this computer, across restarts; 0: no cap. Default: from --pace.")
@click.option("--max-per-day", type=Count(min=0),
              help="At most N sends through this number in any 24 hours, by every campaign on this "
              "computer, across restarts; 0: no cap. Default: from --pace.")
@click.option("--warm-up/--no-warm-up", default=None,
              help="Ramp a new number's daily cap: 20 on its first day of sending seen on this "
              "computer, about 1.5x each day after (30, 45, 68, 101, ...), up to --max-per-day. "
              "Default: from --pace (on for careful).")
@click.option("--window", help="Quiet hours: send only between HH:MM-HH:MM (may cross midnight) "
              "in the recipient's local time; default 09:00-20:00 in every preset; 'any': no "
              "quiet hours.")
@click.option("--timezone", help="Whose clock --window and --skip-days follow: 'recipient' (the "
              "default: the zone of each number's country) or one time zone name for all, e.g. "
              "Europe/London; a zone named here is --start-at's too.")
@click.option("--start-at", metavar="WHEN", help="Send nothing before WHEN: '2026-12-01 09:00', "
              "'09:00' (its next occurrence) or 'tomorrow 09:00', this computer's time (or "
              "--timezone's); until then the campaign is 'scheduled'.")
@click.option("--detach", is_flag=True, help="After the plan (and the confirmation), go on in the "
              "background: the terminal can close. Prints the name, the log and the "
              "status/pause commands.")
@click.option("--skip-days", help="Days on which nothing is sent, e.g. sat or fri,sat.")
@click.option("--stop-outside-window", is_flag=True,
              help="Outside the window or over a cap, exit 0 with rows pending instead of waiting "
              "(for cron).")
@click.option("--skip-contacted-within", type=Duration(0, 3650, unit=DAY_SECONDS), metavar="DAYS",
              help="Skip numbers any campaign on this computer sent to in the last DAYS days (or "
              "12h, 2w).")
@click.option("--resend", is_flag=True,
              help="Send even to recipients who already got this identical message (same type, "
              "text or caption, and media) from any campaign on this computer in the last 30 days; "
              "without it they are suppressed, whatever was renamed, copied or started afresh.")
@click.option("--check-media", is_flag=True,
              help="Before sending, fetch each distinct media URL once; unreachable ones make rows "
              "invalid.")
@click.option("--retries", type=Count(min=0), default=3, show_default=True,
              help="Retries for errors that prove nothing was sent (connection refused, 429).")
@click.option("--timeout", type=Duration(0.1, 3600), default=30.0, show_default=True,
              help="Deadline in seconds (or 1m) for one whole request (connect, send, the entire reply); "
              "past it the row is 'unknown'.")
@click.option("--max-consecutive-failures", type=Count(min=0), default=5,
              show_default=True, help="Stop after N failed or unknown sends in a row (0: never).")
@click.option("--retry-unknown", is_flag=True,
              help="Also resend rows whose earlier outcome is unknown (they may get it twice).")
@click.option("--test-to", metavar="PHONE",
              help="Send the first row's message to this number only, then stop; the campaign is "
              "untouched.")
@click.option("--results", type=click.Path(path_type=Path, dir_okay=False),
              help="Results sheet path (default: <campaign name>.results.<ext> beside the contacts; a "
              "dry run writes beside a sheet that records sends, never over it).")
@click.option("--name", help="Campaign name, its identity for resume (default: "
              "<contacts stem>-<template stem>).")
@click.option("--state", type=click.Path(path_type=Path, dir_okay=False),
              help="Progress file: who was sent what, to resume without sending twice (default: "
              ".campaign/<name>.sqlite3 beside the contacts).")
@click.option("--yes", "-y", is_flag=True, help="Send without the confirmation prompt.")
@click.option("--base-url", envvar="IBOT_BASE_URL", help="API root (default "
              "https://ibot-chat.com/api/v1; env IBOT_BASE_URL).")
@click.option("--sender", multiple=True, metavar="LABEL",
              help="With several senders in IBOT_INSTANCE_ID (shop=ID1,promo=ID2), send only "
              "through these (repeatable); unlabelled senders are #1, #2, ...")
@click.option("--sandbox", is_flag=True,
              help="Rehearse: send to a stand-in for the API started inside this run, nothing to "
              "WhatsApp; no credentials needed.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no message preview.")
def send(contacts: Path | None, **kw: Any) -> None:
    """Send one personalised message per row of CONTACTS (.csv .tsv .txt .xlsx .xlsm .xls .ods)."""
    from campaign.config import SendOptions
    from campaign.inputfiles import check_regular
    from campaign.results import check_results_path, check_state_path
    from campaign.session import run_send

    if contacts is None:
        raise click.UsageError("give the contacts file: campaign send CONTACTS --template FILE ...")
    kw["suppress"] = tuple(Path(p) for p in kw["suppress"] or ())
    for key in ("template", "results", "state"):
        if isinstance(kw.get(key), str):
            kw[key] = Path(kw[key])
    opts = SendOptions(contacts=Path(contacts), **kw)
    ui = ConsoleUI(quiet=opts.quiet)
    try:
        # Never an input: the template, an opt-out list, the config, .env.
        inputs = [("the template", opts.template)] if opts.template is not None else []
        inputs += [("an opt-out list (--suppress)", p) for p in opts.suppress]
        config = click.get_current_context().meta.get("campaign.config")
        inputs += [("the config file", Path(config))] if config else []
        inputs += [("the .env file", Path(".env"))]
        if opts.results is not None:
            check_results_path(opts.results, opts.contacts, inputs=inputs)
        if opts.state is not None:  # SQLite on a FIFO or a device would hang or fail midway
            check_regular(opts.state, label="--state")
            check_state_path(opts.state, [("the contacts file", opts.contacts), *inputs])
        code = run_send(opts, ui, argv=_command_line(click.get_current_context()))
    except CampaignError as e:
        raise cli_error(e) from None
    except (OSError, sqlite3.Error) as e:  # the machine failed before the first send (the
        # runner itself stops on these with its outcomes kept)
        raise cli_error(InputError(f"nothing was sent: {describe_failure(e)}.")) from None
    except KeyboardInterrupt:  # Ctrl-C while planning, before anything was sent
        click.echo("\nInterrupted; nothing was sent.", err=True)
        sys.exit(ExitCode.INTERRUPTED)
    sys.exit(code)


@main.command()
@click.option("--port", type=Count(0, 65535), default=8765, show_default=True,
              help="Port on 127.0.0.1 to listen on (0: any free port).")
@click.option("--token", help="Accept only this token (default: any non-empty token).")
@click.option("--instance-id", multiple=True, help="Accept only this instance ID (default: any). "
              "Repeatable: one per sender number, to rehearse several senders.")
@click.option("--failure-rate", type=Finite(0, 1), default=0.0, show_default=True,
              help="Fraction of requests answered HTTP 500 (rehearse 'unknown').")
@click.option("--drop-rate", type=Finite(0, 1), default=0.0, show_default=True,
              help="Fraction of requests whose connection is dropped without an answer.")
@click.option("--latency", type=Duration(0, 3600), default=0.0, show_default=True,
              help="Seconds to wait before answering each request.")
@click.option("--trickle", type=Duration(0, 3600), default=0.0, show_default=True,
              help="Send each reply one byte every S seconds, status line included (rehearse a "
              "server that never finishes answering; --timeout cuts it off).")
@click.option("--endless", is_flag=True,
              help="Accept each message, then send a 200 reply that never ends (rehearse the "
              "64 KB reply cap).")
@click.option("--rate-limited", type=Count(min=0), default=0, show_default=True,
              help="Answer the first N requests HTTP 429 Too Many Requests (rehearse retries).")
@click.option("--retry-after", type=Duration(0, DAY_SECONDS), default=30.0, show_default=True,
              help="Seconds sent as Retry-After with those 429 replies.")
@click.option("--disconnect-after", type=Count(min=0),
              help="After N accepted messages, answer 'Instance not connected'.")
@click.option("--disconnect-instance", multiple=True, metavar="ID=N",
              help="After N messages accepted through instance ID, answer 'Instance not "
              "connected' for it alone (rehearse one sender of several dropping out). Repeatable.")
@click.option("--invalid-jid", multiple=True,
              help="A number or JID to answer 'Invalid JID' for. Repeatable.")
@click.option("--error-status", type=Count(100, 599), default=200, show_default=True,
              help="HTTP status of the documented error replies (the real service's is unknown).")
@click.option("--seed", type=int, help="Random seed for the failure and drop draws.")
def sandbox(port: int, token: str | None, instance_id: tuple[str, ...], failure_rate: float,
            drop_rate: float, latency: float, disconnect_after: int | None,
            disconnect_instance: tuple[str, ...], invalid_jid: tuple[str, ...], error_status: int,
            seed: int | None, trickle: float, endless: bool, rate_limited: int,
            retry_after: float) -> None:
    """Run a local stand-in for the ibot-chat API on 127.0.0.1, printing every message it gets."""
    from campaign.sandbox import Faults, serve

    per_instance: dict[str, int] = {}
    for item in disconnect_instance:
        iid, _, n = item.rpartition("=")
        if not iid or not n.isdigit():
            raise click.BadParameter(f"{item!r}: expected ID=N, e.g. promo-instance=20",
                                     param_hint="--disconnect-instance")
        per_instance[iid] = int(n)

    faults = Faults(failure_rate=failure_rate, latency=latency, disconnect_after=disconnect_after,
                    invalid_jids=frozenset(invalid_jid), error_status=error_status,
                    drop_rate=drop_rate, seed=seed, trickle=trickle, endless=endless,
                    rate_limited=rate_limited, retry_after=retry_after,
                    disconnect_instances=per_instance)
    try:
        serve(port=port, token=token, instance_id=instance_id or None, faults=faults,
              echo=lambda line: click.echo(line))
    except OSError as e:
        raise cli_error(InputError(f"cannot listen on 127.0.0.1:{port} ({e.strerror}). "
                                  "Pick another --port.")) from None


def _home() -> Path:
    from campaign.store.paths import home

    return home()


@main.command()
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the campaigns as JSON (the same "
              "fields the dashboard shows).")
def status(name: str | None, as_json: bool) -> None:
    """Every campaign on this computer: its state, sent of total, the next send and why it waits.

    With NAME: per sender, sends per day against the caps, the last errors and the paths.
    Read-only: it never waits for a run and never stops one."""
    import json

    from campaign.status import collect, details, lines

    try:
        found = collect(_home(), name=name)
    except CampaignError as e:
        raise cli_error(e) from None
    if as_json:
        click.echo(json.dumps(found if name is None else found[0], indent=2, ensure_ascii=False))
        return
    for line in details(found[0]) if name is not None else lines(found):
        click.echo(line)


def _control(name: str, action: str) -> None:
    from campaign.control import request

    try:
        click.echo(request(_home(), name, action))
    except CampaignError as e:
        raise cli_error(e) from None


@main.command()
@click.argument("name")
def pause(name: str) -> None:
    """Pause campaign NAME: the send under way finishes and is recorded, nothing new starts."""
    _control(name, "pause")


@main.command()
@click.argument("name", required=False)
@click.option("--all", "every", is_flag=True, help="Start again every campaign that was "
              "running, waiting or scheduled when its process ended (after a reboot).")
def resume(name: str | None, every: bool) -> None:
    """Resume campaign NAME: a paused one goes on; a stopped one starts again in the background
    with the options it had (nobody gets the message twice)."""
    if every == (name is not None):
        raise click.UsageError("give a campaign NAME or --all (campaign status lists them).")
    if name is not None:
        _control(name, "resume")
        return
    from campaign.control import resume_all

    try:
        for line in resume_all(_home()):
            click.echo(line)
    except CampaignError as e:
        raise cli_error(e) from None


@main.command()
@click.argument("name")
def cancel(name: str) -> None:
    """Cancel campaign NAME for good: nothing more is sent; the rest stay pending ('cancelled')."""
    _control(name, "cancel")


@main.command()
@click.option("--port", type=Count(0, 65535), default=8766, show_default=True,
              help="Port on 127.0.0.1 to listen on (0: any free port).")
@click.option("--open", "open_browser", is_flag=True, help="Open the page in the web browser.")
def dashboard(port: int, open_browser: bool) -> None:
    """Show every campaign on a local web page, live, with Pause, Resume and Cancel."""
    from campaign.dashboard import serve

    try:
        serve(_home(), port=port, open_browser=open_browser, echo=lambda line: click.echo(line))
    except OSError as e:
        raise cli_error(InputError(f"cannot listen on 127.0.0.1:{port} ({e.strerror}). "
                                  "Pick another --port (0: any free port).")) from None


def _command_line(ctx: click.Context) -> list[str]:
    """The options given on the command line, rebuilt for the resume hint (no sys.argv games)."""
    args = [ctx.command_path.split()[0], ctx.info_name or "send"]
    for param in ctx.command.params:
        source = ctx.get_parameter_source(param.name or "")
        value = ctx.params.get(param.name or "")
        if source is not click.core.ParameterSource.COMMANDLINE or value is None or value == ():
            continue
        if isinstance(param, click.Argument):
            args.insert(2, str(value))
            continue
        flag = max(param.opts, key=len)
        if isinstance(param, click.Option) and param.is_flag:
            # `is`, not `==`: 0 == False, and `--delay 0` must survive into the resume command;
            # an off switch (`--no-warm-up`) must too.
            if value is False and param.secondary_opts:
                args.append(max(param.secondary_opts, key=len))
            elif value is True:
                args.append(flag)
        else:
            for v in value if isinstance(value, tuple) else (value,):
                args += [flag, str(v)]
    if "campaign.config" in ctx.meta:  # its options are defaults, not on the command line
        args += ["--config", str(ctx.meta["campaign.config"])]
    return args


class ConsoleUI:
    """Everything the user sees during `send`: text on stdout, the progress bar on stderr."""

    def __init__(self, *, quiet: bool) -> None:
        self.quiet = quiet
        self._bar: Any = None
        self._interval = 0.0
        self.interrupts = 0
        self._last_wait = ""

    def info(self, text: str = "") -> None:
        self._write(text, err=False)

    def warn(self, text: str) -> None:
        self._write(text, err=True)

    def _write(self, text: str, *, err: bool) -> None:
        text = terminal_safe(text)
        if self._bar is not None:
            self._bar.write(text, file=sys.stderr if err else sys.stdout)
        else:
            click.echo(text, err=err)

    def is_interactive(self) -> bool:
        return sys.stdin.isatty() and sys.stdout.isatty()

    def confirm(self, question: str) -> bool:
        return click.confirm(terminal_safe(question), default=False)

    # Progress, for the runner -------------------------------------------------------------
    def start(self, total: int, interval: float, label: str = "") -> None:
        from tqdm import tqdm

        self._interval, self._total, self._done = interval, total, 0
        self._lanes: dict[str, dict[str, int]] = {}
        # Not a terminal (a log file, cron): a line every LOG_EVERY seconds, not a bar's flood of
        # carriage-return updates.
        self._log = not self.quiet and total > 0 and not sys.stderr.isatty()
        self._logged_at = time.monotonic()
        if self._log:
            what = f"{label.capitalize()}: sending" if label else "Sending"
            click.echo(f"{what} {total} message(s); progress every {LOG_EVERY:.0f} s.", err=True)
            return
        self._bar = tqdm(total=total, unit="msg", desc=label or None, file=sys.stderr,
                         disable=self.quiet or total == 0,
                         dynamic_ncols=True, bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} "
                         "[{elapsed}<{remaining}{postfix}]")

    def advance(self, row: Any, counts: Mapping[str, int]) -> None:
        self._done += 1
        if getattr(row, "sender", ""):  # several senders: a tally per lane
            lane = self._lanes.setdefault(row.sender, {})
            lane[row.status] = lane.get(row.status, 0) + 1
        summary = (f"sent {counts.get(Status.SENT, 0)}, failed {counts.get(Status.FAILED, 0)}, "
                   f"unknown {counts.get(Status.UNKNOWN, 0)}")
        lanes = " | ".join(f"{name} {tally.get(Status.SENT, 0)}" + (
            f" ({tally.get(Status.FAILED, 0) + tally.get(Status.UNKNOWN, 0)} not sent)"
            if tally.get(Status.FAILED, 0) + tally.get(Status.UNKNOWN, 0) else "")
            for name, tally in sorted(self._lanes.items()))
        if self._log:
            if time.monotonic() - self._logged_at >= LOG_EVERY or self._done == self._total:
                self._logged_at = time.monotonic()
                click.echo(f"Progress: {self._done}/{self._total} ({summary})"
                           + (f"; per sender: {lanes}" if lanes else "") + ".", err=True)
            return
        if self._bar is None:
            return
        left = (self._bar.total or 0) - self._bar.n - 1
        eta = dt.datetime.now() + dt.timedelta(seconds=left * self._interval)
        self._bar.set_postfix_str(f"{summary}, done ~{eta:%H:%M}" + (f"; {lanes}" if lanes else ""),
                                  refresh=False)
        self._bar.update(1)

    def waiting(self, until: float, reason: str) -> None:
        """Why nothing is sent right now, in words: `next send in 43 s`, `paused`,
        `window opens 09:00 (Tue)`, `300 today reached, next Tue 09:00`."""
        if self._bar is not None and not self._bar.disable:
            self._bar.set_postfix_str(reason, refresh=True)
        elif reason != self._last_wait and not reason.startswith("next send in"):
            # No bar (--quiet, or a log): each longer wait once, not every interval.
            when = f"{dt.datetime.fromtimestamp(until):%a %d %b %H:%M}"
            click.echo(f"{reason[0].upper()}{reason[1:]} (until {when}).", err=True)
        self._last_wait = reason

    def note(self, text: str) -> None:
        """Something the user should see at once (a sender stopped), above the bar."""
        self._write(text, err=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    # Signals ------------------------------------------------------------------------------
    def install_signals(self, stop: threading.Event) -> None:
        """First Ctrl-C/SIGTERM: finish the request in flight and stop. Second: quit at once."""

        def handler(signum: int, _frame: object) -> None:
            self.interrupts += 1
            if self.interrupts > 1:
                os._exit(ExitCode.INTERRUPTED)
            stop.set()
            click.echo("\nStopping after the request in flight (Ctrl-C again to quit now)...",
                       err=True)

        signal.signal(signal.SIGINT, handler)
        signal.signal(signal.SIGTERM, handler)
