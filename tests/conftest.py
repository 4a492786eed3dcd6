import pytest

from tests.live import DaphneServer, migrated_database


@pytest.fixture(scope="session")
def migrated_db_file(tmp_path_factory):
    """A migrated SQLite file, made once per run; copy it rather than migrating again."""
    workdir = tmp_path_factory.mktemp("migrated")
    migrated_database(workdir)
    return workdir / "db.sqlite3"


@pytest.fixture(scope="session")
def daphne_server(tmp_path_factory, migrated_db_file):
    """Stepwise under a real daphne (DEBUG off) on a free port, with its own migrated SQLite file."""
    server = DaphneServer(tmp_path_factory.mktemp("daphne"), template_db=migrated_db_file).start()
    yield server
    server.stop()
