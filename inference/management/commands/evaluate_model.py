from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from inference import evaluation


class Command(BaseCommand):
    help = (
        "Evaluate a model (a .keras path with its card and .tflite beside it, or name:version of a registered "
        "version) with its LiteRT export and the card's temperature on a labelled image folder; write metrics.json, "
        "predictions.csv and figures, and store the metrics on the registered version."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("model", help="A .keras path or name:version.")
        parser.add_argument("--images", type=Path, required=True)
        parser.add_argument("--labels", type=Path, required=True, help="image,label[,source] or ISIC one-hot CSV.")
        parser.add_argument(
            "--split",
            choices=["all", "validation", "test"],
            default="all",
            help="Only the ids the card records for this split (default: every labelled image found).",
        )
        parser.add_argument("--output-dir", type=Path, required=True)
        parser.add_argument("--bootstrap", type=int, default=1000, help="Resamples for the 95%% intervals (0: none).")
        parser.add_argument("--seed", type=int, default=0, help="Seed of the bootstrap.")
        parser.add_argument("--threads", type=int, default=2, help="LiteRT threads.")
        parser.add_argument(
            "--metrics-key", help="Key of these metrics in the card / ModelVersion (default: the split)."
        )
        parser.add_argument("--update-card", action="store_true", help="Also write the metrics into the model card.")
        parser.add_argument("--no-store", action="store_true", help="Do not store the metrics on a ModelVersion.")

    def handle(self, *args, **options) -> None:
        try:
            metrics = evaluation.evaluate(
                model=options["model"],
                images_dir=options["images"],
                labels_path=options["labels"],
                output_dir=options["output_dir"],
                split=options["split"],
                n_bootstrap=options["bootstrap"],
                seed=options["seed"],
                num_threads=options["threads"],
                update_card=options["update_card"],
                store=not options["no_store"],
                metrics_key=options["metrics_key"],
                log=self.stdout.write,
            )
        except (ValueError, LookupError, FileNotFoundError) as error:
            raise CommandError(str(error)) from error
        auc = ", ".join(f"{label} {value:.3f}" for label, value in metrics["auc"].items() if value is not None)
        self.stdout.write(f"n={metrics['n']} balanced accuracy {metrics['balanced_accuracy']:.3f}; AUC {auc}")
