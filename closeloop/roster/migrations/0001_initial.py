"""Shift and Leave move here from dispatch, rows and all: this migration only tells
Django's state that the models now belong to roster, still on dispatch's tables
(dispatch/0002 drops them from dispatch's state; roster/0002 renames the tables)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('dispatch', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Leave',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('starts_at', models.DateTimeField(verbose_name='starts')),
                        ('ends_at', models.DateTimeField(verbose_name='ends')),
                        ('reason', models.CharField(blank=True, max_length=100, verbose_name='reason')),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='leaves', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'ordering': ['starts_at'],
                        'indexes': [models.Index(fields=['starts_at', 'ends_at'], name='leave_window')],
                        'db_table': 'dispatch_leave',
                    },
                ),
                migrations.CreateModel(
                    name='Shift',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(choices=[('shift', 'On shift'), ('on_call', 'On call')], default='shift', max_length=10, verbose_name='kind')),
                        ('starts_at', models.DateTimeField(verbose_name='starts')),
                        ('ends_at', models.DateTimeField(verbose_name='ends')),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='shifts', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'ordering': ['starts_at'],
                        'indexes': [models.Index(fields=['starts_at', 'ends_at'], name='shift_window'), models.Index(fields=['user', 'starts_at'], name='shift_user_start')],
                        'db_table': 'dispatch_shift',
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
