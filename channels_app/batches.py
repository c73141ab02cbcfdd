"""Batch runs: many communications of one template, from a CSV file or the API.

A batch and all its rows are stored in one transaction before any row is
processed. Rows are then processed in chunks, one transaction per chunk: the
communications of a chunk, its rows' outcomes and the batch counters commit
together, so progress shows while the batch runs, and a worker that dies
mid-run leaves exactly the unprocessed rows for the next run (nothing lost,
nothing twice).
"""

import csv
import io
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO, Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import OperationalError, transaction
from django.db.models import F, Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from audit.services import event_record
from ccm.bulk import rows_update
from ccm.jsonvalues import json_problem
from ccm.problems import DomainError, Problem, problem_from
from channels_app import incidents, problems
from channels_app.customer_rows import customers_upsert_rows
from channels_app.dispatching import (
    AUTO,
    TriggerRefused,
    TriggerRequest,
    communications_trigger_bulk,
)
from channels_app.models import (
    Batch,
    BatchRow,
    Channel,
    Incident,
    Severity,
    validate_schedule,
)
from channels_app.template_checks import template_check
from customers.models import Customer
from customers.services import (
    CUSTOMER_FIELDS,
)

logger = logging.getLogger(__name__)

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


# --- Creating a batch -------------------------------------------------------


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


def batch_create(
    *,
    template_code: str,
    channels: Sequence[str] | str,
    rows: Sequence[dict],
    requester_label: str,
    requested_by: AbstractBaseUser | None = None,
    source_system: str = "",
    file_name: str = "",
    idempotency_key: str = "",
    scheduled_for: datetime | None = None,
) -> Batch:
    """Check a batch whole, store it with all its rows, and start its run on commit.

    Raise BatchRefused (nothing stored) for an unknown template, channels the
    template does not support, no rows, too many rows, or any row whose
    customer fields or data are wrong. Problems that depend on the moment
    (consent, contact points, unknown customers) refuse single rows at run
    time.
    """
    checked = template_check(template_code, channels)
    found = checked.problems
    if not rows:
        found["rows"] = [_("add at least one row")]
    elif len(rows) > settings.BATCH_MAX_ROWS:
        found["rows"] = [
            problems.BATCH_TOO_MANY_ROWS(count=len(rows), limit=settings.BATCH_MAX_ROWS)
        ]
    if scheduled_for is not None and timezone.is_naive(scheduled_for):
        found["schedule"] = [_("give a time zone with the time")]
    elif scheduled_for is not None:
        try:
            validate_schedule(scheduled_for)
        except ValidationError as exc:
            found["schedule"] = exc.messages
    if found or checked.template is None:
        raise BatchRefused(found)
    from templates_app.data_schemas import patterns_scope
    from templates_app.models import Template

    shown: list[RowProblem] = []
    count = 0
    codes = set(Template.objects.values_list("code", flat=True))
    # A pattern stopped for taking too long on one row is refused at once on
    # the others: 100,000 hostile rows cost one timeout, not 100,000.
    with patterns_scope():
        for problem in _rows_problems(rows, checked.template.data_schema or {}, codes):
            count += 1
            if len(shown) < PROBLEMS_SHOWN:
                shown.append(problem)
    if count:
        raise BatchRefused(row_problems=shown, row_problem_count=count)
    with transaction.atomic():
        batch = Batch.objects.create(
            template_code=checked.template.code,
            channels=checked.channels,
            source_system=source_system,
            file_name=file_name,
            requested_by=requested_by,
            requester_label=requester_label,
            idempotency_key=idempotency_key,
            scheduled_for=scheduled_for,
            total=len(rows),
        )
        BatchRow.objects.bulk_create(
            (
                BatchRow(batch=batch, number=number, payload=row)
                for number, row in enumerate(rows, 1)
            ),
            batch_size=2000,
        )
        event_record(
            action="channels.batch.created",
            actor=requested_by,
            actor_label=requester_label if requested_by is None else "",
            subject=batch,
            after={
                "template": batch.template_code,
                "channels": batch.channels,
                "rows": batch.total,
                "file_name": file_name,
                "source_system": source_system,
                "scheduled_for": scheduled_for,
            },
        )
        transaction.on_commit(lambda: batch_run_enqueue(batch_id=batch.pk))
    return batch


def batch_run_enqueue(*, batch_id: int) -> None:
    """Ask a worker to run a batch; beat's batches_resume covers a lost request."""
    from channels_app.tasks import batch_run as batch_run_task

    try:
        batch_run_task.apply_async((batch_id,), retry=False)
    except Exception:  # noqa: BLE001 (broker down: the database keeps the batch)
        logger.warning(
            "could not reach the broker to run batch %s; beat will resume it", batch_id
        )


# --- Running a batch --------------------------------------------------------


def batch_run(
    *, batch: Batch, chunk_rows: int | None = None, max_chunks: int | None = None
) -> Batch:
    """Process the unprocessed rows of a batch chunk by chunk, then close it.

    Several runs of one batch at once are safe: each chunk locks the batch row
    (SKIP LOCKED on PostgreSQL; SQLite has one writer), so a run that finds it
    locked leaves the rest to the run holding it. `max_chunks` stops early,
    as a killed worker would, for tests.
    """
    chunk_rows = chunk_rows or settings.BATCH_CHUNK_ROWS
    try:
        if not _batch_start(batch):
            batch.refresh_from_db()
            return batch
        chunks = 0
        while max_chunks is None or chunks < max_chunks:
            done = _chunk_process(batch, chunk_rows)
            if done is None:  # another run holds the batch, or it stopped
                break
            if done == 0:
                _batch_finish(batch)
                break
            chunks += 1
    except OperationalError:
        # A lock timeout or a lost connection: leave the batch as it is for
        # the next run (beat's batches_resume); its rows are untouched.
        logger.warning("batch %s paused by a database error", batch.pk, exc_info=True)
    except Exception as exc:
        logger.exception("batch %s failed", batch.pk)
        _batch_fail(batch, exc)
    batch.refresh_from_db()
    return batch


def _batch_start(batch: Batch) -> bool:
    """Move a pending batch to running; return whether it should run."""
    with transaction.atomic():
        locked = (
            Batch.objects.select_for_update(skip_locked=True)
            .filter(
                pk=batch.pk, status__in=[Batch.Status.PENDING, Batch.Status.RUNNING]
            )
            .first()
        )
        if locked is None:
            return False
        if locked.status == Batch.Status.PENDING:
            locked.status = Batch.Status.RUNNING
            locked.started = locked.started or timezone.now()
            locked.save(update_fields=["status", "started"])
    return True


def _chunk_process(batch: Batch, chunk_rows: int) -> int | None:
    """Process one chunk in one transaction; return its size, None if not ours."""
    with transaction.atomic():
        locked = (
            Batch.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("requested_by")
            .filter(pk=batch.pk, status=Batch.Status.RUNNING)
            .first()
        )
        if locked is None:
            return None
        rows = list(
            locked.rows.filter(processed__isnull=True).order_by("number")[:chunk_rows]
        )
        if not rows:
            return 0
        customers, refusals = customers_upsert_rows(
            [(row.number, row.payload["customer"]) for row in rows],
            actor=locked.requested_by,
            actor_label=locked.requester_label if not locked.requested_by else "",
        )
        ready = [row for row in rows if row.number in customers]
        results = communications_trigger_bulk(
            requests=[_request(locked, row, customers[row.number]) for row in ready],
            requester_label=locked.requester_label,
            requested_by=locked.requested_by,
            batch=locked,
        )
        now = timezone.now()
        accepted = 0
        for row, result in zip(ready, results, strict=True):
            if isinstance(result, TriggerRefused):
                refusals[row.number] = result.as_stored()
            else:
                row.communication = result
                accepted += 1
        for row in rows:
            row.problems = refusals.get(row.number, {})
            row.processed = now
        # One UPDATE from a JSON recordset on PostgreSQL: the ORM's
        # bulk_update builds a CASE per row and field, a quarter of a chunk.
        rows_update(rows, ["communication", "problems", "processed"])
        Batch.objects.filter(pk=locked.pk).update(
            processed=F("processed") + len(rows),
            accepted=F("accepted") + accepted,
            refused=F("refused") + len(rows) - accepted,
        )
    return len(rows)


def _request(batch: Batch, row: BatchRow, customer: Customer) -> TriggerRequest:
    payload = row.payload
    # Stored with the communication, so not translated.
    where = batch.file_name or "batch"
    return TriggerRequest(
        template_code=batch.template_code,
        customer=customer,
        data=payload["data"],
        channels=batch.channels if batch.channels != [] else AUTO,
        source_system=batch.source_system,
        source_reference=payload.get("source_reference") or f"{where} row {row.number}",
        idempotency_key=f"{batch.public_id}:{row.number}",
        scheduled_for=batch.scheduled_for,
        scope=payload.get("scope", ""),
        correlation_key=payload.get("correlation_key", ""),
        supersedes=payload.get("supersedes", []),
        waits_for=payload.get("waits_for", []),
    )


def _batch_finish(batch: Batch) -> None:
    with transaction.atomic():
        locked = Batch.objects.select_for_update().get(pk=batch.pk)
        if locked.status != Batch.Status.RUNNING:
            return
        if locked.rows.filter(processed__isnull=True).exists():
            return
        locked.status = Batch.Status.DONE
        locked.finished = timezone.now()
        locked.save(update_fields=["status", "finished"])
        event_record(
            action="channels.batch.finished",
            subject=locked,
            after={
                "total": locked.total,
                "processed": locked.processed,
                "accepted": locked.accepted,
                "refused": locked.refused,
            },
        )
        if locked.total and locked.refused / locked.total >= batch_refusal_share():
            incidents.incident_raise(
                kind=Incident.Kind.BATCH_REFUSALS,
                key=f"batch_refusals:{locked.pk}",
                severity=Severity.HIGH,
                title=f"Batch {locked.template_code} ({locked.file_name or locked.pk})"
                f": {locked.refused} of {locked.total} rows refused",
                template_code=locked.template_code,
                batch=locked,
                occurrences=locked.refused,
            )


def batch_refusal_share() -> float:
    """Return the share of refused rows that makes a batch an incident."""
    return getattr(settings, "INCIDENT_BATCH_REFUSED_SHARE", 0.2)


def _batch_fail(batch: Batch, exc: BaseException) -> None:
    error = f"{type(exc).__name__}: {exc}"
    with transaction.atomic():
        locked = Batch.objects.select_for_update().get(pk=batch.pk)
        if locked.status != Batch.Status.RUNNING:
            return
        locked.status = Batch.Status.FAILED
        locked.error = error
        locked.save(update_fields=["status", "error"])
        event_record(
            action="channels.batch.failed",
            subject=locked,
            after={"processed": locked.processed, "total": locked.total},
            reason=error,
        )


class BatchNotResumable(DomainError, ValueError):
    """Only a failed batch can be put back in the queue."""


@transaction.atomic
def batch_resume(*, batch: Batch, actor: AbstractBaseUser) -> Batch:
    """Put a failed batch back in the queue; its unprocessed rows run again."""
    locked = Batch.objects.select_for_update().get(pk=batch.pk)
    if locked.status != Batch.Status.FAILED:
        raise BatchNotResumable(
            problems.BATCH_NOT_RESUMABLE(batch=locked.public_id, status=locked.status)
        )
    error = locked.error
    locked.status = Batch.Status.PENDING
    locked.error = ""
    locked.save(update_fields=["status", "error"])
    event_record(
        action="channels.batch.resumed",
        actor=actor,
        subject=locked,
        before={"status": Batch.Status.FAILED, "error": error},
        after={"status": Batch.Status.PENDING},
    )
    transaction.on_commit(lambda: batch_run_enqueue(batch_id=locked.pk))
    return locked


def batches_resume() -> list[int]:
    """Start a run for every pending or running batch without recent progress.

    Covers a lost run request and a worker killed mid-run; a batch still being
    worked is left alone by the extra run (it finds the batch locked).
    """
    cutoff = timezone.now() - timedelta(seconds=settings.BATCH_STALE_SECONDS)
    stale = list(
        Batch.objects.filter(
            status__in=[Batch.Status.PENDING, Batch.Status.RUNNING], created__lt=cutoff
        )
        .annotate(last_progress=Max("rows__processed"))
        .filter(Q(last_progress__isnull=True) | Q(last_progress__lt=cutoff))
        .values_list("pk", flat=True)
    )
    for batch_id in stale:
        batch_run_enqueue(batch_id=batch_id)
    return stale


def batch_row_problems(*, batch: Batch, limit: int = 100) -> list[dict[str, Any]]:
    """Return the first refused rows of a batch with their problems."""
    return [
        {
            "row": row.number,
            "line": row.payload.get("line"),
            "external_id": row.payload.get("customer", {}).get("external_id", ""),
            "problems": {
                name: [problem_from(item) for item in found]
                for name, found in row.problems.items()
            },
        }
        for row in batch.rows.filter(
            processed__isnull=False, communication__isnull=True
        )
        .order_by("number")
        .only("number", "payload", "problems")[:limit]
    ]


def batch_channels_label(batch: Batch) -> str:
    """Return the channels of a batch as operators read them."""
    if batch.channels in (AUTO, [], [AUTO]):
        return _("auto")
    return ", ".join(
        str(Channel(c).label) for c in batch.channels if c in Channel.values
    )
