"""A batch's rows: read from a CSV file and checked before anything is stored.

`batch_rows_from_csv` turns a file into rows, naming problems by line and
column; `batch_rows_check` checks rows (from a file or the API) against the
template's data schema and the customer model's rules, naming them by row and
field. Either raises BatchRefused. A batch is stored and run, and its status
changed, by channels_app.batches.
"""

import csv
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ccm.jsonvalues import json_problem
from ccm.problems import Problem
from customers.models import Customer
from customers.services import (
    CUSTOMER_FIELDS,
)

# Fields a row may carry besides its customer and data ("line" is the CSV line
# it came from, kept so problems can name it).
ROW_TEXT_FIELDS = {"correlation_key": 200, "source_reference": 200, "scope": 100}
ROW_CODE_LIST_FIELDS = ("supersedes", "waits_for")
ROW_FIELDS = {"customer", "data", "line", *ROW_TEXT_FIELDS, *ROW_CODE_LIST_FIELDS}
# How many row problems a refusal lists; the rest are only counted.
PROBLEMS_SHOWN = 50
CSV_CONTROL_COLUMNS = ("external_id", *CUSTOMER_FIELDS, *ROW_TEXT_FIELDS)


@dataclass(frozen=True)
class RowProblem:
    """One problem of one row: its number, the CSV line if any, the field."""

    row: int
    field: str
    message: "str | Problem"
    line: int | None = None

    @property
    def column(self) -> str:
        """Return the CSV column the field came from."""
        head, _dot, rest = self.field.partition(".")
        return rest if head in {"customer", "data"} and rest else self.field

    def __str__(self) -> str:
        if self.line is not None:
            if self.column:
                return _("line %(line)d, column %(column)s: %(message)s") % {
                    "line": self.line,
                    "column": self.column,
                    "message": self.message,
                }
            return _("line %(line)d: %(message)s") % {
                "line": self.line,
                "message": self.message,
            }
        if self.field:
            return _("row %(row)d, %(field)s: %(message)s") % {
                "row": self.row,
                "field": self.field,
                "message": self.message,
            }
        return _("row %(row)d: %(message)s") % {
            "row": self.row,
            "message": self.message,
        }


class BatchRefused(Exception):
    """The batch cannot be accepted; nothing was stored.

    `problems` maps a field (template, channels, rows, file, …) to messages;
    `row_problems` lists the first problems of individual rows, and
    `row_problem_count` counts them all.
    """

    def __init__(
        self,
        problems: dict[str, list[str]] | None = None,
        row_problems: Sequence[RowProblem] = (),
        row_problem_count: int = 0,
    ):
        self.problems = problems or {}
        self.row_problems = list(row_problems)
        self.row_problem_count = max(row_problem_count, len(self.row_problems))
        super().__init__("; ".join(self.messages()))

    def messages(self) -> list[str]:
        """Return every problem as one readable line, rows last."""
        lines = [
            f"{name}: {message}" if name not in {"file", "rows"} else str(message)
            for name, messages in self.problems.items()
            for message in messages
        ]
        lines.extend(str(problem) for problem in self.row_problems)
        hidden = self.row_problem_count - len(self.row_problems)
        if hidden > 0:
            lines.append(
                ngettext(
                    "… and %(count)d more problem in other rows",
                    "… and %(count)d more problems in other rows",
                    hidden,
                )
                % {"count": hidden}
            )
        return lines

    def body(self) -> dict[str, Any]:
        """Return the problems as a field-level API error body."""
        body: dict[str, Any] = dict(self.problems)
        if self.row_problems:
            rows: dict[str, dict[str, list[str]]] = {}
            for problem in self.row_problems:
                rows.setdefault(str(problem.row), {}).setdefault(
                    problem.field or "row", []
                ).append(problem.message)
            body["rows"] = rows
            hidden = self.row_problem_count - len(self.row_problems)
            if hidden > 0:
                body["rows_not_shown"] = hidden
        return body


# --- CSV -------------------------------------------------------------------


def batch_rows_from_csv(file: IO[bytes] | bytes, *, schema: dict | None = None):
    """Return the rows of a CSV file, or raise BatchRefused naming line and column.

    The first line names the columns: `external_id` (required) identifies the
    customer; name, email, phone, language, time_zone and postal_address
    update the customer; correlation_key, source_reference and scope go with
    the communication; supersedes and waits_for list template codes; every
    other column is data, nested by dots (`account.number`). Empty cells are
    left out. With the template's data `schema`, cells become the number or
    boolean the schema declares.
    """
    raw = file if isinstance(file, bytes) else file.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise BatchRefused(
            {
                "file": [
                    _(
                        "line %(line)d: the file is not UTF-8 text; save it as "
                        '"CSV UTF-8"'
                    )
                    % {"line": line}
                ]
            }
        ) from None
    first_line = text.split("\n", 1)[0]
    if not first_line.strip():
        raise BatchRefused(
            {
                "file": [
                    _(
                        "line 1: the file is empty; the first line must name the "
                        "columns, including external_id"
                    )
                ]
            }
        )
    # Spreadsheets in Arabic and European locales often save with ; or tabs.
    delimiter = max(",;\t", key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [name.strip() for name in next(reader)]
    except csv.Error as exc:
        raise BatchRefused(
            {"file": [_("line 1: %(error)s") % {"error": exc}]}
        ) from None
    _header_check(header, schema)
    rows: list[dict] = []
    problems: list[str] = []
    start = reader.line_num + 1
    try:
        for values in reader:
            line, start = start, reader.line_num + 1
            if not any(value.strip() for value in values):
                continue
            if len(values) != len(header):
                problems.append(
                    _("line %(line)d: %(values)d values for %(columns)d columns")
                    % {"line": line, "values": len(values), "columns": len(header)}
                )
                continue
            rows.append(
                _row_from_cells(dict(zip(header, values, strict=True)), line, schema)
            )
            if len(rows) > settings.BATCH_MAX_ROWS:
                break
    except csv.Error as exc:
        problems.append(_("line %(line)d: %(error)s") % {"line": start, "error": exc})
    if problems:
        raise BatchRefused(
            {"file": problems[:PROBLEMS_SHOWN]},
            row_problem_count=len(problems) - PROBLEMS_SHOWN,
        )
    return rows


def _header_check(header: list[str], schema: dict | None) -> None:
    problems = []
    seen: set[str] = set()
    for number, name in enumerate(header, 1):
        if not name:
            problems.append(
                _("line 1, column %(number)d: a column has no name")
                % {"number": number}
            )
        elif name in seen:
            problems.append(
                _("line 1, column %(column)s: the column appears twice")
                % {"column": name}
            )
        seen.add(name)
    if "external_id" not in seen:
        problems.append(
            _(
                "line 1: the column external_id is missing; it names the customer "
                "of each row"
            )
        )
    if schema:
        data_columns = [name for name in header if name not in CSV_CONTROL_COLUMNS]
        for path in _required_paths(schema):
            if not any(
                name == path or name.startswith(path + ".") for name in data_columns
            ):
                problems.append(
                    _("line 1: no column %(column)s, which the template requires")
                    % {"column": path}
                )
    if problems:
        raise BatchRefused({"file": problems})


def _required_paths(schema: dict, prefix: str = "") -> list[str]:
    """Return the dotted paths of the leaves the schema requires."""
    paths = []
    properties = schema.get("properties", {})
    for name in schema.get("required", []):
        path = f"{prefix}{name}"
        child = properties.get(name, {})
        nested = _required_paths(child, path + ".") if "required" in child else []
        paths.extend(nested or [path])
    return paths


def _row_from_cells(cells: dict[str, str], line: int, schema: dict | None) -> dict:
    customer = {"external_id": cells.get("external_id", "").strip()}
    row: dict[str, Any] = {"customer": customer, "data": {}, "line": line}
    for name, value in cells.items():
        if name == "external_id" or value.strip() == "":
            continue
        if name in CUSTOMER_FIELDS:
            customer[name] = value if name == "postal_address" else value.strip()
        elif name in ROW_TEXT_FIELDS:
            row[name] = value.strip()
        elif name in ROW_CODE_LIST_FIELDS:
            row[name] = value.replace(",", " ").split()
        else:
            _nested_set(row["data"], name.split("."), value, schema)
    return row


def _nested_set(target: dict, path: list[str], value: str, schema: dict | None):
    for part in path[:-1]:
        nested = target.get(part)
        if not isinstance(nested, dict):
            nested = target[part] = {}
        target = nested
        schema = (schema or {}).get("properties", {}).get(part)
    leaf = (schema or {}).get("properties", {}).get(path[-1]) or {}
    target[path[-1]] = _typed(value, leaf.get("type"))


def _typed(value: str, kind) -> Any:
    """Return a cell as the JSON type the schema declares; leave it if it is not."""
    kinds = kind if isinstance(kind, list) else [kind]
    text = value.strip()
    if "integer" in kinds:
        try:
            return int(text)
        except ValueError:
            pass
    if "number" in kinds:
        try:
            number = float(text)
        except ValueError:
            pass
        else:
            # inf, nan and 1e999 stay text: JSON and the database hold no such
            # number, and the schema then names the cell.
            if math.isfinite(number):
                return (
                    int(number) if number.is_integer() and "." not in text else number
                )
    if "boolean" in kinds and text.lower() in {"true", "false", "yes", "no", "1", "0"}:
        return text.lower() in {"true", "yes", "1"}
    return value if "string" in kinds else text


# --- Checking rows ----------------------------------------------------------


def batch_rows_check(rows: Sequence[Any], *, schema: dict) -> None:
    """Raise BatchRefused listing the first problems of the rows, if any.

    Checks what can be known before a row runs: its fields, its customer's
    fields against the customer model's rules, its data against the template's
    data `schema`, and the template codes it supersedes or waits for.
    """
    from templates_app.data_schemas import patterns_scope
    from templates_app.models import Template

    shown: list[RowProblem] = []
    count = 0
    codes = set(Template.objects.values_list("code", flat=True))
    # A pattern stopped for taking too long on one row is refused at once on
    # the others: 100,000 hostile rows cost one timeout, not 100,000.
    with patterns_scope():
        for problem in _rows_problems(rows, schema, codes):
            count += 1
            if len(shown) < PROBLEMS_SHOWN:
                shown.append(problem)
    if count:
        raise BatchRefused(row_problems=shown, row_problem_count=count)


def _rows_problems(
    rows: Sequence[Any], schema: dict, template_codes: set[str]
) -> Iterable[RowProblem]:
    """Yield every problem of every row that can be known before it runs."""
    from templates_app.validation import schema_validator, validator_errors

    validator = schema_validator(schema)
    for number, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            yield RowProblem(number, "", _("each row must be an object"))
            continue
        line = row.get("line") if isinstance(row.get("line"), int) else None

        def problem(name: str, message: str, number=number, line=line) -> RowProblem:
            return RowProblem(number, name, message, line)

        for name in sorted(set(row) - ROW_FIELDS):
            yield problem(name, _("unknown field"))
        yield from _stored_text_problems(row, problem)
        yield from _customer_problems(row.get("customer"), problem)
        data = row.get("data")
        if not isinstance(data, dict):
            yield problem("data", _("must be an object"))
        else:
            for parts, message in validator_errors(validator, data):
                path = ".".join(str(part) for part in parts)
                yield problem(f"data.{path}" if path else "data", message)
        for name, limit in ROW_TEXT_FIELDS.items():
            value = row.get(name, "")
            if not isinstance(value, str) or len(value) > limit:
                yield problem(
                    name, _("must be text of at most %(limit)d") % {"limit": limit}
                )
        for name in ROW_CODE_LIST_FIELDS:
            codes = row.get(name, [])
            if not isinstance(codes, list) or not all(
                isinstance(c, str) for c in codes
            ):
                yield problem(name, _("must be a list of template codes"))
                continue
            for code in codes:
                if code not in template_codes:
                    yield problem(name, _("unknown template %(code)r") % {"code": code})


def _stored_text_problems(row: dict, problem) -> Iterable[RowProblem]:
    """Yield what in a row the database cannot store (NUL, lone surrogates,
    numbers that are not finite), by field: a CSV has no JSON parser to refuse it."""
    for name, value in row.items():
        if name == "customer" and isinstance(value, dict):
            for field, text in value.items():
                if found := json_problem({field: text}):
                    yield problem(f"customer.{field}", found)
        elif name != "line" and (found := json_problem(value)):
            yield problem(name, found)


def _customer_problems(customer, problem) -> Iterable[RowProblem]:
    if not isinstance(customer, dict):
        yield problem("customer", _("must be an object with an external_id"))
        return
    external_id = customer.get("external_id")
    if not isinstance(external_id, str) or not external_id.strip():
        yield problem(
            "customer.external_id",
            _("empty; every row needs the customer's external id"),
        )
    # The customer model's own rules, as for the API and the admin.
    for name, messages in Customer.field_problems(customer).items():
        if name == "external_id" and not (external_id or "").strip():
            continue
        for message in messages:
            yield problem(f"customer.{name}", message)
