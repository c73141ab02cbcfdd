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


def _over_https_claimed(**env: str) -> str:
    """Status of a request that claims HTTPS in X-Forwarded-Proto, in production."""
    code = (
        "import django; django.setup(); from django.test import Client;"
        "print(Client().get('/no-such-page/', HTTP_HOST='ccm.example.com',"
        " HTTP_X_FORWARDED_PROTO='https').status_code)"
    )
    clean = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={
            **clean,
            "DJANGO_SETTINGS_MODULE": "ccm.settings",
            "DEBUG": "false",
            "SECRET_KEY": "a-real-secret-" + "x7Qp2v9Lm4Rt8Zk1Wn6Yb3Hc5Jd0Fg" * 2,
            "AUDIT_MASTER_KEY": "mXYFMnd2lsCh6XTWmKV3M4VOToG8qWl1QjTMUmEFzpI=",
            "ALLOWED_HOSTS": "ccm.example.com",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_x_forwarded_proto_is_believed_only_from_a_trusted_proxy(tmp_path):
    # A client's own header is not HTTPS: it is sent to https:// (301).
    assert _over_https_claimed(CCM_VAR_DIR=str(tmp_path)) == "301"
    # Behind the load balancer that sets it, the request is HTTPS already.
    trusted = _over_https_claimed(CCM_VAR_DIR=str(tmp_path), TRUSTED_PROXY="true")
    assert trusted == "404"


def test_check_deploy_is_clean_behind_a_trusted_proxy(tmp_path):
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "DEBUG",
        DEBUG="false",
        SECRET_KEY="a-real-secret-" + "x7Qp2v9Lm4Rt8Zk1Wn6Yb3Hc5Jd0Fg" * 2,
        AUDIT_MASTER_KEY="mXYFMnd2lsCh6XTWmKV3M4VOToG8qWl1QjTMUmEFzpI=",
        ALLOWED_HOSTS="ccm.example.com",
        TRUSTED_PROXY="true",
        CCM_VAR_DIR=str(tmp_path),
    )

    assert result.returncode == 0, result.stderr + result.stdout
