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
