"""The Queue model, moved from the portal app with its rows: portal 0002 renamed the table
to console_queue, so here the model only enters the migration state. The content type
follows (permissions and generic relations keep pointing at the same rows)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def move_content_type(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    if not ContentType.objects.filter(app_label="console", model="queue").exists():
        ContentType.objects.filter(app_label="portal", model="queue").update(app_label="console")


def move_content_type_back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    if not ContentType.objects.filter(app_label="portal", model="queue").exists():
        ContentType.objects.filter(app_label="console", model="queue").update(app_label="portal")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("accounts", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("portal", "0002_move_queue_to_console"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Queue",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                                   verbose_name="ID")),
                        ("name", models.CharField(max_length=100, verbose_name="name")),
                        ("filters", models.JSONField(blank=True, default=dict)),
                        ("order", models.PositiveSmallIntegerField(default=0)),
                        ("created_at", models.DateTimeField()),
                        ("owner", models.ForeignKey(blank=True, null=True,
                                                    on_delete=django.db.models.deletion.CASCADE,
                                                    related_name="queues", to=settings.AUTH_USER_MODEL)),
                        ("team", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE,
                                                   related_name="queues", to="accounts.team", verbose_name="team")),
                    ],
                    options={"ordering": ["order", "name", "id"]},
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_type, move_content_type_back),
    ]
