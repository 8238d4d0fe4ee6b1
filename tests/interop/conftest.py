"""The exports' tests read what they produce with real tools: ``pdftotext`` (poppler-utils) for
the PDF, ``dciodvfy`` (dicom3tools) for DICOM. ``make test`` installs both (as root); elsewhere a
test that needs a missing one is skipped with its reason, except where
``SKINPORTAL_REQUIRE_INTEROP_TOOLS`` is set (CI): there it fails."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.factories import (
    RESULT_PROBABILITIES,
    HistopathologyFactory,
    LesionFactory,
    LesionImageFactory,
    ModelVersionFactory,
    PatientFactory,
    PredictionFactory,
    ReviewFactory,
)

DEBIAN_PACKAGE = {"pdftotext": "poppler-utils", "dciodvfy": "dicom3tools"}


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (Debian package {DEBIAN_PACKAGE[name]}; `make test` installs it)"
        if os.environ.get("SKINPORTAL_REQUIRE_INTEROP_TOOLS"):
            pytest.fail(message + ", and SKINPORTAL_REQUIRE_INTEROP_TOOLS says it must run here")
        pytest.skip(message)
    return path


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    result = subprocess.run(
        [tool("pdftotext"), "-layout", str(path), "-"], capture_output=True, text=True, check=True, timeout=60
    )
    return result.stdout


def dciodvfy(dicom: bytes, tmp_path: Path) -> str:
    """dciodvfy's report on a DICOM file (it prints to stderr; the exit status does not tell errors)."""
    path = tmp_path / "image.dcm"
    path.write_bytes(dicom)
    result = subprocess.run([tool("dciodvfy"), str(path)], capture_output=True, text=True, timeout=60)
    return result.stdout + result.stderr


def errors(report: str) -> list[str]:
    return [line for line in report.splitlines() if line.startswith("Error")]


@pytest.fixture
def case(db):
    """A patient with one lesion (upper extremity) seen at two visits: a high-risk melanoma
    result on a dermoscopic image; then a dermoscopic image the quality gate rejected (its
    result withheld) and a clinical close-up with a quality warning. A review of the first
    result asks for a follow-up in 3 months; a histopathology result says naevus."""
    import datetime

    patient = PatientFactory(given_name="Ada", family_name="Lovelace", identifier="MRN-4711", sex="female")
    lesion = LesionFactory(patient=patient, label="Mole left shoulder", anatomic_site="upper extremity")
    version = ModelVersionFactory(name="skinportal-mobilenetv2", version="1.1.0", is_active=True)
    first = LesionImageFactory(lesion=lesion, captured_on=datetime.date(2026, 1, 15), seed=1)
    high = PredictionFactory(
        image=first, model_version=version, succeeded=True, probabilities=RESULT_PROBABILITIES[("MEL", "high")]
    )
    rejected_image = LesionImageFactory(lesion=lesion, captured_on=datetime.date(2026, 3, 2), seed=2)
    withheld = PredictionFactory(
        image=rejected_image,
        model_version=version,
        rejected=True,
        probabilities=(0.123, 0.654, 0.223),
    )
    close_up = LesionImageFactory(
        lesion=lesion, captured_on=datetime.date(2026, 3, 2), modality="clinical close-up", seed=3
    )
    warning = PredictionFactory(image=close_up, model_version=version, warning=True)
    review = ReviewFactory(prediction=high, follow_up=True, notes="Dermoscopy again in three months.")
    histopathology = HistopathologyFactory(lesion=lesion, report="Compound naevus, completely excised.")
    return {
        "patient": patient,
        "lesion": lesion,
        "version": version,
        "images": [first, rejected_image, close_up],
        "high": high,
        "withheld": withheld,
        "warning": warning,
        "review": review,
        "histopathology": histopathology,
    }
