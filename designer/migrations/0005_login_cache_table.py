"""The table of the `login` cache (failed login counts), so that `migrate` is all a deployment runs.

Made whether or not REDIS_URL is set now (it may be unset later); `createcachetable` skips a table
that exists. The name is settings.CACHES["login"]["LOCATION"] without Redis.
"""

from django.core.management import call_command
from django.db import migrations


def create_cache_tables(apps, schema_editor):
    call_command("createcachetable", "stepwise_cache", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("designer", "0004_map_runs")]

    operations = [migrations.RunPython(create_cache_tables, migrations.RunPython.noop)]
