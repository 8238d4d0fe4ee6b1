from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from cases import selectors as case_selectors
from tracking import services


class Command(BaseCommand):
    help = (
        "Measure the lesion on the images of one lesion, one patient or all images with the current "
        "algorithm (images measured with it already are left as they are), and compare each with the "
        "visits beside it. For images stored before measuring existed, or after a new algorithm version."
    )

    def add_arguments(self, parser) -> None:
        scope = parser.add_mutually_exclusive_group(required=True)
        scope.add_argument("--lesion", type=int, help="Images of this lesion (id).")
        scope.add_argument("--patient", type=int, help="Images of this patient (id).")
        scope.add_argument("--all", action="store_true", help="Every image.")

    def handle(self, *args, lesion=None, patient=None, all=False, **options) -> None:
        images = case_selectors.images_in_scope(lesion_id=lesion, patient_id=patient)
        total = images.count()
        if total == 0:
            raise CommandError("No images in that scope.")
        failed = 0
        for image_id in tqdm(list(images.values_list("pk", flat=True)), desc="Measuring", unit="image"):
            measurement = services.measurement_run(image_id=image_id)
            failed += measurement is not None and not measurement.succeeded
        self.stdout.write(
            f"{total} image{'s' if total != 1 else ''} measured; {failed} could not be (see each image's page)."
        )
