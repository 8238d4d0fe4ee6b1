"""Create (or reset) the demo clinician and demo admin of the embedded default, print their
credentials and, when real ISIC images are at hand, give the clinician two demo patients.

Refused unless the settings allow demo users (only ``settings.local``)."""

from __future__ import annotations

import datetime
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from cases import services
from cases.models import Patient

DEMO_USERS = (
    # username, password, first name, last name, is admin
    ("clinician", "demo-clinician-pass", "Dana", "Clinician", False),
    ("admin", "demo-admin-pass", "Alex", "Admin", True),
)
DEFAULT_IMAGES = settings.BASE_DIR.parent / "shared" / "data" / "isic" / "images"
ATTRIBUTION = (
    "Demo record. Images: ISIC Archive (MSK / ISIC 2019 training data), CC BY-NC 4.0, "
    "for non-commercial research and testing only; the visits show different lesions."
)
DEMO_CASES = (
    # identifier, given, family, born, sex, lesion label, site, [(visit date, ISIC id)]
    (
        "DEMO-0001",
        "Maria",
        "Keller",
        datetime.date(1968, 4, 12),
        "female",
        "pigmented lesion left scapula",
        "posterior torso",
        [(datetime.date(2025, 3, 4), "ISIC_0000000"), (datetime.date(2025, 9, 16), "ISIC_0000001")],
    ),
    (
        "DEMO-0002",
        "Jonas",
        "Berg",
        datetime.date(1981, 11, 2),
        "male",
        "changing mole right calf",
        "lower extremity",
        [(datetime.date(2025, 6, 2), "ISIC_0000003"), (datetime.date(2026, 1, 20), "ISIC_0000002")],
    ),
)


class Command(BaseCommand):
    help = "Create the demo clinician and admin (local default only), print their credentials, add demo cases."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--images",
            type=Path,
            default=DEFAULT_IMAGES,
            help="Folder of ISIC_*.jpg images for the demo cases (skipped when missing).",
        )

    def handle(self, *args, images: Path, **options) -> None:
        if not settings.SKINPORTAL_ALLOW_DEMO_USERS:
            raise CommandError(
                "Demo users are only created by the local default settings on SQLite, never in production."
            )
        self.stdout.write("Demo accounts (local default only):")
        users = {}
        for username, password, first_name, last_name, is_admin in DEMO_USERS:
            user, _ = User.objects.get_or_create(username=username)
            user.first_name, user.last_name = first_name, last_name
            user.is_staff = user.is_superuser = is_admin
            user.is_active = True
            user.set_password(password)
            user.save()
            users[username] = user
            role = "admin" if is_admin else "clinician"
            self.stdout.write(f"  {role:<9}  username: {username:<10} password: {password}")
        self._create_demo_cases(clinician=users["clinician"], images=images)

    def _create_demo_cases(self, *, clinician: User, images: Path) -> None:
        if not images.is_dir():
            self.stdout.write(f"No demo images at {images}; no demo cases created.")
            return
        for identifier, given, family, born, sex, label, site, visits in DEMO_CASES:
            if Patient.objects.filter(identifier=identifier).exists():
                continue
            patient = services.patient_create(
                owner=clinician,
                identifier=identifier,
                given_name=given,
                family_name=family,
                date_of_birth=born,
                sex=sex,
                notes=ATTRIBUTION,
            )
            lesion = services.lesion_create(
                patient=patient, actor=clinician, label=label, anatomic_site=site, opened_on=visits[0][0]
            )
            for visit_date, isic_id in visits:
                path = images / f"{isic_id}.jpg"
                if path.exists():
                    services.image_upload(
                        lesion=lesion,
                        uploaded_by=clinician,
                        files=[SimpleUploadedFile(path.name, path.read_bytes())],
                        captured_on=visit_date,
                    )
            self.stdout.write(f"Demo patient {identifier} created with images from {images}.")
