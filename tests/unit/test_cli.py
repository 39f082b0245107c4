"""The CLI as a user runs it: subprocesses, exit codes, files written."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
import zipfile

import pytest

from tests.helpers.images import ROOT, draw_image, make_class_folders


def run(*args, check=True):
    p = subprocess.run(
        [sys.executable, "-m", "core", *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    if check:
        assert p.returncode == 0, p.stderr
    return p


def test_train_then_sort_end_to_end(tmp_path):
    data = make_class_folders(tmp_path / "data", n=8)
    # data given as a .zip works the same as a folder
    zpath = tmp_path / "data.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for p in data.rglob("*.jpg"):
            zf.write(p, p.relative_to(tmp_path).as_posix())
    out = run("train", zpath, "--out", tmp_path / "m", "--epochs", "5", "--seed", "3", "--augment", "none")
    assert "val_accuracy" in out.stdout
    metrics = json.loads((tmp_path / "m" / "metrics.json").read_text())
    for key in ("val_accuracy", "train_seconds", "epochs", "backbone", "classes"):
        assert key in metrics
    assert 0 <= metrics["val_accuracy"] <= 1 and metrics["classes"] == ["dots", "stripes"]
    assert metrics["backbone"] == "efficientnet_lite0" and metrics["epochs"] == 5

    gallery = tmp_path / "gallery"
    gallery.mkdir()
    for k in range(3):
        draw_image("stripes", 900 + k).save(gallery / f"img{k}.jpg")
    run("sort", tmp_path / "m", gallery, "--out", tmp_path / "sorted")
    rows = list(csv.DictReader(open(tmp_path / "sorted" / "predictions.csv")))
    assert len(rows) == 3
    for r in rows:
        assert (tmp_path / "sorted" / r["file"]).is_file()
        assert r["class"] in ("dots", "stripes")
    assert sorted(p.name for p in gallery.iterdir()) == ["img0.jpg", "img1.jpg", "img2.jpg"]

    pred = run("predict", tmp_path / "m", gallery / "img0.jpg", "--json")
    assert json.loads(pred.stdout)[0]["class"] in ("dots", "stripes")
    ev = run("evaluate", tmp_path / "m", data, "--json")
    assert 0 <= json.loads(ev.stdout)["accuracy"] <= 1


def test_bad_input_gives_one_line_error_and_nonzero_exit(tmp_path):
    p = run("train", tmp_path / "missing", "--out", tmp_path / "m", check=False)
    assert p.returncode != 0 and p.stderr.strip().startswith("error:") and "Traceback" not in p.stderr
    (tmp_path / "one" / "cats").mkdir(parents=True)
    draw_image("dots", 1).save(tmp_path / "one" / "cats" / "a.jpg")
    (tmp_path / "one" / "dogs").mkdir()  # an empty second class folder
    p = run("train", tmp_path / "one", "--out", tmp_path / "m", check=False)
    assert p.returncode == 2 and "one class" in p.stderr and "Traceback" not in p.stderr
    (tmp_path / "fake.pt").write_bytes(b"not a model")
    p = run("sort", tmp_path / "fake.pt", tmp_path / "one", "--out", tmp_path / "o", check=False)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    p = run("train", tmp_path / "one", "--out", tmp_path / "m", "--backbone", "resnet34", check=False)
    assert p.returncode != 0


def test_seed_presets_run_from_the_cli_with_supplied_or_random_weights(tmp_path):
    """Offline, torchvision weights are missing: the CLI says so, and runs with --weights or --random-init."""
    import torch
    import torchvision

    data = make_class_folders(tmp_path / "data", n=5)
    p = run("train", data, "--out", tmp_path / "m0", "--preset", "seed-resnet34", check=False)
    if p.returncode != 0:
        assert "--weights PATH" in p.stderr and "Traceback" not in p.stderr
    torch.save(torchvision.models.resnet34(weights=None).state_dict(), tmp_path / "r34.pth")
    run(
        "train",
        data,
        "--out",
        tmp_path / "m1",
        "--preset",
        "seed-resnet34",
        "--weights",
        tmp_path / "r34.pth",
        "--epochs",
        "1",
        "--views",
        "1",
    )
    hist = json.loads((tmp_path / "m1" / "history.json").read_text())
    assert [h["unfreeze"] for h in hist] == ["last block + head", "head only"]  # layer4+fc, then fc
    out = run(
        "train",
        data,
        "--out",
        tmp_path / "m2",
        "--preset",
        "seed-mobilenetv2",
        "--random-init",
        "--epochs",
        "1",
        "--views",
        "1",
    )
    metrics = json.loads((tmp_path / "m2" / "metrics.json").read_text())
    assert metrics["backbone"] == "mobilenet_v2" and "NOT pretrained" in metrics["weights"]
    assert "random initialisation" in out.stdout


def test_fifo_and_outside_link_are_reported_as_skipped_by_every_command(tmp_path):
    """A FIFO would block a reader forever and a link could point anywhere: neither is opened or followed."""
    import os

    data = make_class_folders(tmp_path / "data", n=6)
    outside = tmp_path / "elsewhere.jpg"
    draw_image("dots", 77).save(outside)
    os.mkfifo(data / "dots" / "pipe.jpg")
    (data / "stripes" / "link.jpg").symlink_to(outside)

    def skipped(p) -> None:
        assert "Traceback" not in p.stderr
        assert "skipped dots/pipe.jpg: a FIFO" in p.stderr or "dots/pipe.jpg" in p.stdout, p.stderr
        assert "skipped stripes/link.jpg: a symbolic link" in p.stderr or "stripes/link.jpg" in p.stdout, p.stderr

    def run_briefly(*args):
        p = subprocess.run(
            [sys.executable, "-m", "core", *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=240
        )
        assert p.returncode == 0, p.stderr
        return p

    check = run_briefly("check", data)
    skipped(check)
    assert "12 images" in check.stdout  # the two entries are not counted as images
    skipped(run_briefly("train", data, "--out", tmp_path / "m", "--epochs", "2"))
    sort = run_briefly("sort", tmp_path / "m", data, "--out", tmp_path / "sorted")
    skipped(sort)
    assert "sorted 12 images" in sort.stdout
    disc = run_briefly("discover", data, "--out", tmp_path / "groups", "--k", "2")
    skipped(disc)
    assert sum(1 for _ in (tmp_path / "groups").rglob("*.jpg")) == 12


def test_train_quality_ladder_from_the_cli(tmp_path, capsys):
    """`--quality` runs the Train page's ladder: each rung's accuracy printed, the kept one saved."""
    from core.cli import main

    data = make_class_folders(tmp_path / "data", n=8)
    assert main(["train", str(data), "--out", str(tmp_path / "m"), "--quality", "quick"]) == 0
    out = capsys.readouterr().out
    assert "rung quick val_accuracy" in out and "kept Quick" in out
    assert re.search(r"^forecast quick seconds \d+\.\d$", out, re.M)  # what the Train page would have said
    metrics = json.loads((tmp_path / "m" / "metrics.json").read_text())
    assert metrics["rung"] == "quick" and (tmp_path / "m" / "model.pt").is_file()
    with pytest.raises(SystemExit) as bad:
        main(["train", str(data), "--out", str(tmp_path / "n"), "--quality", "fastest"])
    assert bad.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_train_with_no_recipe_options_runs_the_automatic_ladder():
    """`python -m core train DATA --out M` does what the Train page's default does: Automatic."""
    from core.cli import build_parser
    from core.cli.train_cmd import quality_of

    parse = build_parser().parse_args
    assert quality_of(parse(["train", "d", "--out", "m"])) == "auto"
    assert quality_of(parse(["train", "d", "--out", "m", "--seed", "2", "--backbone", "efficientnet_lite2"])) == "auto"
    assert quality_of(parse(["train", "d", "--out", "m", "--quality", "quick"])) == "quick"
    # a recipe spelled out is trained as written
    assert quality_of(parse(["train", "d", "--out", "m", "--epochs", "5"])) is None
    assert quality_of(parse(["train", "d", "--out", "m", "--unfreeze", "last block + head"])) is None
    assert quality_of(parse(["train", "d", "--out", "m", "--preset", "seed-resnet34"])) is None


def test_sort_at_a_precision_prints_what_it_filed_and_what_the_claim_rests_on(tmp_path):
    data = make_class_folders(tmp_path / "data", n=25)  # 5 a class held out for validation
    run("train", data, "--out", tmp_path / "m", "--epochs", "4", "--augment", "none", "--no-text")
    gallery = tmp_path / "gallery"
    gallery.mkdir()
    for k in range(8):
        draw_image(("stripes", "dots")[k % 2], 700 + k).save(gallery / f"g{k}.jpg")
    for learn in ((), ("--learn-from-gallery", "--data", data)):
        out = tmp_path / f"sorted{len(learn)}"
        p = run("sort", tmp_path / "m", gallery, "--out", out, "--precision", "0.9", *learn)
        line = next(x for x in p.stdout.splitlines() if x.startswith("filed "))
        filed = int(line.split()[1])
        rows = list(csv.DictReader(open(out / "predictions.csv")))
        assert filed == sum(1 for r in rows if r["folder"] != "unsure")  # the words and the folders agree
        assert "10 validation photos" in p.stdout  # what the claim rests on
        if learn:
            assert "learning from the gallery:" in p.stderr
    p = run("sort", tmp_path / "m", gallery, "--out", tmp_path / "x", "--learn-from-gallery", check=False)
    assert p.returncode == 2 and "needs --data" in p.stderr
