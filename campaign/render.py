"""Jinja2 templates over a row: columns by header, `row['...']`, snake_case aliases, strict names.

Templates run in Jinja2's immutable sandbox with limits on size and work (issue 11: an
unsandboxed template could read `os.environ['IBOT_TOKEN']`, and `range(10**9)` hung the run).
"""

from __future__ import annotations

import contextvars
import difflib
import functools
import hashlib
import itertools
import re
import string
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import meta, nodes
from jinja2.runtime import Context, Namespace
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Cycler, Joiner
from jinja2.visitor import NodeTransformer

from campaign.errors import InputError, TemplateError

# Limits per row. A WhatsApp message holds at most 65,536 characters, so no value a template
# builds (string, list, output) may be longer; the step budget counts loop iterations, calls,
# attribute lookups and operators; the time budget catches whatever the steps miss.
MAX_TEXT = 65_536
MAX_RANGE = 10_000
MAX_STEPS = 200_000
MAX_SECONDS = 2.0
MAX_INT_BITS = 10_000  # about 3,000 digits: money and counts, not 10**10**10
_TIME_EVERY = 1024  # steps between clock reads

# Words a column name cannot take over: Jinja2's literals and keywords, the names the template
# itself defines, and our globals. Such a column is reachable only as row['name'].
TEMPLATE_WORDS = frozenset({
    "true", "false", "none", "True", "False", "None", "and", "or", "not", "in", "is", "if",
    "else", "elif", "endif", "for", "endfor", "block", "endblock", "extends", "include",
    "import", "from", "as", "with", "endwith", "without", "context", "macro", "endmacro",
    "call", "endcall", "set", "endset", "filter", "endfilter", "raw", "endraw", "recursive",
    "ignore", "missing", "scoped", "required", "do", "autoescape", "endautoescape", "loop",
    "self", "caller", "varargs", "kwargs", "super", "row",
})  # fmt: skip
_INTERNAL = "_campaign_"  # prefix of the helpers the compiled template calls

# str methods whose output is bounded by their input (plus the width checks below). Left out:
# encode, expandtabs, translate, maketrans (their output is not bounded by the input).
_STR_METHODS = frozenset({
    "capitalize", "casefold", "center", "count", "endswith", "find", "format", "format_map",
    "index", "isalnum", "isalpha", "isascii", "isdecimal", "isdigit", "isidentifier", "islower",
    "isnumeric", "isprintable", "isspace", "istitle", "isupper", "join", "ljust", "lower",
    "lstrip", "partition", "removeprefix", "removesuffix", "replace", "rfind", "rindex", "rjust",
    "rpartition", "rsplit", "rstrip", "split", "splitlines", "startswith", "strip", "swapcase",
    "title", "upper", "zfill",
})  # fmt: skip


class TemplateLimit(jinja2.exceptions.SecurityError):
    """A template went over a limit on size or work for one row."""


@dataclass
class _RenderState:
    seed: str
    salt: str
    clock: Callable[[], float]
    deadline: float
    steps: int = 0
    picks: dict[int, int] = field(default_factory=dict)


_STATE: contextvars.ContextVar[_RenderState | None] = contextvars.ContextVar(
    "campaign_render_state", default=None
)


def _tick() -> None:
    state = _STATE.get()
    if state is None:  # compile time (constant folding): no budget to spend
        return
    state.steps += 1
    if state.steps > MAX_STEPS:
        raise TemplateLimit(f"it took more than {MAX_STEPS:,} steps")
    if state.steps % _TIME_EVERY == 0 and state.clock() > state.deadline:
        raise TemplateLimit(f"it ran for more than {MAX_SECONDS:g} s")


def _size(value: object, limit: int = MAX_TEXT) -> int:
    """Characters/items `value` holds, counted through containers; stops past `limit`."""
    total, stack, seen = 0, [(value, 0)], set()
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str | bytes):
            total += len(item)
        elif isinstance(item, int) and not isinstance(item, bool):
            total += 1 if item.bit_length() <= MAX_INT_BITS else limit + 1
        elif isinstance(item, Namespace | Mapping | list | tuple | set | frozenset | range):
            if id(item) in seen or depth > 32:
                continue
            seen.add(id(item))
            if isinstance(item, range):
                total += len(item)
                continue
            if isinstance(item, Namespace):
                item = item._Namespace__attrs
            children: Iterable[object] = item
            if isinstance(item, Mapping):
                children = [x for kv in item.items() for x in kv]
            total += 1
            stack.extend((child, depth + 1) for child in children)
        else:
            total += 1
        if total > limit:
            break
    return total


def _check(value: Any, what: str = "a value") -> Any:
    if type(value) is str and len(value) <= MAX_TEXT:  # the common case, kept fast
        return value
    if _size(value) > MAX_TEXT:
        raise TemplateLimit(f"{what} grew past {MAX_TEXT:,} characters")
    return value


def _check_width(*numbers: object) -> None:
    for n in numbers:
        if isinstance(n, int) and not isinstance(n, bool) and abs(n) > MAX_TEXT:
            raise TemplateLimit(f"a width or count of {n} is over {MAX_TEXT:,}")


_PRINTF = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _check_printf(fmt: str, args: object) -> None:
    """'%100000000d' % 1 would build a 100 MB string before any size check could see it."""
    for width, precision in _PRINTF.findall(fmt):
        for n in (width, precision):
            if n.isdigit() and (len(n) > 6 or int(n) > MAX_TEXT):
                raise TemplateLimit(f"a format width of {n} is over {MAX_TEXT:,}")
            if n == "*":
                _check_width(*(args if isinstance(args, tuple) else (args,)))


def _check_format_spec(fmt: str) -> None:
    """The same for str.format: '{:>1000000000}'.format(x)."""
    try:
        fields = list(string.Formatter().parse(fmt))
    except ValueError:
        return  # format() itself will refuse it
    for _, _, spec, _ in fields:
        if spec and "{" in spec:
            raise TemplateLimit("nested format fields ('{:{width}}') are not supported")
        for n in re.findall(r"\d+", spec or ""):
            if len(n) > 6 or int(n) > MAX_TEXT:
                raise TemplateLimit(f"a format width of {n} is over {MAX_TEXT:,}")


def _join_size(sep: str, items: list[object]) -> int:
    return len(sep) * max(len(items) - 1, 0) + sum(_size(x) for x in items)


def _replace_size(s: str, old: str, new: str, count: int | None = -1) -> int:
    hits = s.count(old) if old else len(s) + 1
    if count is not None and count >= 0:
        hits = min(hits, count)
    return len(s) + hits * (len(new) - len(old))


def _guard_str_method(method: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse str method calls whose result would be too big, before they build it."""
    s, name = method.__self__, method.__name__
    if name in ("center", "ljust", "rjust", "zfill"):
        _check_width(*args, *kwargs.values())
    elif name == "join" and args:
        items = list(args[0])
        if len(items) > MAX_TEXT or _join_size(s, items) > MAX_TEXT:
            raise TemplateLimit(f"a joined text would be over {MAX_TEXT:,} characters")
    elif name == "replace" and len(args) >= 2 and all(isinstance(a, str) for a in args[:2]):
        count = args[2] if len(args) > 2 else kwargs.get("count", -1)
        if _replace_size(s, args[0], args[1], count) > MAX_TEXT:
            raise TemplateLimit(f"a replaced text would be over {MAX_TEXT:,} characters")


# --- filters: the built-in ones, each checked before (where it can grow) and after -----------


def _bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    skip = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0

    @functools.wraps(func)
    def checked(*args: Any, **kwargs: Any) -> Any:
        _tick()
        value, rest = (args[skip] if len(args) > skip else None), args[skip + 1 :]
        if name in ("center", "batch", "slice", "truncate", "wordwrap", "indent"):
            _check_width(*rest, *kwargs.values())
        if name == "indent" and isinstance(value, str):
            width = rest[0] if rest else kwargs.get("width", 4)
            pad = width if isinstance(width, str) else " " * int(width)
            if len(value) + (value.count("\n") + 1) * len(pad) > MAX_TEXT:
                raise TemplateLimit(f"an indented text would be over {MAX_TEXT:,} characters")
        elif name == "wordwrap" and isinstance(value, str):
            width = rest[0] if rest else kwargs.get("width", 79)
            wrap = rest[2] if len(rest) > 2 else kwargs.get("wrapstring") or "\n"
            lines = len(value) // max(int(width), 1) + value.count("\n") + 1
            if len(value) + lines * len(str(wrap)) > MAX_TEXT:
                raise TemplateLimit(f"a wrapped text would be over {MAX_TEXT:,} characters")
        elif name == "join":
            items = list(value) if value is not None else []
            sep = rest[0] if rest else kwargs.get("d", "")
            if len(items) > MAX_TEXT or _join_size(str(sep), items) > MAX_TEXT:
                raise TemplateLimit(f"a joined text would be over {MAX_TEXT:,} characters")
            args = (*args[:skip], items, *rest)
        elif name == "replace" and isinstance(value, str) and len(rest) >= 2:
            count = rest[2] if len(rest) > 2 else kwargs.get("count")
            if _replace_size(value, str(rest[0]), str(rest[1]), count) > MAX_TEXT:
                raise TemplateLimit(f"a replaced text would be over {MAX_TEXT:,} characters")
        elif name == "format" and isinstance(value, str):
            _check_printf(value, rest)
        return _check(func(*args, **kwargs), f"the result of |{name}")

    return checked


def _bounded_range(*args: int) -> range:
    _tick()
    rng = range(*args)
    if len(rng) > MAX_RANGE:
        raise TemplateLimit(f"range() of {len(rng):,} items is over {MAX_RANGE:,}")
    return rng


def _loop(iterable: Iterable[Any]) -> Iterator[Any]:
    """Every {% for %} iterates through this: each pass is a step of the budget."""
    for item in iterable:
        _tick()
        yield item


def _concat(*parts: object) -> str:
    """`a ~ b`: checked before it is built (doubling a string in a loop is 2**n)."""
    if sum(_size(p) for p in parts) > MAX_TEXT:
        raise TemplateLimit(f"a joined text (~) grew past {MAX_TEXT:,} characters")
    return "".join(str(p) for p in parts)


def _bounded_concat(parts: Iterable[str]) -> str:
    """Jinja's own joins (the whole output, macro bodies, {% set %} blocks), limited.

    Chunks come in batches (each chunk is already limited by `finalize`), so a 100k-row plan
    does not pay a Python-level check per chunk.
    """
    parts = iter(parts)
    out: list[str] = []
    size = 0
    while True:
        batch = "".join(itertools.islice(parts, 256))
        if not batch:
            return "".join(out)
        size += len(batch)
        if size > MAX_TEXT:
            raise TemplateLimit(f"its text grew past {MAX_TEXT:,} characters")
        out.append(batch)


def _pick_index(state: _RenderState | None, place: int, count: int) -> int:
    """Stable across runs and machines: sha256, never Python's per-process salted hash()."""
    if state is None:
        return 0
    nth = state.picks.get(place, 0)
    state.picks[place] = nth + 1
    key = f"{state.seed}\x1f{state.salt}\x1f{place}\x1f{nth}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") % count


def _pick_at(place: int, *options: Any) -> Any:
    _tick()
    if len(options) == 1 and isinstance(options[0], list | tuple):
        options = tuple(options[0])
    if not options:
        raise jinja2.TemplateRuntimeError("pick() needs at least one option: pick('Hi', 'Hello')")
    return options[_pick_index(_STATE.get(), place, len(options))]


def pick(*options: Any) -> Any:
    """`pick('Hi', 'Hello')` used indirectly (not as a direct call): one shared place."""
    return _pick_at(-1, *options)


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self) -> None:
        # StrictUndefined: a typo must stop the run, not send "Hello ," to 3,000 people
        # (mailmerge does the same). No autoescape: this is WhatsApp text, not HTML.
        super().__init__(undefined=jinja2.StrictUndefined, autoescape=False,
                         keep_trailing_newline=False, finalize=_check)  # fmt: skip
        self.concat = _bounded_concat  # type: ignore[method-assign]
        self.filters = {n: _bounded_filter(n, f) for n, f in self.filters.items()}
        # lipsum(n) writes n paragraphs: of no use in a message, and a way to fill memory.
        self.globals = {
            "range": _bounded_range, "dict": dict, "cycler": Cycler, "joiner": Joiner,
            "namespace": Namespace, "pick": pick, f"{_INTERNAL}pick": _pick_at,
            f"{_INTERNAL}loop": _loop, f"{_INTERNAL}concat": _concat,
        }  # fmt: skip

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, str) and callable(value) and attr not in _STR_METHODS:
            return False
        return super().is_safe_attribute(obj, attr, value)

    def getattr(self, obj: Any, attribute: str) -> Any:
        _tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _tick()
        return super().getitem(obj, argument)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _tick()
        if isinstance(getattr(__obj, "__self__", None), str):
            _guard_str_method(__obj, args, kwargs)
        return _check(super().call(__context, __obj, *args, **kwargs), "a call's result")

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _tick()
        if operator == "**" and _is_int(left) and _is_int(right) and right > 0:
            if abs(left) > 1 and right * left.bit_length() > MAX_INT_BITS:
                raise TemplateLimit(f"a number with more than {MAX_INT_BITS:,} bits")
        elif operator == "*":
            seq, times = (right, left) if _is_int(left) else (left, right)
            repeats = _is_int(times) and isinstance(seq, str | list | tuple) and times > 0
            if repeats and _size(seq) * times > MAX_TEXT:
                raise TemplateLimit(f"a repeated value would be over {MAX_TEXT:,} characters")
        elif operator == "%" and isinstance(left, str):
            _check_printf(left, right)
        elif operator == "+" and _size(left) + _size(right) > MAX_TEXT:
            raise TemplateLimit(f"a sum of texts would be over {MAX_TEXT:,} characters")
        return _check(super().call_binop(context, operator, left, right))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapper = super().wrap_str_format(value)
        if wrapper is None:
            return None
        _check_format_spec(value.__self__)

        def checked(*args: Any, **kwargs: Any) -> str:
            return _check(wrapper(*args, **kwargs), "a formatted text")

        return checked


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _Instrument(NodeTransformer):
    """Route loops, `~` and pick() through the budgeted helpers; number pick()'s places."""

    def __init__(self) -> None:
        self.places = 0

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Call(nodes.Name(f"{_INTERNAL}loop", "load"), [node.iter], [], None, None)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return nodes.Call(nodes.Name(f"{_INTERNAL}concat", "load"), node.nodes, [], None, None,
                          lineno=node.lineno)  # fmt: skip

    def visit_Call(self, node: nodes.Call) -> nodes.Node:
        if isinstance(node.node, nodes.Name) and node.node.name == "pick":
            place, self.places = self.places, self.places + 1  # source order: stable per template
            node.node = nodes.Name(f"{_INTERNAL}pick", "load")
            node.args = [nodes.Const(place), *node.args]
        self.generic_visit(node)
        return node


_ENV = _Sandbox()


def snake_case(header: str) -> str:
    """'First Name' -> 'first_name', 'E-mail' -> 'e_mail', 'שם פרטי' -> 'שם_פרטי'."""
    return re.sub(r"\W+", "_", header.strip().casefold()).strip("_")


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA: how a spreadsheet user names a column."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def read_template(path: Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{path}: template file not found. Check the --template path.") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: the template is not UTF-8 text. Save it as UTF-8.") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read the template ({e.strerror}).") from None


def _reserved(name: str) -> bool:
    return name in TEMPLATE_WORDS or name in _ENV.globals or name.startswith(_INTERNAL)


class MessageTemplate:
    """A compiled template whose variables were checked against the sheet's columns.

    `notices` says what the user should know about the columns (duplicates, reserved words).
    `salt` keeps the message's and the media URL's pick() choices independent.
    """

    def __init__(self, source: str, *, origin: str, columns: Sequence[str], salt: str = "",
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.origin, self.source, self.salt, self._clock = origin, source, salt, clock
        self.notices: list[str] = []
        # Duplicate headers: the first column wins for {{ Name }} and row['Name'] alike.
        first: dict[str, int] = {}
        dupes: dict[str, list[int]] = {}
        for i, col in enumerate(columns):
            if col in first:
                dupes.setdefault(col, [first[col]]).append(i)
            elif col:
                first[col] = i
        for col, where in dupes.items():
            letters = ", ".join(column_letter(i) for i in where)
            self.notices.append(
                f"the column name '{col}' appears more than once (columns {letters}); templates "
                f"use the first (column {column_letter(where[0])}). Rename the others to use them."
            )
        self._row_keys = list(first.items())
        # Names a template can use: headers as written, then snake_case aliases; never a word
        # that means something to Jinja2 or to us (`row`, `true`, `loop`, `range`, `pick`...).
        self._names: list[tuple[str, int]] = []
        seen: set[str] = set()
        for col, i in self._row_keys:
            if _reserved(col):
                self.notices.append(
                    f"the column '{col}' has the name of a template word; use it as "
                    f"row['{col}'] ({{{{ {col} }}}} keeps its usual meaning)."
                )
            elif col not in seen:
                seen.add(col)
                self._names.append((col, i))
        for col, i in self._row_keys:
            alias = snake_case(col)
            if alias and alias.isidentifier() and alias not in seen and not _reserved(alias):
                seen.add(alias)
                self._names.append((alias, i))
        try:
            ast = _ENV.parse(source)
        except jinja2.TemplateSyntaxError as e:
            raise TemplateError(
                f"{origin}, line {e.lineno}: template syntax error: {(e.message or '').rstrip('.')}. "
                "Fix the template (Jinja2 syntax: {{ column }}, {% if city %}…{% endif %})."
            ) from None
        available = seen | {"row"} | set(_ENV.globals)
        unknown = sorted(meta.find_undeclared_variables(ast) - available)
        if unknown:
            name = unknown[0]
            lines = [n.lineno for n in ast.find_all(nodes.Name) if n.name == name]
            raise TemplateError(self._unknown_message(name, sorted(seen), min(lines, default=None)))
        for other in ast.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)):
            raise TemplateError(
                f"{origin}, line {other.lineno}: a message template cannot extend, include or "
                "import other templates; put everything in one file."
            )
        for output in ast.find_all(nodes.Output):
            for expr in output.nodes:
                if isinstance(expr, nodes.Name) and expr.name == "row":
                    raise TemplateError(
                        f"{origin}, line {expr.lineno}: {{{{ row }}}} would print every column; "
                        "name the one you mean: row['Column Name']."
                    )
        _Instrument().visit(ast)
        self._template = _ENV.from_string(ast)
        self._globals = dict(self._template.globals)

    def _unknown_message(self, name: str, available: Sequence[str], line: int | None = None) -> str:
        where = f"{self.origin}, line {line}" if line else self.origin
        close = difflib.get_close_matches(name, available, n=1, cutoff=0.6)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        return (
            f"{where}: unknown variable '{name}'.{hint} "
            f"Available columns: {', '.join(available)} (or row['Column Name'])."
        )

    def render(self, values: Sequence[str], *, row_number: int | None = None,
               seed: str = "") -> str:  # fmt: skip
        """The row's text; `seed` (campaign and recipient) fixes each pick() choice."""
        context: dict[str, object] = {name: values[i] for name, i in self._names}
        context["row"] = {col: values[i] for col, i in self._row_keys}
        state = _RenderState(seed, self.salt, self._clock, self._clock() + MAX_SECONDS)
        token = _STATE.set(state)
        problem = ""
        try:
            # Template.render() without its per-row merge of a ChainMap of globals (a third of
            # the time of a 100k-row plan); the output is joined by _bounded_concat.
            t = self._template
            ctx = Context(_ENV, {**self._globals, **context}, t.name, t.blocks)
            return _bounded_concat(t.root_render_func(ctx)).strip()
        except jinja2.UndefinedError as e:
            where = f" (row {row_number})" if row_number else ""
            key = re.search(r"'([^']*)'$", str(e))
            missing = key.group(1) if key else str(e)
            line = next((n for n, text in enumerate(self.source.splitlines(), 1)
                         if f"'{missing}'" in text or f'"{missing}"' in text), None)  # fmt: skip
            problem = self._unknown_message(missing, [n for n, _ in self._names], line).replace(
                f"{self.origin}", f"{self.origin}{where}", 1
            )
        except (TemplateLimit, RecursionError, MemoryError) as e:
            reason = "it calls itself too deeply" if isinstance(e, RecursionError) else str(e)
            if isinstance(e, MemoryError):
                reason = "it ran out of memory"
            problem = (
                f"{self.origin}: the template was stopped{_at(row_number)}: {reason}. "
                f"A message may be at most {MAX_TEXT:,} characters and take {MAX_STEPS:,} "
                "steps; simplify the loop, the repetition or the macro."
            )
        except jinja2.exceptions.SecurityError as e:
            problem = (
                f"{self.origin}: the template was refused{_at(row_number)}: "
                f"{str(e).rstrip('.')}. Templates run in "
                "a sandbox: they can use the row's columns, filters and pick(), nothing else."
            )
        except (TypeError, ValueError, ArithmeticError, LookupError, jinja2.TemplateError) as e:
            hint = "" if isinstance(e, jinja2.TemplateError) else (
                " Cells are text: use filters like |int or |float before doing arithmetic."
            )
            problem = f"{self.origin}: the template failed{_at(row_number)}: {e}.{hint}"
        finally:
            _STATE.reset(token)
        raise TemplateError(problem)  # outside `except`: no chained traceback holds the row


def _at(row_number: int | None) -> str:
    return f" at row {row_number}" if row_number else ""
