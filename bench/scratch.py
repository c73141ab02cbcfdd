"""Create a scratch PostgreSQL database for a benchmark, migrate it, set Django up.

The benchmarks never touch the database DATABASE_URL names: they use the same
server, under a database of their own that they drop and create again.
"""

import os
import sys
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent


def scratch_database_setup(
    name: str, *, keep: bool = False, settings: str = "ccm.settings"
) -> str:
    """Recreate database `name` on the same server, migrate it, set Django up.

    With `keep`, a database of that name that already exists is kept (and
    migrated): a benchmark can time again what an earlier run filled.
    `settings` names the Django settings module (a peer product has its own).
    """
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("set DATABASE_URL=postgres://user@host:port/any to benchmark")
    import psycopg
    from psycopg import sql

    server = urlparse(url)
    maintenance = urlunparse(server._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as admin:
        exists = admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if not (keep and exists):
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)
                )
            )
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    scratch = urlunparse(server._replace(path=f"/{name}"))
    os.environ["DATABASE_URL"] = scratch
    os.environ["DJANGO_SETTINGS_MODULE"] = settings
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return scratch
