"""Real photographs: the LSP-extended held-out split, kfusion against BlazePose-full on the same crops."""
from pathlib import Path

import numpy as np
import pytest

from kfusion import skeletons
from kfusion.eval import photos

SHARED = Path(__file__).resolve().parents[3] / "shared"
LSP_ROOT = SHARED / "data" / "lsp_extended"
PEER = SHARED / "models" / "mediapipe" / "pose_landmark_full.tflite"


def test_fit_orthographic_recovers_scale_and_shift():
    rng = np.random.default_rng(0)
    pose = rng.normal(0, 300, (14, 3))
    uv = 0.25 * pose[:, :2] + [120.0, 80.0]
    vis = np.ones(14, bool)
    vis[3] = False
    np.testing.assert_allclose(photos.fit_orthographic(pose, uv, vis), uv, atol=1e-9)


def test_asymmetry_zero_for_a_mirrored_body_and_counts_differences():
    lsp = skeletons.LSP14
    rng = np.random.default_rng(1)
    pose = rng.normal(0, 300, (14, 3))
    for j in lsp.joints:  # the right side is the left side mirrored in x
        if j.startswith("r_"):
            pose[lsp.index(j)] = pose[lsp.index("l_" + j[2:])] * [-1, 1, 1]
    assert photos.asymmetry(pose[None]) < 1e-9
    longer = pose.copy()
    shoulder, elbow = lsp.index("l_shoulder"), lsp.index("l_elbow")
    longer[lsp.index("l_elbow")] = pose[shoulder] + 1.2 * (pose[elbow] - pose[shoulder])
    # the upper arm 20 % longer on one side: |1.2 - 1| / 1.1 over one of four bones (the forearm moves too)
    assert photos.asymmetry(longer[None]) > 100 * 0.2 / 1.1 / 4 - 1e-6


@pytest.mark.skipif(not (LSP_ROOT / "joints.mat").is_file(),
                    reason=f"LSP-extended not at {LSP_ROOT} (research-only data, read from ../shared)")
def test_heldout_side_by_side():
    import kfusion

    est = kfusion.load()
    peer = photos.BlazePoseFull(PEER) if PEER.is_file() else None
    r = photos.evaluate(est, LSP_ROOT, peer=peer, first=5000, last=5012)
    assert r["count"] >= 10 and r["images"] == "LSP-extended im05001..im05012"
    for key in ("kfusion_2d", "kfusion_3d_fit") + (("blazepose_2d",) if peer else ()):
        assert 0 <= r[key]["pck_limbs"] <= 100
    assert r["kfusion_ms"] > 0 and 0 <= r["kfusion_asymmetry_pct"] < 100
    if peer:  # BlazePose has no neck or head top: those are not scored for it
        assert r["blazepose_2d"]["per_joint"]["neck"] is None and r["blazepose_ms"] > 0
        assert r["blazepose_2d"]["pck_limbs"] > 15  # it finds people in real photos
    assert "PCK (12 limb joints, %)" in r["markdown"]


@pytest.mark.skipif(not (LSP_ROOT / "joints.mat").is_file(),
                    reason=f"LSP-extended not at {LSP_ROOT} (research-only data, read from ../shared)")
def test_cli_protocol_lsp(tmp_path):
    import json

    from kfusion.cli.main import main
    from kfusion.runtime.estimator import default_model_path

    args = ["evaluate", "--protocol", "lsp", "--data", str(LSP_ROOT), "--model", str(default_model_path()),
            "--limit", "6", "--out", str(tmp_path)]
    if PEER.is_file():
        args += ["--peer", str(PEER)]
    assert main(args) == 0
    r = json.loads((tmp_path / "evaluation.json").read_text())
    assert r["images"] == "LSP-extended im05001..im05006" and "kfusion_2d" in r
    assert ("blazepose_2d" in r) == PEER.is_file()


@pytest.mark.skipif(not (LSP_ROOT / "joints.mat").is_file(),
                    reason=f"LSP-extended not at {LSP_ROOT} (research-only data, read from ../shared)")
def test_cli_protocol_lsp_validation_split(tmp_path):
    """``--split val``: the images 4501-5000 that no model trains on, to choose settings on."""
    import json

    from kfusion.cli.main import main
    from kfusion.runtime.estimator import default_model_path

    args = ["evaluate", "--protocol", "lsp", "--data", str(LSP_ROOT), "--model", str(default_model_path()),
            "--split", "val", "--limit", "3", "--out", str(tmp_path)]
    assert main(args) == 0
    assert json.loads((tmp_path / "evaluation.json").read_text())["images"] == "LSP-extended im04501..im04503"


def test_cli_protocol_lsp_refuses_an_unknown_split(tmp_path, capsys):
    from kfusion.cli.main import main

    assert main(["evaluate", "--protocol", "lsp", "--data", str(tmp_path), "--model", str(tmp_path / "m"),
                 "--split", "train"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--split 'train': protocol lsp has the splits ['test', 'val']" in err[0]
