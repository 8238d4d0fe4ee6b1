"""S3 mode: images live in a private bucket and are reached only through a short-lived signed
URL that the file view issues after the access check (moto stands in for the S3 service)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from cases import services

from .. import images
from ..factories import LesionFactory

moto = pytest.importorskip("moto")
boto3 = pytest.importorskip("boto3")

pytestmark = pytest.mark.django_db
BUCKET = "skinportal-test-images"


@pytest.fixture
def s3_storage(settings, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    with moto.mock_aws():
        client = boto3.client("s3", region_name="eu-central-1")
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {
                "BACKEND": "storages.backends.s3.S3Storage",
                "OPTIONS": {
                    "bucket_name": BUCKET,
                    "region_name": "eu-central-1",
                    "default_acl": "private",
                    "querystring_auth": True,
                    "querystring_expire": 60,
                    "file_overwrite": False,
                },
            },
        }
        yield client


def test_file_view_redirects_to_a_short_lived_signed_url_after_the_access_check(
    s3_storage, clinician, clinician_client, other_client
):
    lesion = LesionFactory(patient__owner=clinician)
    image = services.image_upload(
        lesion=lesion, uploaded_by=clinician, files=[SimpleUploadedFile("a.jpg", images.jpeg())]
    ).stored[0]

    stored = s3_storage.get_object(Bucket=BUCKET, Key=image.file.name)["Body"].read()
    assert stored[:2] == b"\xff\xd8"
    acl = s3_storage.get_object_acl(Bucket=BUCKET, Key=image.file.name)
    assert not any("AllUsers" in str(grant.get("Grantee")) for grant in acl["Grants"])

    for url_name in ("cases:image-file", "cases:image-thumbnail"):
        url = reverse(url_name, args=[image.pk])
        assert other_client.get(url).status_code == 404
        response = clinician_client.get(url)
        assert response.status_code == 302
        query = parse_qs(urlsplit(response.url).query)
        assert "X-Amz-Signature" in query
        assert query["X-Amz-Expires"] == ["60"]
