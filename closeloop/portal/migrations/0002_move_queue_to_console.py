"""The staff console's saved queues move to the console app, rows and all.

Here: the table is renamed portal_queue -> console_queue (the console model's default
name) and the model leaves the portal's migration state. console 0001 then takes it over
in the state only (no table is created or dropped). Reversible: going back renames the
table to portal_queue and the model returns here."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("portal", "0001_initial"),
    ]

    operations = [
        migrations.AlterModelTable(name="queue", table="console_queue"),
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Queue")],
            database_operations=[],
        ),
    ]
