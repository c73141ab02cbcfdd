"""Analyse every template and block now and store the results for the pages."""

from django.core.management.base import BaseCommand, CommandError

from inventory.analysis import inventory_analyse


class Command(BaseCommand):
    help = "Compute the template inventory: usage, near-duplicates, block candidates."

    def add_arguments(self, parser):
        parser.add_argument(
            "--threshold",
            type=float,
            default=0.8,
            help="similarity from which two templates are near-duplicates (0.5-1)",
        )

    def handle(self, *args, threshold: float, **options):
        try:
            run = inventory_analyse(threshold=threshold)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Inventory run {run.pk}: {run.items} templates and blocks, "
            f"{run.documents} texts, {run.pairs} near-duplicate pairs "
            f"in {run.seconds:.1f} s"
        )
