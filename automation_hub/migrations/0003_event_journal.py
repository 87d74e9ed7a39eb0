# The event journal (MonitoringEvent) is the core's now: the model joins this app's state on
# the table the monitoring app created (monitoring.0007 let go of it). No data is copied.

import django.db.models.deletion
from django.db import migrations, models


def _content_type(apps, schema_editor, *, source, target):
    # Permissions and admin history follow the model to its new app.
    ContentType = apps.get_model("contenttypes", "ContentType")
    if not ContentType.objects.filter(app_label=target, model="monitoringevent").exists():
        ContentType.objects.filter(app_label=source, model="monitoringevent").update(
            app_label=target
        )


def forwards(apps, schema_editor):
    _content_type(apps, schema_editor, source="monitoring", target="automation_hub")


def backwards(apps, schema_editor):
    _content_type(apps, schema_editor, source="automation_hub", target="monitoring")


class Migration(migrations.Migration):

    dependencies = [
        ('automation_hub', '0002_live_event'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('hands', '0001_initial'),
        ('monitoring', '0007_event_journal_and_audit_move_out'),
        ('rendering', '0003_monitoring_read_indexes'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='MonitoringEvent',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('type', models.CharField(choices=[('anomaly', 'Anomaly'), ('alert', 'Alert'), ('remediation', 'Remediation'), ('operation', 'Operation'), ('system', 'System')], max_length=16)),
                        ('code', models.CharField(max_length=64)),
                        ('severity', models.CharField(choices=[('info', 'Info'), ('warning', 'Warning'), ('error', 'Error'), ('critical', 'Critical')], default='info', max_length=10)),
                        ('source', models.CharField(max_length=64)),
                        ('message', models.TextField()),
                        ('details', models.JSONField(blank=True, default=dict)),
                        ('correlation_id', models.UUIDField(blank=True, db_index=True, null=True)),
                        ('dedup_key', models.CharField(blank=True, max_length=200, null=True)),
                        ('resolved', models.BooleanField(default=False)),
                        ('resolved_by', models.CharField(blank=True, max_length=150)),
                        ('resolved_at', models.DateTimeField(blank=True, null=True)),
                        ('notes', models.TextField(blank=True)),
                        ('notified_at', models.DateTimeField(blank=True, null=True)),
                        ('notification', models.CharField(blank=True, max_length=32)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('hand', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='events', to='hands.hand')),
                        ('instruction', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='events', to='rendering.renderinstruction')),
                    ],
                    options={
                        'db_table': 'monitoring_monitoringevent',
                        'ordering': ['-created_at', '-id'],
                        'indexes': [models.Index(fields=['resolved', 'severity', 'created_at'], name='event_open_idx'), models.Index(condition=models.Q(('resolved', False)), fields=['created_at', 'id'], name='event_open_new_idx'), models.Index(fields=['code', 'created_at'], name='event_code_created_idx'), models.Index(fields=['created_at'], name='event_created_idx')],
                        'constraints': [models.UniqueConstraint(condition=models.Q(('resolved', False)), fields=('dedup_key',), name='event_one_open_per_dedup_key'), models.CheckConstraint(condition=models.Q(('severity__in', ['info', 'warning', 'error', 'critical'])), name='event_severity_valid'), models.CheckConstraint(condition=models.Q(('type__in', ['anomaly', 'alert', 'remediation', 'operation', 'system'])), name='event_type_valid')],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(forwards, backwards),
    ]
