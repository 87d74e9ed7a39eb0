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


PREVIOUS_RELEASE = [
    ("automation_hub", "0002_live_event"),
    ("hands", "0001_initial"),
    ("rendering", "0003_monitoring_read_indexes"),
    ("monitoring", "0006_open_alerts_index"),
]


def _migrate(targets: list[tuple[str, str]]):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return MigrationExecutor(connection).loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_it_moves_the_event_journal_and_audit_trail_keeping_every_row_and_back():
    """From the previous release's schema: events stay readable in the core, audit entries get
    their instruction (a bulk entry one per row, with its own `before` and its time), and the
    migration back leaves the old tables as they were."""
    from django.contrib.contenttypes.models import ContentType

    from automation_hub.models import MonitoringEvent
    from rendering.models import AuditEntry

    old = _migrate(PREVIOUS_RELEASE)
    instruction = old.get_model("rendering", "RenderInstruction")
    a = instruction.objects.create(template_name="a", status="pending")
    b = instruction.objects.create(template_name="b", status="pending")
    old.get_model("monitoring", "MonitoringEvent").objects.create(
        type="alert", code="orphan_hand", severity="warning", source="monitor", message="m",
        instruction_id=a.pk,
    )  # fmt: skip
    audit = old.get_model("monitoring", "AuditEntry")
    target = "rendering.renderinstruction"
    audit.objects.create(
        actor_name="td", action="retry", reason="one", target_type=target, target_ids=[a.pk]
    )
    bulk = audit.objects.create(
        actor_name="td", action="bulk_retry", reason="many", target_type=target,
        target_ids=[a.pk, b.pk],
        before={str(a.pk): {"status": "failed"}, str(b.pk): {"status": "stale"}},
        after={"status": "pending"},
    )  # fmt: skip
    bulk_at = audit.objects.get(pk=bulk.pk).created_at

    leaves = MigrationExecutor(connection).loader.graph.leaf_nodes()
    _migrate(leaves)

    assert MonitoringEvent.objects.get(code="orphan_hand").instruction_id == a.pk
    assert ContentType.objects.get_for_model(MonitoringEvent).app_label == "automation_hub"
    history = {
        pk: sorted((e.action, e.reason) for e in AuditEntry.objects.filter(instruction_id=pk))
        for pk in (a.pk, b.pk)
    }
    assert history == {
        a.pk: [("bulk_retry", "many"), ("retry", "one")],
        b.pk: [("bulk_retry", "many")],
    }
    b_entry = AuditEntry.objects.get(instruction_id=b.pk)
    assert (b_entry.before, b_entry.created_at) == ({"status": "stale"}, bulk_at)

    back = _migrate(PREVIOUS_RELEASE)
    assert back.get_model("monitoring", "MonitoringEvent").objects.count() == 1
    assert back.get_model("monitoring", "AuditEntry").objects.count() == 3
    _migrate(leaves)


@pytest.mark.django_db(transaction=True)
def test_it_scopes_existing_idempotency_keys_by_their_creator_and_back():
    """Forwards, each key gets its creator's scope (a resend after the upgrade finds its
    instruction); backwards, a key two scopes shared stays with the oldest row only."""
    before = [("automation_hub", "0003_event_journal"), ("rendering", "0006_queue_recovery")]
    old = _migrate(before)
    old.get_model("automation_hub", "ApiKey").objects.create(
        name="desk-1", role="sub", prefix="p1", key_hash="h"
    )
    instruction = old.get_model("rendering", "RenderInstruction")
    by_key = instruction.objects.create(
        template_name="a", idempotency_key="row-3", created_by="api-key:desk-1"
    )
    premium = instruction.objects.create(
        template_name="b", idempotency_key="premium-hand:1", created_by="api-key:table-1"
    )
    by_person = instruction.objects.create(
        template_name="c", idempotency_key="k", created_by="td"
    )

    leaves = MigrationExecutor(connection).loader.graph.leaf_nodes()
    new = _migrate(leaves)
    rows = new.get_model("rendering", "RenderInstruction").objects
    scopes = dict(rows.values_list("pk", "idempotency_scope"))
    assert scopes == {by_key.pk: "key:sub:desk-1", premium.pk: "hub", by_person.pk: "user:td"}
    later = rows.create(template_name="d", idempotency_key="row-3", idempotency_scope="user:td")

    back = _migrate(before)
    rows = back.get_model("rendering", "RenderInstruction").objects
    keys = dict(rows.values_list("pk", "idempotency_key"))
    assert keys == {
        by_key.pk: "row-3",
        premium.pk: "premium-hand:1",
        by_person.pk: "k",
        later.pk: None,
    }
    _migrate(leaves)
