"""SIGKILL a real `kfusion train fusion` mid-epoch, rerun the same command: it resumes from its last
backup (``model.fit``) or checkpoint (the multi-worker loop), and its summary covers every epoch."""
import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from conftest import make_cache

EPOCHS = 5


def _setup(tmp_path):
    import keras

    from kfusion.models.hourglass import build_hourglass
    from kfusion.models import save_model

    keras.utils.set_random_seed(0)
    save_model(build_hourglass("tiny"), tmp_path / "hourglass.keras")
    old = time.time() - 3600  # older than the caches: they are used as they are, not predicted again
    os.utime(tmp_path / "hourglass.keras", (old, old))
    run = tmp_path / "run"
    make_cache(1024, seed=0).save(run / "cache" / "train.npz")
    make_cache(64, seed=1).save(run / "cache" / "test.npz")
    config = {"name": "kill", "seed": 0, "output_dir": str(run), "data": {"records": str(tmp_path / "none")},
              "fusion": {"preset": "tiny", "input_size": 20, "batch_size": 8, "epochs": EPOCHS},
              "augment": {"crop_prob": 0.0}, "train": {"checkpoint_every": 1}}
    (tmp_path / "kill.yaml").write_text(yaml.safe_dump(config))
    return run


def _command(tmp_path, distribute, *extra):
    return [sys.executable, "-m", "kfusion", "train", "fusion", "--config", str(tmp_path / "kill.yaml"),
            "--hourglass", str(tmp_path / "hourglass.keras"), "--distribute", distribute, "--quiet", *extra]


def _epochs_logged(log):
    if not log.is_file():
        return []
    with open(log, newline="") as f:
        return [int(r["epoch"]) for r in csv.DictReader(f)]


@pytest.mark.parametrize("distribute", ["default", "multiworker"])
def test_sigkill_mid_epoch_then_rerun_resumes(tmp_path, distribute):
    run = _setup(tmp_path)
    stage = run / "fusion-trainable"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.Popen(_command(tmp_path, distribute), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=env)
    log, deadline, ends = stage / "log.csv", time.monotonic() + 300, []
    while time.monotonic() < deadline and proc.poll() is None and len(ends) < 2:
        n = len(_epochs_logged(log))
        if n > len(ends):
            ends.append(time.monotonic())
        time.sleep(0.02)
    assert len(ends) == 2, proc.stderr.read().decode()[-2000:] if proc.poll() is not None else "no epochs"
    time.sleep(0.5 * (ends[1] - ends[0]))  # half-way through the third epoch
    proc.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    assert proc.wait(timeout=60) == -signal.SIGKILL
    lost = killed_at - ends[1]  # the work since the last epoch's backup: what the kill loses
    epoch = ends[1] - ends[0]

    done = subprocess.run(_command(tmp_path, distribute), capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert _epochs_logged(log) == list(range(EPOCHS)), "the rerun must resume at the third epoch, not restart"
    summary = json.loads((stage / "train_summary.json").read_text())
    assert len(summary["history"]["loss"]) == EPOCHS  # every epoch, those before the kill included
    print(f"\n{distribute}: SIGKILL lost {lost:.2f} s of training (one epoch = {epoch:.2f} s)")

    # the finished run knows its config: another one is refused in one line, nothing is rewritten
    again = subprocess.run(_command(tmp_path, distribute, "--set", "fusion.learning_rate=0.01"),
                           capture_output=True, text=True, env=env, timeout=300)
    lines = again.stderr.strip().splitlines()
    assert again.returncode == 2 and "trained with another config (changed: fusion.learning_rate)" \
        in lines[-1], again.stderr[-2000:]
    assert json.loads((stage / "config.json").read_text())["fusion"]["learning_rate"] != 0.01
