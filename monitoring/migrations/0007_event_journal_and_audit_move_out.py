# The event journal (MonitoringEvent) moves to the core app and the audit trail (AuditEntry) to
# the rendering app: the models leave this app's state here; their tables stay as they are
# (automation_hub.0003 and rendering.0004 take them over). No data is copied.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("monitoring", "0006_open_alerts_index"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="AuditEntry"),
                migrations.DeleteModel(name="MonitoringEvent"),
            ],
            database_operations=[],
        ),
    ]
