"""The moved tables take roster's names (dispatch_shift → roster_shift, dispatch_leave →
roster_leave; a rename keeps every row, id and index), and their content types follow
so permissions granted on them stay attached."""

from django.db import migrations


def move_content_types(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in ("shift", "leave"):
        if not ContentType.objects.filter(app_label="roster", model=model).exists():
            ContentType.objects.filter(app_label="dispatch", model=model).update(app_label="roster")


def restore_content_types(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in ("shift", "leave"):
        if not ContentType.objects.filter(app_label="dispatch", model=model).exists():
            ContentType.objects.filter(app_label="roster", model=model).update(app_label="dispatch")


class Migration(migrations.Migration):

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('dispatch', '0002_roster_moved'),
        ('roster', '0001_initial'),
    ]

    operations = [
        migrations.AlterModelTable(name='leave', table=None),
        migrations.AlterModelTable(name='shift', table=None),
        migrations.RunPython(move_content_types, restore_content_types),
    ]
