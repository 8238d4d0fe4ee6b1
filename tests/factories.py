from __future__ import annotations

import datetime

import factory
from django.core.files.base import ContentFile

from accounts.models import User
from cases.imaging import normalise_upload
from cases.models import AnatomicSite, Lesion, LesionImage, Patient, PatientShare

from . import images


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"clinician{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda user: f"{user.username}@clinic.example")
    password = factory.django.Password("correct-horse-battery")


class AdminFactory(UserFactory):
    username = factory.Sequence(lambda n: f"admin{n}")
    is_staff = True
    is_superuser = True


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    identifier = factory.Sequence(lambda n: f"MRN{n:06d}")
    given_name = factory.Faker("first_name")
    family_name = factory.Faker("last_name")
    date_of_birth = factory.Faker("date_of_birth", minimum_age=18, maximum_age=90)
    sex = "female"
    owner = factory.SubFactory(UserFactory)


class PatientShareFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PatientShare

    patient = factory.SubFactory(PatientFactory)
    clinician = factory.SubFactory(UserFactory)
    granted_by = factory.LazyAttribute(lambda share: share.patient.owner)


class LesionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lesion

    patient = factory.SubFactory(PatientFactory)
    label = factory.Sequence(lambda n: f"mole {n} left shoulder")
    anatomic_site = AnatomicSite.UPPER_EXTREMITY
    created_by = factory.LazyAttribute(lambda lesion: lesion.patient.owner)


class LesionImageFactory(factory.django.DjangoModelFactory):
    """An image row with real stored files, normalised exactly as an upload would be."""

    class Meta:
        model = LesionImage

    lesion = factory.SubFactory(LesionFactory)
    captured_on = factory.LazyFunction(lambda: datetime.date(2026, 1, 15))
    uploaded_by = factory.LazyAttribute(lambda image: image.lesion.patient.owner)
    original_filename = "IMG_0001.jpg"
    seed = factory.Sequence(lambda n: n)  # varies the pixels, so images of one lesion differ

    @classmethod
    def _create(cls, model_class, *args, seed: int = 0, **kwargs):
        normalised = normalise_upload(images.jpeg(seed=seed), filename="factory.jpg", max_bytes=10**8, max_pixels=10**8)
        image = model_class(
            width=normalised.width,
            height=normalised.height,
            sha256=normalised.sha256,
            source_format=normalised.source_format,
            **kwargs,
        )
        image.file.save("image.jpg", ContentFile(normalised.jpeg), save=False)
        image.thumbnail.save("thumbnail.jpg", ContentFile(normalised.thumbnail_jpeg), save=False)
        image.save()
        return image
