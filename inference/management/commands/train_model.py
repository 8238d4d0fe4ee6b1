from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from skinml.train import TrainingConfig, train


class Command(BaseCommand):
    help = (
        "Train the MobileNetV2 classifier (head, then the whole network with batch normalisation frozen) on a "
        "labelled image folder; write <output>.keras, its LiteRT export, and the model card (.card.json, .card.md)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--images", type=Path, required=True, help="Folder of <image id>.jpg files.")
        parser.add_argument(
            "--labels",
            type=Path,
            required=True,
            help="CSV: image,label[,source] (MEL/NV/BCC) or the official ISIC 2019 one-hot ground truth.",
        )
        parser.add_argument("--metadata", type=Path, help="CSV with lesion_id,image_id (HAM10000) for grouping.")
        parser.add_argument(
            "--init-weights", type=Path, help="Local MobileNetV2 .h5 loaded by layer name (else random)."
        )
        parser.add_argument(
            "--output", type=Path, help="The .keras file to write (default models/<name>-<version>.keras)."
        )
        parser.add_argument("--name", default="skinportal-mobilenetv2")
        parser.add_argument("--model-version", default="1.0.0", help="(Django reserves --version.)")
        parser.add_argument("--image-size", type=int, default=224)
        parser.add_argument("--alpha", type=float, default=1.0, help="MobileNetV2 width multiplier.")
        parser.add_argument("--dropout", type=float, default=0.2)
        parser.add_argument("--seed", type=int, default=42, help="Seeds the split, initialisation and augmentation.")
        parser.add_argument(
            "--epochs",
            type=int,
            help="Total epoch budget: a quarter (at least 1) for the head, the rest for fine-tuning; "
            "--head-epochs / --fine-tune-epochs override either part.",
        )
        parser.add_argument("--head-epochs", type=int)
        parser.add_argument("--fine-tune-epochs", type=int)
        parser.add_argument("--batch-size", type=int, default=32)
        parser.add_argument("--head-lr", type=float, default=1e-3)
        parser.add_argument("--fine-tune-lr", type=float, default=1e-4)
        parser.add_argument("--patience", type=int, default=3, help="Early stopping patience (epochs of val_loss).")
        parser.add_argument("--target-mel-sensitivity", type=float, default=0.90)
        parser.add_argument("--target-malignant-sensitivity", type=float, default=0.97)
        parser.add_argument("--max-images", type=int, help="Train on a seeded random subset (quick trials).")
        parser.add_argument(
            "--eager", action="store_true", help="Run eagerly: no graph tracing, slower steps (tiny smoke runs)."
        )

    def handle(self, *args, **options) -> None:
        head, fine_tune = 3, 8
        if options["epochs"] is not None:
            head = max(1, options["epochs"] // 4)
            fine_tune = max(0, options["epochs"] - head)
        head = options["head_epochs"] if options["head_epochs"] is not None else head
        fine_tune = options["fine_tune_epochs"] if options["fine_tune_epochs"] is not None else fine_tune
        name, version = options["name"], options["model_version"]
        output = options["output"] or Path(settings.SKINPORTAL_MODELS_DIR) / f"{name}-{version}.keras"
        if output.suffix != ".keras":
            raise CommandError("--output must end in .keras")
        config = TrainingConfig(
            images=options["images"],
            labels=options["labels"],
            output=output,
            metadata=options["metadata"],
            init_weights=options["init_weights"],
            name=name,
            version=version,
            image_size=options["image_size"],
            alpha=options["alpha"],
            dropout=options["dropout"],
            seed=options["seed"],
            batch_size=options["batch_size"],
            head_epochs=head,
            fine_tune_epochs=fine_tune,
            head_learning_rate=options["head_lr"],
            fine_tune_learning_rate=options["fine_tune_lr"],
            patience=options["patience"],
            target_mel_sensitivity=options["target_mel_sensitivity"],
            target_malignant_sensitivity=options["target_malignant_sensitivity"],
            max_images=options["max_images"],
            run_eagerly=options["eager"],
            verbose=1 if options["verbosity"] >= 1 else 0,
        )
        try:
            result = train(config=config, log=self.stdout.write)
        except (ValueError, FileNotFoundError) as error:
            raise CommandError(str(error)) from error
        card = result.card
        self.stdout.write(
            f"{card['name']} {card['version']}: temperature {card['temperature']:.3f}, "
            f"thresholds {card['thresholds']}, "
            f"validation balanced accuracy {card['metrics']['validation']['balanced_accuracy']:.3f}"
        )
