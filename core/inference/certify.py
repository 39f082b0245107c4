"""File as much of a gallery as the precision asked allows, and say what that claim rests on.

Filing a photo only when its own chance of being right reaches the target (98%) is cautious: the
photos filed are then right far more often than asked, and most of a gallery waits in unsure/.
The target is about what is filed, not each photo: "of what is filed, at least 98% is right". So
photos are filed from the most to the least likely, as far as the expected share right of what is
filed stays at or above the target (one threshold on the calibrated chance, shared by the classes),
and, once at least 100 held-out photos fit the calibration, never fewer than the photos each at
least that likely right on their own (with fewer, a temperature fitted on a few dozen photos is
a guess: on trashnet with 10-20 of them, such photos were 87-95% right).

That expectation is a bound, not a guess. The chance of being right comes from temperature
scaling fitted on held-out photos; the bound uses the least confident temperature those photos
still allow (a one-sided profile-likelihood limit), so it holds unless the held-out photos were an
unlucky draw. With a few hundred held-out photos that bound is wide: it may certify less than the
target even for photos each likely enough on their own, and the certificate then says so. Where the held-out photos that would be filed contradict the target outright (their
Clopper-Pearson upper limit is below it), overall or in one class, the threshold (or that class's)
is raised until they do not. With fewer than 10 held-out
photos nothing can be certified, and a photo is filed only when its own chance reaches the target.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..training.calibration import HeldOut, calibrate, fit_temperature, temperature_upper
from .placement import FilingRule
from .sort import Prediction

CONFIDENCE = 0.99  # one-sided; 0.95 let 1 in 100 simulated galleries fall a point below the target
MIN_HELD_OUT = 10
TRUSTED_CALIBRATION = 100  # held-out photos from which each photo's own calibrated chance is trusted
NEVER = 1.01  # a threshold no chance reaches: the class files nothing


@dataclass(frozen=True)
class Certificate:
    """Which photos a target files, and what the claim about them rests on."""

    target: float
    thresholds: dict[str, float]  # per class: file when the calibrated chance is at least this
    filed: int
    considered: int  # photos the rule decided on (the person's own answers are not among them)
    expected: float  # mean chance of being right of what is filed (nan when nothing is)
    certified: float  # its lower bound at `confidence` (nan when nothing can be certified)
    confidence: float
    held_out: int  # photos the bound rests on
    held_out_words: str
    held_out_filed: int = 0  # held-out photos the same thresholds would file ...
    held_out_right: int = 0  # ... and how many of them are right
    temperature: float = 1.0
    chosen: frozenset[int] = field(default_factory=frozenset, repr=False)  # rows filed

    @property
    def is_certified(self) -> bool:
        return self.held_out >= MIN_HELD_OUT

    @property
    def share(self) -> float:
        return self.filed / self.considered if self.considered else 0.0

    def held_out_lower(self) -> float:
        """Clopper-Pearson lower limit of the held-out precision at the chosen thresholds."""
        return clopper_pearson(self.held_out_right, self.held_out_filed, self.confidence)[0]

    def basis(self) -> str:
        """One sentence: what the figure rests on."""
        if not self.is_certified:
            return (
                f"Not certified: {self.held_out_words} to measure against, so a photo is filed only "
                f"when its own chance of being right is at least {self.target:.1%}."
            )
        if not self.filed:
            return (
                f"Nothing is filed at {self.target:.1%}: no photo is that likely right, as {self.held_out_words} "
                "the model never trained on measure it. A lower target files more."
            )
        if self.certified >= self.target:
            line = (
                f"At least {self.certified:.1%} of what is filed is expected to be right ({self.confidence:.0%} "
                f"confidence), from {self.held_out_words} the model never trained on"
            )
        else:
            line = (
                f"Each photo filed is at least {self.target:.1%} likely right ({self.expected:.1%} expected of what "
                f"is filed), but {self.held_out_words} the model never trained on certify only {self.certified:.1%} "
                f"({self.confidence:.0%} confidence): more validation photos, or an audit, would certify more"
            )
        if self.held_out_filed:
            line += f"; of the {self.held_out_filed:,} of them these thresholds file, {self.held_out_right:,} are right"
        return line + "."


def clopper_pearson(k: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """One-sided exact binomial limits (lower, upper) for k successes in n, each at ``confidence``."""
    from scipy.stats import beta

    if n <= 0:
        return float("nan"), float("nan")
    a = 1.0 - confidence
    lower = 0.0 if k == 0 else float(beta.ppf(a, k, n - k + 1))
    upper = 1.0 if k == n else float(beta.ppf(1 - a, k + 1, n - k))
    return lower, upper


def _threshold(
    score: np.ndarray, sure: np.ndarray, held_score: np.ndarray, held_ok: np.ndarray, target: float, confidence: float
) -> float:
    """The lowest threshold whose filed set keeps its mean sure-chance at the target, unless held-out says no.

    With ``sure`` all ones only the held-out check binds: the threshold a class's own evidence allows."""
    if not len(score):
        return NEVER
    order = np.argsort(-score, kind="stable")
    s, c = score[order], sure[order]
    mean = np.cumsum(c) / np.arange(1, len(c) + 1)
    last_of_tie = np.r_[s[1:] < s[:-1], True]  # a threshold files every photo with that score or more
    ok = (mean >= target) & last_of_tie
    if len(held_score) and ok.any():
        from scipy.stats import beta

        h_order = np.argsort(-held_score, kind="stable")
        hs, hok = held_score[h_order], held_ok[h_order]
        n = np.searchsorted(-hs, -s, side="right")  # held-out photos at or above each candidate threshold
        right = np.r_[0, np.cumsum(hok)][n]
        upper = np.where(n > right, beta.ppf(confidence, right + 1, np.maximum(n - right, 1)), 1.0)
        ok &= ~((n > 0) & (upper < target))
    if not ok.any():
        return NEVER
    return float(s[np.flatnonzero(ok)[-1]])


def certify(
    probs: np.ndarray,
    classes: Sequence[str],
    held: HeldOut | None,
    target: float,
    eligible: np.ndarray | None = None,
    confidence: float = CONFIDENCE,
) -> Certificate:
    """The threshold (per class, once raised where held-out contradicts) that files the most photos at ``target``.

    ``probs`` (n, K) are the model's probabilities for the gallery; ``eligible`` marks the photos
    the rule decides on (not those the person labelled). Thresholds apply to the chance of being
    right calibrated with the held-out photos' fitted temperature (the ``temperature`` returned).
    """
    probs = np.asarray(probs, np.float64).reshape(len(probs), len(classes))
    eligible = np.ones(len(probs), bool) if eligible is None else np.asarray(eligible, bool)
    pred = probs.argmax(1) if len(probs) else np.zeros(0, int)
    n_held = len(held) if held is not None else 0
    words = held.words() if held is not None else "no held-out photos"
    if n_held < MIN_HELD_OUT:
        score = probs.max(1) if len(probs) else np.zeros(0)
        chosen = eligible & (score >= target)
        return Certificate(
            target,
            dict.fromkeys(classes, target),
            int(chosen.sum()),
            int(eligible.sum()),
            float(score[chosen].mean()) if chosen.any() else float("nan"),
            float("nan"),
            confidence,
            n_held,
            words if n_held else "no held-out photos",
            chosen=frozenset(np.flatnonzero(chosen).tolist()),
        )
    known = np.asarray(held.true) >= 0  # a photo of no class tells no temperature; it is only wrong
    t_fit = fit_temperature(np.asarray(held.probs)[known], np.asarray(held.true)[known])
    t_hi = temperature_upper(np.asarray(held.probs)[known], np.asarray(held.true)[known], confidence)
    score = calibrate(probs, t_fit).max(1) if len(probs) else np.zeros(0)
    sure = calibrate(probs, t_hi).max(1) if len(probs) else np.zeros(0)
    h_probs = np.asarray(held.probs, np.float64)
    h_score, h_pred = calibrate(h_probs, t_fit).max(1), h_probs.argmax(1)
    h_ok = h_pred == np.asarray(held.true)
    threshold = _threshold(score[eligible], sure[eligible], h_score, h_ok, target, confidence)
    if n_held >= TRUSTED_CALIBRATION:  # never fewer than the photos that each reach the target on their own
        threshold = min(threshold, target)
    thresholds: dict[str, float] = {}
    chosen = np.zeros(len(probs), bool)
    held_filed = np.zeros(len(h_score), bool)
    for k, name in enumerate(classes):  # one threshold, raised for a class its held-out photos contradict
        mine, h_mine = eligible & (pred == k), h_pred == k
        t = max(
            threshold, _threshold(score[mine], np.ones(mine.sum()), h_score[h_mine], h_ok[h_mine], target, confidence)
        )
        thresholds[name] = t
        chosen |= mine & (score >= t)
        held_filed |= h_mine & (h_score >= t)
    return Certificate(
        target,
        thresholds,
        int(chosen.sum()),
        int(eligible.sum()),
        float(score[chosen].mean()) if chosen.any() else float("nan"),
        float(sure[chosen].mean()) if chosen.any() else float("nan"),
        confidence,
        n_held,
        words,
        int(held_filed.sum()),
        int((held_filed & h_ok).sum()),
        t_fit,
        frozenset(np.flatnonzero(chosen).tolist()),
    )


def certified_rule(
    preds: Sequence[Prediction],
    classes: Sequence[str],
    held: HeldOut | None,
    target: float,
    overrides: Mapping[Path, str] | None = None,
    confidence: float = CONFIDENCE,
) -> tuple[FilingRule, Certificate]:
    """The filing rule for a sort at ``target``: the person's answers first, then what the certificate files."""
    overrides = dict(overrides or {})
    rows = [p for p in preds if p.label is not None and p.probs is not None]
    probs = np.stack([p.probs for p in rows]) if rows else np.zeros((0, len(classes)))
    eligible = np.array([p.path not in overrides for p in rows], bool)
    cert = certify(probs, classes, held, target, eligible, confidence)
    chosen = frozenset(rows[i].path for i in cert.chosen)
    return FilingRule(target, overrides, calibrated=True, chosen=chosen), cert


def coverage_curve(
    preds: Sequence[Prediction],
    classes: Sequence[str],
    held: HeldOut | None,
    targets: Sequence[float],
    overrides: Mapping[Path, str] | None = None,
) -> list[tuple[FilingRule, Certificate]]:
    """One certified rule per target: how much of this gallery each precision files, and on what basis."""
    return [certified_rule(preds, classes, held, t, overrides) for t in targets]
