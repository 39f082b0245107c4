"""How far to trust a model's confidence: temperature scaling on held-out predictions.

A softmax probability is not the chance of being right: fine-tuned networks are usually
over-confident. One temperature T, fitted on the validation images (which training never
saw), turns probabilities p into softmax(log p / T), whose maximum is then a calibrated
"this photo is this likely to be right". A target the user understands follows from it:
"file photos automatically when they are at least 98% likely to be right".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

T_MIN, T_MAX = 0.05, 20.0


def _scaled(log_p: np.ndarray, t: float) -> np.ndarray:
    z = log_p / t
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _nll(log_p: np.ndarray, y: np.ndarray, t: float) -> float:
    p = _scaled(log_p, t)
    return float(-np.log(np.clip(p[np.arange(len(y)), y], 1e-12, 1.0)).mean())


def fit_temperature(probs: np.ndarray, y: np.ndarray) -> float:
    """The T that minimises the held-out negative log-likelihood (golden-section search on log T).

    With fewer than 10 held-out images there is nothing to fit: T = 1.
    """
    probs, y = np.asarray(probs, dtype=np.float64), np.asarray(y, dtype=int)
    if len(y) < 10 or probs.ndim != 2:
        return 1.0
    log_p = np.log(np.clip(probs, 1e-12, 1.0))
    lo, hi = np.log(T_MIN), np.log(T_MAX)
    g = (np.sqrt(5) - 1) / 2
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    fa, fb = _nll(log_p, y, np.exp(a)), _nll(log_p, y, np.exp(b))
    for _ in range(60):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - g * (hi - lo)
            fa = _nll(log_p, y, np.exp(a))
        else:
            lo, a, fa = a, b, fb
            b = lo + g * (hi - lo)
            fb = _nll(log_p, y, np.exp(b))
    return float(np.exp((lo + hi) / 2))


def calibrate(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities after temperature scaling (rows still sum to 1; the argmax never changes)."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim == 1:
        probs = probs[None, :]
    return _scaled(np.log(np.clip(probs, 1e-12, 1.0)), temperature)


@dataclass(frozen=True)
class TradeOff:
    """At one target: what share of a gallery is filed automatically, and how right that share is."""

    target: float  # file when at least this likely to be right
    filed: float  # share of the gallery at or above it
    expected_precision: float  # mean calibrated probability of what is filed (nan if nothing)
    validation_precision: float  # measured on held-out photos with the same rule (nan if none qualify)


def trade_offs(
    gallery_conf: np.ndarray,
    val_conf: np.ndarray,
    val_correct: np.ndarray,
    targets=(0.8, 0.85, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995),
) -> list[TradeOff]:
    """The coverage-versus-precision curve the Sort page draws, one point per target."""
    g, vc, ok = (np.asarray(a, dtype=np.float64) for a in (gallery_conf, val_conf, val_correct))
    out = []
    for t in targets:
        filed = g >= t
        on_val = vc >= t
        out.append(
            TradeOff(
                float(t),
                float(filed.mean()) if len(g) else 0.0,
                float(g[filed].mean()) if filed.any() else float("nan"),
                float(ok[on_val].mean()) if on_val.any() else float("nan"),
            )
        )
    return out
