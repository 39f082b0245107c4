"""The Sort page driven headlessly (Streamlit AppTest)."""

from __future__ import annotations

import os

from streamlit.testing.v1 import AppTest

from tests.helpers.images import ROOT, draw_image


def _sort_page(ws_id: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["ws_id"] = ws_id
    at.switch_page("pages/sort.py")
    return at


def test_local_folder_with_a_fifo_and_an_outside_link_sorts_the_rest_and_says_so(trained_bundle, tmp_path):
    from core.session.workspace import REGISTRY

    bundle = trained_bundle[0]
    ws = REGISTRY.get(None)
    ws.model.use_file(bundle, "model.pt")
    gallery = tmp_path / "phone"
    gallery.mkdir()
    for k in range(3):
        draw_image("dots", 300 + k).save(gallery / f"p{k}.jpg")
    outside = tmp_path / "secret.jpg"
    draw_image("stripes", 399).save(outside)
    (gallery / "link.jpg").symlink_to(outside)
    os.mkfifo(gallery / "pipe.jpg")
    try:
        at = _sort_page(ws.id).run()
        assert not at.exception, at.exception
        at.text_input(key="sort-local-path").set_value(str(gallery)).run()
        next(b for b in at.button if b.key == "sort_local_btn").click().run()
        assert not at.exception, at.exception
        assert any("2 files not sorted" in e.label for e in at.expander)
        md = " ".join(m.value for m in at.markdown)
        assert "link.jpg" in md and "symbolic link" in md and "pipe.jpg" in md and "FIFO" in md
        sort = next(b for b in at.button if b.label.startswith("Sort "))
        assert sort.label == "Sort 3 images"  # the link and the FIFO are not counted, never opened
        sort.click().run()
        assert ws.sort.slot.job.join(120)
        at.run()
        assert not at.exception, at.exception
        assert sorted(p.path.name for p in ws.sort.preds) == ["p0.jpg", "p1.jpg", "p2.jpg"]
    finally:
        REGISTRY.release(ws.id)


def test_local_folder_dry_run_move_in_place_and_undo(trained_bundle, tmp_path):
    import hashlib

    from core.session.workspace import REGISTRY
    from tests.helpers.images import rotated_copy

    ws = REGISTRY.get(None)
    ws.model.use_file(trained_bundle[0], "model.pt")
    roll = tmp_path / "roll"
    roll.mkdir()
    for k in range(4):
        draw_image("dots" if k % 2 else "stripes", 500 + k).save(roll / f"IMG_{k}.jpg")
    rotated_copy(draw_image("dots", 599), roll / "IMG_LIVE.heic")
    (roll / "IMG_LIVE.mov").write_bytes(b"\x00\x00\x00\x14ftypqt  " + bytes(100))

    def files():
        return {
            p.relative_to(roll).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in roll.rglob("*")
            if p.is_file() and ".gallery-sorter" not in p.parts
        }

    before = files()
    try:
        at = _sort_page(ws.id).run()
        at.text_input(key="sort-local-path").set_value(str(roll)).run()
        next(b for b in at.button if b.key == "sort_local_btn").click().run()
        sort = next(b for b in at.button if b.label.startswith("Sort "))
        assert sort.label == "Sort 5 images"  # the .mov is a companion, not a photo to classify
        sort.click().run()
        assert ws.sort.slot.job.join(120)
        at.run()
        assert not at.exception, at.exception
        at.radio(key="sort-dest-kind").set_value("in place").run()  # moving is chosen, never the default
        next(b for b in at.button if b.key == "sort-preview").click().run()
        assert any("Dry run" in m.value for m in at.markdown)
        assert files() == before  # a preview changes nothing
        next(b for b in at.button if b.key == "sort-place").click().run()

        def said() -> list[str]:
            return [s.value for s in at.success] + [w.value for w in at.warning] + [e.value for e in at.error]

        seen = said()  # a quick move is said in the run that started it (the progress fragment saw it end)
        if not any("Moved" in s for s in seen):
            assert ws.sort.place_slot.job.join(120)
            at.run()
            seen = said()
        assert not at.exception, at.exception
        assert any("Moved 5 images" in s and "companion file" in s for s in seen), seen
        moved = files()
        live = [k for k in moved if k.endswith("IMG_LIVE.heic")][0]
        assert live.rsplit("/", 1)[0] == [k for k in moved if k.endswith("IMG_LIVE.mov")][0].rsplit("/", 1)[0]
        assert not [k for k in moved if "/" not in k]  # nothing left at the top level
        next(b for b in at.button if b.key == "sort-undo-alone").click().run()
        assert not at.exception, at.exception
        assert any("Put back 6 files" in s.value for s in at.success)
        assert files() == before  # every file back, byte for byte
    finally:
        REGISTRY.release(ws.id)


def test_a_first_sort_of_a_local_folder_copies_into_a_new_folder_beside_it(trained_bundle, tmp_path):
    import hashlib

    from core.session.workspace import REGISTRY

    ws = REGISTRY.get(None)
    ws.model.use_file(trained_bundle[0], "model.pt")
    roll = tmp_path / "roll"
    roll.mkdir()
    for k in range(4):
        draw_image("dots" if k % 2 else "stripes", 700 + k).save(roll / f"IMG_{k}.jpg")

    def files(root):
        return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*.jpg")}

    before = files(roll)
    try:
        at = _sort_page(ws.id).run()
        at.text_input(key="sort-local-path").set_value(str(roll)).run()
        next(b for b in at.button if b.key == "sort_local_btn").click().run()
        next(b for b in at.button if b.label.startswith("Sort ")).click().run()
        assert ws.sort.slot.job.join(120)
        at.run()
        assert not at.exception, at.exception
        assert at.radio(key="sort-dest-kind").value == "new folder"
        assert not at.toggle(key="sort-move").value
        assert ws.sort.destination == tmp_path / "roll-sorted"
        place = next(b for b in at.button if b.key == "sort-place")
        assert place.label == "Copy 4 photos"  # no button on the page moves a photo until the person asks
        place.click().run()
        if not any("Copied" in s.value for s in at.success):
            assert ws.sort.place_slot.job.join(120)
            at.run()
        assert not at.exception, at.exception
        assert any("Copied 4 images" in s.value for s in at.success), [s.value for s in at.success]
        assert files(roll) == before  # the gallery is as it was
        copies = files(tmp_path / "roll-sorted")
        assert sorted(copies.values()) == sorted(before.values()) and all("/" in k for k in copies)
        at.radio(key="sort-dest-kind").set_value("in place").run()  # the explicit choice
        assert next(b for b in at.button if b.key == "sort-place").label == "Move 4 photos"
        assert files(roll) == before  # choosing is not doing
    finally:
        REGISTRY.release(ws.id)


def test_check_a_batch_correct_two_re_sort_and_the_counts_move(tmp_path):
    from core.data.dataset import load_dataset
    from core.session.workspace import REGISTRY
    from core.training.config import Phase, TrainConfig
    from core.training.train import train
    from tests.helpers.images import make_class_folders

    ws = REGISTRY.get(None)
    data = make_class_folders(tmp_path / "data", classes=("stripes", "dots", "plain"), n=5)
    ws.data.set_dataset(load_dataset(data, 0.2), "test")
    weak = TrainConfig(phases=[Phase("head only", 2, 1e-4)], augment="none")  # unsure of nearly everything
    ws.add_run(train(ws.data.effective(), weak, ws.cache))
    roll = tmp_path / "roll"
    roll.mkdir()
    truth = {}
    for k in range(24):
        kind = ("stripes", "dots", "plain")[k % 3]
        draw_image(kind, 8100 + k).save(roll / f"p{k:02d}.jpg")
        truth[f"p{k:02d}.jpg"] = kind
    try:
        at = _sort_page(ws.id).run()
        at.text_input(key="sort-local-path").set_value(str(roll)).run()
        next(b for b in at.button if b.key == "sort_local_btn").click().run()
        next(b for b in at.button if b.label.startswith("Sort ")).click().run()
        assert ws.sort.slot.job.join(120)
        at.run()
        assert not at.exception, at.exception
        metrics = {m.label: m.value for m in at.metric}
        assert metrics["Checked by you"] == "0"
        assert len(ws.sort.batch) == 12  # "check these 12"
        first, second = ws.sort.batch[0], ws.sort.batch[1]
        right = next(b for b in at.button if b.label == "Right")
        right.click().run()  # the first card: the model's answer is right (or the user says so)
        wrong_to = next(c for c in ("stripes", "dots", "plain") if c != truth[second.name])
        moves = [b for b in at.button if b.key and b.key.startswith(f"mv-1-{second.name}-")]
        next(b for b in moves if b.label == truth[second.name] or b.label == wrong_to).click().run()
        assert not at.exception, at.exception
        assert len(ws.sort.corrections) == 2 and first in ws.sort.labels()
        assert ws.data.extra == ws.sort.labels()  # checked photos are training data too
        next(b for b in at.button if b.key == "sort-resort").click().run()
        assert ws.sort.resort_slot.job.join(60)
        at.run()
        assert not at.exception, at.exception
        metrics = {m.label: m.value for m in at.metric}
        assert metrics["Checked by you"] == "2"
        assert len(ws.sort.estimates) == 2  # the estimate before and after the re-sort
        assert second not in ws.sort.batch and first not in ws.sort.batch  # a fresh batch to check
        labels = ws.sort.labels()
        from core.inference.placement import FilingRule

        rule = FilingRule(0.95, labels)
        assert {rule.folder(p) for p in ws.sort.preds if p.path == second} == {labels[second]}
    finally:
        REGISTRY.release(ws.id)


def _trained_and_sorted(tmp_path, n_per_class: int, epochs: int, gallery: int, from_groups: bool = False):
    """A workspace with a model trained on stripes vs dots, and the Sort page having sorted a generated roll."""
    from core.data.dataset import load_dataset
    from core.session.workspace import REGISTRY
    from core.training.config import Phase, TrainConfig
    from core.training.train import train
    from tests.helpers.images import make_class_folders

    ws = REGISTRY.get(None)
    data = make_class_folders(tmp_path / "data", classes=("stripes", "dots"), n=n_per_class)
    source = "Discover: 2 groups" if from_groups else "test"
    ws.data.set_dataset(load_dataset(data, 0.2), source, from_groups=from_groups)
    cfg = TrainConfig(phases=[Phase("head only", epochs, 3e-3)], augment="none")
    ws.add_run(train(ws.data.effective(), cfg, ws.cache))
    roll = tmp_path / "roll"
    roll.mkdir()
    for k in range(gallery):
        draw_image(("stripes", "dots")[k % 2], 8300 + k).save(roll / f"p{k:02d}.jpg")
    at = _sort_page(ws.id).run()
    at.text_input(key="sort-local-path").set_value(str(roll)).run()
    next(b for b in at.button if b.key == "sort_local_btn").click().run()
    next(b for b in at.button if b.label.startswith("Sort ")).click().run()
    assert ws.sort.slot.job.join(120)
    at.run()
    assert not at.exception, at.exception
    return ws, at


def test_an_audit_of_what_was_filed_becomes_evidence_the_certificate_names(tmp_path):
    """Train on a few photos (too few validation photos to certify), sort, audit: the claim now rests on the audit."""
    from core.session.workspace import REGISTRY

    ws, at = _trained_and_sorted(tmp_path, n_per_class=10, epochs=8, gallery=30)
    try:
        captions = " ".join(c.value for c in at.caption)
        assert "Not certified: 4 validation photos" in captions  # what the claim rests on, said plainly
        at.select_slider(key=next(s.key for s in at.select_slider)).set_value(0.8).run()
        next(b for b in at.button if b.key == "sort-audit").click().run()
        assert not at.exception, at.exception
        batch = list(ws.sort.audit_batch)
        assert batch and all(p in {q.path for q in ws.sort.preds} for p in batch)
        for k in range(len(batch)):
            next(b for b in at.button if b.key == f"au-ok-{k}").click().run()
        assert not at.exception, at.exception
        assert len(ws.sort.audit) == len(batch) and set(ws.data.extra) >= set(batch)  # confirmed labels
        said = f"right for {len(batch)} of the {len(batch)} photos you audited"
        assert any(said in m.value for m in [*at.success, *at.warning])
        captions = " ".join(c.value for c in at.caption)
        assert len(batch) >= 6  # with the audit, 10 held-out photos or more: now the claim can be certified
        assert f"4 validation photos and {len(batch)} audited photos" in captions
        assert ws.sort.teacher.labels == {}  # audit answers never train the re-sorts: they stay held out
    finally:
        REGISTRY.release(ws.id)


def test_classes_from_groups_claim_agreement_not_accuracy_and_only_an_audit_certifies(tmp_path):
    from core.session.workspace import REGISTRY

    ws, at = _trained_and_sorted(tmp_path, n_per_class=30, epochs=4, gallery=6, from_groups=True)  # 12 validation
    try:
        captions = " ".join(c.value for c in at.caption)
        assert "came from Discover's groups" in captions and "Not certified: no held-out photos" in captions
        at.switch_page("pages/review.py").run()
        assert not at.exception, at.exception
        assert "Agreement with your groups" in [m.label for m in at.metric]
        assert "Validation accuracy" not in [m.label for m in at.metric]
    finally:
        REGISTRY.release(ws.id)
