from django.apps import AppConfig


class InferenceConfig(AppConfig):
    name = "inference"
    verbose_name = "Inference: model versions and predictions"

    def ready(self) -> None:
        from core import history

        from .models import ModelVersion

        history.register(ModelVersion, of=ModelVersion, object_type="model_version")
