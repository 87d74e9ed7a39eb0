from django.db import migrations, models


def drop_metrics_keys(apps, schema_editor):
    # The previous schema has no metrics role: its keys cannot survive the way back.
    apps.get_model("automation_hub", "ApiKey").objects.filter(role="metrics").delete()


class Migration(migrations.Migration):

    dependencies = [
        ("automation_hub", "0004_hub_process"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="apikey",
            name="apikey_role_valid",
        ),
        migrations.RunPython(migrations.RunPython.noop, drop_metrics_keys),
        migrations.AlterField(
            model_name="apikey",
            name="role",
            field=models.CharField(choices=[("feature_table", "Feature table (RFID hands)"), ("sub", "Sub (render instructions)"), ("ae", "AE render worker"), ("metrics", "Metrics scraper (/metrics)")], max_length=20),
        ),
        migrations.AddConstraint(
            model_name="apikey",
            constraint=models.CheckConstraint(condition=models.Q(("role__in", ["feature_table", "sub", "ae", "metrics"])), name="apikey_role_valid"),
        ),
    ]
