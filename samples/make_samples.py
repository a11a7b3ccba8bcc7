"""Regenerate samples/contacts.xlsx and samples/contacts.csv (a marketer's export, warts and all).

Run: python samples/make_samples.py
"""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl

HERE = Path(__file__).parent
HEADER = ["Full Name", "First Name", "Phone", "City", "Coupon", "Brochure"]
BROCHURE = "https://example.com/brochures/autumn-sale.pdf"
ROWS = [
    ["דנה כהן", "דנה", "050-234-5678", "תל אביב", "AUTUMN10", BROCHURE],
    ["Michael Levi", "Michael", "+972 54 765 4321", "Haifa", "AUTUMN15", BROCHURE],
    ["יוסי מזרחי", "יוסי", 523456789, "ירושלים", "AUTUMN10", BROCHURE],  # Excel ate the zero
    ["Sarah Cohen", "Sarah", "972531234567", "", "AUTUMN20", BROCHURE],  # no city: empty cell
    ["נועה פרץ", "נועה", "00972 58-765-4321", "באר שבע", "AUTUMN10", BROCHURE],
    ["Dana Cohen (work)", "Dana", "0502345678", "Tel Aviv", "AUTUMN10", BROCHURE],  # duplicate
    ["אבי ביטון", "אבי", "12345", "אשדוד", "AUTUMN10", BROCHURE],  # a bad number
    ["Ruth Katz", "Ruth", "", "Netanya", "AUTUMN10", BROCHURE],  # no phone at all
]


def main() -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Contacts"
    ws.append(["Autumn sale 2026 - contacts export"])  # a title row above the header
    ws.append(HEADER)
    for row in ROWS:
        ws.append(row)
    wb.save(HERE / "contacts.xlsx")
    with open(HERE / "contacts.csv", "w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        w.writerows([str(c) for c in row] for row in ROWS)


if __name__ == "__main__":
    main()
