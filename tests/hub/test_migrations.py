from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

HUB_APPS = ("automation_hub", "hands", "rendering", "monitoring")


@pytest.mark.django_db(transaction=True)
def test_it_unapplies_and_reapplies_every_hub_migration():
    """Each migration has a working reverse, on this run's database (SQLite or PostgreSQL)."""
    call_command("migrate", "hands", "zero", verbosity=0)  # takes rendering/monitoring with it
    for app in HUB_APPS:
        call_command("migrate", app, "zero", verbosity=0)
    tables = set(connection.introspection.table_names())
    assert not {t for t in tables if t.split("_")[0] in {"hands", "rendering", "monitoring"}}

    call_command("migrate", verbosity=0)

    executor = MigrationExecutor(connection)
    assert executor.migration_plan(executor.loader.graph.leaf_nodes()) == []
    assert "rendering_renderinstruction" in connection.introspection.table_names()
