"""Idempotency keys unique per caller (scope) instead of globally.

Forwards, existing rows get the scope their creator has now: `hub` for the hub's own
instructions (premium hands), `key:<role>:<name>` for an API key's, `user:<name>` for a person's; so resends of
requests made before the upgrade still find their instruction. Backwards, the global unique
index comes back: where two scopes used one key, the oldest row keeps it and the others lose
theirs (they stay, without a key).

Three migrations (schema, rows, constraint), each in its own transaction: PostgreSQL refuses to
ALTER a table in the transaction that just updated its rows (pending deferred FK checks).
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("automation_hub", "0005_metrics_key_role"),
        ("hands", "0001_initial"),
        ("rendering", "0006_queue_recovery"),
    ]

    operations = [
        migrations.AddField(
            model_name="renderinstruction",
            name="idempotency_scope",
            field=models.CharField(blank=True, default="", max_length=200),
        ),
        migrations.AlterField(
            model_name="renderinstruction",
            name="idempotency_key",
            field=models.CharField(blank=True, max_length=128, null=True),
        ),
    ]
