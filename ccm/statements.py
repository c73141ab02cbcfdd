"""Read statements the ORM builds once per process and shape, run with new values.

Building and compiling a queryset costs the hottest pages more CPU than the
database spends answering it: the console's first timeline page, measured,
spent about a fifth of its CPU in `QuerySet.filter`, `as_sql` and friends for
three statements whose SQL never changes, only their values. `Statement`
compiles the queryset once, with stand-in values (`Marker`s) where a call's
values go, and then runs the same SQL with each call's values, applying the
ORM's own converters to what comes back. The SQL is the ORM's, so it stays
true to the models; only its compilation is not repeated.

A stand-in must reach the statement's parameters unchanged (exact lookups
on text, whole-number and UUID fields: `pk=`, `channel=`, `public_id=`; a
UUID as itself or, where the database has no uuid type, as its hex digits)
or as the ORM's LIKE patterns write it: escaped for LIKE, alone or with a
wildcard before, after or on both sides (`iexact` on SQLite, `startswith`,
`contains`, `endswith` and their case-insensitive forms, which fold case in
SQL). Each call's value is written the same way. A lookup that rewrites its
value otherwise (a date bound, a case folded in Python) is refused when the
statement is made, as is a value that does not reach the parameters.

On PostgreSQL a statement made with `prepare=True` is also parsed and
planned by the server once per connection (`prepared_cursor`): the API's
token read cost the server 0.73 ms of CPU a request as plain SQL, 0.10 ms
prepared. Only for exact lookups: after five runs the server may keep one
generic plan, which cannot use a trigram index for a LIKE pattern (the
console's search; `ccm/settings.py`), so a statement with a pattern is
refused `prepare=True`.
"""

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from threading import Lock
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.models import QuerySet
from django.db.models.query import get_related_populators

# How the ORM writes a pattern lookup's value (escaped for LIKE): iexact on
# SQLite, startswith, contains, endswith.
LIKE_PATTERNS = ("%s", "%s%%", "%%%s%%", "%%%s")
# How a UUID reaches the parameters on a database without a uuid type (SQLite).
HEX = "hex"


@cache
def _prepared_cursor_class():
    import psycopg

    class PreparedCursor(psycopg.Cursor):
        """Binds on the server and prepares every statement it runs."""

        def execute(self, query, params=None, *, prepare=True, binary=None):
            return super().execute(query, params, prepare=prepare, binary=binary)

    return PreparedCursor


@contextmanager
def prepared_cursor(using: str = "default") -> Iterator[Any]:
    """Yield a cursor whose statements PostgreSQL parses and plans once per
    connection, then runs again with new values.

    It is Django's cursor wrapper around a psycopg cursor that binds on the
    server, so query logging and `execute_wrapper`s see its statements as
    any other. Elsewhere (SQLite, or behind PgBouncer in transaction mode,
    `DATABASE_TRANSACTION_POOLING`, where a prepared statement would not
    outlive the transaction's connection) it is Django's own cursor. Write
    the SQL for server binding: cast a value whose type the server cannot
    infer (`%s::jsonb`).
    """
    connection = connections[using]
    if connection.vendor != "postgresql" or settings.DATABASE_TRANSACTION_POOLING:
        with connection.cursor() as cursor:
            yield cursor
        return
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        raw = _prepared_cursor_class()(connection.connection)
    # As Django's create_cursor(): timestamps read in the connection's zone.
    from django.db.backends.postgresql.psycopg_any import register_tzloader
    from psycopg import adapters
    from psycopg.pq import Format

    loader = raw.adapters.get_loader(adapters.types["timestamptz"].oid, Format.TEXT)
    if connection.timezone != loader.timezone:
        register_tzloader(connection.timezone, raw)
    connection.validate_thread_sharing()
    if connection.queries_logged:
        wrapped = connection.make_debug_cursor(raw)
    else:
        wrapped = connection.make_cursor(raw)
    with wrapped as cursor:
        yield cursor


@dataclass(frozen=True)
class Marker:
    """Stands for one of a statement's values while it is compiled."""

    name: str
    kind: type = int

    def stand_in(self, position: int) -> Any:
        """Return the value compiled in its place: one per marker of a statement."""
        # Far from any real id or code, yet in range of a 32-bit key (the
        # ORM drops a lookup its column cannot hold); never sent anywhere.
        if self.kind is int:
            return -2_147_480_000 + position
        if self.kind is uuid.UUID:
            return uuid.UUID(f"cc357a7e-0000-4000-8000-{position:012x}")
        # Mixed case and LIKE's wildcards: a lookup that folds case in
        # Python changes it and is refused; one that escapes it for LIKE is
        # told from an exact one.
        return f"\x00Ccm%Statement_Marker_{position}:{self.name}"


class Statement:
    """One compiled read: `rows(**values)` as dicts, or `instances(**values)`."""

    def __init__(
        self, queryset: QuerySet, stand_ins: dict[str, Any], *, prepare: bool = False
    ) -> None:
        self.model = queryset.model
        self.using = queryset.db
        query = queryset.query
        compiler = query.get_compiler(self.using)
        self.sql, params = compiler.as_sql()
        self.params = list(params)
        # (parameter index, value name, LIKE pattern or None for unchanged)
        self.slots: list[tuple[int, str, str | None]] = []
        self._like_escape = connections[self.using].ops.prep_for_like_query
        for name, stand_in in stand_ins.items():
            forms = [(None, stand_in)]
            if isinstance(stand_in, str):
                escaped = self._like_escape(stand_in)
                forms += [(like, like % escaped) for like in LIKE_PATTERNS]
            elif isinstance(stand_in, uuid.UUID):
                forms.append((HEX, stand_in.hex))
            found = [
                (i, name, like)
                for i, param in enumerate(self.params)
                for like, written in forms
                if param == written
            ]
            if not found:
                raise ValueError(
                    f"{name!r} does not reach the statement's parameters "
                    "unchanged or as a LIKE pattern; use it for an exact or a "
                    "pattern lookup"
                )
            self.slots += found
        if prepare and any(like not in (None, HEX) for _i, _n, like in self.slots):
            raise ValueError(
                "a statement with a LIKE pattern is not prepared: a generic "
                "plan cannot use the pattern's index"
            )
        self.prepare = prepare
        self.names = [
            *query.extra_select,
            *query.values_select,
            *query.annotation_select,
        ]
        fields = [column[0] for column in compiler.select[: compiler.col_count]]
        self._compiler = compiler
        self._converters = compiler.get_converters(fields)
        # Where a model queryset's instances are in a row, as ModelIterable
        # reads them (select_related included).
        self._klass_info = compiler.klass_info
        if compiler.klass_info is not None:
            select = compiler.select
            columns = compiler.klass_info["select_fields"]
            first, last = columns[0], columns[-1]
            self._model_slice = slice(first, last + 1)
            self._init_list = [
                column[0].target.attname for column in select[first : last + 1]
            ]
            self._populators = get_related_populators(
                compiler.klass_info, select, self.using
            )
            self._annotations = dict(compiler.annotation_col_map)

    def _params(self, values: dict[str, Any]) -> list:
        params = list(self.params)
        for index, name, like in self.slots:
            value = values[name]
            if like is None:
                params[index] = value
            elif like is HEX:
                params[index] = uuid.UUID(str(value)).hex
            else:
                params[index] = like % self._like_escape(value)
        return params

    def _fetched(self, values: dict[str, Any]) -> list:
        if self.prepare:
            opened = prepared_cursor(self.using)
        else:
            opened = connections[self.using].cursor()
        with opened as cursor:
            cursor.execute(self.sql, self._params(values))
            rows = cursor.fetchall()
        if self._converters:
            rows = list(self._compiler.apply_converters(rows, self._converters))
        return rows

    def rows(self, **values: Any) -> list[dict]:
        """Run the statement (a `values()` queryset's) and return its rows."""
        return [
            dict(zip(self.names, row, strict=True)) for row in self._fetched(values)
        ]

    def instances(self, **values: Any) -> list:
        """Run the statement (a model queryset's) and return its instances."""
        if self._klass_info is None:
            raise TypeError("a values() statement has rows, not instances")
        found = []
        for row in self._fetched(values):
            instance = self.model.from_db(
                self.using, self._init_list, row[self._model_slice]
            )
            for populator in self._populators:
                populator.populate(row, instance)
            for name, position in self._annotations.items():
                setattr(instance, name, row[position])
            found.append(instance)
        return found

    def instance(self, **values: Any):
        """Run a statement that finds one row at most (a unique lookup): its
        instance, or None."""
        found = self.instances(**values)
        return found[0] if found else None


_made: dict[tuple, Statement] = {}
_lock = Lock()
# Shapes kept per process; past it the cache starts again (a key names a
# page's offset, and an agent may page far).
KEPT = 256


def statement(
    key: tuple,
    build: Callable[..., QuerySet],
    *markers: Marker,
    prepare: bool = False,
) -> Statement:
    """Return the statement `build(**{marker names: stand-ins})` compiles to.

    Made at the first call for `key` (which names the shape: every argument
    that changes the SQL, not only its values) and kept for the process.
    With `prepare`, PostgreSQL also plans it once per connection (exact
    lookups only; see the module's docstring).
    """
    full_key = (*key, connections["default"].vendor)
    made = _made.get(full_key)
    if made is None:
        stand_ins = {m.name: m.stand_in(i) for i, m in enumerate(markers)}
        made = Statement(build(**stand_ins), stand_ins, prepare=prepare)
        with _lock:
            if len(_made) >= KEPT:
                _made.clear()
            made = _made.setdefault(full_key, made)
    return made
