"""SPEC step 5: Jinja2 over a row. Headers, row['...'], snake_case aliases, strict names."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from campaign.errors import InputError, TemplateError
from campaign.render import MessageTemplate, read_template, snake_case
from tests.helpers import ESCAPES, RUNAWAYS

COLUMNS = ("First Name", "שם", "עיר מגורים", "E-mail", "Phone", "Amount")
DANA = ("Dana", "דנה", "תל אביב", "dana@example.com", "0502345678", "120")
EMPTY = ("", "", "", "", "0502345678", "")


def render(source: str, values: tuple[str, ...] = DANA, columns: tuple[str, ...] = COLUMNS) -> str:
    return MessageTemplate(source, origin="message.txt", columns=columns).render(values)


def error(
    source: str,
    columns: tuple[str, ...] = COLUMNS,
    *,
    values: tuple[str, ...] = DANA,
    row: int | None = None,
) -> str:
    with pytest.raises(TemplateError) as e:
        MessageTemplate(source, origin="message.txt", columns=columns).render(
            values, row_number=row
        )
    return str(e.value)


@pytest.mark.parametrize(
    ("source", "text"),
    [
        ("שלום {{ שם }}!", "שלום דנה!"),
        ("Hi {{ Phone }}", "Hi 0502345678"),
        ("Hi {{ row['First Name'] }}", "Hi Dana"),
        ('{{ row["עיר מגורים"] }}', "תל אביב"),
        ("{{ row.Phone }}", "0502345678"),
        ("Hi {{ first_name }}", "Hi Dana"),
        ("{{ e_mail }}", "dana@example.com"),
        ("{{ עיר_מגורים }}", "תל אביב"),
        ("{{ amount|int * 2 }}", "240"),
        ("{% if first_name %}Hi {{ first_name }}{% else %}Hi there{% endif %}", "Hi Dana"),
    ],
)
def test_columns_are_available_by_header_row_and_alias(source: str, text: str) -> None:
    assert render(source) == text


def test_empty_cells_render_as_empty_text() -> None:
    assert render("Hi {{ first_name }}, {{ שם }}|{{ row['E-mail'] }}|", EMPTY) == "Hi , ||"
    assert (
        render("{% if first_name %}Hi {{ first_name }}{% else %}Hi there{% endif %}", EMPTY)
        == "Hi there"
    )


def test_no_autoescape() -> None:
    assert render("<b>{{ first_name }}</b> & {{ row['E-mail'] }} \"'") == (
        "<b>Dana</b> & dana@example.com \"'"
    )
    assert render("{{ first_name }}", ("<i>A&B</i>", *DANA[1:])) == "<i>A&B</i>"


def test_hebrew_text_and_newlines_render_exactly() -> None:
    source = "שלום {{ שם }},\nמחכים לך ב{{ עיר_מגורים }}.\n\nלהסרה השב/י 'הסר'\n"
    assert render(source) == "שלום דנה,\nמחכים לך בתל אביב.\n\nלהסרה השב/י 'הסר'"


@pytest.mark.parametrize(
    ("header", "alias"),
    [
        ("First Name", "first_name"),
        ("E-mail", "e_mail"),
        (" Phone ", "phone"),
        ("שם פרטי", "שם_פרטי"),
        ("Amount (₪)", "amount"),
    ],
)
def test_snake_case(header: str, alias: str) -> None:
    assert snake_case(header) == alias


def test_unknown_variable_names_file_line_and_a_close_match() -> None:
    message = error("Hello,\n{{ frist_name }}!")
    assert message == (
        "message.txt, line 2: unknown variable 'frist_name'. Did you mean 'first_name'? "
        "Available columns: Amount, E-mail, First Name, Phone, amount, e_mail, first_name, "
        "phone, עיר מגורים, עיר_מגורים, שם (or row['Column Name'])."
    )


def test_unknown_variable_without_a_close_match_still_lists_columns() -> None:
    message = error("{{ zzz }}", ("Name", "Phone"))
    assert message == (
        "message.txt, line 1: unknown variable 'zzz'. "
        "Available columns: Name, Phone, name, phone (or row['Column Name'])."
    )


def test_unknown_hebrew_variable_suggests_the_hebrew_column() -> None:
    assert "Did you mean 'טלפון'?" in error("{{ טלפן }}", ("שם", "טלפון"))


def test_unknown_key_in_row_names_the_row_and_a_close_match() -> None:
    message = error("Hi {{ row['Frist Name'] }}", row=7)
    assert message.startswith(
        "message.txt (row 7), line 1: unknown variable 'Frist Name'. Did you mean 'First Name'?"
    )


def test_unknown_variable_line_is_where_it_is_used_not_where_the_word_appears() -> None:
    assert error("Dear customer,\nyour code: {{ customer }}").startswith(
        "message.txt, line 2: unknown variable 'customer'."
    )


@pytest.mark.parametrize(
    ("source", "line"),
    [
        ("Hi {% if %}", 1),
        ("Hi\n\n{% if first_name %}never closed", 3),
        ("Hi\n{{ first_name ", 2),
        ("{% for x in %}{% endfor %}", 1),
    ],
)
def test_syntax_error_names_file_and_line(source: str, line: int) -> None:
    with pytest.raises(TemplateError) as e:
        MessageTemplate(source, origin="templates/offer.txt", columns=COLUMNS)
    message = str(e.value)
    assert message.startswith(f"templates/offer.txt, line {line}: template syntax error: ")
    assert message.endswith(
        "Fix the template (Jinja2 syntax: {{ column }}, {% if city %}…{% endif %})."
    )
    assert "\n" not in message


def test_syntax_error_message_has_no_double_full_stop() -> None:
    with pytest.raises(TemplateError) as e:
        MessageTemplate("Hi {{ first_name ", origin="m.txt", columns=COLUMNS)
    assert ".." not in str(e.value)


def test_arithmetic_on_text_cell_is_a_template_error() -> None:
    message = error("{{ first_name + 1 }}", row=4)
    assert message.startswith("message.txt: the template failed at row 4: ")
    assert message.endswith(
        "Cells are text: use filters like |int or |float before doing arithmetic."
    )


def test_errors_are_input_errors_with_exit_code_2() -> None:
    assert issubclass(TemplateError, InputError)
    assert TemplateError("x").exit_code == 2


# --- template files -------------------------------------------------------------------------------


def test_read_template_strips_a_utf8_bom(template: Callable[..., Path]) -> None:
    path = template("x")
    path.write_bytes(b"\xef\xbb\xbf\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d {{ name }}")
    assert read_template(path) == "שלום {{ name }}"


def test_read_template_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.txt"
    with pytest.raises(InputError) as e:
        read_template(path)
    assert str(e.value) == f"{path}: template file not found. Check the --template path."


def test_read_template_not_utf8(template: Callable[..., Path]) -> None:
    path = template("x")
    path.write_bytes("שלום".encode("cp1255"))
    with pytest.raises(InputError) as e:
        read_template(path)
    assert str(e.value) == f"{path}: the template is not UTF-8 text. Save it as UTF-8."


# --- the sandbox (issue 11) ------------------------------------------------------------------


@pytest.mark.parametrize("source", ESCAPES + RUNAWAYS)
def test_escapes_and_runaways_are_refused_quickly(source: str) -> None:
    with pytest.raises(TemplateError) as e:
        MessageTemplate(source, origin="message.txt", columns=COLUMNS).render(DANA, row_number=5)
    message = str(e.value)
    assert message.startswith("message.txt")
    assert "Traceback" not in message and "\n" not in message


def test_a_runaway_names_the_template_the_row_and_the_limit() -> None:
    assert error("{% for i in range(10**9) %}x{% endfor %}", row=7) == (
        "message.txt: the template was stopped at row 7: range() of 1,000,000,000 items is over "
        "10,000. A message may be at most 65,536 characters and take 200,000 steps; simplify the "
        "loop, the repetition or the macro."
    )


def test_a_sandbox_refusal_says_what_templates_may_use() -> None:
    assert error("{{ first_name.__class__ }}", row=3) == (
        "message.txt: the template was refused at row 3: access to attribute '__class__' of "
        "'str' object is unsafe. Templates run in a sandbox: they can use the row's columns, "
        "filters and pick(), nothing else."
    )


def test_the_time_budget_uses_the_injected_clock() -> None:
    ticks = iter(range(0, 10**9, 1))  # one second per clock read: the 2 s budget ends fast
    t = MessageTemplate("{% for i in range(5000) %}{% endfor %}", origin="m.txt", columns=COLUMNS,
                        clock=lambda: float(next(ticks)))
    with pytest.raises(TemplateError, match="it ran for more than 2 s"):
        t.render(DANA, row_number=2)


@pytest.mark.parametrize(
    ("source", "text"),
    [
        ("{% for i in range(3) %}{{ i }}{% endfor %}", "012"),
        ("{{ first_name|upper ~ '!' }}", "DANA!"),
        ("{{ '%05.1f'|format(amount|float) }}", "120.0"),
        ("{{ '{:>6}'.format(first_name) }}", "Dana"),
        ("{{ (amount|int) ** 2 }}", "14400"),
        ("{{ '-' * 3 }}", "---"),
        ("{% set ns = namespace(n=0) %}{% for c in first_name %}{% set ns.n = ns.n + 1 %}"
         "{% endfor %}{{ ns.n }}", "4"),
        ("{{ row.items()|map('first')|join(',')|length > 0 }}", "True"),
        ("{% macro hi(n) %}Hi {{ n }}{% endmacro %}{{ hi(first_name) }}", "Hi Dana"),
        ("{{ first_name.replace('a', 'o') }}", "Dono"),
    ],
)
def test_ordinary_templates_still_work_in_the_sandbox(source: str, text: str) -> None:
    assert render(source) == text


# --- column names that are template words, duplicate headers (issue 10, item 12) ---------------


@pytest.mark.parametrize(
    ("source", "text"),
    [
        ("{{ row['row'] }}", "r"),
        ("{{ true }}|{{ row['true'] }}", "True|t"),
        ("{{ none }}|{{ row['none'] }}", "None|n"),
        ("{{ row['self'] }}", "s"),
        ("{% for i in range(2) %}{{ loop.index }}{% endfor %}|{{ row['loop'] }}", "12|l"),
        ("{{ range(2)|list }}|{{ row['range'] }}", "[0, 1]|g"),
        ("{{ pick('x') }}|{{ row['pick'] }}", "x|p"),
        ("{{ namespace(a=1).a }}|{{ row['namespace'] }}", "1|ns"),
    ],
)
def test_columns_named_like_template_words_never_change_them(source: str, text: str) -> None:
    columns = ("row", "true", "none", "self", "loop", "range", "pick", "namespace", "Phone")
    values = ("r", "t", "n", "s", "l", "g", "p", "ns", "0502345678")
    assert render(source, values, columns) == text


def test_a_column_named_like_a_template_word_gets_a_notice() -> None:
    t = MessageTemplate("Hi", origin="m.txt", columns=("row", "Phone"))
    assert t.notices == [
        "the column 'row' has the name of a template word; use it as row['row'] "
        "({{ row }} keeps its usual meaning)."
    ]


def test_printing_the_whole_row_is_refused_with_the_fix() -> None:
    with pytest.raises(TemplateError) as e:
        MessageTemplate("Hi\n{{ row }}", origin="m.txt", columns=("row", "Phone"))
    assert str(e.value) == (
        "m.txt, line 2: {{ row }} would print every column; name the one you mean: "
        "row['Column Name']."
    )


def test_duplicate_headers_resolve_to_the_first_column_everywhere() -> None:
    columns = ("Name", "Phone", "Name")
    t = MessageTemplate("{{ Name }}|{{ row['Name'] }}|{{ name }}", origin="m.txt", columns=columns)
    assert t.render(("First", "050", "Last")) == "First|First|First"
    assert t.notices == [
        "the column name 'Name' appears more than once (columns A, C); templates use the first "
        "(column A). Rename the others to use them."
    ]


# --- pick() (issue 12) -----------------------------------------------------------------------


def test_pick_is_stable_for_a_seed_and_spreads_across_recipients() -> None:
    t = MessageTemplate("{{ pick('Hi', 'Hello', 'Hey') }} {{ first_name }}", origin="m.txt",
                        columns=COLUMNS)
    again = MessageTemplate("{{ pick('Hi', 'Hello', 'Hey') }} {{ first_name }}", origin="m.txt",
                            columns=COLUMNS)
    seeds = [f"campaign\x1f9725023456{i:02d}@s.whatsapp.net" for i in range(300)]
    first = [t.render(DANA, seed=s) for s in seeds]
    assert first == [again.render(DANA, seed=s) for s in seeds]  # a new process, the same choice
    counts = {greeting: sum(x.startswith(greeting + " ") for x in first)
              for greeting in ("Hi", "Hello", "Hey")}
    assert all(n >= 60 for n in counts.values()), counts


def test_pick_is_known_for_a_given_seed() -> None:
    # sha256, not hash(): the same choice on every machine and Python (pinned here).
    t = MessageTemplate("{{ pick('a', 'b', 'c', 'd') }}", origin="m.txt", columns=COLUMNS)
    assert [t.render(DANA, seed=f"s{i}") for i in range(8)] == [
        t.render(DANA, seed=f"s{i}") for i in range(8)
    ]
    import hashlib

    digest = hashlib.sha256(b"s0\x1f\x1f0\x1f0").digest()
    assert t.render(DANA, seed="s0") == "abcd"[int.from_bytes(digest[:8], "big") % 4]


def test_each_pick_in_a_template_chooses_independently() -> None:
    t = MessageTemplate("{{ pick('a', 'b') }}{{ pick('a', 'b') }}", origin="m.txt",
                        columns=COLUMNS)
    assert len({t.render(DANA, seed=str(i)) for i in range(50)}) == 4


def test_pick_differs_between_the_message_and_the_media_url() -> None:
    message = MessageTemplate("{{ pick('a', 'b') }}", origin="m", columns=COLUMNS)
    media = MessageTemplate("{{ pick('a', 'b') }}", origin="--media-url", columns=COLUMNS,
                            salt="media")
    pairs = [(message.render(DANA, seed=str(i)), media.render(DANA, seed=str(i)))
             for i in range(50)]
    assert any(a != b for a, b in pairs)


def test_pick_accepts_a_list_and_refuses_nothing() -> None:
    assert render("{{ pick(['only']) }}") == "only"
    assert "pick() needs at least one option" in error("{{ pick() }}", row=2)
