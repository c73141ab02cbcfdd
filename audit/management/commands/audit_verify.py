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
            default=10_000,
            help="Events fetched per round trip (default 10000).",
        )
        parser.add_argument(
            "--record",
            action="store_true",
            help="Record the outcome as an audit.verified event.",
        )
        parser.add_argument("--database", default="default")

    def handle(self, *args, chunk_size, record, database, **options):
        result = chain_verify(chunk_size=chunk_size, using=database)
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
