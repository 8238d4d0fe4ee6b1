from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from tqdm import tqdm

from cases import selectors as case_selectors
from inference import selectors, services
from inference.models import ModelVersion


class Command(BaseCommand):
    help = (
        "Queue new predictions (kept beside the earlier ones) for the images of one lesion, one patient "
        "or all images, with the active model or a given version. Workers compute them; with the "
        "embedded default they run in-process as the command goes."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--model-version", help="NAME:VERSION or the id of a registered model version.")
        scope = parser.add_mutually_exclusive_group(required=True)
        scope.add_argument("--lesion", type=int, help="Images of this lesion (id).")
        scope.add_argument("--patient", type=int, help="Images of this patient (id).")
        scope.add_argument("--all", action="store_true", help="Every image.")

    def handle(self, *args, model_version=None, lesion=None, patient=None, all=False, **options) -> None:
        version = self._model_version(model_version)
        images = case_selectors.images_in_scope(lesion_id=lesion, patient_id=patient)
        total = images.count()
        if total == 0:
            raise CommandError("No images in that scope.")
        for image in tqdm(images.iterator(), total=total, desc=f"Queueing with {version}", unit="image"):
            with transaction.atomic():
                services.prediction_request(image=image, requested_by=None, model_version=version)
        self.stdout.write(f"{total} prediction{'s' if total != 1 else ''} queued with {version}.")

    def _model_version(self, reference: str | None) -> ModelVersion:
        if reference is None:
            version = ModelVersion.objects.active()
            if version is None:
                raise CommandError("No model version is active; name one with --model-version.")
            return version
        if reference.isdigit():
            version = ModelVersion.objects.filter(pk=int(reference)).first()
        else:
            version = selectors.model_version_by_name(reference=reference)
        if version is None:
            raise CommandError(f"No registered model version {reference!r}.")
        return version
