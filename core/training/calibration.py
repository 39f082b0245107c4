"""How far to trust a model's confidence: temperature scaling on held-out predictions.

A softmax probability is not the chance of being right: fine-tuned networks are usually
over-confident. One temperature T, fitted on the validation images (which training never
saw), turns probabilities p into softmax(log p / T), whose maximum is then a calibrated
"this photo is this likely to be right". What a sort files at a precision asked, and the bound
on that claim, is core.inference.certify.
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


def temperature_upper(probs: np.ndarray, y: np.ndarray, confidence: float = 0.95) -> float:
    """The largest temperature the held-out photos still allow, at this one-sided confidence.

    A larger T means a less confident model, so every calibrated chance computed with it is a
    lower bound on the fitted one. The bound is the profile likelihood's: the T above the fit
    whose negative log-likelihood is chi2_1(2c - 1) / 2 higher (Wilks), found by bisection.
    """
    from scipy.stats import chi2

    probs, y = np.asarray(probs, dtype=np.float64), np.asarray(y, dtype=int)
    t_fit = fit_temperature(probs, y)
    if len(y) < 10 or probs.ndim != 2:
        return t_fit
    log_p = np.log(np.clip(probs, 1e-12, 1.0))
    allowed = len(y) * _nll(log_p, y, t_fit) + chi2.ppf(2 * confidence - 1, 1) / 2
    lo, hi = np.log(t_fit), np.log(T_MAX)
    if len(y) * _nll(log_p, y, T_MAX) <= allowed:
        return T_MAX
    for _ in range(50):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if len(y) * _nll(log_p, y, np.exp(mid)) <= allowed else (lo, mid)
    return float(np.exp(lo))


@dataclass(frozen=True)
class HeldOut:
    """Photos of known class that the model never trained on: the only evidence a precision claim may rest on.

    Validation photos (chosen at random before training) and audit answers (a random sample of
    what was filed) qualify; the photos a person checked because the app suggested them do not,
    since they were chosen for being doubtful.
    """

    probs: np.ndarray  # (n, K) the model's probabilities, before temperature
    true: np.ndarray  # (n,) class indices; -1: none of the classes (an audit answer), wrong whatever is said
    audited: int = 0  # how many of the rows are audit answers (the rest are validation photos)

    def __len__(self) -> int:
        return len(self.true)

    def words(self) -> str:
        n_val = len(self) - self.audited
        parts = [f"{n_val:,} validation photo{'s' if n_val != 1 else ''}"] if n_val else []
        if self.audited:
            parts.append(f"{self.audited:,} audited photo{'s' if self.audited != 1 else ''}")
        return " and ".join(parts) or "no held-out photos"


def calibrate(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities after temperature scaling (rows still sum to 1; the argmax never changes)."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim == 1:
        probs = probs[None, :]
    return _scaled(np.log(np.clip(probs, 1e-12, 1.0)), temperature)
