"""The Human3.6M reader on the real poses and cameras in ../shared/data/h36m (3d-pose-baseline layout).

Human3.6M is for non-commercial research and is never part of the project: these tests read it
from ../shared and skip where that folder is absent.
"""
from pathlib import Path

import h5py
import numpy as np
import pytest

from kfusion import skeletons
from kfusion.datasets import h36m
from kfusion.data import posepairs

ROOT = Path(__file__).resolve().parents[3] / "shared" / "data" / "h36m"
pytestmark = pytest.mark.skipif(not (ROOT / "cameras.h5").is_file(),
                                reason=f"Human3.6M poses not at {ROOT} (research-only data, read from ../shared)")


@pytest.fixture(scope="module")
def s9(tmp_path_factory):
    out = tmp_path_factory.mktemp("h36m-s9")
    manifest = h36m.prepare_poses(ROOT, out, subjects=["S9"])
    return manifest, posepairs.read_split(out, "test")


def _baseline_projection(P, R, T, f, c, k, p):
    """3d-pose-baseline's cameras.project_point_radial, written out independently (P: (N, 3) world mm)."""
    X = R.dot(P.T - T)
    XX = X[:2, :] / X[2, :]
    r2 = XX[0, :] ** 2 + XX[1, :] ** 2
    radial = 1 + np.einsum("ij,ij->j", np.tile(k, (1, P.shape[0])), np.array([r2, r2 ** 2, r2 ** 3]))
    tan = p[0] * XX[1, :] + p[1] * XX[0, :]
    XXX = XX * np.tile(radial + tan, (2, 1)) + np.outer(np.array([p[1], p[0]]).reshape(-1), r2)
    return (f * XXX + c).T


def test_joints_units_and_frame(s9):
    manifest, a = s9
    assert manifest["skeleton"] == "h36m17" and list(manifest["splits"]) == ["test"]
    assert a["joints_3d"].shape[1:] == (17, 3) and a["joints_2d"].shape[1:] == (17, 2)
    assert set(np.unique(a["camera"])) == set(h36m.CAMERAS)
    # millimetres: every bone of S9 keeps its length to < 1 mm over all frames and cameras
    parents = skeletons.H36M17.parents
    bones = np.stack([np.linalg.norm(a["joints_3d"][:, j] - a["joints_3d"][:, q], axis=-1)
                      for j, q in enumerate(parents) if q >= 0], axis=1)
    assert np.all(bones.max(0) - bones.min(0) < 1.0)
    assert 400 < bones[:, 1].mean() < 550  # a thigh of about half a metre
    # camera frame: every joint in front of the camera, a few metres away
    assert np.all(a["joints_3d"][..., 2] > 1000)
    # every projected joint of S9 "Walking 1" lies inside its camera's frame
    walk = a["sequence"] == "Walking 1"
    assert walk.sum() > 4 * 1000
    uv, size = a["joints_2d"][walk], a["frame_size"][walk]
    assert np.all(uv >= 0) and np.all(uv[..., 0] < size[:, None, 0]) and np.all(uv[..., 1] < size[:, None, 1])


def test_takes_kept_apart(s9):
    _, a = s9
    first, second = a["sequence"] == "Directions", a["sequence"] == "Directions 1"
    assert first.any() and second.any()
    assert set(a["action"][first]) == set(a["action"][second]) == {"Directions"}
    assert first.sum() != second.sum()  # two recordings of different length, not one relabelled
    # 59 of 60: S9 lacks Discussion 1 in this snapshot; all other 29 sequences, 4 cameras each
    seqs = set(zip(a["sequence"], a["camera"]))
    assert len({s for s, _ in seqs}) == 29 and len(seqs) == 29 * 4


def test_projection_equals_3d_pose_baseline(s9):
    _, a = s9
    with h5py.File(ROOT / "cameras.h5", "r") as f:
        g = f["subject9/camera2"]
        R, T, fc, c, k, p = (np.asarray(g[n], dtype=np.float64) for n in ("R", "T", "f", "c", "k", "p"))
        name = "".join(chr(int(v)) for v in np.asarray(g["Name"]).ravel())
    R = R.T  # load_camera_params transposes the stored R
    with h5py.File(ROOT / "S9" / "MyPoses" / "3D_positions" / "Eating 1.h5", "r") as f:
        world = np.asarray(f["3D_positions"], dtype=np.float64).T.reshape(-1, 32, 3)
    frames = [0, 17, 400, len(world) - 1]
    want = np.stack([_baseline_projection(world[t], R, T.reshape(3, 1), fc, c, k, p) for t in frames])
    want = want[:, skeletons.H36M32_TO_17]
    sel = (a["sequence"] == "Eating 1") & (a["camera"] == name)
    got = a["joints_2d"][sel][frames]
    np.testing.assert_allclose(got, want, atol=1e-3)  # px (stored as float32)
    cam = (R @ (world[frames][:, skeletons.H36M32_TO_17] - T.reshape(3)).transpose(0, 2, 1)).transpose(0, 2, 1)
    np.testing.assert_allclose(a["joints_3d"][sel][frames], cam, atol=1e-2)  # mm


def test_builtin_cameras_match_cameras_h5():
    """The built-in intrinsics equal the dataset's (tangential p in the order project_distorted uses)."""
    cams = h36m.read_cameras_h5(ROOT / "cameras.h5")["S9"]
    for cid, cam in cams.items():
        for key in ("f", "c", "k", "p"):
            np.testing.assert_allclose(h36m.CAMERAS[cid][key], cam[key], rtol=1e-6, atol=1e-9)


def test_render_through_a_real_camera():
    """Records rendered from the real poses and cameras: the record's K (and the camera's lens)
    projects its 3D joints onto its 2D joints, and the visible joints land on the rendered body."""
    import itertools

    from kfusion import geometry
    from kfusion.synthetic import h36m_render

    jobs = list(itertools.islice(h36m_render._jobs(ROOT, "test", num=0, test_every=400, seed=0), 0, None, 37))
    assert len(jobs) >= 8
    for job in jobs:
        rec, out = h36m_render.render_job(job, image_size=128)
        cam, K = job["camera"], rec["intrinsics"].astype(np.float64)
        assert rec["camera"] == cam["id"] and rec["subject"] in ("S9", "S11")
        # the crop's K is the camera's pinhole scaled and shifted: the lens maps 3D onto 2D exactly
        s = K[0, 0] / cam["f"][0]
        np.testing.assert_allclose(K[1, 1] / cam["f"][1], s, rtol=1e-5)
        uv = geometry.project_distorted(rec["joints_3d"], cam["f"], cam["c"], cam["k"], cam["p"])
        np.testing.assert_allclose(uv * s + (K[:2, 2] - s * cam["c"]), rec["joints_2d"], atol=2e-3)
        # without the lens, K alone lands within the distortion (a few crop pixels), never far off
        pin = geometry.project(rec["joints_3d"], K)
        assert np.abs(pin - rec["joints_2d"]).max() < 4.0
        # every visible joint sits on the body in the rendered part map
        vis = rec["visibility"] > 0
        r, c = rec["joints_2d"][vis, 1].astype(int), rec["joints_2d"][vis, 0].astype(int)
        assert vis.sum() >= 10 and np.mean(out["part"][r, c] >= 0) >= 0.9
