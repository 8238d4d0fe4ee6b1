from django.urls import path

from . import views

app_name = "inference"

urlpatterns = [
    path("images/<int:image_pk>/analysis/", views.image_analysis, name="image-analysis"),
    path("images/<int:image_pk>/predict/", views.image_predict, name="image-predict"),
    path("predictions/<int:pk>/heatmap/", views.prediction_heatmap, name="prediction-heatmap"),
]
