"""Count the instructions a process runs in its measured part (callgrind).

CPU seconds on a shared machine move by a third from run to run with what
the neighbours do; instructions do not. `counted` runs a command under
valgrind's callgrind with counting off, waits until the process calls
`gate()` (after its warm-up), turns counting on and returns the instructions
from there to the end. valgrind is Debian's package `valgrind`.
"""

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

GATE = "CCM_BENCH_GATE"


def gate() -> None:
    """In the measured process: say it is warm, and wait until counting is on."""
    path = os.environ.get(GATE)
    if not path:
        return
    Path(path + ".ready").write_text(str(os.getpid()))
    while not Path(path + ".go").exists():
        time.sleep(0.05)


def counted(argv: list[str], cwd: Path, timeout: float = 3600) -> int:
    """Run `argv` in `cwd` under callgrind; return the instructions after gate()."""
    if not shutil.which("valgrind"):
        raise SystemExit(
            "counting instructions needs valgrind (apt-get install valgrind)"
        )
    with tempfile.TemporaryDirectory() as scratch:
        gate_path, out = f"{scratch}/gate", f"{scratch}/callgrind.out"
        process = subprocess.Popen(  # noqa: S603 (this bench's own command)
            [
                "valgrind",
                "--tool=callgrind",
                "--instr-atstart=no",
                f"--callgrind-out-file={out}",
                *argv,
            ],
            cwd=cwd,
            env={**os.environ, GATE: gate_path},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + timeout
        while not Path(gate_path + ".ready").exists():
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise SystemExit(
                    f"{argv} ended before its gate:\n{process.stderr.read()[-3000:]}"
                )
            time.sleep(0.2)
        pid = Path(gate_path + ".ready").read_text()
        subprocess.run(  # noqa: S603, S607 (valgrind's own control tool)
            ["callgrind_control", "--instr=on", pid], check=True, capture_output=True
        )
        Path(gate_path + ".go").touch()
        _out, errors = process.communicate(timeout=max(1, deadline - time.monotonic()))
        if process.returncode != 0:
            raise SystemExit(f"{argv} failed:\n{errors[-3000:]}")
        for line in Path(out).read_text().splitlines():
            if line.startswith("summary:"):
                return int(line.split()[1])
    raise SystemExit("callgrind wrote no summary")
