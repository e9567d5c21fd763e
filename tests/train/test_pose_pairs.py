"""Pose-pair datasets (2D/3D, no image) as a first-class input of `train lifting` and `evaluate`."""
import json

import numpy as np
import pytest

from kfusion import geometry
from kfusion.cli.main import main
from kfusion.data import posepairs
from kfusion.errors import KfusionError


BASE = np.random.default_rng(42).normal(0, 250, (17, 3))


def _pairs(rng, n, subject):
    """One body turned to random yaws, 4-6 m in front of a 1000 px camera, with its projections:
    the 2D joints tell the yaw, so a lifting network can learn it."""
    yaw = rng.uniform(0, 2 * np.pi, n)
    c, s = np.cos(yaw), np.sin(yaw)
    R = np.stack([np.stack([c, 0 * c, s], -1), np.tile([0.0, 1.0, 0.0], (n, 1)), np.stack([-s, 0 * c, c], -1)], 1)
    pose = np.einsum("nij,kj->nki", R, BASE - BASE[:1]) + rng.normal(0, 10, (n, 17, 3))
    pose[..., 2] += rng.uniform(4000, 6000, (n, 1))
    K = geometry.camera_matrix((1145.0, 1145.0), (500.0, 500.0))
    actions = np.array(["Walking", "Eating", "Directions"])[rng.integers(0, 3, n)]
    return {"joints_3d": pose, "joints_2d": geometry.project(pose, K), "subject": np.full(n, subject),
            "action": actions, "sequence": np.char.add(actions, " 1"), "camera": np.full(n, "54138969"),
            "frame": np.arange(n), "frame_size": np.tile([1000, 1000], (n, 1))}


@pytest.fixture(scope="module")
def pose_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("pairs")
    rng = np.random.default_rng(0)
    counts = {"train": posepairs.write_split(out, "train", _pairs(rng, 512, "S1")),
              "test": posepairs.write_split(out, "test", _pairs(rng, 96, "S9"))}
    posepairs.write_manifest(out, skeleton="h36m17", splits=counts, source="test")
    return out


def test_round_trip_and_checks(pose_dir, tmp_path):
    assert posepairs.is_pose_pairs(pose_dir) and not posepairs.is_pose_pairs(tmp_path)
    a = posepairs.read_split(pose_dir, "test")
    assert a["joints_3d"].shape == (96, 17, 3) and a["joints_3d"].dtype == np.float32
    assert set(a["sequence"]) <= {"Walking 1", "Eating 1", "Directions 1"}
    with pytest.raises(KfusionError, match="no split 'val'"):
        posepairs.read_split(pose_dir, "val")
    m = json.loads((pose_dir / "manifest.json").read_text())
    m["splits"]["test"]["count"] = 95
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "manifest.json").write_text(json.dumps(m))
    (bad / "test.npz").write_bytes((pose_dir / "test.npz").read_bytes())
    with pytest.raises(KfusionError, match="96 samples but .* says 95"):
        posepairs.read_split(bad, "test")


def test_train_lifting_then_evaluate(pose_dir, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data: {{source: h36m, records: '{pose_dir}'}}\n"
                   "lifting: {units: 64, blocks: 1, batch_size: 32, epochs: 8, dropout: 0.1, schedule: cosine}\n")
    run = tmp_path / "run"
    assert main(["train", "lifting", "--config", str(cfg), "--out", str(run), "--quiet"]) == 0
    model = run / "lifting" / "model.keras"
    assert model.is_file()
    # the model standardises pixels itself: it maps raw px to mm with no preprocessing outside
    from kfusion.models import load_model

    net = load_model(model)
    a = posepairs.read_split(pose_dir, "test")
    pred = net(a["joints_2d"][:4], training=False).numpy()
    assert pred.shape == (4, 17, 3) and np.all(np.isfinite(pred)) and np.abs(pred).max() < 3000
    out = tmp_path / "eval"
    assert main(["evaluate", "--model", str(model), "--data", str(pose_dir), "--protocol", "h36m",
                 "--out", str(out)]) == 0
    res = json.loads((out / "evaluation.json").read_text())
    assert res["num_poses"] == 96 and res["coverage"]["text"] == "3 of 30 test sequences"
    assert res["table1"]["mpjpe"]["Walking"] is not None and res["table1"]["mpjpe"]["Posing"] is None
    # trained: better than predicting the mean pose of the training set
    tr = posepairs.read_split(pose_dir, "train")
    mean = (tr["joints_3d"] - tr["joints_3d"][:, :1]).mean(0)
    gt = a["joints_3d"] - a["joints_3d"][:, :1]
    assert res["table1"]["mean_over_poses"] < 0.7 * np.linalg.norm(gt - mean, axis=-1).mean()


def test_finished_run_refuses_another_config_and_a_broken_backup_is_one_line(pose_dir, tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data: {{source: h36m, records: '{pose_dir}'}}\n"
                   "lifting: {units: 16, blocks: 1, batch_size: 128, epochs: 1}\n")
    run = tmp_path / "run"
    assert main(["train", "lifting", "--config", str(cfg), "--out", str(run), "--quiet"]) == 0
    capsys.readouterr()
    # the same folder, another config: never "done" on the old weights
    assert main(["train", "lifting", "--config", str(cfg), "--out", str(run), "--quiet",
                 "--set", "lifting.learning_rate=0.01"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "trained with another config (changed: lifting.learning_rate)" in err and len(err.replace(str(tmp_path), "")) < 200
    # a truncated backup: one line naming the folder, not an h5py traceback
    backups = [p for p in (run / "lifting" / "backup").rglob("*") if p.is_file() and p.suffix == ".h5"]
    assert backups
    backups[0].write_bytes(backups[0].read_bytes()[:100])
    assert main(["train", "lifting", "--config", str(cfg), "--out", str(run), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "unreadable training backup" in err and "delete that folder" in err
