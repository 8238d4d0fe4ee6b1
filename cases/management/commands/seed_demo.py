"""Create (or reset) the demo clinician and demo admin of the embedded default and print
their credentials. Refused unless the settings allow demo users (only ``settings.local``)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User

DEMO_USERS = (
    # username, password, first name, last name, is admin
    ("clinician", "demo-clinician-pass", "Dana", "Clinician", False),
    ("admin", "demo-admin-pass", "Alex", "Admin", True),
)


class Command(BaseCommand):
    help = "Create the demo clinician and admin (local default only) and print their credentials."

    def handle(self, *args, **options) -> None:
        if not settings.SKINPORTAL_ALLOW_DEMO_USERS:
            raise CommandError("Demo users are only created by the local default settings, never in production.")
        self.stdout.write("Demo accounts (local default only):")
        for username, password, first_name, last_name, is_admin in DEMO_USERS:
            user, _ = User.objects.get_or_create(username=username)
            user.first_name, user.last_name = first_name, last_name
            user.is_staff = user.is_superuser = is_admin
            user.is_active = True
            user.set_password(password)
            user.save()
            role = "admin" if is_admin else "clinician"
            self.stdout.write(f"  {role:<9}  username: {username:<10} password: {password}")
