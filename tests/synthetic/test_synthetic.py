"""The synthetic benchmark: sample schema, geometry, determinism, splits, records, CLI."""
import argparse

import numpy as np
import pytest

from kfusion import geometry
from kfusion.synthetic import poses as P
from kfusion.synthetic import benchmark as sy
from kfusion.errors import KfusionError
from kfusion.skeletons import H36M17

from synthetic_photos import PHOTO_COLOURS, write_photo_folder


@pytest.fixture(scope="module")
def source():
    return sy.PoseSource(seed=3)


def test_sample_schema_and_projection(source):
    for i in range(12):
        s = sy.make_sample(source, "train", 3, i, image_size=96)
        assert s["image"].dtype == np.uint8 and s["image"].shape == (96, 96, 3)
        assert s["joints_2d"].dtype == np.float32 and s["joints_2d"].shape == (17, 2)
        assert s["joints_3d"].dtype == np.float32 and s["joints_3d"].shape == (17, 3)
        assert s["visibility"].shape == (17,) and s["intrinsics"].shape == (3, 3)
        assert s["source"] == "synthetic" and s["frame"].dtype == np.int64
        assert s["camera"].split("-")[0] in ("front", "back", "left", "right")
        # The stored crop intrinsics project the stored 3D joints onto the stored 2D joints.
        proj = geometry.project(s["joints_3d"].astype(np.float64), s["intrinsics"].astype(np.float64))
        assert np.abs(proj - s["joints_2d"]).max() < 0.5
        assert np.all((s["joints_2d"] > 0) & (s["joints_2d"] < 96))  # the crop holds the whole body
        assert 2500 < s["joints_3d"][0, 2] < 7500
        # The person is drawn where the joints are: the pelvis pixel differs from the corners.
        assert s["visibility"].sum() >= 8


def test_same_seed_same_samples_whatever_the_workers():
    a = list(sy.iter_samples("test", 4, seed=7, image_size=64, workers=1))
    b = list(sy.iter_samples("test", 4, seed=7, image_size=64, workers=2))
    c = list(sy.iter_samples("test", 4, seed=8, image_size=64, workers=1))
    for x, y in zip(a, b):
        for k in x:
            assert np.array_equal(x[k], y[k]), k
    assert not np.array_equal(a[0]["image"], c[0]["image"])


def test_train_and_test_share_no_motion_or_subject(source):
    clips = {s: {c for c, _ in sy.SPLIT_CLIPS[s]} for s in sy.SPLIT_CLIPS}
    assert not clips["train"] & clips["test"]
    assert not set(sy.SPLIT_SUBJECTS["train"]) & set(sy.SPLIT_SUBJECTS["test"])
    seen = {split: [sy.make_sample(source, split, 3, i, image_size=32) for i in range(40)] for split in ("train", "test")}
    subjects = {split: {s["subject"] for s in v} for split, v in seen.items()}
    actions = {split: {s["action"] for s in v} for split, v in seen.items()}
    assert subjects["train"] and subjects["test"] and not subjects["train"] & subjects["test"]
    assert "walk" in actions["test"] and "hop" not in actions["test"]
    assert any(a.startswith("sampled-") for a in actions["train"])
    # Same subject name -> same body in both calls (subjects are stable within a seed).
    assert source.subject("synth-S005", 5)[0] is source.subject("synth-S005", 5)[0]


def test_pose_file_splits_and_errors(tmp_path):
    rng = np.random.default_rng(0)
    body = P.sample_body(rng)
    poses = P.sample_poses(rng, body, "sampled-stand", 30)
    path = tmp_path / "mine.npz"
    np.savez(path, poses_3d=poses, subjects=np.array([f"p{k % 6}" for k in range(30)]),
             actions=np.array(["wave"] * 30))
    src = sy.PoseSource(0, path)
    train = {str(s) for s in src.file["subjects"][src.file_index["train"]]}
    test = {str(s) for s in src.file["subjects"][src.file_index["test"]]}
    assert train and test and not train & test
    s = next(sy.iter_samples("test", 1, seed=0, image_size=32, poses=path, workers=1))
    assert s["subject"] in test and s["action"] == "wave"
    bad = tmp_path / "bad.npz"
    np.savez(bad, poses_3d=np.zeros((5, 17, 2)))
    with pytest.raises(KfusionError, match=r"bad\.npz: poses_3d has shape \(5, 17, 2\)"):
        next(sy.iter_samples("train", 1, seed=0, poses=bad, workers=1))


def test_cli_build_is_byte_identical_and_writes_a_preview(tmp_path):
    pytest.importorskip("tensorflow")
    from kfusion.cli import prepare
    from kfusion.data import records

    parser = argparse.ArgumentParser()
    prepare.add_arguments(parser)
    outs = []
    for k in range(2):
        out = tmp_path / f"b{k}"
        args = parser.parse_args(["synthetic", "--out", str(out), "--num-train", "3", "--num-test", "2",
                                  "--seed", "5", "--image-size", "32", "--workers", "1",
                                  "--preview", str(out / "preview.png")])
        assert prepare.run(args) == 0
        outs.append(out)
    files = sorted(p.name for p in outs[0].glob("*.tfrecord"))
    assert files == ["test-00000-of-00001.tfrecord", "train-00000-of-00001.tfrecord"]
    for name in files:
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes()
    manifest = records.read_manifest(outs[0])
    assert manifest["splits"]["train"]["count"] == 3 and manifest["splits"]["test"]["count"] == 2
    assert manifest["skeleton"] == H36M17.name and manifest["seed"] == 5
    assert manifest["generator"]["version"] == sy.GENERATOR_VERSION
    assert (outs[0] / "preview.png").stat().st_size > 1000
    back = list(records.iterate_samples(outs[0], "test"))
    first = next(sy.iter_samples("test", 1, seed=5, image_size=32, workers=1))
    assert np.array_equal(back[0]["image"], first["image"])
    np.testing.assert_array_equal(back[0]["joints_3d"], first["joints_3d"])


def test_same_seed_same_bytes_across_two_processes(tmp_path):
    """Two separate runs of the command write byte-identical shards (deterministic serialisation)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    outs = [tmp_path / "a", tmp_path / "b"]
    for out in outs:
        done = subprocess.run([sys.executable, "-m", "kfusion", "prepare", "synthetic", "--out", str(out),
                               "--num-train", "6", "--num-test", "3", "--seed", "5", "--workers", "1",
                               "--image-size", "32"], capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, done.stderr[-1500:]
    shards = sorted(p.name for p in outs[0].glob("*.tfrecord"))
    assert shards and shards == sorted(p.name for p in outs[1].glob("*.tfrecord"))
    for name in shards:
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name


def test_photographs_are_behind_the_given_share_of_samples(tmp_path):
    folder, colours = write_photo_folder(tmp_path / "photos"), PHOTO_COLOURS
    photos = sy.PhotoBackgrounds(folder)
    source = sy.PoseSource(seed=2)

    def on_photo(share):
        found = []
        for i in range(8):
            rec, out = sy.render_sample(source, "test", 2, i, 64, photos, share)
            behind = np.median(rec["image"][out["part"] < 0].reshape(-1, 3), 0)  # the photograph or the floor
            found.append(min(np.abs(behind - rgb).max() for rgb in colours.values()) < 25)
        return np.mean(found)

    assert on_photo(1.0) == 1.0 and on_photo(0.0) == 0.0
    assert 0.0 < on_photo(0.5) < 1.0
    # the same samples whatever the workers (the photographs travel to them)
    a = list(sy.iter_samples("test", 3, seed=2, image_size=48, workers=1, backgrounds=folder))
    b = list(sy.iter_samples("test", 3, seed=2, image_size=48, workers=2, backgrounds=folder))
    for x, y in zip(a, b):
        assert np.array_equal(x["image"], y["image"])
    plain = next(sy.iter_samples("test", 1, seed=2, image_size=48, workers=1))
    assert not np.array_equal(a[0]["image"], plain["image"])


def test_cli_backgrounds_flags_and_a_bad_folder(tmp_path):
    pytest.importorskip("tensorflow")
    from kfusion.cli import prepare
    from kfusion.data import records

    folder = write_photo_folder(tmp_path / "photos")
    parser = argparse.ArgumentParser()
    prepare.add_arguments(parser)
    out = tmp_path / "bench"
    args = parser.parse_args(["synthetic", "--out", str(out), "--num-train", "2", "--num-test", "1", "--seed", "1",
                              "--image-size", "32", "--workers", "1", "--backgrounds", str(folder),
                              "--background-share", "1.0"])
    assert prepare.run(args) == 0
    generator = records.read_manifest(out)["generator"]
    assert generator["backgrounds"] == {"folder": str(folder), "kind": "photos", "images": 3, "share": 1.0}
    bad = tmp_path / "bad"
    args = parser.parse_args(["synthetic", "--out", str(bad), "--num-train", "2", "--num-test", "1",
                              "--backgrounds", str(tmp_path / "nowhere")])
    with pytest.raises(KfusionError, match="nowhere: backgrounds folder not found") as err:
        prepare.run(args)
    assert "\n" not in str(err.value) and not bad.exists()  # checked before anything is written
    args = parser.parse_args(["synthetic", "--out", str(bad), "--num-train", "2", "--num-test", "1",
                              "--backgrounds", str(folder), "--background-share", "1.5"])
    with pytest.raises(KfusionError, match=r"background_share is 1\.5; expected a fraction in \[0, 1\]"):
        prepare.run(args)
