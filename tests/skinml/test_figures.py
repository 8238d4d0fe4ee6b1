"""The evaluation figures. No database."""

from __future__ import annotations

from skinml.figures import write_figures
from skinml.metrics import compute_metrics

from .test_metrics import HAND_LABELS, HAND_PROBABILITIES


def test_figures_are_written(tmp_path):
    metrics = compute_metrics(probabilities=HAND_PROBABILITIES, labels=HAND_LABELS, n_bootstrap=20)
    paths = write_figures(
        probabilities=HAND_PROBABILITIES, labels=HAND_LABELS, metrics=metrics, output_dir=tmp_path, title="example"
    )
    assert [path.name for path in paths] == ["roc.png", "confusion_matrix.png", "reliability.png"]
    assert all(path.read_bytes()[:4] == b"\x89PNG" for path in paths)
