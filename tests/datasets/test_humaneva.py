"""HumanEva-I reader on a tiny dataset: converted_15j .mat files + original-style .avi videos."""
import json

import numpy as np
import pytest
import scipy.io

from kfusion import geometry
from kfusion import video
from kfusion.datasets import humaneva
from kfusion.data import records
from kfusion.errors import KfusionError

T = 4
K = geometry.camera_matrix((520.0, 515.0), (322.0, 241.0))
R = geometry.rotation_matrix([0.1, 1.0, 0.2], 2.5)
C = np.array([300.0, -4000.0, 1200.0])  # camera centre, world mm
t_cam = -R @ C  # X_cam = R X + t


def _world(seed):
    rng = np.random.default_rng(seed)
    centre = C + 4000.0 * R[2]  # 4 m in front of the camera
    return centre + rng.uniform(-500, 500, size=(T, 15, 3))


@pytest.fixture
def dataset(tmp_path, monkeypatch):
    # Small offsets keep the fabricated videos short; the real tables hold hundreds of frames.
    monkeypatch.setitem(humaneva.START, "Train/S1", {"Walking 1": 2})
    monkeypatch.setitem(humaneva.START, "Validate/S1", {"Walking 1": 0})
    monkeypatch.setitem(humaneva.SYNC, "S1", {"Walking 1": (3, 1, 1)})
    poses, root = {}, tmp_path / "HumanEva"
    for split, seed in (("Train", 1), ("Validate", 2)):
        p3 = _world(seed)
        p3[1] = np.nan  # a corrupt mocap frame: skipped
        cam = p3 @ R.T + t_cam
        p2 = np.full((3, T, 15, 2), np.nan)
        p2[0] = geometry.project(np.nan_to_num(cam, nan=1.0), K)
        p2[0, 1] = np.nan
        p2[1:] = p2[0]
        path = tmp_path / "converted_15j" / split / "S1" / "Walking_1.mat"
        path.parent.mkdir(parents=True)
        scipy.io.savemat(path, {"poses_3d": p3, "poses_2d": p2})
        poses[split] = (p3, p2[0])
    # one video for both splits: frame i has grey level 20 * i in its top-left corner
    frames = np.zeros((8, 480, 640, 3), np.uint8)
    for i in range(8):
        frames[i, :16, :16] = 20 * i + 30
    video.write_video(root / "S1" / "Image_Data" / "Walking_1_(C1).avi", frames, codec="mpeg4", lossless=True)
    return root, tmp_path / "converted_15j", poses


def _check(samples, p3, p2, start):
    assert [int(s["frame"]) for s in samples] == [start + t for t in (0, 2, 3)]  # frame 1 is NaN
    for s in samples:
        t = int(s["frame"]) - start
        np.testing.assert_allclose(s["joints_3d"], p3[t] @ R.T + t_cam, atol=0.05)  # camera frame, mm
        np.testing.assert_allclose(geometry.project(s["joints_3d"], s["intrinsics"]), s["joints_2d"], atol=0.05)
        assert s["action"] == "Walking" and s["subject"] == "S1" and s["camera"] == "C1"
    return samples


def test_round_trip_with_fitted_camera(dataset, tmp_path):
    root, poses_dir, poses = dataset
    m = humaneva.prepare(root, poses_dir, tmp_path / "out", subjects=["S1"], image_size=48, margin=0.3)
    assert m["skeleton"] == "humaneva15" and m["splits"]["train"]["count"] == 3
    assert m["generator"]["camera_source"].startswith("DLT")
    assert max(m["generator"]["reprojection_rms_px"].values()) < 1e-3
    train = _check(list(records.iterate_samples(tmp_path / "out", "train")), *poses["Train"], 2)
    test = _check(list(records.iterate_samples(tmp_path / "out", "test")), *poses["Validate"], 0)
    assert all(s["action"] == "Walking" for s in train + test)


def test_frame_sync_picks_the_right_video_frame(dataset, monkeypatch):
    root, poses_dir, _ = dataset
    seqs = humaneva.sequences(poses_dir, "train", ["S1"])
    got = {}
    real_read = video.read_frames

    def spy(path, frames):
        got["frames"] = sorted(frames)
        return real_read(path, frames)

    monkeypatch.setattr(video, "read_frames", spy)
    list(humaneva.iter_samples(root, "train", seqs, image_size=16))
    assert got["frames"] == [2 + t + 3 - 1 for t in (0, 2, 3)]
    levels = [np.asarray(img)[:8, :8].mean() for _, img in real_read(root / "S1" / "Image_Data" / "Walking_1_(C1).avi", got["frames"])]
    np.testing.assert_allclose(levels, [20 * f + 30 for f in got["frames"]], atol=4)


def test_extrinsics_file(dataset, tmp_path):
    root, poses_dir, poses = dataset
    ext = tmp_path / "ext.json"
    ext.write_text(json.dumps({"S1": {"C1": {"R": R.tolist(), "T": t_cam.tolist(), "K": K.tolist()}}}))
    m = humaneva.prepare(root, poses_dir, tmp_path / "out", subjects=["S1"], extrinsics=ext, image_size=32)
    assert m["generator"]["camera_source"] == "extrinsics file"
    _check(list(records.iterate_samples(tmp_path / "out", "train")), *poses["Train"], 2)
    ext.write_text(json.dumps({"S1": {"C1": {"R": [1, 2], "T": [0, 0, 0]}}}))
    with pytest.raises(KfusionError, match="X_cam = R X_world"):
        humaneva.load_extrinsics(ext)


def test_bad_mat_names_file_and_layout(tmp_path):
    p = tmp_path / "Walking_1.mat"
    scipy.io.savemat(p, {"poses_3d": np.zeros((4, 17, 3)), "poses_2d": np.zeros((3, 4, 17, 2))})
    with pytest.raises(KfusionError, match=r"Walking_1\.mat.*\(4, 17, 3\).*poses_3d \(T, 15, 3\)"):
        humaneva.load_mat(p)
    with pytest.raises(KfusionError, match=r"converted_15j/Train/S2"):
        humaneva.sequences(tmp_path, "train", ["S2"])


def test_normalize_action():
    assert humaneva.normalize_action("Walking_1") == "Walking"
    assert humaneva.normalize_action("Walking 1 chunk2") == "Walking"
    assert humaneva.normalize_action("ThrowCatch_1") == "ThrowCatch"
