"""LSP / LSP-extended reader on tiny joints.mat + JPEG folders (2D only)."""
import json

import numpy as np
import pytest
import scipy.io
from PIL import Image

from kfusion.datasets import lsp
from kfusion.data import records
from kfusion.errors import KfusionError


def _make(root, n, extended):
    rng = np.random.default_rng(3)
    xy = rng.uniform(60, 140, size=(n, 14, 2))  # MATLAB 1-based pixels
    flags = rng.integers(0, 2, size=(n, 14)).astype(float)
    (root / "images").mkdir(parents=True)
    for i in range(n):
        img = np.full((200, 220, 3), 40, np.uint8)
        x, y = (xy[i, 12] - 0.5).astype(int)
        img[y - 5:y + 5, x - 5:x + 5] = 250  # mark the neck
        Image.fromarray(img).save(root / "images" / f"im{i + 1:04d}.jpg", quality=95)
    if extended:
        joints = np.concatenate([xy, flags[..., None]], axis=-1).transpose(1, 2, 0)  # (14, 3, N)
    else:
        joints = np.concatenate([xy, flags[..., None]], axis=-1).transpose(2, 1, 0)  # (3, 14, N)
    scipy.io.savemat(root / "joints.mat", {"joints": joints})
    return xy, flags


@pytest.mark.parametrize("extended", [False, True])
def test_round_trip_and_visibility(tmp_path, extended):
    root = tmp_path / "lsp"
    xy, flags = _make(root, 4, extended)
    m = lsp.prepare(root, tmp_path / "out", image_size=64)
    assert m["has_3d"] is False and m["generator"]["has_3d"] is False and m["skeleton"] == "lsp14"
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["has_3d"] is False and records.read_manifest(tmp_path / "out")["skeleton"] == "lsp14"
    want = {"train": [1, 2, 3, 4]} if extended else {"train": [1, 2], "test": [3, 4]}
    assert {s: v["count"] for s, v in m["splits"].items()} == {s: len(v) for s, v in want.items()}
    for split, frames in want.items():
        samples = list(records.iterate_samples(tmp_path / "out", split))
        assert [int(s["frame"]) for s in samples] == frames
        for s in samples:
            i = int(s["frame"]) - 1
            vis = flags[i] if extended else 1 - flags[i]  # LSP: 1 = occluded; extended: 1 = visible
            inside = np.all((s["joints_2d"] >= 0) & (s["joints_2d"] <= 64), axis=-1)
            np.testing.assert_array_equal(s["visibility"], vis * inside)
            assert np.all(s["joints_3d"] == 0)
            x, y = s["joints_2d"][12].astype(int)
            assert s["image"][y, x].mean() > 180  # the marked neck is where joints_2d says


def test_wrong_shape_and_missing_files(tmp_path):
    scipy.io.savemat(tmp_path / "joints.mat", {"joints": np.zeros((2, 14, 5))})
    with pytest.raises(KfusionError, match=r"joints.mat: 'joints' has shape \(2, 14, 5\); expected LSP \(3, 14, N\)"):
        lsp.load_joints(tmp_path / "joints.mat")
    with pytest.raises(KfusionError, match="nothere/joints.mat: file not found"):
        lsp.load_joints(tmp_path / "nothere" / "joints.mat")
    root = tmp_path / "lsp"
    _make(root, 2, False)
    (root / "images" / "im0002.jpg").unlink()
    with pytest.raises(KfusionError, match=r"im0002.jpg: image not found"):
        lsp.prepare(root, tmp_path / "out", image_size=32)


def test_cli_prepare_lsp(tmp_path, capsys):
    from kfusion.cli.main import main

    _make(tmp_path / "lsp", 2, False)
    assert main(["prepare", "lsp", "--root", str(tmp_path / "lsp"), "--out", str(tmp_path / "out"),
                 "--image-size", "32"]) == 0
    assert "lsp: wrote train 1, test 1 samples" in capsys.readouterr().out
    assert main(["prepare", "lsp", "--root", str(tmp_path / "none"), "--out", str(tmp_path / "o2")]) == 2
    assert "joints.mat: file not found" in capsys.readouterr().err
