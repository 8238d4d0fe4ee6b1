"""Every named check of core.permissions for every kind of user, as one table; the pages offer
exactly the actions those checks allow, and the form pages refuse the others before any form."""

from __future__ import annotations

import inspect
from types import SimpleNamespace

import pytest
from django.contrib import admin
from django.contrib.auth.models import AnonymousUser, Group
from django.test import Client
from django.urls import reverse

from accounts.models import REVIEWER_GROUP
from accounts.services import api_token_create
from cases.models import Patient
from core import permissions
from notifications.models import NotificationKind
from notifications.services import notification_send

from ..factories import AdminFactory, LesionImageFactory, PatientShareFactory, UserFactory

pytestmark = pytest.mark.django_db

ROLES = ("owner", "care_team", "reviewer", "admin", "other_clinician", "inactive_owner", "anonymous")

# Check → the roles it allows. The patient, lesion, image, API token and notification are the
# owner's; "care_team" is a clinician the patient is shared with; "inactive_owner" is the owner's
# own account once deactivated: an inactive (or anonymous) user may do nothing.
ALLOWED = {
    "is_admin": {"admin"},
    "can_review": {"reviewer", "admin"},
    "can_view_audit_log": {"admin"},
    "can_view_patient": {"owner", "care_team", "reviewer", "admin"},
    "can_edit_patient": {"owner", "care_team", "admin"},
    "can_edit_lesion": {"owner", "care_team", "admin"},
    "can_manage_sharing": {"owner", "admin"},
    "can_delete_patient": {"owner", "admin"},
    "can_rerun_prediction": {"owner", "admin"},
    "can_assess_change": {"owner", "care_team", "reviewer", "admin"},
    "can_see_withheld_result": {"admin"},
    "can_export_patient_records": {"owner", "care_team", "reviewer", "admin"},
    "can_record_histopathology": {"owner", "care_team", "reviewer", "admin"},
    "can_revoke_api_token": {"owner", "admin"},
    "can_mark_notification_read": {"owner"},
}

# How each check is called on the world's objects.
CALLS = {
    "is_admin": lambda user, world: permissions.is_admin(user=user),
    "can_review": lambda user, world: permissions.can_review(user=user),
    "can_view_audit_log": lambda user, world: permissions.can_view_audit_log(user=user),
    "can_view_patient": lambda user, world: permissions.can_view_patient(user=user, patient=world.patient),
    "can_edit_patient": lambda user, world: permissions.can_edit_patient(user=user, patient=world.patient),
    "can_edit_lesion": lambda user, world: permissions.can_edit_lesion(user=user, lesion=world.lesion),
    "can_manage_sharing": lambda user, world: permissions.can_manage_sharing(user=user, patient=world.patient),
    "can_delete_patient": lambda user, world: permissions.can_delete_patient(user=user, patient=world.patient),
    "can_rerun_prediction": lambda user, world: permissions.can_rerun_prediction(user=user, image=world.image),
    "can_assess_change": lambda user, world: permissions.can_assess_change(user=user, lesion=world.lesion),
    "can_see_withheld_result": lambda user, world: permissions.can_see_withheld_result(user=user),
    "can_export_patient_records": lambda user, world: permissions.can_export_patient_records(
        user=user, patient=world.patient
    ),
    "can_record_histopathology": lambda user, world: permissions.can_record_histopathology(
        user=user, lesion=world.lesion
    ),
    "can_revoke_api_token": lambda user, world: permissions.can_revoke_api_token(user=user, token=world.token),
    "can_mark_notification_read": lambda user, world: permissions.can_mark_notification_read(
        user=user, notification=world.notification
    ),
}


def make_reviewer(**fields):
    user = UserFactory(**fields)
    user.groups.add(Group.objects.get_or_create(name=REVIEWER_GROUP)[0])
    return user


@pytest.fixture
def world(settings):
    """One patient of "owner" with a lesion, an image, a care-team member, an API token and a
    notification of the owner's, and a user of every other kind."""
    settings.SKINPORTAL_EMAIL_NOTIFICATIONS = False
    owner = UserFactory(username="owner")
    image = LesionImageFactory(lesion__patient__owner=owner)
    lesion, patient = image.lesion, image.lesion.patient
    care_team = UserFactory(username="care-team")
    PatientShareFactory(patient=patient, clinician=care_team)
    token, _ = api_token_create(user=owner, name="EHR", lifetime_days=30)
    notification = notification_send(
        recipient=owner,
        kind=NotificationKind.HIGH_RISK,
        title="High-risk result",
        body="b",
        url=lesion.get_absolute_url(),
        event_key="prediction:1",
    )
    return SimpleNamespace(
        owner=owner,
        care_team=care_team,
        reviewer=make_reviewer(username="reviewer"),
        admin=AdminFactory(username="admin"),
        other_clinician=UserFactory(username="other"),
        patient=patient,
        lesion=lesion,
        image=image,
        token=token,
        notification=notification,
    )


def user_for(role: str, world):
    if role == "anonymous":
        return AnonymousUser()
    if role == "inactive_owner":
        world.owner.is_active = False
        world.owner.save(update_fields=["is_active"])
        return world.owner
    return getattr(world, role)


def test_the_table_names_every_check_of_the_module():
    """A new check must join the table (and a removed one leave it)."""
    checks = {
        name
        for name, function in inspect.getmembers(permissions, inspect.isfunction)
        if function.__module__ == permissions.__name__ and not name.startswith("_")
    }
    assert checks == set(ALLOWED) == set(CALLS)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("check", sorted(ALLOWED))
def test_each_check_for_each_kind_of_user(world, check, role):
    user = user_for(role, world)
    assert CALLS[check](user, world) is (role in ALLOWED[check])


@pytest.mark.parametrize("role", ROLES)
def test_the_patient_checks_agree_with_the_access_rule_queries(world, role):
    """can_view_patient / can_edit_patient are visible_to / editable_by for one patient."""
    user = user_for(role, world)
    visible = Patient.objects.visible_to(user).filter(pk=world.patient.pk).exists()
    editable = Patient.objects.editable_by(user).filter(pk=world.patient.pk).exists()
    assert permissions.can_view_patient(user=user, patient=world.patient) is visible
    assert permissions.can_edit_patient(user=user, patient=world.patient) is editable


@pytest.mark.parametrize("role", ["owner", "care_team", "reviewer", "admin", "other_clinician"])
def test_the_admin_opens_to_roles(world, role, rf):
    """Admins open every admin page; reviewers the review pages only; clinicians none."""
    request = rf.get("/admin/")
    request.user = user_for(role, world)
    review_models = {"reviews.reviewqueueitem", "reviews.review", "reviews.histopathology"}
    for model, model_admin in admin.site._registry.items():
        label = model._meta.label_lower
        if role == "admin":
            expected = True
        elif role == "reviewer":
            expected = label in review_models
        else:
            expected = False
        assert model_admin.has_module_permission(request) is expected, (role, label)


# The pages show only what the user may do -----------------------------------------------


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


@pytest.mark.parametrize(
    ("role", "edit", "share", "review", "histopathology"),
    [
        ("owner", True, True, False, True),
        ("care_team", True, False, False, True),
        ("reviewer", False, False, True, True),
        ("admin", True, True, True, True),
    ],
)
def test_patient_and_lesion_pages_offer_only_what_the_user_may_do(world, role, edit, share, review, histopathology):
    client = client_for(user_for(role, world))
    patient, lesion = world.patient, world.lesion

    patient_page = page(client, patient.get_absolute_url())
    assert (reverse("cases:patient-update", args=[patient.pk]) in patient_page) is edit
    assert (reverse("cases:lesion-create", args=[patient.pk]) in patient_page) is edit
    assert (reverse("cases:patient-share", args=[patient.pk]) in patient_page) is share
    revoke = reverse("cases:patient-unshare", args=[patient.pk, world.care_team.pk])
    assert (revoke in patient_page) is share

    lesion_page = page(client, lesion.get_absolute_url())
    assert (reverse("cases:lesion-update", args=[lesion.pk]) in lesion_page) is edit
    assert ("Edit case" in lesion_page) is edit
    assert (reverse("cases:image-upload", args=[lesion.pk]) in lesion_page) is edit
    assert (reverse("reviews:review", args=[lesion.pk]) in lesion_page) is review
    assert (reverse("reviews:histopathology-add", args=[lesion.pk]) in lesion_page) is histopathology


@pytest.mark.parametrize("role", ["owner", "care_team", "reviewer", "admin"])
def test_every_page_of_a_patient_offers_its_exports_to_whoever_sees_it(world, role):
    client = client_for(user_for(role, world))
    patient, lesion, image = world.patient, world.lesion, world.image

    assert reverse("interop:patient-report", args=[patient.pk]) in page(client, patient.get_absolute_url())
    lesion_page = page(client, lesion.get_absolute_url())
    assert reverse("interop:lesion-report", args=[lesion.pk]) in lesion_page
    assert f"{reverse('interop:visit-dicom', args=[lesion.pk])}?visit={image.captured_on}" in lesion_page
    assert reverse("interop:image-dicom", args=[image.pk]) in page(client, image.get_absolute_url())


@pytest.mark.parametrize(
    ("role", "rerun"), [("owner", True), ("care_team", False), ("reviewer", False), ("admin", True)]
)
def test_the_image_page_offers_a_new_analysis_only_to_the_owner_and_admins(world, role, rerun):
    image_page = page(client_for(user_for(role, world)), world.image.get_absolute_url())
    assert (reverse("inference:image-predict", args=[world.image.pk]) in image_page) is rerun


def form_urls(world) -> list[str]:
    return [
        reverse("cases:patient-update", args=[world.patient.pk]),
        reverse("cases:lesion-create", args=[world.patient.pk]),
        reverse("cases:lesion-update", args=[world.lesion.pk]),
        reverse("cases:image-upload", args=[world.lesion.pk]),
    ]


def test_a_reviewer_gets_403_on_the_edit_forms_before_any_form(world):
    """Reviewers see every case but change none: the form is refused on GET as on POST."""
    client = client_for(world.reviewer)
    for url in form_urls(world):
        assert client.get(url).status_code == 403, url
        assert client.post(url, {"label": "changed", "given_name": "Changed"}).status_code == 403, url
    world.lesion.refresh_from_db()
    world.patient.refresh_from_db()
    assert world.lesion.label != "changed" and world.patient.given_name != "Changed"
    assert world.lesion.images.count() == 1


@pytest.mark.parametrize("role", ["owner", "care_team", "admin"])
def test_the_care_team_and_admins_open_the_edit_forms(world, role):
    client = client_for(user_for(role, world))
    for url in form_urls(world):
        assert client.get(url).status_code == 200, (role, url)


@pytest.mark.parametrize(
    ("role", "queue", "admin"),
    [("owner", False, False), ("reviewer", True, False), ("admin", True, True)],
)
def test_the_navigation_offers_the_queue_and_the_admin_by_role(world, role, queue, admin):
    home = page(client_for(user_for(role, world)), reverse("cases:patient-list"))
    assert (f'href="{reverse("reviews:queue")}"' in home) is queue
    assert (f'href="{reverse("reviews:outcomes")}"' in home) is queue
    assert (f'href="{reverse("admin:index")}"' in home) is admin
