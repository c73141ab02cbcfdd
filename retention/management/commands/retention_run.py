"""Erase what has expired now, as the daily job does, and print the counts."""

from django.core.management.base import BaseCommand, CommandError

from retention.erasure import CHUNK_SIZE
from retention.runs import PART_COUNTERS, RunInProgress, retention_run


class Command(BaseCommand):
    help = "Erase the personal content whose retention period has ended."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--chunk-size", type=int, default=CHUNK_SIZE)

    def handle(self, *args, chunk_size: int, **options) -> None:
        try:
            run = retention_run(chunk_size=chunk_size)
        except RunInProgress as exc:
            raise CommandError(str(exc)) from None
        parts = ", ".join(
            f"{name} {getattr(run, name)}" for name in PART_COUNTERS.values()
        )
        self.stdout.write(
            f"retention run #{run.pk}: {run.examined} examined, "
            f"{run.dispatches} dispatches erased ({parts}), "
            f"{run.held} kept under hold, {run.busy} left for the next run"
        )
