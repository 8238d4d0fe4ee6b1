from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from skinml.card import CardError, RuntimeMismatchError
from skinml.quality_fit import fit_for_existing_model


class Command(BaseCommand):
    help = (
        "Fit the image quality / out-of-scope gate of a trained model (.keras with its card): OOD statistics on the "
        "card's training split, thresholds on its validation split; write <model>.keras, a runtime export with the "
        "features output, <model>.ood.npz and the card with its quality section into --output-dir. No database: "
        "register the result with register_model."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("model", type=Path, help="The .keras file (its .card.json beside it).")
        parser.add_argument("--images", type=Path, required=True, help="Folder of <image id>.jpg files.")
        parser.add_argument("--labels", type=Path, required=True, help="The labels CSV the model was trained on.")
        parser.add_argument("--metadata", type=Path, help="lesion_id,image_id CSV (default: the card's).")
        parser.add_argument("--output-dir", type=Path, required=True, help="Where to write (may be the model folder).")

    def handle(self, *args, model: Path, images: Path, labels: Path, metadata, output_dir: Path, **options) -> None:
        try:
            card_path = fit_for_existing_model(
                model, images, labels, output_dir=output_dir, metadata=metadata, log=self.stdout.write
            )
        except (CardError, RuntimeMismatchError, FileNotFoundError, KeyError, ValueError) as error:
            raise CommandError(str(error)) from error
        self.stdout.write(self.style.SUCCESS(f"Wrote {card_path}"))
