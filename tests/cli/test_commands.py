"""Every `kfusion` command run once end to end, in this process, through ``kfusion.cli.main.main``
on tiny data: renders of 32 px, the tiny hourglass and fusion presets, one epoch.

Commands already run end to end through ``main`` by another test are not run again here;
``ELSEWHERE`` says where, and ``test_every_command_is_run_end_to_end_somewhere`` checks that each
command of ``COMMANDS`` (and each ``bench`` sub-command) is run by this file or by the file named.
"""
import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from kfusion.cli.main import COMMANDS, main

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent

# command -> the test file that already runs it end to end through main([...]) (an argv list
# that starts with the command's name)
ELSEWHERE = {
    "tune": "experiments/test_tune.py",  # test_tune_writes_trial_table_and_a_valid_best_config_and_resumes
    "demo": "cli/test_cli_predict.py",  # test_demo_... (main(["demo", "--model", ...]))
    "calibrate": "cli/test_cli_predict.py",  # main(["calibrate", MODEL, VIDEO, ...])
}
BENCH_ELSEWHERE = {"predict": "bench/test_bench_predict.py", "models": "bench/test_bench_models.py",
                   "video": "bench/test_bench_video.py"}


def _commands_run_here():
    text = Path(__file__).read_text()
    return set(re.findall(r'main\(\["(\w+)"', text)), set(re.findall(r'main\(\["bench", "(\w+)"', text))


def test_every_command_is_run_end_to_end_somewhere():
    from kfusion.cli.bench import BENCHES

    here, bench_here = _commands_run_here()
    for command in COMMANDS:
        if command in here:
            continue
        assert command in ELSEWHERE, f"`kfusion {command}` is run end to end by no test"
        text = (TESTS / ELSEWHERE[command]).read_text()
        assert "main(" in text and f'["{command}", ' in text, (command, ELSEWHERE[command])
    for what in BENCHES:
        if what in bench_here:
            continue
        assert what in BENCH_ELSEWHERE, f"`kfusion bench {what}` is run end to end by no test"
        assert f'main(["bench", "{what}", ' in (TESTS / BENCH_ELSEWHERE[what]).read_text(), what


# ---------------------------------------------------------------------------- fast: tiny records


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "records"
    assert main(["prepare", "synthetic", "--out", str(out), "--num-train", "16", "--num-test", "8",
                 "--image-size", "32", "--workers", "1", "--seed", "3"]) == 0
    return out


def test_prepare_synthetic_writes_both_splits(records):
    from kfusion.data.records import iterate_samples, read_manifest

    manifest = read_manifest(records)
    assert {k: v["count"] for k, v in manifest["splits"].items()} == {"train": 16, "test": 8}
    sample = next(iter(iterate_samples(records, "test")))
    assert sample["image"].shape == (32, 32, 3) and sample["joints_3d"].shape == (17, 3)


def test_evaluate_a_keras_model_on_records(records, tiny_keras, tmp_path):
    from kfusion.data.records import iterate_samples
    from kfusion.export.saved_model import load_end_to_end

    out = tmp_path / "eval"
    assert main(["evaluate", "--model", str(tiny_keras), "--data", str(records), "--out", str(out),
                 "--batch-size", "4"]) == 0
    result = json.loads((out / "evaluation.json").read_text())
    assert result["count"] == 8 and (out / "evaluation.md").is_file()
    # the number it reports is the MPJPE (mm) of the model on those crops, root-aligned (Protocol 1)
    samples = list(iterate_samples(records, "test"))
    images = np.stack([s["image"] for s in samples])
    gt = np.stack([s["joints_3d"] for s in samples]).astype(np.float64)
    gt -= gt[:, :1]
    pred = load_end_to_end(tiny_keras)(images)["pose_3d"].numpy().astype(np.float64)
    pred += gt[:, :1] - pred[:, :1]
    hand = float(np.linalg.norm(pred - gt, axis=-1).mean())
    assert result["overall"]["mpjpe"] == pytest.approx(hand, rel=1e-4)


def test_bench_data(tmp_path):
    out = tmp_path / "bench-data.md"
    assert main(["bench", "data", "--num", "8", "--image-size", "32", "--out", str(out)]) == 0
    table = out.read_text()
    assert "synthetic rendering" in table and "samples/s" in table


# ---------------------------------------------------------------- slow: train, export and beyond


@pytest.fixture(scope="module")
def trained(records, tmp_path_factory):
    """`kfusion train hourglass`, then `kfusion train fusion`, on the tiny records (one epoch each)."""
    tmp = tmp_path_factory.mktemp("trained")
    run = tmp / "run"
    config = tmp / "tiny.yaml"
    config.write_text(yaml.safe_dump({
        "name": "cli-tiny", "seed": 0, "output_dir": str(run),
        "data": {"source": "synthetic", "records": str(records)},
        "hourglass": {"preset": "tiny", "input_size": 32, "batch_size": 8, "epochs": 1},
        "fusion": {"preset": "tiny", "input_size": 20, "batch_size": 8, "epochs": 1},
        "augment": {"crop_prob": 0.0}, "train": {"checkpoint_every": 0},
    }))
    assert main(["train", "hourglass", "--config", str(config), "--quiet"]) == 0
    assert main(["train", "fusion", "--config", str(config), "--quiet", "--set", "fusion.penalty=100"]) == 0
    return run


@pytest.mark.slow  # ~1 min on a loaded 2-core CPU: two trainings
def test_train_hourglass_then_fusion(trained):
    for name in ("config.json", "hourglass/model.keras", "cache/train.npz", "cache/test.npz",
                 "fusion-trainable/model.keras", "fusion-trainable/end_to_end.keras"):
        assert (trained / name).is_file(), name
    saved = json.loads((trained / "fusion-trainable" / "config.json").read_text())
    assert saved["fusion"]["penalty"] == 100.0  # --set reached the stage


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "kf-cli"
    assert main(["export", "--model", str(trained), "--out", str(out), "--variants", "float32",
                 "--num-parity", "2"]) == 0
    return out


@pytest.mark.slow  # SavedModel and TFLite conversion
def test_export_a_run_folder(exported):
    meta = json.loads((exported / "kfusion.json").read_text())
    assert meta["input_size"] == 32 and meta["tflite"] == {"float32": "tflite/kfusion_float32.tflite"}
    for rel in ("1/saved_model.pb", "tflite/kfusion_float32.tflite", "end_to_end.keras", "MODEL.md"):
        assert (exported / rel).is_file(), rel
    parity = json.loads((exported / "parity.json").read_text())
    assert parity["variants"]["float32"]["pose_3d"]["max"] < 1.0  # mm


@pytest.mark.slow
def test_predict_with_the_exported_model(exported, tmp_path):
    from PIL import Image

    img = tmp_path / "person.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (80, 60, 3), dtype=np.uint8)).save(img)
    out = tmp_path / "pred"
    assert main(["predict", str(img), "--model", str(exported), "--backend", "tflite", "--bbox", "5,5,50,70",
                 "--no-figures", "--out", str(out)]) == 0
    (person,) = json.loads((out / "person.json").read_text())["people"]
    assert len(person["pose_3d"]) == 17


@pytest.mark.slow
def test_bench_export_of_the_exported_model(exported, tmp_path):
    out = tmp_path / "bench-export.md"
    assert main(["bench", "export", "--model", str(exported), "--repeats", "1", "--out", str(out)]) == 0
    table = out.read_text()
    assert "Keras" in table and "TFLite float32" in table


@pytest.mark.slow  # minutes: renders, trains and evaluates every variant of the paper's Table 5
def test_reproduce_smoke(tmp_path):
    out = tmp_path / "reproduce"
    assert main(["reproduce", "--preset", "smoke", "--out", str(out), "--workers", "1",
                 "--config", str(ROOT / "configs" / "synthetic.yaml")]) == 0
    assert (out / "report.md").is_file()
    assert json.loads((out / "results.json").read_text())["preset"] == "smoke"
