"""Helpers for tests that start other processes against the test database."""

from urllib.parse import quote

from django.db import connection


def child_database_url() -> str:
    """Return a DATABASE_URL pointing child processes at this test's database."""
    db = connection.settings_dict
    if connection.vendor != "postgresql":
        return f"sqlite:///{db['NAME']}"
    user = quote(db.get("USER") or "")
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"
