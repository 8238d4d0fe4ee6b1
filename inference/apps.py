from django.apps import AppConfig


class InferenceConfig(AppConfig):
    name = "inference"
    verbose_name = "Inference: model versions and predictions"

    def ready(self) -> None:
        from cases.models import Lesion, LesionImage
        from core import history

        from .models import ModelVersion, Prediction

        # A lesion's history holds the predictions of its images (deleted images' too).
        history.register(Prediction, of=Lesion, object_type="prediction", field="image_id", through=LesionImage)
        history.register(ModelVersion, of=ModelVersion, object_type="model_version")
