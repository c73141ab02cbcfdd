"""The correlation id that groups the events of one request or task."""

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

CORRELATION_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")

_correlation_id: ContextVar[str] = ContextVar("audit_correlation_id", default="")


def correlation_id_new() -> str:
    """Return a fresh correlation id."""
    return uuid.uuid4().hex


def correlation_id_is_valid(value: str) -> bool:
    """Return whether an id from outside (a header, a message) is safe to keep."""
    return bool(CORRELATION_ID_PATTERN.match(value))


def correlation_id_get() -> str:
    """Return the current correlation id, or "" outside a request or task."""
    return _correlation_id.get()


def correlation_id_set(value: str) -> Token:
    """Make `value` the current correlation id; reset it with the returned token."""
    return _correlation_id.set(value)


def correlation_id_reset(token: Token) -> None:
    """Restore the correlation id that was current before `correlation_id_set`."""
    _correlation_id.reset(token)


@contextmanager
def correlation(value: str | None = None) -> Iterator[str]:
    """Run a block under one correlation id (a fresh one unless given)."""
    token = _correlation_id.set(value or correlation_id_new())
    try:
        yield _correlation_id.get()
    finally:
        _correlation_id.reset(token)
