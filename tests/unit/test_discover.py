"""Discover: propose groups in an unlabelled gallery, edit them, hand them to training.

One small generated gallery (3 visually distinct kinds, mixed in one folder, plus
one broken file) is embedded once per module; every other test reuses the
embedding or the feature cache so the whole file stays light on CPU.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from core.analysis import discover as D
from core.data.dataset import DatasetError, check_trainable
from core.models.features import FeatureCache
from tests.helpers.images import draw_image

KINDS = ("stripes", "dots", "plain")
PER_KIND = 8


def _snapshot(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.md5(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def gallery(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("discover") / "gallery"
    root.mkdir()
    for c_i, kind in enumerate(KINDS):
        for k in range(PER_KIND):
            draw_image(kind, seed=1000 * c_i + k).save(root / f"img_{c_i}{k:02d}.jpg")
    (root / "broken.jpg").write_bytes(b"not really a jpeg")
    return root


def kind_of(p: Path) -> str:
    return KINDS[int(p.stem[4])]


@pytest.fixture(scope="module")
def cache() -> FeatureCache:
    return FeatureCache()


@pytest.fixture(scope="module")
def embedding(gallery, cache) -> D.Embedding:
    seen = []
    emb = D.embed(sorted(gallery.iterdir()), cache=cache, progress=lambda d, t: seen.append((d, t)))
    assert seen and seen[-1][0] == seen[-1][1] == len(KINDS) * PER_KIND + 1
    return emb


@pytest.fixture(scope="module")
def grouping(embedding) -> D.Grouping:
    return D.propose(embedding)


def test_embedding_is_normalised_and_reports_broken_files(embedding):
    assert len(embedding.paths) == len(KINDS) * PER_KIND
    assert [p.name for p, _ in embedding.failures] == ["broken.jpg"]
    assert np.allclose(np.linalg.norm(embedding.vectors, axis=1), 1.0, atol=1e-4)


def test_grouping_recovers_the_three_kinds(grouping):
    truth = [kind_of(p) for p in grouping.paths]
    assert grouping.k_auto and grouping.k == 3
    assert adjusted_rand_score(truth, grouping.labels) >= 0.9
    assert set(grouping.k_scores) == set(D.k_range(len(grouping.paths)))
    assert grouping.coords.shape == (len(grouping.paths), 2)
    assert [grp.name for grp in grouping.groups] == ["group_1", "group_2", "group_3"]


def test_members_are_ordered_most_typical_first(grouping):
    for grp in grouping.groups:
        t = grouping.typicality[grp.members]
        assert list(t) == sorted(t, reverse=True)
        assert set(grp.doubtful) <= set(grp.members)


def test_forced_k_and_regroup(embedding, grouping):
    g4 = D.propose(embedding, k=4)
    assert g4.k == 4 and not g4.k_auto and g4.k_scores == {}
    g2 = D.regroup(grouping, k=2)
    assert g2.k == 2 and np.array_equal(g2.coords, grouping.coords)  # the map stays put
    agg = D.regroup(grouping, method="agglomerative")
    assert agg.method == "agglomerative" and agg.k == 3
    with pytest.raises(D.DiscoverError):
        D.propose(embedding, k=len(embedding.paths))


def test_rename_merge_split_move_discard(grouping):
    a, b, c = grouping.group_ids
    named = D.rename(grouping, a, "  cats/dogs ")
    assert named.names[a] == "cats_dogs" and grouping.names[a] == "group_1"  # pure: original untouched
    with pytest.raises(D.DiscoverError):
        D.rename(named, b, "cats_dogs")
    with pytest.raises(D.DiscoverError):
        D.rename(named, b, "   ")

    merged = D.merge(named, a, b)
    assert merged.k == 2 and b not in merged.names and merged.names[a] == "cats_dogs"
    assert merged.group(a).size == grouping.group(a).size + grouping.group(b).size

    parts = D.split(merged, a)
    assert parts.k == 3 and parts.names[a] == "cats_dogs"
    assert sorted(grp.size for grp in parts.groups) == sorted(grp.size for grp in grouping.groups)
    with pytest.raises(D.DiscoverError):
        D.split(grouping, a, parts=100)

    img = grouping.group(a).members[-1]
    moved = D.move(grouping, grouping.paths[img], c)
    assert moved.labels[img] == c and moved.group(a).size == grouping.group(a).size - 1
    fresh = D.move(grouping, [img], None)
    new_id = max(grouping.group_ids) + 1
    assert fresh.labels[img] == new_id and fresh.group(new_id).size == 1
    emptied = D.move(grouping, grouping.group(c).members, a)
    assert c not in emptied.names and emptied.k == 2

    dropped = D.discard(grouping, c)
    assert dropped.k == 2 and len(dropped.discarded) == grouping.group(c).size
    back = D.move(dropped, dropped.discarded, None)
    assert back.k == 3 and not back.discarded
    with pytest.raises(D.DiscoverError):
        D.merge(grouping, a, a)


def test_to_dataset_trains_on_cached_features_and_leaves_files_alone(gallery, grouping, cache):
    from core.training.train import Phase, TrainConfig, train

    before = _snapshot(gallery)
    g = grouping
    for gid in g.group_ids:
        g = D.rename(g, gid, kind_of(g.paths[g.group(gid).members[0]]))
    ds = D.to_dataset(g)
    assert ds.layout == "classes" and ds.classes == sorted(KINDS)
    assert all(i.path.parent == gallery for i in ds.items)  # points at the originals
    for _cls, splits in ds.counts().items():
        assert splits.get("val", 0) >= 1 and splits.get("train", 0) >= 1
    check_trainable(ds)

    n_cached = len(cache)
    cfg = TrainConfig(phases=[Phase("head only", 2, 3e-3)], augment="none", views=1)
    result = train(ds, cfg, cache)
    assert result.classes == sorted(KINDS)
    assert len(cache) == n_cached  # the embeddings Discover computed were reused, not recomputed
    assert _snapshot(gallery) == before


def test_to_dataset_refuses_what_cannot_train(grouping):
    a, b, c = grouping.group_ids
    with pytest.raises(DatasetError):
        D.to_dataset(D.discard(D.discard(grouping, b), c))
    with pytest.raises(DatasetError):
        D.to_dataset(grouping, names={a: "same", b: "same"})
    partial = D.to_dataset(D.discard(grouping, c))
    assert len(partial.classes) == 2 and len(partial.unlabelled) == grouping.group(c).size


def test_write_groups_copies_and_writes_csv(gallery, grouping, tmp_path):
    before = _snapshot(gallery)
    g = D.discard(D.rename(grouping, grouping.group_ids[0], "first"), grouping.group_ids[2])
    counts, csv_path = D.write_groups(g, tmp_path / "out", root=gallery)
    assert csv_path == tmp_path / "out" / "groups.csv"
    assert counts == {"first": g.group(g.group_ids[0]).size, "group_2": g.group(g.group_ids[1]).size}
    for folder, n in counts.items():
        assert len(list((tmp_path / "out" / folder).iterdir())) == n
    rows = list(csv.DictReader(csv_path.open()))
    assert len(rows) == len(g.paths)
    assert {r["group"] for r in rows} == {"first", "group_2", ""}
    assert all((tmp_path / "out" / r["file"]).is_file() for r in rows if r["group"])
    assert _snapshot(gallery) == before


def test_too_few_images(gallery, cache):
    emb = D.embed(sorted(gallery.glob("img_0*.jpg"))[:2], cache=cache)
    with pytest.raises(D.DiscoverError):
        D.propose(emb)


def test_cli_discover(gallery, tmp_path, capsys):
    from core.cli import main

    out = tmp_path / "groups"
    assert main(["discover", str(gallery), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "k = 3 (chosen by silhouette" in text
    assert sorted(p.name for p in out.iterdir()) == ["group_1", "group_2", "group_3", "groups.csv"]
    rows = list(csv.DictReader((out / "groups.csv").open()))
    assert len(rows) == len(KINDS) * PER_KIND
    labels = [r["group"] for r in rows]
    assert adjusted_rand_score([kind_of(Path(r["path"])) for r in rows], labels) >= 0.9

    assert main(["discover", str(gallery), "--out", str(gallery / "inside")]) == 2
    assert "outside the gallery" in capsys.readouterr().err


def test_cli_discover_forced_k(gallery, tmp_path, capsys):
    import shutil

    from core.cli import main

    small = tmp_path / "small"
    small.mkdir()
    for p in sorted(gallery.glob("img_*.jpg"))[::4]:  # 6 images, 2 of each kind
        shutil.copy(p, small / p.name)
    assert main(["-q", "discover", str(small), "--out", str(tmp_path / "o"), "--k", "2"]) == 0
    assert "k = 2 (forced)" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["group_1", "group_2", "groups.csv"]
