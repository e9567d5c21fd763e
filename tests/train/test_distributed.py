"""Multi-worker training: two workers on 127.0.0.1 against a single-process run of the same loop.

The tiny preset's dropout is removed in every process: its masks depend on the per-replica batch
shape, so with dropout two half batches cannot reproduce one full batch. ``augment.crop_prob`` is 0
for the same reason. Everything else (seeded init, seeded shuffle, Adam, the fusion penalty) runs
as in production.
"""
import copy
import csv
import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml

from kfusion import config as config_mod

from conftest import make_cache

WORKER = """
import sys
import kfusion.models.fusion as F
for block in F.PRESETS["tiny"]["blocks"]:
    block.pop("dropout", None)
from kfusion.cli.main import main
sys.exit(main(sys.argv[1:]))
"""

CONFIG = {
    "name": "multiworker", "seed": 0,
    "fusion": {"preset": "tiny", "input_size": 20, "batch_size": 16, "epochs": 1, "learning_rate": 0.01},
    "augment": {"crop_prob": 0.0},
    "train": {"steps_per_epoch": 3},
}


@pytest.fixture
def no_dropout(monkeypatch):
    import kfusion.models.fusion as F

    tiny = copy.deepcopy(F.PRESETS["tiny"])
    for block in tiny["blocks"]:
        block.pop("dropout", None)
    monkeypatch.setitem(F.PRESETS, "tiny", tiny)


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _prepare_run(run, train, val):
    """A run folder whose heatmap caches are newer than its (placeholder) hourglass."""
    (run / "hourglass").mkdir(parents=True)
    (run / "cache").mkdir()
    hourglass = run / "hourglass" / "model.keras"
    hourglass.write_bytes(b"")
    os.utime(hourglass, (time.time() - 100, time.time() - 100))
    train.save(run / "cache" / "train.npz")
    val.save(run / "cache" / "test.npz")


def _log(path):
    with open(path) as f:
        return [{k: float(v) for k, v in row.items() if v != "NA"} for row in csv.DictReader(f)]  # Keras' CSVLogger


def _checkpoint_values(directory):
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(directory))
    return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map() if k != "_CHECKPOINTABLE_OBJECT_GRAPH"}


def _restored_fusion_state(cfg, directory):
    """alpha and beta of a fusion network restored from a worker's checkpoint."""
    import tensorflow as tf

    from kfusion.models.fusion import fusion_weights
    from kfusion.train import stages

    model = stages.build_fusion_from_config(cfg)
    tf.train.Checkpoint(model=model).restore(tf.train.latest_checkpoint(str(directory))).expect_partial()
    return fusion_weights(model)


def test_two_workers_match_single_process(tmp_path, no_dropout):
    import tensorflow as tf

    from kfusion.train import distributed, driver

    train, val = make_cache(64, seed=0), make_cache(32, seed=1)
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(CONFIG))
    multi = tmp_path / "multi"
    _prepare_run(multi, train, val)
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in _free_ports(2)]}
    procs = []
    for index in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
                   TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
        out = open(tmp_path / f"worker{index}.log", "w")
        procs.append((subprocess.Popen(
            [sys.executable, str(script), "train", "fusion", "--config", str(config_path), "--distribute",
             "multiworker", "--out", str(multi), "--quiet"], env=env, stdout=out, stderr=subprocess.STDOUT), out))

    # meanwhile: the same loop in this process, one replica, the whole global batch
    cfg = config_mod.from_dict(CONFIG)
    single = tmp_path / "single"
    try:
        driver.train_fusion(cfg, train, val, single, strategy=tf.distribute.get_strategy(), verbose=0)
        for proc, out in procs:
            proc.wait(timeout=120)
            out.close()
    finally:
        for proc, _ in procs:
            if proc.poll() is None:
                proc.kill()
    for index, (proc, _) in enumerate(procs):
        log = (tmp_path / f"worker{index}.log").read_text()
        assert proc.returncode == 0, log[-3000:]

    run = multi / "fusion-trainable"
    assert (run / "model.keras").is_file()
    multi_log, single_log = _log(run / "log.csv"), _log(single / "log.csv")
    assert len(multi_log) == len(single_log) == 1
    for key in ("loss", "mpjpe", "val_loss", "val_mpjpe"):
        assert multi_log[0][key] == pytest.approx(single_log[0][key], rel=1e-5), key

    # both workers hold the same variables (model, optimizer, epoch), and so does the single run
    chief, worker = _checkpoint_values(run / "checkpoints"), _checkpoint_values(run / "workers" / "worker-1")
    reference = _checkpoint_values(single / "checkpoints")
    assert chief.keys() == worker.keys() == reference.keys()
    for key in chief:
        np.testing.assert_allclose(chief[key], worker[key], rtol=1e-6, atol=1e-7, err_msg=key)
        # Adam's moments of a few near-zero gradients differ more (summation order across replicas)
        rtol = 5e-3 if "optimizer/" in key else 1e-4
        np.testing.assert_allclose(chief[key], reference[key], rtol=rtol, atol=1e-5, err_msg=key)

    trace = json.loads((run / "fusion_trace.json").read_text())["epochs"]
    worker_state = _restored_fusion_state(cfg, run / "workers" / "worker-1")
    assert trace[-1]["alpha"] != pytest.approx(trace[0]["alpha"])  # alpha moved
    assert worker_state["alpha"] == pytest.approx(trace[-1]["alpha"], rel=1e-6)
    assert worker_state["beta"] == pytest.approx(trace[-1]["beta"], rel=1e-6)
    single_trace = json.loads((single / "fusion_trace.json").read_text())["epochs"]
    assert trace[-1]["alpha"] == pytest.approx(single_trace[-1]["alpha"], rel=1e-5)
    assert trace[-1]["beta"] == pytest.approx(single_trace[-1]["beta"], rel=1e-5)


def test_resumed_run_continues_like_an_uninterrupted_one(tmp_path, no_dropout):
    import tensorflow as tf

    from kfusion.train import distributed, driver

    train = make_cache(48, seed=0)
    cfg = config_mod.from_dict(dict(CONFIG, train={"steps_per_epoch": 2, "validate": False}))
    strategy = tf.distribute.get_strategy()
    driver.train_fusion(cfg, train, None, tmp_path / "whole", strategy=strategy, epochs=2, verbose=0)
    driver.train_fusion(cfg, train, None, tmp_path / "resumed", strategy=strategy, epochs=1, verbose=0)
    driver.train_fusion(cfg, train, None, tmp_path / "resumed", strategy=strategy, epochs=2, verbose=0)

    whole, resumed = _log(tmp_path / "whole" / "log.csv"), _log(tmp_path / "resumed" / "log.csv")
    assert [r["epoch"] for r in resumed] == [0, 1]
    for a, b in zip(whole, resumed):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)
        assert a["mpjpe"] == pytest.approx(b["mpjpe"], rel=1e-5)
    trace = json.loads((tmp_path / "resumed" / "fusion_trace.json").read_text())["epochs"]
    assert [r["epoch"] for r in trace] == [0, 1, 2]


def test_batch_not_divisible_by_replicas_is_an_error(tmp_path):
    from kfusion.errors import KfusionError
    from kfusion.train import distributed, driver

    class TwoReplicas:
        num_replicas_in_sync = 2

    from kfusion.train.stages import Stage

    stage = Stage("fusion", None, None, None, loss=None, metric=None, batch_size=5, epochs=1, num_samples=10,
                  learning_rate=1e-3)
    with pytest.raises(KfusionError, match="not a multiple"):
        distributed.fit_distributed(TwoReplicas(), stage, tmp_path)


@pytest.mark.slow  # ~50 s on a loaded 2-core CPU (tiny hourglass build + trace)
def test_hourglass_stage_trains_with_the_loop_and_saves_a_loadable_model(tmp_path):
    import keras
    import tensorflow as tf

    from conftest import write_tiny_records

    from kfusion.train import distributed, driver

    S = 32
    data = write_tiny_records(tmp_path / "records", size=S)
    cfg = config_mod.from_dict({
        "data": {"records": str(data)}, "augment": {"crop_prob": 0.0},
        "hourglass": {"preset": "tiny", "input_size": S, "batch_size": 4, "epochs": 1},
        "train": {"steps_per_epoch": 2}})
    run = tmp_path / "hourglass"
    driver.train_hourglass(cfg, run, strategy=tf.distribute.get_strategy(), verbose=0)
    (row,) = _log(run / "log.csv")
    assert np.isfinite(row["loss"]) and np.isfinite(row["val_loss"]) and row["loss"] > 0
    model = keras.saving.load_model(str(run / "model.keras"))
    assert model.outputs[-1].shape[1:] == (S // 4, S // 4, 16)
