"""Rows seeded once into a transaction that consecutive tests share.

tests/conftest.py opens and closes the transaction around the tests; a
conftest registers a seed under the name of a fixture that asks for it.
"""


class SharedRows:
    """Rows seeded once into a transaction that consecutive tests share.

    Expensive read-only setup (the approved demo templates: ~4 s of workflow
    each time) is seeded into an open transaction; each test that asks for it
    runs inside pytest-django's savepoints on top, so whatever the test writes
    is rolled back and the seed stays for the next one. The transaction is
    rolled back (the rows vanish) before any test that did not ask for the same
    seed and before any test that commits (transactional_db, live_server,
    processes), so no other test sees the rows or the lock they hold on the
    audit chain head.
    """

    # Fixture name -> the function seeding its rows; conftests register theirs.
    seeds: dict = {}

    def __init__(self, blocker) -> None:
        self.blocker = blocker
        self.name: str | None = None
        self.value = None
        self._atomic = None
        self._connection = None

    def enter(self, name: str):
        if self.name == name:
            return
        self.leave()
        from django.db import transaction

        with self.blocker.unblock():
            self._connection = transaction.get_connection()
            self._atomic = transaction.atomic()
            self._atomic.__enter__()
            self.name = name
            try:
                self.value = self.seeds[name]()
            except BaseException:
                self.leave()
                raise

    def leave(self) -> None:
        if self._atomic is None:
            return
        from django.db import transaction

        atomic, self._atomic, self.name, self.value = self._atomic, None, None, None
        with self.blocker.unblock():
            if transaction.get_connection() is self._connection:
                transaction.set_rollback(True)
                atomic.__exit__(None, None, None)
            else:
                # Django's connections are context-local and Playwright's
                # teardown (the session's `browser`) leaves another context:
                # closing the connection that holds the seed rolls it back.
                self._connection.close()


current: SharedRows | None = None


def rows(name: str):
    """Return what the seed of `name` returned when its shared rows are in place."""
    return current.value if current is not None and current.name == name else None


def commits(item) -> bool:
    marker = item.get_closest_marker("django_db")
    if marker and (
        marker.kwargs.get("transaction")
        or marker.kwargs.get("reset_sequences")
        or (marker.args and marker.args[0])
    ):
        return True
    return bool(
        {"transactional_db", "live_server", "django_db_reset_sequences"}
        & set(item.fixturenames)
    )


def wanted(item) -> str | None:
    if commits(item):
        return None
    return next((name for name in SharedRows.seeds if name in item.fixturenames), None)
