"""Benchmark the audit service: 4 writer processes on PostgreSQL, then verify.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
        .venv/bin/python bench/audit_write.py --total 20000

Runs in a scratch database (bench_audit). Prints events/s for one event per
transaction and for bulk transactions of 100 events, then verifies the chain.
"""

import argparse
import multiprocessing
import time

from scratch import scratch_database_setup


def _write(mode: str, writer: int, count: int, bulk_size: int, go) -> None:
    from audit.services import AuditEntry, event_record, events_record_bulk

    label = f"bench-writer-{writer}"
    go.wait()
    if mode == "single":
        for n in range(count):
            event_record(
                action="channels.dispatch.sent",
                actor_label=label,
                after={"dispatch": n, "status": "sent"},
            )
        return
    for start in range(0, count, bulk_size):
        events_record_bulk(
            entries=[
                AuditEntry(
                    action="channels.dispatch.queued",
                    actor_label=label,
                    after={"dispatch": n, "status": "queued"},
                )
                for n in range(start, min(start + bulk_size, count))
            ]
        )


def _run(mode: str, *, writers: int, total: int, bulk_size: int) -> float:
    from django.db import connections

    connections.close_all()
    context = multiprocessing.get_context("fork")
    go = context.Event()
    processes = [
        context.Process(target=_write, args=(mode, n, total // writers, bulk_size, go))
        for n in range(writers)
    ]
    for process in processes:
        process.start()
    started = time.perf_counter()
    go.set()
    for process in processes:
        process.join()
        if process.exitcode != 0:
            raise SystemExit(
                f"a {mode} writer failed with exit code {process.exitcode}"
            )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--total", type=int, default=20_000, help="events per mode")
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--bulk-size", type=int, default=100)
    parser.add_argument("--database", default="bench_audit")
    options = parser.parse_args()
    scratch_database_setup(options.database)
    total = options.total - options.total % options.writers

    print(f"{options.writers} writer processes, {total} events per mode, PostgreSQL")
    for mode, label in [
        ("single", "1 event per transaction"),
        ("bulk", f"{options.bulk_size} events per transaction"),
    ]:
        seconds = _run(
            mode, writers=options.writers, total=total, bulk_size=options.bulk_size
        )
        print(f"  {label:<28} {total / seconds:>9,.0f} events/s ({seconds:.1f} s)")

    from audit.verify import chain_verify

    started = time.perf_counter()
    result = chain_verify()
    seconds = time.perf_counter() - started
    status = "OK" if result.ok else f"BROKEN at {result.chain_break}"
    print(f"  verify: {status}, {result.count} events in {seconds:.2f} s")
    if not result.ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
