"""`kfusion tune`: a keras-tuner search over lambda and the initial beta on a tiny fusion network."""
import csv
import math
import os
import time

import pytest
import yaml

from kfusion import config as config_mod
from kfusion.errors import KfusionError

from conftest import make_cache


def _run_with_caches(tmp_path):
    """A config whose run folder has heatmap caches newer than its (placeholder) hourglass."""
    run = tmp_path / "run"
    (run / "hourglass").mkdir(parents=True)
    (run / "cache").mkdir()
    hourglass = run / "hourglass" / "model.keras"
    hourglass.write_bytes(b"")
    os.utime(hourglass, (time.time() - 100, time.time() - 100))
    make_cache(32, seed=0).save(run / "cache" / "train.npz")
    make_cache(16, seed=1).save(run / "cache" / "test.npz")
    path = tmp_path / "tune.yaml"
    path.write_text(yaml.safe_dump({
        "name": "tiny-tune", "seed": 0, "output_dir": str(run),
        "fusion": {"preset": "tiny", "input_size": 20, "batch_size": 16, "epochs": 3},
        "augment": {"crop_prob": 0.0},
        "train": {"steps_per_epoch": 2},
    }))
    return path


def _rows(out):
    with open(out / "trials.csv") as f:
        return list(csv.DictReader(f))


def test_tune_writes_trial_table_and_a_valid_best_config_and_resumes(tmp_path, capsys):
    from kfusion.cli.main import main
    from kfusion.experiments.tune import PENALTY_RANGE, num_fusion_blocks

    config_path = _run_with_caches(tmp_path)
    out = tmp_path / "tune"
    argv = ["tune", "--config", str(config_path), "--epochs", "1", "--out", str(out), "--quiet"]
    assert main(argv + ["--trials", "2"]) == 0

    rows = _rows(out)
    assert len(rows) == 2
    base = config_mod.load(config_path)
    last_block = num_fusion_blocks(base) - 1
    scores = [float(r["score"]) for r in rows]
    assert all(math.isfinite(s) and s > 0 for s in scores)
    assert scores == sorted(scores)  # best first
    for r in rows:
        assert PENALTY_RANGE[0] <= float(r["penalty"]) <= PENALTY_RANGE[1]
        assert 0.0 <= float(r["beta_init"]) <= last_block
    assert len({(r["penalty"], r["beta_init"]) for r in rows}) == 2  # two distinct trials

    table = (out / "trials.md").read_text().splitlines()
    assert table[0].startswith("| trial | status | val_mpjpe |") and len(table) == 4
    assert "| trial |" in capsys.readouterr().out

    best = config_mod.from_dict(yaml.safe_load((out / "best_config.yaml").read_text()), origin="best_config.yaml")
    assert best["fusion"]["penalty"] == pytest.approx(float(rows[0]["penalty"]), rel=1e-6)
    assert best["fusion"]["beta_init"] == pytest.approx(float(rows[0]["beta_init"]), rel=1e-6)
    assert best["fusion"]["strategy"] == "trainable"
    assert best["fusion"]["preset"] == "tiny" and best["name"] == "tiny-tune"  # the rest of the config kept

    # resumed: the tuner's directory keeps the two trials; asking for 3 runs one more
    assert main(argv + ["--trials", "3"]) == 0
    again = _rows(out)
    assert len(again) == 3
    assert {r["trial"] for r in rows} < {r["trial"] for r in again}


def test_search_rejects_an_unknown_objective(tmp_path):
    from kfusion.experiments import tune

    cfg = config_mod.from_dict({"fusion": {"preset": "tiny", "input_size": 20}})
    with pytest.raises(KfusionError, match="objective"):
        tune.search(cfg, make_cache(4), make_cache(4), tmp_path, trials=1, objective="accuracy")


def test_trial_config_merges_and_validates():
    from kfusion.experiments import tune

    cfg = config_mod.from_dict({"fusion": {"preset": "tiny", "strategy": "early"}})
    merged = tune.trial_config(cfg, {"penalty": 250, "beta_init": 1.5, "alpha_init": 0.3})
    assert merged["fusion"]["strategy"] == "trainable"
    assert (merged["fusion"]["penalty"], merged["fusion"]["beta_init"], merged["fusion"]["alpha_init"]) == (250.0, 1.5, 0.3)
    assert cfg["fusion"]["penalty"] == 5000.0  # the base config is untouched
