"""Code systems and mappings shared by the FHIR and DICOM exports (documented, with their
sources, in docs/interoperability.md). Plain data: no database.

Body sites: the ISIC ``anatom_site_general`` vocabulary (``cases.models.AnatomicSite``) mapped to
SNOMED CT body structures, from DICOM's Dermatology Anatomic Site list (PS3.16 CID 4029, "skin
of" concepts) where it has one; ``head/neck`` takes CID 4031's "Head and Neck". Where ISIC's
site has no single SNOMED CT concept (lateral torso, palms/soles, oral/genital, unknown) the
mapping is to a broader concept, and ``equivalence`` says so; the ISIC term always travels with
it as text.
"""

from __future__ import annotations

from dataclasses import dataclass

SNOMED = "http://snomed.info/sct"
SNOMED_DICOM = "SCT"  # the coding scheme designator of SNOMED CT in DICOM
LOINC = "http://loinc.org"
DICOM_DCM = "http://dicom.nema.org/resources/ontology/DCM"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
MEDIA_TYPE = "http://terminology.hl7.org/CodeSystem/media-type"
DATA_ABSENT_REASON = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
#: SkinPortal's own codes (risk levels, the classifier's classes, quality verdicts): not in any
#: standard code system, so they carry the site's URL as their system.
SKINPORTAL_SYSTEM = "urn:skinportal:codes"


@dataclass(frozen=True)
class Concept:
    code: str
    display: str
    equivalence: str = "equivalent"  # "equivalent" or "wider" (the concept covers more than the site)


#: ISIC anatomic site (``AnatomicSite`` value) → SNOMED CT body structure.
BODY_SITES: dict[str, Concept] = {
    "head/neck": Concept("774007", "Structure of head and/or neck"),
    "upper extremity": Concept("371311000", "Skin of upper extremity"),
    "lower extremity": Concept("371304004", "Skin of lower extremity"),
    "anterior torso": Concept("181491009", "Skin of anterior trunk"),
    "posterior torso": Concept("66643007", "Skin of back"),
    "lateral torso": Concept("86381001", "Skin of trunk", "wider"),
    "palms/soles": Concept("39937001", "Skin structure", "wider"),
    "oral/genital": Concept("39937001", "Skin structure", "wider"),
    "unknown": Concept("39937001", "Skin structure", "wider"),
}

#: Laterality ("left", "right", "bilateral") → SNOMED CT qualifier (DICOM CID 244) and DICOM's
#: Image Laterality (0020,0062). No laterality is recorded yet: ISIC's sites have none; the
#: body-map positions of issue 12 will supply it through ``interop.selectors``.
LATERALITY: dict[str, tuple[Concept, str]] = {
    "left": (Concept("7771000", "Left"), "L"),
    "right": (Concept("24028007", "Right"), "R"),
    "bilateral": (Concept("51440002", "Right and left"), "B"),
}

#: The classifier's classes (``inference.models.DiagnosisClass``) → SNOMED CT disorders, for the
#: components of a result and for histopathology and review diagnoses.
DIAGNOSES: dict[str, Concept] = {
    "BCC": Concept("254701007", "Basal cell carcinoma of skin"),
    "MEL": Concept("372244006", "Malignant melanoma"),
    "NV": Concept("400096001", "Melanocytic nevus"),
}

#: LOINC codes of what is exported.
LOINC_HISTOPATHOLOGY = Concept("22637-3", "Pathology report final diagnosis Narrative")
LOINC_DERMATOLOGY_NOTE = Concept("34111-5", "Dermatology Note")

#: The observation a classifier result is: SkinPortal's own code (no standard code names "a
#: deep-learning estimate of the probability of BCC, MEL and NV from a dermoscopic image").
RESULT_CODE = Concept("skin-lesion-classification", "Skin lesion classification (decision support)")
PROBABILITY_UNIT = {"unit": "probability", "system": "http://unitsofmeasure.org", "code": "1"}

#: The risk level as an observation interpretation (HL7 v3 ObservationInterpretation).
RISK_INTERPRETATION: dict[str, Concept] = {
    "high": Concept("H", "High"),
    "medium": Concept("I", "Intermediate"),
    "low": Concept("L", "Low"),
}


def body_site(anatomic_site: str) -> Concept:
    """The SNOMED CT concept of an ISIC site (an unknown value maps to "Skin structure")."""
    return BODY_SITES.get(anatomic_site, BODY_SITES["unknown"])
