"""Create the first admin account (username `admin`) and print how to log in. Safe to run every time.

The password is generated once and kept in var/admin_password (git-ignored, mode 0600), so a second
run prints the same login without touching the account. If the database is reset, the account is
created again with the password from that file.
"""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from designer.config import read_or_create_secret

USERNAME = "admin"


class Command(BaseCommand):
    help = "Create the `admin` account with a generated password if there is no admin yet; print the login."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000/", help="Where Stepwise is served.")

    def handle(self, *args, url, **options):
        User = get_user_model()
        password_file = settings.VAR_DIR / "admin_password"
        shown_file = _relative(password_file)

        with transaction.atomic():
            nobody = not User.objects.filter(is_superuser=True).exists()
            if nobody and not User.objects.filter(username=USERNAME).exists():
                password = read_or_create_secret(password_file, make=lambda: secrets.token_urlsafe(12))
                User.objects.create_superuser(USERNAME, email="", password=password)
                self.stdout.write(self.style.SUCCESS(f"Created the admin account ({USERNAME})."))

        admins = User.objects.filter(is_superuser=True)
        user = admins.filter(username=USERNAME).first() or admins.order_by("pk").first()
        password = password_file.read_text().strip() if password_file.exists() else None
        if user and user.username == USERNAME and password and user.check_password(password):
            lines = [
                f"Stepwise: {url}",
                f"  username: {USERNAME}",
                f"  password: {password}",
                f"  (saved in {shown_file})",
            ]
        else:
            lines = [
                f"Stepwise: {url}",
                "  Log in with your admin account; to reset its password, run",
                f"  .venv/bin/python manage.py changepassword {user.username if user else '<username>'}",
            ]
        width = max(len(line) for line in lines) + 2
        self.stdout.write("+" + "-" * width + "+")
        for line in lines:
            self.stdout.write("| " + line.ljust(width - 1) + "|")
        self.stdout.write("+" + "-" * width + "+")


def _relative(path):
    try:
        return path.relative_to(settings.BASE_DIR)
    except ValueError:
        return path
