"""The filing certificate: what it files at a precision asked, and whether its bound holds where the truth is known."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.inference.certify import MIN_HELD_OUT, certified_rule, certify, clopper_pearson
from core.inference.sort import UNSURE, make_prediction
from core.training.calibration import HeldOut

K = 6
CLASSES = [f"c{k}" for k in range(K)]


def draw(rng, n: int, over: float = 1.6):
    """Photos whose true chance of each class is softmax(z); the model says softmax(over * z) (over-confident)."""
    z = rng.normal(size=(n, K)) * 3.0
    z[np.arange(n), rng.integers(0, K, n)] += rng.gamma(2.0, 2.0, n)
    truth = np.exp(z - z.max(1, keepdims=True))
    truth /= truth.sum(1, keepdims=True)
    y = (truth.cumsum(1) > rng.random((n, 1))).argmax(1)
    model = np.exp(over * (z - z.max(1, keepdims=True)))
    return model / model.sum(1, keepdims=True), y


def hindsight_share(probs, y, target: float) -> float:
    """The most a single confidence threshold could file at ``target``, knowing the truth."""
    order = np.argsort(-probs.max(1))
    right = (probs.argmax(1) == y)[order]
    ok = np.cumsum(right) / np.arange(1, len(y) + 1) >= target
    return (np.flatnonzero(ok)[-1] + 1) / len(y) if ok.any() else 0.0


def test_the_bound_holds_over_200_simulated_galleries_and_spends_the_target():
    """The bound is on the expected precision; the 1-point slack is the sampling noise of ~900 filed photos."""
    rng = np.random.default_rng(0)
    target, worst, shares, hind, per_photo = 0.98, 1.0, [], [], []
    for _ in range(200):
        pv, yv = draw(rng, 300)
        pg, yg = draw(rng, 3000)
        cert = certify(pg, CLASSES, HeldOut(pv, yv), target)
        filed = np.array(sorted(cert.chosen))
        assert len(filed) == cert.filed > 0
        precision = float((pg[filed].argmax(1) == yg[filed]).mean())
        worst = min(worst, precision)
        assert cert.expected >= target and cert.expected >= cert.certified
        shares.append(cert.share)
        hind.append(hindsight_share(pg, yg, target))
        # today's rule: a photo is filed when its own calibrated chance reaches the target
        from core.training.calibration import calibrate

        per_photo.append(float((calibrate(pg, cert.temperature).max(1) >= target).mean()))
    assert worst >= target - 0.01, worst
    assert min(a - b for a, b in zip(shares, per_photo)) >= 0  # never fewer than each photo's own rule files
    assert np.mean(shares) > np.mean(per_photo) + 0.03  # the target is spent on photos, not on caution
    assert np.mean(hind) - np.mean(shares) < 0.10  # within 10 points of the best threshold in hindsight


def test_held_out_photos_that_contradict_a_class_stop_it_filing():
    rng = np.random.default_rng(1)
    pv, yv = draw(rng, 400)
    pg, _ = draw(rng, 2000)
    fine = certify(pg, CLASSES, HeldOut(pv, yv), 0.95)
    assert fine.thresholds["c0"] < 1.0
    wrong = yv.copy()
    says_c0 = pv.argmax(1) == 0
    wrong[says_c0] = 1  # every validation photo the model calls c0 is really c1
    cert = certify(pg, CLASSES, HeldOut(pv, wrong), 0.95)

    def c0(c) -> int:
        return sum(1 for i in c.chosen if pg[i].argmax() == 0)

    assert c0(cert) <= c0(fine) / 10  # c0 files only the few above every contradicting held-out photo
    assert cert.thresholds["c0"] > max(t for c, t in cert.thresholds.items() if c != "c0")
    assert all(cert.thresholds[c] < 1.0 for c in CLASSES[1:])  # the others still file


def test_without_held_out_photos_nothing_is_certified_and_each_photo_must_reach_the_target():
    rng = np.random.default_rng(2)
    pg, _ = draw(rng, 500)
    few = HeldOut(pg[: MIN_HELD_OUT - 1], pg[: MIN_HELD_OUT - 1].argmax(1))
    for held in (None, few):
        cert = certify(pg, CLASSES, held, 0.9)
        assert not cert.is_certified and np.isnan(cert.certified)
        assert set(cert.chosen) == set(np.flatnonzero(pg.max(1) >= 0.9).tolist())
        assert "Not certified" in cert.basis()


def test_the_basis_says_what_the_claim_rests_on():
    rng = np.random.default_rng(3)
    pv, yv = draw(rng, 250)
    pg, _ = draw(rng, 800)
    cert = certify(pg, CLASSES, HeldOut(pv, yv, audited=50), 0.97)
    words = cert.basis()
    assert "200 validation photos and 50 audited photos" in words
    assert f"{cert.certified:.1%}" in words and "99% confidence" in words
    lo = cert.held_out_lower()
    assert 0.0 <= lo <= cert.held_out_right / cert.held_out_filed


def test_the_persons_answers_are_never_overruled_nor_counted_as_filed_by_the_model():
    rng = np.random.default_rng(4)
    pv, yv = draw(rng, 300)
    pg, _ = draw(rng, 300)
    preds = [make_prediction(Path(f"g/{i}.jpg"), pg[i], CLASSES, calibrated=float(pg[i].max())) for i in range(300)]
    mine = {preds[0].path: "c5", preds[1].path: "c4"}
    rule, cert = certified_rule(preds, CLASSES, HeldOut(pv, yv), 0.95, mine)
    assert rule.folder(preds[0]) == "c5" and rule.folder(preds[1]) == "c4"
    assert cert.considered == 298 and preds[0].path not in rule.chosen
    filed = sum(1 for p in preds[2:] if rule.folder(p) != UNSURE)
    assert filed == cert.filed


def test_clopper_pearson_limits():
    lo, hi = clopper_pearson(0, 10, 0.95)
    assert lo == 0.0 and abs(hi - (1 - 0.05 ** (1 / 10))) < 1e-9
    lo, hi = clopper_pearson(10, 10, 0.95)
    assert hi == 1.0 and abs(lo - 0.05 ** (1 / 10)) < 1e-9


def test_with_under_100_held_out_photos_only_what_is_certified_is_filed():
    """A temperature fitted on a few dozen photos is a guess: each photo's own chance is not trusted then."""
    rng = np.random.default_rng(6)
    for _ in range(20):
        pv, yv = draw(rng, 40)
        pg, _ = draw(rng, 1000)
        cert = certify(pg, CLASSES, HeldOut(pv, yv), 0.98)
        assert cert.filed == 0 or cert.certified >= 0.98
        big = certify(pg, CLASSES, HeldOut(*draw(rng, 300)), 0.98)
        from core.training.calibration import calibrate

        own = calibrate(pg, big.temperature).max(1) >= 0.98
        assert set(np.flatnonzero(own)) <= set(big.chosen)  # with 300, every photo at least 98% on its own is filed
