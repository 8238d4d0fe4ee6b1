"""Calibration: the negative log-likelihood, temperature scaling, and the one confidence binning
behind both the expected calibration error and the reliability diagram."""

from __future__ import annotations

import math

import numpy as np

ECE_BINS = 15


def negative_log_likelihood(*, logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    shifted = scaled - scaled.max(axis=1, keepdims=True)
    log_probabilities = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_probabilities[np.arange(len(labels)), np.asarray(labels, dtype=int)].mean())


def fit_temperature(*, logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature T minimising the negative log-likelihood of softmax(logits / T)."""
    from scipy.optimize import minimize_scalar

    result = minimize_scalar(
        lambda log_t: negative_log_likelihood(logits=logits, labels=labels, temperature=math.exp(log_t)),
        bounds=(math.log(0.05), math.log(20.0)),
        method="bounded",
        options={"xatol": 1e-5},
    )
    return float(math.exp(result.x))


def reliability_bins(*, probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> list[dict]:
    """Equal-width bins of the top-label confidence (bin b holds (b/B, (b+1)/B]) with their
    count, mean confidence and accuracy (None when empty)."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == np.asarray(labels)
    index = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    result = []
    for b in range(bins):
        members = index == b
        result.append(
            {
                "lower": b / bins,
                "upper": (b + 1) / bins,
                "count": int(members.sum()),
                "confidence": float(confidence[members].mean()) if members.any() else None,
                "accuracy": float(correct[members].mean()) if members.any() else None,
            }
        )
    return result


def expected_calibration_error(*, probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """Top-label ECE with equal-width confidence bins: Σ_b (n_b / n) |accuracy_b - confidence_b|."""
    total = len(labels)
    error = 0.0
    for b in reliability_bins(probabilities=probabilities, labels=labels, bins=bins):
        if b["count"]:
            error += b["count"] / total * abs(b["accuracy"] - b["confidence"])
    return float(error)
