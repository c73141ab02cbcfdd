"""CSV written for people to open in a spreadsheet: never a formula that runs.

Every CSV the product writes (the print vendor's manifest, its rewrite on
erasure, the inventory export) goes through `csv_writer`, so no cell can start
a formula (OWASP, CSV injection).
"""

import csv
from collections.abc import Iterable
from typing import Any

# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """Return the value as a CSV cell a spreadsheet shows as text, never runs.

    Text starting with a formula prefix gets a leading apostrophe (OWASP's
    advice); numbers and other text pass unchanged, and a cell already
    neutralised stays as it is, so rewriting a file never stacks apostrophes.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


class FormulaSafeWriter:
    """A `csv.writer` whose every cell goes through `csv_cell`."""

    def __init__(self, target, **options) -> None:
        self._writer = csv.writer(target, **options)

    def writerow(self, row: Iterable[Any]):
        return self._writer.writerow([csv_cell(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(target, **options) -> FormulaSafeWriter:
    """Return a CSV writer on `target` that neutralises formula prefixes."""
    return FormulaSafeWriter(target, **options)
