"""Idempotency keys unique per caller (scope) instead of globally.

Forwards, existing rows get the scope their creator has now: `hub` for the hub's own
instructions, `key:<role>:<name>` for an API key's, `user:<name>` for a person's; so resends of
requests made before the upgrade still find their instruction. Backwards, the global unique
index comes back: where two scopes used one key, the oldest row keeps it and the others lose
theirs (they stay, without a key).
"""

from django.db import migrations, models

KEY_PREFIX = "api-key:"


def scope_existing_keys(apps, schema_editor):
    Instruction = apps.get_model("rendering", "RenderInstruction")
    ApiKey = apps.get_model("automation_hub", "ApiKey")
    roles = dict(ApiKey.objects.values_list("name", "role"))
    creators = (
        Instruction.objects.filter(idempotency_key__isnull=False)
        .values_list("created_by", flat=True)
        .distinct()
    )
    for creator in list(creators):
        if creator in ("", "hub"):
            scope = "hub"
        elif creator.startswith(KEY_PREFIX) and creator[len(KEY_PREFIX) :] in roles:
            name = creator[len(KEY_PREFIX) :]
            scope = f"key:{roles[name]}:{name}"
        else:
            scope = f"user:{creator}"
        Instruction.objects.filter(idempotency_key__isnull=False, created_by=creator).update(
            idempotency_scope=scope
        )


def unscope_keys(apps, schema_editor):
    Instruction = apps.get_model("rendering", "RenderInstruction")
    kept: set[str] = set()
    rows = Instruction.objects.filter(idempotency_key__isnull=False).order_by("created_at", "id")
    for pk, key in rows.values_list("pk", "idempotency_key").iterator():
        if key in kept:
            Instruction.objects.filter(pk=pk).update(idempotency_key=None)
        kept.add(key)
    Instruction.objects.update(idempotency_scope="")


class Migration(migrations.Migration):

    dependencies = [
        ("automation_hub", "0004_metrics_key_role"),
        ("hands", "0001_initial"),
        ("rendering", "0005_audit_entry_instruction_links"),
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
        migrations.RunPython(scope_existing_keys, unscope_keys),
        migrations.AddConstraint(
            model_name="renderinstruction",
            constraint=models.UniqueConstraint(fields=("idempotency_scope", "idempotency_key"), name="instr_idempotency_per_scope"),
        ),
    ]
