import json

import numpy as np
import pytest

from kfusion import config as config_mod
from kfusion.errors import KfusionError
from kfusion.data import cache as cache_lib
from kfusion.eval import evaluate
from kfusion.train import driver, stages

from conftest import make_cache, tiny_config


def _val_mpjpe(model, cache, cfg):
    pred = evaluate.predict_poses(model, cache, cfg)
    return float(np.linalg.norm(pred - cache.pose_3d, axis=-1).mean())


def test_short_training_lowers_validation_error_and_traces_fusion(tmp_path, tiny_cache):
    train, val = tiny_cache
    cfg = tiny_config(tmp_path, epochs=6, learning_rate=0.01)
    untrained = stages.build_fusion_from_config(cfg)
    before = _val_mpjpe(untrained, val, cfg)
    model = driver.train_fusion(cfg, train, val, tmp_path / "fusion", verbose=0)
    after = _val_mpjpe(model, val, cfg)
    assert after < 0.8 * before, (before, after)
    trace = json.loads((tmp_path / "fusion" / "fusion_trace.json").read_text())["epochs"]
    assert [r["epoch"] for r in trace] == list(range(7))
    assert all(len(r["weights"]) == len(trace[0]["weights"]) for r in trace)
    assert trace[0]["alpha"] == pytest.approx(0.1, rel=1e-5)
    assert trace[-1]["alpha"] != trace[0]["alpha"]  # alpha is trained
    assert (tmp_path / "fusion" / "model.keras").is_file()
    log = (tmp_path / "fusion" / "log.csv").read_text().splitlines()
    assert len(log) == 7 and "val_loss" in log[0]


class _Interrupt(Exception):
    pass


def test_resume_after_interrupted_fit(tmp_path, tiny_cache, monkeypatch):
    import keras

    train, val = tiny_cache
    cfg = tiny_config(tmp_path, epochs=4)
    run = tmp_path / "fusion"

    class StopAfter2(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise _Interrupt()

    from kfusion.train import callbacks as cb_mod

    original = cb_mod.standard_callbacks
    monkeypatch.setattr(cb_mod, "standard_callbacks", lambda *a, **k: original(*a, **k) + [StopAfter2()])
    with pytest.raises(_Interrupt):
        driver.train_fusion(cfg, train, val, run, verbose=0)
    monkeypatch.setattr(cb_mod, "standard_callbacks", original)

    seen = []

    class Record(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append(epoch)

    monkeypatch.setattr(cb_mod, "standard_callbacks", lambda *a, **k: original(*a, **k) + [Record()])
    driver.train_fusion(cfg, train, val, run, verbose=0)
    assert seen == [2, 3], seen  # continues after the two finished epochs
    rows = (run / "log.csv").read_text().splitlines()[1:]
    assert [int(r.split(",")[0]) for r in rows] == [0, 1, 2, 3]
    trace = json.loads((run / "fusion_trace.json").read_text())["epochs"]
    assert [r["epoch"] for r in trace] == [0, 1, 2, 3, 4]


def test_lifting_baseline_trains(tmp_path, tiny_cache):
    train, val = tiny_cache
    cfg = tiny_config(tmp_path)
    model = driver.train_lifting(cfg, train, val, tmp_path / "lifting", verbose=0, epochs=1)
    pred = evaluate.predict_poses(model, val, cfg, kind="lifting")
    assert pred.shape == val.pose_3d.shape and np.isfinite(pred).all()


def test_cache_roundtrip(tmp_path):
    cache = make_cache(8)
    cache.save(tmp_path / "c.npz")
    back = cache_lib.HeatmapCache.load(tmp_path / "c.npz")
    assert back.input_size == cache.input_size
    np.testing.assert_array_equal(back.heatmaps, cache.heatmaps)
    np.testing.assert_array_equal(back.actions, cache.actions)


def test_bad_config_key_names_key_and_allowed(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("fusion:\n  lamda: 5000\n")  # the paper's lambda, misspelt: pointed at its key
    with pytest.raises(KfusionError, match=r"unknown key 'fusion.lamda'; did you mean 'penalty'\?"):
        config_mod.load(p)
    p.write_text("fusion:\n  zzz: 5000\n")  # nothing close: the keys that are allowed there
    with pytest.raises(KfusionError, match=r"unknown key 'fusion.zzz'; allowed: alpha_beta_2, alpha_init, .*"):
        config_mod.load(p)
    p.write_text("lifting:\n  unitz: 8\n")
    with pytest.raises(KfusionError, match=r"unknown key 'lifting.unitz'; did you mean 'units'\?"):
        config_mod.load(p)
    p.write_text("fusion:\n  strategy: sideways\n")
    with pytest.raises(KfusionError, match="'fusion.strategy' is 'sideways'; expected one of"):
        config_mod.load(p)
    p.write_text("fusion:\n  epochs: many\n")
    with pytest.raises(KfusionError, match="'fusion.epochs' is 'many'; expected int"):
        config_mod.load(p)


def test_shipped_configs_validate():
    from pathlib import Path

    from kfusion.synthetic import motions

    root = Path(__file__).resolve().parents[2] / "configs"
    files = sorted(root.glob("*.yaml"))
    assert files
    for f in files:  # every experiment config, and the pose-set config of `kfusion prepare motions` by its own schema
        (motions.load_config if f.name == Path(motions.DEFAULT_CONFIG).name else config_mod.load)(f)


def test_init_from_loads_matching_layers(tmp_path, tiny_cache):
    train, val = tiny_cache
    cfg = tiny_config(tmp_path, epochs=1)
    trained = driver.train_fusion(cfg, train, val, tmp_path / "a", verbose=0)
    cfg2 = config_mod.override(cfg, "fusion.init_from", str(tmp_path / "a" / "model.keras"))
    cfg2 = config_mod.override(cfg2, "seed", 1)
    warm = stages.build_fusion_from_config(cfg2)
    cold = stages.build_fusion_from_config(config_mod.override(cfg, "seed", 1))
    for a, b, c in zip(trained.weights, warm.weights, cold.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert any(not np.array_equal(a.numpy(), c.numpy()) for a, c in zip(trained.weights, cold.weights))
    with pytest.raises(KfusionError, match="init_from"):
        stages.build_fusion_from_config(config_mod.override(cfg, "fusion.init_from", str(tmp_path / "none.keras")))


def test_fusion_trains_with_photos_in_its_batches(tmp_path, tiny_cache):
    """``fusion.extra_records``' cache mixed in: packed targets through fit, MPJPE over the renders only,
    an epoch as long as the renders' pass plus the photos' share."""
    train, val = tiny_cache
    photos = make_cache(32, seed=7)
    photos.pose_3d[:] = np.nan  # a photo has no 3D: nothing may read it
    cfg = config_mod.override(tiny_config(tmp_path, epochs=2), "fusion.extra_weight", 0.25)
    stage = stages.fusion_stage(cfg, train, val, photos=photos)
    assert stage.steps() == int(64 / 0.75) // 16
    model = driver.train_fusion(cfg, train, val, tmp_path / "fusion", photos=photos, verbose=0)
    log = (tmp_path / "fusion" / "log.csv").read_text().splitlines()
    header, last = log[0].split(","), log[-1].split(",")
    row = dict(zip(header, map(float, last)))
    assert np.isfinite(row["loss"]) and 0 < row["mpjpe"] < 1e4 and 0 < row["val_mpjpe"] < 1e4
    assert np.isfinite(_val_mpjpe(model, val, cfg))


def test_a_run_saved_before_a_key_was_added_resumes_and_a_changed_value_is_refused(tmp_path):
    """check_resumable: a stage folder whose config.json predates a schema key (here the teacher's weight,
    added with a default of 0) is the same config and resumes; a value that differs is named and refused."""
    cfg = config_mod.from_dict({})
    old = json.loads(json.dumps(cfg, default=str))
    del old["fusion"]["teacher_weight"]
    (tmp_path / "backup").mkdir()
    (tmp_path / "config.json").write_text(json.dumps(old))
    driver.check_resumable(cfg, tmp_path)  # no error: the run was trained without a teacher, the default
    with pytest.raises(KfusionError, match=r"changed: fusion.teacher_weight\)"):
        driver.check_resumable(config_mod.override(cfg, "fusion.teacher_weight", 1.0), tmp_path)
    old["fusion"]["learning_rate"] = 0.5
    (tmp_path / "config.json").write_text(json.dumps(old))
    with pytest.raises(KfusionError, match=r"changed: fusion.learning_rate\)"):
        driver.check_resumable(cfg, tmp_path)
