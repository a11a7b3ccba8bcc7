"""Jinja2 templates over a row: columns by header, `row['...']`, snake_case aliases, strict names."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from pathlib import Path

import jinja2
from jinja2 import meta, nodes

from campaign.errors import InputError, TemplateError

# StrictUndefined: a typo must stop the run, not send "Hello ," to 3,000 people (mailmerge does
# the same). No autoescape: this is WhatsApp text, not HTML.
_ENV = jinja2.Environment(
    undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False
)


def snake_case(header: str) -> str:
    """'First Name' -> 'first_name', 'E-mail' -> 'e_mail', 'שם פרטי' -> 'שם_פרטי'."""
    return re.sub(r"\W+", "_", header.strip().casefold()).strip("_")


def read_template(path: Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{path}: template file not found. Check the --template path.") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: the template is not UTF-8 text. Save it as UTF-8.") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read the template ({e.strerror}).") from None


class MessageTemplate:
    """A compiled template whose variables were checked against the sheet's columns."""

    def __init__(self, source: str, *, origin: str, columns: Sequence[str]) -> None:
        self.origin = origin
        self.source = source
        # Names a template can use: headers as written, then snake_case aliases, then `row`.
        self._names: list[tuple[str, int]] = []
        seen: set[str] = set()
        for i, col in enumerate(columns):
            if col and col not in seen:
                seen.add(col)
                self._names.append((col, i))
        for i, col in enumerate(columns):
            alias = snake_case(col)
            if alias and alias.isidentifier() and alias not in seen:
                seen.add(alias)
                self._names.append((alias, i))
        self._columns = list(columns)
        try:
            ast = _ENV.parse(source)
            self._template = _ENV.from_string(ast)
        except jinja2.TemplateSyntaxError as e:
            raise TemplateError(
                f"{origin}, line {e.lineno}: template syntax error: {(e.message or '').rstrip('.')}. "
                "Fix the template (Jinja2 syntax: {{ column }}, {% if city %}…{% endif %})."
            ) from None
        available = seen | {"row"}
        unknown = sorted(meta.find_undeclared_variables(ast) - available)
        if unknown:
            name = unknown[0]
            lines = [n.lineno for n in ast.find_all(nodes.Name) if n.name == name]
            raise TemplateError(self._unknown_message(name, sorted(seen), min(lines, default=None)))

    def _unknown_message(self, name: str, available: Sequence[str], line: int | None = None) -> str:
        where = f"{self.origin}, line {line}" if line else self.origin
        close = difflib.get_close_matches(name, available, n=1, cutoff=0.6)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        return (
            f"{where}: unknown variable '{name}'.{hint} "
            f"Available columns: {', '.join(available)} (or row['Column Name'])."
        )

    def render(self, values: Sequence[str], *, row_number: int | None = None) -> str:
        context: dict[str, object] = {name: values[i] for name, i in self._names}
        context["row"] = dict(zip(self._columns, values, strict=False))
        try:
            return self._template.render(context).strip()
        except jinja2.UndefinedError as e:
            where = f" (row {row_number})" if row_number else ""
            key = re.search(r"'([^']*)'$", str(e))
            missing = key.group(1) if key else str(e)
            line = next((n for n, text in enumerate(self.source.splitlines(), 1)
                         if f"'{missing}'" in text or f'"{missing}"' in text), None)  # fmt: skip
            raise TemplateError(
                self._unknown_message(missing, [n for n, _ in self._names], line).replace(
                    f"{self.origin}", f"{self.origin}{where}", 1
                )
            ) from None
        except (TypeError, ValueError, ArithmeticError, jinja2.TemplateError) as e:
            where = f" at row {row_number}" if row_number else ""
            raise TemplateError(
                f"{self.origin}: the template failed{where}: {e}. "
                "Cells are text: use filters like |int or |float before doing arithmetic."
            ) from None
