"""The FHIR export, validated with fhir.resources' R4B models; references must resolve inside
the bundle, and a withheld result travels without its figures."""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.urls import reverse
from fhir.resources.R4B.bundle import Bundle

from interop import codes

pytestmark = pytest.mark.django_db


def export(client, patient):
    response = client.get(reverse("api:patient-fhir", kwargs={"pk": patient.pk}))
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "application/fhir+json"
    return json.loads(response.content)


def references(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference":
                yield value
            else:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def resources(bundle, kind):
    return [entry["resource"] for entry in bundle["entry"] if entry["resource"]["resourceType"] == kind]


def test_the_bundle_is_valid_fhir_r4_and_every_reference_resolves_inside_it(api_client_for, case):
    data = export(api_client_for(case["patient"].owner), case["patient"])

    bundle = Bundle.model_validate(data)  # raises on anything R4(B) does not allow

    assert bundle.type == "collection"
    full_urls = {entry["fullUrl"] for entry in data["entry"]}
    assert len(full_urls) == len(data["entry"])
    found = list(references(data))
    assert found and set(found) <= full_urls
    kinds = [entry["resource"]["resourceType"] for entry in data["entry"]]
    # 1 patient, 1 lesion, 3 images, 1 model version, 3 results, 1 review, 1 histopathology
    assert {kind: kinds.count(kind) for kind in set(kinds)} == {
        "Patient": 1,
        "BodyStructure": 1,
        "Media": 3,
        "Device": 1,
        "Observation": 4,
        "DiagnosticReport": 1,
    }


def test_patient_lesion_and_images_carry_their_identifiers_codes_and_files(api_client_for, case):
    client = api_client_for(case["patient"].owner)
    data = export(client, case["patient"])

    (patient,) = resources(data, "Patient")
    assert patient["identifier"][0] | {"type": None} == {
        "use": "usual",
        "type": None,
        "system": settings.SKINPORTAL_MRN_SYSTEM,
        "value": "MRN-4711",
    }
    assert patient["gender"] == "female"
    assert patient["name"][0]["family"] == "Lovelace"
    (lesion,) = resources(data, "BodyStructure")
    assert lesion["location"]["coding"][0] == {
        "system": codes.SNOMED,
        "code": "371311000",
        "display": "Skin of upper extremity",
    }
    media = resources(data, "Media")
    assert [m["createdDateTime"] for m in media] == ["2026-01-15", "2026-03-02", "2026-03-02"]
    assert [m["modality"]["coding"][0]["code"] for m in media] == ["DMS", "DMS", "XC"]
    file_url = media[0]["content"]["url"]
    assert file_url.endswith(reverse("api:image-file", kwargs={"pk": case["images"][0].pk}))
    assert client.get(file_url).status_code == 200  # the access-controlled file endpoint


def test_a_result_has_each_class_probability_the_risk_and_the_model_version(api_client_for, case):
    data = export(api_client_for(case["patient"].owner), case["patient"])
    media_url = {m["identifier"][0]["value"]: None for m in resources(data, "Media")}
    assert media_url

    results = [o for o in resources(data, "Observation") if o["code"]["coding"][0]["system"] == codes.SKINPORTAL_SYSTEM]
    high = next(
        o for o in results if "valueCodeableConcept" in o and o["interpretation"][0]["coding"][0]["code"] == "H"
    )
    assert high["valueCodeableConcept"]["coding"][0]["code"] == codes.DIAGNOSES["MEL"].code
    probabilities = {c["code"]["text"]: c["valueQuantity"]["value"] for c in high["component"]}
    assert probabilities == pytest.approx({"BCC": 0.05, "MEL": 0.7, "NV": 0.25})
    (device,) = resources(data, "Device")
    assert device["version"][0]["value"] == "1.1.0"
    assert high["method"]["text"] == "skinportal-mobilenetv2 1.1.0"
    assert high["status"] == "final"


def test_a_withheld_result_is_exported_as_such_without_its_figures(api_client_for, admin_user, case):
    # Even an admin (who may see withheld figures in the app) gets none in an export.
    data = export(api_client_for(admin_user), case["patient"])

    withheld = [o for o in resources(data, "Observation") if "dataAbsentReason" in o]
    assert len(withheld) == 1
    (observation,) = withheld
    assert not {"valueCodeableConcept", "component", "interpretation"} & set(observation)
    assert "Withheld" in observation["dataAbsentReason"]["text"]
    assert "out of focus" in json.dumps(observation["note"])
    text = json.dumps(observation)
    for figure in ("0.123", "0.654", "0.223", "12.3", "65.4"):
        assert figure not in text


def test_reviews_and_histopathology_point_at_what_they_judged(api_client_for, case):
    data = export(api_client_for(case["patient"].owner), case["patient"])
    by_url = {entry["fullUrl"]: entry["resource"] for entry in data["entry"]}

    (report,) = resources(data, "DiagnosticReport")
    judged = by_url[report["result"][0]["reference"]]
    assert judged["interpretation"][0]["coding"][0]["code"] == "H"  # the high-risk result it reviewed
    assert "Short-term follow-up in 3 months" in report["conclusion"]
    histopathology = next(o for o in resources(data, "Observation") if o["code"]["coding"][0]["system"] == codes.LOINC)
    assert histopathology["valueCodeableConcept"]["coding"][0]["code"] == codes.DIAGNOSES["NV"].code
    assert by_url[histopathology["focus"][0]["reference"]]["resourceType"] == "BodyStructure"
