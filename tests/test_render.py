"""SPEC step 5: Jinja2 over a row. Headers, row['...'], snake_case aliases, strict names."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from campaign.errors import InputError, TemplateError
from campaign.render import MessageTemplate, read_template, snake_case

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
