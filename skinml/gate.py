"""The image quality and out-of-scope gate: one verdict per uploaded image, from the image
checks (:mod:`skinml.quality`) and, when the model gives its pooled features and the model
version has OOD statistics, the energy and Mahalanobis scores (:mod:`skinml.ood`)."""

from __future__ import annotations

import numpy as np

from .ood import OODStatistics, energy_score, mahalanobis_score
from .quality import SEVERITY_ORDER, Finding, QualityVerdict, Status, finding, image_checks, verdict


def ood_findings(
    *,
    logits: np.ndarray | None,
    features: np.ndarray | None,
    statistics: OODStatistics | None,
    temperature: float = 1.0,
) -> tuple[dict[str, float], list[Finding]]:
    """The OOD scores that can be computed and one "out_of_distribution" finding with the worst
    severity any calibrated score reaches (none when no score passes its thresholds)."""
    if statistics is None:
        return {}, []
    scores: dict[str, float] = {}
    if logits is not None:
        scores["energy"] = float(energy_score(np.asarray(logits).reshape(-1), temperature=temperature))
    if features is not None and np.asarray(features).size == statistics.dimensions:
        scores["mahalanobis"] = float(mahalanobis_score(statistics, np.asarray(features).reshape(-1)))
    worst: Status = "ok"
    for name, value in scores.items():
        levels = statistics.thresholds.get(name)
        if not levels:
            continue
        severity: Status = (
            "rejected" if value > levels["rejected"] else "warning" if value > levels["warning"] else "ok"
        )
        if SEVERITY_ORDER[severity] > SEVERITY_ORDER[worst]:
            worst = severity
    return scores, ([finding("out_of_distribution", worst)] if worst != "ok" else [])


def assess(
    *,
    rgb: np.ndarray,
    logits: np.ndarray | None = None,
    features: np.ndarray | None = None,
    statistics: OODStatistics | None = None,
    temperature: float = 1.0,
) -> QualityVerdict:
    """The verdict on one image (HxWx3 uint8 RGB, the upload as decoded, before resizing):
    :func:`skinml.quality.image_checks`, plus the OOD scores when ``statistics`` is given (energy
    from ``logits`` at the card's ``temperature``, Mahalanobis from ``features``) and the
    "out_of_distribution" finding when a score passes its thresholds. Status = worst finding."""
    scores, findings = image_checks(rgb)
    extra_scores, extra_findings = ood_findings(
        logits=logits, features=features, statistics=statistics, temperature=temperature
    )
    return verdict(findings=[*findings, *extra_findings], scores={**scores, **extra_scores})
