from django.apps import AppConfig


class TrackingConfig(AppConfig):
    name = "tracking"
    verbose_name = "Tracking: lesion measurements and change between visits"

    def ready(self) -> None:
        from cases.models import Lesion
        from core import history

        from .models import ChangeAssessment

        history.register(ChangeAssessment, of=Lesion, object_type="change_assessment", field="lesion_id")
