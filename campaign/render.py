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
from campaign.inputfiles import read_text_file

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
})
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
})


class TemplateLimit(jinja2.exceptions.SecurityError):
    """A template went over a limit on size or work for one row."""


class CellTooLong(TemplateError):
    """A row's own cell is longer than any message (issue 19: one 70,000-character cell
    stopped the whole campaign): that row is `invalid`, the others go on."""


@dataclass
class _RenderState:
    seed: str
    salt: str
    clock: Callable[[], float]
    deadline: float
    steps: int = 0
    picks: dict[int, int] = field(default_factory=dict)
    empty: list[int] = field(default_factory=list)  # columns whose cell printed as nothing


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
    """Characters/items `value` holds, counted through containers; stops past `limit`.

    Counted by structure: a list holding one list six times counts it six times, as printing
    it would (issue 19: counting a shared container once let `[[x]*6]*6`... reach 5 GB). No
    depth limit either, so nothing hides deep down; a cycle simply counts past `limit`.
    """
    total, stack = 0, [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str | bytes):
            total += len(item)
        elif isinstance(item, int) and not isinstance(item, bool):
            total += 1 if item.bit_length() <= MAX_INT_BITS else limit + 1
        elif isinstance(item, range):
            total += len(item)
        elif isinstance(item, Namespace | Mapping | list | tuple | set | frozenset):
            if isinstance(item, Namespace):
                item = item._Namespace__attrs
            total += 1
            if isinstance(item, Mapping):
                for kv in item.items():
                    stack.extend(kv)
            else:
                stack.extend(item)
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


MAX_JSON_INDENT = 16  # |tojson(indent=N): each line of each nesting level repeats it


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
        elif name == "tojson":  # json.dumps(indent=10**9) built a gigabyte per line (32 s, 3 GB)
            indent = rest[0] if rest else kwargs.get("indent")
            size = len(indent) if isinstance(indent, str) else indent
            if isinstance(size, int) and size > MAX_JSON_INDENT:
                raise TemplateLimit(f"an indent of {size:,} for |tojson is over {MAX_JSON_INDENT}")
        # The input too: |pprint and |tojson build their whole text before any check can see it.
        _check(value, f"the value given to |{name}")
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


# Words before a name that are not the name ("Dr. Dana Levi" is Dana).
_TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "רב", "ד\"ר"})


_FIRST_NAME_WORDS = frozenset({"first_name", "firstname", "fname", "first", "given_name"})


def _name_column(columns: Sequence[str]) -> str | None:
    """The column holding whole names ('Full name', 'Name', 'Customer name', 'שם מלא'), or None."""
    other = {"first", "given", "last", "family", "sur", "company", "business", "user", "file",
             "product", "store", "shop"}
    for col in columns:
        words = set(snake_case(col).casefold().split("_"))
        if words & {"name", "שם"} and not words & other:
            return col
    return None


def first_name(name: object) -> str:
    """The first word of a name: 'Dana Levi' -> 'Dana', 'Levi, Dana' -> 'Dana', 'Dr. Dana' -> 'Dana'."""
    text = "" if name is None or isinstance(name, jinja2.Undefined) else str(name)
    if text.count(",") == 1:  # "Surname, Given" as address books export it
        surname, given = (part.strip() for part in text.split(","))
        text = given if given else surname
    words = text.split()
    while len(words) > 1 and words[0].rstrip(".").casefold() in _TITLES:
        words = words[1:]
    return words[0] if words else ""


def _default(value: Any, default_value: Any = "", boolean: bool = False) -> Any:
    """Jinja2's default(), which also stands in for an empty cell (a blank cell is '' here,
    never undefined, so the built-in one never fired: "Hi !" went out)."""
    if isinstance(value, jinja2.Undefined) or (isinstance(value, str) and not value.strip()):
        return default_value
    if boolean and not value:
        return default_value
    return value


def _cell_out(value: Any, column: int) -> Any:
    """A column printed by {{ }}: remember it when it printed nothing (an empty-cell warning)."""
    if type(value) is str and not value.strip():
        state = _STATE.get()
        if state is not None:
            state.empty.append(column)
    return value


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self) -> None:
        # StrictUndefined: a typo must stop the run, not send "Hello ," to 3,000 people
        # (mailmerge does the same). No autoescape: this is WhatsApp text, not HTML.
        super().__init__(undefined=jinja2.StrictUndefined, autoescape=False,
                         keep_trailing_newline=False, finalize=_check)
        self.concat = _bounded_concat  # type: ignore[method-assign]
        self.filters = {n: _bounded_filter(n, f) for n, f in
                        {**self.filters, "default": _default, "d": _default,
                         "first_name": first_name}.items()}
        self.filters[f"{_INTERNAL}cell"] = _cell_out  # marks a column printed empty; cheap, unbounded
        # lipsum(n) writes n paragraphs: of no use in a message, and a way to fill memory.
        self.globals = {
            "range": _bounded_range, "dict": dict, "cycler": Cycler, "joiner": Joiner,
            "namespace": Namespace, "pick": pick, f"{_INTERNAL}pick": _pick_at,
            f"{_INTERNAL}loop": _loop, f"{_INTERNAL}concat": _concat, f"{_INTERNAL}check": _check,
        }

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
    """Route loops, `~` and pick() through the budgeted helpers; number pick()'s places; mark
    each {{ }} that prints a column (through filters), so an empty cell printed is noticed."""

    def __init__(self, column_of: Callable[[nodes.Node], int | None] | None = None) -> None:
        self.places = 0
        self.column_of = column_of

    def visit_Output(self, node: nodes.Output) -> nodes.Node:
        self.generic_visit(node)
        if self.column_of is not None:
            for i, expr in enumerate(node.nodes):
                root = expr
                while isinstance(root, nodes.Filter) and root.node is not None:
                    root = root.node
                column = self.column_of(root)
                if column is not None:  # a filter: called directly, not through the sandbox's call
                    node.nodes[i] = nodes.Filter(expr, f"{_INTERNAL}cell", [nodes.Const(column)], [],
                                                 None, None, lineno=expr.lineno)
        return node

    def _checked(self, node: nodes.Expr) -> nodes.Node:
        """A list, tuple or dict literal is checked as it is built: `{% set b = [a, a, a] %}`
        nests copies no operator ever sees (issue 19)."""
        self.generic_visit(node)
        if getattr(node, "ctx", "load") != "load":  # `{% for a, b in ... %}` assigns, builds nothing
            return node
        return nodes.Call(nodes.Name(f"{_INTERNAL}check", "load"), [node], [], None, None,
                          lineno=node.lineno)

    visit_List = visit_Tuple = visit_Dict = _checked

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Call(nodes.Name(f"{_INTERNAL}loop", "load"), [node.iter], [], None, None)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return nodes.Call(nodes.Name(f"{_INTERNAL}concat", "load"), node.nodes, [], None, None,
                          lineno=node.lineno)

    def visit_Call(self, node: nodes.Call) -> nodes.Node:
        if isinstance(node.node, nodes.Name) and node.node.name == "pick":
            place, self.places = self.places, self.places + 1  # source order: stable per template
            node.node = nodes.Name(f"{_INTERNAL}pick", "load")
            node.args = [nodes.Const(place), *node.args]
        self.generic_visit(node)
        return node


_ENV = _Sandbox()

_OUTPUT = re.compile(r"(\{\{-?)([^\n]*?)(-?\}\})")
_IF = re.compile(r"(\{%-?\s*(?:if not|elif not|if|elif)\s)([^\n]*?)(-?%\})")  # {% if Full name %}
_JINJA_SPAN = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
_COMMON_FIELDS = frozenset({"name", "firstname", "lastname", "fullname", "surname", "fname",
                            "lname", "phone", "mobile", "email", "company", "city"})


def _fold(text: str) -> str:
    return re.sub(r"[\s_\-]+", "", text.casefold())


def _wordy(inner: str) -> bool:
    return bool(re.fullmatch(r"[^\W\d_][\w.' -]{0,38}", inner)) and len(inner.split()) <= 4


# Other tools' placeholders: the pattern, and whether it is one even when no column matches
# (ordinary brackets in prose are flagged only when they name a column or a usual field).
_FOREIGN: tuple[tuple[re.Pattern[str], Callable[[str], bool]], ...] = (
    (re.compile(r"\*\|([A-Za-z0-9_:]{1,40})\|\*"), lambda inner: True),  # Mailchimp *|FNAME|*
    (re.compile(r"«([^«»\n]{1,40})»"), lambda inner: True),  # Word's mail merge «First_Name»
    (re.compile(r"<<([^<>\n]{1,40})>>"), _wordy),
    (re.compile(r"\{([^{}\n]{1,40})\}"), _wordy),  # {Full name}, ${name}
    (re.compile(r"\[([^\[\]\n]{1,40})\]"),
     lambda inner: _fold(inner) in _COMMON_FIELDS or bool(re.fullmatch(r"[A-Z][A-Z0-9_]+", inner))),
    (re.compile(r"%([^\W\d]\w{0,39})%"), lambda inner: True),  # %name%
)


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
        return read_text_file(Path(path), label="--template")
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
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.origin, self.source, self.salt, self._clock = origin, source, salt, clock
        self.notices: list[str] = []
        seen = self._learn_columns(columns)
        self._foreign_placeholders(source)
        try:
            ast = _ENV.parse(self._as_written(source))
        except jinja2.TemplateSyntaxError as e:
            raise TemplateError(
                f"{origin}, line {e.lineno}: template syntax error: {(e.message or '').rstrip('.')}. "
                "Fix the template (Jinja2 syntax: {{ column }}, {% if city %}…{% endif %})."
            ) from None
        self._check_filters(ast)
        helpers = {} if "first_name" in seen else {"first_name": first_name}
        available = seen | {"row"} | set(_ENV.globals)
        # A helper counts only when called: a bare {{ first_name }} with no such column is the
        # usual unknown variable, never a function printed.
        called = {id(c.node) for c in ast.find_all(nodes.Call)}
        available |= {h for h in helpers if all(id(n) in called for n in ast.find_all(nodes.Name)
                                                if n.name == h)}
        unknown = sorted(meta.find_undeclared_variables(ast) - available)
        if unknown:
            name = unknown[0]
            lines = [n.lineno for n in ast.find_all(nodes.Name) if n.name == name]
            raise TemplateError(self._unknown_message(name, sorted(seen), min(lines, default=None)))
        self._check_structure(ast)
        self._used = sorted({c for n in ast.find_all((nodes.Name, nodes.Getitem, nodes.Getattr))
                             if (c := self._column_of(n)) is not None})
        self.warning = ""  # the last render's warning (an empty cell printed), or ""
        _Instrument(self._column_of).visit(ast)
        self._template = _ENV.from_string(ast)
        self._globals = {**self._template.globals, **helpers}

    def _learn_columns(self, columns: Sequence[str]) -> set[str]:
        """The names a template can use for the columns (returned), with notices about them."""
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
        return seen

    def _check_structure(self, ast: nodes.Template) -> None:
        """No other templates pulled in, and no {{ row }} printing every column."""
        for other in ast.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)):
            raise TemplateError(
                f"{self.origin}, line {other.lineno}: a message template cannot extend, include or "
                "import other templates; put everything in one file."
            )
        for output in ast.find_all(nodes.Output):
            for expr in output.nodes:
                if isinstance(expr, nodes.Name) and expr.name == "row":
                    raise TemplateError(
                        f"{self.origin}, line {expr.lineno}: {{{{ row }}}} would print every column; "
                        "name the one you mean: row['Column Name']."
                    )

    def _lookup(self, text: str) -> str | None:
        """The column a name typed in a template means: exactly, else ignoring case and spacing."""
        text = " ".join(text.split())
        by_name = {" ".join(col.split()): col for col, _ in self._row_keys}
        if text in by_name:
            return by_name[text]
        if not re.fullmatch(r"[\w \-]+", text):  # an expression, not a loosely typed header
            return None
        folded = [col for key, col in by_name.items()
                  if _fold(key) == _fold(text)]
        return folded[0] if len(folded) == 1 else None

    def _as_written(self, source: str) -> str:
        """`{{ Full name }}`, `{{ שם מלא }}`, `{{ 2nd phone }}` as row['...'] before Jinja2 parses:
        people type the header they see (issue 22); only text that names a column is rewritten."""

        def rewrite(m: re.Match[str]) -> str:
            head, bar, rest = m.group(2).partition("|")
            name = head.strip()
            if not name or name.isidentifier() or name.startswith(("row[", "row.")):
                return m.group(0)
            column = self._lookup(name)
            if column is None:
                return m.group(0)
            quoted = column.replace("\\", "\\\\").replace("'", "\\'")
            return f"{m.group(1)} row['{quoted}'] {bar}{rest}{m.group(3)}"

        def condition(m: re.Match[str]) -> str:
            name = m.group(2).strip()
            column = None if name.isidentifier() else self._lookup(name)
            if column is None:
                return m.group(0)
            quoted = column.replace("\\", "\\\\").replace("'", "\\'")
            return f"{m.group(1)}row['{quoted}'] {m.group(3)}"

        return _IF.sub(condition, _OUTPUT.sub(rewrite, source))

    def _foreign_placeholders(self, source: str) -> None:
        """Other tools' placeholders ({Full name}, *|FNAME|*, [First Name], %name%) would go out
        as written: stop with the Jinja2 form instead (issue 22)."""
        masked = _JINJA_SPAN.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), source)
        found: list[str] = []
        for pattern, always in _FOREIGN:
            for m in pattern.finditer(masked):
                inner = m.group(1).strip()
                column = self._lookup(inner)
                if column is None and (inner != m.group(1) or not always(inner)):
                    continue
                line = masked.count("\n", 0, m.start()) + 1
                form = f"{{{{ {column} }}}}" if column else "{{ column name }}"
                found.append(f"line {line}: {m.group(0)} (write {form})")
        if found:
            columns = ", ".join(col for col, _ in self._row_keys[:12])
            raise TemplateError(
                f"{self.origin}: {'; '.join(found[:5])}. That is another tool's placeholder and "
                "would be sent as written; here a column goes in double braces, as its header "
                f"reads. The columns: {columns}."
            )

    def _check_filters(self, ast: nodes.Template) -> None:
        """An unknown filter or test, named before any row is rendered (not a traceback)."""
        for node, kind, known in ((nodes.Filter, "filter", _ENV.filters), (nodes.Test, "test", _ENV.tests)):
            for found in ast.find_all(node):
                if found.name in known:
                    continue
                close = difflib.get_close_matches(found.name, list(known), n=1, cutoff=0.6)
                hint = f" Did you mean '{close[0]}'?" if close else ""
                common = ("upper, lower, title, capitalize, trim, default('...'), first_name, "
                          "replace('a', 'b'), int, round" if kind == "filter" else
                          "defined, number, string, in, eq")
                raise TemplateError(
                    f"{self.origin}, line {found.lineno}: unknown {kind} '{found.name}'.{hint} "
                    f"Common {kind}s: {common}."
                )

    def _column_of(self, node: nodes.Node) -> int | None:
        """The column index a template expression reads directly (name, row['x'], row.x)."""
        if isinstance(node, nodes.Name):
            return dict(self._names).get(node.name)
        target = node.node if isinstance(node, nodes.Getitem | nodes.Getattr) else None
        if not (isinstance(target, nodes.Name) and target.name == "row"):
            return None
        key = node.attr if isinstance(node, nodes.Getattr) else (
            node.arg.value if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const)
            else None)
        return dict(self._row_keys).get(key) if isinstance(key, str) else None

    def _fallback(self, column: int) -> str:
        """The fallback to write for an empty cell of `column`, in the name the user sees."""
        name = next((n for n, i in self._names if i == column), None)
        if name is None:  # a template word: reachable only as row['...']
            name = next((f"row[{col!r}]" for col, i in self._row_keys if i == column), "...")
        return "{{ " + name + " | default('...') }}"

    def _cells(self, columns: Iterable[int], row_number: int | None) -> str:
        """Columns as a spreadsheet user names cells: C7 (City)."""
        names = {i: col for col, i in self._row_keys}
        return ", ".join(f"{column_letter(i)}{row_number or ''} ({names.get(i, '?')})"
                         for i in dict.fromkeys(columns))

    def _row_failed(self, reason: str, values: Sequence[str], row_number: int | None,
                    hint: str = "") -> str:
        """A template that failed on one row's values, naming the row and the cells it reads."""
        # Jinja2's words for a missing item are Python's: say them plainly.
        reason = re.sub(r"^(\w+) object has no element (-?\d+)", r"the \1 has no item \2 (it is "
                        r"empty or shorter)", reason.rstrip("."))
        reason = re.sub(r"^'(\w+) object' has no attribute '([^']*)'", r"a \1 has no '\2'", reason)
        empty = [i for i in self._used if i < len(values) and not values[i].strip()]
        if empty:
            fix = (f" The row's cell {self._cells(empty, row_number)} is empty: fill it in, or "
                   "give the template a fallback: {{ name | default('there') }} or "
                   "{% if name %}...{% endif %}.")
        elif self._used:
            fix = f" It reads the cells {self._cells(self._used, row_number)}."
        else:
            fix = ""
        return f"{self.origin}: the template failed{_at(row_number)}: {reason}.{fix}{hint}"

    def _unknown_message(self, name: str, available: Sequence[str], line: int | None = None) -> str:
        where = f"{self.origin}, line {line}" if line else self.origin
        close = difflib.get_close_matches(name, available, n=1, cutoff=0.6)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        whole = _name_column([col for col, _ in self._row_keys])
        if snake_case(name) in _FIRST_NAME_WORDS and whole is not None:
            # The README's {{ first_name }} on a sheet with one name column ("Full name"): the
            # first word of it is a filter away, which difflib's 'full_name' does not say.
            hint = (f" No column is called that; for the first word of the '{whole}' column "
                    f"write {{{{ {whole} | first_name }}}}.")
        return (
            f"{where}: unknown variable '{name}'.{hint} "
            f"Available columns: {', '.join(available)} (or row['Column Name'])."
        )

    def render(self, values: Sequence[str], *, row_number: int | None = None,
               seed: str = "") -> str:
        """The row's text; `seed` (campaign and recipient) fixes each pick() choice."""
        self.warning = ""
        context: dict[str, object] = {name: values[i] for name, i in self._names}
        context["row"] = {col: values[i] for col, i in self._row_keys}
        state = _RenderState(seed, self.salt, self._clock, self._clock() + MAX_SECONDS)
        token = _STATE.set(state)
        problem, long_cell = "", ""
        try:
            # Template.render() without its per-row merge of a ChainMap of globals (a third of
            # the time of a 100k-row plan); the output is joined by _bounded_concat.
            t = self._template
            ctx = Context(_ENV, {**self._globals, **context}, t.name, t.blocks)
            text = _bounded_concat(t.root_render_func(ctx)).strip()
            if state.empty:
                self.warning = (
                    f"warning: empty cell {self._cells(state.empty, row_number)} printed as "
                    f"nothing; give it a fallback: {self._fallback(state.empty[0])}"
                )
            return text
        except jinja2.UndefinedError as e:
            if not re.fullmatch(r"'[^']*' is undefined|'dict object' has no attribute '.*'", str(e)):
                # Not a missing name or column: an index or attribute this row's values lack
                # (`name.split()[0]` on an empty name): about the row, not a typo.
                problem = self._row_failed(str(e), values, row_number)
            else:
                where = f" (row {row_number})" if row_number else ""
                key = re.search(r"'([^']*)'$", str(e))
                missing = key.group(1) if key else str(e)
                line = next((n for n, text in enumerate(self.source.splitlines(), 1)
                             if f"'{missing}'" in text or f'"{missing}"' in text), None)
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
            long_cell = self._long_cell(values) if isinstance(e, TemplateLimit) else ""
            if long_cell:  # the row's data, not the template: that row alone is invalid
                problem = ""
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
            problem = self._row_failed(str(e), values, row_number, hint)
        finally:
            _STATE.reset(token)
        if long_cell and not problem:
            raise CellTooLong(long_cell)
        raise TemplateError(problem)  # outside `except`: no chained traceback holds the row

    def _long_cell(self, values: Sequence[str]) -> str:
        """Why this row cannot be a message because of a cell over MAX_TEXT, or ''."""
        names = {i: col for col, i in self._row_keys}
        longest = max(range(len(values)), key=lambda i: len(values[i]), default=None)
        if longest is None or len(values[longest]) <= MAX_TEXT:
            return ""
        name = names.get(longest) or f"column {column_letter(longest)}"
        return (f"the cell '{name}' holds {len(values[longest]):,} characters, more than a "
                f"WhatsApp message can ({MAX_TEXT:,}); shorten it to send this row")


def _at(row_number: int | None) -> str:
    return f" at row {row_number}" if row_number else ""
