"""The example scripts of scripts/ run on tiny data: train with ``model.fit`` through the API, a
keras-tuner search written against it, export and serve. Each runs as its own process, as a user
runs it; the tune and export scripts take the training script's run folder."""
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def run_script(name, *args, timeout=600):
    done = subprocess.run([sys.executable, str(SCRIPTS / name), *map(str, args)], capture_output=True,
                          text=True, timeout=timeout)
    assert done.returncode == 0, f"{name} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def check_fit_run(run, epochs):
    results = json.loads((run / "results.json").read_text())
    assert math.isfinite(results["val_mpjpe_mm"]) and 0 < results["val_mpjpe_mm"] < 5000  # mm
    assert math.isfinite(results["alpha"]) and math.isfinite(results["beta"])
    for name in ("config.json", "cache/train.npz", "cache/test.npz", "fusion/model.keras", "fusion/log.csv",
                 "end_to_end.keras"):
        assert (run / name).is_file(), name
    trace = json.loads((run / "fusion" / "fusion_trace.json").read_text())["epochs"]
    assert [e["epoch"] for e in trace] == list(range(epochs + 1))  # before training, then every epoch
    assert trace[-1]["alpha"] == pytest.approx(results["alpha"], rel=1e-5)
    assert all(math.isfinite(e["val_mpjpe"]) for e in trace[1:])
    return results


@pytest.fixture(scope="module")
def fit_run(tmp_path_factory):
    """scripts/train_fusion_with_fit.py on 32 + 16 renders, with an untrained tiny hourglass."""
    from kfusion.models import build_hourglass, save_model

    tmp = tmp_path_factory.mktemp("fit")
    hourglass = tmp / "hourglass.keras"
    save_model(build_hourglass("tiny"), hourglass)
    run = tmp / "run"
    stdout = run_script("train_fusion_with_fit.py", "--out", run, "--preset", "tiny", "--workers", 1,
                        "--hourglass", hourglass, "--verbose", 0)
    return run, stdout


def test_train_fusion_with_fit(fit_run):
    run, stdout = fit_run
    results = check_fit_run(run, epochs=2)
    assert f"validation MPJPE {results['val_mpjpe_mm']:.1f} mm" in stdout
    assert not (run / "hourglass").exists()  # --hourglass: nothing trained for it


@pytest.mark.slow  # ~60 s on a loaded 2-core CPU: the hourglass is trained too
def test_train_fusion_with_fit_trains_the_hourglass(tmp_path):
    run = tmp_path / "run"
    run_script("train_fusion_with_fit.py", "--out", run, "--preset", "tiny", "--workers", 1, "--verbose", 0,
               "--num-train", 16, "--epochs", 1)
    assert (run / "hourglass" / "model.keras").is_file()
    check_fit_run(run, epochs=1)


def test_tune_fusion(fit_run, tmp_path):
    from kfusion import config

    run, _ = fit_run
    out = tmp_path / "tune"
    stdout = run_script("tune_fusion.py", "--run", run, "--out", out, "--trials", 2, "--epochs", 1, "--verbose", 0)
    trials = json.loads((out / "trials.json").read_text())["trials"]
    assert len(trials) == 2 and len({(t["penalty"], t["beta_init"]) for t in trials}) == 2
    assert all(math.isfinite(t["val_mpjpe_mm"]) and 1e2 <= t["penalty"] <= 1e5 for t in trials)
    assert len(list((out / "traces").glob("*.json"))) == 2  # the fusion trace of every trial
    best = config.load(out / "best_config.yaml")  # a valid config, the best trial's values in it
    assert best["fusion"]["penalty"] == pytest.approx(trials[0]["penalty"])
    assert best["fusion"]["preset"] == "tiny" and "best: lambda" in stdout


@pytest.mark.slow  # ~60-90 s on a loaded 2-core CPU (SavedModel and TFLite conversion)
def test_export_and_serve(fit_run, tmp_path):
    run, _ = fit_run
    out = tmp_path / "saved_models" / "fit"
    stdout = run_script("export_and_serve.py", "--model", run / "end_to_end.keras", "--out", out,
                        "--variants", "float32", "--num-parity", 4, "--speed-repeats", 2,
                        "--prediction", tmp_path / "prediction.json")
    assert (out / "1" / "saved_model.pb").is_file() and (out / "tflite" / "kfusion_float32.tflite").is_file()
    prediction = json.loads((tmp_path / "prediction.json").read_text())
    pose = np.asarray(prediction["pose_3d_mm"])
    assert prediction["backend"] == "tflite" and pose.shape == (17, 3) and np.isfinite(pose).all()
    assert prediction["savedmodel_max_difference_mm"] < 1.0
    request = json.loads((tmp_path / "saved_models" / "fit.request.json").read_text())
    assert np.asarray(request["instances"][0]["image"]).shape == (32, 32, 3)  # the tiny hourglass's crop
    assert "docker run" in stdout and "tensorflow/serving" in stdout and str(out) in stdout


def test_hourglass_checkpoints_joins_each_to_the_fusion_network_and_measures_it(tmp_path):
    """scripts/hourglass_checkpoints.py on a 3-person COCO folder: two tiny checkpoints joined to a
    tiny model's fusion network, COCO's 2D and projected 3D per checkpoint, with the mirror view."""
    import keras

    from photo_sets import coco_annotation, coco_keypoints, write_coco

    from kfusion.models import save_model
    from kfusion.models.end_to_end import build_end_to_end
    from kfusion.models.fusion import build_fusion_network
    from kfusion.models.hourglass import build_hourglass

    keras.utils.set_random_seed(0)
    save_model(build_end_to_end(build_hourglass("tiny"), build_fusion_network("tiny", seed=0)), tmp_path / "e2e.keras")
    for k in (1, 2):
        save_model(build_hourglass("tiny"), tmp_path / f"hg{k}.keras")
    rng = np.random.default_rng(0)
    coco = write_coco(tmp_path / "coco", [coco_annotation(k, 7 + 2 * (k % 2), coco_keypoints(rng, [2] * 17))
                                         for k in range(1, 4)])
    out = tmp_path / "out"
    stdout = run_script("hourglass_checkpoints.py", tmp_path / "hg1.keras", tmp_path / "hg2.keras",
                        f"{tmp_path / 'hg1.keras'}+{tmp_path / 'hg2.keras'}", "--out", out,
                        "--model", tmp_path / "e2e.keras", "--coco", coco, "--views", "flip")
    rows = json.loads((out / "results.json").read_text())
    assert [Path(r["checkpoint"]).name for r in rows] == ["hg1.keras", "hg2.keras", "hg1+hg2.keras"]
    from kfusion.models import load_model

    mean, *pair = (load_model(p).get_weights() for p in (out / "hg1+hg2.keras", tmp_path / "hg1.keras", tmp_path / "hg2.keras"))
    assert all(np.allclose(m, (a + b) / 2) for m, a, b in zip(mean, *pair))  # the mean of both, every weight
    for r in rows:
        assert r["views"] == "flip" and r["coco"]["count"] == 3 and "lsp" not in r
        assert 0.0 <= r["coco"]["kfusion_2d"] <= 100.0 and 0.0 <= r["coco"]["kfusion_3d_fit"] <= 100.0
    assert (out / "hg1-flip" / "end_to_end.keras").is_file() and "hg2.keras" in stdout
    assert "COCO 2D (%)" in (out / "results.md").read_text()
    # the views are the joined model's: two hourglass passes (the crop and its mirror)
    joined = load_model(out / "hg1-flip" / "end_to_end.keras")
    assert any(layer.name.endswith("_flip_test") for layer in joined.layers)


def test_hourglass_checkpoints_refuses_a_missing_checkpoint_on_one_line(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPTS / "hourglass_checkpoints.py"), str(tmp_path / "none.keras"),
                           "--out", str(tmp_path / "o"), "--coco", str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "none.keras" in lines[0] and "no trained hourglass there" in lines[0]
    from kfusion.models import save_model
    from kfusion.models.hourglass import build_hourglass

    save_model(build_hourglass("tiny"), tmp_path / "a.keras")
    save_model(build_hourglass("tiny", features=16), tmp_path / "b.keras")
    done = subprocess.run([sys.executable, str(SCRIPTS / "hourglass_checkpoints.py"), f"{tmp_path / 'a.keras'}+"
                           f"{tmp_path / 'b.keras'}", "--out", str(tmp_path / "o"), "--coco", str(tmp_path)],
                          capture_output=True, text=True)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and "b.keras: its weights are not shaped as" in lines[0]
    done = subprocess.run([sys.executable, str(SCRIPTS / "hourglass_checkpoints.py"), "x.keras", "--out",
                           str(tmp_path / "o")], capture_output=True, text=True)
    assert done.returncode == 2 and "nothing to measure" in done.stderr
