# Fill each audit entry's instruction from its `target_ids`: a bulk entry becomes one entry per
# instruction (each with its own `before` and the original time), so an instruction's history is
# one indexed query. Backwards: nothing to undo (the links stay, the column goes with 0004).
# Its content type (permissions, admin history) moves to this app.

from django.db import migrations

INSTRUCTION_TYPES = ("instruction", "render_instruction", "rendering.renderinstruction")


def link_instructions(apps, schema_editor):
    AuditEntry = apps.get_model("rendering", "AuditEntry")
    RenderInstruction = apps.get_model("rendering", "RenderInstruction")
    rows = AuditEntry.objects.filter(target_type__in=INSTRUCTION_TYPES, instruction__isnull=True)
    for entry in rows.iterator():
        ids = [int(i) for i in entry.target_ids or [] if str(i).isdigit()]
        existing = set(RenderInstruction.objects.filter(pk__in=ids).values_list("pk", flat=True))
        ids = [i for i in ids if i in existing]
        if not ids:
            continue
        first, rest = ids[0], ids[1:]
        for pk in rest:  # the same entry once per row, each with its own link
            copy = AuditEntry.objects.create(
                instruction_id=pk, actor_id=entry.actor_id, actor_name=entry.actor_name,
                action=entry.action, reason=entry.reason, target_type=entry.target_type,
                target_ids=[pk], before=(entry.before or {}).get(str(pk), entry.before),
                after=entry.after, via=entry.via,
            )
            # auto_now_add stamped the copy now: it happened when the original did.
            AuditEntry.objects.filter(pk=copy.pk).update(created_at=entry.created_at)
        AuditEntry.objects.filter(pk=entry.pk).update(
            instruction_id=first,
            target_ids=[first],
            before=(entry.before or {}).get(str(first), entry.before) if rest else entry.before,
        )


def _content_type(apps, *, source, target):
    ContentType = apps.get_model("contenttypes", "ContentType")
    if not ContentType.objects.filter(app_label=target, model="auditentry").exists():
        ContentType.objects.filter(app_label=source, model="auditentry").update(app_label=target)


def content_type_forwards(apps, schema_editor):
    _content_type(apps, source="monitoring", target="rendering")


def content_type_backwards(apps, schema_editor):
    _content_type(apps, source="rendering", target="monitoring")


class Migration(migrations.Migration):

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("rendering", "0004_audit_entry"),
    ]

    operations = [
        migrations.RunPython(link_instructions, migrations.RunPython.noop),
        # Permissions and admin history follow the model to its new app.
        migrations.RunPython(content_type_forwards, content_type_backwards),
    ]
