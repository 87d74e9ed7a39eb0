# The audit trail (AuditEntry) moves beside what it audits: the model joins this app's state on
# the table the monitoring app created (monitoring.0007 let go of it), then gains a real foreign
# key to its instruction (filled by 0005: on PostgreSQL, rows written in a transaction keep
# foreign-key checks pending, and the index this migration builds at its end would refuse).

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('monitoring', '0007_event_journal_and_audit_move_out'),
        ('rendering', '0003_monitoring_read_indexes'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='AuditEntry',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('actor_name', models.CharField(max_length=150)),
                        ('action', models.CharField(max_length=64)),
                        ('reason', models.TextField()),
                        ('target_type', models.CharField(max_length=64)),
                        ('target_ids', models.JSONField(default=list)),
                        ('before', models.JSONField(blank=True, default=dict)),
                        ('after', models.JSONField(blank=True, default=dict)),
                        ('via', models.CharField(default='api', max_length=16)),
                        ('created_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                        ('actor', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'verbose_name_plural': 'audit entries',
                        'db_table': 'monitoring_auditentry',
                        'ordering': ['-created_at', '-id'],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.AddField(
            model_name='auditentry',
            name='instruction',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='audit_entries', to='rendering.renderinstruction'),
        ),
        migrations.AddIndex(
            model_name='auditentry',
            index=models.Index(fields=['instruction', 'created_at'], name='audit_instruction_idx'),
        ),
    ]
