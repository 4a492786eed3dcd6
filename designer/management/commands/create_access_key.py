"""`manage.py create_access_key USERNAME`: a new AWS-style access key for the API, printed once."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from designer.models import AccessKey


class Command(BaseCommand):
    help = "Create an access key (for boto3 / the AWS CLI) for USERNAME and print its id and secret once."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--description", default="", help="What the key is for.")

    def handle(self, *args, username, description, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        key, secret = AccessKey.issue(user, description)
        self.stdout.write(f"AWS_ACCESS_KEY_ID={key.access_key_id}\nAWS_SECRET_ACCESS_KEY={secret}\n")
        self.stderr.write("The secret is shown only this once; revoke the key in the admin or on the "
                          "API keys page if it leaks.")
