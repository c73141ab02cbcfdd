"""Recount the dashboard's rollups from the status history."""

from django.core.management.base import BaseCommand

from channels_app.rollups import rollups_rebuild


class Command(BaseCommand):
    help = (
        "Recount the hourly and daily dispatch rollups from the status history "
        "(for dispatches written before the rollups existed)."
    )

    def handle(self, *args, **options):
        counted = rollups_rebuild()
        self.stdout.write(f"Rollups rebuilt from {counted} history entries.")
