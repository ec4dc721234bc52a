"""Shift and Leave now belong to the roster app (roster/0001): drop them from
dispatch's state only; the tables and their rows stay (roster/0002 renames them)."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('dispatch', '0001_initial'),
        ('roster', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name='Leave'),
                migrations.DeleteModel(name='Shift'),
            ],
            database_operations=[],
        ),
    ]
