from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.urls import reverse

from accounts.models import REVIEWER_GROUP, User

from ..factories import UserFactory

pytestmark = pytest.mark.django_db


def test_login_and_logout(client):
    UserFactory(username="dana", password="correct-horse-battery")
    response = client.post(reverse("login"), {"username": "dana", "password": "correct-horse-battery"})
    assert response.status_code == 302 and response.url == reverse("cases:dashboard")
    assert client.get(reverse("cases:dashboard")).status_code == 200

    client.post(reverse("logout"))
    assert client.get(reverse("cases:dashboard")).status_code == 302


def test_wrong_password_is_refused(client):
    UserFactory(username="dana", password="correct-horse-battery")
    response = client.post(reverse("login"), {"username": "dana", "password": "wrong"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_change_password(client):
    user = UserFactory(username="dana", password="correct-horse-battery")
    client.force_login(user)
    response = client.post(
        reverse("password_change"),
        {
            "old_password": "correct-horse-battery",
            "new_password1": "a-much-longer-passphrase-2026",
            "new_password2": "a-much-longer-passphrase-2026",
        },
    )
    assert response.url == reverse("password_change_done")
    user.refresh_from_db()
    assert user.check_password("a-much-longer-passphrase-2026")


def test_short_passwords_are_refused(client):
    user = UserFactory(username="dana", password="correct-horse-battery")
    client.force_login(user)
    response = client.post(
        reverse("password_change"),
        {"old_password": "correct-horse-battery", "new_password1": "short1", "new_password2": "short1"},
    )
    assert response.status_code == 200
    assert "at least 12 characters" in response.content.decode()


def test_roles():
    clinician = UserFactory()
    reviewer = UserFactory()
    reviewer.groups.add(Group.objects.get_or_create(name=REVIEWER_GROUP)[0])
    admin = UserFactory(is_staff=True)
    assert (clinician.is_admin, clinician.is_reviewer) == (False, False)
    assert (reviewer.is_admin, reviewer.is_reviewer) == (False, True)
    assert (admin.is_admin, admin.is_reviewer) == (True, True)


def test_seed_demo_creates_users_and_prints_credentials(settings, capsys):
    settings.SKINPORTAL_ALLOW_DEMO_USERS = True
    call_command("seed_demo")
    out = capsys.readouterr().out
    clinician, admin = User.objects.get(username="clinician"), User.objects.get(username="admin")
    assert not clinician.is_staff and admin.is_staff and admin.is_superuser
    assert "password: demo-clinician-pass" in out and clinician.check_password("demo-clinician-pass")


def test_seed_demo_is_refused_outside_the_local_default(settings):
    settings.SKINPORTAL_ALLOW_DEMO_USERS = False
    with pytest.raises(CommandError):
        call_command("seed_demo")
    assert not User.objects.exists()


def test_seed_demo_adds_demo_cases_from_an_image_folder(settings, tmp_path, capsys):
    from cases.management.commands.seed_demo import DEMO_CASES
    from cases.models import Lesion, LesionImage, Patient

    from .. import images

    settings.SKINPORTAL_ALLOW_DEMO_USERS = True
    isic_ids = [isic_id for case in DEMO_CASES for lesion in case[5] for _, isic_id in lesion[6]]
    for seed, isic_id in enumerate(isic_ids):
        (tmp_path / f"{isic_id}.jpg").write_bytes(images.jpeg(*images.GATE_PASSING_SIZE, seed=seed))
    call_command("seed_demo", images=tmp_path)
    call_command("seed_demo", images=tmp_path)  # a second run adds nothing
    assert Patient.objects.filter(owner__username="clinician").count() == 2
    assert LesionImage.objects.count() == len(isic_ids) == 6
    assert "CC BY-NC 4.0" in Patient.objects.first().notes
    lesions = Lesion.objects.all()
    assert all(lesion.body_map_view and lesion.next_visit_on for lesion in lesions)


@pytest.mark.slow
def test_seed_demo_lesions_are_real_sequential_images_of_one_lesion(settings, django_capture_on_commit_callbacks):
    """With ../shared, each demo lesion's two visits are images of one HAM10000 lesion, and the
    compare view aligns them."""
    from cases.management.commands.seed_demo import DEFAULT_IMAGES
    from cases.models import Lesion
    from tracking.models import ImageComparison

    if not DEFAULT_IMAGES.is_dir():
        pytest.skip(f"needs the ISIC images at {DEFAULT_IMAGES}")
    settings.SKINPORTAL_ALLOW_DEMO_USERS = True
    with django_capture_on_commit_callbacks(execute=True):  # the in-process tasks, as in the embedded default
        call_command("seed_demo")
    lesions = list(Lesion.objects.all())
    assert len(lesions) == 3
    # The worker measured each upload and compared it with the visit before.
    comparisons = ImageComparison.objects.all()
    assert {comparison.lesion_id for comparison in comparisons} == {lesion.pk for lesion in lesions}
    assert all(comparison.aligned for comparison in comparisons)


def test_the_admin_login_page_answers_anonymous_users(client, db):
    response = client.get("/admin/login/")
    assert response.status_code == 200 and "Log in" in response.content.decode()
    assert client.get("/admin/").status_code == 302
