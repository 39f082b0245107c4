"""Temperature scaling: over-confident probabilities become the chance of being right."""

from __future__ import annotations

import numpy as np

from core.training.calibration import calibrate, fit_temperature


def overconfident(n: int, seed: int, accuracy: float = 0.8, classes: int = 4):
    """A model that is right `accuracy` of the time but says ~99% every time."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    pred = np.where(rng.random(n) < accuracy, y, (y + rng.integers(1, classes, n)) % classes)
    logits = rng.normal(0, 0.3, (n, classes))
    logits[np.arange(n), pred] += 5.0
    p = np.exp(logits)
    return p / p.sum(1, keepdims=True), y


def test_temperature_brings_confidence_down_to_accuracy():
    probs, y = overconfident(2000, 0)
    assert probs.max(1).mean() > 0.95  # says 95%+, is right 80% of the time
    t = fit_temperature(probs, y)
    assert t > 1.5
    cal = calibrate(probs, t)
    assert abs(cal.max(1).mean() - (cal.argmax(1) == y).mean()) < 0.03
    assert (cal.argmax(1) == probs.argmax(1)).all()  # the answer never changes, only how sure it is


def test_too_few_held_out_images_leave_the_probabilities_alone():
    probs, y = overconfident(5, 1)
    assert fit_temperature(probs, y) == 1.0


def mixed(n: int, seed: int):
    """Easy photos (right 99% of the time, very sure) and hard ones (right 55%, less sure), as in a gallery."""
    rng = np.random.default_rng(seed)
    easy = rng.random(n) < 0.7
    y = rng.integers(0, 4, n)
    acc = np.where(easy, 0.99, 0.55)
    pred = np.where(rng.random(n) < acc, y, (y + rng.integers(1, 4, n)) % 4)
    logits = rng.normal(0, 0.3, (n, 4))
    logits[np.arange(n), pred] += np.where(easy, 7.0, 3.0) + rng.normal(0, 0.5, n)
    p = np.exp(logits)
    return p / p.sum(1, keepdims=True), y


def test_a_target_keeps_its_promise_on_new_photos():
    """Fit on one set, file photos of another at >= 90% calibrated: what is filed is at least 90% right."""
    val, yv = mixed(800, 2)
    gal, yg = mixed(4000, 3)
    t = fit_temperature(val, yv)
    conf = calibrate(gal, t).max(1)
    filed = conf >= 0.9
    right = gal.argmax(1) == yg
    assert 0.4 < filed.mean() < 0.9  # most easy photos are filed, the hard ones wait
    assert right[filed].mean() >= 0.9
    assert right.mean() < 0.9  # without the target, the gallery as a whole is much worse
