import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    # The latest migration on the studio branch; the lead chains it after the other branches' ones.
    dependencies = [
        ("designer", "0008_approvals"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Draft",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("definition", models.TextField()),
                ("updated", models.DateTimeField(auto_now=True)),
                ("machine", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="drafts",
                                              to="designer.statemachine")),
                ("user", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="drafts",
                                           to=settings.AUTH_USER_MODEL)),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("machine", "user"),
                                                        name="one_draft_per_machine_and_user")],
            },
        ),
    ]
