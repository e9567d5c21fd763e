"""`kfusion bench predict` on two tiny images, one repeat: kfusion's row and BlazePose-full's (or why not)."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kfusion.cli.main import main
from kfusion.runtime.estimator import default_model_dirs
from person_photos import skier_patch

PEER = Path(__file__).resolve().parents[3] / "shared" / "models" / "mediapipe" / "pose_landmark_full.tflite"


@pytest.fixture
def tiny_images(tmp_path):
    if not any(d.exists() for d in default_model_dirs()):
        pytest.skip("no shipped model (saved_models/kfusion-synthetic) in this checkout")
    patch, _ = skier_patch()
    a, b = tmp_path / "skier.png", tmp_path / "noise.png"
    Image.fromarray(patch).resize((64, 64)).save(a)
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 56, 3), dtype=np.uint8)).save(b)
    return [str(a), str(b)]


def _rows(text):
    return {line.split(" | ")[0].strip("| "): line for line in text.splitlines() if line.startswith("| ")}


def test_bench_predict_against_blazepose(tiny_images, tmp_path, capsys):
    if not PEER.is_file():
        pytest.skip(f"BlazePose-full not found at {PEER} (../shared is absent)")
    out = tmp_path / "bench.md"
    assert main(["bench", "predict", "--images", *tiny_images, "--repeats", "1", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert out.read_text() + "\n" == text
    rows = _rows(text)
    kfusion_row = rows["kfusion: BlazePose detector + kfusion network (TFLite float32)"]
    blaze_row = rows["BlazePose-full: BlazePose detector + landmark network"]
    for row in (kfusion_row, blaze_row):
        ms, networks, overhead, pct, cpu = (float(c) for c in row.strip("| ").split(" | ")[1:])
        assert ms > 0 and networks > 0 and abs(ms - networks - overhead) < 0.02 and cpu > 0
    assert "2 image(s) (skier.png 64x64, noise.png 56x40)" in text and "Target: kfusion's overhead" in text


def test_bench_predict_without_the_peer_says_why(tiny_images, tmp_path, capsys):
    missing = tmp_path / "none" / "pose_landmark_full.tflite"
    assert main(["bench", "predict", "--images", *tiny_images, "--repeats", "1", "--peer", str(missing)]) == 0
    rows = _rows(capsys.readouterr().out)
    assert float(rows["kfusion: BlazePose detector + kfusion network (TFLite float32)"].split(" | ")[1]) > 0
    assert f"skipped: {missing} not found" in rows["BlazePose-full: BlazePose detector + landmark network"]


def test_bench_predict_refuses_bad_arguments(tmp_path, capsys):
    assert main(["bench", "predict", "--images", str(tmp_path / "no.png"), "--repeats", "1"]) == 2
    assert "no.png: image file not found" in capsys.readouterr().err
    assert main(["bench", "predict", "--repeats", "0"]) == 2
    assert "--repeats 0" in capsys.readouterr().err
