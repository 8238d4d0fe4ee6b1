"""Out-of-distribution scores of the classifier's own output: the energy of its logits and the
Mahalanobis distance of its pooled features from the training classes, with their statistics
(fitted on the training split) and thresholds (calibrated on the validation split).

Both scores are oriented so that HIGHER means MORE UNUSUAL. NumPy only.

- Energy (Liu et al. 2020): E(x) = −T·logsumexp(f(x)/T). In-distribution inputs get large
  logits, hence a low (very negative) energy.
- Mahalanobis (Lee et al. 2018): min over classes c of sqrt((z − μ_c)ᵀ Σ⁻¹ (z − μ_c)) with the
  pooled within-class covariance Σ of the training features, shrunk towards a scaled identity
  (Ledoit–Wolf style, fixed weight) so that 1280 dimensions from ~2,000 images stay invertible.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import numpy as np

from .metrics import wilson_interval

SCORES = ("energy", "mahalanobis")
#: Weight of the scaled identity in the shrunk covariance: (1 − s)·Σ + s·(tr Σ / D)·I.
SHRINKAGE = 0.1


@dataclass(frozen=True)
class OODStatistics:
    class_means: np.ndarray  # (classes, D)
    precision: np.ndarray  # (D, D): inverse of the shrunk pooled within-class covariance
    thresholds: dict[str, dict[str, float]] = field(default_factory=dict)
    # {"energy": {"warning": t, "rejected": t2}, "mahalanobis": {...}}; scores ABOVE are flagged

    def save(self, path: Path) -> None:
        """An ``.npz`` (no pickles): the arrays and one float array per threshold."""
        arrays = {"class_means": self.class_means, "precision": self.precision}
        for score, levels in self.thresholds.items():
            for level, value in levels.items():
                arrays[f"threshold__{score}__{level}"] = np.array(value, dtype=np.float64)
        with Path(path).open("wb") as handle:
            np.savez(handle, **arrays)

    @classmethod
    def load(cls, path: Path) -> OODStatistics:
        with np.load(Path(path), allow_pickle=False) as data:
            thresholds: dict[str, dict[str, float]] = {}
            for key in data.files:
                if key.startswith("threshold__"):
                    _, score, level = key.split("__")
                    thresholds.setdefault(score, {})[level] = float(data[key])
            return cls(
                class_means=data["class_means"].astype(np.float64),
                precision=data["precision"].astype(np.float64),
                thresholds=thresholds,
            )

    @cached_property
    def projected_means(self) -> tuple[np.ndarray, np.ndarray]:
        """(P·mean of each class (classes, D), meanᵀ·P·mean of each class (classes,))."""
        projected = self.class_means @ self.precision
        return projected, (projected * self.class_means).sum(axis=1)

    @property
    def dimensions(self) -> int:
        return int(self.class_means.shape[1])


def energy_score(logits: np.ndarray, *, temperature: float = 1.0) -> float | np.ndarray:
    """The energy −T·logsumexp(logits/T) of one logit vector (a float) or of each row of an
    (n, classes) array. HIGHER = MORE UNUSUAL (an in-distribution image has a confident, large
    logit and a low energy)."""
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    top = scaled.max(axis=-1, keepdims=True)
    lse = np.log(np.exp(scaled - top).sum(axis=-1)) + top[..., 0]
    energy = -temperature * lse
    return float(energy) if np.ndim(energy) == 0 else energy


def mahalanobis_score(statistics: OODStatistics, features: np.ndarray) -> float | np.ndarray:
    """The smallest Mahalanobis distance over the classes of one feature vector (D,) (a float) or
    of each row of (n, D). HIGHER = MORE UNUSUAL."""
    features = np.asarray(features, dtype=np.float64)
    single = features.ndim == 1
    rows = np.atleast_2d(features)
    # (f - m)ᵀ P (f - m) = fᵀPf - 2 fᵀ(Pm) + mᵀPm: one matrix-vector product per image (BLAS),
    # not one per class; Pm and mᵀPm are the statistics' own.
    projected_means, mean_terms = statistics.projected_means
    squared = (rows @ statistics.precision * rows).sum(axis=1)[:, None] - 2 * rows @ projected_means.T + mean_terms
    score = np.sqrt(np.maximum(squared.min(axis=1), 0.0))
    return float(score[0]) if single else score


def fit_statistics(*, features: np.ndarray, labels: np.ndarray, num_classes: int) -> OODStatistics:
    """Class means and the shrunk pooled within-class precision of the (training) ``features``
    (n, D) with integer ``labels``; no thresholds until :func:`calibrate_thresholds`."""
    features = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels, dtype=int)
    dims = features.shape[1]
    means = np.zeros((num_classes, dims))
    centred = np.empty_like(features)
    for c in range(num_classes):
        members = labels == c
        if not members.any():
            raise ValueError(f"class {c} has no training features")
        means[c] = features[members].mean(axis=0)
        centred[members] = features[members] - means[c]
    covariance = centred.T @ centred / max(len(features) - num_classes, 1)
    scale = np.trace(covariance) / dims
    shrunk = (1 - SHRINKAGE) * covariance + SHRINKAGE * scale * np.eye(dims)
    precision = np.linalg.inv(shrunk)
    return OODStatistics(class_means=means, precision=(precision + precision.T) / 2, thresholds={})


def ood_scores(
    statistics: OODStatistics, *, logits: np.ndarray, features: np.ndarray, temperature: float = 1.0
) -> dict[str, np.ndarray]:
    """Both scores of each row of ``logits`` (n, classes) and ``features`` (n, D)."""
    return {
        "energy": np.atleast_1d(energy_score(logits, temperature=temperature)),
        "mahalanobis": np.atleast_1d(mahalanobis_score(statistics, features)),
    }


def calibrate_thresholds(
    statistics: OODStatistics,
    *,
    logits: np.ndarray,
    features: np.ndarray,
    temperature: float = 1.0,
    rejected_rate: float = 0.05,
    warning_rate: float = 0.10,
    already_rejected: np.ndarray | None = None,
    already_warned: np.ndarray | None = None,
) -> OODStatistics:
    """Thresholds from in-distribution (VALIDATION) images such that at most ``rejected_rate`` of
    in-distribution images (the 95 % upper bound from the validation ones) pass a "rejected"
    threshold of EITHER score (and at most ``warning_rate`` a "warning"
    one): each score's threshold is its k-th largest value, with the largest k (the same for both
    scores) whose union of flagged images stays within the rate. Images that the gate flags
    already for another reason (``already_rejected`` / ``already_warned``, warned or worse: the
    image checks) count in that union, so that the whole gate keeps to the rate."""
    if not 0 < rejected_rate <= warning_rate < 1:
        raise ValueError("need 0 < rejected_rate <= warning_rate < 1")
    scores = ood_scores(statistics, logits=logits, features=features, temperature=temperature)
    n = len(next(iter(scores.values())))
    levels = {
        "rejected": _joint_thresholds(scores, _confident_budget(rejected_rate, n), already=already_rejected),
        "warning": _joint_thresholds(scores, int(np.floor(warning_rate * n)), already=already_warned),
    }
    # A warning never needs more than a rejection: where the warning budget is spent already
    # (the image checks warn often), a score warns only where it rejects.
    thresholds = {
        name: {"warning": min(levels["warning"][name], levels["rejected"][name]), "rejected": levels["rejected"][name]}
        for name in scores
    }
    return replace(statistics, thresholds=thresholds)


def _confident_budget(rate: float, n: int) -> int:
    """How many of ``n`` validation images may be rejected so that the rejection rate of new
    in-distribution images stays within ``rate`` with 95 % confidence (Wilson upper bound): a
    rate met only on the validation images themselves is exceeded on others about half the time."""
    budget = int(np.floor(rate * n))
    while budget > 0 and wilson_interval(budget, n)[1] > rate:
        budget -= 1
    return budget


def _joint_thresholds(scores: dict[str, np.ndarray], budget: int, *, already: np.ndarray | None) -> dict[str, float]:
    n = len(next(iter(scores.values())))
    already = np.zeros(n, dtype=bool) if already is None else np.asarray(already, dtype=bool)
    descending = {name: np.sort(values)[::-1] for name, values in scores.items()}
    for k in range(budget, -1, -1):
        chosen = {name: float(values[min(k, n - 1)]) for name, values in descending.items()}
        flagged = already.copy()
        for name, values in scores.items():
            flagged |= values > chosen[name]
        if flagged.sum() <= budget:
            return chosen
    return {name: float(values[0]) for name, values in descending.items()}


def flag_rates(
    statistics: OODStatistics,
    *,
    logits: np.ndarray,
    features: np.ndarray,
    temperature: float = 1.0,
    already_rejected: np.ndarray | None = None,
    already_warned: np.ndarray | None = None,
) -> dict[str, float]:
    """Fraction of images each score flags ("<score>_rejected", "<score>_warning", and
    "rejected" / "warning_or_worse" by either score): for the model card. With the image checks'
    flags (``already_*``), also the whole gate's: "gate_rejected", "gate_warning_or_worse"."""
    scores = ood_scores(statistics, logits=logits, features=features, temperature=temperature)
    n = len(scores["energy"])
    any_rejected = np.zeros(n, dtype=bool)
    any_warning = np.zeros(n, dtype=bool)
    rates: dict[str, float] = {"images": n}
    for name, values in scores.items():
        levels = statistics.thresholds[name]
        rejected, warning = values > levels["rejected"], values > levels["warning"]
        any_rejected |= rejected
        any_warning |= warning
        rates[f"{name}_rejected"] = round(float(rejected.mean()), 5)
        rates[f"{name}_warning_or_worse"] = round(float(warning.mean()), 5)
    rates["rejected"] = round(float(any_rejected.mean()), 5)
    rates["warning_or_worse"] = round(float(any_warning.mean()), 5)
    if already_rejected is not None and already_warned is not None:
        rates["gate_rejected"] = round(float((any_rejected | already_rejected).mean()), 5)
        rates["gate_warning_or_worse"] = round(float((any_warning | already_warned | already_rejected).mean()), 5)
    return rates
