from django.db import migrations, models


def fill(apps, schema_editor):
    import unicodedata

    User = apps.get_model("accounts", "User")
    seen = set()
    for pk, username in User.objects.order_by("pk").values_list("pk", "username"):
        k = unicodedata.normalize("NFKC", username).casefold()
        if k in seen:
            continue  # a look-alike from before the rule keeps working, without a key
        seen.add(k)
        User.objects.filter(pk=pk).update(username_key=k)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="user",
            name="username_key",
            field=models.CharField(editable=False, max_length=150, null=True, unique=True),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
