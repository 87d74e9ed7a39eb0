"""One instruction per (scope, key); see 0007."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("rendering", "0008_idempotency_scope_rows"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="renderinstruction",
            constraint=models.UniqueConstraint(fields=("idempotency_scope", "idempotency_key"), name="instr_idempotency_per_scope"),
        ),
    ]
