"""MPII reader on a tiny JSON annotation file (hourglass/HRNet conversion) + images."""
import json

import numpy as np
import pytest
from PIL import Image

from kfusion import geometry
from kfusion.datasets import mpii
from kfusion.data import records
from kfusion.errors import KfusionError


@pytest.fixture
def dataset(tmp_path):
    rng = np.random.default_rng(5)
    entries = []
    (tmp_path / "images").mkdir()
    for k in range(3):
        joints = rng.uniform(80, 160, size=(16, 2))
        vis = np.ones(16)
        vis[9] = 0
        img = np.full((240, 260, 3), 30, np.uint8)
        x, y = (joints[7] - 0.5).astype(int)
        img[y - 4:y + 4, x - 4:x + 4] = 240  # mark the thorax
        name = f"{k:09d}.jpg"
        Image.fromarray(img).save(tmp_path / "images" / name, quality=95)
        entries.append({"image": name, "center": [120.0, 115.0], "scale": 0.6,
                        "joints": joints.tolist(), "joints_vis": vis.tolist()})
    (tmp_path / "train.json").write_text(json.dumps(entries[:2]))
    (tmp_path / "valid.json").write_text(json.dumps(entries[2:]))
    return tmp_path, entries


def test_round_trip_hourglass_crop(dataset):
    root, entries = dataset
    m = mpii.prepare(root / "images", root / "out", train=root / "train.json", val=root / "valid.json", image_size=64)
    assert m["has_3d"] is False and m["skeleton"] == "mpii16"
    assert {s: v["count"] for s, v in m["splits"].items()} == {"train": 2, "val": 1}
    samples = list(records.iterate_samples(root / "out", "train")) + list(records.iterate_samples(root / "out", "val"))
    box = np.array([119.5 - 75.0, 114.5 + 9.0 - 75.0, 150.0])  # centre + (0, 15 s), side 200 * s * 1.25
    for e, s in zip(entries, samples):
        want = geometry.image_to_crop(np.asarray(e["joints"]) - 0.5, box, 64)
        np.testing.assert_allclose(s["joints_2d"], want, atol=1e-4)
        assert s["visibility"][9] == 0 and s["visibility"][0] == 1
        x, y = s["joints_2d"][7].astype(int)
        assert s["image"][y, x].mean() > 180


def test_malformed_json_names_file(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps([{"image": "x.jpg", "center": [1, 2], "scale": 1.0,
                                                  "joints": [[0, 0]] * 14}]))
    with pytest.raises(KfusionError, match=r"a.json: entry 0 has joints \(14, 2\).*expected a JSON list"):
        mpii.load_annotations(tmp_path / "a.json")
    (tmp_path / "b.json").write_text(json.dumps({"image": "x"}))
    with pytest.raises(KfusionError, match=r"b.json: top level is a dict"):
        mpii.load_annotations(tmp_path / "b.json")
    with pytest.raises(KfusionError, match="--train and/or --val"):
        mpii.prepare(tmp_path, tmp_path / "out")
