"""Cells as Excel shows them: the display formats people use, rounded the way Excel rounds."""

from __future__ import annotations

import pytest

from campaign.display import format_value


@pytest.mark.parametrize(
    ("value", "code", "shown"),
    [
        (1500, '"₪"#,##0.00', "₪1,500.00"),
        (0.15, "0%", "15%"),
        (123, "00000", "00123"),
        (17.549999999999997, '0.00 "₪"', "17.55 ₪"),
        (-1234.5, "#,##0.00;(#,##0.00)", "(1,234.50)"),
        # Excel rounds its 15-digit decimal value half away from zero, not binary half-to-even.
        (2.5, "0", "3"),
        (2.25, "0.0", "2.3"),
        (0.125, "#,##0.00", "0.13"),
        (1.005, "0.00", "1.01"),
        # A phone kept as a number with a phone format: the digits fill the placeholders.
        (502345671, "000-0000000", "050-2345671"),
        (502345671, "0##-###-####", "050-234-5671"),
        (12025550123, "0 000 000 0000", "1 202 555 0123"),
    ],
)
def test_numbers_render_as_excel_shows_them(value: float, code: str, shown: str) -> None:
    assert format_value(value, code) == shown
