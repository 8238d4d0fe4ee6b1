from django.urls import path

from . import views

app_name = "cases"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("patients/", views.patient_list, name="patient-list"),
    path("patients/new/", views.patient_create, name="patient-create"),
    path("patients/<int:pk>/", views.patient_detail, name="patient-detail"),
    path("patients/<int:pk>/edit/", views.patient_update, name="patient-update"),
    path("patients/<int:pk>/share/", views.patient_share, name="patient-share"),
    path("patients/<int:pk>/share/<int:user_pk>/revoke/", views.patient_unshare, name="patient-unshare"),
    path("patients/<int:patient_pk>/lesions/new/", views.lesion_create, name="lesion-create"),
    path("lesions/<int:pk>/", views.lesion_detail, name="lesion-detail"),
    path("lesions/<int:pk>/edit/", views.lesion_update, name="lesion-update"),
    path("lesions/<int:pk>/compare/", views.lesion_compare, name="lesion-compare"),
    path("lesions/<int:pk>/compare/overlay/", views.lesion_compare_overlay, name="lesion-compare-overlay"),
    path("lesions/<int:pk>/compare/assess/", views.lesion_assess_change, name="lesion-assess-change"),
    path("lesions/<int:lesion_pk>/images/new/", views.image_upload, name="image-upload"),
    path("images/<int:pk>/", views.image_detail, name="image-detail"),
    path("images/<int:pk>/file/", views.image_file, name="image-file"),
    path("images/<int:pk>/thumbnail/", views.image_thumbnail, name="image-thumbnail"),
]
