"""scripts/scan-logs fails on a log line naming a demo customer, in any notation."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from channels_app.demo import demo_contact

ROOT = Path(__file__).resolve().parents[2]


def _scan(tmp_path: Path, *lines: str) -> subprocess.CompletedProcess:
    log = tmp_path / "run.log"
    log.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return subprocess.run(
        [sys.executable, "scripts/scan-logs", str(log)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "line",
    [
        json.dumps({"message": f"sent to {demo_contact(3)['email']}"}),
        '10.0.0.1 "GET /agent/?q=customer3%40demo.example.com HTTP/1.1" 200',
        f"GET /x?phone=%2B{demo_contact(5)['phone'][1:]}",
        f"typed 0{demo_contact(5)['phone'][4:6]} {demo_contact(5)['phone'][6:]}",
        json.dumps({"message": "Not Found: /x/فاطمة الحربي"}),  # written as \\u...
        "Not Found: /agent/Grace+Reed",
    ],
)
def test_a_line_naming_a_demo_customer_fails_the_scan(tmp_path, line):
    result = _scan(tmp_path, '{"message": "a clean line"}', line)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "run.log:2: a demo customer's" in result.stdout
    # The finding is named, not repeated whole.
    assert "demo.example.com" not in result.stdout


def test_clean_lines_pass(tmp_path):
    result = _scan(
        tmp_path,
        '10.0.0.1 "POST /agent/" 302 "GET /agent/?s=Zk3x" 200',
        json.dumps({"message": "dispatch 12 attempt 1: sent to [email]"}),
    )

    assert result.returncode == 0, result.stdout
