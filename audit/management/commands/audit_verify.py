"""Verify the audit chain; exit non-zero at the first break."""

from django.core.management.base import BaseCommand, CommandError

from audit.services import event_record
from audit.verify import chain_verify


class Command(BaseCommand):
    help = (
        "Walk the audit chain and report the first broken sequence number and "
        "the kind of break (changed, missing, inserted, reordered)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--chunk-size",
            type=int,
            default=50_000,
            help="Events fetched per round trip, and per range with --workers "
            "(default 50000).",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=1,
            help="Processes that check ranges of the chain side by side on "
            "PostgreSQL (default 1: one walk).",
        )
        parser.add_argument(
            "--record",
            action="store_true",
            help="Record the outcome as an audit.verified event.",
        )
        parser.add_argument("--database", default="default")

    def handle(self, *args, chunk_size, workers, record, database, **options):
        result = chain_verify(chunk_size=chunk_size, workers=workers, using=database)
        if record:
            after = {
                "ok": result.ok,
                "count": result.count,
                "last_hash": result.last_hash,
            }
            if result.chain_break is not None:
                after["sequence"] = result.chain_break.sequence
                after["kind"] = result.chain_break.kind
            event_record(
                action="audit.verified", actor_label="audit_verify", after=after
            )
        if result.chain_break is not None:
            raise CommandError(f"audit chain BROKEN at {result.chain_break}")
        self.stdout.write(f"OK: {result.count} events, last hash {result.last_hash}")
