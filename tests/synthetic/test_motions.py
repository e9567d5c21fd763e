"""The wide-motion pose set: sources gathered in the body frame, thinned, held-out clips split off,
written for `prepare synthetic --poses` and rendered split by split."""
import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from kfusion import skeletons
from kfusion.errors import KfusionError
from kfusion.skeletons import H36M17
from kfusion.synthetic import benchmark as sy
from kfusion.synthetic import motions
from kfusion.synthetic import poses as P
from tiny_bvh import tiny_bvh

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data"


def _walk(n, seed):
    """``n`` poses (body frame, mm, y up) of a body whose knees and elbows swing: moving frames."""
    rng = np.random.default_rng(seed)
    body = P.sample_body(rng)
    t = np.linspace(0, 2 * np.pi, n)
    angles = {"l_knee_flex": 40 + 40 * np.sin(t), "r_knee_flex": 40 - 40 * np.sin(t),
              "l_elbow_flex": 60 + 50 * np.cos(t), "r_elbow_flex": 60 - 50 * np.cos(t)}
    return P.pose_body(body, angles, n) + [0.0, 950.0, 0.0]


def _write_h36m_take(path, poses_yup):
    """A 3d-pose-baseline h5 (96, N) world mm, z up, from h36m17 poses in the body frame (y up)."""
    zup = poses_yup @ np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]]).T  # (x, y, z) -> (x, -z, y)
    raw = np.repeat(zup[:, :1], 32, axis=1)
    raw[:, skeletons.H36M32_TO_17] = zup
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        f["3D_positions"] = raw.reshape(len(raw), 96).T


@pytest.fixture()
def sources(tmp_path):
    """A Human3.6M-like folder (S1 two takes, S5 one) and a BVH folder of three conventions."""
    h36m, takes = tmp_path / "h36m", {}
    for k, (s, take) in enumerate((("S1", "Walking 1"), ("S1", "Photo"), ("S5", "Eating"))):
        takes[(s, take)] = _walk(60, k)
        _write_h36m_take(h36m / s / "MyPoses" / "3D_positions" / f"{take}.h5", takes[(s, take)])
    bvh_dir = tmp_path / "bvh"
    bvh_dir.mkdir()
    swing = [{"l_elbow": {"X": -3.0 * k}, "r_knee": {"X": 2.0 * k}} for k in range(40)]  # 120 fps, moving
    files = (("05_01", "cmu-daz"), ("07_01", "cmu-daz"), ("16_01", "cmu-asf"), ("131_01", "cmu-3dsmax"))
    for name, convention in files:
        (bvh_dir / f"{name}.bvh").write_text(tiny_bvh(convention, swing))
    cfg = {"fps": 25, "min_motion_mm": 20,
           "sources": {"h36m": {"kind": "h36m", "root": str(h36m), "subjects": ["S1", "S5"]},
                       "mocap": {"kind": "bvh", "root": str(bvh_dir)}},
           "held_out": ["mocap/05_*", "h36m/S5/*"]}
    return cfg, takes


def test_gather_keeps_the_body_frame_labels_and_held_out_clips(sources):
    cfg, takes = sources
    out, counts = motions.gather(motions.validate_config(cfg))
    n = len(out["poses_3d"])
    assert out["poses_3d"].shape == (n, 17, 3) and out["poses_3d"].dtype == np.float32
    assert all(out[k].shape == (n,) for k in ("actions", "subjects", "sources", "clips", "splits", "frames"))
    # the held-out clips and only they are the test split
    test = set(out["clips"][out["splits"] == "test"])
    assert test == {"mocap/05_01", "h36m/S5/Eating"}
    assert not test & set(out["clips"][out["splits"] == "train"])
    assert counts["h36m"]["held_out"] == int(np.sum(out["clips"] == "h36m/S5/Eating")) > 0
    # labels: Table 1 actions and subjects for Human3.6M, clip ids and CMU subjects for BVH
    first = out["clips"] == "h36m/S1/Photo"
    assert set(out["actions"][first]) == {"Taking Photo"} and set(out["subjects"][first]) == {"h36m-S1"}
    bvh16 = out["clips"] == "mocap/16_01"
    assert set(out["actions"][bvh16]) == {"mocap/16_01"} and set(out["subjects"][bvh16]) == {"mocap-16"}
    # Human3.6M's z-up world comes back as the body frame it was made from (25 Hz kept as is)
    walking = out["clips"] == "h36m/S1/Walking 1"
    np.testing.assert_allclose(out["poses_3d"][walking], takes[("S1", "Walking 1")][out["frames"][walking]], atol=1e-3)
    # every clip went through: 3 takes of 60 frames at 25 Hz, 4 BVH of 40 frames at 120 fps -> 9 at 25
    assert counts["h36m"]["clips"] == 3 and counts["h36m"]["frames"] == 180
    assert counts["mocap"]["clips"] == 4 and counts["mocap"]["frames"] == 4 * 9
    meta = json.loads(str(out["meta"]))
    assert meta["config"]["held_out"] == cfg["held_out"] and meta["counts"]["h36m"]["kept"] == counts["h36m"]["kept"]


def test_keep_moving_keeps_a_frame_once_some_joint_moved_far_enough():
    rng = np.random.default_rng(0)
    poses = np.cumsum(rng.normal(0, 6, (300, 17, 3)), axis=0)  # a random walk of every joint, mm
    poses[100:150] = poses[100]  # a still stretch
    keep = motions.keep_moving(poses, 20.0)
    rel = poses - poses[:, :1]
    moved = lambda a, b: np.linalg.norm(rel[a] - rel[b], axis=-1).max()  # noqa: E731
    assert keep[0] == 0
    assert all(moved(a, b) > 20.0 for a, b in zip(keep[:-1], keep[1:]))
    for a, b in zip(keep[:-1], keep[1:]):  # every frame left out is within 20 mm of the last kept one
        assert all(moved(i, a) <= 20.0 for i in range(a + 1, b))
    assert not np.any((keep > 100) & (keep < 150))  # the still stretch gave one pose
    # moving the whole body (the pelvis with it) is not motion
    assert list(motions.keep_moving(poses[:1] + np.arange(50)[:, None, None] * 100.0, 20.0)) == [0]


def test_max_poses_thins_a_source_evenly(sources):
    cfg, _ = sources
    full, _ = motions.gather(motions.validate_config(cfg))
    cfg["sources"]["h36m"]["max_poses"] = 10
    thin, counts = motions.gather(motions.validate_config(cfg))
    h = full["sources"] == "h36m"
    assert counts["h36m"]["kept"] == 10 == int(np.sum(thin["sources"] == "h36m"))
    assert set(thin["clips"][thin["sources"] == "h36m"]) == set(full["clips"][h])  # every take still there
    assert int(np.sum(thin["sources"] == "mocap")) == int(np.sum(full["sources"] == "mocap"))


def test_written_set_renders_each_split_from_its_own_motion(sources, tmp_path):
    cfg, _ = sources
    out, _ = motions.gather(motions.validate_config(cfg))
    path = motions.write_motions(tmp_path / "motions.npz", out)
    loaded = P.load_pose_file(path)
    assert list(loaded["splits"]) == list(out["splits"])
    source = sy.PoseSource(0, loaded)
    np.testing.assert_array_equal(source.file_index["test"], np.flatnonzero(out["splits"] == "test"))
    held = set(out["actions"][out["splits"] == "test"])
    rng = np.random.default_rng(1)
    drawn = {source.draw("test", rng, i)[2] for i in range(40)}
    assert drawn <= held and len(drawn) == len(held)
    assert not {source.draw("train", rng, i)[2] for i in range(40)} & held


def test_a_pose_file_with_bad_splits_is_refused(tmp_path):
    poses = _walk(6, 0)
    path = tmp_path / "bad.npz"
    np.savez(path, poses_3d=poses, splits=np.array(["train", "test", "val", "train", "train", "test"]))
    with pytest.raises(KfusionError, match=r"bad\.npz: splits has shape \(6,\), other values \['val'\]"):
        P.load_pose_file(path)
    np.savez(path, poses_3d=poses, splits=np.array(["train", "test"]))
    with pytest.raises(KfusionError, match=r"bad\.npz: splits has shape \(2,\).*expected \(6,\)"):
        P.load_pose_file(path)


def test_config_errors_name_the_key(sources):
    cfg, _ = sources
    bad = dict(cfg, sources={"h36m": dict(cfg["sources"]["h36m"], subjects=["S1", "S9"])})
    with pytest.raises(KfusionError, match=r"sources\.h36m\.subjects has \['S9'\].*test subjects"):
        motions.validate_config(bad)
    with pytest.raises(KfusionError, match=r"unknown key\(s\) \['fsp'\]; allowed: \['fps', 'held_out'"):
        motions.validate_config(dict(cfg, fsp=30))
    with pytest.raises(KfusionError, match=r"sources\.mocap\.kind is 'c3d'"):
        motions.validate_config(dict(cfg, sources={"mocap": {"kind": "c3d", "root": "x"}}))
    with pytest.raises(KfusionError, match=r"held_out pattern 'mocap/99_\*' matches no clip"):
        motions.gather(motions.validate_config(dict(cfg, held_out=["mocap/99_*"])))


def test_cli_writes_the_set(sources, tmp_path, capsys):
    from kfusion.cli.main import main

    cfg, _ = sources
    config = tmp_path / "motions.yaml"
    config.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "set.npz"
    assert main(["prepare", "motions", "--config", str(config), "--out", str(out)]) == 0
    assert "held out" in capsys.readouterr().out
    data = np.load(out, allow_pickle=False)
    assert set(data["splits"]) == {"train", "test"} and data["poses_3d"].shape[1:] == (17, 3)


def test_the_shipped_config_on_the_real_data():
    if not (SHARED / "cmu_more").is_dir() or not (SHARED / "h36m").is_dir():
        pytest.skip(f"cmu_more and h36m not under {SHARED} (read from ../shared)")
    cfg = motions.load_config(REPO / "configs" / "motions.yaml")
    assert not set(cfg["sources"]["h36m"]["subjects"]) & {"S9", "S11"}
    # Human3.6M cut to S1 here (all five subjects: ~10 s, `kfusion prepare motions`)
    cfg["sources"]["h36m"].update(root=str(SHARED / "h36m"), subjects=["S1"])
    cfg["sources"]["cmu_more"]["root"] = str(SHARED / "cmu_more")
    out, counts = motions.gather(cfg)
    assert counts["cmu_more"]["clips"] == 43 and counts["cmu"]["clips"] == 3 and counts["h36m"]["clips"] == 30
    assert set(out["clips"][out["splits"] == "test"]) == {"cmu_more/05_01", "cmu_more/06_01", "cmu_more/16_01",
                                                          "cmu_more/16_02"}
    assert not any(s.endswith(("S9", "S11")) for s in set(out["subjects"]))
    p = out["poses_3d"].astype(np.float64)
    up = p[:, H36M17.index("thorax")] - p[:, H36M17.index("pelvis")]
    for name in counts:  # every source upright in the body frame (y up), thighs of an adult
        mine = out["sources"] == name
        assert np.mean(up[mine, 1] > 0.5 * np.linalg.norm(up[mine], axis=-1)) > 0.8, name
        thigh = np.linalg.norm(p[mine, H36M17.index("l_knee")] - p[mine, H36M17.index("l_hip")], axis=-1)
        assert 350 < np.median(thigh) < 500, name
