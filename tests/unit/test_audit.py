"""The audit of what was filed: a fair sample, a bound that is not optimistic, answers that count as evidence."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.inference.audit import audit_result, audit_room, audit_sample, with_audit
from core.inference.placement import FilingRule
from core.inference.sort import Prediction, make_prediction
from core.training.calibration import HeldOut

CLASSES = ["a", "b", "c"]


def gallery(rng, n: int):
    preds = []
    for i in range(n):
        p = rng.dirichlet([0.3, 0.3, 0.3])
        preds.append(make_prediction(Path(f"g/{i}.jpg"), p, CLASSES, calibrated=float(p.max())))
    return preds


def test_the_sample_is_of_the_whole_gallery_in_proportion_to_each_class_and_spread_over_confidence():
    """Not of the filed photos only: answers from the confident end fit a temperature too sure of the rest."""
    rng = np.random.default_rng(0)
    preds = gallery(rng, 600)
    rule = FilingRule(0.9, {preds[0].path: "a"})
    sample = audit_sample(preds, rule, 24, seed=1)
    assert len(sample) == len(set(sample)) == 24
    assert preds[0].path not in sample  # never one the person already placed
    by = {p.path: p for p in preds}
    for c in CLASSES:
        share = sum(p.label == c for p in preds) / len(preds)
        got = sum(by[s].label == c for s in sample)
        assert abs(got - 24 * share) <= 1  # proportional allocation
    conf = sorted(by[s].calibrated for s in sample)
    assert conf[0] < 0.5 and conf[-1] > 0.95  # every confidence band, filed or not
    assert sum(rule.folder(by[s]) == "unsure" for s in sample) >= 6  # the unfiled photos are audited too
    assert audit_sample([Prediction(Path("x"), None, 0.0, [], error="unreadable")], FilingRule(1.01), 24) == []


def test_the_audit_bound_is_never_more_than_a_point_optimistic_over_200_draws():
    rng = np.random.default_rng(1)
    worst = -1.0
    for _ in range(200):
        q = rng.uniform(0.85, 0.995)  # the filed set's real precision
        n = int(rng.integers(12, 120))
        right = int(rng.binomial(n, q))
        preds = [make_prediction(Path(f"p{i}"), np.array([0.9, 0.05, 0.05]), CLASSES) for i in range(n)]
        answers = {p.path: ("a" if i < right else "b") for i, p in enumerate(preds)}
        result = audit_result(answers, preds)
        assert (result.checked, result.right) == (n, right)
        worst = max(worst, result.lower - q)
    assert worst <= 0.01, worst


def test_answers_join_the_held_out_evidence_as_audited_rows():
    rng = np.random.default_rng(2)
    preds = gallery(rng, 30)
    held = HeldOut(rng.dirichlet([1, 1, 1], 12).astype(np.float32), rng.integers(0, 3, 12))
    wrong = next(p for p in preds[2:] if p.label != "b")
    answers = {wrong.path: "b", preds[1].path: preds[1].label}
    both = with_audit(held, answers, preds, CLASSES)
    assert len(both) == 14 and both.audited == 2
    assert both.words() == "12 validation photos and 2 audited photos"
    np.testing.assert_allclose(both.probs[12], wrong.probs)
    assert both.true[12] == 1
    assert with_audit(None, answers, preds, CLASSES).words() == "2 audited photos"
    assert with_audit(held, {}, preds, CLASSES) is held
    assert "right for 1 of the 2 photos you audited" in audit_result(answers, preds).words()


def test_a_photo_of_no_class_counts_against_the_certificate_and_is_not_training_data():
    """'None of these': without it, an audit of a model that lacks a kind could only say 'right'."""
    from core.inference.audit import NOT_A_CLASS, filing_evidence
    from core.inference.certify import certify
    from core.session.state import SortState

    rng = np.random.default_rng(3)
    preds = gallery(rng, 200)
    sure = sorted(preds, key=lambda p: -p.probs.max())[:40]  # the most likely photos: filed first
    right = {p.path: p.label for p in sure[:34]}
    lacking = {p.path: NOT_A_CLASS for p in sure[34:]}
    held = filing_evidence(None, True, {**right, **lacking}, preds, CLASSES)
    assert len(held) == 40 and list(held.true).count(-1) == 6  # kept, as a class no prediction matches
    probs = np.stack([p.probs for p in preds])
    assert certify(probs, CLASSES, held, 0.85).held_out_filed == 40  # each of them filed by the thresholds ...
    assert certify(probs, CLASSES, held, 0.85).held_out_right == 34  # ... and counted wrong
    assert audit_result(lacking, preds).right == 0
    # validation agreeing with Discover's groups is no evidence; a person's labels are
    val = HeldOut(probs[:30], probs[:30].argmax(1))
    assert filing_evidence(val, True, {}, preds, CLASSES) is None
    assert filing_evidence(val, False, {}, preds, CLASSES) is val
    state = SortState(audit={**right, **lacking})
    assert state.confirmed() == right  # never a training label
    placed = state.placed_by_person()
    assert all(placed[p] == "unsure" for p in lacking) and all(placed[p] == c for p, c in right.items())


def test_an_audit_stops_at_half_the_gallery_not_at_every_photo():
    """A small gallery: five rounds of 24 would audit all 60 photos, which is sorting them by hand."""
    preds = gallery(np.random.default_rng(3), 60) + [Prediction(Path("bad.jpg"), None, 0.0, [], error="unreadable")]
    answers: dict[Path, str] = {}
    rounds = 0
    while room := min(24, audit_room(preds, answers)):
        for p in audit_sample(preds, FilingRule(0.9, answers), room, seed=len(answers)):
            answers[p] = "a"
        rounds += 1
    assert len(answers) == 30 and rounds == 2  # 24, then the 6 left of half
    assert audit_room(gallery(np.random.default_rng(4), 1000), {}) == 500
