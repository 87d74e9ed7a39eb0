"""Existing idempotency keys get their creator's scope (and lose it again on the way back);
see 0007."""

from django.db import migrations

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
    # A premium hand's instruction is the hub's own, whoever posted the hand.
    Instruction.objects.filter(idempotency_key__startswith="premium-hand:").update(
        idempotency_scope="hub"
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
        ("rendering", "0007_idempotency_per_scope"),
    ]

    operations = [
        migrations.RunPython(scope_existing_keys, unscope_keys),
    ]
