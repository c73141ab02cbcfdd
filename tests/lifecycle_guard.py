"""A query log over the whole suite: only the lifecycle module sets a status.

Every statement that writes the dispatch table's rows (an UPDATE that sets
`status`, or any INSERT: a new row takes a status) is traced to the innermost
project module on the Python stack. Product code other than
`channels_app/lifecycle.py` writing there fails the test that ran it; test and
benchmark set-up (tests/, bench/) may build rows in any status. It watches
the test's own thread: processes a test starts (workers, servers) are not
seen, nor statements on raw psycopg cursors.

PostgreSQL inserts of more than a few rows by `ccm.bulk.rows_insert` stream
through COPY, below Django's execute wrappers; SQLite's `bulk_create` shows
them, so `make test` (SQLite) sees every insert and CI (PostgreSQL) the
updates and the inserts of a few rows (a trigger's).
"""

import re
import traceback
from contextlib import ExitStack
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OWNER = ROOT / "channels_app" / "lifecycle.py"
# Modules that only carry a statement for their caller.
CARRIERS = {ROOT / "ccm" / "bulk.py", Path(__file__).resolve()}
SETUP = (ROOT / "tests", ROOT / "bench")

# The table, schema-qualified or not, in any statement (a WITH may lead).
_TABLE = r'(?:"?\w+"?\.)?"?channels_app_dispatch"?(?:\s|\(|$)'
_UPDATE = re.compile(rf"\bUPDATE\s+{_TABLE}", re.IGNORECASE)
_INSERT = re.compile(rf"\bINSERT\s+INTO\s+{_TABLE}", re.IGNORECASE)
_SET = re.compile(r"\bSET\b", re.IGNORECASE)
_WHERE = re.compile(r"\bWHERE\b", re.IGNORECASE)
_STATUS = re.compile(r'(?:^|[\s,.(])"?status"?\s*=', re.IGNORECASE)


def writes_dispatch_status(sql: str) -> bool:
    """Return whether a statement writes the status of dispatch rows."""
    if _INSERT.search(sql):
        return True
    if not (update := _UPDATE.search(sql)) or not (
        start := _SET.search(sql, update.end())
    ):
        return False
    # Everything assigned: from SET to the last WHERE (whose conditions may
    # name the status without writing it).
    wheres = list(_WHERE.finditer(sql, start.end()))
    assigned = sql[start.end() : wheres[-1].start() if wheres else len(sql)]
    return bool(_STATUS.search(assigned))


def writer(stack: list[traceback.FrameSummary]) -> Path | None:
    """Return the innermost project module on the stack, or None if outside it."""
    for frame in reversed(stack):
        path = Path(frame.filename).resolve()
        if ROOT not in path.parents or ".venv" in path.parts or path in CARRIERS:
            continue
        return path
    return None


def trespasser(stack: list[traceback.FrameSummary]) -> str | None:
    """Return where a status was written from, when that is not allowed."""
    path = writer(stack)
    if path is None or path == OWNER:
        return None
    if any(root in path.parents for root in SETUP):
        return None
    line = next(f for f in reversed(stack) if Path(f.filename).resolve() == path)
    return f"{path.relative_to(ROOT)}:{line.lineno} ({line.name})"


@pytest.fixture(autouse=True)
def dispatch_status_owner():
    """Fail the test if product code outside the lifecycle wrote a dispatch status."""
    from django.db import connections

    found: list[str] = []

    def guard(execute, sql, params, many, context):
        if writes_dispatch_status(sql) and (
            where := trespasser(traceback.extract_stack())
        ):
            found.append(f"{where}: {sql[:120]}")
        return execute(sql, params, many, context)

    with ExitStack() as stack:
        for alias in connections:
            stack.enter_context(connections[alias].execute_wrapper(guard))
        yield found
    if found:
        pytest.fail(
            "Dispatch.status written outside channels_app/lifecycle.py:\n"
            + "\n".join(found)
        )
