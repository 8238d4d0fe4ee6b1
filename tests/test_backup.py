"""bin/backup and bin/restore against the real test database: a patient with an image, its
prediction (heatmap and raw map) and its change history is backed up, deleted with its files,
and restored intact. PostgreSQL only (pg_dump/pg_restore); CI runs it (.ci/run)."""

from __future__ import annotations

import datetime
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError, connection, connections, transaction
from PIL import Image

from audit.models import AccessLog
from audit.services import access_log_record
from cases import services
from cases.imaging import pixel_sha256
from cases.models import Lesion, LesionImage, Patient
from inference.models import Prediction, PredictionStatus

from . import images

ROOT = Path(__file__).resolve().parent.parent
ON_POSTGRESQL = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
MISSING_TOOLS = [tool for tool in ("pg_dump", "pg_restore") if shutil.which(tool) is None]

pytestmark = [
    pytest.mark.slow,  # bin/backup and bin/restore (pg_dump, pg_restore) in subprocesses
    pytest.mark.skipif(
        not ON_POSTGRESQL,
        reason="backup/restore needs PostgreSQL: set DATABASE_URL=postgres://... (the database is "
        f"{settings.DATABASES['default']['ENGINE']})",
    ),
    pytest.mark.skipif(
        bool(MISSING_TOOLS), reason=f"backup/restore needs {' and '.join(MISSING_TOOLS)} on PATH (postgresql-client)"
    ),
]


def _test_database_url() -> str:
    """The URL of the database the tests run on (test_...), for the scripts."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = db["HOST"] or "localhost"
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgresql://{credentials}{'@' if credentials else ''}{host}{port}/{quote(db['NAME'], safe='')}"


def _run(script: str, *args: str, media_root: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "SKINPORTAL_STORAGE": "local",
        "SKINPORTAL_MEDIA_ROOT": str(media_root),
        "DJANGO_SETTINGS_MODULE": "skinportal.settings.test",  # for manage.py showmigrations
        "PYTHON": sys.executable,
    }
    return subprocess.run(
        [str(ROOT / "bin" / script), *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _history_counts(patient_id: int) -> dict[str, int]:
    """How many history rows the patient, their lesions, images and predictions have."""
    lesion_ids = Lesion.history.filter(patient_id=patient_id).values("id")
    image_ids = LesionImage.history.filter(lesion_id__in=lesion_ids).values("id")
    return {
        "patient": Patient.history.filter(id=patient_id).count(),
        "lesion": Lesion.history.filter(patient_id=patient_id).count(),
        "image": LesionImage.history.filter(lesion_id__in=lesion_ids).count(),
        "prediction": Prediction.history.filter(image_id__in=image_ids).count(),
    }


@pytest.mark.django_db(transaction=True)  # committed rows, so pg_dump sees them
def test_restore_brings_back_a_patient_with_images_predictions_and_history(
    clinician, model_version, settings, tmp_path, django_capture_on_commit_callbacks
):
    media_root = Path(settings.STORAGES["default"]["OPTIONS"]["location"])

    # A patient with a lesion, an analysed image, a change and an access log row.
    patient = services.patient_create(
        owner=clinician,
        identifier="BK-0001",
        given_name="Bea",
        family_name="Backup",
        date_of_birth=datetime.date(1970, 3, 4),
        sex="female",
    )
    lesion = services.lesion_create(patient=patient, actor=clinician, label="mole left shoulder")
    with django_capture_on_commit_callbacks(execute=True):
        result = services.image_upload(
            lesion=lesion, uploaded_by=clinician, files=[SimpleUploadedFile("visit.jpg", images.jpeg(seed=11))]
        )
    image = result.stored[0]
    prediction = image.predictions.get()
    assert prediction.status == PredictionStatus.SUCCEEDED, prediction.error
    assert prediction.heatmap.name and prediction.raw_map.name
    services.lesion_update(lesion=lesion, actor=clinician, label="mole left shoulder, larger")
    access_log_record(action="view", user=clinician, object_type="patient", object_id=patient.pk, patient_id=patient.pk)

    stored = {
        "image": image.file.name,
        "thumbnail": image.thumbnail.name,
        "heatmap": prediction.heatmap.name,
        "raw map": prediction.raw_map.name,
    }
    digests = {name: _sha256(media_root / name) for name in stored.values()}
    probabilities = (prediction.probability_bcc, prediction.probability_mel, prediction.probability_nv)
    history_before = _history_counts(patient.pk)
    patient_history_before = list(Patient.history.filter(id=patient.pk).order_by("history_id").values())
    lesion_history_before = list(lesion.history.order_by("history_id").values())
    assert history_before == {"patient": 1, "lesion": 2, "image": 1, "prediction": 3}, history_before
    access_log_before = AccessLog.objects.count()

    # Back up.
    started = time.monotonic()
    backup_dir = tmp_path / "backup"
    backup = _run("backup", str(backup_dir), media_root=media_root)
    assert backup.returncode == 0, backup.stderr
    assert {path.name for path in backup_dir.iterdir()} == {"database.dump", "media.tar", "MANIFEST", "SHA256SUMS"}
    manifest = (backup_dir / "MANIFEST").read_text()
    assert "[X]  audit.0002_accesslog_immutable" in manifest, manifest
    assert f"{_sha256(backup_dir / 'database.dump')}  database.dump" in manifest

    # Destroy: the patient goes, with their rows and their files.
    patient_id, prediction_id = patient.pk, prediction.pk  # delete() clears the instances' pk
    with django_capture_on_commit_callbacks(execute=True):
        services.patient_delete(patient=patient, actor=clinician)
    assert not Patient.objects.filter(pk=patient_id).exists()
    assert not Prediction.objects.filter(pk=prediction_id).exists()
    assert [name for name in stored.values() if (media_root / name).exists()] == []

    # pg_restore --clean drops and recreates every table: Django must hold no connection.
    connections.close_all()
    refused = _run("restore", str(backup_dir), media_root=media_root)
    assert refused.returncode != 0
    assert "refusing to restore without --yes" in refused.stderr
    assert not Patient.objects.filter(pk=patient_id).exists()
    connections.close_all()
    restore = _run("restore", "--yes", str(backup_dir), media_root=media_root)
    assert restore.returncode == 0, restore.stderr
    print(f"backup + restore took {time.monotonic() - started:.1f} s")

    # Everything is back.
    patient = Patient.objects.get(pk=patient_id)
    assert (patient.identifier, patient.given_name, patient.owner) == ("BK-0001", "Bea", clinician)
    lesion = patient.lesions.get()
    assert lesion.label == "mole left shoulder, larger"
    image = lesion.images.get()
    prediction = image.predictions.get()
    assert prediction.status == PredictionStatus.SUCCEEDED
    assert prediction.model_version == model_version
    assert (prediction.probability_bcc, prediction.probability_mel, prediction.probability_nv) == probabilities
    assert {
        "image": image.file.name,
        "thumbnail": image.thumbnail.name,
        "heatmap": prediction.heatmap.name,
        "raw map": prediction.raw_map.name,
    } == stored
    assert {name: _sha256(media_root / name) for name in stored.values()} == digests
    with Image.open(media_root / image.file.name) as stored_image:
        assert pixel_sha256(stored_image) == image.sha256

    # The history as it was at the backup (the deletion's records are gone with the deletion).
    assert _history_counts(patient_id) == history_before
    assert list(Patient.history.filter(id=patient_id).order_by("history_id").values()) == patient_history_before
    assert list(lesion.history.order_by("history_id").values()) == lesion_history_before
    change = lesion.history.filter(history_type="~").get()
    assert (change.prev_record.label, change.label) == ("mole left shoulder", "mole left shoulder, larger")
    assert AccessLog.objects.count() == access_log_before
    assert AccessLog.objects.filter(action="view", patient_id=patient_id, user=clinician).exists()

    # The access log is insert-only again: the restore recreated its trigger.
    refused_delete = pytest.raises(DatabaseError, match="access log rows cannot be changed or deleted")
    with refused_delete, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_accesslog")
