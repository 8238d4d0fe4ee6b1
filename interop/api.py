"""API endpoints of the exports: a PDF report per lesion and per patient, a patient's FHIR R4
bundle, an image's DICOM file and a visit's DICOM study (ZIP). Thin: ``interop.exports`` does
the work through the access rule (others' records are 404); the access log records each."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.views import APIView

from core.api import IgnoreAcceptHeader, error_response

from . import exports

NOT_FOUND = error_response("No such record, or not one you may see.")
TAGS = ["exports"]


class ExportView(APIView):
    """A file download: the body is the file whatever the client accepts; errors are JSON."""

    content_negotiation_class = IgnoreAcceptHeader


def _pdf(description: str) -> dict:
    return {
        (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description=description),
        404: NOT_FOUND,
    }


class LesionReportView(ExportView):
    @extend_schema(
        summary="The lesion's PDF report (all visits)",
        description=(
            "Patient identifiers, the site, each visit's images with their heatmaps, the model's result with "
            "its version and image quality (a withheld result says so, without figures), the intended use, "
            "review decisions, histopathology, the next follow-up, and who generated it when."
        ),
        responses=_pdf("The report (A4)."),
        tags=TAGS,
    )
    def get(self, request: Request, pk: int):
        return exports.lesion_report_pdf(user=request.user, lesion_id=pk).response()


class PatientReportView(ExportView):
    @extend_schema(
        summary="The patient's PDF report (every lesion case)",
        responses=_pdf("The report (A4), one section per lesion case."),
        tags=TAGS,
    )
    def get(self, request: Request, pk: int):
        return exports.patient_report_pdf(user=request.user, patient_id=pk).response()


class PatientFhirView(ExportView):
    @extend_schema(
        summary="The patient's records as an HL7 FHIR R4 Bundle (collection)",
        description=(
            "Patient, a BodyStructure per lesion (SNOMED CT site), a Media per image, a Device per model "
            "version, an Observation per succeeded prediction (withheld results without figures, with a "
            "dataAbsentReason), a DiagnosticReport per review and an Observation per histopathology result. "
            "References resolve inside the bundle (urn:uuid). See docs/interoperability.md."
        ),
        responses={
            (200, "application/fhir+json"): OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="A FHIR R4 Bundle of type collection.",
                examples=[
                    OpenApiExample(
                        "Bundle (shortened)",
                        value={
                            "resourceType": "Bundle",
                            "type": "collection",
                            "entry": [
                                {
                                    "fullUrl": "urn:uuid:3f0c2a36-0c55-5c1e-9d7a-6a1b4c2d8e90",
                                    "resource": {"resourceType": "Patient", "birthDate": "1970-01-01"},
                                }
                            ],
                        },
                    )
                ],
            ),
            404: NOT_FOUND,
        },
        tags=TAGS,
    )
    def get(self, request: Request, pk: int):
        return exports.patient_fhir(
            user=request.user, patient_id=pk, absolute_url=request.build_absolute_uri
        ).response()


class ImageDicomView(ExportView):
    @extend_schema(
        summary="The image as a DICOM file",
        description=(
            "Dermoscopic Photography Image Storage (1.2.840.10008.5.1.4.1.1.77.1.7) for a dermoscopic image, VL "
            "Photographic Image Storage (1.2.840.10008.5.1.4.1.1.77.1.4) for a clinical close-up; the stored JPEG "
            "as its pixel data; UIDs stable, under the configured organisation root."
        ),
        responses={
            (200, "application/dicom"): OpenApiResponse(OpenApiTypes.BINARY, description="A DICOM Part 10 file."),
            404: NOT_FOUND,
        },
        tags=TAGS,
    )
    def get(self, request: Request, pk: int):
        return exports.image_dicom(user=request.user, image_id=pk).response()


class VisitQuerySerializer(serializers.Serializer):
    visit = serializers.DateField(required=False, help_text="The visit date; the latest visit by default.")


class LesionDicomView(ExportView):
    @extend_schema(
        summary="One visit of the lesion as a DICOM study (ZIP)",
        description="Every image of the visit as a DICOM file, one series per modality, in a ZIP.",
        parameters=[
            OpenApiParameter(
                "visit", OpenApiTypes.DATE, description="The visit date (YYYY-MM-DD); the latest visit by default."
            )
        ],
        responses={
            (200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY, description="The study's DICOM files."),
            400: error_response("`visit` is not a date."),
            404: NOT_FOUND,
        },
        tags=TAGS,
    )
    def get(self, request: Request, pk: int):
        query = VisitQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return exports.visit_dicom_zip(
            user=request.user, lesion_id=pk, visit=query.validated_data.get("visit")
        ).response()
