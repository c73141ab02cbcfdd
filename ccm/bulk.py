"""Insert many new rows of one model at once, as cheaply as the database allows.

`rows_insert` is `bulk_create` for the hot paths (triggering, sending, the
audit chain). On PostgreSQL it streams the rows with COPY ... FROM STDIN,
formatted by psycopg's C dumpers, after drawing the primary keys from the
table's sequence in one query: measured here, about a tenth of the CPU of
Django's multi-row INSERT, whose parameters psycopg quotes one by one in
Python. A few new rows (a trigger's) go in one INSERT ... RETURNING instead,
one round trip where COPY takes two. Elsewhere (SQLite) it is `bulk_create`.
Either way the instances come back saved, with their primary keys set.

Like `bulk_create` it sends no signals and calls no `save()`; it also takes
no conflict options: a duplicate key fails the whole COPY. `rows_update` is
`bulk_update` for the same paths: one UPDATE from a JSON recordset.
"""

import json
from collections.abc import Callable, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from functools import cache
from typing import Any, TypeVar
from uuid import UUID

from django.db import connection, models

M = TypeVar("M", bound=models.Model)
_PLAIN = (str, int, bool, UUID)

# Fields whose attribute value psycopg can dump as it stands: no pre_save
# hook, no conversion in get_db_prep_save. Plain date-times and JSON have
# their own short paths (_moment, _json); anything else goes through both.
_AS_IS = (
    models.AutoField,
    models.BigAutoField,
    models.BigIntegerField,
    models.BooleanField,
    models.CharField,
    models.EmailField,
    models.SlugField,
    models.IntegerField,
    models.PositiveBigIntegerField,
    models.PositiveIntegerField,
    models.PositiveSmallIntegerField,
    models.SmallIntegerField,
    models.TextField,
    models.UUIDField,
    models.ForeignKey,
)


def rows_insert(objs: Sequence[M]) -> Sequence[M]:
    """Insert unsaved instances of one model; return them saved, keys set."""
    if not objs:
        return objs
    model = type(objs[0])
    if connection.vendor != "postgresql":
        return model.objects.bulk_create(objs)
    if len(objs) <= FEW and all(obj.pk is None for obj in objs):
        _few_insert(objs)
    else:
        _copy_insert(objs)
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias
    return objs


# Up to this many new rows go in one INSERT ... RETURNING: one round trip,
# where COPY takes two (the keys first). A trigger writes one or two rows.
FEW = 4


def _few_insert(objs: Sequence[models.Model]) -> None:
    model = type(objs[0])
    meta = model._meta
    quote = connection.ops.quote_name
    getters = zip(meta.concrete_fields, _value_getters(model), strict=True)
    fields, values = zip(
        *[(f, get) for f, get in getters if f is not meta.pk], strict=True
    )
    columns = ", ".join(quote(field.column) for field in fields)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    # Table and columns are the model's own names, quoted; values parameters.
    statement = (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) "  # noqa: S608
        f"VALUES {', '.join([row] * len(objs))} RETURNING {quote(meta.pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, [value(obj) for obj in objs for value in values])
        for obj, (key,) in zip(objs, cursor.fetchall(), strict=True):
            obj.pk = key


def _copy_insert(objs: Sequence[models.Model]) -> None:
    model = type(objs[0])
    meta = model._meta
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        keyless = [obj for obj in objs if obj.pk is None]
        if keyless:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) "
                "FROM generate_series(1, %s)",
                [meta.db_table, meta.pk.column, len(keyless)],
            )
            for obj, (key,) in zip(keyless, cursor.fetchall(), strict=True):
                obj.pk = key
        fields = meta.concrete_fields
        columns = ", ".join(quote(field.column) for field in fields)
        values = _value_getters(model)
        # Table and columns are the model's own names, quoted.
        statement = f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN"
        with cursor.cursor.copy(statement) as copy:
            for obj in objs:
                copy.write_row([value(obj) for value in values])


@cache
def _value_getters(model: type[models.Model]) -> list[Callable[[Any], Any]]:
    """Return, per concrete field, how to read an instance's value to store."""
    getters = []
    for field in model._meta.concrete_fields:
        if type(field) in _AS_IS:
            getters.append(_attribute(field))
        elif type(field) is models.DateTimeField and not (
            field.auto_now or field.auto_now_add
        ):
            getters.append(_moment(field))
        elif type(field) is models.JSONField:
            getters.append(_json(field))
        else:
            getters.append(_prepared(field))
    return getters


def _attribute(field: models.Field) -> Callable[[Any], Any]:
    attname = field.attname

    def value(obj):
        value = getattr(obj, attname)
        if value is None or type(value) in _PLAIN:
            return value
        # A lazy translation, a number given as text: let the field convert.
        return field.get_db_prep_save(value, connection)

    return value


def _moment(field: models.DateTimeField) -> Callable[[Any], Any]:
    attname = field.attname

    def value(obj):
        value = getattr(obj, attname)
        if value is None or (type(value) is datetime and value.tzinfo is not None):
            return value
        # A naive datetime or a date: the field converts (and warns) as usual.
        return field.get_db_prep_save(value, connection)

    return value


def _json(field: models.JSONField) -> Callable[[Any], Any]:
    """What JSONField.get_db_prep_save does with a plain value, minus its layers."""
    attname, encoder = field.attname, field.encoder

    def value(obj):
        value = getattr(obj, attname)
        if value is None:
            return None  # SQL NULL, as Django stores it
        return connection.ops.adapt_json_value(value, encoder)

    return value


def _prepared(field: models.Field) -> Callable[[Any], Any]:
    def value(obj):
        return field.get_db_prep_save(field.pre_save(obj, True), connection)

    return value


def rows_update(objs: Sequence[models.Model], fields: Sequence[str]) -> None:
    """Save `fields` of saved instances of one model, as `bulk_update` does.

    On PostgreSQL one `UPDATE ... FROM jsonb_to_recordset`: the rows' values
    travel as one JSON document, where Django's `bulk_update` builds a CASE
    per row and field in Python (measured: a quarter to 40% of a batch
    chunk's or a drain's CPU). Elsewhere (SQLite) it is `bulk_update`. Like
    it, it sends no signals and calls no `save()`.
    """
    if not objs:
        return
    model = type(objs[0])
    if connection.vendor != "postgresql":
        model.objects.bulk_update(objs, fields)
        return
    meta = model._meta
    changed = [meta.get_field(name) for name in fields]
    columns = [meta.pk, *changed]
    quote = connection.ops.quote_name
    values = json.dumps(
        [{f.column: getattr(obj, f.attname) for f in columns} for obj in objs],
        default=_json_scalar,
    )
    record = ", ".join(f"{quote(f.column)} {f.db_type(connection)}" for f in columns)
    assignments = ", ".join(f"{quote(f.column)} = v.{quote(f.column)}" for f in changed)
    key = quote(meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(meta.db_table)} AS t SET {assignments} "  # noqa: S608 (names and types from the model)
            f"FROM jsonb_to_recordset(%s::jsonb) AS v({record}) "
            f"WHERE t.{key} = v.{key}",
            [values],
        )


def _json_scalar(value: Any) -> str:
    """Return a value JSON has no type for as the text PostgreSQL reads it from.

    Date-times keep their microseconds (Django's JSON encoder cuts them to
    milliseconds).
    """
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, UUID | Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} cannot be sent in rows_update")
