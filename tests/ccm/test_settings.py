"""Settings come from the environment; production settings pass check --deploy."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {"DEBUG", "SECRET_KEY", "AUDIT_MASTER_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE"}
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
        AUDIT_MASTER_KEY="mXYFMnd2lsCh6XTWmKV3M4VOToG8qWl1QjTMUmEFzpI=",
        ALLOWED_HOSTS="ccm.example.com",
        CCM_VAR_DIR=str(tmp_path),
    )

    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = _manage("check", DEBUG="false", CCM_VAR_DIR=str(tmp_path))

    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_production_refuses_to_start_without_an_audit_master_key(tmp_path):
    result = _manage(
        "check",
        DEBUG="false",
        SECRET_KEY="a-real-secret-" + "x7Qp2v9Lm4Rt8Zk1Wn6Yb3Hc5Jd0Fg" * 2,
        CCM_VAR_DIR=str(tmp_path),
    )

    assert result.returncode != 0
    assert "AUDIT_MASTER_KEY must be set when DEBUG is off" in result.stderr


def test_a_malformed_boolean_is_named(tmp_path):
    result = _manage("check", DEBUG="maybe", CCM_VAR_DIR=str(tmp_path))

    assert result.returncode != 0
    assert "DEBUG must be true or false, not 'maybe'" in result.stderr
