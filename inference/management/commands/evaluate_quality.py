from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from skinml.card import card_path_for, write_card
from skinml.evaluate import target_from_keras_path
from skinml.quality_eval import evaluate_gate, evaluation_summary
from skinml.quality_fit import ood_path_for


class Command(BaseCommand):
    help = (
        "Evaluate the image quality / out-of-scope gate of a model (.keras with its card, LiteRT export and, if "
        "fitted, <model>.ood.npz beside it) on its card's ISIC test split, synthetic degradations of those images, "
        "non-skin pictures and out-of-scope lesion types; write quality_eval.json and quality_eval.png. No database."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("model", type=Path, help="The .keras file.")
        parser.add_argument("--isic", type=Path, required=True, help="ISIC folder (labels.csv, images/).")
        parser.add_argument("--other", type=Path, help="Folder of lesion types the model does not know (isic-other).")
        parser.add_argument("--output-dir", type=Path, required=True)
        parser.add_argument("--max-images", type=int, help="Only the first N images of each folder (a quick run).")
        parser.add_argument(
            "--update-card", action="store_true", help="Record the figures in the card's quality section too."
        )

    def handle(
        self, *args, model: Path, isic: Path, other, output_dir: Path, max_images, update_card: bool, **options
    ) -> None:
        try:
            target = target_from_keras_path(model)
            ood_path = ood_path_for(model)
            figures = evaluate_gate(
                runtime_path=target.runtime_path,
                card=target.card,
                ood_path=ood_path if ood_path.is_file() else None,
                isic_dir=isic,
                other_dir=other,
                output_dir=output_dir,
                max_images=max_images,
                log=self.stdout.write,
            )
        except (FileNotFoundError, KeyError, ValueError) as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"False-reject rate on the ISIC test split: {figures['in_distribution']['rejected']:.1%}")
        for kind, summary in figures["kinds"].items():
            rejected, flagged = summary["rejected"], summary["warning_or_worse"]
            self.stdout.write(f"  {kind}: rejected {rejected:.1%}, warning or worse {flagged:.1%}")
        self.stdout.write(f"Wrote {output_dir / 'quality_eval.json'} and quality_eval.png")
        if update_card:
            if "quality" not in target.card:
                raise CommandError("The card has no quality section: fit the gate first (fit_quality_gate).")
            target.card["quality"]["evaluation"] = evaluation_summary(figures)
            write_card(card=target.card, path=card_path_for(model))
            self.stdout.write(f"Recorded the figures in {card_path_for(model)}")
