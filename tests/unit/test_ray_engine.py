"""`python -m core sort --engine ray` on a local Ray instance gives what the local engine gives."""

from __future__ import annotations

import csv
import sys

import pytest

from core.training import model_io
from tests.helpers.images import draw_image
from tests.unit.test_cli import run


def rows(folder):
    return list(csv.DictReader(open(folder / "predictions.csv")))


def test_ray_engine_sorts_like_the_local_engine(tmp_path, trained_bundle):
    bundle = trained_bundle[0]
    model_io.save_dir(bundle, tmp_path / "m")
    gallery = tmp_path / "gallery"
    (gallery / "sub").mkdir(parents=True)
    for k in range(6):
        draw_image("stripes", 500 + k).save(gallery / f"s{k}.jpg")
        draw_image("dots", 600 + k).save(gallery / "sub" / f"d{k}.jpg")
    (gallery / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")

    local = run("sort", tmp_path / "m", gallery, "--out", tmp_path / "local")
    ray = run(
        "sort",
        tmp_path / "m",
        gallery,
        "--out",
        tmp_path / "ray",
        "--engine",
        "ray",
        "--ray-actors",
        "2",
        "--batch-size",
        "4",
    )
    assert "sorted 12 images" in local.stdout and "sorted 12 images" in ray.stdout
    assert "skipped broken.jpg" in ray.stderr and "Traceback" not in ray.stderr  # reported, not fatal

    a, b = rows(tmp_path / "local"), rows(tmp_path / "ray")
    assert [r["path"] for r in a] == [r["path"] for r in b]  # same order in predictions.csv
    for x, y in zip(a, b):
        assert (x["class"], x["folder"], x["error"] != "") == (y["class"], y["folder"], y["error"] != "")
        assert abs(float(x["confidence"]) - float(y["confidence"])) < 1e-3
    assert {r["class"] for r in b if not r["error"]} == {"dots", "stripes"}
    assert [r["path"] for r in b if r["error"]] == ["broken.jpg"]
    for r in b:
        if r["error"]:
            continue
        # every readable file landed where the csv says; the gallery is untouched
        assert (tmp_path / "ray" / r["file"]).is_file()
    assert (gallery / "broken.jpg").read_bytes() == b"\xff\xd8 not really a jpeg"


def test_ray_engine_without_ray_says_how_to_install_it(tmp_path, trained_bundle, monkeypatch):
    from core.inference.ray_engine import RayUnavailable, predict_paths_ray

    model_io.save_dir(trained_bundle[0], tmp_path / "m")
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    with pytest.raises(RayUnavailable, match=r"pip install 'ray\[data\]'"):
        list(predict_paths_ray(tmp_path / "m", [tmp_path / "a.jpg"]))
