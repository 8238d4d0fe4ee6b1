import json
import logging
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from inference import runtime, selectors
from inference.models import ModelVersion
from inference.services import model_version_set_metrics
from skinml.engine import sha256_of_file
from skinml.evaluate import EvaluationTarget, add_metrics_to_card, evaluate, target_from_keras_path

logger = logging.getLogger(__name__)


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
        store = not options["no_store"]
        key = options["metrics_key"] or options["split"]
        try:
            target, version = self._target(options["model"], look_up_version=store)
            metrics = evaluate(
                target=target,
                images_dir=options["images"],
                labels_path=options["labels"],
                output_dir=options["output_dir"],
                split=options["split"],
                n_bootstrap=options["bootstrap"],
                seed=options["seed"],
                num_threads=options["threads"],
                log=self.stdout.write,
            )
            if store and version is not None:
                model_version_set_metrics(model_version=version, metrics={**(version.metrics or {}), key: metrics})
                self.stdout.write(f"Stored the metrics on {version} under {key!r}")
            if options["update_card"]:
                add_metrics_to_card(card_path=target.card_path, key=key, metrics=metrics)
                self.stdout.write(f"Updated {target.card_path} (metrics[{key!r}])")
        except (ValueError, LookupError, FileNotFoundError) as error:
            raise CommandError(str(error)) from error
        auc = ", ".join(f"{label} {value:.3f}" for label, value in metrics["auc"].items() if value is not None)
        self.stdout.write(f"n={metrics['n']} balanced accuracy {metrics['balanced_accuracy']:.3f}; AUC {auc}")

    def _target(self, reference: str, *, look_up_version: bool) -> tuple[EvaluationTarget, ModelVersion | None]:
        """A ``.keras`` path (card and LiteRT export beside it) or ``name:version`` of a registered
        ModelVersion. A path whose card names a version registered with the same file gets that
        version too, so its metrics can be stored (looked up only with ``look_up_version``)."""
        path = Path(reference)
        if path.suffix == ".keras" or path.exists():
            target = target_from_keras_path(path)
            return target, (self._registered_version_of(path, card=target.card) if look_up_version else None)
        version = selectors.model_version_by_name(reference=reference)
        if version is None:
            raise LookupError(f"{reference!r} is neither a .keras file nor a registered name:version")
        runtime_path = runtime.runtime_path(version)
        card_path = runtime.card_path(version)
        target = EvaluationTarget(
            card=dict(version.card) or json.loads(card_path.read_text()),
            runtime_path=runtime_path,
            card_path=card_path if card_path.is_file() else None,
        )
        return target, version

    def _registered_version_of(self, keras_path: Path, *, card: dict) -> ModelVersion | None:
        """The registered version the card names, if it was registered with this very file. When
        the database cannot be read the evaluation still runs, but says the metrics are not stored."""
        try:
            version = selectors.model_version_by_name(reference=f"{card['name']}:{card['version']}")
        except DatabaseError as error:
            logger.warning("Could not look up %s %s: %s", card["name"], card["version"], error)
            self.stderr.write(
                f"Could not look up {card['name']} {card['version']} in the database "
                f"({type(error).__name__}: {error}); the metrics will not be stored on a model version."
            )
            return None
        if version is not None and version.sha256 != sha256_of_file(keras_path):
            return None
        return version
