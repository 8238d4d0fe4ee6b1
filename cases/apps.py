from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = "Patients and lesion cases"

    def ready(self) -> None:
        from core import history
        from inference.models import Prediction

        from .models import Lesion, LesionImage, Patient, PatientShare

        # A patient's history: the record and its care team. A lesion's: the case and its images
        # (reviews adds its decisions and histopathology).
        history.register(Patient, of=Patient, object_type="patient")
        history.register(PatientShare, of=Patient, object_type="share", field="patient_id")
        history.register(Lesion, of=Lesion, object_type="lesion")
        history.register(LesionImage, of=Lesion, object_type="image", field="lesion_id")
        # ... and the analyses of its images (deleted images' too).
        history.register(Prediction, of=Lesion, object_type="prediction", field="image_id", through=LesionImage)
