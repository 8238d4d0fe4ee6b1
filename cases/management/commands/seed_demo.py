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
    "Demo record. Images: ISIC Archive (HAM10000, ViDIR Group, Medical University of Vienna), CC BY-NC 4.0, "
    "for non-commercial research and testing only. The visits of each lesion are real images of one lesion "
    "(the HAM10000 lesion id is in the lesion's label); their dates are made up."
)
# identifier, given, family, born, sex, [lesions]; a lesion: (label, site, body-map view, x, y, monitoring
# plan, [(visit date, ISIC id)]). The images of a lesion share a HAM10000 lesion_id
# (groundtruth/HAM10000_metadata.csv), so the compare view shows a real sequential pair.
DEMO_CASES = (
    (
        "DEMO-0001",
        "Maria",
        "Keller",
        datetime.date(1968, 4, 12),
        "female",
        [
            (
                "pigmented lesion left abdomen (HAM_0000492)",
                "anterior torso",
                "front",
                0.56,
                0.4,
                "short_term",
                [(datetime.date(2025, 3, 4), "ISIC_0028445"), (datetime.date(2025, 6, 10), "ISIC_0027076")],
            ),
            (
                "melanocytic lesion right abdomen (HAM_0006453)",
                "anterior torso",
                "front",
                0.44,
                0.43,
                "long_term_6",
                [(datetime.date(2025, 2, 11), "ISIC_0029081"), (datetime.date(2025, 8, 19), "ISIC_0025744")],
            ),
        ],
    ),
    (
        "DEMO-0002",
        "Jonas",
        "Berg",
        datetime.date(1981, 11, 2),
        "male",
        [
            (
                "changing mole upper back (HAM_0003182)",
                "posterior torso",
                "back",
                0.42,
                0.27,
                "short_term",
                [(datetime.date(2025, 6, 2), "ISIC_0029028"), (datetime.date(2025, 9, 1), "ISIC_0027125")],
            ),
        ],
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
        for identifier, given, family, born, sex, lesions in DEMO_CASES:
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
            for label, site, view, x, y, plan, visits in lesions:
                lesion = services.lesion_create(
                    patient=patient,
                    actor=clinician,
                    label=label,
                    anatomic_site=site,
                    opened_on=visits[0][0],
                    body_map_view=view,
                    body_map_x=x,
                    body_map_y=y,
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
                # The plan counts from the last visit, so the demo shows a follow-up due or overdue.
                services.lesion_update(lesion=lesion, actor=clinician, monitoring_plan=plan)
            self.stdout.write(f"Demo patient {identifier} created with images from {images}.")
