"""Human3.6M reader on a tiny dataset in the release's formats (CDF + mp4), h5 and npz layouts."""
import numpy as np
import pytest

from kfusion import geometry, skeletons
from kfusion import video
from kfusion.datasets import h36m
from kfusion.data import records
from kfusion.errors import KfusionError

CAM = "54138969"
N = 4  # frames per sequence
MARK = 7  # h36m17 joint drawn as a white block in every frame (spine)


def _raw_poses(seed):
    """(N, 32, 3) camera-frame mm: a person ~8 m in front of the camera, distinct joints."""
    rng = np.random.default_rng(seed)
    base = np.array([50.0, 100.0, 8000.0]) + rng.uniform(-400, 400, size=(32, 3)) * [1, 2, 0.5]
    return base + np.arange(N)[:, None, None] * np.array([5.0, 0.0, 0.0])


def _write_cdf(path, arr):
    from cdflib.cdfwrite import CDF

    path.parent.mkdir(parents=True, exist_ok=True)
    c = CDF(str(path), cdf_spec={"Majority": "Row_major"}, delete=True)
    n, width = arr.shape[0], arr.shape[1] * arr.shape[2]
    c.write_var({"Variable": "Pose", "Data_Type": CDF.CDF_DOUBLE, "Num_Elements": 1, "Rec_Vary": True,
                 "Dim_Sizes": [n, width]}, var_data=arr.reshape(1, n, width))
    c.close()


def _uv(cam3d):
    c = h36m.CAMERAS[CAM]
    return geometry.project_distorted(cam3d, c["f"], c["c"], c["k"], c["p"])


def _write_video(path, uv_frames):
    w, h = h36m.CAMERAS[CAM]["size"]
    frames = np.zeros((N, h, w, 3), np.uint8)
    for t, uv in enumerate(uv_frames):
        x, y = (uv[skeletons.H36M32_TO_17[MARK]]).astype(int)
        frames[t, y - 6:y + 6, x - 6:x + 6] = 255
    video.write_video(path, frames, lossless=True)


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    root = tmp_path_factory.mktemp("h36m")
    poses = {}
    for s, seed in (("S1", 1), ("S9", 2)):
        cam3d = _raw_poses(seed)
        poses[s] = cam3d
        feats = root / s / "MyPoseFeatures"
        _write_cdf(feats / "D3_Positions_mono" / f"Directions 1.{CAM}.cdf", cam3d)
        _write_cdf(feats / "D2_Positions" / f"Directions 1.{CAM}.cdf", _uv(cam3d))
        _write_video(root / s / "Videos" / f"Directions 1.{CAM}.mp4", _uv(cam3d))
    return root, poses


def _check_samples(samples, cam3d_raw, subject, every=2):
    frames = list(range(0, N, every))
    assert [int(s["frame"]) for s in samples] == frames
    for s in samples:
        t = int(s["frame"])
        want3d = cam3d_raw[t][skeletons.H36M32_TO_17]
        np.testing.assert_allclose(s["joints_3d"], want3d, atol=1e-2)  # camera frame, mm, h36m17 order
        assert s["subject"] == subject and s["action"] == "Directions 1" and s["camera"] == CAM
        assert s["source"] == "h36m"
        S = s["image"].shape[0]
        assert np.all((s["joints_2d"] >= 0) & (s["joints_2d"] <= S)) and np.all(s["visibility"] == 1)
        # the crop's K projects the 3D joints onto the 2D joints (up to the lens distortion)
        proj = geometry.project(s["joints_3d"], s["intrinsics"])
        assert np.max(np.abs(proj - s["joints_2d"])) < 1.0
        # the white block drawn at the marked joint is where joints_2d says it is
        x, y = s["joints_2d"][MARK].astype(int)
        assert s["image"][y, x].mean() > 150 and s["image"][2, 2].mean() < 60


def test_release_layout_round_trip(release, tmp_path):
    root, poses = release
    m = h36m.prepare(root, tmp_path, every=2, image_size=64)
    assert m["skeleton"] == "h36m17" and m["has_3d"] is True
    assert m["splits"] == {"train": {"count": 2, "shards": 1}, "test": {"count": 2, "shards": 1}}
    assert m["generator"]["layout"] == ["original-cdf"]
    _check_samples(list(records.iterate_samples(tmp_path, "train")), poses["S1"], "S1")
    _check_samples(list(records.iterate_samples(tmp_path, "test")), poses["S9"], "S9")


def test_subject_filter_selects_split(release, tmp_path):
    root, _ = release
    m = h36m.prepare(root, tmp_path, subjects=["S9"], every=3, image_size=32)
    assert list(m["splits"]) == ["test"] and m["splits"]["test"]["count"] == 2
    with pytest.raises(KfusionError, match="no split"):
        h36m.prepare(root, tmp_path / "x", subjects=["S2"], image_size=32)


def _write_cameras_h5(path, R, T):
    import h5py

    c = h36m.CAMERAS[CAM]
    with h5py.File(path, "w") as f:
        for subj in (1, 9):
            g = f.create_group(f"subject{subj}/camera1")
            g["R"] = R.T  # stored transposed, as in 3d-pose-baseline's cameras.h5
            g["T"] = T.reshape(3, 1)
            g["f"], g["c"] = np.reshape(c["f"], (2, 1)), np.reshape(c["c"], (2, 1))
            g["k"], g["p"] = np.reshape(c["k"], (3, 1)), np.reshape(c["p"], (2, 1))
            g["Name"] = np.array([ord(ch) for ch in CAM], dtype=np.uint8)


def test_h5_and_npz_world_layouts(release, tmp_path):
    import h5py

    root, poses = release
    R = geometry.rotation_matrix([0.2, 1.0, 0.1], 0.7)
    T = np.array([1800.0, -4900.0, 1500.0])
    world_root = tmp_path / "h5root"
    for s in ("S1", "S9"):
        world = geometry.camera_to_world(poses[s], R, T)
        (world_root / s / "MyPoses" / "3D_positions").mkdir(parents=True)
        with h5py.File(world_root / s / "MyPoses" / "3D_positions" / "Directions 1.h5", "w") as f:
            f["3D_positions"] = world.reshape(N, 96).T
        (world_root / s / "Videos").mkdir()
        (world_root / s / "Videos" / f"Directions 1.{CAM}.mp4").symlink_to(root / s / "Videos" / f"Directions 1.{CAM}.mp4")
    _write_cameras_h5(world_root / "cameras.h5", R, T)
    m = h36m.prepare(world_root, tmp_path / "out_h5", every=2, image_size=64)
    assert m["generator"]["layout"] == ["3d-pose-baseline-h5"]
    _check_samples(list(records.iterate_samples(tmp_path / "out_h5", "train")), poses["S1"], "S1")

    # VideoPose3D npz: world metres, a pickled dict; refused without the opt-in
    npz = tmp_path / "data_3d_h36m.npz"
    data = {s: {"Directions 1": geometry.camera_to_world(poses[s], R, T) / 1000.0} for s in ("S1", "S9")}
    np.savez(npz, positions_3d=np.array(data, dtype=object))
    with pytest.raises(KfusionError, match="--allow-pickle"):
        h36m.prepare(world_root, tmp_path / "out_npz", npz=npz)
    h36m.prepare(world_root, tmp_path / "out_npz", npz=npz, allow_pickle=True, every=2, image_size=64)
    _check_samples(list(records.iterate_samples(tmp_path / "out_npz", "test")), poses["S9"], "S9")


def test_bad_files_name_the_file_and_layout(tmp_path):
    bad = tmp_path / "S1" / "MyPoseFeatures" / "D3_Positions_mono" / f"Eating.{CAM}.cdf"
    _write_cdf(bad, np.zeros((3, 17, 3)))
    with pytest.raises(KfusionError, match=r"Eating\.54138969\.cdf.*\(3, 51\).*\(1, N, 96\)"):
        h36m.read_cdf_pose(bad, 3)
    with pytest.raises(KfusionError, match="missing.cdf: file not found"):
        h36m.read_cdf_pose(tmp_path / "missing.cdf", 3)
    # poses present but the video is not: the error names the expected video path
    _write_cdf(bad, _raw_poses(0))
    with pytest.raises(KfusionError, match=r"Videos/Eating\.54138969\.mp4: video not found"):
        h36m.prepare(tmp_path, tmp_path / "out", subjects=["S1"], image_size=32)
    with pytest.raises(KfusionError, match="no poses"):
        h36m.prepare(tmp_path / "empty", tmp_path / "out", image_size=32)


@pytest.mark.parametrize("raw, name", [
    ("Directions 1", "Directions"), ("Phoning", "Phone Talk"), ("Purchases 1", "Buying"),
    ("SittingDown 2", "Sitting Down"), ("TakingPhoto", "Taking Photo"), ("Photo 1", "Taking Photo"),
    ("WalkDog", "Walking Dog"), ("WalkTogether 1", "Walking Pair"), ("Walking 1 chunk0", "Walking"),
    ("Walking Dog", "Walking Dog"),
])
def test_normalize_action(raw, name):
    assert h36m.normalize_action(raw) == name


def test_tables_are_complete():
    assert len(h36m.ACTIONS) == 15 and set(h36m.SIX_ACTIONS) <= set(h36m.ACTIONS)
    assert set(h36m.CAMERAS) == {"54138969", "55011271", "58860488", "60457274"}
    with pytest.raises(KfusionError, match="unknown Human3.6M action"):
        h36m.normalize_action("Dancing")
