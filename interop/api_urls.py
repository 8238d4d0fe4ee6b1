"""API routes of the exports, included under /api/v1/ by skinportal/api_urls.py."""

from django.urls import path

from . import api

urlpatterns = [
    path("patients/<int:pk>/report/", api.PatientReportView.as_view(), name="patient-report"),
    path("patients/<int:pk>/fhir/", api.PatientFhirView.as_view(), name="patient-fhir"),
    path("lesions/<int:pk>/report/", api.LesionReportView.as_view(), name="lesion-report"),
    path("lesions/<int:pk>/dicom/", api.LesionDicomView.as_view(), name="lesion-dicom"),
    path("images/<int:pk>/dicom/", api.ImageDicomView.as_view(), name="image-dicom"),
]
