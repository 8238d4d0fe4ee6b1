from django.urls import path

from . import views

app_name = "reviews"

urlpatterns = [
    path("reviews/", views.review_queue, name="queue"),
    path("reviews/outcomes/", views.outcomes, name="outcomes"),
    path("lesions/<int:lesion_pk>/review/", views.review_create, name="review"),
    path("lesions/<int:lesion_pk>/histopathology/", views.histopathology_add, name="histopathology-add"),
]
