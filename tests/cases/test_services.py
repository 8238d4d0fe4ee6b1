from __future__ import annotations

import datetime
import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from cases import services
from cases.models import LesionImage, Patient, PatientShare

from .. import images
from ..factories import LesionFactory, LesionImageFactory, PatientFactory, PatientShareFactory, UserFactory

pytestmark = pytest.mark.django_db


def upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def stored_files(settings) -> list[str]:
    root = settings.MEDIA_ROOT
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()) if root.exists() else []


class TestPatients:
    def test_create_sets_owner_and_strips_names(self, clinician):
        patient = services.patient_create(
            owner=clinician,
            identifier=" MRN-1 ",
            given_name=" Ana ",
            family_name="Silva",
            date_of_birth=datetime.date(1980, 5, 1),
            sex="female",
        )
        assert patient.owner == clinician
        assert (patient.identifier, patient.given_name) == ("MRN-1", "Ana")

    def test_date_of_birth_in_the_future_is_refused(self, clinician):
        tomorrow = timezone.localdate() + datetime.timedelta(days=1)
        with pytest.raises(ValidationError) as error:
            services.patient_create(
                owner=clinician, identifier="X", given_name="A", family_name="B", date_of_birth=tomorrow
            )
        assert "date_of_birth" in error.value.message_dict
        assert not Patient.objects.exists()

    def test_identifier_is_unique(self, clinician):
        PatientFactory(identifier="MRN-7")
        with pytest.raises(ValidationError) as error:
            services.patient_create(
                owner=clinician,
                identifier="MRN-7",
                given_name="A",
                family_name="B",
                date_of_birth=datetime.date(1990, 1, 1),
            )
        assert "identifier" in error.value.message_dict

    def test_update_changes_only_known_fields(self, clinician):
        patient = PatientFactory(owner=clinician)
        services.patient_update(patient=patient, actor=clinician, notes="Family history of melanoma.")
        patient.refresh_from_db()
        assert patient.notes == "Family history of melanoma."
        with pytest.raises(TypeError):
            services.patient_update(patient=patient, actor=clinician, owner=UserFactory())


class TestSharing:
    def test_owner_shares_and_revokes(self, clinician, other_clinician):
        patient = PatientFactory(owner=clinician)
        services.patient_share(patient=patient, actor=clinician, clinician=other_clinician)
        assert list(Patient.objects.visible_to(other_clinician)) == [patient]

        services.patient_unshare(patient=patient, actor=clinician, clinician=other_clinician)
        assert not Patient.objects.visible_to(other_clinician).exists()

    def test_sharing_twice_keeps_one_share(self, clinician, other_clinician):
        patient = PatientFactory(owner=clinician)
        services.patient_share(patient=patient, actor=clinician, clinician=other_clinician)
        services.patient_share(patient=patient, actor=clinician, clinician=other_clinician)
        assert PatientShare.objects.filter(patient=patient).count() == 1

    def test_only_owner_or_admin_manages_sharing(self, clinician, other_clinician, admin_user):
        patient = PatientFactory(owner=clinician)
        services.patient_share(patient=patient, actor=clinician, clinician=other_clinician)
        third = UserFactory()
        with pytest.raises(PermissionDenied):
            services.patient_share(patient=patient, actor=other_clinician, clinician=third)
        services.patient_share(patient=patient, actor=admin_user, clinician=third)
        assert Patient.objects.visible_to(third).get() == patient

    def test_owner_cannot_be_added_to_own_care_team(self, clinician):
        patient = PatientFactory(owner=clinician)
        with pytest.raises(ValidationError):
            services.patient_share(patient=patient, actor=clinician, clinician=clinician)


class TestAccessRule:
    def test_clinician_sees_own_and_shared_patients_admin_sees_all(self, clinician, other_clinician, admin_user):
        own = PatientFactory(owner=clinician)
        shared = PatientFactory(owner=other_clinician)
        PatientShareFactory(patient=shared, clinician=clinician)
        hidden = PatientFactory(owner=other_clinician)

        assert set(Patient.objects.visible_to(clinician)) == {own, shared}
        assert set(Patient.objects.visible_to(admin_user)) == {own, shared, hidden}

    def test_inactive_user_sees_nothing(self, clinician):
        PatientFactory(owner=clinician)
        clinician.is_active = False
        assert not Patient.objects.visible_to(clinician).exists()


class TestLesions:
    def test_create_defaults_to_today_and_monitoring(self, clinician):
        lesion = services.lesion_create(patient=PatientFactory(owner=clinician), actor=clinician, label="mole")
        assert lesion.opened_on == timezone.localdate()
        assert lesion.status == "monitoring"

    def test_invalid_site_is_refused(self, clinician):
        with pytest.raises(ValidationError) as error:
            services.lesion_create(
                patient=PatientFactory(owner=clinician), actor=clinician, label="mole", anatomic_site="elbow"
            )
        assert "anatomic_site" in error.value.message_dict


class TestImageUpload:
    def test_several_files_are_stored_with_their_metadata(self, clinician, settings):
        lesion = LesionFactory(patient__owner=clinician)
        result = services.image_upload(
            lesion=lesion,
            uploaded_by=clinician,
            files=[upload("a.jpg", images.jpeg(seed=1)), upload("b.heic", images.heic())],
            captured_on=datetime.date(2026, 3, 2),
            modality="clinical close-up",
        )

        assert len(result.stored) == 2 and not result.duplicates
        first, second = LesionImage.objects.order_by("pk")
        assert (first.original_filename, first.source_format) == ("a.jpg", "JPEG")
        assert second.source_format == "HEIC/HEIF"
        assert first.captured_on == datetime.date(2026, 3, 2)
        assert first.uploaded_by == clinician
        # Stored under a random name, never the uploaded one ("a.jpg" may end a random hex name).
        assert re.fullmatch(r"images/[0-9a-f]{32}\.jpg", first.file.name)
        assert len(stored_files(settings)) == 4  # two images, two thumbnails

    def test_one_bad_file_stores_nothing_and_names_every_bad_file(self, clinician, settings):
        lesion = LesionFactory(patient__owner=clinician)
        files = [
            upload("good.jpg", images.jpeg()),
            upload("notes.jpg", images.text_file()),
            upload("cut.jpg", images.truncated_jpeg()),
        ]
        with pytest.raises(services.UploadRejected) as error:
            services.image_upload(lesion=lesion, uploaded_by=clinician, files=files)

        messages = error.value.messages
        assert len(messages) == 2
        assert messages[0].startswith("notes.jpg: ") and messages[1].startswith("cut.jpg: ")
        assert not LesionImage.objects.exists()
        assert stored_files(settings) == []

    def test_failure_while_storing_removes_files_already_written(self, clinician, settings, monkeypatch):
        lesion = LesionFactory(patient__owner=clinician)
        original_save = LesionImage.save
        calls = {"n": 0}

        def failing_save(self, *args, **kwargs):
            calls["n"] += 1
            if calls["n"] == 2:
                raise RuntimeError("database went away")
            return original_save(self, *args, **kwargs)

        monkeypatch.setattr(LesionImage, "save", failing_save)
        with pytest.raises(RuntimeError):
            services.image_upload(
                lesion=lesion,
                uploaded_by=clinician,
                files=[upload("a.jpg", images.jpeg(seed=1)), upload("b.jpg", images.jpeg(seed=2))],
            )
        assert not LesionImage.objects.exists()
        assert stored_files(settings) == []

    def test_identical_pixels_are_reported_not_stored_twice(self, clinician):
        lesion = LesionFactory(patient__owner=clinician)
        first = services.image_upload(lesion=lesion, uploaded_by=clinician, files=[upload("a.png", images.png())])
        # The same pixels again, once more within one upload, under other names and formats.
        again = services.image_upload(
            lesion=lesion,
            uploaded_by=clinician,
            files=[upload("copy.png", images.png()), upload("new.jpg", images.jpeg(seed=9))],
        )
        assert [name for name, _ in again.duplicates] == ["copy.png"]
        assert again.duplicates[0][1] == first.stored[0]
        assert len(again.stored) == 1
        assert lesion.images.count() == 2

        within = services.image_upload(
            lesion=lesion,
            uploaded_by=clinician,
            files=[upload("x.jpg", images.jpeg(seed=11)), upload("x-again.jpg", images.jpeg(seed=11))],
        )
        assert len(within.stored) == 1 and [n for n, _ in within.duplicates] == ["x-again.jpg"]

    def test_same_pixels_may_be_stored_for_another_lesion(self, clinician):
        patient = PatientFactory(owner=clinician)
        for lesion in (LesionFactory(patient=patient), LesionFactory(patient=patient)):
            result = services.image_upload(lesion=lesion, uploaded_by=clinician, files=[upload("a.png", images.png())])
            assert len(result.stored) == 1

    def test_visit_date_in_the_future_is_refused(self, clinician):
        lesion = LesionFactory(patient__owner=clinician)
        with pytest.raises(ValidationError) as error:
            services.image_upload(
                lesion=lesion,
                uploaded_by=clinician,
                files=[upload("a.jpg", images.jpeg())],
                captured_on=timezone.localdate() + datetime.timedelta(days=1),
            )
        assert "captured_on" in error.value.message_dict
        assert not LesionImage.objects.exists()

    def test_file_over_size_limit_is_rejected_by_name(self, clinician, settings):
        settings.SKINPORTAL_MAX_UPLOAD_BYTES = 2_000
        lesion = LesionFactory(patient__owner=clinician)
        with pytest.raises(services.UploadRejected) as error:
            services.image_upload(
                lesion=lesion, uploaded_by=clinician, files=[upload("big.jpg", images.jpeg(400, 300))]
            )
        assert error.value.messages[0].startswith("big.jpg: the file is")

    def test_timeline_orders_by_visit_date_then_upload(self, clinician):
        lesion = LesionFactory(patient__owner=clinician)
        late = LesionImageFactory(lesion=lesion, captured_on=datetime.date(2026, 5, 1))
        early = LesionImageFactory(lesion=lesion, captured_on=datetime.date(2025, 11, 3))
        early_second = LesionImageFactory(lesion=lesion, captured_on=datetime.date(2025, 11, 3))
        assert list(lesion.images.timeline()) == [early, early_second, late]


def test_patient_delete_removes_rows_and_files(clinician, settings, django_capture_on_commit_callbacks):
    image = LesionImageFactory(lesion__patient__owner=clinician)
    assert len(stored_files(settings)) == 2
    with django_capture_on_commit_callbacks(execute=True):
        services.patient_delete(patient=image.lesion.patient, actor=clinician)
    assert not LesionImage.objects.exists()
    assert stored_files(settings) == []
