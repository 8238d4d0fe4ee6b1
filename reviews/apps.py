from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "reviews"
    verbose_name = "Case review"

    def ready(self) -> None:
        from cases.models import Lesion
        from core import history

        from .models import Histopathology, Review

        history.register(Review, of=Lesion, object_type="review", field="lesion_id")
        history.register(Histopathology, of=Lesion, object_type="histopathology", field="lesion_id")
