"""Real frames with true 3D: the per-frame metrics on known cases, the protocol end to end with methods that
return known poses, and `kfusion evaluate --protocol real3d` at a small size on the shared frames."""
from pathlib import Path

import numpy as np
import pytest

from kfusion import geometry, skeletons
from kfusion.datasets import real3d as real3d_data
from kfusion.eval import metrics, photos, real3d
from photo_sets import Oracle, from_lsp, turn

SHARED = Path(__file__).resolve().parents[3] / "shared"
REAL3D = SHARED / "data" / "real3d"
PEER = SHARED / "models" / "mediapipe" / "pose_landmark_full.tflite"
LSP = skeletons.LSP14


def test_frame_errors_known_scale_rotation_and_shift():
    rng = np.random.default_rng(0)
    gt_3d = rng.normal(0, 300, (14, 3)) + [0, 0, 4000]
    gt_2d = rng.uniform(0, 400, (14, 2))
    joints = [LSP.index(j) for j in skeletons.LIMB_JOINTS]
    torso = np.linalg.norm(gt_2d[LSP.index("l_shoulder")] - gt_2d[LSP.index("r_hip")])
    e = real3d.frame_errors(0.7 * gt_3d - 900.0, gt_2d + [3.0, 4.0], gt_3d, gt_2d, joints)
    assert e["mpjpe_scaled_mm"] < 1e-9 and e["pa_mpjpe_mm"] < 1e-6  # a known scale and shift recovered
    assert e["error_2d_px"] == pytest.approx(5.0) and e["error_2d_torso"] == pytest.approx(5.0 / torso)
    e = real3d.frame_errors(gt_3d @ turn(40).T, gt_2d, gt_3d, gt_2d, joints)
    assert e["pa_mpjpe_mm"] < 1e-6 and e["mpjpe_scaled_mm"] > 50  # a turn: only Procrustes undoes it
    pred = gt_3d + np.random.default_rng(1).normal(0, 80, (14, 3))  # any pose: rooted at the mid-hip
    hips = [joints.index(LSP.index("l_hip")), joints.index(LSP.index("r_hip"))]
    e = real3d.frame_errors(pred, gt_2d, gt_3d, gt_2d, joints)
    assert e["mpjpe_scaled_mm"] == pytest.approx(metrics.n_mpjpe(pred[joints], gt_3d[joints], root=hips))
    assert e["mpjpe_scaled_mm"] != pytest.approx(metrics.n_mpjpe(pred[joints], gt_3d[joints], root=0))


def test_protocol_end_to_end_with_known_poses(tmp_path):
    """Both methods see each frame's crop; one returns the truth smaller and root-relative in its own joint
    orders (kfusion: mpii16 2D, h36m17 3D), the other the truth turned 30 degrees (BlazePose's 33 landmarks,
    mm): the first scores zero everywhere, the second zero after Procrustes only; a frame with a joint not
    seen scores 11 joints."""
    from photo_sets import write_real3d_file

    write_real3d_file(tmp_path / "h36m" / "test_h36m_body3d.npz")
    write_real3d_file(tmp_path / "mpi_inf_3dhp" / "test_3dhp_test.npz", "mpi_inf_3dhp17", n=1, seed=3)
    frames = real3d_data.read_frames(tmp_path)
    ours, theirs = [], []
    for f in frames:
        pelvis = f.joints_3d[skeletons.get(f.skeleton).index("pelvis")]
        lsp_2d, lsp_3d = photos.to_lsp(f.joints_2d, f.skeleton), photos.to_lsp(f.joints_3d, f.skeleton)
        ours.append((f.box, skeletons.convert(_h36m(f), "h36m17", "mpii16"), 0.8 * (_h36m(f, 3) - pelvis)))
        theirs.append((f.box, from_lsp(lsp_2d, "blazepose33"), from_lsp((lsp_3d - pelvis) @ turn(30).T,
                                                                          "blazepose33")))
    r = real3d.evaluate(Oracle(64, "mpii16", "h36m17", ours), tmp_path,
                        peer=Oracle(256, "blazepose33", "blazepose33", theirs))
    assert r["count"] == 3 and r["joints"] == list(skeletons.LIMB_JOINTS)
    # joint 3 of the first frame of each file is not seen in 2D: h36m17 r_ankle, mpi_inf_3dhp17 r_elbow
    assert [row["joints"] for row in r["frames"]] == [11, 12, 11]
    for row in r["frames"]:
        assert all(v < 1e-6 for v in row["kfusion"].values())
        assert row["blazepose"]["pa_mpjpe_mm"] < 1e-6 and row["blazepose"]["error_2d_px"] < 1e-6
        assert row["blazepose"]["mpjpe_scaled_mm"] > 20
    assert "| **Mean (3 frames)** |" in r["markdown"] and "BlazePose-full PA-MPJPE (mm)" in r["markdown"]


def _h36m(frame, dim=2):
    """A frame's true 2D (dim 2) or 3D (dim 3) joints in h36m17's order (3DHP's mapped through LSP's
    joints plus its pelvis, spine, neck and head for the rest)."""
    pose = frame.joints_2d if dim == 2 else frame.joints_3d
    if frame.skeleton == "h36m17":
        return pose
    out = from_lsp(photos.to_lsp(pose, frame.skeleton), "h36m17")
    src = skeletons.get(frame.skeleton)
    for h36m, mpi in (("pelvis", "pelvis"), ("spine", "spine"), ("thorax", "neck"), ("neck", "head"),
                      ("head", "head_top")):
        out[skeletons.H36M17.index(h36m)] = pose[src.index(mpi)]
    return out


@pytest.mark.skipif(not (REAL3D / real3d_data.FILES[0][0]).is_file(),
                    reason=f"real3d frames not at {REAL3D} (research-only data, read from ../shared)")
def test_cli_protocol_real3d(tmp_path):
    from photo_sets import evaluate_cli

    r, md = evaluate_cli("real3d", REAL3D, tmp_path, "--limit", "2", peer=PEER)
    assert r["count"] == 2 and len(r["frames"]) == 2 and r["joints"] == list(skeletons.LIMB_JOINTS)
    methods = ["kfusion"] + (["blazepose"] if PEER.is_file() else [])
    assert sorted(r["mean"]) == sorted(methods)
    for m in methods:  # real errors of a real method: positive, below a metre
        assert all(0 < r["mean"][m][k] < 1000 for k in ("mpjpe_scaled_mm", "pa_mpjpe_mm", "error_2d_px"))
        assert r["mean"][m]["pa_mpjpe_mm"] <= r["mean"][m]["mpjpe_scaled_mm"] + 1e-6  # Procrustes fits more
    assert "# kfusion evaluate: protocol real3d" in md and "Joints scored (12" in md
