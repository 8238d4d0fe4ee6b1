from django.urls import path

from . import views

app_name = "interop"

urlpatterns = [
    path("patients/<int:pk>/report/", views.patient_report, name="patient-report"),
    path("lesions/<int:pk>/report/", views.lesion_report, name="lesion-report"),
    path("lesions/<int:pk>/dicom/", views.visit_dicom, name="visit-dicom"),
    path("images/<int:pk>/dicom/", views.image_dicom, name="image-dicom"),
]
