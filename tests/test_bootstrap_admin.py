"""`manage.py bootstrap_admin`, which `make run` calls before serving."""

import re
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    return tmp_path


def bootstrap(url="http://127.0.0.1:8000/"):
    out = StringIO()
    call_command("bootstrap_admin", url=url, stdout=out)
    return out.getvalue()


def printed_password(output):
    match = re.search(r"password: (\S+)", output)
    assert match, output
    return match.group(1)


def test_first_run_creates_admin_with_a_generated_password_and_prints_the_login(var_dir):
    output = bootstrap(url="http://127.0.0.1:8123/")
    admin = get_user_model().objects.get(username="admin")
    password = printed_password(output)
    assert admin.is_superuser and admin.is_staff
    assert admin.check_password(password)
    assert len(password) >= 12
    assert (var_dir / "admin_password").read_text().strip() == password
    assert (var_dir / "admin_password").stat().st_mode & 0o077 == 0  # readable by its owner only
    assert "http://127.0.0.1:8123/" in output and "username: admin" in output


def test_second_run_prints_the_same_login_and_leaves_the_account_alone(var_dir):
    first = printed_password(bootstrap())
    hash_before = get_user_model().objects.get(username="admin").password
    second = bootstrap()
    assert printed_password(second) == first
    assert "Created" not in second
    assert get_user_model().objects.get(username="admin").password == hash_before
    assert get_user_model().objects.count() == 1


def test_passwords_are_generated_not_fixed(var_dir, tmp_path_factory, settings):
    first = printed_password(bootstrap())
    get_user_model().objects.all().delete()
    settings.VAR_DIR = tmp_path_factory.mktemp("other")
    assert printed_password(bootstrap()) != first


def test_a_reset_database_gets_the_admin_back_with_the_saved_password(var_dir):
    password = printed_password(bootstrap())
    get_user_model().objects.all().delete()
    assert printed_password(bootstrap()) == password
    assert get_user_model().objects.get(username="admin").check_password(password)


def test_no_admin_is_created_when_a_superuser_exists_and_no_password_is_shown(var_dir):
    get_user_model().objects.create_superuser("carol", password="carols-own-password")
    output = bootstrap()
    assert not get_user_model().objects.filter(username="admin").exists()
    assert "password:" not in output
    assert "changepassword carol" in output


def test_a_changed_admin_password_is_not_printed(var_dir):
    bootstrap()
    admin = get_user_model().objects.get(username="admin")
    admin.set_password("changed-by-the-owner")
    admin.save()
    output = bootstrap()
    assert "password:" not in output
    assert "changepassword admin" in output
