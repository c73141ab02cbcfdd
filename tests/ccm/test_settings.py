"""Settings come from the environment; production settings pass check --deploy."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_values(tmp_path):
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "DEBUG",
        DEBUG="false",
        SECRET_KEY="a-real-secret-" + "x7Qp2v9Lm4Rt8Zk1Wn6Yb3Hc5Jd0Fg" * 2,
        ALLOWED_HOSTS="ccm.example.com",
        CCM_VAR_DIR=str(tmp_path),
    )

    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = _manage("check", DEBUG="false", CCM_VAR_DIR=str(tmp_path))

    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_a_malformed_boolean_is_named(tmp_path):
    result = _manage("check", DEBUG="maybe", CCM_VAR_DIR=str(tmp_path))

    assert result.returncode != 0
    assert "DEBUG must be true or false, not 'maybe'" in result.stderr


def _database_options(tmp_path, threshold: str) -> subprocess.CompletedProcess:
    """Run `manage.py shell` printing the prepare threshold on its last line."""
    return _manage(
        "shell",
        "-c",
        "from django.conf import settings; "
        "print(settings.DATABASES['default']['OPTIONS'].get('prepare_threshold'))",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/test",
        DATABASE_PREPARE_THRESHOLD=threshold,
        CCM_VAR_DIR=str(tmp_path),
    )


def test_prepared_statements_can_be_turned_off_for_a_pooler(tmp_path):
    assert _database_options(tmp_path, "7").stdout.split()[-1] == "7"
    assert _database_options(tmp_path, "").stdout.split()[-1] == "None"
    wrong = _database_options(tmp_path, "often")
    assert wrong.returncode != 0
    assert "DATABASE_PREPARE_THRESHOLD must be a whole number, not 'often'" in (
        wrong.stderr
    )


def test_a_statement_a_connection_repeats_is_prepared_on_postgresql(db):
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    for _ in range(6):
        list(User.objects.filter(username="nobody"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]

    assert any('"auth_user"."username" = $1' in sql for sql in prepared), prepared
