"""An audit of the sort: a random sample the person confirms or moves, and the bound it gives.

Figures measured against labels that came from grouping (Discover) only measure agreement with
the groups. An audit measures against the person: a sample of the photos the model gave a class,
drawn at random in proportion to each class and spread over each class's confidence range (a
self-weighting stratified sample of the gallery, as the validation split is of the labelled
photos), is shown for a yes or a move. Its answers are evidence (core.training.calibration.HeldOut): they are
never given to the teacher to learn from, which would make them no longer held out.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..training.calibration import HeldOut
from .certify import CONFIDENCE, clopper_pearson
from .placement import FilingRule
from .sort import Prediction

SAMPLE = 24
AUDIT_SHARE = 0.5  # past half the photos, an audit is labelling the gallery one by one
NOT_A_CLASS = "none of these"  # an audit answer: the photo is of a kind the model has no class for


def audit_sample(preds: Sequence[Prediction], rule: FilingRule, k: int = SAMPLE, seed: int = 0) -> list[Path]:
    """k photos the model gave a class, not yet answered: classes in proportion, each spread over its confidence.

    Drawn from the whole gallery, not from what is filed. The answers fit the temperature that decides
    what is filed; drawn from the filed photos only, they came from the confident end, fitted a
    temperature too sure of the rest, and once there were 100 of them (when the certificate trusts
    each photo's own calibrated chance) filed photos that were not that likely right: on the journey
    bench, 91% right where 98.9% was stated. A photo the person already placed is never drawn.
    """
    pool: dict[str, list[Prediction]] = {}
    for p in preds:
        if p.label is not None and p.path not in rule.overrides:
            pool.setdefault(p.label, []).append(p)
    total = sum(len(v) for v in pool.values())
    if not total:
        return []
    rng = random.Random(seed)
    k = min(k, total)
    quota = {c: k * len(v) / total for c, v in pool.items()}
    take = {c: int(q) for c, q in quota.items()}
    for c in sorted(quota, key=lambda c: -(quota[c] - take[c]))[: k - sum(take.values())]:
        take[c] += 1  # largest remainders
    out: list[Path] = []
    for c, members in sorted(pool.items()):
        n = take[c]
        if not n:
            continue
        ranked = sorted(members, key=lambda p: -(p.calibrated if p.calibrated is not None else p.confidence))
        step = len(ranked) / n
        start = rng.random() * step  # systematic sampling: one photo from each of n equal confidence bands
        out += [ranked[int(start + j * step)].path for j in range(n)]
    return out


def audit_room(preds: Sequence[Prediction], answers: Mapping[Path, str]) -> int:
    """How many more photos an audit may ask about: up to :data:`AUDIT_SHARE` of those the model gave a class.

    The app exists so nobody labels photos one by one; on a small gallery (97 photos) five
    rounds of 24 audited every photo, which certified precision on nothing left to file."""
    pool = sum(1 for p in preds if p.label is not None)
    return max(0, int(AUDIT_SHARE * pool) - len(answers))


@dataclass(frozen=True)
class AuditResult:
    """What the audit found: how many of the sampled filed photos were right, and the bound that gives."""

    checked: int
    right: int
    confidence: float = CONFIDENCE

    @property
    def lower(self) -> float:
        return clopper_pearson(self.right, self.checked, self.confidence)[0]

    def words(self) -> str:
        if not self.checked:
            return "No photos audited yet."
        return (
            f"Your audit: the model's class was right for {self.right:,} of the {self.checked:,} photos you "
            f"audited (at least {self.lower:.1%} at {self.confidence:.0%} confidence, from these photos alone)."
        )


def audit_result(answers: Mapping[Path, str], preds: Sequence[Prediction]) -> AuditResult:
    """The audit so far: each answer compared with what the model filed the photo as."""
    said = {p.path: p.label for p in preds}
    rows = [(said.get(path), truth) for path, truth in answers.items() if said.get(path) is not None]
    return AuditResult(len(rows), sum(1 for s, t in rows if s == t))


def with_audit(
    held: HeldOut | None, answers: Mapping[Path, str], preds: Sequence[Prediction], classes
) -> HeldOut | None:
    """The held-out evidence with the audit's answers added, scored as the gallery is now.

    An answer that is none of the classes (NOT_A_CLASS, or a class the model does not know) is a
    photo the model is wrong about whatever it says: it stays in the evidence as true = -1, which no
    prediction matches. Dropping it would leave the bound blind to the kinds the model lacks."""
    index = {c: k for k, c in enumerate(classes)}
    by_path = {p.path: p for p in preds}
    rows = [(by_path[p].probs, index.get(c, -1)) for p, c in answers.items() if p in by_path]
    rows = [(pr, t) for pr, t in rows if pr is not None]
    if not rows:
        return held
    probs = np.stack([pr for pr, _ in rows]).astype(np.float32)
    true = np.array([t for _, t in rows], np.int64)
    if held is None:
        return HeldOut(probs, true, audited=len(rows))
    return HeldOut(np.concatenate([held.probs, probs]), np.concatenate([held.true, true]), held.audited + len(rows))


def filing_evidence(
    validation: HeldOut | None, grouped: bool, answers: Mapping[Path, str], preds: Sequence[Prediction], classes
) -> HeldOut | None:
    """What a filing certificate may rest on: the validation photos, unless their labels came from
    grouping (agreement with Discover's groups is no evidence), and the person's audit answers."""
    return with_audit(None if grouped else validation, answers, preds, classes)
