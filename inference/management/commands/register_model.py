from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from inference import services


class Command(BaseCommand):
    help = (
        "Register a Keras model file (with <name>.card.json beside it) as a new model version. "
        "Its LiteRT export is made if missing and checked against the Keras model."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", type=Path, help="The .keras file.")
        parser.add_argument("--activate", action="store_true", help="Make it the active version.")
        parser.add_argument(
            "--if-new",
            action="store_true",
            help="Do nothing (and succeed) when this name and version are registered already.",
        )

    def handle(self, *args, path: Path, activate: bool, if_new: bool, **options) -> None:
        try:
            version = services.model_version_register(keras_path=path, activate=activate, skip_registered=if_new)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        state = "active" if version.is_active else "not active"
        self.stdout.write(f"{version} registered ({state}); SHA-256 {version.sha256}")
