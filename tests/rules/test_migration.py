"""Rules written before review keep every version they had, the last in force."""

from datetime import time

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("rules", "0002_roles")]
AFTER = [("rules", "0003_rule_versions")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_the_migration_keeps_each_version_of_a_rule_and_the_last_in_force():
    old = _migrate(BEFORE)
    rule_model = old.get_model("rules", "Rule")
    history = old.get_model("rules", "HistoricalRule")
    rule = rule_model.objects.create(
        name="SMS quiet hours",
        kind="quiet_hours",
        channel="sms",
        quiet_start=time(21),
        quiet_end=time(8),
        version=2,
    )
    for version, start, reason in ((1, time(21), "created"), (2, time(22), "later")):
        history.objects.create(
            id=rule.pk,
            name=rule.name,
            kind="quiet_hours",
            channel="sms",
            quiet_start=start,
            quiet_end=time(8),
            version=version,
            created=rule.created,
            updated=rule.updated,
            history_date=rule.updated,
            history_type="+" if version == 1 else "~",
            history_change_reason=reason,
        )
    rule.quiet_start = time(22)
    rule.save()

    new = _migrate(AFTER)
    versions = new.get_model("rules", "RuleVersion").objects.order_by("number")

    assert [
        (v.number, v.change, v.status, v.quiet_start, v.reason) for v in versions
    ] == [
        (1, "create", "superseded", time(21), "created"),
        (2, "change", "approved", time(22), "later"),
    ]
    assert all(v.decided_by_id is None for v in versions)
    assert "before rule changes needed" in versions[1].comment
