"""Review decisions (add / undo / apply / export), likely label errors, and the Review page."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import numpy as np
import pytest

from core.analysis.evaluate import likely_label_errors, out_of_fold_probs
from core.data import decisions as rv
from core.data.dataset import load_dataset
from core.session.workspace import Workspace
from tests.helpers.images import make_class_folders

A, B, C = Path("/d/cats/a.jpg"), Path("/d/cats/b.jpg"), Path("/d/dogs/c.jpg")


def test_latest_decision_wins_and_undo_walks_back():
    d = rv.Decisions()
    d.decide(A, rv.MOVE, "cats", "dogs", source="predictions")
    d.decide(A, rv.EXCLUDE, "cats")
    d.decide(B, rv.KEEP, "cats")
    assert len(d) == 2 and d.get(A).action == rv.EXCLUDE
    assert d.undo() == B and d.get(B) is None
    assert d.undo() == A and d.get(A).effect == (rv.MOVE, "dogs")
    d.withdraw(A)
    assert d.get(A) is None
    assert d.undo() == A and d.get(A).to_class == "dogs"  # a withdraw can be undone too
    assert d.undo() == A and d.get(A) is None
    assert d.undo() is None


def test_decision_validation_and_move_to_own_class_is_keep():
    d = rv.Decisions()
    assert d.decide(A, rv.MOVE, "cats", "cats").action == rv.KEEP
    with pytest.raises(ValueError):
        rv.Decision(A, "delete")
    with pytest.raises(ValueError):
        rv.Decision(A, rv.MOVE)  # a move needs a class
    with pytest.raises(ValueError):
        rv.Decision(A, rv.EXCLUDE, to_class="dogs")


def test_apply_sets_relabel_and_excluded_and_undo_after_apply_restores():
    d = rv.Decisions()
    excluded, relabel = {C}, {}  # C was excluded elsewhere (e.g. on the Data page)
    d.decide(A, rv.MOVE, "cats", "dogs")
    d.decide(B, rv.EXCLUDE, "cats")
    d.decide(C, rv.KEEP, "dogs")
    assert d.pending() == sorted([A, B, C])
    excluded, relabel = rv.apply_to(d, excluded, relabel)
    assert relabel == {A: "dogs"} and excluded == {B, C}  # keep leaves C as it was
    assert d.pending() == [] and d.is_applied(A)
    # change of mind after applying: undo the move, move C instead
    d.withdraw(A)
    d.decide(C, rv.MOVE, "dogs", "cats")
    assert d.pending() == [A, C] and not d.is_applied(C)
    excluded, relabel = rv.apply_to(d, excluded, relabel)
    assert relabel == {C: "cats"} and excluded == {B}
    # everything undone: the baseline comes back exactly
    while d.undo():
        pass
    excluded, relabel = rv.apply_to(d, excluded, relabel)
    assert relabel == {} and excluded == {C}


def test_apply_decisions_is_pure():
    cur = {A: rv.Decision(A, rv.EXCLUDE, "cats")}
    excluded, relabel, base = set(), {A: "dogs"}, {}
    new_ex, new_rl, new_base = rv.apply_decisions(cur, base, excluded, relabel)
    assert new_ex == {A} and new_rl == {A: "dogs"} and new_base == {A: (False, "dogs")}
    assert excluded == set() and base == {}  # inputs untouched


def test_csv_export():
    d = rv.Decisions()
    d.decide(A, rv.MOVE, "cats", "dogs", source="label errors")
    d.decide(B, rv.EXCLUDE, "cats")
    rv.apply_to(d, set(), {})
    d.decide(C, rv.KEEP, "dogs")
    rows = list(csv.DictReader(io.StringIO(rv.to_csv(d))))
    assert [r["path"] for r in rows] == [str(A), str(B), str(C)]
    assert rows[0]["action"] == "move" and rows[0]["to_class"] == "dogs" and rows[0]["source"] == "label errors"
    assert [r["applied"] for r in rows] == ["yes", "yes", "no"]
    assert set(rows[0]) == set(rv.CSV_FIELDS)


def test_workspace_apply_feeds_the_effective_dataset(tmp_path):
    root = make_class_folders(tmp_path / "data", n=4)
    ws = Workspace("t", tmp_path / "ws")
    ws.data.set_dataset(load_dataset(root), "test")
    s0, d1 = root / "stripes" / "stripes_00.jpg", root / "dots" / "dots_01.jpg"
    dec = ws.review.decisions
    dec.decide(s0, rv.MOVE, "stripes", "dots")
    dec.decide(d1, rv.EXCLUDE, "dots")
    dec.decide(Path("/elsewhere/x.jpg"), rv.EXCLUDE, "dots")  # not in this dataset
    assert ws.review.apply(ws.data) == 2
    eff = {i.path: i for i in ws.data.effective().items}
    assert eff[s0].label == "dots" and not eff[s0].excluded
    assert eff[d1].excluded
    assert d1 not in {i.path for i in ws.data.effective().labelled}
    assert len(dec) == 2  # the stray decision was dropped
    dec.undo()  # un-exclude d1
    ws.review.apply(ws.data)
    assert not {i.path: i for i in ws.data.effective().items}[d1].excluded


# ---------------------------------------------------------------- likely label errors


def test_label_errors_on_synthetic_features():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (20, 8)) + 4, rng.normal(0, 1, (20, 8)) - 4])
    y = np.array([0] * 20 + [1] * 20)
    y[3] = 1  # a class-0 point labelled 1
    paths = [Path(f"/x/{i}.jpg") for i in range(40)]
    suspects, probs = likely_label_errors(X, y, ["a", "b"], paths, folds=5)
    assert probs.shape == (40, 2) and np.allclose(probs.sum(1), 1)
    assert suspects and suspects[0].path == paths[3]
    assert suspects[0].given == "b" and suspects[0].suggested == "a" and suspects[0].confidence > 0.9
    assert len(suspects) <= 2


def test_a_label_the_person_confirmed_is_never_a_suspect():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (20, 8)) + 4, rng.normal(0, 1, (20, 8)) - 4])
    y = np.array([0] * 20 + [1] * 20)
    y[[3, 5]] = 1  # two class-0 points labelled 1: the check is sure they are wrong
    paths = [Path(f"/x/{i}.jpg") for i in range(40)]
    flagged, _ = likely_label_errors(X, y, ["a", "b"], paths, folds=5)
    assert {paths[3], paths[5]} <= {s.path for s in flagged}
    said = rv.Decisions()
    said.decide(paths[3], rv.KEEP, "b", source="label errors")  # "the label is right"
    said.decide(paths[5], rv.MOVE, "a", "b", source="sort")  # moved there by the person
    confirmed = rv.labels_from(said).items()
    suspects, _ = likely_label_errors(X, y, ["a", "b"], paths, folds=5, confirmed=confirmed)
    assert not {paths[3], paths[5]} & {s.path for s in suspects}
    # the person said "a" about a photo still labelled "b" (not applied yet): its label is not confirmed
    other, _ = likely_label_errors(X, y, ["a", "b"], paths, folds=5, confirmed=[(paths[3], "a")])
    assert paths[3] in {s.path for s in other}


def test_out_of_fold_needs_two_classes_with_two_images():
    with pytest.raises(ValueError):
        out_of_fold_probs(np.zeros((3, 2)), np.array([0, 0, 0]), 2)
    with pytest.raises(ValueError):
        out_of_fold_probs(np.zeros((3, 2)), np.array([0, 0, 1]), 2)


def test_label_error_finder_flags_a_mislabelled_image(tmp_path):
    from core.analysis.evaluate import find_label_errors
    from core.models.backbones import WeightsChoice
    from core.models.features import FeatureCache

    root = make_class_folders(tmp_path / "data", n=8)
    wrong = root / "stripes" / "stripes_mislabelled.jpg"
    shutil.copy(root / "dots" / "dots_03.jpg", wrong)
    (root / "dots" / "dots_03.jpg").unlink()  # the same picture must not also sit in dots
    ds = load_dataset(root)
    cache = FeatureCache()
    rep = find_label_errors(ds, "efficientnet_lite0", WeightsChoice(), cache, folds=4)
    assert rep.n_checked == 16 and rep.folds == 4
    assert rep.suspects, "nothing flagged"
    top = rep.suspects[0]
    assert top.path == wrong and top.given == "stripes" and top.suggested == "dots"
    assert len(cache) == 16  # pooled features computed once per image
    again = find_label_errors(ds, "efficientnet_lite0", WeightsChoice(), cache, folds=4)
    assert again.suspects[0].path == wrong and len(cache) == 16
    kept = rv.Decisions()
    kept.decide(wrong, rv.KEEP, "stripes", source="label errors")  # the person looked: it is right
    sure = find_label_errors(
        ds, "efficientnet_lite0", WeightsChoice(), cache, folds=4, confirmed=rv.labels_from(kept).items()
    )
    assert wrong not in {s.path for s in sure.suspects} and sure.confirmed == 1
    assert sure.n_checked == 16  # still checked against (and trained on): only never listed


def test_cli_label_errors(tmp_path, capsys):
    import json

    from core.cli import main

    root = make_class_folders(tmp_path / "data", n=6)
    shutil.move(root / "dots" / "dots_02.jpg", root / "stripes" / "odd.jpg")
    assert main(["label-errors", str(root), "--folds", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["suspects"][0]["path"] == "stripes/odd.jpg" and out["suspects"][0]["suggested"] == "dots"
    said = rv.Decisions()
    said.decide(root / "stripes" / "odd.jpg", rv.KEEP, "stripes", source="label errors")
    (tmp_path / "decisions.csv").write_text(rv.to_csv(said))
    args = ["label-errors", str(root), "--folds", "3", "--json", "--confirmed", str(tmp_path / "decisions.csv")]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert "stripes/odd.jpg" not in {s["path"] for s in out["suspects"]} and out["confirmed"] == 1
