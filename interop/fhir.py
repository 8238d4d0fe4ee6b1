"""A patient's records as an HL7 FHIR R4 ``Bundle`` of type ``collection`` (plain JSON; the
tests validate it with fhir.resources' R4B models). See docs/interoperability.md.

Resources: the ``Patient``; a ``BodyStructure`` per lesion (SNOMED CT site, laterality where
known); a ``Media`` per image (visit date, body site, the access-controlled file URL, the DICOM
SOP instance UID); a ``Device`` per model version; an ``Observation`` per succeeded prediction
(each class's probability as a component, the risk level as interpretation, ``derivedFrom`` the
Media) — a result the quality gate withheld is exported as such: no class, no probability, no
risk, a ``dataAbsentReason`` and the gate's reasons; a ``DiagnosticReport`` per review decision;
an ``Observation`` per histopathology result. Every reference is the ``fullUrl`` of an entry of
the bundle (``urn:uuid:``, stable for each record).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from cases.models import LesionImage
from inference.models import ModelVersion, Prediction
from reviews.models import Histopathology, Review

from . import codes
from .dicom import Uids, modality_code
from .selectors import ImageEntry, LesionReport, PatientReport

MEDIA_TYPE = "application/fhir+json"
#: The namespace of the bundle's stable ``urn:uuid:`` references (uuid5 of "Type/id").
_NAMESPACE = uuid.UUID("7b0e1c64-51f5-4b52-9a55-3f3c0a8f9e21")
GENDER = {"female": "female", "male": "male", "other": "other", "unknown": "unknown"}
BODY_SITE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/bodySite"
DICOM_UID_SYSTEM = "urn:dicom:uid"


def _full_url(kind: str, key) -> str:
    """A record's stable reference: ``key`` is its id (and what it is, for an Observation)."""
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{kind}/{key}')}"


def _ref(kind: str, key, display: str = "") -> dict:
    reference = {"reference": _full_url(kind, key)}
    if display:
        reference["display"] = display
    return reference


def _coding(system: str, concept: codes.Concept) -> dict:
    return {"system": system, "code": concept.code, "display": concept.display}


def _entry(kind: str, key, resource: dict) -> dict:
    url = _full_url(kind, key)
    return {"fullUrl": url, "resource": {"resourceType": kind, "id": url.removeprefix("urn:uuid:"), **resource}}


def bundle(report: PatientReport, *, mrn_system: str, uids: Uids, file_url: Callable[[LesionImage], str]) -> dict:
    """The patient's bundle. ``file_url`` gives an image's (access-controlled) file URL."""
    patient = report.patient
    entries = [_entry("Patient", patient.pk, _patient(patient, mrn_system=mrn_system))]
    devices: dict[int, ModelVersion] = {}
    for lesion_report in report.lesions:
        entries.append(_entry("BodyStructure", lesion_report.lesion.pk, _body_structure(lesion_report)))
        for entry in lesion_report.images:
            entries.append(_entry("Media", entry.image.pk, _media(entry, lesion_report, uids=uids, file_url=file_url)))
            for prediction in entry.results:
                devices.setdefault(prediction.model_version_id, prediction.model_version)
                entries.append(
                    _entry("Observation", f"prediction-{prediction.pk}", _result(prediction, entry, lesion_report))
                )
        for review in lesion_report.reviews:
            entries.append(_entry("DiagnosticReport", review.pk, _review(review, lesion_report)))
        for result in lesion_report.histopathology:
            entries.append(_entry("Observation", f"histopathology-{result.pk}", _histopathology(result, lesion_report)))
    entries[1:1] = [_entry("Device", version.pk, _device(version)) for version in devices.values()]
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": report.generated_at.isoformat()},
        "type": "collection",
        "timestamp": report.generated_at.isoformat(),
        "entry": entries,
    }


def _patient(patient, *, mrn_system: str) -> dict:
    return {
        "identifier": [
            {
                "use": "usual",
                "type": {
                    "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}],
                    "text": "Medical record number",
                },
                "system": mrn_system,
                "value": patient.identifier,
            }
        ],
        "name": [{"use": "official", "family": patient.family_name, "given": [patient.given_name]}],
        "gender": GENDER.get(patient.sex, "unknown"),
        "birthDate": patient.date_of_birth.isoformat(),
    }


def _site(lesion_report: LesionReport) -> dict:
    lesion = lesion_report.lesion
    concept = codes.body_site(lesion.anatomic_site)
    return {"coding": [_coding(codes.SNOMED, concept)], "text": lesion.get_anatomic_site_display()}


def _body_structure(lesion_report: LesionReport) -> dict:
    lesion = lesion_report.lesion
    resource = {
        "identifier": [{"system": "urn:skinportal:lesion", "value": str(lesion.pk)}],
        "active": lesion.status != "closed",
        "location": _site(lesion_report),
        "description": f"{lesion.label} (opened {lesion.opened_on:%d %b %Y}; status {lesion.get_status_display()})",
        "patient": _ref("Patient", lesion.patient_id),
    }
    if lesion_report.laterality in codes.LATERALITY:
        concept, _ = codes.LATERALITY[lesion_report.laterality]
        resource["locationQualifier"] = [{"coding": [_coding(codes.SNOMED, concept)]}]
    return resource


def _media(entry: ImageEntry, lesion_report: LesionReport, *, uids: Uids, file_url) -> dict:
    image = entry.image
    return {
        "identifier": [{"system": DICOM_UID_SYSTEM, "value": f"urn:oid:{uids.instance(image_id=image.pk)}"}],
        "status": "completed",
        "type": {"coding": [{"system": codes.MEDIA_TYPE, "code": "image", "display": "Image"}]},
        "modality": {
            "coding": [{"system": codes.DICOM_DCM, "code": modality_code(image.modality)}],
            "text": image.get_modality_display(),
        },
        "subject": _ref("Patient", lesion_report.patient.pk),
        "createdDateTime": image.captured_on.isoformat(),
        "bodySite": _site(lesion_report),
        "extension": [{"url": BODY_SITE_EXTENSION, "valueReference": _ref("BodyStructure", image.lesion_id)}],
        "width": image.width,
        "height": image.height,
        "content": {
            "contentType": "image/jpeg",
            "url": file_url(image),
            "title": f"{image.get_modality_display()} image of {lesion_report.lesion.label}, {image.captured_on}",
        },
    }


def _device(version: ModelVersion) -> dict:
    return {
        "identifier": [{"system": "urn:skinportal:model-version", "value": f"{version.name}:{version.version}"}],
        "status": "active" if version.is_active else "inactive",
        "deviceName": [{"name": version.name, "type": "model-name"}],
        "type": {"text": f"Skin lesion classifier (decision support only): {version.architecture}"},
        "version": [{"value": version.version}],
        "note": [{"text": "Decision support for clinicians only; not a diagnosis and not a medical device."}],
    }


def _reasons(prediction: Prediction) -> str:
    return "; ".join(
        f"{reason.get('message', '')} ({reason.get('advice', '')})".strip() for reason in prediction.quality_reasons
    )


def _result(prediction: Prediction, entry: ImageEntry, lesion_report: LesionReport) -> dict:
    version = prediction.model_version
    resource = {
        "status": "final",
        "category": [{"coding": [{"system": codes.OBSERVATION_CATEGORY, "code": "imaging", "display": "Imaging"}]}],
        "code": {"coding": [_coding(codes.SKINPORTAL_SYSTEM, codes.RESULT_CODE)], "text": codes.RESULT_CODE.display},
        "subject": _ref("Patient", lesion_report.patient.pk),
        "focus": [_ref("BodyStructure", lesion_report.lesion.pk)],
        "effectiveDateTime": entry.image.captured_on.isoformat(),
        "issued": prediction.finished_at.isoformat(),
        "device": _ref("Device", version.pk, f"{version.name} {version.version}"),
        "method": {"text": f"{version.name} {version.version}"},
        "derivedFrom": [_ref("Media", entry.image.pk)],
        "note": [{"text": "Decision support only: not a diagnosis."}],
    }
    if prediction.is_withheld:
        # Withheld: exported as such, never with its figures.
        resource["dataAbsentReason"] = {
            "coding": [{"system": codes.DATA_ABSENT_REASON, "code": "error", "display": "Error"}],
            "text": "Withheld: the image quality gate could not judge this image; take a new image.",
        }
        resource["note"].append({"text": f"Quality gate: cannot be judged. {_reasons(prediction)}".strip()})
        return resource
    resource["valueCodeableConcept"] = _diagnosis(prediction.predicted_class, prediction.get_predicted_class_display())
    risk = codes.RISK_INTERPRETATION[prediction.risk_level]
    resource["interpretation"] = [
        {"coding": [_coding(codes.INTERPRETATION, risk)], "text": f"{prediction.get_risk_level_display()} risk"}
    ]
    resource["component"] = [
        {
            "code": _diagnosis(label, label),
            "valueQuantity": {"value": round(probability, 4), **codes.PROBABILITY_UNIT},
        }
        for label, probability in prediction.probabilities.items()
    ]
    if prediction.quality_status == "warning":
        resource["note"].append({"text": f"Quality gate warning: {_reasons(prediction)}"})
    return resource


def _diagnosis(label: str, text: str) -> dict:
    concept = codes.DIAGNOSES.get(label)
    return {"coding": [_coding(codes.SNOMED, concept)], "text": text} if concept else {"text": text}


def _review(review: Review, lesion_report: LesionReport) -> dict:
    agreement = "Agrees with the model" if review.agrees_with_model else "Disagrees with the model"
    conclusion = f"{agreement}. Diagnosis: {review.get_diagnosis_display()}. Recommended: {review.action_display}."
    if review.notes:
        conclusion += f" Notes: {review.notes}"
    resource = {
        "status": "final",
        "code": {"text": "Review of a decision-support result"},
        "subject": _ref("Patient", lesion_report.patient.pk),
        "effectiveDateTime": review.created_at.isoformat(),
        "issued": review.created_at.isoformat(),
        "resultsInterpreter": [{"display": review.reviewer.display_name}],
        "result": [_ref("Observation", f"prediction-{review.prediction_id}")],
        "conclusion": conclusion,
    }
    concept = codes.DIAGNOSES.get(review.diagnosis)
    if concept:
        resource["conclusionCode"] = [{"coding": [_coding(codes.SNOMED, concept)]}]
    return resource


def _histopathology(result: Histopathology, lesion_report: LesionReport) -> dict:
    return {
        "status": "final",
        "category": [{"coding": [{"system": codes.OBSERVATION_CATEGORY, "code": "laboratory"}]}],
        "code": {"coding": [_coding(codes.LOINC, codes.LOINC_HISTOPATHOLOGY)], "text": "Histopathology"},
        "subject": _ref("Patient", lesion_report.patient.pk),
        "focus": [_ref("BodyStructure", lesion_report.lesion.pk)],
        "effectiveDateTime": result.diagnosed_on.isoformat(),
        "valueCodeableConcept": _diagnosis(result.diagnosis, result.get_diagnosis_display()),
        "note": [{"text": result.report}],
    }
