from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from inference import selectors, services


class Command(BaseCommand):
    help = (
        "Give a registered model version out-of-scope statistics for the image quality gate "
        "(skinml.ood): the file must load; it is copied into the models folder and recorded with its "
        "SHA-256. Predictions made from then on use it."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("reference", help="The model version, as NAME:VERSION.")
        parser.add_argument("path", type=Path, help="The statistics file (written by fit_quality_gate).")

    def handle(self, *args, reference: str, path: Path, **options) -> None:
        model_version = selectors.model_version_by_name(reference=reference)
        if model_version is None:
            raise CommandError(f"No model version {reference!r} is registered (give NAME:VERSION).")
        try:
            model_version = services.model_version_attach_quality_statistics(model_version=model_version, path=path)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        self.stdout.write(
            f"{model_version}: quality statistics {model_version.quality_statistics_file} "
            f"(SHA-256 {model_version.quality_statistics_sha256}) recorded."
        )
